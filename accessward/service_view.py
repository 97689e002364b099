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
