"""Meta Page access tokens: asking for one with the system user's token, never keeping it.

Split out of ``connectors.meta`` so the token handling, which must never leak, reads on its own
(scrubbing every token met out of errors is ``revoke_confirm.TokenConnector``'s).

A Page's edges (``assigned_users``, ``agencies``, ``roles``; GET and DELETE) want a Page access
token. The connector asks for one with the system user's token (``GET /{page-id}?fields=access_token``)
each time a listing or a revocation needs it, keeps it in memory for that listing or that one
revocation only, and never logs, stores or previews it. A Page whose token cannot be had (the
system user is not assigned to it with MANAGE) fails with :class:`PageTokenError` naming that Page
and the fix.
"""

from __future__ import annotations

from accessward.connectors.errors import ConnectorError, NotFoundError
from accessward.connectors.http import HttpClient
from accessward.connectors.meta_errors import PAGE_TOKEN_FIX, GraphRejectedError, PageTokenError


def ask_page_token(client: HttpClient, page_id: str, system: str) -> str:
    """A Page access token for ``page_id``, asked for with the system user's token; never stored.

    Raises :class:`PageTokenError` naming the Page and the fix when Meta gives none: the system
    user is not assigned to the Page with MANAGE (or the app lacks the Page permissions).
    """
    try:
        body = client.get_json(page_id, {"fields": "id,access_token"})
    except NotFoundError as exc:
        raise PageTokenError(f"Page {page_id} is not visible to the system user, so no Page access token: "
                             f"{PAGE_TOKEN_FIX}", system=system, detail=exc.detail) from exc
    except (PageTokenError, GraphRejectedError) as exc:
        raise PageTokenError(f"no Page access token for Page {page_id}: {PAGE_TOKEN_FIX}", system=system,
                             detail=exc.detail) from exc
    except ConnectorError as exc:
        if exc.kind != "auth" or "permission" not in str(exc):
            raise
        raise PageTokenError(f"no Page access token for Page {page_id} (permission missing): {PAGE_TOKEN_FIX}",
                             system=system, detail=exc.detail) from exc
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise PageTokenError(f"Meta gave no Page access token for Page {page_id}: {PAGE_TOKEN_FIX}",
                             system=system)
    return token

