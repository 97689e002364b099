"""``accessward demo``: the whole job on the embedded default, with nothing outside this machine.

It starts a throwaway slapd seeded with a small staff directory (one person has left), the Meta
Graph simulator seeded with a brand business where the leaver still manages the main page,
writes a settings file beside a fresh SQLite store, and runs the same commands a person would:
sync, report, apply, report. Revocation is switched on for the ``orphaned`` rule in the demo's
settings only, so the loop is shown end to end; ``accessward init`` writes flag-only settings.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
from pathlib import Path

from accessward import exitcodes, ui
from sandbox.meta import create_app, demo_state
from sandbox.server import start_app
from sandbox.slapd import SeedPerson, SlapdServer, people_ldif, slapd_available

STAFF = (
    SeedPerson("alex.morgan", "Alex", "Morgan", mail="alex.morgan@example.com", employee_number="E1001",
               department="Brand"),
    SeedPerson("dana.leaver", "Dana", "Leaver", mail="dana.leaver@example.com", employee_number="E1002",
               department="Brand", status="terminated"),
    SeedPerson("sam.rivera", "Sam", "Rivera", mail="sam.rivera@example.com", employee_number="E1003",
               department="Community"),
    SeedPerson("priya.shah", "Priya", "Shah", mail="priya.shah@example.com", employee_number="E1004",
               department="Insights"),
    SeedPerson("jordan.lee", "Jordan", "Lee", mail="jordan.lee@example.com", employee_number="E1005",
               department="People"),
)

SETTINGS = """\
# Written by `accessward demo`: a throwaway slapd and the Meta simulator on loopback.
[store]
url = "sqlite:///accessward.db"

[[identity_sources]]
name = "demo-ldap"
type = "ldap"
url = "{ldap_url}"
bind_dn = "{bind_dn}"
bind_password = {{ env = "ACCESSWARD_DEMO_LDAP_PASSWORD" }}
base_dn = "{base_dn}"

[[access_sources]]
name = "meta"
type = "meta"
base_url = "{meta_url}/v21.0"
business_id = "{business_id}"
access_token = {{ env = "ACCESSWARD_DEMO_META_TOKEN" }}

[policy]
max_revocations = 10

# The demo switches revocation on to show the whole loop. New installs start flag-only.
[policy.rules.orphaned]
action = "revoke"
severity = "high"
"""


def _step(title: str, args: list[str], env: dict[str, str], directory: Path, ok: tuple[int, ...] = (0,)) -> int:
    ui.out.rule(f"[bold]$ accessward {' '.join(args)}[/]  — {title}")
    code = subprocess.call([sys.executable, "-m", "accessward", *args], env=env, cwd=directory)
    if code not in ok:
        ui.err.print(f"[red]step failed with exit code {code}[/]")
    return code


def run_demo(directory: Path) -> int:
    if not slapd_available():
        ui.err.print("[red]error[/]: slapd is not installed; run `make demo` (it installs Debian's slapd)")
        return exitcodes.ERROR
    directory = directory.resolve()
    if directory.exists():
        shutil.rmtree(directory)
    directory.mkdir(parents=True)
    token = secrets.token_hex(16)
    state = demo_state(token=token)
    with SlapdServer(base_dn="dc=example,dc=com") as slapd, start_app(create_app(state)) as meta:
        slapd.start(people_ldif(STAFF))
        (directory / "accessward.toml").write_text(SETTINGS.format(
            ldap_url=slapd.url, bind_dn=slapd.bind_dn, base_dn=slapd.base_dn, meta_url=meta.url,
            business_id=state.business_id,
        ))
        env = {**os.environ, "ACCESSWARD_CONFIG": str(directory / "accessward.toml"),
               "ACCESSWARD_DEMO_LDAP_PASSWORD": slapd.password, "ACCESSWARD_DEMO_META_TOKEN": token,
               "ACCESSWARD_ACTOR": "demo"}
        env.pop("ACCESSWARD_DATABASE_URL", None)
        steps: list[tuple[str, list[str], tuple[int, ...]]] = [
            ("pull staff from LDAP and access from Meta", ["sync"], (0,)),
            ("who can act as the brand, before", ["report", "access", "-o", "reports/access-before.csv"], (0,)),
            ("reconcile, plan and revoke within the thresholds", ["apply"], (0, exitcodes.ACTION_FAILED)),
            ("sync again: the platform agrees", ["sync"], (0,)),
            ("who can act as the brand, after", ["report", "access", "-o", "reports/access-after.csv"], (0,)),
            ("what was found and what became of it", ["report", "findings", "-o", "reports/findings.csv"], (0,)),
            ("the audit trail is intact", ["audit", "verify"], (0,)),
        ]
        for title, args, ok in steps:
            if _step(title, args, env, directory, ok) not in ok:
                return exitcodes.ERROR
        removed = [c for c in state.revoke_calls]
    ui.out.rule("[bold green]demo finished[/]")
    ui.out.print(f"The Meta simulator received {len(removed)} revocation request(s).")
    ui.out.print(f"Settings:  {directory / 'accessward.toml'}")
    ui.out.print(f"Store:     {directory / 'accessward.db'}")
    ui.out.print(f"Reports:   {directory / 'reports'} (access-before.csv, access-after.csv, findings.csv)")
    ui.out.print(f"Try:       .venv/bin/accessward -c {directory / 'accessward.toml'} report access -f json")
    return exitcodes.OK
