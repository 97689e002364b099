"""Meta Business (Graph API): who can act on the business's Pages and Instagram accounts, and removal.

Reads, for one business (reference/social-apis.md, section 1):

- the business node itself, a resource of kind ``meta_business``;
- ``/business_users`` (people, with ``role``, ``tasks`` and ``two_fac_status``) and ``/system_users``;
- ``/pending_users``: invitations not accepted yet (``invite:<id>`` accounts with the invited address,
  a grant ``INVITED:ROLE`` on the business): access waiting to happen, revocable by cancelling it;
- ``/agencies``: partner businesses linked to ours (never our own business id);
- ``/owned_pages`` (kind ``facebook_page``) and ``/owned_instagram_assets`` (kind
  ``instagram_account``), and for each asset its ``/assigned_users`` (people and system users,
  with tasks), its ``/agencies`` (partner businesses, with ``permitted_tasks``; on a Page a row
  whose ``access_status`` is PENDING is a request, not access, and is skipped) and, for a Page,
  its ``/roles`` (people with a task on the Page who belong to no business: ``pagerole:<id>``
  accounts; Meta documents no call that removes them, so their revocation is a manual step).

**Page tokens.** A Page's edges want a Page access token, asked for each time it is needed and
never kept (``meta_tokens``). A listing reads every other Page first and then fails, naming every
Page whose token cannot be had, so no partial read is ever taken as complete. A revocation on that
Page is rejected (the others go on).

Accounts: a business user or an outside assignee is ``human`` with the Graph id; a system user
is ``system``; a partner business is ``agency`` with the id ``partner:<business id>``.

Grants and the ladder:

- On a Page or Instagram account: the tasks, sorted and comma-joined, ranked by the highest
  task (``TASK_LEVELS`` for Pages, ``INSTAGRAM_TASK_LEVELS`` for Instagram). A partner whose
  tasks the answer does not report is ranked ``admin`` with the role ``PARTNER``: never below
  what it may hold.
- On the business (``meta_business``): the business user's ``role``: ``ADMIN`` -> admin (full
  control of every asset), anything else (``EMPLOYEE``...) -> read_only, since asset access is
  granted per asset. ``business_membership`` chooses which of these grants are listed:
  ``"admins"`` (default: an admin of the business is visible and revocable as such, and an
  employee's access shows per asset), ``"all"`` (also every employee's membership, so that a
  leaver is removed from the business, not only from each asset) or ``"none"``. System users
  get the same grants by their ``role``.
- A partner linked to the business that holds no asset gets one grant on the business, role
  ``PARTNER``, read_only: the lingering partnership is visible and revocable. A partner with
  assets is judged per asset only, so that an engagement scoped to some assets never plans
  the removal of the whole partnership.

Instagram: the official SDK puts ``assigned_users`` and ``agencies`` (GET and DELETE) on the
``InstagramBusinessAsset`` node that ``/owned_instagram_assets`` lists, not on the ``IGUser``
that ``/owned_instagram_accounts`` lists, so ``instagram="assets"`` is the default.
``instagram="accounts"`` lists ``/owned_instagram_accounts`` and uses the same edges on the
Instagram user id, the Page-like shape (**unverified**: where Graph lacks them, the listing
fails with Meta's code 100 rather than reporting nobody). ``/instagram_accounts`` and
``/client_pages`` are not read: they are other brands' assets this business works on.

Revocation, by the grant's resource kind and account:

- Page / Instagram account, person or system user: ``DELETE /{asset}/assigned_users`` with
  ``user`` (and ``business``).
- Page / Instagram account, partner: ``DELETE /{asset}/agencies`` with ``business=<partner>``.
- Business, person: ``DELETE /{business-user-id}`` (removes the person from the business and
  so from every asset). A system user is never removed from the business unless the connector
  was built with ``remove_system_users=True`` (that the same call works for system users is
  unverified); otherwise the revoke is rejected before anything is sent.
- Business, partner: ``DELETE /{business}/agencies`` with ``business=<partner>``. Only with
  ``remove_partnerships=True``: this read covers Pages and Instagram only, and a partnership can
  also hold ad accounts, catalogs and pixels; by default the plan shows it as a manual step.
- Business, invitation: ``DELETE /{business-role-request-id}`` (cancels it).
- Page role (outside any business): a manual step in the plan (no documented removal call).

Wide revocations (``revocation_takes``, invariant 5): removing a business member takes every
asset assignment the person holds (``account_on_system``), removing a partnership every asset
shared with the partner; the planner lists all of it and the last-admin guard judges all of it.

Error decisions, each chosen so that a failure can never look like "no access left":

- **190 "must be called with a Page Access Token"** -> ``PageTokenError`` naming the fix (that
  Page's configuration, never "token expired"); ``meta_errors`` holds the classification.
- **190 / 102 / 104** (dead, missing or invalid token) -> ``AuthError`` saying the token is
  expired or revoked and the source stopped.
- **10 and 200-299** (permission missing) -> ``AuthError`` for listing *and* revoking: the token
  lacks a scope or task, a credentials problem an operator must fix. As a listing error it would
  otherwise hide part of the business; as a revoke error every further revoke would fail alike.
- **100 with subcode 33** (object does not exist *or* is not visible to this token) ->
  ``NotFoundError``; on a business edge it becomes ``StopError`` (wrong business id). Any other
  **100** -> ``GraphRejectedError`` (a ``RejectedError`` that keeps the code). **368** -> rejected.
- **4, 17, 32, 613, 80000-80099** (throttling; Meta never sends 429) and **1, 2** or 5xx ->
  ``TransientError``, waiting ``estimated_time_to_regain_access`` minutes from
  ``X-Business-Use-Case-Usage`` when present. **2500** (unknown path: bad base URL) -> ``StopError``.
- A revoke reads first whether the assignment, partner or member is still there (absent ->
  ``already_gone``, nothing sent), since a repeated removal's answer is undocumented and may be
  ``success: true``. A code-100 answer to the DELETE is ambiguous too (an already-deleted node
  answers 100/33), so it is read again: absent -> ``already_gone``; present -> ``RejectedError``
  with Meta's message (e.g. the last admin of a Page or of the business). An asset that cannot
  be read is never reported as gone; a business user whose node is gone is, once the business
  itself has been read.

The token is sent only in the ``Authorization`` header and stripped from ``paging.next`` links
(Graph puts it there), so it reaches no log line, exception or preview.
"""

# -- the connector -------------------------------------------------------------------------------

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from accessward.connectors.errors import (
    ConnectorError,
    MalformedResponseError,
    NotFoundError,
    RejectedError,
    StopError,
)
from accessward.connectors.http import HttpClient, JSONDict, expect_json_object, require_list
from accessward.connectors.meta_errors import (
    PAGE_TOKEN_FIX,
    GraphRejectedError,
    PageTokenError,
    classify_graph_error,
    regain_access_seconds,
)
from accessward.connectors.meta_records import (
    ASSET_PARTNER_FIELDS,
    ASSIGNED_USER_FIELDS,
    BUSINESS_FIELDS,
    BUSINESS_KIND,
    BUSINESS_USER_FIELDS,
    INSTAGRAM_ACCOUNT_FIELDS,
    INSTAGRAM_ASSET_FIELDS,
    INSTAGRAM_KIND,
    INVITE_PREFIX,
    PAGE_FIELDS,
    PAGE_KIND,
    PAGE_PARTNER_FIELDS,
    PAGE_ROLE_FIELDS,
    PAGE_ROLE_PREFIX,
    PARTNER_FIELDS,
    PARTNER_PREFIX,
    PARTNER_ROLE,
    PENDING_USER_FIELDS,
    SYSTEM_USER_FIELDS,
    BusinessMembership,
    InstagramListing,
    _text,
    assigned_user_records,
    business_user_record,
    instagram_resource,
    invitation_records,
    membership_grant,
    mfa_from_two_fac,
    next_page_link,
    page_role_records,
    partner_grant,
    partner_record,
    system_user_record,
)
from accessward.connectors.meta_tasks import (
    BUSINESS_TASK_LEVELS,
    INSTAGRAM_TASK_LEVELS,
    TASK_LEVELS,
    business_role_and_level,
    role_and_level,
)
from accessward.connectors.meta_tokens import ask_page_token
from accessward.connectors.prefetch import read_ahead
from accessward.connectors.records import (
    AccessRecord,
    AccountKind,
    GrantRecord,
    GrantRef,
    Level,
    RequestPreview,
    ResourceRecord,
    RevocationScope,
    RevokeOutcome,
    RevokeResult,
    Takes,
)
from accessward.connectors.revoke_confirm import TokenConnector, settle

__all__ = [
    "BUSINESS_KIND", "BUSINESS_TASK_LEVELS", "INSTAGRAM_KIND", "INSTAGRAM_TASK_LEVELS", "PAGE_KIND", "TASK_LEVELS",
    "BusinessMembership", "GraphRejectedError", "InstagramListing", "MetaBusinessConnector", "PageTokenError",
    "business_role_and_level", "classify_graph_error", "mfa_from_two_fac", "next_page_link", "partner_grant",
    "regain_access_seconds", "role_and_level",
]

_ID = re.compile(r"[0-9A-Za-z_-]+")  # no "." or "/": an id is one path segment, never ".."


# -- the connector -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Removal:
    """One revocation: the DELETE to send, and how to tell whether its subject is still there."""

    what: str  # assignment | asset_partner | member | business_partner | invitation | page_role
    path: str
    params: dict[str, str] = field(default_factory=dict)
    node: str = ""  # the asset, or the business, the removal is from
    subject: str = ""  # the user id, the partner's business id, the invitation id
    where: str = ""  # "page 123", "Instagram account 5", "the business"
    page: bool = False  # a Page edge: sent with that Page's access token


class MetaBusinessConnector(TokenConnector):
    """AccessSource and Revoker for one Meta business: its people, partners, Pages and Instagram accounts."""

    def __init__(
        self, name: str, base_url: str, business_id: str, access_token: str, *, page_size: int = 100,
        business_membership: BusinessMembership | str = BusinessMembership.admins,
        instagram: InstagramListing | str = InstagramListing.assets,
        partners: bool = True,
        remove_system_users: bool = False,
        remove_partnerships: bool = False,
        page_roles: bool = True,
        invitations: bool = True,
        read_ahead: bool = True,
        **http: Any,
    ) -> None:
        self.name = name
        self._read_ahead = read_ahead  # list in a thread a few pages ahead (connectors.prefetch)
        self.business_id = business_id
        self._token = access_token
        self._page_size = page_size
        self._membership = BusinessMembership(business_membership)
        self._instagram = InstagramListing(instagram)
        self._partners = partners
        self._remove_system_users = remove_system_users
        self._remove_partnerships = remove_partnerships
        self._page_roles = page_roles
        self._invitations = invitations
        self._seen_tokens: set[str] = set()  # Page tokens met in this process: scrubbed from errors
        self._client = HttpClient(name, base_url, auth=self._auth_headers, classify=classify_graph_error, **http)

    def __repr__(self) -> str:
        return f"MetaBusinessConnector(name={self.name!r}, business_id={self.business_id!r})"

    def _secrets(self) -> Iterator[str]:
        """The system user's token and every Page token met: none may leave in an exception."""
        yield self._token
        yield from self._seen_tokens

    def _get(self, path: str, params: Mapping[str, str] | None, token: str | None) -> JSONDict:
        headers = {"Authorization": f"Bearer {token}"} if token else None
        return expect_json_object(self._client.request("GET", path, params=params, headers=headers), self.name)

    def _edge(self, node: str, edge: str, fields: str, *, token: str | None = None,
              **params: str) -> Iterator[JSONDict]:
        """Every item of a Graph edge, page by page, streaming; ``token``: a Page token for a Page edge.

        A next link seen twice is a malformed answer (it would loop), not the end of the list.
        """
        body = self._get(f"{node}/{edge}", {"fields": fields, "limit": str(self._page_size), **params}, token)
        seen: set[str] = set()
        while True:
            yield from require_list(body, "data", self.name)
            link = next_page_link(body, self._client.base_url, self.name)
            if not link:
                return
            if link in seen:
                raise MalformedResponseError("paging loops on a next link seen before", system=self.name)
            seen.add(link)
            body = self._get(link, None, token)

    def page_token(self, page_id: str) -> str:
        """A Page access token for ``page_id`` (:func:`meta_tokens.ask_page_token`), remembered only to be
        scrubbed from errors."""
        token = ask_page_token(self._client, page_id, self.name)
        self._seen_tokens.add(token)
        return token

    def _not_visible(self, exc: NotFoundError) -> StopError:
        return StopError(f"Meta business {self.business_id} not found or not visible to this token",
                         system=self.name, detail=exc.detail, status=exc.status)

    def _business_edge(self, edge: str, fields: str) -> Iterator[JSONDict]:
        try:
            yield from self._edge(self.business_id, edge, fields)
        except NotFoundError as exc:
            raise self._not_visible(exc) from exc

    def _business_name(self) -> str:
        """The business node's name; reading it also proves the business is visible to the token."""
        try:
            body = self._client.get_json(self.business_id, {"fields": BUSINESS_FIELDS})
        except NotFoundError as exc:
            raise self._not_visible(exc) from exc
        if _text(body, "id", self.name, required=True) != self.business_id:
            raise MalformedResponseError(f"the node read as business {self.business_id} has another id",
                                         system=self.name, detail=str(body.get("id"))[:40])
        return _text(body, "name", self.name) or ""

    # -- AccessSource ---------------------------------------------------------------------------

    def list_access(self) -> Iterator[AccessRecord]:
        """The business, its people, system users and invitations, partners, then each Page and
        Instagram account followed by its grants (every account before its first grant).

        The listing runs a few pages ahead of the caller (``connectors.prefetch``): Graph prepares
        the next page while the store writes this one; order and errors are as without it."""
        try:
            records = self._list_access()
            yield from read_ahead(records, name=f"{self.name}-listing") if self._read_ahead else records
        except ConnectorError as exc:
            self._scrub(exc)
            raise

    def _list_access(self) -> Iterator[AccessRecord]:
        yield ResourceRecord(external_id=self.business_id, kind=BUSINESS_KIND, name=self._business_name())
        known: set[str] = set()
        for edge, fields, to_record in (("business_users", BUSINESS_USER_FIELDS, business_user_record),
                                        ("system_users", SYSTEM_USER_FIELDS, system_user_record)):
            for item in self._business_edge(edge, fields):
                account = to_record(item, self.name)
                known.add(account.external_id)
                yield account
                grant = membership_grant(item, account.external_id, self.business_id, self._membership, self.name)
                if grant is not None:
                    yield grant
        if self._invitations:
            for item in self._business_edge("pending_users", PENDING_USER_FIELDS):
                records = invitation_records(item, self.business_id, self.name)
                if records is not None:
                    yield from records
        idle_partners: dict[str, None] = {}  # linked to the business, no asset seen yet (ordered)
        if self._partners:
            for item in self._business_edge("agencies", PARTNER_FIELDS):
                account = partner_record(item, self.name)
                if account.external_id == PARTNER_PREFIX + self.business_id:
                    continue  # our own business is never a partner of itself
                if account.external_id not in known:
                    known.add(account.external_id)
                    idle_partners[account.external_id] = None
                    yield account
        no_token: list[str] = []  # Pages whose token could not be had: the listing fails at the end
        for item in self._business_edge("owned_pages", PAGE_FIELDS):
            page_id = _text(item, "id", self.name, required=True) or ""
            name = _text(item, "name", self.name) or ""
            yield ResourceRecord(external_id=page_id, kind=PAGE_KIND, name=name)
            try:
                token = self.page_token(page_id)
            except PageTokenError:
                no_token.append(f"{name or 'Page'} ({page_id})")
                continue
            yield from self._asset_grants(page_id, TASK_LEVELS, known, idle_partners, token=token)
        if self._instagram is not InstagramListing.none:
            edge, fields = (("owned_instagram_assets", INSTAGRAM_ASSET_FIELDS)
                            if self._instagram is InstagramListing.assets
                            else ("owned_instagram_accounts", INSTAGRAM_ACCOUNT_FIELDS))
            for item in self._business_edge(edge, fields):
                resource = instagram_resource(item, self._instagram, self.name)
                yield resource
                yield from self._asset_grants(resource.external_id, INSTAGRAM_TASK_LEVELS, known, idle_partners)
        if no_token:
            # Never a partial read taken as complete: the run fails, naming every Page and the fix.
            raise PageTokenError(f"no Page access token for {len(no_token)} Page(s): {', '.join(no_token)}; "
                                 f"{PAGE_TOKEN_FIX}. The other Pages were read; this run is not complete",
                                 system=self.name)
        for partner_id in idle_partners:
            yield GrantRecord(account_id=partner_id, resource_id=self.business_id, role=PARTNER_ROLE,
                              level=Level.read_only)

    def _asset_grants(self, asset_id: str, ladder: Mapping[str, Level], known: set[str],
                      idle_partners: dict[str, None], *, token: str | None = None) -> Iterator[AccessRecord]:
        """The people and system users assigned to one asset, the partners it is shared with and, for
        a Page (``token`` is its Page token), the people with a task on it outside any business."""
        for assigned in self._edge(asset_id, "assigned_users", ASSIGNED_USER_FIELDS, token=token,
                                   business=self.business_id):
            account, grant = assigned_user_records(assigned, asset_id, self.name, ladder)
            if account.external_id not in known:
                known.add(account.external_id)
                yield account
            yield grant
        if token is not None and self._page_roles:
            for item in self._edge(asset_id, "roles", PAGE_ROLE_FIELDS, token=token):
                account, grant = page_role_records(item, asset_id, self.name)
                if account.external_id not in known:
                    known.add(account.external_id)
                    yield account
                yield grant
        if not self._partners:
            return
        fields = PAGE_PARTNER_FIELDS if token is not None else ASSET_PARTNER_FIELDS
        for item in self._edge(asset_id, "agencies", fields, token=token):
            if str(item.get("id")) == self.business_id:
                continue  # the owning business itself is never a partner
            if str(item.get("access_status", "")).upper() == "PENDING":
                continue  # a request the Page has not approved: no access yet
            grant = partner_grant(item, asset_id, self.name, ladder)
            if grant.account_id not in known:
                known.add(grant.account_id)
                yield partner_record(item, self.name)
            idle_partners.pop(grant.account_id, None)
            yield grant

    # -- Revoker --------------------------------------------------------------------------------

    def _revoke_target(self, grant: GrantRef) -> _Removal:
        kind = grant.resource_kind or PAGE_KIND
        partner = grant.account_id.startswith(PARTNER_PREFIX)
        invite = grant.account_id.startswith(INVITE_PREFIX)
        page_role = grant.account_id.startswith(PAGE_ROLE_PREFIX)
        prefix = PARTNER_PREFIX if partner else INVITE_PREFIX if invite else PAGE_ROLE_PREFIX if page_role else ""
        subject = grant.account_id[len(prefix):]
        if grant.account_kind is AccountKind.agency and not partner:
            raise RejectedError(f"{grant.account_id!r} is not a Meta partner id (partner:<business id>)",
                                system=self.name)
        for value in (grant.resource_id, subject):
            if not _ID.fullmatch(value):
                raise RejectedError(f"{value!r} is not a Meta object id", system=self.name)
        resource = grant.resource_id
        if kind in (PAGE_KIND, INSTAGRAM_KIND):
            page = kind == PAGE_KIND
            where = f"page {resource}" if page else f"Instagram account {resource}"
            if page_role:
                return _Removal("page_role", f"{resource}/roles", {"user": subject}, resource, subject, where, page)
            if partner:
                return _Removal("asset_partner", f"{resource}/agencies", {"business": subject}, resource, subject,
                                where, page)
            return _Removal("assignment", f"{resource}/assigned_users",
                            {"user": subject, "business": self.business_id}, resource, subject, where, page)
        if kind == BUSINESS_KIND:
            if resource != self.business_id:
                raise RejectedError(f"grant on Meta business {resource}, but this connector manages "
                                    f"{self.business_id}", system=self.name)
            if partner:
                return _Removal("business_partner", f"{resource}/agencies", {"business": subject}, resource, subject,
                                "the business")
            if invite:
                return _Removal("invitation", subject, {}, resource, subject, "the business")
            return _Removal("member", subject, {}, resource, subject, "the business")
        raise StopError(f"the Meta revoker handles {PAGE_KIND}, {INSTAGRAM_KIND} and {BUSINESS_KIND} grants, "
                        f"not {grant.resource_kind!r}", system=self.name)

    def revocation_takes(self, grant: GrantRef) -> Takes:
        """What revoking ``grant`` takes away (invariant 5); no network call.

        - A business membership: every grant the person (or system user) holds in this business,
          since Meta removes their asset assignments with them.
        - A partnership: every asset shared with the partner. Planned only with
          ``remove_partnerships=True``; otherwise a manual step, because this connector reads Pages
          and Instagram only and a partnership can also cover ad accounts, catalogs and pixels.
        - A Page role held outside any business: a manual step (Meta documents no call for it).
        """
        target = self._revoke_target(grant)
        if target.what == "member":
            note = "removing the business membership removes every asset assignment it holds"
            if grant.account_kind is AccountKind.system and not self._remove_system_users:
                return Takes(RevocationScope.account_on_system, note=note, manual_step=(
                    f"system user {target.subject} is removed by hand in Business Settings > Users > System users "
                    "(removing system users through the API is unverified; remove_system_users is off)"))
            return Takes(RevocationScope.account_on_system, note=note)
        if target.what == "business_partner":
            note = "removing the partnership removes the partner's access to every asset shared with it"
            if self._remove_partnerships:
                return Takes(RevocationScope.account_on_system, note=note)
            return Takes(RevocationScope.account_on_system, note=note, manual_step=(
                f"review partner {target.subject} in Business Settings > Users > Partners: Accessward reads "
                "Pages and Instagram accounts only, and a partnership can also hold ad accounts, catalogs and "
                "pixels; remove it there, or set remove_partnerships = true to let the plan do it"))
        if target.what == "page_role":
            return Takes(manual_step=(
                f"{grant.account_id} holds {grant.role} on {target.where} without belonging to a business; Meta "
                "has no API call that removes such a person: remove them in the Page's settings > Page access "
                "(Meta Business Suite > Settings > Page access), then sync"))
        return Takes()

    def preview_revoke(self, grant: GrantRef) -> RequestPreview:
        """The exact request ``revoke`` sends (tokens travel in a header, never shown)."""
        target = self._revoke_target(grant)
        if target.what == "page_role":
            return RequestPreview(method="MANUAL", url=f"manual://meta/{target.node}",
                                  params={"step": "remove the person in the Page's settings > Page access",
                                          "account": grant.account_id})
        return RequestPreview(method="DELETE", url=self._client.url(target.path), params=dict(target.params))

    def revoke(self, grant: GrantRef) -> RevokeResult:
        """Remove the assignment, partner, member or invitation, reading first and again after an
        ambiguous answer.

        The read before is what makes a repeat distinguishable: Meta may answer a removal of
        something already removed with ``success: true`` (unverified), which would otherwise be
        recorded as "done" although nothing was removed. A Page edge is sent with that Page's token,
        asked for now; a Page whose token cannot be had is a rejection of this revocation only.
        """
        target = self._revoke_target(grant)
        try:
            if target.what == "page_role":
                raise RejectedError(f"revoke by hand: {self.revocation_takes(grant).manual_step}", system=self.name)
            if target.what == "member" and grant.account_kind is AccountKind.system and not self._remove_system_users:
                raise RejectedError(
                    f"system user {target.subject} is not removed from the business automatically "
                    "(remove_system_users is off; removing system users this way is unverified)", system=self.name)
            if target.what == "business_partner" and not self._remove_partnerships:
                raise RejectedError("partnerships are removed by hand (remove_partnerships is off): "
                                    f"{self.revocation_takes(grant).manual_step}", system=self.name)
            try:
                token = self.page_token(target.node) if target.page else None
            except PageTokenError as exc:
                raise RejectedError(str(exc), system=self.name, detail=exc.detail) from exc
            if not self._present(target, "before removal", token):
                return RevokeResult(RevokeOutcome.already_gone, f"{_absent(target)} (checked before removal)")
            headers = {"Authorization": f"Bearer {token}"} if token else None
            try:
                body = self._client.send_json("DELETE", target.path, params=target.params, headers=headers)
            except (NotFoundError, GraphRejectedError) as exc:
                if isinstance(exc, GraphRejectedError) and exc.code != 100:
                    raise
                return self._settle_ambiguous(target, exc, token)
            return self._success(body, target)
        except ConnectorError as exc:
            self._scrub(exc)
            raise

    def _success(self, body: JSONDict | None, target: _Removal) -> RevokeResult:
        if body is None or not isinstance(body.get("success"), bool):
            raise MalformedResponseError("removal answered without 'success'", system=self.name,
                                         detail=str(body)[:200])
        if not body["success"]:
            raise RejectedError("Meta answered success=false to the removal", system=self.name,
                                detail=str(body)[:200])
        subject = f"partner {target.subject}" if target.what.endswith("partner") else target.subject
        if target.what == "invitation":
            return RevokeResult(RevokeOutcome.done, f"invitation {target.subject} cancelled")
        return RevokeResult(RevokeOutcome.done, f"{subject} removed from {target.where}")

    def _settle_ambiguous(self, target: _Removal, exc: ConnectorError, token: str | None) -> RevokeResult:
        """Code 100 on DELETE: gone if no longer there, else Meta's refusal."""
        return settle(self._present(target, f"after Meta answered: {exc.detail}", token),
                      gone=f"{_absent(target)}: {exc.detail}",
                      refused=f"Meta refused to remove {target.subject} from {target.where}: {exc.detail}",
                      system=self.name, cause=exc, keep_code=False)

    def _present(self, target: _Removal, context: str, token: str | None) -> bool:
        """Whether the subject is still there; what cannot be read is never "already gone"."""
        if target.what in ("member", "invitation"):
            try:
                body = self._client.get_json(target.subject, {"fields": "id"})
            except NotFoundError:
                self._business_name()  # the node is gone, not our view of the business
                return False
            if _text(body, "id", self.name, required=True) != target.subject:
                raise MalformedResponseError(f"the node read as {target.subject} has another id", system=self.name,
                                             detail=str(body.get("id"))[:40])
            return True
        if target.what == "assignment":
            items = self._edge(target.node, "assigned_users", "id", token=token, business=self.business_id)
        else:
            items = self._edge(target.node, "agencies", "id", token=token)
        try:
            return any(str(item.get("id")) == target.subject for item in items)
        except NotFoundError as exc:
            raise RejectedError(
                f"cannot confirm removal {context}: {target.where} is not visible to this token "
                "(deleted, or access lost)", system=self.name, detail=exc.detail, status=exc.status,
            ) from exc


def _absent(target: _Removal) -> str:
    if target.what == "member":
        return "no longer a member of the business"
    if target.what == "invitation":
        return "the invitation is no longer open"
    if target.what == "business_partner":
        return "no longer a partner of the business"
    if target.what == "asset_partner":
        return f"partner has no access to {target.where}"
    return f"not assigned to {target.where}"


# -- accessward check: in meta_check (re-exported here, where the CLI and the tests import it) --------
from accessward.connectors.meta_check import META_PERMISSION_FIX, META_PERMISSIONS, check  # noqa: E402

__all__ += ["META_PERMISSIONS", "META_PERMISSION_FIX", "check"]
