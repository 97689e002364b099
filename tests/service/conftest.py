"""Fixtures of the service tests: the simulated world, a synced runtime and an API client."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from accessward.runtime import Runtime
from tests.service.world import ENV, World, running_world


@pytest.fixture
def world(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    for name, value in ENV.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("ACCESSWARD_DATABASE_URL", raising=False)
    with running_world(tmp_path) as w:
        yield w


@pytest.fixture
def rt(world: World) -> Runtime:
    runtime = world.runtime()
    world.sync(runtime)
    return runtime


@pytest.fixture
def client(world: World, rt: Runtime) -> Iterator[TestClient]:
    with world.client(rt) as c:
        yield c
