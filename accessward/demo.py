"""``accessward demo``: the whole job on the embedded default, with nothing outside this machine.

It starts a throwaway slapd seeded with a small staff directory (Dana Leaver has left), the
simulators of Meta, LinkedIn, TikTok and Pinterest and a real SCIM server (scim2-server), each
seeded with the same brand, writes a manual inventory for X and YouTube, and runs the same
commands a person would: sync, reconcile, report, apply (which stops at the revocation
threshold), approve, apply, sync, a second apply (an ended agency's business partnership shows
only once its page shares are gone, and is a manual step), sync, reconcile, report, an access review, a preview plan
that finds nothing left to revoke, and the auditor's evidence; it ends with the story in words.
Revocation is switched on for ``orphaned`` and ``agency`` in the demo's settings only, to show
the loop end to end; ``accessward init`` writes flag-only settings.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from accessward import exitcodes, ui
from accessward.sandbox import linkedin, meta, pinterest, scim, tiktok
from accessward.sandbox.server import start_app
from accessward.sandbox.slapd import SeedPerson, SlapdServer, people_ldif, slapd_available

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

INVENTORY = """\
network,resource_id,resource_name,account_id,account_name,email,role,level,verified_on
x,@northwindcoffee,Northwind on X,@alexmorgan,Alex Morgan,alex.morgan@example.com,Owner,admin,2026-10-01
x,@northwindcoffee,Northwind on X,@samrivera,Sam Rivera,sam.rivera@example.com,Delegate,full_publishing,2026-10-01
youtube,UC-northwind,Northwind TV,alex.morgan,Alex Morgan,alex.morgan@example.com,Owner,admin,2026-09-15
youtube,UC-northwind,Northwind TV,dana.leaver,Dana Leaver,dana.leaver@example.com,Manager,full_publishing,2026-09-15
"""

#: The directory and the four networks' simulators as settings: the part of the demo's settings that
#: ``tests/app/test_check.py`` runs too. ``@ENV@`` is the prefix of the environment variables holding their
#: secrets (:func:`network_env`); format the result with :func:`network_values`.
NETWORK_SOURCES = """\
[[identity_sources]]
name = "directory"
type = "ldap"
url = "{ldap_url}"
bind_dn = "{bind_dn}"
bind_password = {{ env = "@ENV@_LDAP_PASSWORD" }}
base_dn = "{base_dn}"

[[access_sources]]
name = "meta"
type = "meta"
base_url = "{meta_url}/v21.0"
business_id = "{meta_business}"
access_token = {{ env = "@ENV@_META_TOKEN" }}

[[access_sources]]
name = "linkedin"
type = "linkedin"
base_url = "{linkedin_url}/rest"
organization_id = "{linkedin_org}"
linkedin_version = "{linkedin_version}"
access_token = {{ env = "@ENV@_LINKEDIN_TOKEN" }}

[[access_sources]]
name = "tiktok"
type = "tiktok"
base_url = "{tiktok_url}/open_api/v1.3"
bc_id = "{tiktok_bc}"
access_token = {{ env = "@ENV@_TIKTOK_TOKEN" }}

[[access_sources]]
name = "pinterest"
type = "pinterest"
base_url = "{pinterest_url}/v5"
business_id = "{pinterest_business}"
access_token = {{ env = "@ENV@_PINTEREST_TOKEN" }}

"""


def network_sources(env_prefix: str) -> str:
    """:data:`NETWORK_SOURCES` with ``env_prefix`` for its environment variables (still to be formatted)."""
    return NETWORK_SOURCES.replace("@ENV@", env_prefix)


def network_env(env_prefix: str, ldap_password: str) -> dict[str, str]:
    """The secrets :func:`network_sources` names, as the simulators and the directory expect them."""
    return {f"{env_prefix}_LDAP_PASSWORD": ldap_password, f"{env_prefix}_META_TOKEN": meta.DEMO_TOKEN,
            f"{env_prefix}_LINKEDIN_TOKEN": linkedin.DEMO_TOKEN, f"{env_prefix}_TIKTOK_TOKEN": tiktok.DEMO_TOKEN,
            f"{env_prefix}_PINTEREST_TOKEN": pinterest.DEMO_TOKEN}


def network_values(slapd: SlapdServer, urls: Mapping[str, str], meta_business: str,
                   linkedin_version: str) -> dict[str, object]:
    """The values :data:`NETWORK_SOURCES` is formatted with: the directory's, and each simulator's URL and ids."""
    return dict(ldap_url=slapd.url, bind_dn=slapd.bind_dn, base_dn=slapd.base_dn,
                meta_url=urls["meta"], meta_business=meta_business,
                linkedin_url=urls["linkedin"], linkedin_org=linkedin.DEMO_ORG_ID, linkedin_version=linkedin_version,
                tiktok_url=urls["tiktok"], tiktok_bc=tiktok.DEMO_BC_ID,
                pinterest_url=urls["pinterest"], pinterest_business=pinterest.DEMO_BUSINESS_ID)


SETTINGS = """\
# Written by `accessward demo`: a throwaway slapd and the network simulators on loopback.
[store]
url = "sqlite:///accessward.db"

""" + network_sources("DEMO") + """\
[[access_sources]]
name = "social-suite"
type = "scim"
base_url = "{scim_url}"
token = {{ env = "DEMO_SCIM_TOKEN" }}
workspace_id = "northwind"
workspace_name = "Northwind publishing workspace"

[[access_sources]]
name = "x-youtube"
type = "manual"
path = "inventory.csv"

[[principals]]
id = "it-lead"
name = "IT lead"
email = "it.lead@example.com"

[[principals]]
id = "ciso"
name = "CISO"
email = "ciso@example.com"

[[principals]]
id = "alex"
name = "Alex Morgan"
email = "alex.morgan@example.com"

# A quarterly access review of who may publish on the main Facebook page and the Instagram account: the
# service starts it on 1 January, April, July and October; the demo starts it by hand.
[[reviews]]
name = "quarterly-access"
systems = ["meta"]
resources = ["meta:200000000000001", "meta:500000000000001"]
min_level = "can_reply"
reviewers = ["owner"]
owners = {{ "meta:200000000000001" = "alex.morgan@example.com", "meta:500000000000001" = "alex.morgan@example.com" }}
fallback = "priya.shah@example.com"
on_no_response = "keep"

[reports]
signing_key = {{ file = "accessward.key" }}

[policy]
max_revocations = 5
four_eyes = true

[[policy.agencies]]
name = "Brightside Agency"
sponsor = "alex.morgan@example.com"
partner_accounts = ["meta:partner:700000000000001", "tiktok:partner:7100000000000000099",
                    "pinterest:5497000000000011"]
email_domains = ["brightside.example"]
max_level = "full_publishing"
start = 2026-01-01
end = 2027-12-31

[[policy.agencies]]
name = "Old Pixel Studio"
partner_accounts = ["meta:partner:700000000000002", "pinterest:5497000000000012"]
end = 2026-06-30

# The demo switches revocation on for two rules to show the whole loop; new installs are flag-only.
[policy.rules.orphaned]
action = "revoke"

[policy.rules.agency]
action = "revoke"
"""


@dataclass
class World:
    settings: str
    env: dict[str, str]
    revocations: dict[str, int]


@contextlib.contextmanager
def running_world(directory: Path) -> Iterator[tuple[World, dict[str, object]]]:
    """Start the directory and every simulator; yield the settings text and the secrets to run it."""
    states: dict[str, object] = {
        "meta": meta.demo_state(), "linkedin": linkedin.demo_state(), "tiktok": tiktok.demo_state(),
        "pinterest": pinterest.demo_state(),
    }
    with contextlib.ExitStack() as stack:
        slapd = stack.enter_context(SlapdServer(base_dn="dc=example,dc=com"))
        slapd.start(people_ldif(STAFF))
        servers = {name: stack.enter_context(start_app(module.create_app(states[name])))  # type: ignore[attr-defined]
                   for name, module in (("meta", meta), ("linkedin", linkedin), ("tiktok", tiktok),
                                        ("pinterest", pinterest))}
        suite = stack.enter_context(scim.start_scim_server())
        scim.demo_users(suite)
        states["scim"] = suite
        li: linkedin.LinkedInState = states["linkedin"]  # type: ignore[assignment]
        mt: meta.MetaState = states["meta"]  # type: ignore[assignment]
        urls = {name: server.url for name, server in servers.items()}
        text = SETTINGS.format(**network_values(slapd, urls, mt.business_id, li.latest_version), scim_url=suite.url)
        env = {**network_env("DEMO", slapd.password), "DEMO_SCIM_TOKEN": scim.DEMO_TOKEN}
        (directory / "inventory.csv").write_text(INVENTORY)
        yield World(text, env, {}), states


def _step(title: str, args: list[str], env: dict[str, str], directory: Path) -> int:
    ui.out.rule(f"[bold]$ accessward {' '.join(args)}[/]  — {title}")
    return subprocess.call([sys.executable, "-m", "accessward", *args], env=env, cwd=directory)


def _personal_token(principal: str, env: dict[str, str], directory: Path, role: str = "approver") -> str:
    """A personal token of a demo principal (printed once on stdout by `token create`)."""
    args = ["token", "create", "--principal", principal, "--role", role, "--name", f"{principal}-demo"]
    ui.out.rule(f"[bold]$ accessward {' '.join(args)}[/]  — a personal token: decisions are recorded as theirs")
    done = subprocess.run([sys.executable, "-m", "accessward", *args], env=env, cwd=directory, capture_output=True,
                          text=True, check=True)
    return done.stdout.strip().splitlines()[-1]


_TODAY = datetime.now(UTC).date()
QUARTER = f"{_TODAY.year}-Q{(_TODAY.month - 1) // 3 + 1}"
# (title, arguments, accepted exit codes, whose personal token is in ACCESSWARD_TOKEN)
STEPS: list[tuple[str, list[str], tuple[int, ...], str | None]] = [
    ("pull staff from LDAP and access from every network", ["sync"], (0,), None),
    ("correlate accounts to people and evaluate the policy, before anything changes", ["reconcile"], (0,), None),
    ("who can act as the brand, before", ["report", "access", "-o", "reports/access-before.csv"], (0,), None),
    ("LinkedIn members carry no email: the IT lead links the leaver's by hand (report unmatched names the "
     "candidate)", ["link", "linkedin", linkedin.DEMO_DANA_URN, "--person", "E1002"], (0,), "it-lead"),
    ("the IT lead reconciles and plans: more revocations than max_revocations, so it stops", ["apply"],
     (exitcodes.NEEDS_APPROVAL,), "it-lead"),
    ("the IT lead cannot approve their own plan (four-eyes)", ["approve", "1"], (exitcodes.CONFIG,), "it-lead"),
    ("the CISO reviews the plan and approves it", ["approve", "1", "--by", "change CAB-42"], (0,), "ciso"),
    ("revoke through the outbox", ["apply", "--plan", "1"], (0, exitcodes.ACTION_FAILED), None),
    ("sync again: with its page and Instagram shares gone, Old Pixel Studio's business partnership shows",
     ["sync"], (0,), None),
    ("a second cycle: the partnership the first revealed is held as a manual step (it can hold ad accounts "
     "too)", ["apply"],
     (0, exitcodes.ACTION_FAILED), None),
    ("sync again: the platforms agree", ["sync"], (0,), None),
    ("the findings after: what is left is held back, needs a manual step, or is flag-only", ["reconcile"], (0,),
     None),
    ("who can act as the brand, after", ["report", "access", "-o", "reports/access-after.csv"], (0,), None),
    ("what was found and what became of it", ["report", "findings", "-o", "reports/findings.csv"], (0,), None),
    ("a quarterly access review starts (the service starts it on its schedule)",
     ["review", "start", "quarterly-access"], (0,), None),
    ("what the reviewers are asked, with a recommendation and its reason", ["review", "show", "quarterly-access"],
     (0,), None),
    ("Alex revokes the agency person's own login: Brightside works through its partner business",
     ["review", "decide", "quarterly-access", "--account", "Taylor", "--revoke", "-j",
      "Brightside staff work through the partner business, not personal logins"], (0,), "alex"),
    ("Alex reduces Sam on the main page to replying only",
     ["review", "decide", "quarterly-access", "--account", "Sam", "--resource", "Northwind Coffee", "--pending",
      "--reduce", "can_reply", "-j", "community management only since the Q3 reorganisation"], (0,), "alex"),
    ("Alex takes the recommendation for the rest of his items",
     ["review", "decide", "quarterly-access", "--pending", "--recommended", "-j", "still in the social team"], (0,),
     "alex"),
    ("closing: Priya did not answer for Alex's own access, so it is kept; the decisions go through the outbox",
     ["review", "close", "quarterly-access"], (0, exitcodes.NEEDS_APPROVAL), None),
    ("the campaign report", ["review", "report", "quarterly-access"], (0,), None),
    ("the campaign report for the auditors",
     ["review", "report", "quarterly-access", "-f", "csv", "-o", "reports/review.csv"], (0,), None),
    ("nothing the policy says to revoke is left (a reviewer's preview: no write token needed)",
     ["plan", "--format", "json", "-o", "reports/plan-after.json"], (0,), None),
    ("the audit trail is intact", ["audit", "verify"], (0,), None),
    # -- the auditor's side: a workbook, a page, and a signed evidence pack checked against the public key
    ("the findings as a workbook (typed cells, frozen header, filters)", ["report", "findings", "-f", "xlsx", "-o",
                                                           "reports/findings.xlsx"], (0,), None),
    ("the findings as a self-contained page (charts, sortable tables)", ["report", "findings", "-f", "html", "-o",
                                                                         "reports/findings.html"], (0,), None),
    ("a key to sign evidence packs", ["keys", "create", "--out", "accessward"], (0,), None),
    ("the quarter's evidence pack", ["report", "evidence", "--period", QUARTER, "-o", "reports/evidence.zip"], (0,),
     None),
    ("the auditor verifies it with the public key", ["report", "verify", "reports/evidence.zip", "--key",
                                                     "accessward.pub"], (0,), None),
]


CONSOLE_SETTINGS = """
# `accessward demo --serve`: the console with the demo's local login (loopback only, no password).
[[principals]]
id = "jordan"
name = "Jordan Lee"
email = "jordan.lee@example.com"
person_key = "E1005"

[console.demo_users]
"it-lead" = ["approver"]
ciso = ["approver", "auditor"]
alex = ["reviewer"]
jordan = ["hr", "service_desk"]
"""


def serve_console(directory: Path, env: dict[str, str], port: int) -> int:
    """Keep the demo world up and serve the console on localhost until Ctrl-C."""
    settings = directory / "accessward.toml"
    settings.write_text(settings.read_text() + CONSOLE_SETTINGS)
    server = subprocess.Popen([sys.executable, "-m", "accessward", "serve", "--host", "127.0.0.1", "--port",
                               str(port)], env=env, cwd=directory)
    ui.out.rule("[bold green]the console is up[/]")
    ui.out.print(f"Console:   http://127.0.0.1:{port}/  (demo login: it-lead, ciso, alex, jordan); Ctrl-C stops it")
    def stop(_signum: int, _frame: object) -> None:
        raise KeyboardInterrupt  # SIGTERM like Ctrl-C: the world's servers are stopped on the way out

    previous = signal.signal(signal.SIGTERM, stop)
    try:
        return server.wait()
    except KeyboardInterrupt:
        server.terminate()
        server.wait(15)
        return exitcodes.OK
    finally:
        signal.signal(signal.SIGTERM, previous)


def run_demo(directory: Path, serve_port: int | None = None) -> int:
    if not slapd_available():
        ui.err.print("[red]error[/]: slapd is not installed; run `make demo` (it installs Debian's slapd)")
        return exitcodes.ERROR
    directory = directory.resolve()
    if directory.exists():
        shutil.rmtree(directory)
    (directory / "reports").mkdir(parents=True)
    with running_world(directory) as (world, _states):
        (directory / "accessward.toml").write_text(world.settings)
        env = {**os.environ, **world.env, "ACCESSWARD_CONFIG": str(directory / "accessward.toml"),
               "ACCESSWARD_ACTOR": "demo"}
        env.pop("ACCESSWARD_DATABASE_URL", None)
        env.pop("ACCESSWARD_TOKEN", None)
        personal = {who: _personal_token(who, env, directory) for who in ("it-lead", "ciso")}
        personal["alex"] = _personal_token("alex", env, directory, role="reviewer")
        for title, args, ok, who in STEPS:
            step_env = {**env, "ACCESSWARD_TOKEN": personal[who]} if who else env
            if args[0] == "plan":  # a preview from the store: no write token at all
                step_env = {k: v for k, v in step_env.items() if k not in world.env or k == "DEMO_LDAP_PASSWORD"}
            code = _step(title, args, step_env, directory)
            if code not in ok:
                ui.err.print(f"[red]step failed with exit code {code}[/]")
                return exitcodes.ERROR
        if serve_port is not None:
            return serve_console(directory, env, serve_port)
    ui.out.rule("[bold green]demo finished[/]")
    from accessward.demo_story import story

    for line in story(directory / "reports", width=ui.out.width):
        ui.out.print(line, markup=False, highlight=False)
    ui.out.print()
    ui.out.print(f"Settings:  {directory / 'accessward.toml'}")
    ui.out.print(f"Store:     {directory / 'accessward.db'}")
    ui.out.print(f"Reports:   {directory / 'reports'} (access-before.csv, access-after.csv, findings.csv, "
                 "findings.xlsx, findings.html, review.csv, evidence.zip)")
    ui.out.print(f"Try:       .venv/bin/accessward -c {directory / 'accessward.toml'} report findings -f json")
    return exitcodes.OK
