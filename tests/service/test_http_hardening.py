"""The HTTP service refuses before it works: body size, absurd timestamps, made-up methods, unauthenticated
validation, expired tokens (issue 12). Each of these failed on the code before it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select, update
from sqlmodel import Session

from accessward import tokens
from accessward.api.app import create_app
from accessward.api.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER
from accessward.runtime import Runtime
from accessward.settings import SecretRef, ServiceSettings, Settings
from accessward.sync.clock import utcnow
from accessward.sync.db import open_store
from accessward.sync.models import AuditEvent
from accessward.sync.service_models import ApiToken

SECRET_ENV = "HARDENING_HR_SECRET"


@pytest.fixture
def rt(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Runtime]:
    monkeypatch.setenv(SECRET_ENV, "s3cret-for-tests")
    settings = Settings(service=ServiceSettings(hr_webhook_secret=SecretRef(env=SECRET_ENV), max_body_bytes=64 * 1024))
    runtime = Runtime(settings, tmp_path, open_store(f"sqlite:///{tmp_path / 'store.db'}"))
    yield runtime
    runtime.close()


@pytest.fixture
def client(rt: Runtime) -> Iterator[TestClient]:
    with TestClient(create_app(rt), raise_server_exceptions=False) as c:
        yield c


def test_a_declared_oversized_body_is_refused_before_authentication(client):
    response = client.post("/v1/offboarding", content=b"x" * (64 * 1024 + 1),
                           headers={"Content-Type": "application/json"})
    assert response.status_code == 413 and "larger than 65536 bytes" in response.text


def test_a_streamed_body_is_cut_off_at_the_limit(client):
    sent = []

    def chunks() -> Iterator[bytes]:
        for _ in range(64):  # 4 MiB in 64 KiB pieces, no Content-Length (chunked)
            sent.append(1)
            yield b"y" * 65536

    response = client.post("/v1/offboarding", content=chunks(), headers={
        "Content-Type": "application/json", TIMESTAMP_HEADER: "1700000000", SIGNATURE_HEADER: "sha256=00"})
    assert response.status_code == 413


def test_the_default_limit_is_one_mebibyte():
    assert ServiceSettings().max_body_bytes == 1024 * 1024


def test_a_400_digit_timestamp_is_a_401_not_a_500(client):
    response = client.post("/v1/offboarding", content=b'{"request_id": "r", "person": "p"}', headers={
        "Content-Type": "application/json", TIMESTAMP_HEADER: "9" * 400, SIGNATURE_HEADER: "sha256=00"})
    assert response.status_code == 401 and "Unix seconds" in response.text


def test_made_up_methods_create_no_new_metric_series(client):
    for i in range(20):
        client.request(f"BREW{i}", "/v1/offboarding")
    metrics = client.get("/metrics").text
    assert "BREW" not in metrics
    lines = [line for line in metrics.splitlines() if line.startswith("accessward_http_requests_total{")]
    assert any('method="other"' in line for line in lines) and len(lines) <= 3


@pytest.mark.parametrize("body", [b"{not json", b'{"request_id": 5}', b'{"request_id": "r", "person": "p", "x": 1}'])
def test_authentication_comes_before_body_validation(rt, client, body):
    response = client.post("/v1/offboarding", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 401, response.text
    assert "request_id" not in response.text and "json" not in response.text.lower()
    hr = tokens.create(rt.engine, name="hr-system", role="hr", actor="test")
    response = client.post("/v1/offboarding", content=body, headers={"Content-Type": "application/json",
                                                                     "Authorization": f"Bearer {hr}"})
    assert response.status_code == 422  # an authenticated caller is told what is wrong


def test_an_expired_token_is_refused(rt, client):
    value = tokens.create(rt.engine, name="auditor", role="auditor", actor="test",
                          expires_at=utcnow() + timedelta(days=90))
    headers = {"Authorization": f"Bearer {value}"}
    assert client.get("/v1/reports/findings", headers=headers).status_code == 200
    with rt.engine.begin() as conn:
        conn.execute(update(ApiToken).values(expires_at=utcnow() - timedelta(minutes=1)))
    response = client.get("/v1/reports/findings", headers=headers)
    assert response.status_code == 401 and "expired" in response.text
    with Session(rt.engine) as s:
        last = s.execute(select(AuditEvent).where(AuditEvent.kind == "api.call").order_by(
            AuditEvent.id.desc())).scalars().first()
    assert last is not None and last.data["status"] == 401


def test_a_validly_signed_but_malformed_body_is_told_what_is_wrong_and_a_bad_signature_is_not(client):
    import time as _time

    from accessward.api.auth import sign

    raw = b'{"request_id": 5}'
    stamp = str(int(_time.time()))
    good = {"Content-Type": "application/json", TIMESTAMP_HEADER: stamp,
            SIGNATURE_HEADER: sign("s3cret-for-tests", stamp, raw)}
    response = client.post("/v1/offboarding", content=raw, headers=good)
    assert response.status_code == 422, response.text
    bad = {**good, SIGNATURE_HEADER: sign("wrong", stamp, raw)}
    assert client.post("/v1/offboarding", content=raw, headers=bad).status_code == 401
