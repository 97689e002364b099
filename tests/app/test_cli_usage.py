"""The CLI library checks fixed sets of values and dates; help shows readable metavars; accept names its needs."""

from __future__ import annotations

import pytest
from typer.main import get_command
from typer.testing import CliRunner

from accessward import exitcodes
from accessward.cli import app


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "120"})
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.output


@pytest.mark.parametrize(("args", "named"), [
    (["--log-level", "loud", "plan"], "'debug', 'info', 'warning', 'error'"),
    (["--log-format", "yaml", "plan"], "'text', 'json'"),
    (["report", "findings", "--state", "bogus"], "'open', 'accepted', 'resolved', 'revoked'"),
    (["report", "findings", "--severity", "urgent"], "'low', 'medium', 'high', 'critical'"),
    (["report", "findings", "--format", "docx"], "'csv', 'json', 'xlsx', 'html', 'pdf'"),
    (["report", "actions", "--state", "bogus"], "'done'"),
    (["device", "lost", "E1002", "--status", "misplaced"], "'lost', 'stolen'"),
    (["token", "create", "--role", "root", "--name", "x"], "'auditor'"),
])
def test_a_value_outside_the_fixed_set_is_a_usage_error_naming_the_choices(args, named):
    code, out = run(*args)
    assert code == exitcodes.CONFIG and "Traceback" not in out
    assert named in " ".join(out.replace("│", " ").split()), out


@pytest.mark.parametrize("args", [
    ["report", "access", "--as-of", "tomorrow"],
    ["report", "findings", "--from", "31/12/2026"],
    ["accept", "5", "--owner", "ciso", "--reason", "renewal", "--until", "next week"],
    ["offboard", "E1003", "--at", "friday"],
])
def test_every_date_goes_through_one_parser_with_one_message(args):
    code, out = run(*args)
    flat = " ".join(out.replace("│", " ").split())
    assert code == exitcodes.CONFIG and "is not a date: give a date (2026-12-31) or an ISO datetime" in flat, out


def test_accept_without_options_says_which_are_required():
    code, out = run("accept", "5")
    assert code == exitcodes.CONFIG
    assert "needs --owner, --reason and --until; missing: --owner, --reason, --until" in out
    assert "(missing)" not in out and "is not an ISO date" not in out
    code, out = run("accept", "--owner", "ciso", "--reason", "r", "--until", "2026-12-31")
    assert code == exitcodes.CONFIG and "give the FINDING to accept, or a pattern" in out


def _commands(command, path=()):  # type: ignore[no-untyped-def]
    yield path
    for name, sub in getattr(command, "commands", {}).items():
        yield from _commands(sub, (*path, name))


def test_help_shows_real_metavars_everywhere():
    paths = list(_commands(get_command(app)))
    assert len(paths) > 40
    for path in paths:
        code, out = run(*path, "--help")
        assert code == 0, (path, out)
        for typer_default in ("<str>", "<list[str]>", "<int>", "<bool>", "<path>", "{"):
            assert typer_default not in out, (path, typer_default, out)
    _code, out = run("accept", "--help")
    assert "--until" in out and "DATE" in out and "[FINDING]" in out
    _code, out = run("approve", "--help")
    assert "approve [OPTIONS] PLAN_ID" in out
