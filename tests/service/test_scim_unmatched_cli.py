"""`accessward sync` retries waiting SCIM deprovisionings too: a match is scheduled for the offboarding job."""

from __future__ import annotations

import threading

from sqlalchemy import select
from sqlmodel import Session

from accessward import jobs
from accessward.reconcile import offboarding
from accessward.sync.service_models import ScimUnmatched
from tests.service.test_cli import run
from tests.service.test_scim_inbound import SCIM, entra_user


def test_cli_sync_schedules_a_waiting_deprovisioning_once_the_person_appears(world):  # type: ignore[no-untyped-def]
    dana_kc = world.kc.users.pop(world.kc_ids["dana.leaver"])
    rt = world.runtime()
    world.sync(rt)
    with world.client(rt) as client:
        hr = {**world.token(rt.engine, "hr"), "Content-Type": SCIM}
        dana = entra_user("dana.leaver@example.com", "E1002")
        uid = client.post("/scim/v2/Users", json=dana, headers=hr).json()["id"]
        assert client.delete(f"/scim/v2/Users/{uid}", headers=hr).status_code == 204
    assert offboarding.find(rt.engine, f"scim:{uid}:1").status == "not_found"  # type: ignore[union-attr]

    world.kc.users[dana_kc.id] = dana_kc
    code, out = run(world, "sync")
    assert code == 0, out
    ob = offboarding.find(rt.engine, f"scim:{uid}:1")
    assert ob is not None and ob.status == "scheduled" and ob.person_key == "E1002"
    with Session(rt.engine) as s:
        [row] = s.execute(select(ScimUnmatched)).scalars().all()
    assert row.state == "matched"
    assert offboarding.due(rt.engine) == [ob.id]  # what serve's offboarding job picks up next
    assert jobs.due_offboardings(rt, threading.Event()) == f"{ob.id}:done"
