"""The nightly figures of ``make bench``: full runs where little changed, incremental runs, memory per stage.

(d) LDAP nightly. After the first full syncs of (a), 0.5 % of the people change in slapd (``ldapmodify``
    as the rootdn, untimed: each gets a new ``departmentNumber``, which the source maps, so each one's
    digest changes). A ``sync_identity(..., full=True)`` over the same store is timed against the same
    ``ldapsearch`` yardstick and against the first full sync; the rows it wrote are counted from the
    store (``last_run_id``); the source skips the entries whose raw bytes did not change
    (``connectors.ldap_skip``). Then another 1 % change and the *incremental* run (modifyTimestamp cursor)
    is timed against the first full sync. The incremental round re-reads the previous round's last
    changes on purpose (its overlap, see ``connectors.ldap``), so it lists about 1.5 % here.

(e) Access nightly. ``sync_access`` of the same generated grants with 0.5 % of them given another role
    (each a new grant and a closed one), timed against the first ``sync_access`` of (b).

Peak memory per stage: Linux's ``VmHWM`` of this process, reset before each stage by writing 5 to
``/proc/self/clear_refs``; Accessward's own code is this process only (slapd, PostgreSQL and the
export children are not counted here; the export children report their own).
"""

from __future__ import annotations

import contextlib
import gc
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from accessward.connectors.ldap import LdapSource, LdapSourceConfig
from accessward.connectors.records import AccessRecord, GrantRecord
from accessward.sandbox.slapd import SlapdServer
from accessward.sync.runner import sync_access, sync_identity

GOAL_NIGHTLY_VS_DUMP = 1.5
GOAL_NIGHTLY_VS_FULL = 0.20
GOAL_INCREMENTAL_VS_FULL = 0.05
GOAL_PEAK_MIB = 500.0


class NightlyError(RuntimeError):
    """A nightly run did not do what the data says it should have."""


# ------------------------------------------------------------------------------------------ memory


def _hwm_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def reset_peak() -> None:
    """Reset this process's peak RSS (VmHWM) to its current RSS (Linux >= 4.0)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")


@dataclass
class Stages:
    """Peak RSS of this process per stage, in MiB."""

    peaks: dict[str, float]

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        gc.collect()
        reset_peak()
        try:
            yield
        finally:
            self.peaks[name] = max(self.peaks.get(name, 0.0), _hwm_mib())


# -------------------------------------------------------------------------------------------- LDAP


def change_people(server: SlapdServer, numbers: list[int], tag: str, workdir: Path) -> None:
    """Give each numbered seeded person a new departmentNumber, through slapd (as the rootdn)."""
    ldapmodify = shutil.which("ldapmodify")
    if ldapmodify is None:
        raise NightlyError("ldapmodify not found: apt-get install ldap-utils")
    path = workdir / f"change-{tag}.ldif"
    with path.open("w", encoding="utf-8") as out:
        for n in numbers:
            out.write(f"dn: uid=u{n:07d},{server.people_dn}\nchangetype: modify\nreplace: departmentNumber\n"
                      f"departmentNumber: {tag}-{n}\n-\n\n")
    done = subprocess.run([ldapmodify, "-x", "-H", server.url, "-D", server.root_dn, "-w", server.root_password,
                           "-f", str(path)], capture_output=True, text=True, check=False)
    path.unlink(missing_ok=True)
    if done.returncode != 0:
        raise NightlyError(f"ldapmodify failed ({done.returncode}): {done.stderr.strip()[-300:]}")


def written_people(engine: Engine, run_id: int) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT COUNT(*) FROM person WHERE last_run_id = :r"), {"r": run_id}).scalar_one())


def ldap_nightly(report: Any, server: SlapdServer, config: LdapSourceConfig, engine: Engine, people: int,
                 dump: float, full: float, workdir: Path, stages: Stages) -> None:
    section = "nightly"
    share = max(1, people // 200)  # 0.5 %
    changed = list(range(3, people, max(1, people // share)))[:share]
    change_people(server, changed, "n1", workdir)
    with stages.stage("LDAP nightly full run"):
        gc.collect()
        start, cpu = time.perf_counter(), time.process_time()
        outcome = sync_identity(engine, LdapSource(config), full=True)
        nightly = time.perf_counter() - start
        nightly_cpu = time.process_time() - cpu
    if not outcome.ok or outcome.counts.get("people") != people or outcome.counts.get("missing"):
        raise NightlyError(f"the nightly full run did not list everyone, or marked people missing: {outcome}")
    wrote = written_people(engine, outcome.run_id)
    if wrote != len(changed):
        raise NightlyError(f"the nightly full run wrote {wrote} people; {len(changed)} changed")
    report.add(section, f"LDAP full run, {len(changed):,} of {people:,} changed (0.5 %)", f"{nightly:.2f} s",
               f"{wrote:,} person rows written; cpu {nightly_cpu:.2f} s")
    ratio = nightly / dump
    report.add(section, "ratio nightly full run / ldapsearch", f"{ratio:.2f}x", "", f"<= {GOAL_NIGHTLY_VS_DUMP:g}x",
               "PASS" if ratio <= GOAL_NIGHTLY_VS_DUMP else "MISS")
    ratio = nightly / full
    report.add(section, "ratio nightly full run / first full sync", f"{ratio:.0%}", "",
               f"<= {GOAL_NIGHTLY_VS_FULL:.0%}", "PASS" if ratio <= GOAL_NIGHTLY_VS_FULL else "MISS")

    share = max(1, people // 100)  # 1 %
    changed = list(range(5, people, max(1, people // share)))[:share]
    change_people(server, changed, "i1", workdir)
    with stages.stage("LDAP incremental run"):
        gc.collect()
        start, cpu = time.perf_counter(), time.process_time()
        outcome = sync_identity(engine, LdapSource(config))
        incremental = time.perf_counter() - start
        incremental_cpu = time.process_time() - cpu
    if not outcome.ok or outcome.counts.get("people", 0) < len(changed):
        raise NightlyError(f"the incremental run did not list the {len(changed)} changed people: {outcome}")
    report.add(section, f"LDAP incremental run, {len(changed):,} of {people:,} changed (1 %)", f"{incremental:.3f} s",
               f"{outcome.counts['people']:,} listed (the cursor's overlap re-reads the last round's changes); "
               f"{written_people(engine, outcome.run_id):,} written; cpu {incremental_cpu:.3f} s")
    ratio = incremental / full
    report.add(section, "ratio incremental run / first full sync", f"{ratio:.1%}", "",
               f"<= {GOAL_INCREMENTAL_VS_FULL:.0%}", "PASS" if ratio <= GOAL_INCREMENTAL_VS_FULL else "MISS")


# ------------------------------------------------------------------------------------------ access


def changed_access(base: Any, every: int) -> Iterator[AccessRecord]:
    """The records of ``base`` (a GeneratedAccess) with one grant in ``every`` given the next role."""
    roles = base.ROLES
    n = 0
    for record in base.list_access():
        if isinstance(record, GrantRecord):
            n += 1
            if n % every == 0:
                index = next(i for i, (role, _) in enumerate(roles) if role == record.role)
                role, level = roles[(index + 1) % len(roles)]
                record = GrantRecord(account_id=record.account_id, resource_id=record.resource_id,
                                     role=role, level=level)
        yield record


@dataclass
class _Changed:
    base: Any
    every: int

    @property
    def name(self) -> str:
        return str(self.base.name)

    def list_access(self) -> Iterator[AccessRecord]:
        return changed_access(self.base, self.every)


def access_nightly(report: Any, engine: Engine, base: Any, grants: int, first: float, stages: Stages,
                   today: date) -> None:
    del today
    with stages.stage("access nightly full run"):
        gc.collect()
        start, cpu = time.perf_counter(), time.process_time()
        outcome = sync_access(engine, _Changed(base, 200))
        nightly = time.perf_counter() - start
        nightly_cpu = time.process_time() - cpu
    expected = grants // 200
    if not outcome.ok or outcome.counts.get("grants") != grants or outcome.counts.get("closed") != expected:
        raise NightlyError(f"the access nightly run should close {expected} changed grants: {outcome}")
    with engine.connect() as conn:
        wrote = int(conn.execute(text("SELECT COUNT(*) FROM access_grant WHERE last_run_id = :r"),
                                 {"r": outcome.run_id}).scalar_one())
    report.add("nightly", f"sync_access, {expected:,} of {grants:,} grants changed role (0.5 %)", f"{nightly:.2f} s",
               f"{wrote:,} grant rows written, {outcome.counts['closed']:,} closed; {nightly_cpu:.2f} CPU-s")
    ratio = nightly / first
    report.add("nightly", "ratio access nightly / first sync_access", f"{ratio:.0%}", "",
               f"<= {GOAL_NIGHTLY_VS_FULL:.0%}", "PASS" if ratio <= GOAL_NIGHTLY_VS_FULL else "MISS")


def memory_figures(report: Any, stages: Stages) -> None:
    for name, peak in stages.peaks.items():
        report.add("memory", f"peak RSS during {name}", f"{peak:.0f} MiB")
    if stages.peaks:
        worst = max(stages.peaks.values())
        report.add("memory", "peak RSS of the nightly run (worst stage, this process)", f"{worst:.0f} MiB", "",
                   f"<= {GOAL_PEAK_MIB:.0f} MiB", "PASS" if worst <= GOAL_PEAK_MIB else "MISS")
