"""LinkedIn, issue 11: a readable name for every ACL through the documented roleAssignee decoration (member ids
are opaque), so ``report unmatched`` has a name to compare; and reductions (``Reducer``: add the lower role,
then revoke the old one), against the simulator on a loopback port.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from starlette.applications import Starlette

from accessward.connectors.errors import RejectedError
from accessward.connectors.linkedin import NAME_PROJECTION, LinkedInOrganizationConnector
from accessward.connectors.protocols import Reducer
from accessward.connectors.records import AccountRecord, GrantRef, Level, PersonRecord, RevokeOutcome
from accessward.reconcile.policy import PolicySettings
from accessward.reconcile.run import reconcile
from accessward.reports.unmatched import unmatched_rows
from accessward.sandbox.linkedin import DEMO_MEMBERS, DEMO_ORG_ID, DEMO_TOKEN, create_app, demo_state
from accessward.sandbox.linkedin_state import LinkedInState
from accessward.sandbox.server import RunningServer, start_app
from accessward.sync.runner import sync_access, sync_identity
from tests.fakes import FakeIdentity

ORG = f"urn:li:organization:{DEMO_ORG_ID}"
ALEX, DANA, SAM = DEMO_MEMBERS["alex"], DEMO_MEMBERS["dana"], DEMO_MEMBERS["sam"]


@pytest.fixture(scope="module")
def app() -> Starlette:
    return create_app(LinkedInState())


@pytest.fixture(scope="module")
def server(app: Starlette) -> Iterator[RunningServer]:
    with start_app(app) as srv:
        yield srv


@pytest.fixture
def demo(app: Starlette) -> LinkedInState:
    st = demo_state()
    app.state.linkedin = st
    return st


def connector(srv: RunningServer, st: LinkedInState, **kw: Any) -> LinkedInOrganizationConnector:
    kw.setdefault("sleep", lambda _s: None)
    return LinkedInOrganizationConnector("linkedin", f"{srv.url}/rest", DEMO_ORG_ID, DEMO_TOKEN,
                                         linkedin_version=st.latest_version, **kw)


def names(records: list[Any]) -> dict[str, str]:
    return {r.external_id: r.display_name for r in records if isinstance(r, AccountRecord)}


def ref(member: str, role: str) -> GrantRef:
    return GrantRef(account_id=member, resource_id=ORG, role=role, resource_kind="linkedin_organization")


# -- names ---------------------------------------------------------------------------------------


def test_every_acl_gets_the_members_name_through_the_decoration(demo: LinkedInState, server: RunningServer) -> None:
    found = names(list(connector(server, demo).list_access()))

    assert found == {ALEX: "Alex Morgan", DANA: "Dana Leaver", SAM: "Sam Rivera", DEMO_MEMBERS["priya"]: "Priya Shah",
                     DEMO_MEMBERS["jordan"]: "Jordan Lee", DEMO_MEMBERS["taylor"]: "Taylor Brooks"}
    assert all("rivera" not in urn.lower() for urn in found)  # ids are opaque: the name comes from LinkedIn
    [listing] = demo.calls_to("/rest/organizationAcls")
    assert listing.params["projection"] == NAME_PROJECTION


def test_a_name_the_token_may_not_read_is_left_empty(demo: LinkedInState, server: RunningServer) -> None:
    demo.decorate_names = False  # each element answers roleAssignee! (403) instead of roleAssignee~

    found = names(list(connector(server, demo).list_access()))

    assert len(found) == 6 and set(found.values()) == {""}


def test_a_server_refusing_the_projection_is_asked_again_without_it(demo: LinkedInState, server: RunningServer,
                                                                  caplog: pytest.LogCaptureFixture) -> None:
    demo.projection_supported = False
    li = connector(server, demo)
    with caplog.at_level(logging.WARNING):
        found = names(list(li.list_access()))
    assert len(found) == 6 and set(found.values()) == {""} and "decoration" in caplog.text
    first, second = demo.calls_to("/rest/organizationAcls")
    assert first.status == 400 and "projection" not in second.params
    list(li.list_access())  # once per connector: not asked again
    assert all("projection" not in c.params for c in demo.calls_to("/rest/organizationAcls")[2:])


def test_report_unmatched_finds_the_candidate_through_the_decorated_name(demo: LinkedInState, server: RunningServer,
                                                                         sqlite_engine: Engine) -> None:
    engine = sqlite_engine
    sync_identity(engine, FakeIdentity(people=[
        PersonRecord(source_key="p-sam", display_name="Sam Rivera", employee_id="E1003", username="srivera",
                     emails=("sam.rivera@example.com",)),
        PersonRecord(source_key="p-zoe", display_name="Zoe Quinn", employee_id="E1009", username="zquinn",
                     emails=("zoe.quinn@example.com",)),
    ]))
    with connector(server, demo) as li:
        sync_access(engine, li, source_type="linkedin")
    reconcile(engine, PolicySettings())

    rows = {r["account_id"]: r for r in unmatched_rows(engine)}

    assert rows[SAM]["account"] == "Sam Rivera"
    assert rows[SAM]["candidates"].startswith("Sam Rivera (E1003")
    assert rows[ALEX]["candidates"] == ""  # nobody of that name in the directory: no false candidate


# -- reduce --------------------------------------------------------------------------------------


def test_content_admin_is_reduced_to_analyst_by_adding_then_revoking(demo: LinkedInState,
                                                                     server: RunningServer) -> None:
    li = connector(server, demo)
    assert isinstance(li, Reducer)
    sam = ref(SAM, "CONTENT_ADMINISTRATOR")
    assert li.reduce_roles(sam) == {Level.can_reply: "RECRUITING_POSTER", Level.needs_approval: "CURATOR",
                                    Level.read_only: "ANALYST"}
    assert li.reduce_roles(ref(DEMO_MEMBERS["priya"], "ANALYST")) == {}
    add, revoke = li.preview_reduce(sam, "ANALYST")

    assert li.reduce(sam, "ANALYST").outcome is RevokeOutcome.done

    put_new, put_old = demo.writes
    assert (put_new.method, put_new.status, put_old.status) == ("PUT", 201, 204)
    assert add.body is not None and json.loads(add.body) == put_new.body == {
        "organization": ORG, "role": "ANALYST", "roleAssignee": SAM, "state": "APPROVED"}
    assert revoke.body is not None and json.loads(revoke.body) == put_old.body
    assert demo.acl_state(ORG, "ANALYST", SAM) == "APPROVED"
    assert demo.acl_state(ORG, "CONTENT_ADMINISTRATOR", SAM) == "REVOKED"
    assert li.reduce(sam, "ANALYST").outcome is RevokeOutcome.already_gone and len(demo.writes) == 2
    with pytest.raises(RejectedError):
        li.preview_reduce(ref(DEMO_MEMBERS["priya"], "ANALYST"), "ADMINISTRATOR")


def test_reducing_the_last_admin_is_refused_and_leaves_what_was_there(demo: LinkedInState,
                                                                      server: RunningServer) -> None:
    li = connector(server, demo)
    assert li.reduce(ref(DANA, "ADMINISTRATOR"), "CONTENT_ADMINISTRATOR").outcome is RevokeOutcome.done
    assert demo.acl_state(ORG, "CONTENT_ADMINISTRATOR", DANA) == "APPROVED"

    with pytest.raises(RejectedError, match="last APPROVED ADMINISTRATOR"):
        li.reduce(ref(ALEX, "ADMINISTRATOR"), "CONTENT_ADMINISTRATOR")

    assert demo.acl_state(ORG, "ADMINISTRATOR", ALEX) == "APPROVED"
    assert demo.acl_state(ORG, "CONTENT_ADMINISTRATOR", ALEX) == "REVOKED"  # the addition was undone
