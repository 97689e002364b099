"""The wheel as a packager sees it: one import name, installable outside the repository, working.

Builds the wheel from this tree, installs it with the runtime lockfile into a fresh virtualenv in a
temporary directory (so nothing of the repository is on its path), and runs the installed command:
``--help``, ``init``, the demo's clear refusal without the ``demo`` extra, and ``serve`` migrating an
empty PostgreSQL and answering ``/healthz``.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    # setuptools' scratch directory (gitignored) keeps files of an earlier build: a module renamed since
    # (a migration, say) would otherwise end up in the wheel twice
    shutil.rmtree(ROOT / "build", ignore_errors=True)
    subprocess.run([sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(out), str(ROOT)],
                   check=True, capture_output=True, text=True)
    (built,) = out.glob("accessward-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    where = tmp_path_factory.mktemp("venv") / "env"
    subprocess.run([sys.executable, "-m", "venv", str(where)], check=True)
    pip = [str(where / "bin" / "python"), "-m", "pip", "install", "--quiet", "--disable-pip-version-check"]
    subprocess.run([*pip, "--require-hashes", "-r", str(ROOT / "requirements" / "main.txt")], check=True)
    subprocess.run([*pip, "--no-deps", str(wheel)], check=True)
    yield where


def _clean_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if k not in ("PYTHONPATH", "ACCESSWARD_DATABASE_URL", "ACCESSWARD_CONFIG", "VIRTUAL_ENV")}


def test_the_wheel_holds_one_top_level_package(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
    top = {name.split("/", 1)[0] for name in names if not name.split("/", 1)[0].endswith(".dist-info")}
    assert top == {"accessward"}
    assert not any(name.startswith("tests/") or "/tests/" in name for name in names)
    # the simulators stay in the wheel; their migrations and templates too
    assert "accessward/sandbox/meta.py" in names
    assert "accessward/sync/migrations/env.py" in names
    shipped = {n.rsplit("/", 1)[1] for n in names
               if n.startswith("accessward/sync/migrations/versions/") and n.endswith(".py")}
    assert shipped == {p.name for p in (ROOT / "accessward/sync/migrations/versions").glob("*.py")}


def test_installed_import_names_are_accessward_only(venv: Path, tmp_path: Path) -> None:
    script = (
        "import importlib.metadata as m, json\n"
        "files = m.distribution('accessward').files\n"
        "print(json.dumps(sorted({str(f).split('/')[0] for f in files if not str(f).split('/')[0].endswith("
        "('.dist-info', '..'))} - {'bin'})))\n"
    )
    out = subprocess.run([str(venv / "bin" / "python"), "-c", script], cwd=tmp_path, env=_clean_env(),
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == '["accessward"]'
    # and none of the card's folder names leaks into site-packages as a package of its own
    for name in ("connectors", "sync", "reconcile", "reports", "sandbox"):
        probe = subprocess.run([str(venv / "bin" / "python"), "-c", f"import {name}"], cwd=tmp_path,
                               env=_clean_env(), capture_output=True, text=True)
        assert probe.returncode != 0, name


def test_installed_command_helps_inits_and_refuses_the_demo_without_its_extra(venv: Path, tmp_path: Path) -> None:
    cmd = str(venv / "bin" / "accessward")
    helped = subprocess.run([cmd, "--help"], cwd=tmp_path, env=_clean_env(), capture_output=True, text=True)
    assert helped.returncode == 0 and "sync" in helped.stdout
    init = subprocess.run([cmd, "-c", str(tmp_path / "accessward.toml"), "init"], cwd=tmp_path, env=_clean_env(),
                          capture_output=True, text=True)
    assert init.returncode == 0, init.stderr
    assert "[[identity_sources]]" in (tmp_path / "accessward.toml").read_text()
    demo = subprocess.run([cmd, "demo", "--dir", str(tmp_path / "demo")], cwd=tmp_path, env=_clean_env(),
                          capture_output=True, text=True)
    assert demo.returncode == 2
    assert "pip install 'accessward[demo]'" in " ".join(demo.stderr.split())


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.mark.postgres
def test_installed_serve_migrates_an_empty_postgresql_and_answers_healthz(
        venv: Path, tmp_path: Path, pg_database: str) -> None:
    port = _free_port()
    (tmp_path / "accessward.toml").write_text(f"[service]\nport = {port}\nsync_every_minutes = 0\n")
    env = _clean_env() | {"ACCESSWARD_DATABASE_URL": pg_database}
    proc = subprocess.Popen([str(venv / "bin" / "accessward"), "-c", str(tmp_path / "accessward.toml"), "serve"],
                            cwd=tmp_path, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline, health = time.monotonic() + 120, None
        while time.monotonic() < deadline and health is None and proc.poll() is None:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
            except httpx.TransportError:
                time.sleep(0.2)
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
    errors = proc.stderr.read() if proc.stderr else ""
    assert health is not None and health["status"] == "ok" and health["store"] == "ok", errors[-3000:]
    from sqlalchemy import create_engine, text

    engine = create_engine(pg_database)
    with engine.connect() as conn:
        version = conn.execute(text("select version_num from alembic_version")).scalar_one()
    engine.dispose()
    assert version  # the schema was migrated to a revision
