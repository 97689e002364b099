"""From audit events to messages: what happened, for whom, and the console page that acts on it.

Each message has a ``key`` that names the fact it reports (``plan:12``, ``offboarding:hr-7``): a
fact is told once per channel however many audit events repeat it (an offboarding that stays
partially done is retried every few minutes, and each retry is audited).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, text

PLAN, OB_PARTIAL, OB_UNMATCHED = "plan.needs_approval", "offboarding.partial", "offboarding.unmatched"
FAILING, QUARANTINED, DEVICE = "source.failing", "source.quarantined", "device.lost"
REVIEW_KINDS = {"review.assigned": "assigned to you", "review.due_soon": "due soon", "review.overdue": "overdue",
                "review.escalated": "escalated to you"}
# the settings' event each audit kind is routed by (an escalation is told as an overdue review)
REVIEW_EVENTS = {"review.assigned": "review.assigned", "review.due_soon": "review.due_soon",
                 "review.overdue": "review.overdue", "review.escalated": "review.overdue"}


@dataclass(frozen=True)
class Message:
    event: str
    key: str  # the fact, for the outbox's dedup key
    title: str
    body: str
    path: str  # the console page, e.g. /plans/12
    facts: dict[str, str] = field(default_factory=dict)
    recipients: tuple[str, ...] = ()  # extra email recipients (a review's reviewer)


def _id(subject: str) -> str:
    return subject.split(":", 1)[1] if ":" in subject else subject


def from_audit(conn: Connection, row: Mapping[str, Any], source_failures: int) -> Message | None:
    """The message an audit event calls for, or None."""
    kind, subject, actor = row["kind"], row["subject"] or "", row["actor"]
    data: dict[str, Any] = row["data"] or {}
    if kind == "plan.created" and data.get("status") == "needs_approval":
        plan = _id(subject)
        return Message(PLAN, f"plan:{plan}", f"Plan {plan} waits for approval",
                       f"A plan to revoke {data.get('revocations', '?')} access grant(s) stopped before the first "
                       f"revocation: {data.get('reason', '')}. Review the exact requests and approve it, or not. "
                       "Four-eyes: whoever started it cannot approve it.",
                       f"/plans/{plan}", {"plan": plan, "started by": actor,
                                          "revocations": str(data.get("revocations", ""))})
    if kind in REVIEW_KINDS:
        campaign = _id(subject)
        who = data.get("reviewer_email")
        when = data.get("due_at") or data.get("deadline") or ""
        once = f"{kind}:{campaign}:{who or ''}:{when}:{data.get('days_left', '')}"
        return Message(REVIEW_EVENTS[kind], once,
                       f"Access review {data.get('campaign', campaign)}: {REVIEW_KINDS[kind]}",
                       f"{data.get('items', 'Some')} item(s) of the access review {data.get('campaign', campaign)} "
                       f"wait for a decision (keep, revoke or reduce, with a reason); due {when or '?'}.",
                       f"/reviews/{quote(str(campaign), safe='')}",
                       {"campaign": str(data.get("campaign", campaign)), "due": str(when),
                        "items": str(data.get("pending", data.get("items", ""))),
                        "reviewer": str(data.get("reviewer") or who or "")}, (who,) if who else ())
    if kind == "offboarding.run" and data.get("status") == "partially_done":
        request_id = _id(subject)
        systems = ", ".join(data.get("pending_systems") or []) or "some systems"
        return Message(OB_PARTIAL, f"offboarding:{request_id}", f"Offboarding {request_id} is only partially done",
                       f"Access is still pending on {systems}: the scheduler retries what failed; held items "
                       "(a last admin, a disputed link, a manual inventory) need a person.",
                       f"/offboardings/{quote(request_id, safe='')}",
                       {"offboarding": request_id, "pending on": systems, "attempt": str(data.get("attempt", ""))})
    if kind == "offboarding.requested" and data.get("status") == "not_found":
        request_id = _id(subject)
        return Message(OB_UNMATCHED, f"offboarding:{request_id}", f"Offboarding {request_id}: nobody matches",
                       f"A deprovisioning for {data.get('person', '?')} (from {data.get('source', '?')}) matches no "
                       "person Accessward knows: nothing was removed yet. A SCIM deprovisioning is retried after "
                       "each identity sync and carried out as soon as the person appears; otherwise find the "
                       "person and link their accounts.",
                       f"/offboardings/{quote(request_id, safe='')}",
                       {"offboarding": request_id, "person": str(data.get("person", ""))})
    if kind == "scim.unmatched_expired":
        request_id = _id(subject)
        return Message(OB_UNMATCHED, f"scim-expired:{request_id}",
                       f"Offboarding {request_id}: still nobody matches, retries stopped",
                       f"A SCIM deprovisioning waited until {data.get('retry_until', '?')} for its person to appear in "
                       "an identity source and never matched: nothing was removed. Its finding stays open for a "
                       "person to find who this was and offboard them by hand.",
                       f"/offboardings/{quote(request_id, safe='')}", {"offboarding": request_id})
    if kind == "scim.reactivated":
        return Message(OB_UNMATCHED, f"scim-reactivated:{subject}:{row.get('id', '')}",
                       f"An identity provider turned a deprovisioned user back on: {data.get('user_name', subject)}",
                       "The IdP sent active=true for a user it had deprovisioned. Accessward re-grants nothing and "
                       "starts nothing by itself: check whether this was intended.",
                       "/offboardings", {"user": str(data.get("user_name", subject))})
    if kind == "sync.finished" and data.get("status") == "quarantined":
        return Message(QUARANTINED, f"sync:{data.get('run')}", f"Source {subject} is quarantined",
                       f"Sync run {data.get('run')} of {subject} dropped sharply against its last good run: "
                       f"{data.get('error') or ''}. Nothing is revoked from it until a person confirms the run "
                       f"(accessward sync confirm {data.get('run')}) or the source recovers.",
                       f"/sources/{quote(subject, safe='')}", {"source": subject, "run": str(data.get("run"))})
    if kind == "sync.finished" and data.get("status") == "failed":
        streak = _failed_streak(conn, subject, int(data.get("run") or 0))
        if streak != source_failures:  # told once, when the streak reaches the threshold
            return None
        return Message(FAILING, f"sync:{data.get('run')}", f"Source {subject} failed {streak} runs in a row",
                       f"The newest error: {data.get('error') or 'unknown'}. While it fails, nothing is revoked on "
                       "the systems it covers, and leavers it would show are not acted on.",
                       f"/sources/{quote(subject, safe='')}", {"source": subject, "failed runs": str(streak)})
    if kind == "device.reported":
        report = _id(subject)
        return Message(DEVICE, f"device:{report}",
                       f"Device reported {data.get('status', 'lost')}: {data.get('person', '?')}",
                       f"A {data.get('status', 'lost')} device of {data.get('person', '?')} was reported by {actor}; "
                       f"outcome {data.get('outcome', '?')}, {data.get('flagged', 0)} access(es) flagged that ending "
                       "the sessions does not cut.",
                       f"/devices/{quote(report, safe='')}",
                       {"person": str(data.get("person", "")), "device": str(data.get("device", "")),
                        "outcome": str(data.get("outcome", ""))})
    return None


def _failed_streak(conn: Connection, source: str, run: int) -> int:
    """Failed runs in a row ending with ``run`` (as of that run, whenever the notifier reads it)."""
    rows = conn.execute(text("SELECT status FROM sync_run WHERE source = :s AND finished_at IS NOT NULL "
                             "AND id <= :run ORDER BY id DESC LIMIT 100"), {"s": source, "run": run}).scalars()
    streak = 0
    for status in rows:
        if status != "failed":
            break
        streak += 1
    return streak
