"""The console in a real headless Chromium, logging in through a real OpenID provider.

``console`` starts the demo world (a throwaway slapd, the network simulators, scim2-server), syncs
it, starts a review campaign, then serves the API and the console on a loopback port. ``oidc`` is
panva's ``oidc-provider`` (npm, installed by ``npm ci`` in tests/console/oidc) with four people
whose groups map to roles. ``browser`` is Debian's chromium through chromedriver (Selenium).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import need_service

HERE = Path(__file__).resolve().parent
OIDC_DIR = HERE / "oidc"
ARTIFACTS = HERE.parents[1] / "test-artifacts" / "console"
CLIENT_SECRET = "console-test-client-secret"

# login -> the IdP's claims (the devInteractions form takes any password for a known login)
ACCOUNTS = {
    "itlead": {"name": "IT lead", "email": "it.lead@example.com", "groups": ["aw-approvers"]},
    "ciso": {"name": "CISO", "email": "ciso@example.com", "groups": ["aw-approvers", "aw-auditors"]},
    "alex": {"name": "Alex Morgan", "email": "alex.morgan@example.com", "groups": ["aw-reviewers"]},
    "jordan": {"name": "Jordan Lee", "email": "jordan.lee@example.com", "groups": ["aw-hr"]},
    "nobody": {"name": "No Role", "email": "no.role@example.com", "groups": ["somewhere-else"]},
}

EXTRA_SETTINGS = """
[console]
issuer = "{issuer}"
client_id = "accessward"
client_secret = {{ env = "CONSOLE_OIDC_SECRET" }}
base_url = "{base_url}"
scopes = "openid email profile groups"
roles = {{ approver = ["aw-approvers"], auditor = ["aw-auditors"], reviewer = ["aw-reviewers"], hr = ["aw-hr"] }}

"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _wait_http(url: str, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            httpx.get(url, timeout=2)
            return
        except httpx.HTTPError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def npm_ready() -> bool:
    """``npm ci`` once (the Makefile's test target runs it too); False when node or npm is missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return False
    if not (OIDC_DIR / "node_modules" / "oidc-provider").is_dir():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=OIDC_DIR, check=True,
                       capture_output=True)
    return (OIDC_DIR / "node_modules" / "axe-core" / "axe.min.js").is_file()


@dataclass
class Console:
    url: str
    issuer: str
    directory: Path
    runtime: Any
    env: dict[str, str]

    def cli(self, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
        env = {**self.env, **({"ACCESSWARD_TOKEN": token} if token else {})}
        return subprocess.run([sys.executable, "-m", "accessward", *args], env=env, cwd=self.directory,
                              capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="package")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    need_service("slapd")
    need_service("node", npm_ready())
    from accessward.api.app import create_app
    from accessward.demo import running_world
    from accessward.runtime import Runtime
    from accessward.sandbox.server import start_app
    from accessward.settings import load_settings
    from accessward.sync.db import open_store

    directory = tmp_path_factory.mktemp("console-world")
    (directory / "reports").mkdir()
    app_port, oidc_port = free_port(), free_port()
    base_url, issuer = f"http://127.0.0.1:{app_port}", f"http://127.0.0.1:{oidc_port}"
    with contextlib.ExitStack() as stack:
        idp = subprocess.Popen(["node", "provider.mjs", str(oidc_port), f"{base_url}/auth/callback"], cwd=OIDC_DIR,
                               env={**os.environ, "OIDC_ACCOUNTS": json.dumps(ACCOUNTS),
                                    "OIDC_CLIENT_SECRET": CLIENT_SECRET},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        stack.callback(lambda: (idp.terminate(), idp.wait(10)))
        world, _states = stack.enter_context(running_world(directory))
        settings = directory / "accessward.toml"
        settings.write_text(world.settings + EXTRA_SETTINGS.format(issuer=issuer, base_url=base_url))
        env = {**os.environ, **world.env, "ACCESSWARD_CONFIG": str(settings), "ACCESSWARD_ACTOR": "console-test",
               "CONSOLE_OIDC_SECRET": CLIENT_SECRET}
        env.pop("ACCESSWARD_DATABASE_URL", None)
        env.pop("ACCESSWARD_TOKEN", None)
        saved = dict(os.environ)
        os.environ.update({k: v for k, v in env.items() if k.startswith(("DEMO_", "CONSOLE_"))})
        stack.callback(lambda: (os.environ.clear(), os.environ.update(saved)))
        c = Console(base_url, issuer, directory, None, env)
        for args in (["sync"], ["reconcile"], ["keys", "create", "--out", "accessward"],
                     ["review", "start", "quarterly-access"]):
            done = c.cli(*args)
            assert done.returncode == 0, (args, done.stdout, done.stderr)
        cfg = load_settings(settings)
        engine = open_store(cfg.store.url.replace("sqlite:///", f"sqlite:///{directory}/"))
        from accessward.sync import principals

        principals.sync_from_settings(engine, cfg)
        runtime = Runtime(cfg, directory, engine)
        stack.callback(runtime.close)
        stack.enter_context(start_app(create_app(runtime), port=app_port))
        _wait_http(f"{issuer}/.well-known/openid-configuration")
        c.runtime = runtime
        yield c


@pytest.fixture(scope="package")
def browser(console: Console) -> Iterator[Any]:
    need_service("chromium", Path("/usr/bin/chromium").exists() and Path("/usr/bin/chromedriver").exists())
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    downloads = ARTIFACTS / "downloads"
    shutil.rmtree(downloads, ignore_errors=True)
    downloads.mkdir(parents=True)
    options = webdriver.ChromeOptions()
    options.binary_location = "/usr/bin/chromium"
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900",
                "--disable-gpu", "--no-first-run"):
        options.add_argument(arg)
    options.add_experimental_option("prefs", {"download.default_directory": str(downloads),
                                              "download.prompt_for_download": False})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=options)
    driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(downloads)})
    driver.downloads = downloads
    try:
        yield driver
    finally:
        driver.quit()
