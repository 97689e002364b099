"""The scrubber, one form and one carrier at a time (the echo test drives them all end to end)."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote, quote_plus

import httpx
import pytest

from accessward import logs
from accessward.connectors import scrub
from accessward.connectors.errors import MalformedResponseError, RejectedError
from accessward.connectors.http import HttpClient
from accessward.settings import SettingsError, load_settings

SECRET = 'AW-distinct|s3cr/et+"x'


@pytest.fixture(autouse=True)
def registry() -> Iterator[None]:
    scrub.forget_all()
    scrub.register(SECRET)
    yield
    scrub.forget_all()


@pytest.mark.parametrize("form", [SECRET, quote(SECRET, safe=""), quote(SECRET), quote_plus(SECRET),
                                  json.dumps(SECRET)[1:-1], json.dumps(SECRET)[1:-1].replace("/", "\\/")])
def test_every_form_of_a_known_secret_is_removed(form: str) -> None:
    assert scrub.scrub(f"before {form} after") == "before <redacted> after"


@pytest.mark.parametrize("text", [
    "Authorization: Bearer abc.DEF-123_~+/=",
    "redirect to https://login.test/?access_token=opaque123&x=1",
    "next=%2Fme%3Faccess_token%3Dopaque123%26y%3D2",
    '{"access_token": "opaque123", "ok": 1}',
    '{\\"client_secret\\": \\"opaque123\\"}',
    "token eyJ0eXAiOiJKV1QifQ.eyJzdWIiOiIxIn0.c2lnbmF0dXJl in the page",
    "app token 1234567890|abcdefghijklmnopqrstuvwx and 1234567890%7Cabcdefghijklmnopqrstuvwx",
    "user token EAAGm0PX4ZCpsBAabcdefghijklmnop",
])
def test_credential_shapes_are_removed_whatever_their_value(text: str) -> None:
    out = scrub.scrub(text)
    for leaked in ("abc.DEF-123", "opaque123", "eyJ0eXAi", "c2lnbmF0dXJl", "abcdefghijklmnopqrstuvwx", "EAAGm0PX"):
        assert leaked not in out, out
    assert "<redacted>" in out


def test_ordinary_text_is_left_alone() -> None:
    text = "returned 3 records where the store holds 5 (a drop of more than 30%); tokens: 2; basic plan"
    assert scrub.scrub(text) == text


def test_a_connector_error_is_scrubbed_when_built() -> None:
    err = RejectedError(f"HTTP 400 for {SECRET}", detail=f'{{"message": "bad token {json.dumps(SECRET)[1:-1]}"}}')
    assert SECRET not in str(err) and "<redacted>" in str(err) and "s3cr" not in err.detail


def test_the_http_client_registers_runtime_tokens_and_scrubs_a_redirect() -> None:
    runtime = "runtime-token-7f3a9c"  # never in the settings: obtained at run time

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(302, headers={"location": f"https://login.test/?t={request.headers['authorization']}"})

    client = HttpClient("x", "https://api.test", auth=lambda: {"Authorization": f"Bearer {runtime}"},
                        transport=httpx.MockTransport(handler))
    with pytest.raises(MalformedResponseError) as caught:
        client.request("GET", "/me")
    assert runtime not in str(caught.value) and runtime in scrub.known()
    assert scrub.scrub(f"echo {runtime}") == "echo <redacted>"


def test_log_lines_of_any_library_are_scrubbed_and_httpcore_is_silent() -> None:
    logs.configure("text", "debug")
    root = logging.getLogger()
    stream = io.StringIO()
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    logging.getLogger("urllib3.connectionpool").debug('"GET /me?access_token=%s HTTP/1.1" 200', quote(SECRET, safe=""))
    logging.getLogger("msal").debug("token response %s", {"access_token": "eyJhbGciOi.eyJzdWIi.sig"})
    logging.getLogger("httpcore.http11").debug("send_request_headers.complete Authorization: Bearer zz")
    logging.getLogger("accessward.sync").error("sync failed", extra={"error": f"echo {SECRET}"})
    logs.configure("json", "debug")
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    try:
        raise ValueError(f"boom {SECRET}")
    except ValueError:
        logging.getLogger("accessward").exception("failed")
    out = stream.getvalue()
    logs.configure("text", "warning")
    assert "urllib3" in out and "msal" in out and "sync failed" in out and "failed" in out
    assert "httpcore.http11" not in out and "Bearer zz" not in out
    for leaked in (SECRET, quote(SECRET, safe=""), "eyJhbGciOi", json.dumps(SECRET)[1:-1], "s3cr"):
        assert leaked not in out, out


def test_settings_register_resolved_secrets_and_name_an_unset_one(tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from accessward import wiring

    path = tmp_path / "accessward.toml"
    path.write_text('[store]\nurl = "sqlite:///x.db"\n\n[[access_sources]]\nname = "tt"\ntype = "tiktok"\n'
                    'bc_id = "1"\naccess_token = { env = "AW_UNSET_TOKEN" }\n')
    monkeypatch.delenv("AW_UNSET_TOKEN", raising=False)
    cfg = load_settings(path)
    with pytest.raises(SettingsError) as caught:
        wiring.access_sources(cfg, tmp_path)
    assert caught.value.problems == [
        f"{path}:8: access_sources[0].access_token: environment variable AW_UNSET_TOKEN is not set"]
    monkeypatch.setenv("AW_UNSET_TOKEN", "tiktok-token-value-42")
    wiring.access_sources(cfg, tmp_path)
    assert "tiktok-token-value-42" in scrub.known()
