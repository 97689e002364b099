"""Terminal views of an offboarding receipt and a lost-device report."""

from __future__ import annotations

from typing import Any

from rich.table import Table

STATE_STYLE = {"done": "green", "already_gone": "green", "pending": "yellow", "held": "yellow",
               "failed": "bold red"}


def _state(state: str) -> str:
    style = STATE_STYLE.get(state, "")
    return f"[{style}]{state}[/]" if style else state


def receipt_table(receipt: dict[str, Any]) -> Table:
    person = receipt["person"]
    table = Table(title=f"Offboarding {receipt['request_id']}: {person['name'] or person['key']} — "
                        f"{receipt['status']}", caption=f"effective {receipt['effective_at']}, requested by "
                                                        f"{receipt['requested_by']}")
    for col in ("system", "action", "resource", "account", "role", "state", "at", "detail"):
        table.add_column(col, overflow="fold")
    for system in receipt["systems"]:
        for item in system["items"]:
            table.add_row(system["system"], item["action"], item.get("resource_name") or item.get("resource", ""),
                          item["account_name"] or item["account"], item.get("role", ""), _state(item["state"]),
                          item["at"] or "", item["detail"])
    return table


def device_table(report: dict[str, Any]) -> Table:
    table = Table(title=f"Device {report['device'] or '(not named)'} {report['status']}: "
                        f"{report['person']['name']} — {report['outcome']}")
    for col in ("where", "action", "what", "state", "detail"):
        table.add_column(col, overflow="fold")
    for side in report["identity_providers"]:
        for action in side["actions"]:
            method = action.get("method") or {}
            table.add_row(side["system"], action["action"], method.get("label") or method.get("id", ""),
                          _state(action["state"]), action.get("detail", ""))
        for method in side["device_methods_left"]:
            table.add_row(side["system"], "left in place", f"{method['label']} ({method['kind']})", "", "")
    for flag in report["flagged"]:
        table.add_row(flag["system"], "flagged", f"{flag['resource_name'] or flag['resource']}: "
                      f"{flag['account_name'] or flag['account']} ({flag['role']})", "[yellow]review[/]", flag["why"])
    return table


def will_remove(engine: Any, request_id: str) -> list[dict[str, Any]]:
    """What a scheduled offboarding will remove when it takes effect, as the store stands now.

    A receipt lists what was done; before the date nothing was, and an empty table said nothing.
    The grants come from the same query the offboarding will use (``subject.open_grants``).
    """
    from accessward.connectors.records import Level
    from accessward.reconcile import offboarding
    from accessward.reconcile.subject import open_grants

    ob = offboarding.find(engine, request_id)
    if ob is None or ob.status != "scheduled":
        return []
    out = []
    for row in open_grants(engine, ob.person_ids):
        level = row.get("level")
        out.append({"system": row["system"], "resource": row["resource"], "resource_name": row["resource_name"],
                    "account": row["account"], "account_name": row["account_name"], "role": row["role"],
                    "level": Level(level).name if isinstance(level, int) and level in set(Level) else level})
    return out


def will_remove_table(rows: list[dict[str, Any]], effective_at: str) -> Table:
    table = Table(title=f"To be removed at {effective_at} (as the store stands now)")
    for col in ("system", "resource", "account", "role"):
        table.add_column(col, overflow="fold")
    for r in rows:
        table.add_row(r["system"], r["resource_name"] or r["resource"], r["account_name"] or r["account"], r["role"])
    return table
