"""A synthetic customer of a given size: its directory (for slapd) and its Meta business (for the simulator).

The scale benchmark (issue 17) and the tests seed real servers with the same people, so what a
source lists can be checked against what was seeded. Everything here is deterministic (person
``n`` is always the same person) and lazy (people are yielded, never held in a list), so 200,000
people seed slapd in flat memory.

:class:`Mix` says, per hundred people (by ``n % 100``), who is what. :data:`REALISTIC` is the
target customer of issue 17: 2 % leavers (terminated, still in the directory), 1 % suspended,
1 % leaving within 30 days, 10 % contractors and 5 % agency staff, 3 % whose display name is
also someone else's, and 10 % whose address is written in mixed case (``U0000042@Example.COM``).
:data:`LEGACY` is what ``sandbox.slapd.generate_people`` has always produced (5 % terminated, 3 %
suspended, 2 % leaving, lower-case addresses); the tests written against it keep it.

The customer's **Meta share** (:func:`meta_state`) is a business whose people are a slice of the
directory (about 2 %, plus agency staff not in it), Pages with dozens of assignees each, Instagram
assets, page roles, partner agencies and invitations. The business users' addresses are written
in *another* case than the directory's (upper case where the directory has lower, and the other
way round), so that correlation works only because the store normalizes addresses; leavers keep
their Meta access (the findings a nightly run is about).
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Literal

from accessward.sandbox.slapd import SeedPerson

__all__ = ["LEGACY", "REALISTIC", "MetaShare", "Mix", "meta_share", "meta_state", "people", "person"]

_DEPARTMENTS = ("Marketing", "Sales", "Engineering", "Finance", "Legal", "Support", "Brand", "HR")
_GIVEN = ("Ada", "Ben", "Chloe", "Dev", "Eva", "Farid", "Grace", "Hugo", "Ines", "Jon", "Kemi", "Lars")
_FAMILY = ("Ng", "Okafor", "Silva", "Novak", "Haddad", "Kim", "Dubois", "Rossi", "Sato", "Berg")
#: Larger name pools for the realistic mix: with a middle initial, 124,800 distinct names.
_GIVEN_MORE = (
    *_GIVEN, "Mara", "Nils", "Olu", "Pia", "Quinn", "Rosa", "Sven", "Tara", "Uma", "Vik", "Wen", "Xavi", "Yara", "Zeno",
    "Amir", "Bea", "Cem", "Dina", "Emre", "Fay", "Gus", "Hana", "Ivo", "Jade", "Kai", "Lena", "Milo", "Nora",
    "Omar", "Paz", "Rhea", "Sami", "Teo", "Una", "Vera", "Will", "Xena", "Yuki", "Zoe", "Aida", "Bram", "Cleo",
    "Dara", "Elio", "Finn", "Gaia", "Hiro", "Iris")
_FAMILY_MORE = (*_FAMILY, *(
    f"{a}{b}" for a, b in itertools.product(("Al", "Bel", "Cor", "Dun", "Es", "Fal", "Gar", "Hol", "Ish", "Jor"),
                                             ("ton", "sen", "ova", "ez", "ard", "ani", "berg"))))


@dataclass(frozen=True)
class Mix:
    """Who is what, by bucket ``n % 100``: each set holds the buckets (0-99) that get that trait."""

    terminated: frozenset[int]
    suspended: frozenset[int]
    leaving: frozenset[int]
    contractors: frozenset[int]
    agency: frozenset[int]
    duplicate_names: frozenset[int] = frozenset()
    mixed_case: frozenset[int] = frozenset()
    rich_names: bool = False  # the larger name pools (names repeat rarely, except the duplicates)

    def share(self, trait: str) -> float:
        """The fraction of people with ``trait`` (a field name): e.g. ``REALISTIC.share("terminated") == 0.02``."""
        buckets = getattr(self, trait)
        assert isinstance(buckets, frozenset)
        return len(buckets) / 100


LEGACY = Mix(
    terminated=frozenset({7, 27, 47, 67, 87}), suspended=frozenset({11, 44, 88}), leaving=frozenset({23, 63}),
    contractors=frozenset(range(85, 95)), agency=frozenset(range(95, 100)),
)
REALISTIC = Mix(
    terminated=frozenset({7, 57}), suspended=frozenset({44}), leaving=frozenset({23}),
    contractors=frozenset(range(5, 100, 10)), agency=frozenset({9, 29, 49, 69, 89}),
    duplicate_names=frozenset({13, 46, 79}), mixed_case=frozenset(range(2, 100, 10)), rich_names=True,
)


def _name(number: int, mix: Mix) -> tuple[str, str, str]:
    """(given name, family name, display name) of person ``number``."""
    if mix.rich_names:
        if number > 0 and number % 100 in mix.duplicate_names:
            return _name(number - 1, mix)  # someone else's name, exactly
        given = _GIVEN_MORE[number % len(_GIVEN_MORE)]
        rest = number // len(_GIVEN_MORE)
        initial = chr(ord("A") + rest % 26)
        family = _FAMILY_MORE[(rest // 26) % len(_FAMILY_MORE)]
        return given, family, f"{given} {initial}. {family}"
    given = _GIVEN[number % len(_GIVEN)]
    family = _FAMILY[(number // len(_GIVEN)) % len(_FAMILY)]
    return given, family, f"{given} {family}"


def mail_of(number: int, domain: str = "example.com", mix: Mix = LEGACY) -> str:
    """Person ``number``'s address as the directory writes it (mixed case in ``mix.mixed_case`` buckets)."""
    uid = f"u{number:07d}"
    if number % 100 in mix.mixed_case:
        return f"{uid.upper()}@{domain[:1].upper()}{domain[1:-3]}{domain[-3:].upper()}"
    return f"{uid}@{domain}"


def person(number: int, *, domain: str = "example.com", today: date | None = None, mix: Mix = LEGACY) -> SeedPerson:
    """Person ``number``: uid ``u<number:07d>``, employee number ``E<number:07d>``, managed by ``number // 10``."""
    today = today or datetime.now(UTC).date()
    bucket = number % 100
    kind = "agency" if bucket in mix.agency else ("contractor" if bucket in mix.contractors else "employee")
    status: Literal["active", "suspended", "terminated"] = "active"
    expires: date | None = None
    if bucket in mix.terminated:
        status = "terminated"
    elif bucket in mix.suspended:
        status = "suspended"
    elif bucket in mix.leaving:
        expires = today + timedelta(days=30)
    given, family, display = _name(number, mix)
    uid = f"u{number:07d}"
    return SeedPerson(
        uid=uid, given_name=given, sn=family, cn=f"{given} {family} {number}", display_name=display,
        mail=mail_of(number, domain, mix), employee_number=f"E{number:07d}", employee_type=kind, status=status,
        expires=expires, department=_DEPARTMENTS[number % len(_DEPARTMENTS)],
        manager_uid=f"u{number // 10:07d}" if number > 0 else None,
    )


def people(count: int, *, start: int = 0, domain: str = "example.com", today: date | None = None,
           mix: Mix = LEGACY) -> Iterator[SeedPerson]:
    """Yield ``count`` people from number ``start`` on, lazily."""
    today = today or datetime.now(UTC).date()
    for number in range(start, start + count):
        yield person(number, domain=domain, today=today, mix=mix)


# -- the Meta share --------------------------------------------------------------------------------

PAGE_TASKS = (["ANALYZE"], ["MODERATE", "ANALYZE"], ["CREATE_CONTENT", "MODERATE", "ANALYZE"],
              ["ADVERTISE", "ANALYZE"], ["MESSAGING", "MODERATE"])
INSTAGRAM_TASKS = (["ANALYZE"], ["CONTENT", "ANALYZE"], ["COMMUNITY_ACTIVITY", "MESSAGES"])
META_BUSINESS = "100000000000001"


@dataclass(frozen=True)
class MetaShare:
    """The sizes of a customer's Meta business (everything :func:`meta_state` seeds follows from them)."""

    people: int  # directory size
    members: int  # business users drawn from the directory
    outsiders: int  # business users not in the directory (agency freelancers)
    pages: int
    per_page: int  # assignees of each Page (one of them with MANAGE)
    instagram: int
    per_instagram: int
    partners: int
    page_roles: int  # people outside any business with a task on a Page, per Page
    invitations: int
    system_users: int = 2

    @property
    def stride(self) -> int:
        return max(1, self.people // max(1, self.members))

    def member_number(self, index: int) -> int:
        """The directory number of business member ``index``."""
        return (index * self.stride + index % self.stride) % self.people  # every bucket, no repeats

    @property
    def grants(self) -> int:
        """Grant records the connector lists (business_membership="admins", Page/IG/partner/role grants)."""
        admins = 1 + 1  # one business ADMIN member + one ADMIN system user
        shared = min(self.partners, self.pages) + min(self.partners, self.instagram)
        idle = self.partners - min(self.partners, max(self.pages, self.instagram))
        return (admins + self.pages * (self.per_page + self.page_roles) + self.instagram * self.per_instagram
                + shared + idle + self.invitations)


def meta_share(people: int) -> MetaShare:
    """The Meta business of a customer with ``people`` in the directory (2 % of them are on it)."""
    members = max(40, people // 50)
    pages = max(10, people // 250)
    return MetaShare(people=people, members=members, outsiders=max(5, members // 20), pages=pages,
                     per_page=min(60, members), instagram=max(3, pages // 4), per_instagram=min(20, members),
                     partners=max(2, pages // 40), page_roles=1, invitations=max(1, members // 100))


def _member_email(number: int, mix: Mix) -> str:
    """The address Meta holds for directory person ``number``: the other case than the directory's."""
    directory = mail_of(number, mix=mix)
    return directory.lower() if directory != directory.lower() else directory.upper()


def meta_state(share: MetaShare, token: str, *, mix: Mix = REALISTIC) -> object:
    """A ``sandbox.meta_state.MetaState`` seeded with ``share`` (typed ``object``: no import cycle for callers).

    Every Page has exactly one MANAGE assignee (the business ADMIN), so a leaver's removal never
    meets the last-admin rule by accident. Partner ``p`` is shared on Page ``p`` and Instagram asset
    ``p`` (when they exist); the remaining partners hold no asset (one grant on the business each).
    """
    from accessward.sandbox.meta_state import MetaState

    state = MetaState(META_BUSINESS, "Customer Brand Holdings")
    state.add_token(token)
    admin = state.add_business_user("Brand Admin", "brand.admin@example.com", role="ADMIN")
    state.add_system_user("Publishing Scheduler", role="ADMIN")
    for s in range(1, share.system_users):
        state.add_system_user(f"Integration {s}")
    member_ids: list[str] = []
    for i in range(share.members):
        number = share.member_number(i)
        p = person(number, mix=mix)
        two_fac = "not_enabled" if i % 9 == 4 else "enabled"
        member_ids.append(state.add_business_user(p.display_name or p.common_name, _member_email(number, mix),
                                                  two_fac_status=two_fac).id)
    for i in range(share.outsiders):
        member_ids.append(state.add_business_user(f"Freelancer {i}", f"Freelancer.{i}@Agency-Partner.example").id)
    for i in range(share.invitations):
        state.add_pending_user(f"New.Hire.{i}@Example.com")
    partners = [state.add_partner(f"Agency {i}").id for i in range(share.partners)]
    for pg in range(share.pages):
        page = state.add_page(f"Brand page {pg}")
        state.assign(page.id, admin.id, ["MANAGE", "CREATE_CONTENT", "MODERATE", "ADVERTISE", "ANALYZE"])
        for k in range(share.per_page - 1):
            user = member_ids[(pg * 7 + k) % len(member_ids)]
            state.assign(page.id, user, PAGE_TASKS[(pg + k) % len(PAGE_TASKS)])
        for r in range(share.page_roles):
            state.add_page_role(page.id, f"Page helper {pg}-{r}", ["PROFILE_PLUS_ANALYZE"])
        if pg < len(partners):
            state.share(page.id, partners[pg], ["ADVERTISE", "ANALYZE"])
    for ig in range(share.instagram):
        asset = state.add_instagram_account(f"brand_{ig}", name=f"Brand {ig}")
        for k in range(share.per_instagram):
            user = member_ids[(ig * 11 + k) % len(member_ids)]
            state.assign(asset.id, user, INSTAGRAM_TASKS[(ig + k) % len(INSTAGRAM_TASKS)])
        if ig < len(partners):
            state.share(asset.id, partners[ig], ["CONTENT", "ANALYZE"])
    return state
