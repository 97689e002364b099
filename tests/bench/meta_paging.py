"""(f) HTTP source sync of Meta (the largest social source) vs a bare paging loop over the same simulator.

The Meta simulator (``sandbox.meta``) runs in a child process (``python -m tests.bench.meta_paging
serve``), seeded with the customer's Meta share (``sandbox.customer.meta_share``: about 2 % of the
directory as business users, agency freelancers, a Page per 250 people with 60 assignees each,
Instagram assets, partners, page roles, invitations). Its CPU is its own, as a real Graph's would be.

The yardstick is the least a client can do to read the same data: one ``httpx.Client`` sending the
same GETs with the same fields and the same page size (100, the Graph maximum), parsing each JSON
body and following ``paging.next`` until it is absent, nothing else (it asks for each Page's token,
as every Page edge needs one). The measured path is ``sync_access(engine, MetaBusinessConnector)``
into a store that already holds the directory's members: listing, mapping, the store writes and
the run bookkeeping. Before a figure is printed: the sync wrote every grant the share was built to
hold, the bare loop read the same number of items, and every business user drawn from the directory
correlates with its person although Meta writes each address in the other case.
"""

from __future__ import annotations

import gc
import subprocess
import sys
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
from sqlalchemy import Engine, text

from accessward.connectors.meta import MetaBusinessConnector
from accessward.connectors.meta_records import (
    ASSET_PARTNER_FIELDS,
    ASSIGNED_USER_FIELDS,
    BUSINESS_FIELDS,
    BUSINESS_USER_FIELDS,
    INSTAGRAM_ASSET_FIELDS,
    PAGE_FIELDS,
    PAGE_PARTNER_FIELDS,
    PAGE_ROLE_FIELDS,
    PARTNER_FIELDS,
    PENDING_USER_FIELDS,
    SYSTEM_USER_FIELDS,
)
from accessward.connectors.records import PersonKind, PersonRecord, PersonStatus
from accessward.reconcile.correlate import correlate
from accessward.sandbox.customer import (
    META_BUSINESS,
    REALISTIC,
    MetaShare,
    mail_of,
    meta_share,
    meta_state,
    person,
)
from accessward.sandbox.meta_state import GRAPH_VERSION
from accessward.sync.runner import sync_access, sync_identity

GOAL_META = 1.5
PAGE_SIZE = 100
TOKEN = "EAAbench-meta-token"
SOURCE = "meta"


class MetaBenchError(RuntimeError):
    """The Meta sync and the bare loop disagree, or the data did not correlate."""


# -- the simulator in a child process ------------------------------------------------------------


def serve(people: int) -> None:
    """Child: seed the simulator with the share of ``people``, print its URL, serve until stdin closes."""
    from accessward.sandbox.meta import create_app
    from accessward.sandbox.server import start_app

    state = meta_state(meta_share(people), TOKEN)
    with start_app(create_app(state)) as server:  # type: ignore[arg-type]
        print(f"{server.url}/{GRAPH_VERSION}", flush=True)
        sys.stdin.read()


class Simulator:
    """The child process serving the Meta simulator; ``url`` is its Graph base URL."""

    def __init__(self, people: int) -> None:
        self.process = subprocess.Popen([sys.executable, "-m", "tests.bench.meta_paging", "serve", str(people)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        assert self.process.stdout is not None
        self.url = self.process.stdout.readline().strip()
        if not self.url.startswith("http"):
            self.stop()
            raise MetaBenchError("the Meta simulator did not start")

    def cpu_seconds(self) -> float:
        """The child's user + system CPU so far (from /proc), to report the simulator's share."""
        fields = open(f"/proc/{self.process.pid}/stat").read().rsplit(")", 1)[1].split()
        import os

        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# -- the yardstick -------------------------------------------------------------------------------


def bare_listing(base_url: str, token: str = TOKEN, page_size: int = PAGE_SIZE) -> int:
    """Every item the connector reads, with plain GETs following ``paging.next``; answers the item count."""
    items = 0
    auth = {"Authorization": f"Bearer {token}"}
    with httpx.Client(timeout=30.0) as client:
        def edge(node: str, name: str, fields: str, headers: dict[str, str], **params: str) -> Iterator[Any]:
            nonlocal items
            url: str | None = f"{base_url}/{node}/{name}"
            query: dict[str, str] | None = {"fields": fields, "limit": str(page_size), **params}
            while url:
                body = client.get(url, params=query, headers=headers).json()
                items += len(body["data"])
                yield from body["data"]
                url, query = body.get("paging", {}).get("next"), None

        client.get(f"{base_url}/{META_BUSINESS}", params={"fields": BUSINESS_FIELDS}, headers=auth).json()
        for name, fields in (("business_users", BUSINESS_USER_FIELDS), ("system_users", SYSTEM_USER_FIELDS),
                             ("pending_users", PENDING_USER_FIELDS), ("agencies", PARTNER_FIELDS)):
            for _ in edge(META_BUSINESS, name, fields, auth):
                pass
        for page in list(edge(META_BUSINESS, "owned_pages", PAGE_FIELDS, auth)):
            page_token = client.get(f"{base_url}/{page['id']}", params={"fields": "id,access_token"},
                                    headers=auth).json()["access_token"]
            page_auth = {"Authorization": f"Bearer {page_token}"}
            for name, fields, extra in (("assigned_users", ASSIGNED_USER_FIELDS, {"business": META_BUSINESS}),
                                        ("roles", PAGE_ROLE_FIELDS, {}), ("agencies", PAGE_PARTNER_FIELDS, {})):
                for _ in edge(page["id"], name, fields, page_auth, **extra):
                    pass
        for asset in list(edge(META_BUSINESS, "owned_instagram_assets", INSTAGRAM_ASSET_FIELDS, auth)):
            for name, fields, extra in (("assigned_users", ASSIGNED_USER_FIELDS, {"business": META_BUSINESS}),
                                        ("agencies", ASSET_PARTNER_FIELDS, {})):
                for _ in edge(asset["id"], name, fields, auth, **extra):
                    pass
    return items


def expected_items(share: MetaShare) -> int:
    """Items the bare loop reads: every row of every edge (the business node itself is not an item)."""
    return (share.members + share.outsiders + 1 + share.system_users + share.invitations + share.partners
            + share.pages * (1 + share.per_page + share.page_roles) + min(share.partners, share.pages)
            + share.instagram * (1 + share.per_instagram) + min(share.partners, share.instagram))


# -- the directory slice the business users correlate with ---------------------------------------


class Members:
    """An IdentitySource of the directory people who are on Meta, mapped as LDAP maps them."""

    name = "directory"

    def __init__(self, share: MetaShare, today: date) -> None:
        self.share, self.today = share, today

    def list_people(self) -> Iterator[PersonRecord]:
        seen: set[int] = set()
        for i in range(self.share.members):
            number = self.share.member_number(i)
            if number in seen:
                continue
            seen.add(number)
            p = person(number, today=self.today, mix=REALISTIC)
            yield PersonRecord(source_key=p.uid, display_name=p.display_name or p.common_name, employee_id=None,
                               username=p.uid, emails=(p.mail,) if p.mail else (),
                               kind=PersonKind(p.employee_type or "employee"), status=PersonStatus(p.status),
                               leave_date=None, manager_key=None, department=p.department)


def check_correlation(engine: Engine, share: MetaShare) -> tuple[int, int]:
    """(business users from the directory correlated, of which mixed case in the directory).

    Meta holds every one of them in the other case than the directory (``customer._member_email``).
    """
    correlate(engine)
    with engine.connect() as conn:
        rows = conn.execute(text(
            "SELECT a.email, p.source_key FROM account a JOIN link l ON l.account_id = a.id "
            "JOIN person p ON p.id = l.person_id WHERE a.system = :s AND a.kind = 'human' AND NOT l.disputed"),
            {"s": SOURCE}).all()
    directory = {share.member_number(i) for i in range(share.members)}
    linked = {int(str(key)[1:]) for _, key in rows}
    if linked != directory:
        raise MetaBenchError(f"{len(directory - linked)} Meta business users from the directory did not correlate "
                             f"({len(linked - directory)} linked to someone else)")
    mixed = sum(1 for n in directory if (mail_of(n, mix=REALISTIC) != mail_of(n, mix=REALISTIC).lower()))
    return len(linked), mixed


# -- the phase -----------------------------------------------------------------------------------


def meta_phase(report: Any, stores: Any, people: int, stages: Any) -> None:
    """Time the Meta sync against the bare loop (best of 2 each, interleaved) and print the figures."""
    share = meta_share(people)
    section = "Meta"
    today = datetime.now(UTC).date()
    simulator = Simulator(people)
    try:
        want = expected_items(share)
        got = bare_listing(simulator.url)  # warm-up, and the same answer first
        if got != want:
            raise MetaBenchError(f"the bare loop read {got} items; the share holds {want}")
        bare: list[float] = []
        bare_cpu: list[float] = []
        syncs: list[float] = []
        sync_cpu: list[float] = []
        sim_cpu: list[float] = []
        engine = None
        for run in range(2):
            gc.collect()
            c0, t0 = time.process_time(), time.perf_counter()
            bare_listing(simulator.url)
            bare.append(time.perf_counter() - t0)
            bare_cpu.append(time.process_time() - c0)
            if engine is not None:
                stores.drop(engine)
            engine = stores.fresh(f"meta{run}")
            sync_identity(engine, Members(share, today))
            connector = MetaBusinessConnector(SOURCE, simulator.url, META_BUSINESS, TOKEN, page_size=PAGE_SIZE)
            gc.collect()
            with stages.stage("Meta sync_access"):
                s0, c0, t0 = simulator.cpu_seconds(), time.process_time(), time.perf_counter()
                outcome = sync_access(engine, connector)
                syncs.append(time.perf_counter() - t0)
                sync_cpu.append(time.process_time() - c0)
                sim_cpu.append(simulator.cpu_seconds() - s0)
            connector.close()
            if not outcome.ok or outcome.counts.get("grants") != share.grants:
                raise MetaBenchError(f"the Meta sync should write {share.grants} grants: {outcome}")
        assert engine is not None
        linked, other_case = check_correlation(engine, share)
        stores.drop(engine)
    finally:
        simulator.stop()
    report.add(section, f"Meta share of {people:,} people: {share.members:,} members, {share.pages:,} Pages, "
               f"{share.grants:,} grants", f"{want:,} items",
               f"all {linked:,} directory members correlated, each address in another case on Meta "
               f"({other_case:,} mixed case in the directory)")
    report.add(section, f"bare httpx paging loop (limit {PAGE_SIZE}), best of 2", f"{min(bare):.2f} s",
               f"runs {', '.join(f'{t:.2f}' for t in bare)}; client CPU {min(bare_cpu):.2f} s")
    report.add(section, f"sync_access(MetaBusinessConnector) into {stores.kind}, best of 2", f"{min(syncs):.2f} s",
               f"runs {', '.join(f'{t:.2f}' for t in syncs)}; Accessward CPU {min(sync_cpu):.2f} s, "
               f"simulator CPU {min(sim_cpu):.2f} s")
    cpu_ratio = (min(sync_cpu) + min(sim_cpu)) / (min(bare_cpu) + min(sim_cpu))
    report.add(section, "ratio of CPU seconds, (sync + simulator) / (bare loop + simulator)", f"{cpu_ratio:.2f}x",
               "what the wall ratio tends to on a quiet machine without overlap")
    ratio = min(syncs) / min(bare)
    report.add(section, "ratio Meta sync / bare paging loop", f"{ratio:.2f}x", "", f"<= {GOAL_META:g}x",
               "PASS" if ratio <= GOAL_META else "MISS")


if __name__ == "__main__":
    if sys.argv[1:2] == ["serve"]:
        serve(int(sys.argv[2]))
