"""The compose demo without containers: docker/openldap's entrypoint on the real slapd, the simulators'
entry point (accessward.sandbox.serve_all) on its fixed ports, and ``accessward sync`` with
docker/accessward.toml (host names rewritten to loopback, Keycloak left out: it cannot run here).

This is what ``docker compose --profile demo up`` does inside its network, so it proves the sample
settings, the seed directory and the simulators agree (ids, tokens, ports, the reader account).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from accessward.sandbox.serve_all import PORTS
from tests.conftest import need_service

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
ENTRYPOINT = DOCKER / "openldap" / "entrypoint.sh"


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), 0.2).close()
        return True
    except OSError:
        return False


def _wait(ports: list[int], proc: subprocess.Popen[bytes], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline and proc.poll() is None:
        if all(_listening(p) for p in ports):
            return
        time.sleep(0.1)
    raise AssertionError(f"not listening on {ports} (exit {proc.poll()})")


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _free_offset() -> int:
    for _ in range(50):
        offset = random.randrange(10000, 40000, 10)
        if not any(_listening(p + offset) for p in [*PORTS.values(), 1389]):
            return offset
    raise AssertionError("no free port range")


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[int, Path]]:
    need_service("slapd")
    offset = _free_offset()
    env = {**os.environ, "LDAP_ADMIN_PASSWORD": "admin-pw", "LDAP_READER_PASSWORD": "reader-pw",
           "LDAP_DATA_DIR": str(tmp_path / "ldap"), "LDAP_SEED": str(DOCKER / "openldap" / "seed.ldif"),
           "LDAP_PORT": str(1389 + offset)}
    slapd = subprocess.Popen([str(ENTRYPOINT)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    sims = subprocess.Popen([sys.executable, "-m", "accessward.sandbox.serve_all", "--host", "127.0.0.1",
                             "--port-offset", str(offset)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        _wait([1389 + offset], slapd)
        _wait([p + offset for p in PORTS.values()], sims)
        (tmp_path / "ldap_reader_password").write_text("reader-pw\n")
        yield offset, tmp_path
    finally:
        _stop(sims)
        _stop(slapd)


@pytest.mark.slapd
def test_the_openldap_image_seeds_the_demo_staff_for_the_reader_only(world: tuple[int, Path]) -> None:
    offset, _tmp = world
    url = f"ldap://127.0.0.1:{1389 + offset}"
    search = ["ldapsearch", "-x", "-LLL", "-H", url, "-b", "dc=example,dc=com", "(objectClass=inetOrgPerson)", "uid"]
    reader = subprocess.run([*search, "-D", "cn=reader,dc=example,dc=com", "-w", "reader-pw"], capture_output=True,
                            text=True, timeout=30)
    assert sorted(re.findall(r"^uid: (\S+)", reader.stdout, re.M)) == [
        "alex.morgan", "dana.leaver", "jordan.lee", "priya.shah", "sam.rivera"]
    anonymous = subprocess.run(search, capture_output=True, text=True, timeout=30)
    assert "uid:" not in anonymous.stdout
    wrong = subprocess.run([*search, "-D", "cn=reader,dc=example,dc=com", "-w", "nope"], capture_output=True,
                           text=True, timeout=30)
    assert wrong.returncode == 49  # invalidCredentials
    config = (_tmp / "ldap" / "run" / "slapd.conf").read_text()
    assert "admin-pw" not in config and "{SSHA}" in config  # the password is stored hashed only


@pytest.mark.slapd
def test_the_compose_settings_sync_the_demo_world(world: tuple[int, Path]) -> None:
    offset, tmp = world
    text = (DOCKER / "accessward.toml").read_text()
    text = re.sub(r"\[\[identity_sources\]\]\nname = \"keycloak\".*?(?=\n\[\[)", "", text, flags=re.S)
    text = re.sub(r"//simulators:(\d+)", lambda m: f"//127.0.0.1:{int(m.group(1)) + offset}", text)
    text = text.replace("ldap://openldap:1389", f"ldap://127.0.0.1:{1389 + offset}")
    text = text.replace("/run/secrets/", f"{tmp}/").replace("/var/lib/accessward/reports", str(tmp / "reports"))
    assert 'type = "keycloak"' not in text and "simulators:" not in text
    config = tmp / "accessward.toml"
    config.write_text(text)
    compose_env = {"DEMO_META_TOKEN": "demo-meta-token", "DEMO_LINKEDIN_TOKEN": "demo-linkedin-token",
                   "DEMO_TIKTOK_TOKEN": "demo-tiktok-token", "DEMO_PINTEREST_TOKEN": "demo-pinterest-token",
                   "DEMO_SCIM_TOKEN": "demo-scim-token"}
    env = {k: v for k, v in os.environ.items() if not k.startswith("ACCESSWARD_")} | compose_env
    env["ACCESSWARD_DATABASE_URL"] = f"sqlite:///{tmp / 'accessward.db'}"
    done = subprocess.run([sys.executable, "-m", "accessward", "-c", str(config), "sync"], env=env, cwd=tmp,
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stdout + done.stderr
    people = subprocess.run([sys.executable, "-m", "accessward", "-c", str(config), "report", "access", "-f", "json"],
                            env=env, cwd=tmp, capture_output=True, text=True, timeout=120)
    assert people.returncode == 0, people.stderr
    rows = json.loads(people.stdout)
    rows = rows if isinstance(rows, list) else next(v for v in rows.values() if isinstance(v, list))
    systems = {str(r.get("system") or r.get("source") or "") for r in rows}
    assert {"meta", "linkedin", "tiktok", "pinterest"} <= {s.split(":")[0] for s in systems} | systems, systems
    assert any("dana" in json.dumps(r).lower() for r in rows)  # the leaver still holds access: a finding to come
