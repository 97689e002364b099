"""`accessward notify run|list|test` and the service's notifications job, against the real SMTP server."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from typer.testing import CliRunner

from accessward import exitcodes, jobs
from accessward.cli import app
from accessward.reconcile.plan import PlanResult, persist_plan
from accessward.runtime import Runtime
from accessward.serve import default_jobs
from accessward.settings import load_settings
from accessward.sync.db import open_store
from tests.notify.conftest import SMTP_PASSWORD, SMTP_USER, MailServer

SETTINGS = """
[store]
url = "sqlite:///store.db"

[notifications]
base_url = "https://aw.corp.test"

[notifications.channels.mail]
type = "email"
host = "127.0.0.1"
port = {port}
username = "{user}"
password = {{ env = "CLI_SMTP_PASSWORD" }}
ca_file = "{ca}"
from = "accessward@corp.test"
to = ["secops@corp.test"]

[notifications.events]
"plan.needs_approval" = ["mail"]
"""


@pytest.fixture
def home(tmp_path: Path, mail_server: MailServer, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CLI_SMTP_PASSWORD", SMTP_PASSWORD)
    (tmp_path / "accessward.toml").write_text(SETTINGS.format(port=mail_server.port, user=SMTP_USER,
                                                              ca=mail_server.ca_file))
    return tmp_path


def run(home: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--config", str(home / "accessward.toml"), *args],
                                env={"COLUMNS": "250", "CLI_SMTP_PASSWORD": SMTP_PASSWORD}, catch_exceptions=False)
    return result.exit_code, result.output


def test_notify_run_sends_what_waits_and_list_shows_it(home, mail_server):
    assert run(home, "notify", "run")[0] == 0  # starts at the end of the trail
    persist_plan(open_store(f"sqlite:///{home / 'store.db'}"), PlanResult(None, "needs_approval", "over"), "scheduler")
    code, out = run(home, "notify", "run")
    assert code == 0 and "1 recorded, 1 sent" in out, out
    assert len(mail_server.arrived) == 1 and mail_server.arrived[0].tls
    code, out = run(home, "notify", "list")
    assert code == 0 and "plan.needs_approval" in out and "sent" in out and SMTP_PASSWORD not in out
    assert run(home, "notify", "test", "mail")[0] == 0 and len(mail_server.arrived) == 2
    assert run(home, "notify", "test", "nope")[0] == exitcodes.CONFIG
    mail_server.stop()
    code, out = run(home, "notify", "test", "mail")
    assert code == exitcodes.ACTION_FAILED and SMTP_PASSWORD not in out


def test_the_service_runs_a_notifications_job(home, mail_server):
    cfg = load_settings(home / "accessward.toml")
    rt = Runtime(cfg, home, open_store(f"sqlite:///{home / 'store.db'}"))
    try:
        assert "notifications" in {spec.key for spec in default_jobs(rt)}
        jobs.notifications(rt, threading.Event())
        persist_plan(rt.engine, PlanResult(None, "needs_approval", "over"), "scheduler")
        assert jobs.notifications(rt, threading.Event()).startswith("1 recorded, 1 sent")
        assert len(mail_server.arrived) == 1
    finally:
        rt.close()


def test_the_outbox_is_in_the_metrics(home, mail_server):
    from fastapi.testclient import TestClient

    from accessward.api.app import create_app

    cfg = load_settings(home / "accessward.toml")
    rt = Runtime(cfg, home, open_store(f"sqlite:///{home / 'store.db'}"))
    try:
        jobs.notifications(rt, threading.Event())
        persist_plan(rt.engine, PlanResult(None, "needs_approval", "over"), "scheduler")
        mail_server.stop()
        jobs.notifications(rt, threading.Event())
        with TestClient(create_app(rt)) as client:
            assert 'accessward_notifications{state="pending"} 1.0' in client.get("/metrics").text
    finally:
        rt.close()
