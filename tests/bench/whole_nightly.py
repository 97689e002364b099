"""(h) The whole nightly run, end to end: sync everything -> reconcile -> plan, and the peak memory of each stage.

A throwaway slapd is seeded with the customer (``sandbox.customer``, the realistic mix) and the Meta
simulator with its Meta share (a child process, as in (f)); the other social sources are the
generated grants of (b) (``--grants-accounts`` x ``--resources``). The nightly run itself runs in a
fresh child process (``python -m tests.bench.whole_nightly run ...``), as a scheduled run would,
into a fresh store: ``sync_identity`` (LDAP), ``sync_access`` (Meta over HTTP), ``sync_access`` (the
generated sources), ``reconcile`` (every rule), ``build_plan`` (revocations for the orphaned rule,
judged by the guard). Each stage's time and peak memory are reported; the total is timed by the
parent around the whole child, start-up included.

Peak memory of a stage is the sum of Accessward's own processes: the run's process (Linux ``VmHWM``,
reset at the start of each stage through ``/proc/self/clear_refs``) plus the peak of any child it
waited for during the stage (``RUSAGE_CHILDREN``; none today: the Meta read-ahead is a thread).
slapd, PostgreSQL and the simulators are not Accessward and are not counted.
"""

from __future__ import annotations

import contextlib
import gc
import json
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GOAL_PEAK_MIB = 500.0


class WholeNightlyError(RuntimeError):
    """The nightly run failed or did not write what the data holds."""


# -- the child: one nightly run -----------------------------------------------------------------


def _hwm_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


@contextlib.contextmanager
def _stage(name: str, out: dict[str, dict[str, float]]) -> Iterator[None]:
    gc.collect()
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    cpu, start = time.process_time(), time.perf_counter()
    yield
    children = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    out[name] = {"seconds": time.perf_counter() - start, "cpu": time.process_time() - cpu,
                 "peak_mib": _hwm_mib() + (children if children > children_before else 0.0)}


def run_child(args: dict[str, Any]) -> dict[str, Any]:
    """Carry out one nightly run as ``args`` says; answer the stages' figures and the counts."""
    from accessward.connectors.ldap import LdapSource, LdapSourceConfig
    from accessward.connectors.meta import MetaBusinessConnector
    from accessward.reconcile.plan import build_plan
    from accessward.reconcile.policy import PolicySettings, RuleSettings
    from accessward.reconcile.run import reconcile
    from accessward.sandbox.customer import META_BUSINESS
    from accessward.sync.clock import utcnow
    from accessward.sync.db import make_engine
    from accessward.sync.runner import sync_access, sync_identity
    from tests.bench.meta_paging import SOURCE, TOKEN
    from tests.bench.run import GeneratedAccess

    today = datetime.fromisoformat(args["today"]).date()
    engine = make_engine(args["url"])
    stages: dict[str, dict[str, float]] = {}
    counts: dict[str, Any] = {}
    config = LdapSourceConfig(name="directory", url=args["ldap_url"], base_dn=args["base_dn"],
                              bind_dn=args["bind_dn"], password=args["password"])
    with _stage("sync LDAP", stages):
        outcome = sync_identity(engine, LdapSource(config))
    counts["people"] = outcome.counts.get("people")
    if not outcome.ok:
        raise WholeNightlyError(f"LDAP sync failed: {outcome}")
    connector = MetaBusinessConnector(SOURCE, args["meta_url"], META_BUSINESS, TOKEN, page_size=100)
    with _stage("sync Meta (HTTP)", stages):
        outcome = sync_access(engine, connector)
    connector.close()
    counts["meta_grants"] = outcome.counts.get("grants")
    if not outcome.ok:
        raise WholeNightlyError(f"Meta sync failed: {outcome}")
    source = GeneratedAccess(args["people"], args["accounts"], args["resources"], today)
    with _stage("sync other sources (generated grants)", stages):
        outcome = sync_access(engine, source)
    counts["other_grants"] = outcome.counts.get("grants")
    if not outcome.ok:
        raise WholeNightlyError(f"access sync failed: {outcome}")
    policy = PolicySettings(rules={"orphaned": RuleSettings(action="revoke")})
    with _stage("reconcile", stages):
        result = reconcile(engine, policy)
    counts["orphaned"] = result.findings["orphaned"].current
    meta = MetaBusinessConnector(SOURCE, args["meta_url"], META_BUSINESS, TOKEN)
    with _stage("plan", stages):
        plan = build_plan(engine, policy, {SOURCE: meta}, ["directory"], utcnow())
    meta.close()
    counts["planned"] = len(plan.revocations)
    counts["held"] = len(plan.held)
    counts["plan_status"] = plan.status
    engine.dispose()
    return {"stages": stages, "counts": counts}


# -- the parent: seed, run the child, report -----------------------------------------------------


def whole_nightly_phase(report: Any, stores: Any, workdir: Path, people: int, accounts: int, resources: int) -> None:
    from accessward.sandbox.customer import meta_share
    from accessward.sandbox.slapd import SlapdServer, generate_people, write_people_ldif
    from tests.bench.meta_paging import Simulator

    section = "whole run"
    today = datetime.now(UTC).date()
    ldif = workdir / "customer.ldif"
    write_people_ldif(ldif, generate_people(people, today=today), today=today)
    share = meta_share(people)
    engine = stores.fresh("nightly")
    url = engine.url.render_as_string(hide_password=False)
    with SlapdServer(workdir=workdir) as server:
        server.start(ldif)
        ldif.unlink()
        simulator = Simulator(people)
        try:
            args = {"url": url, "ldap_url": server.url, "base_dn": server.base_dn, "bind_dn": server.bind_dn,
                    "password": server.password, "meta_url": simulator.url, "people": people,
                    "accounts": accounts, "resources": resources, "today": today.isoformat()}
            start = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "tests.bench.whole_nightly", "run"], input=json.dumps(args),
                                  capture_output=True, text=True, check=False)
            total = time.perf_counter() - start
        finally:
            simulator.stop()
    stores.drop(engine)
    if done.returncode != 0:
        raise WholeNightlyError(f"the nightly run failed: {done.stderr.strip()[-800:]}")
    got = json.loads(done.stdout.strip().splitlines()[-1])
    counts, stages = got["counts"], got["stages"]
    grants = accounts * resources
    if counts["people"] != people or counts["meta_grants"] != share.grants or counts["other_grants"] != grants:
        raise WholeNightlyError(f"the nightly run did not list everything: {counts}")
    if not counts["orphaned"] or counts["planned"] + counts["held"] == 0:
        raise WholeNightlyError(f"the nightly run found or planned nothing: {counts}")
    report.add(section, f"nightly run end to end: {people:,} people, {share.grants + grants:,} grants ({stores.kind})",
               f"{total:.2f} s", f"a fresh process: LDAP, Meta over HTTP, other sources, reconcile, plan; "
               f"{counts['orphaned']:,} orphaned, {counts['planned']:,} planned, {counts['held']:,} held "
               f"({counts['plan_status']})")
    for name, figures in stages.items():
        report.add(section, f"  {name}", f"{figures['seconds']:.2f} s",
                   f"CPU {figures['cpu']:.2f} s; peak {figures['peak_mib']:.0f} MiB")
    worst = max(f["peak_mib"] for f in stages.values())
    report.add(section, "peak memory of the nightly run (worst stage, Accessward's processes)", f"{worst:.0f} MiB",
               "slapd, PostgreSQL and the simulators not counted", f"<= {GOAL_PEAK_MIB:.0f} MiB",
               "PASS" if worst <= GOAL_PEAK_MIB else "MISS")


if __name__ == "__main__":
    if sys.argv[1:2] == ["run"]:
        print(json.dumps(run_child(json.loads(sys.stdin.read()))))
