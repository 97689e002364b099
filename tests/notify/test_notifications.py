"""Notifications end to end: audit events -> outbox -> a real SMTP server (STARTTLS + AUTH) and webhook
receivers (Slack, Teams Adaptive Card); retried when the mail server is down, never lost, never duplicated."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select, update
from sqlmodel import Session

from accessward.notify import outbox
from accessward.reconcile import offboarding
from accessward.reconcile.plan import PlanResult, persist_plan
from accessward.settings import NotificationSettings
from accessward.sync import audit
from accessward.sync.clock import utcnow
from accessward.sync.db import open_store
from accessward.sync.principal_models import Notification
from accessward.sync.runner import sync_identity
from tests.fakes import FakeIdentity, person
from tests.notify.conftest import SMTP_PASSWORD, SMTP_USER, MailServer, Receiver

SLACK_PATH, TEAMS_PATH = "/services/T0001/B0002/slackSecretPart9f8e", "/workflows/teams-secret-sig-77aa"
ALL = ["mail", "slack", "teams"]


@pytest.fixture
def engine(tmp_path: Path):  # type: ignore[no-untyped-def]
    engine = open_store(f"sqlite:///{tmp_path / 'store.db'}")
    yield engine
    engine.dispose()


def settings(mail: MailServer, hook: Receiver, monkeypatch: pytest.MonkeyPatch, *,
             events: dict[str, list[str]] | None = None, port: int | None = None) -> NotificationSettings:
    monkeypatch.setenv("T_SMTP_PASSWORD", SMTP_PASSWORD)
    monkeypatch.setenv("T_SLACK_URL", hook.url + SLACK_PATH)
    monkeypatch.setenv("T_TEAMS_URL", hook.url + TEAMS_PATH)
    return NotificationSettings.model_validate({
        "base_url": "https://accessward.corp.test/",
        "channels": {
            "mail": {"type": "email", "host": "127.0.0.1", "port": port or mail.port, "username": SMTP_USER,
                     "password": {"env": "T_SMTP_PASSWORD"}, "ca_file": str(mail.ca_file),
                     "from": "accessward@corp.test", "to": ["it-security@corp.test"], "timeout_seconds": 5},
            "slack": {"type": "slack", "url": {"env": "T_SLACK_URL"}},
            "teams": {"type": "teams", "url": {"env": "T_TEAMS_URL"}},
        },
        "events": events if events is not None else {e: ALL for e in (
            "plan.needs_approval", "review.assigned", "review.due_soon", "review.overdue", "offboarding.partial",
            "offboarding.unmatched", "source.failing", "source.quarantined", "device.lost")},
        "source_failures": 2, "retry_seconds": 60,
    })


def notes(engine) -> list[Notification]:  # type: ignore[no-untyped-def]
    with Session(engine) as s:
        return list(s.execute(select(Notification).order_by(Notification.id)).scalars())


def test_a_plan_waiting_for_approval_reaches_mail_slack_and_teams(engine, mail_server, receiver, monkeypatch):
    cfg = settings(mail_server, receiver, monkeypatch)
    assert outbox.scan(engine, cfg) == 0  # the first scan starts at the end of the trail
    plan_id = persist_plan(engine, PlanResult(None, "needs_approval", "12 revocations exceed max_revocations = 5"),
                           "principal:alice")
    assert outbox.scan(engine, cfg) == 3
    report = outbox.deliver(engine, cfg)
    assert (report.sent, report.retrying, report.dead) == (3, 0, 0), report.errors

    (mail,) = mail_server.arrived
    assert mail.tls and mail.authenticated  # STARTTLS, then AUTH
    assert mail.message["Subject"] == f"[Accessward] Plan {plan_id} waits for approval"
    assert mail.rcpt == ["it-security@corp.test"]
    text = mail.message.get_payload(decode=True).decode()
    assert f"https://accessward.corp.test/plans/{plan_id}" in text and "principal:alice" in text

    by_path = {r["path"]: r for r in receiver.requests}
    slack = by_path[SLACK_PATH]["json"]
    assert f"https://accessward.corp.test/plans/{plan_id}" in slack["text"]
    assert slack["blocks"][-1]["elements"][0]["url"] == f"https://accessward.corp.test/plans/{plan_id}"
    teams = by_path[TEAMS_PATH]["json"]
    (attachment,) = teams["attachments"]
    assert attachment["contentType"] == "application/vnd.microsoft.card.adaptive"
    card = attachment["content"]
    assert card["type"] == "AdaptiveCard" and card["actions"][0]["type"] == "Action.OpenUrl"
    assert card["actions"][0]["url"] == f"https://accessward.corp.test/plans/{plan_id}"

    assert {n.state for n in notes(engine)} == {"sent"}
    assert outbox.scan(engine, cfg) == 0 and outbox.deliver(engine, cfg).sent == 0  # nothing twice
    assert len(mail_server.arrived) == 1 and len(receiver.requests) == 2


def test_mail_server_down_the_message_waits_and_arrives_once(engine, mail_server, receiver, monkeypatch):
    cfg = settings(mail_server, receiver, monkeypatch, events={"plan.needs_approval": ["mail"]})
    outbox.scan(engine, cfg)
    persist_plan(engine, PlanResult(None, "needs_approval", "over the threshold"), "scheduler")
    assert outbox.scan(engine, cfg) == 1
    mail_server.stop()
    report = outbox.deliver(engine, cfg)
    assert report.retrying == 1 and report.sent == 0
    (note,) = notes(engine)
    assert note.state == "pending" and note.attempts == 1 and "Connection" in (note.last_error or "")
    assert SMTP_PASSWORD not in (note.last_error or "")
    assert outbox.deliver(engine, cfg).sent == 0  # not due yet: retried later, not hammered
    mail_server.start()
    later = utcnow() + timedelta(minutes=2)
    assert outbox.deliver(engine, cfg, now=lambda: later).sent == 1
    assert outbox.deliver(engine, cfg, now=lambda: later + timedelta(hours=1)).sent == 0
    assert len(mail_server.arrived) == 1 and notes(engine)[0].state == "sent"


def test_a_crash_between_send_and_mark_resends_the_same_message_id_after_the_lease(engine, mail_server, receiver,
                                                                                   monkeypatch):
    cfg = settings(mail_server, receiver, monkeypatch, events={"plan.needs_approval": ["mail"]})
    outbox.scan(engine, cfg)
    persist_plan(engine, PlanResult(None, "needs_approval", "over the threshold"), "scheduler")
    outbox.scan(engine, cfg)

    def crash(engine, note_id):  # type: ignore[no-untyped-def]
        raise KeyboardInterrupt("killed between send and mark")

    with monkeypatch.context() as m:
        m.setattr(outbox, "mark_sent", crash)
        with pytest.raises(KeyboardInterrupt):
            outbox.deliver(engine, cfg)
    assert len(mail_server.arrived) == 1 and notes(engine)[0].state == "sending"
    assert outbox.deliver(engine, cfg).sent == 0  # the claim's lease holds: no second worker sends it
    after_lease = utcnow() + outbox.LEASE + timedelta(seconds=1)
    assert outbox.deliver(engine, cfg, now=lambda: after_lease).sent == 1
    first, second = mail_server.arrived
    assert first.message["Message-ID"] == second.message["Message-ID"]  # receivers collapse the two
    assert notes(engine)[0].state == "sent" and notes(engine)[0].attempts == 2


def test_two_workers_never_both_send(engine, mail_server, receiver, monkeypatch):
    cfg = settings(mail_server, receiver, monkeypatch, events={"plan.needs_approval": ["slack"]})
    outbox.scan(engine, cfg)
    persist_plan(engine, PlanResult(None, "needs_approval", "over"), "scheduler")
    outbox.scan(engine, cfg)
    (note,) = notes(engine)
    now = utcnow()
    assert outbox._claim(engine, note.id, now) and not outbox._claim(engine, note.id, now)


def test_webhook_errors_retry_on_5xx_give_up_on_4xx_and_never_store_the_url(engine, mail_server, receiver,
                                                                            monkeypatch):
    cfg = settings(mail_server, receiver, monkeypatch, events={"plan.needs_approval": ["slack", "teams"]})
    outbox.scan(engine, cfg)
    persist_plan(engine, PlanResult(None, "needs_approval", "over"), "scheduler")
    outbox.scan(engine, cfg)
    receiver.answers = [(503, f"busy {SLACK_PATH}"), (404, f"no_service {TEAMS_PATH}")]  # echoing their URLs
    report = outbox.deliver(engine, cfg)
    assert (report.retrying, report.dead) == (1, 1)
    slack, teams = notes(engine)
    assert (slack.state, teams.state) == ("pending", "dead")
    assert "503" in (slack.last_error or "") and "404" in (teams.last_error or "")
    for n in (slack, teams):
        assert SLACK_PATH not in (n.last_error or "") and TEAMS_PATH not in (n.last_error or "")
        assert "slackSecretPart" not in repr(n) and "teams-secret" not in repr(n)
    assert outbox.deliver(engine, cfg, now=lambda: utcnow() + timedelta(minutes=5)).sent == 1


def test_every_event_kind_becomes_one_message_with_its_console_link(engine, mail_server, receiver, monkeypatch):
    cfg = settings(mail_server, receiver, monkeypatch, events={e: ["slack"] for e in (
        "review.assigned", "review.overdue", "offboarding.partial", "offboarding.unmatched", "source.failing",
        "source.quarantined", "device.lost")})
    outbox.scan(engine, cfg)
    audit.record(engine, "review.assigned", "review:7", {"campaign": "Q1 2027", "reviewer_email": "m@corp.test",
                                                         "items": 4, "due_at": "2027-01-31"}, actor="scheduler")
    audit.record(engine, "review.overdue", "review:7", {"campaign": "Q1 2027", "items": 1, "due_at": "2027-01-31"})
    audit.record(engine, "review.escalated", "review:7", {"campaign": "Q1 2027", "reviewer_email": "ciso@corp.test",
                                                          "pending": 1, "deadline": "2027-01-31"})
    for attempt in (1, 2, 3):  # a partially done offboarding is retried and audited each time: told once
        audit.record(engine, "offboarding.run", "offboarding:hr-9", {"status": "partially_done", "attempt": attempt,
                                                                     "pending_systems": ["meta"]})
    offboarding.request(engine, request_id="scim-x1", person_key="ghost@corp.test", effective_at=utcnow(),
                        requested_by="scim", source="scim", record_unknown=True)
    ident = FakeIdentity(people=[person("a"), person("b")], fail_after=1)
    for _ in range(3):  # failed 1, 2 (reported: source_failures = 2), 3 (not again)
        assert sync_identity(engine, ident).status == "failed"
    audit.record(engine, "sync.finished", "meta", {"run": 99, "status": "quarantined", "error": "count dropped"})
    audit.record(engine, "device.reported", "device_report:5", {"device": "iPhone", "status": "stolen",
                                                                "person": "E1001", "outcome": "done", "flagged": 2})
    outbox.scan(engine, cfg)
    links = sorted(n.link.removeprefix("https://accessward.corp.test") for n in notes(engine))
    assert links == ["/devices/5", "/offboardings/hr-9", "/offboardings/scim-x1", "/reviews/7", "/reviews/7",
                     "/reviews/7", "/sources/dir", "/sources/meta"]
    assert outbox.deliver(engine, cfg).sent == 8
    texts = [r["json"]["text"] for r in receiver.requests]
    assert any("failed 2 runs in a row" in t for t in texts) and any("nobody matches" in t for t in texts)
    assert any("only partially done" in t for t in texts) and any("stolen" in t for t in texts)
    assert any("escalated to you" in t for t in texts)


def test_a_review_mail_also_goes_to_its_reviewer(engine, mail_server, receiver, monkeypatch):
    cfg = settings(mail_server, receiver, monkeypatch, events={"review.assigned": ["mail"]})
    outbox.scan(engine, cfg)
    audit.record(engine, "review.assigned", "review:3", {"campaign": "Agencies", "reviewer_email": "owner@corp.test",
                                                         "items": 2, "due_at": "2027-02-01"})
    outbox.scan(engine, cfg)
    assert outbox.deliver(engine, cfg).sent == 1
    (mail,) = mail_server.arrived
    assert sorted(mail.rcpt) == ["it-security@corp.test", "owner@corp.test"]
    assert "https://accessward.corp.test/reviews/3" in mail.message.get_payload(decode=True).decode()


def test_a_scan_repeated_after_a_crash_writes_nothing_twice(engine, mail_server, receiver, monkeypatch):
    cfg = settings(mail_server, receiver, monkeypatch)
    outbox.scan(engine, cfg)
    persist_plan(engine, PlanResult(None, "needs_approval", "over"), "scheduler")
    assert outbox.scan(engine, cfg) == 3
    with engine.begin() as conn:  # as if the cursor had not moved (a crash after the insert)
        conn.execute(update(outbox._NOTES).values(state="pending"))
        conn.exec_driver_sql("UPDATE notify_cursor SET last_event_id = 0")
    assert outbox.scan(engine, cfg) == 0 and len(notes(engine)) == 3


def test_an_unrouted_event_is_not_sent_and_bad_settings_are_refused(engine, mail_server, receiver, monkeypatch):
    cfg = settings(mail_server, receiver, monkeypatch, events={"device.lost": ["slack"]})
    outbox.scan(engine, cfg)
    persist_plan(engine, PlanResult(None, "needs_approval", "over"), "scheduler")
    assert outbox.scan(engine, cfg) == 0
    with pytest.raises(ValueError, match="undefined channel"):
        NotificationSettings.model_validate({"events": {"device.lost": ["nope"]}})
    with pytest.raises(ValueError, match="unknown event"):
        NotificationSettings.model_validate({"events": {"plan.approved": []}})
    with pytest.raises(ValueError, match="in the clear"):
        NotificationSettings.model_validate({"channels": {"m": {
            "type": "email", "host": "h", "security": "none", "username": "u", "password": {"env": "X"},
            "from": "a@b.c", "to": ["x@y.z"]}}})
    with pytest.raises(ValueError, match="by reference"):
        NotificationSettings.model_validate({"channels": {"s": {"type": "slack", "url": "https://hooks/x"}}})
