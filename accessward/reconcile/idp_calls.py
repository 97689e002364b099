"""One IdP action with the executor's error taxonomy (retried while transient, "not found" is gone), and the
guard an IdP disable answers to (it is a revocation wider than one grant)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text

from accessward.connectors.errors import ConnectorError, NotFoundError, TransientError
from accessward.connectors.idp import disable_takes
from accessward.connectors.records import Level, RevokeOutcome, RevokeResult

log = logging.getLogger("accessward.idp")


@dataclass(frozen=True)
class Retry:
    attempts: int = 3
    backoff: float = 1.0
    sleep: Callable[[float], None] = time.sleep


def call_idp(action: Callable[[], RevokeResult], retry: Retry) -> tuple[str, str]:
    """Run ``action``; answer (state, detail) with state done | already_gone | failed."""
    for attempt in range(1, retry.attempts + 1):
        try:
            result = action()
        except NotFoundError as exc:
            return "already_gone", f"not in the identity provider any more ({exc})"
        except TransientError as exc:
            if attempt == retry.attempts:
                return "failed", f"transient, gave up after {attempt} attempts: {exc}"
            wait = exc.retry_after if exc.retry_after is not None else retry.backoff * 2 ** (attempt - 1)
            log.warning("identity provider transient failure", extra={"wait_s": wait})
            retry.sleep(wait)
            continue
        except ConnectorError as exc:
            return "failed", f"{exc.kind}: {exc}" + (f" ({exc.detail})" if exc.detail else "")
        except Exception as exc:  # a bug or an unmapped library error: recorded, retried by the next run
            log.exception("identity provider action failed unexpectedly")
            return "failed", f"internal error: {type(exc).__name__}"
        state = "already_gone" if result.outcome == RevokeOutcome.already_gone else "done"
        return state, result.detail
    return "failed", "no attempt made"


#: IdP steps that end the account itself (and so every sign-in through it).
DISABLING_STEPS = frozenset({"disable_account", "disable_guest", "remove_guest"})


def disable_hold(engine: Engine, person_ids: Sequence[int], break_glass: Iterable[str], idp_name: str) -> str | None:
    """Why disabling (or deleting) the person's IdP account must wait, or None.

    A disabled IdP account takes every grant the person reaches through SSO with it
    (``connectors.idp.disable_takes``), so the guards judge those grants too: a break-glass account, or
    the last admin of a resource, that signs in through SSO holds the disable back.
    """
    from accessward.reconcile.plan import is_break_glass
    from accessward.reconcile.subject import open_grants
    from accessward.reconcile.takes import open_admin_grants

    takes = disable_takes(idp_name)
    mine = set(person_ids)
    names = {b.lower() for b in break_glass}
    rows = [r for r in open_grants(engine, list(person_ids)) if r["sso"] is True and r["person_id"] in mine]
    for row in rows:
        if is_break_glass(row, names):
            who = f"{row['account_name'] or row['account']} on {row['system']}"
            return f"held: break-glass account {who} signs in through SSO; {takes.note}"
    # Sets of grant ids, not counts: the disable takes every SSO admin grant of the person, unfinished
    # actions (this offboarding's own plan included) take theirs, and a grant both take counts once.
    disabled: dict[int, set[int]] = {}
    for row in rows:
        if row["level"] >= int(Level.admin):
            disabled.setdefault(int(row["resource_id"]), set()).add(int(row["grant_id"]))
    if not disabled:
        return None
    with engine.connect() as conn:
        admins = open_admin_grants(conn, disabled)
        going = _in_flight_admin_grants(conn)
    for row in rows:
        rid = int(row["resource_id"])
        if rid not in disabled:
            continue
        if not admins.get(rid, set()) - going - disabled[rid]:
            who = f"{row['account_name'] or row['account']} on {row['system']}"
            return (f"held: {who} is the last admin of {row['resource_name'] or row['resource']} and signs in "
                    f"through SSO; {takes.note}. Add another admin there first")
    return None


def _in_flight_admin_grants(conn: Connection) -> set[int]:
    """Open admin-level grants some unfinished action of an approved or applying plan is about to remove."""
    return {int(g) for (g,) in conn.execute(text(
        "SELECT DISTINCT g.id FROM action x JOIN access_grant g ON g.id = x.grant_id JOIN plan p ON p.id = x.plan_id "
        "WHERE x.state IN ('planned', 'executing') AND p.status IN ('approved', 'applying') "
        "AND g.seen_to IS NULL AND g.level >= :admin"), {"admin": int(Level.admin)})}
