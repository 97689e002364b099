"""Scale benchmark: ``make bench`` (``.venv/bin/python -m tests.bench.run``).

Every figure is measured in this run, on this machine, against a yardstick measured in the same run:

(a) LDAP identity sync. A throwaway slapd is seeded offline with ``--people`` synthetic people
    (:func:`sandbox.slapd.generate_people`, streamed to an LDIF file). The yardstick is OpenLDAP's
    own C client dumping the same entries with the same attributes (``ldapsearch -E
    pr=1000/noprompt`` to /dev/null, best of 3); the measured path is a full
    ``sync_identity(engine, LdapSource(...))`` into a fresh store (best of 2, each with a new
    source, so no cache survives from one run to the next). The sync does all its real work:
    paging, mapping, manager resolution, bulk upserts, the email table, the run bookkeeping.
    Goal: sync <= 3x ldapsearch.

(b) Reconcile at scale. The store from (a) (or a generated directory with ``--skip-ldap``) gets
    ``--grants-accounts`` social accounts x ``--resources`` resources = one open grant each,
    written through the real ``sync_access`` path from a generator (never a list). About 1% of
    the accounts belong to terminated or suspended people or to nobody. The measured path is
    ``reconcile(engine, PolicySettings())`` (correlation, the orphaned rule, finding upserts and
    resolution); the yardstick is one hand-written SQL query that finds the same orphaned grants
    straight from grants -> accounts -> person_email -> person. Both answers are compared (same
    grant ids, and the number the data was built to contain) before any figure is printed.
    Goal: reconcile <= 10x the SQL.

(c) Streaming exports. The access report of the store from (b) (every grant) is written as CSV
    and as XLSX (xlsxwriter, constant-memory mode), each in a fresh process so its peak RSS is the
    export's own; the yardstick is the same process doing nothing but import and connect. Bounded
    memory means the peak stays near that baseline however many grants there are.

``--database-url`` points the stores at PostgreSQL instead of a temporary SQLite file: the
benchmark then creates throwaway databases on that server (``CREATE DATABASE``; the URL's
database is only used to connect) and drops them at the end; ``--throwaway-postgres`` starts a
temporary cluster for it. ``ACCESSWARD_DATABASE_URL`` is deliberately ignored.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL, make_url

from accessward.connectors.ldap import LdapSource, LdapSourceConfig
from accessward.connectors.records import (
    AccessRecord,
    AccountKind,
    AccountRecord,
    GrantRecord,
    Level,
    PersonKind,
    PersonRecord,
    PersonStatus,
    ResourceRecord,
)
from accessward.reconcile import rules
from accessward.reconcile.correlate import correlate
from accessward.reconcile.findings import store_findings
from accessward.reconcile.policy import PolicySettings
from accessward.reconcile.run import reconcile
from accessward.sandbox.slapd import SeedPerson, SlapdServer, generate_people, write_people_ldif
from accessward.sync.clock import utcnow
from accessward.sync.db import make_engine, upgrade
from accessward.sync.runner import SyncOutcome, sync_access, sync_identity
from tests.bench.meta_paging import MetaBenchError, meta_phase
from tests.bench.nightly import NightlyError, Stages, access_nightly, ldap_nightly, memory_figures
from tests.bench.offboarding import OffboardingBenchError, offboarding_phase
from tests.bench.whole_nightly import WholeNightlyError, whole_nightly_phase

IDENTITY_SOURCE = "directory"
ACCESS_SOURCE = "meta-bench"
LDAPSEARCH_PAGE = 1000
GOAL_LDAP = 3.0
GOAL_RECONCILE = 10.0
#: Preset sizes: people, social accounts, resources (every account holds a grant on every resource).
SIZES: dict[str, tuple[int, int, int]] = {
    "quick": (20_000, 400, 100), "10k": (10_000, 200, 100), "100k": (100_000, 2_000, 250),
    "200k": (200_000, 2_000, 500),
}

#: No person, or a person who left: the orphaned rule's conditions, straight on person by email.
_LEFT = """(p.id IS NULL
       OR p.status IN ('terminated', 'suspended')
       OR (p.leave_date IS NOT NULL AND p.leave_date <= :now)
       OR p.missing_since IS NOT NULL)"""
_COLUMNS = "g.id, g.account_id, a.email, p.id AS person_id, p.status, p.leave_date, p.missing_since"
_BY_EMAIL = """LEFT JOIN person_email e ON e.email = a.email
LEFT JOIN person p ON p.id = e.person_id"""

#: The hand-written yardstick: orphaned open grants straight from the synced tables (no links, no
#: correlation), by email. Three ways to write the one query, all timed and all checked; the
#: fastest is the yardstick (on SQLite without planner statistics only the third avoids reading
#: every open grant).
ORPHANED_BY_HAND = {
    "grants first": f"""
SELECT {_COLUMNS}
FROM access_grant g
JOIN account a ON a.id = g.account_id
{_BY_EMAIL}
WHERE g.seen_to IS NULL AND a.kind = 'human' AND {_LEFT}""",
    "accounts first": f"""
SELECT {_COLUMNS}
FROM account a
{_BY_EMAIL}
JOIN access_grant g ON g.account_id = a.id
WHERE g.seen_to IS NULL AND a.kind = 'human' AND {_LEFT}""",
    "grants of orphaned accounts": f"""
SELECT {_COLUMNS}
FROM access_grant g
JOIN account a ON a.id = g.account_id
{_BY_EMAIL}
WHERE g.seen_to IS NULL AND a.kind = 'human' AND {_LEFT}
  AND g.account_id IN (SELECT a.id FROM account a
                       {_BY_EMAIL.replace(chr(10), chr(10) + " " * 23)}
                       WHERE a.kind = 'human' AND {_LEFT})""",
}


class BenchError(RuntimeError):
    """The benchmark could not run, or the two sides of a comparison disagreed."""


# ------------------------------------------------------------------------------------------ output


@dataclass
class Figure:
    section: str
    what: str
    value: str
    detail: str = ""
    goal: str = ""
    verdict: str = ""


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)

    def add(self, section: str, what: str, value: str, detail: str = "", goal: str = "", verdict: str = "") -> None:
        self.figures.append(Figure(section, what, value, detail, goal, verdict))
        extra = f"  ({detail})" if detail else ""
        print(f"  {what}: {value}{extra}" + (f"   goal {goal} {verdict}" if goal else ""), flush=True)

    def render(self) -> None:
        try:
            from rich.console import Console
            from rich.table import Table
        except ImportError:  # plain text is fine
            for f in self.figures:
                print(f"{f.section:10} {f.what:62} {f.value:>10} {f.goal:>7} {f.verdict:5} {f.detail}")
            return
        table = Table(title="Accessward scale benchmark")
        table.add_column("")
        table.add_column("measured")
        table.add_column("value", justify="right")
        table.add_column("goal", justify="right")
        table.add_column("")
        table.add_column("detail")
        for f in self.figures:
            style = {"PASS": "green", "MISS": "bold red"}.get(f.verdict, "")
            table.add_row(f.section, f.what, f.value, f.goal, f"[{style}]{f.verdict}[/]" if style else "", f.detail)
        Console(width=max(160, shutil.get_terminal_size().columns)).print(table)


def log(message: str) -> None:
    print(message, flush=True)


def seconds(value: float) -> str:
    return f"{value:.3f} s" if value < 1 else f"{value:.2f} s"


def verdict(ratio: float, goal: float) -> str:
    return "PASS" if ratio <= goal else "MISS"


def best_of(runs: int, action: Callable[[], Any]) -> tuple[float, list[float], Any]:
    times: list[float] = []
    last: Any = None
    for _ in range(runs):
        gc.collect()
        start = time.perf_counter()
        last = action()
        times.append(time.perf_counter() - start)
    return min(times), times, last


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# ------------------------------------------------------------------------------------------ stores


class Stores:
    """Fresh, empty, migrated stores: temporary SQLite files, or throwaway PostgreSQL databases."""

    def __init__(self, workdir: Path, database_url: str | None) -> None:
        self.workdir = workdir
        self.base: URL | None = make_url(database_url) if database_url else None
        if self.base is not None and not self.base.drivername.startswith("postgresql"):
            raise BenchError(f"--database-url must be a PostgreSQL URL (SQLite is the default): {database_url}")
        self._engines: dict[Engine, str] = {}
        self._dropped: set[str] = set()

    @property
    def kind(self) -> str:
        return "SQLite" if self.base is None else "PostgreSQL"

    def _admin(self) -> Engine:
        assert self.base is not None
        return create_engine(self.base, isolation_level="AUTOCOMMIT")

    def fresh(self, label: str) -> Engine:
        if self.base is None:
            path = self.workdir / f"{label}.db"
            engine = make_engine(f"sqlite:///{path}")
            self._engines[engine] = str(path)
        else:
            name = f"accessward_bench_{label}_{uuid.uuid4().hex[:8]}"
            admin = self._admin()
            try:
                with admin.connect() as conn:
                    conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
            finally:
                admin.dispose()
            engine = make_engine(self.base.set(database=name).render_as_string(hide_password=False))
            self._engines[engine] = name
        upgrade(engine)  # not open_store: ACCESSWARD_DATABASE_URL must never redirect the benchmark
        return engine

    def drop(self, engine: Engine) -> None:
        where = self._engines.pop(engine, None)
        engine.dispose()
        if where is None:
            return
        if self.base is None:
            for suffix in ("", "-wal", "-shm"):
                Path(where + suffix).unlink(missing_ok=True)
            return
        admin = self._admin()
        try:
            with admin.connect() as conn:
                conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{where}" WITH (FORCE)')
        finally:
            admin.dispose()

    def close(self) -> None:
        for engine in list(self._engines):
            with contextlib.suppress(Exception):
                self.drop(engine)


# ---------------------------------------------------------------------------------------- sources


def seed_person(number: int, today: date) -> SeedPerson:
    return next(generate_people(1, start=number, today=today))


class GeneratedDirectory:
    """An IdentitySource over :func:`generate_people` (``--skip-ldap``), mapped as LDAP maps it."""

    name = IDENTITY_SOURCE

    def __init__(self, count: int, today: date) -> None:
        self.count, self.today = count, today

    def list_people(self) -> Iterator[PersonRecord]:
        for p in generate_people(self.count, today=self.today):
            expires = p.expires or (self.today - timedelta(days=30) if p.status == "terminated" else None)
            yield PersonRecord(
                source_key=str(p.guid()), display_name=p.display_name or p.common_name,
                employee_id=p.employee_number, username=p.uid, emails=(p.mail,) if p.mail else (),
                kind=PersonKind(p.employee_type or "employee"), status=PersonStatus(p.status),
                leave_date=datetime(expires.year, expires.month, expires.day, tzinfo=UTC) if expires else None,
                manager_key=None, department=p.department,
            )


@dataclass
class GeneratedAccess:
    """An AccessSource over generators: resources first, then each account followed by its grants.

    Account ``a`` belongs to an active person, except one in a hundred (``a % 100 == 99``), which
    belongs in turn to a terminated person, a suspended person, or nobody in the directory.
    """

    people: int
    accounts: int
    resources: int
    today: date
    name: str = ACCESS_SOURCE
    orphaned_accounts: int = 0
    _emails: list[str] = field(default_factory=list)

    ROLES = (("ADVERTISE", Level.needs_approval), ("CREATE_CONTENT", Level.full_publishing),
             ("MANAGE", Level.admin), ("MODERATE", Level.can_reply))

    def __post_init__(self) -> None:
        stride = max(1, self.people // max(1, self.accounts))
        for a in range(self.accounts):
            want = "active"
            if a % 100 == 99:
                want = ("terminated", "suspended", "nobody")[(a // 100) % 3]
            email = self._find(a * stride % max(1, self.people), want) if want != "nobody" else None
            if email is None:
                email, want = f"agency-{a:05d}@agency.example", "nobody"
            if want != "active":
                self.orphaned_accounts += 1
            self._emails.append(email)

    def _find(self, start: int, status: str) -> str | None:
        for step in range(min(self.people, 200)):
            person = seed_person((start + step) % self.people, self.today)
            if person.status == status and (status != "active" or person.expires is None):
                return person.mail
        return None

    def list_access(self) -> Iterator[AccessRecord]:
        for r in range(self.resources):
            yield ResourceRecord(external_id=f"page-{r:05d}", kind="facebook_page", name=f"Brand page {r}")
        for a, email in enumerate(self._emails):
            account = f"user-{a:05d}"
            yield AccountRecord(external_id=account, kind=AccountKind.human, display_name=f"User {a}",
                                email=email.upper() if a % 7 == 0 else email)
            for r in range(self.resources):
                role, level = self.ROLES[(a + r) % len(self.ROLES)]
                yield GrantRecord(account_id=account, resource_id=f"page-{r:05d}", role=role, level=level)


# ------------------------------------------------------------------------------------------- checks


def expected_people(count: int, today: date) -> Counter[str]:
    return Counter(p.status for p in generate_people(count, today=today))


def check_identity(engine: Engine, outcome: SyncOutcome, count: int, expected: Counter[str],
                   with_managers: bool) -> None:
    if not outcome.ok or outcome.counts.get("people") != count:
        raise BenchError(f"identity sync did not list everyone: {outcome}")
    with engine.connect() as conn:
        statuses = Counter({str(s): int(n) for s, n in conn.execute(text(
            "SELECT status, COUNT(*) FROM person WHERE source = :s AND missing_since IS NULL GROUP BY status"),
            {"s": IDENTITY_SOURCE})})
        emails = conn.execute(text("SELECT COUNT(*) FROM person_email")).scalar_one()
        managers = conn.execute(text("SELECT COUNT(*) FROM person WHERE manager_key IS NOT NULL")).scalar_one()
    if statuses != expected:
        raise BenchError(f"stored statuses {dict(statuses)} differ from the seeded {dict(expected)}")
    if emails != count:
        raise BenchError(f"{emails} stored addresses for {count} people")
    if with_managers and managers != max(0, count - 1):
        raise BenchError(f"{managers} people have a resolved manager; expected {count - 1}")


# ------------------------------------------------------------------------------------------- phases


@dataclass
class Options:
    people: int
    accounts: int
    resources: int
    database_url: str | None
    skip_ldap: bool
    throwaway_postgres: bool
    fail_on_miss: bool = False
    stages: Stages = field(default_factory=lambda: Stages({}))


def times(values: list[float]) -> str:
    return "runs " + ", ".join(f"{t:.3f}" if t < 1 else f"{t:.2f}" for t in values)


def ldap_phase(opts: Options, stores: Stores, workdir: Path, today: date, report: Report,
               expected: Counter[str]) -> Engine:
    ldapsearch = shutil.which("ldapsearch")
    if ldapsearch is None:
        raise BenchError("ldapsearch not found: apt-get install ldap-utils (make system-deps does it)")
    section = "LDAP"
    log(f"\n(a) LDAP: seeding a throwaway slapd with {opts.people:,} people")
    start = time.perf_counter()
    ldif = workdir / "people.ldif"
    write_people_ldif(ldif, generate_people(opts.people, today=today), today=today)
    with SlapdServer(workdir=workdir) as server:
        server.start(ldif)
        ldif.unlink()
        report.add(section, f"seed slapd (write LDIF, slapadd) with {opts.people:,} people",
                   seconds(time.perf_counter() - start))

        config = LdapSourceConfig(name=IDENTITY_SOURCE, url=server.url, base_dn=server.base_dn,
                                  bind_dn=server.bind_dn, password=server.password)
        attributes = config.attributes.requested_attributes()
        argv = [ldapsearch, "-x", "-LLL", "-H", server.url, "-D", server.bind_dn, "-w", server.password,
                "-b", server.base_dn, "-E", f"pr={LDAPSEARCH_PAGE}/noprompt", config.search_filter, *attributes]

        # The same answer first (untimed): ldapsearch must return every person.
        listing = subprocess.run(argv, capture_output=True, text=True, check=False)
        if listing.returncode != 0:
            raise BenchError(f"ldapsearch failed ({listing.returncode}): {listing.stderr.strip()}")
        returned = sum(1 for line in listing.stdout.splitlines() if line.startswith("dn: "))
        del listing
        if returned != opts.people:
            raise BenchError(f"ldapsearch returned {returned} entries, not {opts.people}")

        def dump() -> None:
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=True)

        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        yardstick, search_times, _ = best_of(3, dump)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        search_cpu = (after.ru_utime + after.ru_stime - children.ru_utime - children.ru_stime) / 3
        report.add(section, f"ldapsearch -E pr={LDAPSEARCH_PAGE}/noprompt > /dev/null, best of 3",
                   seconds(yardstick), f"{times(search_times)}; {len(attributes)} attributes; "
                   f"client cpu {search_cpu:.2f} s a run")

        engines: list[Engine] = []
        sync_times: list[float] = []
        sync_cpu: list[float] = []
        for run in range(2):
            engine = stores.fresh(f"ldap{run}")
            engines.append(engine)
            source = LdapSource(config)  # a new source each run: no manager cache carried over
            with opts.stages.stage("LDAP first full sync"):
                gc.collect()
                begin, cpu = time.perf_counter(), time.process_time()
                outcome = sync_identity(engine, source)
                sync_times.append(time.perf_counter() - begin)
                sync_cpu.append(time.process_time() - cpu)
            check_identity(engine, outcome, opts.people, expected, config.resolve_manager)
        for engine in engines[:-1]:
            stores.drop(engine)
        sync_best = min(sync_times)
        report.add(section, f"sync_identity(LdapSource) into a fresh {stores.kind} store, best of 2",
                   seconds(sync_best), f"{times(sync_times)}; cpu {min(sync_cpu):.2f} s; page {config.page_size}, "
                   "managers resolved")
        ratio = sync_best / yardstick
        report.add(section, "ratio sync / ldapsearch", f"{ratio:.2f}x", "", f"<= {GOAL_LDAP:g}x",
                   verdict(ratio, GOAL_LDAP))
        log("\n(d) LDAP nightly: a full run with 0.5 % changed, an incremental run with 1 % changed")
        ldap_nightly(report, server, config, engines[-1], opts.people, yardstick, sync_best, workdir, opts.stages)
        return engines[-1]


def generated_identity(opts: Options, stores: Stores, today: date, report: Report,
                       expected: Counter[str]) -> Engine:
    log(f"\n(a) skipped (--skip-ldap): syncing {opts.people:,} generated people instead")
    engine = stores.fresh("people")
    start = time.perf_counter()
    outcome = sync_identity(engine, GeneratedDirectory(opts.people, today))
    report.add("store", f"sync_identity of {opts.people:,} generated people ({stores.kind})",
               seconds(time.perf_counter() - start))
    check_identity(engine, outcome, opts.people, expected, with_managers=False)
    return engine


def reconcile_phase(opts: Options, engine: Engine, stores: Stores, today: date,
                    report: Report) -> tuple[GeneratedAccess, float]:
    grants = opts.accounts * opts.resources
    log(f"\n(b) reconcile: {opts.accounts:,} accounts x {opts.resources:,} resources = {grants:,} open grants")
    source = GeneratedAccess(opts.people, opts.accounts, opts.resources, today)
    with opts.stages.stage("first sync_access"):
        gc.collect()
        start, cpu = time.perf_counter(), time.process_time()
        outcome = sync_access(engine, source)
        first_access = time.perf_counter() - start
        first_cpu = time.process_time() - cpu
    report.add("store", f"sync_access of {grants:,} grants from a generator into {stores.kind}",
               seconds(first_access), f"accounts, resources, grants in bulk; run bookkeeping; {first_cpu:.2f} CPU-s")
    if not outcome.ok or outcome.counts.get("grants") != grants:
        raise BenchError(f"access sync did not write every grant: {outcome}")

    section = "reconcile"
    policy = PolicySettings()
    # The product path first, on a store nobody has read yet; then again (findings exist).
    runs: list[float] = []
    cpus: list[float] = []
    results = []
    for _ in range(2):
        with opts.stages.stage("reconcile"):
            gc.collect()
            start, cpu = time.perf_counter(), time.process_time()
            results.append(reconcile(engine, policy))
            runs.append(time.perf_counter() - start)
            cpus.append(time.process_time() - cpu)
    # The orphaned rule's own pipeline, as the product runs it (correlate, rule, finding upkeep).
    gc.collect()
    start = time.perf_counter()
    correlate(engine)
    now = utcnow()
    store_findings(engine, "orphaned", rules.orphaned(engine, policy.rule("orphaned"), now), now)
    orphaned_only = time.perf_counter() - start

    with engine.connect() as conn:
        found = {int(g) for (g,) in conn.execute(text(
            "SELECT grant_id FROM finding WHERE rule = 'orphaned' AND state = 'open'"))}
    now = utcnow()
    expected = source.orphaned_accounts * opts.resources
    yardsticks: dict[str, tuple[float, list[float]]] = {}
    for name, sql in ORPHANED_BY_HAND.items():
        def by_hand(sql: str = sql) -> list[Any]:
            with engine.connect() as conn:
                return list(conn.execute(text(sql), {"now": now}).all())

        best, sql_times, rows = best_of(3, by_hand)
        by_sql = {int(row.id) for row in rows}
        if found != by_sql:
            raise BenchError(
                f"reconcile and the hand-written SQL ({name}) disagree: {len(found)} vs {len(by_sql)} grants "
                f"({len(found - by_sql)} only in reconcile, {len(by_sql - found)} only in SQL)")
        yardsticks[name] = (best, sql_times)
    counted = [r.findings["orphaned"].current for r in results]
    if len(found) != expected or any(c != expected for c in counted):
        raise BenchError(f"expected {expected:,} orphaned grants ({source.orphaned_accounts} accounts x "
                         f"{opts.resources}); reconcile found {counted}, the SQL {len(found):,}")
    correlation = results[0].correlation
    report.add(section, f"reconcile and the SQL find the same {len(found):,} orphaned grants", "same ids",
               f"{source.orphaned_accounts} orphaned accounts; {correlation.accounts:,} correlated, "
               f"{correlation.unmatched} unmatched")
    report.add(section, f"reconcile(PolicySettings()), {len(results[0].findings)} rules, first run",
               seconds(runs[0]), f"correlation, every rule, findings inserted, exceptions, audit; {cpus[0]:.3f} CPU-s")
    report.add(section, "reconcile again (findings exist, touched)", seconds(runs[1]), f"{cpus[1]:.3f} CPU-s")
    report.add(section, "correlate + orphaned rule + its findings only", seconds(orphaned_only),
               "the orphaned pipeline alone, second pass")
    for name, (best, sql_times) in yardsticks.items():
        report.add(section, f"one hand-written orphaned SQL ({name}), best of 3", seconds(best),
                   f"{times(sql_times)}; all rows fetched")
    fastest = min(yardsticks, key=lambda name: yardsticks[name][0])
    yardstick = yardsticks[fastest][0]
    worst = max(runs)
    ratio = worst / yardstick
    report.add(section, "ratio reconcile (slower run) / fastest SQL", f"{ratio:.2f}x", f"SQL: {fastest}",
               f"<= {GOAL_RECONCILE:g}x", verdict(ratio, GOAL_RECONCILE))
    report.add(section, "ratio orphaned pipeline alone / fastest SQL", f"{orphaned_only / yardstick:.2f}x")
    natural = yardsticks["grants first"][0]
    report.add(section, "ratio reconcile (slower run) / grants-first SQL", f"{worst / natural:.2f}x",
               "for reference only: a slower way to write the yardstick")
    return source, first_access


def export_phase(engine: Engine, grants: int, workdir: Path, report: Report) -> None:
    """(c) The access report of every grant as CSV and XLSX, each export in a fresh process (its own peak RSS)."""
    import json

    log(f"\n(c) streamed exports of the access report: {grants:,} grants")
    url = engine.url.render_as_string(hide_password=False)

    def child(fmt: str) -> dict[str, Any]:
        out = workdir / f"access.{fmt}"
        done = subprocess.run([sys.executable, "-m", "tests.bench.export_child", url, fmt, str(out)],
                              capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise BenchError(f"{fmt} export failed: {done.stderr.strip()[-500:]}")
        out.unlink(missing_ok=True)
        figures: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
        if fmt != "none" and figures["rows"] != grants:
            raise BenchError(f"the {fmt} export wrote {figures['rows']:,} rows, not {grants:,}")
        return figures

    base = child("none")
    report.add("export", "baseline: a process that imports and connects only, peak RSS", f"{base['peak_mib']:.0f} MiB")
    for fmt in ("csv", "xlsx"):
        got = child(fmt)
        report.add("export", f"access report, {grants:,} rows as {fmt.upper()}", seconds(got["seconds"]),
                   f"{got['rows'] / got['seconds']:,.0f} rows/s; {got['bytes'] / 2**20:,.0f} MiB written")
        report.add("export", f"peak RSS of the {fmt.upper()} export process", f"{got['peak_mib']:.0f} MiB",
                   f"{got['peak_mib'] - base['peak_mib']:+.0f} MiB over the baseline")


def run(opts: Options) -> int:
    report = Report()
    today = datetime.now(UTC).date()
    workdir = Path(tempfile.mkdtemp(prefix="accessward-bench-"))
    pg_server: Any = None
    database_url = opts.database_url
    started = time.perf_counter()
    try:
        if opts.throwaway_postgres:
            from accessward.sandbox.postgres import PostgresServer

            pg_server = PostgresServer(database="accessward_bench").start()  # its own dir: postgres must enter it
            database_url = pg_server.url
        stores = Stores(workdir, database_url)
        try:
            log(f"Accessward benchmark: {opts.people:,} people, {opts.accounts:,} accounts x "
                f"{opts.resources:,} resources, store {stores.kind}, python {sys.version.split()[0]}")
            expected = expected_people(opts.people, today)
            if opts.skip_ldap:
                engine = generated_identity(opts, stores, today, report, expected)
            else:
                engine = ldap_phase(opts, stores, workdir, today, report, expected)
            if opts.accounts and opts.resources:
                access, first_access = reconcile_phase(opts, engine, stores, today, report)
                export_phase(engine, opts.accounts * opts.resources, workdir, report)
                log("\n(e) access nightly: sync_access with 0.5 % of the grants changed")
                access_nightly(report, engine, access, opts.accounts * opts.resources, first_access, opts.stages,
                               today)
            log("\n(f) Meta: HTTP source sync vs a bare paging loop over the same simulator (sandbox.customer)")
            meta_phase(report, stores, opts.people, opts.stages)
            log("\n(g) offboarding latency: six systems at 50 ms a call vs the slowest system alone")
            offboarding_phase(report, stores, workdir, samples=8 if opts.people <= 20_000 else 20)
            if not opts.skip_ldap:  # the whole run starts with a real LDAP sync
                log("\n(h) the whole nightly run in a fresh process: sync everything -> reconcile -> plan")
                whole_nightly_phase(report, stores, workdir, opts.people, opts.accounts, opts.resources)
            memory_figures(report, opts.stages)
        finally:
            stores.close()
        report.add("run", "peak RSS of this process", f"{peak_rss_mib():.0f} MiB")
        report.add("run", "total wall time", seconds(time.perf_counter() - started), "seeding and checks included")
        print()
        report.render()
        misses = [f for f in report.figures if f.verdict == "MISS"]
        return 1 if misses and opts.fail_on_miss else 0
    finally:
        if pg_server is not None:
            pg_server.stop()
        shutil.rmtree(workdir, ignore_errors=True)


def parse(argv: list[str] | None = None) -> Options:
    parser = argparse.ArgumentParser(prog="python -m tests.bench.run", description=__doc__.split("\n\n")[0]
                                     if __doc__ else None)
    parser.add_argument("--quick", action="store_true",
                        help=f"a small run (about two minutes): {SIZES['quick']}")
    parser.add_argument("--size", choices=[k for k in SIZES if k != "quick"],
                        help="a preset size: " + "; ".join(f"{k} = {v}" for k, v in SIZES.items() if k != "quick"))
    parser.add_argument("--people", type=int, default=100_000, help="directory size (default 100000)")
    parser.add_argument("--grants-accounts", dest="accounts", type=int, default=2_000,
                        help="social accounts, each granted on every resource (default 2000)")
    parser.add_argument("--resources", type=int, default=500, help="resources (default 500)")
    parser.add_argument("--database-url", default=None,
                        help="a PostgreSQL URL: throwaway databases are created there (default: temp SQLite)")
    parser.add_argument("--throwaway-postgres", action="store_true",
                        help="start a temporary PostgreSQL cluster and benchmark on it")
    parser.add_argument("--skip-ldap", action="store_true", help="skip (a); generate the directory instead")
    parser.add_argument("--fail-on-miss", action="store_true",
                        help="exit 1 when a goal is missed (by default only a failed check, exit 2, fails)")
    args = parser.parse_args(argv)
    preset = "quick" if args.quick else args.size
    if preset:
        args.people, args.accounts, args.resources = SIZES[preset]
    if args.people < 1 or args.accounts < 0 or args.resources < 0:
        parser.error("--people must be positive, --grants-accounts and --resources not negative")
    if args.database_url and args.throwaway_postgres:
        parser.error("--database-url and --throwaway-postgres exclude each other")
    return Options(args.people, args.accounts, args.resources, args.database_url, args.skip_ldap,
                   args.throwaway_postgres, args.fail_on_miss)


def main(argv: list[str] | None = None) -> int:
    try:
        return run(parse(argv))
    except (BenchError, NightlyError, MetaBenchError, OffboardingBenchError, WholeNightlyError) as exc:
        print(f"benchmark failed: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
