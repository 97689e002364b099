"""``accessward review show`` stays readable at 80 columns and in a log: records there, the table only when wide."""

from __future__ import annotations

import io

from rich.console import Console

from accessward import review_view
from accessward.sync.review_models import ReviewItem

REASON = ("admin on the main Facebook page, not used in 97 days, and the holder moved from Brand to "
          "Insights in the September reorganisation")


def items() -> list[ReviewItem]:
    return [
        ReviewItem(id=7, campaign_id=1, grant_id=1, system="meta", resource="200000000000001",
                   resource_name="Northwind Coffee", account="100000000000002", account_name="Dana Leaver",
                   role="MANAGE,CREATE_CONTENT", level=5, person_name="Dana Leaver", reviewer="alex.morgan@example.com",
                   facts={"level": "admin"}, recommendation="revoke", recommendation_reason=REASON),
        ReviewItem(id=8, campaign_id=1, grant_id=2, system="linkedin", resource="urn:li:organization:2414183",
                   account="urn:li:person:sam", account_name="Sam Rivera", role="ADMINISTRATOR", level=5,
                   person_name="Sam Rivera", reviewer="priya.shah@example.com", facts={"level": "admin"},
                   recommendation="keep", recommendation_reason="used last week", decision="reduce",
                   reduce_to="can_reply", outcome="done", outcome_detail="ADMINISTRATOR set to REVOKED (put)"),
    ]


def printed(console: Console) -> str:
    review_view.show(console, 1, items())
    assert isinstance(console.file, io.StringIO)
    return console.file.getvalue()


def test_an_80_column_terminal_gets_records_that_fit_and_keep_every_word() -> None:
    out = printed(Console(file=io.StringIO(), width=80, force_terminal=True))
    lines = out.splitlines()
    assert all(len(line) <= 80 for line in lines), [line for line in lines if len(line) > 80]
    assert "┃" not in out and "│" not in out  # no table folded into slivers
    assert "item 7: Dana Leaver on Northwind Coffee (meta)" in lines
    assert f"revoke: {REASON}" in " ".join(" ".join(lines).split())  # the whole reason, wrapped not cut
    assert any(line.split() == ["decision", "(pending)"] for line in lines)
    assert any(line.split()[:2] == ["decision", "reduce"] and "can_reply" in line for line in lines)
    assert "done: ADMINISTRATOR set to REVOKED (put)" in " ".join(out.split())


def test_a_pipe_or_log_gets_records_whatever_its_width() -> None:
    out = printed(Console(file=io.StringIO(), width=250, force_terminal=False))
    assert out.startswith("campaign 1: 2 item(s)\n") and "┃" not in out


def test_a_wide_terminal_gets_the_table() -> None:
    out = printed(Console(file=io.StringIO(), width=200, force_terminal=True, color_system=None))
    header = next(line for line in out.splitlines() if "recommendation" in line)
    assert [c.strip() for c in header.strip("┃ ").split("┃")] == list(review_view.COLUMNS)
    first = next(line for line in out.splitlines() if line.startswith("│ 7 "))
    assert [c.strip() for c in first.strip("│ ").split("│")][:6] == ["7", "meta", "Northwind Coffee", "Dana Leaver",
                                                                   "Dana Leaver", "admin"]
