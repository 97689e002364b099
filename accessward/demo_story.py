"""The demo's closing summary in words, told from the reports it wrote (what an auditor would read).

Who held what before, what was removed (by whom the policy or a reviewer decided), what needs a
manual step because no API removes it, and what was held back and why. Every sentence is
computed from ``access-before.csv``, ``findings.csv``, ``review.csv`` and ``plan-after.json``,
so the summary cannot claim what the run did not do.
"""

from __future__ import annotations

import csv
import json
import textwrap
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any


def _rows(path: Path) -> list[dict[str, str]]:
    if not path.exists():
        return []
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def _names(counter: Counter[str], limit: int = 6) -> str:
    parts = [f"{name} ({n})" for name, n in counter.most_common(limit)]
    rest = len(counter) - limit
    return ", ".join(parts) + (f" and {rest} more" if rest > 0 else "")


def _held_reason(text: str) -> str:
    """The first clause of a hold reason: enough to say why, short enough for one bullet."""
    return text.split(":")[0].split(";")[0].strip()


def sentences(reports: Path) -> list[str]:
    before = _rows(reports / "access-before.csv")
    after = _rows(reports / "access-after.csv")
    findings = _rows(reports / "findings.csv")
    review = _rows(reports / "review.csv")
    plan_path = reports / "plan-after.json"
    plan: dict[str, Any] = json.loads(plan_path.read_text()) if plan_path.exists() else {}

    out: list[str] = []
    people = {r["person"] for r in before if r.get("person")}
    systems = sorted({r["system"] for r in before})
    out.append(f"Before: {len(before)} grants on {len(systems)} systems ({', '.join(systems)}), held by "
               f"{len(people)} people from the directory and by agencies, service accounts and accounts "
               f"nobody could be matched to; {len(findings)} findings.")

    leavers: dict[str, list[dict[str, str]]] = defaultdict(list)
    for r in before:
        if r.get("person_status") == "terminated":
            leavers[r["person"]].append(r)
    for name, held_rows in sorted(leavers.items()):
        admin = sum(1 for r in held_rows if r["level"] == "admin")
        out.append(f"{name} had left (terminated in the directory) and still held {len(held_rows)} grants, "
                   f"{admin} of them admin, on {', '.join(sorted({r['system'] for r in held_rows}))}.")
    ended = sorted({f["account"] for f in findings if f["rule"] == "agency" and f["reason"] == "engagement_ended"})
    if ended:
        out.append(f"Agencies whose engagement had ended still had access: {', '.join(ended)}.")

    revoked = [f for f in findings if f["state"] == "revoked"]
    by_account: dict[str, set[str]] = defaultdict(set)
    for f in revoked:
        by_account[f["person"] or f["account"]].add(f["system"])
    if revoked:
        who = "; ".join(f"{name} on {', '.join(sorted(s))}" for name, s in sorted(by_account.items()))
        out.append(f"Removed by the policy (the orphaned and agency rules; the plan above the threshold was "
                   f"approved by a second person): "
                   f"{len(revoked)} grants — {who}.")
    decided = [r for r in review if r.get("outcome") == "done"]
    if decided:
        what = "; ".join(f"{r['account'].split(' (')[0]} on {r['resource'].split(' (')[0]}: {r['decision']}"
                         + (f" to {r['reduce_to']}" if r.get("reduce_to") else "") for r in decided)
        out.append(f"Changed by the access review: {len(decided)} — {what}.")

    unverifiable = _unverifiable(after)
    manual = [f"{f['account']} on {f['resource']} ({f['system']}, no API: a manual inventory)"
              for f in findings if f["state"] == "open" and f["system"] in unverifiable]
    held_all = plan.get("held", [])
    by_hand = [h for h in held_all if h["system"] not in unverifiable and _is_manual(h["held_because"])]
    manual += [f"{h['account_name'] or h['account']} on {h['resource_name'] or h['resource']} ({h['system']}, "
               f"{h['rule']})" for h in by_hand]
    if manual:
        out.append("Needs a manual step (the platform has no call that removes it, or the settings keep it for a "
                   "person; remove it by hand, the next sync confirms it): " + "; ".join(manual) + ".")

    held = [h for h in held_all if h["system"] not in unverifiable and not _is_manual(h["held_because"])]
    if held:
        reasons: Counter[str] = Counter(_held_reason(h["held_because"]) for h in held)
        out.append(f"Held back, not revoked ({len(held)}): " + "; ".join(
            f"{n}x {why}" for why, n in reasons.most_common()) + ". Link such accounts by hand "
            "(accessward link) and the next run acts on them.")
    if plan:
        out.append(f"Left to revoke: {len(plan.get('revocations', []))}; {len(plan.get('held', []))} held back or "
                   f"waiting for a manual step; {plan.get('flagged', 0)} findings are flag-only by policy.")
    return out


def _is_manual(reason: str) -> bool:
    return "manual step" in reason or reason.startswith("no API")


def _unverifiable(rows: list[dict[str, str]]) -> set[str]:
    return {r["system"] for r in rows if r.get("verifiable", "").startswith("unverifiable")}


def story(reports: Path, width: int = 80) -> list[str]:
    lines: list[str] = []
    for sentence in sentences(reports):
        lines += textwrap.wrap(sentence, width, initial_indent="• ", subsequent_indent="  ",
                               break_on_hyphens=False)
    return lines
