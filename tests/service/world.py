"""A brand's world for the service tests: Keycloak (IdP and directory), Meta, TikTok, Pinterest and a
SCIM suite (the real scim2-server), all on loopback, a SQLite store, and the HTTP API in process.

Dana Leaver (E1002) holds access on all four networks and has a Keycloak session and an OTP
device; Alex Morgan is the other admin everywhere, so nothing Dana holds is a last admin.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from accessward import tokens
from accessward.api.app import create_app
from accessward.api.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from accessward.jobs import sync_sources
from accessward.runtime import Runtime
from accessward.sandbox import keycloak, meta, pinterest, scim, tiktok
from accessward.sandbox.server import start_app
from accessward.settings import load_settings
from accessward.sync.db import open_store

SECRET = "hr-webhook-shared-secret-for-tests"
DANA = {"meta": "300000000000002", "tiktok": "7300000000000000002", "pinterest": "1409000000000002"}

SETTINGS = """
[store]
url = "sqlite:///store.db"

[[identity_sources]]
name = "keycloak"
type = "keycloak"
server_url = "{keycloak}"
realm = "{realm}"
client_id = "{client_id}"
client_secret = {{ env = "SVC_KC_SECRET" }}

[[access_sources]]
name = "meta"
type = "meta"
base_url = "{meta}/v21.0"
business_id = "{meta_business}"
access_token = {{ env = "SVC_META_TOKEN" }}

[[access_sources]]
name = "tiktok"
type = "tiktok"
base_url = "{tiktok}/open_api/v1.3"
bc_id = "{tiktok_bc}"
access_token = {{ env = "SVC_TIKTOK_TOKEN" }}

[[access_sources]]
name = "pinterest"
type = "pinterest"
base_url = "{pinterest}/v5"
business_id = "{pinterest_business}"
access_token = {{ env = "SVC_PINTEREST_TOKEN" }}

[[access_sources]]
name = "social-suite"
type = "scim"
base_url = "{scim}"
token = {{ env = "SVC_SCIM_TOKEN" }}
workspace_id = "northwind"

[policy]
break_glass = {break_glass}
max_revocations = {max_revocations}

[policy.offboarding]
disable_account = {disable}

[service]
hr_webhook_secret = {{ env = "SVC_HR_SECRET" }}
revoke_attempts = 2
revoke_backoff_seconds = 0
request_wait_seconds = 60
"""

ENV = {"SVC_KC_SECRET": keycloak.DEMO_SECRET, "SVC_META_TOKEN": meta.DEMO_TOKEN, "SVC_TIKTOK_TOKEN": tiktok.DEMO_TOKEN,
       "SVC_PINTEREST_TOKEN": pinterest.DEMO_TOKEN, "SVC_SCIM_TOKEN": scim.DEMO_TOKEN, "SVC_HR_SECRET": SECRET}

STAFF = [  # username, first, last, email, employee number
    ("alex.morgan", "Alex", "Morgan", "alex.morgan@example.com", "E1001"),
    ("dana.leaver", "Dana", "Leaver", "dana.leaver@example.com", "E1002"),
    ("sam.rivera", "Sam", "Rivera", "sam.rivera@example.com", "E1003"),
    ("priya.shah", "Priya", "Shah", "priya.shah@example.com", "E1004"),
    ("jordan.lee", "Jordan", "Lee", "jordan.lee@example.com", "E1005"),
]


def keycloak_state() -> tuple[keycloak.KeycloakState, dict[str, str]]:
    state = keycloak.KeycloakState(keycloak.DEMO_REALM)
    state.add_client(keycloak.DEMO_CLIENT_ID, keycloak.DEMO_SECRET)
    ids = {}
    for username, first, last, email, number in STAFF:
        user = state.add_user(username, email=email, first_name=first, last_name=last,
                              attributes={"employeeNumber": [number]})
        state.add_credential(user.id, "password")
        ids[username] = user.id
    state.add_credential(ids["dana.leaver"], "otp", "Dana's Pixel 8")
    state.add_credential(ids["dana.leaver"], "webauthn", "Dana's YubiKey")
    state.add_session(ids["dana.leaver"])
    state.add_session(ids["dana.leaver"], ip="198.51.100.4")
    return state, ids


@dataclass
class World:
    dir: Path
    kc: keycloak.KeycloakState
    kc_ids: dict[str, str]
    meta: meta.MetaState
    tiktok: tiktok.TikTokState
    pinterest: pinterest.PinterestState
    suite: scim.ScimServer
    suite_ids: dict[str, str]
    urls: dict[str, str]
    break_glass: list[str] = field(default_factory=list)
    disable: bool = False
    max_revocations: int = 25
    store_url: str = ""  # default: SQLite in the world's directory
    _runtimes: list[Runtime] = field(default_factory=list)

    def write_settings(self, **overrides: Any) -> Path:
        path = self.dir / "accessward.toml"
        values = {**self.urls, "break_glass": json.dumps(self.break_glass),
                  "disable": "true" if self.disable else "false",
                  "max_revocations": self.max_revocations, **overrides}
        path.write_text(SETTINGS.format(**values))
        return path

    def runtime(self) -> Runtime:
        cfg = load_settings(self.write_settings())
        url = self.store_url or f"sqlite:///{self.dir / 'store.db'}"
        rt = Runtime(cfg, self.dir, open_store(url), sleep=lambda s: None)
        self._runtimes.append(rt)
        return rt

    def sync(self, rt: Runtime) -> None:
        outcomes = sync_sources(rt, threading.Event())
        assert all(o.ok for o in outcomes), [(o.source, o.status, o.error) for o in outcomes]

    def client(self, rt: Runtime) -> TestClient:
        return TestClient(create_app(rt))

    def token(self, engine: Engine, role: str) -> dict[str, str]:
        value = tokens.create(engine, name=f"{role}-{time.monotonic_ns()}", role=role, actor="test")
        return {"Authorization": f"Bearer {value}"}

    def close(self) -> None:
        for rt in self._runtimes:
            rt.close()
            rt.engine.dispose()


def signed(body: dict[str, Any], *, secret: str = SECRET, at: float | None = None) -> tuple[bytes, dict[str, str]]:
    raw = json.dumps(body).encode()
    stamp = str(int(at if at is not None else time.time()))
    return raw, {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(secret, stamp, raw),
                 "Content-Type": "application/json"}


@contextlib.contextmanager
def running_world(directory: Path) -> Iterator[World]:
    kc, kc_ids = keycloak_state()
    states = {"meta": meta.demo_state(), "tiktok": tiktok.demo_state(), "pinterest": pinterest.demo_state()}
    with contextlib.ExitStack() as stack:
        servers = {name: stack.enter_context(start_app(module.create_app(states[name])))  # type: ignore[attr-defined]
                   for name, module in (("meta", meta), ("tiktok", tiktok), ("pinterest", pinterest))}
        kc_server = stack.enter_context(start_app(keycloak.create_app(kc)))
        suite = stack.enter_context(scim.start_scim_server())
        suite_ids = scim.demo_users(suite)
        urls = {"keycloak": kc_server.url, "realm": keycloak.DEMO_REALM, "client_id": keycloak.DEMO_CLIENT_ID,
                "meta": servers["meta"].url, "meta_business": states["meta"].business_id,  # type: ignore[attr-defined]
                "tiktok": servers["tiktok"].url, "tiktok_bc": tiktok.DEMO_BC_ID,
                "pinterest": servers["pinterest"].url, "pinterest_business": pinterest.DEMO_BUSINESS_ID,
                "scim": suite.url}
        world = World(directory, kc, kc_ids, states["meta"], states["tiktok"], states["pinterest"],  # type: ignore[arg-type]
                      suite, suite_ids, urls)
        try:
            yield world
        finally:
            world.close()


def get_json(response: httpx.Response) -> Any:
    assert response.headers["content-type"].startswith(("application/json", "application/scim+json")), response.text
    return response.json()
