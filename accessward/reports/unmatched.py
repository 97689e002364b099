"""Accounts that match nobody, with the closest candidates, so someone can link them by hand.

"Closest" is kept cheap and explainable at 200,000 people: a person whose email has the same
local part on another domain (``alex.morgan@agency.example`` vs ``alex.morgan@example.com``), or
whose display name equals the account's, or whose username equals the email's local part.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from sqlalchemy import Engine, text

UNMATCHED_COLUMNS = ("system", "account_id", "account", "account_email", "login", "open_grants", "candidates")

UNMATCHED_SQL = """
SELECT a.id, a.system, a.external_id AS account_id, a.display_name AS account, a.email AS account_email,
       a.login, (SELECT COUNT(*) FROM access_grant g WHERE g.account_id = a.id AND g.seen_to IS NULL) AS open_grants
FROM account a
JOIN link l ON l.account_id = a.id
WHERE a.kind = 'human' AND l.person_id IS NULL AND l.disputed = :no
ORDER BY a.system, a.display_name
"""

CANDIDATES_SQL = """
SELECT DISTINCT p.display_name, p.employee_id, p.source, p.status FROM person p
LEFT JOIN person_email e ON e.person_id = p.id
WHERE (e.email LIKE :local_any AND :local <> '') OR (LOWER(p.display_name) = :name AND :name <> '')
   OR (p.username = :local AND :local <> '')
ORDER BY p.display_name
LIMIT 3
"""


def _local(address: str | None) -> str:
    return (address or "").partition("@")[0].lower()


def unmatched_rows(engine: Engine) -> Iterator[dict[str, Any]]:
    with engine.connect() as conn:
        accounts = conn.execute(text(UNMATCHED_SQL), {"no": False}).mappings().all()
        for acct in accounts:
            local = _local(acct["account_email"]) or _local(acct["login"] if "@" in (acct["login"] or "") else "")
            found = conn.execute(text(CANDIDATES_SQL), {
                "local": local, "local_any": f"{local}@%", "name": (acct["account"] or "").strip().lower(),
            }).mappings().all()
            out = {k: acct[k] for k in UNMATCHED_COLUMNS if k in acct}
            out["candidates"] = "; ".join(
                f"{c['display_name']} ({c['employee_id'] or 'no employee id'}, {c['source']}, {c['status']})"
                for c in found)
            yield out
