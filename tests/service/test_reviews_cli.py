"""`accessward review ...`: start, show, decide with a personal token, close through the outbox, report."""

from __future__ import annotations

import csv
import io
import json

from typer.testing import CliRunner

from accessward import exitcodes, tokens
from accessward.cli import app
from tests.service.test_reviews_e2e import ALEX, MAIN, PRIYA, REVIEWS, actor, personal_token
from tests.service.world import DANA


def run(world, *args: str, token: str | None = None,  # type: ignore[no-untyped-def]
        columns: int = 250) -> tuple[int, str]:
    env = {"COLUMNS": str(columns), "ACCESSWARD_ACTOR": "it-sec@example.com"}
    if token:
        env["ACCESSWARD_TOKEN"] = token
    result = CliRunner().invoke(app, ["--config", str(world.dir / "accessward.toml"), *args], env=env,
                                catch_exceptions=False)
    return result.exit_code, result.output


def test_review_from_the_cli_records_decisions_against_the_token_and_revokes_on_close(world, rt):
    path = world.dir / "accessward.toml"
    path.write_text(path.read_text() + REVIEWS.replace('on_no_response = "revoke"', 'on_no_response = "keep"'))
    alex = personal_token(rt, ALEX)
    personal_token(rt, PRIYA)
    service = tokens.create(rt.engine, name="a-service", role="reviewer", actor="test")

    code, out = run(world, "review", "start", "quarterly-access")
    assert code == 0 and "campaign 1" in out and ALEX in out
    assert run(world, "review", "start", "no-such-campaign")[0] == exitcodes.CONFIG
    code, out = run(world, "review", "show", "quarterly-access", "--json")
    items = {(i["resource"], i["account_name"]): i for i in json.loads(out)}
    dana, alex_main = items[(MAIN, "Dana Leaver")], items[(MAIN, "Alex Morgan")]
    assert dana["facts"]["level"] == "admin" and dana["recommendation_reason"]

    code, out = run(world, "review", "decide", "1", str(dana["id"]), "--revoke", "-j", "left the social team")
    assert code == exitcodes.CONFIG and "personal token" in out
    code, out = run(world, "review", "decide", "1", str(dana["id"]), "--revoke", "-j", "x", token=service)
    assert code == exitcodes.CONFIG and "not a personal token" in out
    code, out = run(world, "review", "decide", "1", str(alex_main["id"]), "--keep", "-j", "mine", token=alex)
    assert code == exitcodes.CONFIG and "not to you" in out
    code, out = run(world, "review", "decide", "1", str(dana["id"]), "--revoke", "-j", "left the social team",
                    token=alex)
    assert code == 0 and f"by {actor(ALEX)}" in out
    code, out = run(world, "review", "decide", "1", "--account", "Sam", "--resource", "Shop", "--keep", "-j", "x",
                    token=alex)
    assert code == exitcodes.CONFIG and "no item matches" in out  # Sam's shop item is Priya's, not Alex's
    code, out = run(world, "review", "decide", "1", "--pending", "--recommended", "-j", "still on the team",
                    token=alex)
    # Sam's main page, Taylor, Brightside and Riley (a freelancer on the Page through Meta's /roles)
    assert code == 0 and out.count(f": keep, by {actor(ALEX)}") == 4, out

    code, out = run(world, "review", "close", "1")
    assert code == 0 and "closed" in out, out
    assert not world.meta.is_assigned(MAIN, DANA["meta"]) and len(world.meta.revoke_calls) == 1
    code, out = run(world, "review", "report", "1", "--format", "csv")
    rows = {r["item"]: r for r in csv.DictReader(io.StringIO(out))}
    row = rows[str(dana["id"])]
    assert (row["decision"], row["decided_by"], row["justification"], row["outcome"]) == (
        "revoke", actor(ALEX), "left the social team", "done")
    code, out = run(world, "review", "list")
    assert code == 0 and "closed" in out


def test_review_show_is_readable_in_80_columns_and_off_a_terminal(world, rt):
    """Not a table folded into slivers: one record per item, every line within 80 columns, no word lost."""
    path = world.dir / "accessward.toml"
    path.write_text(path.read_text() + REVIEWS)
    assert run(world, "review", "start", "quarterly-access")[0] == 0
    items = json.loads(run(world, "review", "show", "quarterly-access", "--json")[1])
    code, out = run(world, "review", "show", "quarterly-access", columns=80)
    assert code == 0 and out.startswith(f"campaign 1: {len(items)} item(s)")
    assert all(len(line) <= 80 for line in out.splitlines()), out
    assert "┃" not in out and "│" not in out
    flat = " ".join(out.split())
    for i in items:
        assert f"item {i['id']}: {i['account_name'] or i['account']} on" in flat
        assert " ".join(f"{i['recommendation']}: {i['recommendation_reason']}".split()) in flat
