"""`make demo` installs only what the demo uses; `make test` what the tests use (Debian packages)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _would_install(mode: str, tmp_path: Path) -> list[str]:
    # a dpkg-query that knows no package, and no initdb: as on a fresh machine
    fake = tmp_path / "bin"
    fake.mkdir(exist_ok=True)
    (fake / "dpkg-query").write_text("#!/bin/sh\nexit 1\n")
    (fake / "dpkg-query").chmod(0o755)
    env = os.environ | {"PATH": f"{fake}:/usr/bin:/bin"}
    out = subprocess.run(["bash", str(ROOT / "scripts" / "system-deps.sh"), mode, "--dry-run"], env=env,
                         capture_output=True, text=True, check=True).stdout
    return out.split()


def test_the_demo_installs_slapd_only(tmp_path: Path) -> None:
    assert _would_install("demo", tmp_path) == ["slapd"]


def test_the_tests_install_their_servers_and_the_browser(tmp_path: Path) -> None:
    wanted = _would_install("test", tmp_path)
    for pkg in ("slapd", "ldap-utils", "samba", "samba-ad-dc", "samba-ad-provision", "chromium", "chromium-driver"):
        assert pkg in wanted


def test_services_are_held_back_while_installing_and_disabled_after() -> None:
    script = (ROOT / "scripts" / "system-deps.sh").read_text()
    assert "policy-rc.d" in script and "exit 101" in script
    assert "update-rc.d -f \"$unit\" disable" in script and "systemctl disable --now" in script
