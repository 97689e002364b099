"""(g) Offboarding latency: six systems at 50 ms a call, against the slowest system's revoke sequence alone.

Six systems run on loopback, each with every HTTP call delayed by 50 ms (``Latency``, like a platform
across the internet): Keycloak (the identity provider: it disables the account, logs the person out
and removes offline tokens, i.e. consents), two Meta businesses (a revocation reads the assignment
first, asks for the Page token, then deletes), TikTok, Pinterest and a SCIM social-media suite (the
real scim2-server). The simulators are the demo states plus ``leavers`` more people, each with access
on every system, like Dana Leaver. After one sync (no latency) each leaver is offboarded through the
product path (``reconcile.offboarding.request`` + ``run``: correlation, the plan in the outbox, the
guards, the executor, the receipt). The figure is the p50 / p95 of the time from ``run`` to its
answer; the yardstick is, for each system, a leaver offboarded with only that system configured
(best of two), and the slowest of those. Checks: every offboarding ends ``done``, and no write (method, path and
query) reaches any system twice in the whole run, so each revocation was sent exactly once.
"""

from __future__ import annotations

import asyncio
import contextlib
import statistics
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

from accessward.reconcile import offboarding
from accessward.runtime import Runtime
from accessward.sandbox import keycloak, meta, pinterest, scim, tiktok
from accessward.sandbox.server import _replay, start_app
from accessward.settings import load_settings
from accessward.sync.clock import utcnow

GOAL_OFFBOARDING = 2.0
LATENCY = 0.05
SYSTEMS = ("keycloak", "meta", "meta-eu", "tiktok", "pinterest", "social-suite")

SETTINGS = """
[store]
url = "sqlite:///unused.db"

[[identity_sources]]
name = "keycloak"
type = "keycloak"
server_url = "{keycloak}"
realm = "{realm}"
client_id = "{client_id}"
client_secret = {{ env = "BENCH_KC_SECRET" }}

[[access_sources]]
name = "meta"
type = "meta"
base_url = "{meta}/v21.0"
business_id = "{meta_business}"
access_token = {{ env = "BENCH_META_TOKEN" }}

[[access_sources]]
name = "meta-eu"
type = "meta"
base_url = "{meta_eu}/v21.0"
business_id = "{meta_business}"
access_token = {{ env = "BENCH_META_TOKEN" }}

[[access_sources]]
name = "tiktok"
type = "tiktok"
base_url = "{tiktok}/open_api/v1.3"
bc_id = "{tiktok_bc}"
access_token = {{ env = "BENCH_TIKTOK_TOKEN" }}

[[access_sources]]
name = "pinterest"
type = "pinterest"
base_url = "{pinterest}/v5"
business_id = "{pinterest_business}"
access_token = {{ env = "BENCH_PINTEREST_TOKEN" }}

[[access_sources]]
name = "social-suite"
type = "scim"
base_url = "{scim}"
token = {{ env = "BENCH_SCIM_TOKEN" }}
workspace_id = "northwind"

[policy]
max_revocations = 100000

[policy.offboarding]
disable_account = true

[service]
revoke_attempts = 2
revoke_backoff_seconds = 0
"""

ENV = {"BENCH_KC_SECRET": keycloak.DEMO_SECRET, "BENCH_META_TOKEN": meta.DEMO_TOKEN,
       "BENCH_TIKTOK_TOKEN": tiktok.DEMO_TOKEN, "BENCH_PINTEREST_TOKEN": pinterest.DEMO_TOKEN,
       "BENCH_SCIM_TOKEN": scim.DEMO_TOKEN}
_STAFF = [("alex.morgan", "Alex", "Morgan", "alex.morgan@example.com", "E1001"),
          ("sam.rivera", "Sam", "Rivera", "sam.rivera@example.com", "E1003")]


class OffboardingBenchError(RuntimeError):
    """An offboarding did not finish, or a revocation was sent twice."""


@dataclass
class Gate:
    """The delay every call waits (switched on after the sync) and the writes every system received."""

    seconds: float = 0.0
    writes: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    calls: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, system: str, method: str, target: str) -> None:
        with self.lock:
            self.calls[system] += 1
            if method not in ("GET", "HEAD", "OPTIONS") and "/token" not in target:  # token requests repeat
                self.writes[(system, method, target)] += 1


class Latency:
    """ASGI wrapper: every request waits ``gate.seconds`` (concurrent requests wait side by side)."""

    def __init__(self, app: Any, gate: Gate, system: str) -> None:
        self.app, self.gate, self.system = app, gate, system

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "http":
            query = scope.get("query_string", b"").decode("latin-1")
            body = b""
            if scope["method"] not in ("GET", "HEAD", "OPTIONS"):  # the body says which revocation it is
                more = True
                while more:
                    message = await receive()
                    body += message.get("body", b"")
                    more = bool(message.get("more_body"))
                receive = _replay(body)
            self.gate.record(self.system, str(scope["method"]),
                             f"{scope['path']}?{query} {body.decode('utf-8', 'replace')}")
            if self.gate.seconds:
                await asyncio.sleep(self.gate.seconds)
        await self.app(scope, receive, send)


class LatencyWsgi:
    """The same for the SCIM suite (scim2-server is a WSGI app served by a threading server)."""

    def __init__(self, app: Any, gate: Gate, system: str) -> None:
        self.app, self.gate, self.system = app, gate, system

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        body = b""
        if environ["REQUEST_METHOD"] not in ("GET", "HEAD", "OPTIONS"):
            import io

            body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            environ["wsgi.input"] = io.BytesIO(body)
        self.gate.record(self.system, environ["REQUEST_METHOD"], environ.get("PATH_INFO", "") + "?"
                         + environ.get("QUERY_STRING", "") + " " + body.decode("utf-8", "replace"))
        if self.gate.seconds:
            time.sleep(self.gate.seconds)
        return self.app(environ, start_response)


def leaver(i: int) -> tuple[str, str, str, str]:
    """(username, display name, email, employee number) of extra leaver ``i``."""
    return f"leaver.{i:03d}", f"Leaver {i:03d}", f"leaver.{i:03d}@example.com", f"E2{i:03d}"


def seed(i: int, kc: keycloak.KeycloakState, metas: list[meta.MetaState], tt: tiktok.TikTokState,
         pin: pinterest.PinterestState, suite: scim.ScimServer) -> None:
    """Give leaver ``i`` what Dana Leaver has: a Keycloak account with sessions, access on every system."""
    username, name, email, number = leaver(i)
    user = kc.add_user(username, email=email, first_name="Leaver", last_name=f"{i:03d}",
                       attributes={"employeeNumber": [number]})
    kc.add_credential(user.id, "password")
    kc.add_session(user.id)
    kc.add_offline_token(user.id, keycloak.DEMO_CLIENT_ID)
    for state in metas:
        person = state.add_business_user(name, email)
        state.assign("200000000000001", person.id, ["CREATE_CONTENT", "MODERATE", "ANALYZE"])
        state.assign("200000000000002", person.id, ["ANALYZE"])
        state.assign("500000000000001", person.id, ["CONTENT", "ANALYZE"])
    bc = tt.business_centers[tiktok.DEMO_BC_ID]
    member = tt.add_member(bc, name, email, advertiser_role="ANALYST")
    tt.assign(next(a for a in bc.assets if a.asset_id == tiktok.DEMO_TT_ACCOUNT_ID), member, ("POST",))
    pin.add_member(username.replace(".", ""), email, assets={"664210000000001": ["PROFILE_PUBLISHER", "ANALYST"]})
    suite.add_user(email, email=email, display_name=name, roles=["Publisher"], employee_number=number)


@contextlib.contextmanager
def world(directory: Path, engine: Any, leavers: int, gate: Gate) -> Iterator[Runtime]:
    """Six systems with ``leavers`` extra leavers, synced into ``engine``; yields the runtime."""
    import os

    kc = keycloak.KeycloakState(keycloak.DEMO_REALM)
    kc.add_client(keycloak.DEMO_CLIENT_ID, keycloak.DEMO_SECRET)
    for username, first, last, email, number in _STAFF:
        kc.add_user(username, email=email, first_name=first, last_name=last, attributes={"employeeNumber": [number]})
    metas = [meta.demo_state(), meta.demo_state()]
    tt, pin = tiktok.demo_state(), pinterest.demo_state()
    with contextlib.ExitStack() as stack:
        suite = scim.ScimServer()  # seeded in process (its back door) before it serves
        scim.demo_users(suite)
        for i in range(leavers):
            seed(i, kc, metas, tt, pin, suite)
        suite.faults = LatencyWsgi(suite.faults, gate, "social-suite")  # type: ignore[assignment]
        stack.enter_context(suite)
        served = {name: stack.enter_context(start_app(Latency(module.create_app(state), gate, name)))
                  for name, module, state in (("keycloak", keycloak, kc), ("meta", meta, metas[0]),
                                              ("meta-eu", meta, metas[1]), ("tiktok", tiktok, tt),
                                              ("pinterest", pinterest, pin))}
        urls = {"keycloak": served["keycloak"].url, "realm": keycloak.DEMO_REALM,
                "client_id": keycloak.DEMO_CLIENT_ID, "meta": served["meta"].url, "meta_eu": served["meta-eu"].url,
                "meta_business": metas[0].business_id, "tiktok": served["tiktok"].url,
                "tiktok_bc": tiktok.DEMO_BC_ID, "pinterest": served["pinterest"].url,
                "pinterest_business": pinterest.DEMO_BUSINESS_ID, "scim": suite.url}
        path = directory / "offboarding-bench.toml"
        path.write_text(SETTINGS.format(**urls))
        saved = {k: os.environ.get(k) for k in ENV}
        os.environ.update(ENV)
        try:
            rt = Runtime(load_settings(path), directory, engine, sleep=lambda s: None)
            try:
                from accessward.jobs import sync_sources

                outcomes = sync_sources(rt, threading.Event())
                if not all(o.ok for o in outcomes):
                    raise OffboardingBenchError(f"sync failed: {[(o.source, o.error) for o in outcomes if not o.ok]}")
                yield rt
            finally:
                rt.close()
        finally:
            for k, v in saved.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v


def offboard(rt: Runtime, i: int, only: str | None = None) -> tuple[float, str]:
    """Offboard leaver ``i`` (with only system ``only`` configured, if given); (seconds, status)."""
    number = leaver(i)[3]
    ob, _ = offboarding.request(rt.engine, request_id=f"bench-{i}", person_key=number,
                                effective_at=utcnow() - timedelta(seconds=1), requested_by="hr@bench", source="bench")
    assert ob.id is not None
    with rt.connectors() as (revokers, idps):
        if only is not None:
            revokers = {k: v for k, v in revokers.items() if k == only}
            idps = {k: v for k, v in idps.items() if k == only}
        tools = offboarding.Tools(revokers, idps, rt.settings.policy, attempts=2, backoff=0, sleep=lambda s: None)
        start = time.perf_counter()
        status = offboarding.run(rt.engine, ob.id, tools, actor="bench")
        seconds = time.perf_counter() - start
    if only is not None:  # the other systems' items wait, held ("no revoker configured"): that system's must be final
        status = "done" if _final_on(rt, ob.id, only) else status
    return seconds, status


def _final_on(rt: Runtime, offboarding_id: int, system: str) -> bool:
    from sqlmodel import Session, col, select

    from accessward.sync.service_models import OffboardingItem

    with Session(rt.engine) as session:
        items = list(session.exec(select(OffboardingItem).where(col(OffboardingItem.offboarding_id) == offboarding_id)
                                  .where(col(OffboardingItem.system) == system)))
    return bool(items) and all(i.state in offboarding.FINAL for i in items)


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))]


def offboarding_phase(report: Any, stores: Any, workdir: Path, samples: int) -> None:
    section = "offboarding"
    gate = Gate()
    engine = stores.fresh("offboarding")
    alone_runs = 2  # each system alone twice, the faster counts: a yardstick no slower than it is
    first = alone_runs * len(SYSTEMS)
    with world(workdir, engine, first + samples, gate) as rt:
        gate.seconds = LATENCY
        alone: dict[str, float] = {}
        for n, system in enumerate(SYSTEMS):
            times: list[float] = []
            for k in range(alone_runs):
                before = sum(gate.calls.values())
                seconds, status = offboard(rt, n * alone_runs + k, only=system)
                if status != "done":
                    raise OffboardingBenchError(f"offboarding on {system} alone ended {status}")
                times.append(seconds)
                calls = sum(gate.calls.values()) - before
            alone[system] = min(times)
            report.add(section, f"{system} alone: its whole revoke sequence at {LATENCY * 1000:.0f} ms a call",
                       f"{alone[system]:.2f} s", f"{calls} calls; best of {alone_runs}")
        runs: list[float] = []
        for i in range(first, first + samples):
            seconds, status = offboard(rt, i)
            if status != "done":
                raise OffboardingBenchError(f"offboarding of leaver {i} on six systems ended {status}")
            runs.append(seconds)
    stores.drop(engine)
    twice = {k: v for k, v in gate.writes.items() if v > 1}
    if twice:
        raise OffboardingBenchError(f"writes sent more than once: {sorted(twice)[:5]}")
    slowest = max(alone, key=lambda k: alone[k])
    p50, p95 = statistics.median(runs), percentile(runs, 95)
    report.add(section, f"offboarding on six systems, {samples} leavers, p50 / p95", f"{p50:.2f} / {p95:.2f} s",
               f"{sum(gate.writes.values()):,} writes, none sent twice; every offboarding done")
    ratio = p95 / alone[slowest]
    report.add(section, f"ratio p95 / slowest system alone ({slowest})", f"{ratio:.2f}x", "",
               f"<= {GOAL_OFFBOARDING:g}x", "PASS" if ratio <= GOAL_OFFBOARDING else "MISS")
