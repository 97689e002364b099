"""SCIM deprovisionings nobody matched are told as such: waiting and retried, then given up, and reactivations."""

from __future__ import annotations

from typing import Any

from accessward.notify.events import OB_UNMATCHED, from_audit


def _row(kind: str, subject: str, data: dict[str, Any]) -> dict[str, Any]:
    return {"id": 7, "kind": kind, "subject": subject, "actor": "token:entra", "data": data}


def test_an_unmatched_deprovisioning_says_it_is_retried() -> None:
    msg = from_audit(None, _row("offboarding.requested", "offboarding:scim:9:1",  # type: ignore[arg-type]
                                {"status": "not_found", "person": "x@example.com", "source": "scim"}), 3)
    assert msg is not None and msg.event == OB_UNMATCHED
    assert "retried" in msg.body and "nothing was removed yet" in msg.body


def test_expired_retries_and_reactivations_reach_a_person() -> None:
    expired = from_audit(None, _row("scim.unmatched_expired", "offboarding:scim:9:1",  # type: ignore[arg-type]
                                    {"retry_until": "2026-12-31T00:00:00Z"}), 3)
    assert expired is not None and expired.event == OB_UNMATCHED and "2026-12-31" in expired.body
    back = from_audit(None, _row("scim.reactivated", "scim_user:9", {"user_name": "ana@example.com"}),  # type: ignore[arg-type]
                      3)
    assert back is not None and "ana@example.com" in back.title and "re-grants nothing" in back.body
