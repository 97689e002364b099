"""docker/compose.yaml: valid against the published Compose specification, and consistent with the app.

The schema is the Compose Specification's own (compose-spec/compose-spec, schema/compose-spec.json,
vendored in tests/deploy/vendor/ with its Apache-2.0 licence). No container runtime can pull images
in CI, so this is what proves the file would start: every environment variable the Accessward
containers get is one the program reads (or one the mounted settings reference), the settings it
mounts load with ``load_settings``, every secret file they name is mounted, no host port is
published twice, and ``.env.example`` holds every variable compose requires.
"""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import typer
import yaml
from pydantic import BaseModel

from accessward.cli import app
from accessward.sandbox.serve_all import PORTS
from accessward.settings import SecretRef, load_settings
from accessward.sync import db

ROOT = Path(__file__).resolve().parents[2]
DOCKER = ROOT / "docker"
SCHEMA = Path(__file__).parent / "vendor" / "compose-spec.json"


def compose() -> dict[str, Any]:
    return dict(yaml.safe_load((DOCKER / "compose.yaml").read_text()))


def accessward_services(spec: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The services that run the ``accessward`` entry point (the app and its one-shot demo sync)."""
    return {name: svc for name, svc in spec["services"].items()
            if str(svc.get("image", "")).startswith("accessward:") and "entrypoint" not in svc}


def program_environment() -> set[str]:
    """Every environment variable the program itself reads (not a secret reference)."""
    command = typer.main.get_command(app)
    envvars = {p.envvar for p in command.params if isinstance(getattr(p, "envvar", None), str)}
    return envvars | {db.ENV_URL, db.ENV_URL_FILE, "ACCESSWARD_ACTOR", "ACCESSWARD_TOKEN"}


def secret_refs(node: Any) -> list[SecretRef]:
    """Every secret reference anywhere in the loaded settings."""
    found: list[SecretRef] = []
    if isinstance(node, SecretRef):
        return [node]
    if isinstance(node, BaseModel):
        for name in type(node).model_fields:
            found += secret_refs(getattr(node, name))
    elif isinstance(node, list | tuple):
        for item in node:
            found += secret_refs(item)
    elif isinstance(node, dict):
        for item in node.values():
            found += secret_refs(item)
    return found


def test_compose_file_is_valid_against_the_compose_specification_schema() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose()), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_schema_check_rejects_what_compose_rejects() -> None:
    """The vendored schema is strict: an unknown service key (a typo) fails, as `docker compose config` would."""
    spec = compose()
    spec["services"]["accessward"]["port"] = ["8080:8080"]
    validator = jsonschema.Draft7Validator(json.loads(SCHEMA.read_text()))
    assert any("port" in e.message for e in validator.iter_errors(spec))


def test_the_required_services_and_the_demo_profile() -> None:
    services = compose()["services"]
    assert {"accessward", "postgres", "openldap", "keycloak", "simulators", "demo-sync"} <= set(services)
    assert services["accessward"]["command"][0] == "serve"
    assert services["simulators"]["profiles"] == ["demo"] and services["demo-sync"]["profiles"] == ["demo"]
    assert all("profiles" not in services[name] for name in ("accessward", "postgres", "openldap", "keycloak"))
    assert "image" not in services["openldap"] or not services["openldap"]["image"].startswith("bitnami/")
    assert services["openldap"]["build"]["context"] == "./openldap"
    assert services["simulators"]["build"]["target"] == "demo"
    assert services["accessward"]["build"]["target"] == "production"
    commands = typer.main.get_command(app).commands  # type: ignore[attr-defined]
    for svc in accessward_services(compose()).values():
        command = commands[svc["command"][0]]
        options = {o for p in command.params for o in getattr(p, "opts", [])}
        flags = [w for w in svc["command"][1:] if w.startswith("--")]
        assert set(flags) <= options, f"{svc['command']}: unknown option(s) {set(flags) - options}"


def test_no_two_services_publish_the_same_host_port() -> None:
    published: dict[str, str] = {}
    for name, svc in compose()["services"].items():
        for port in svc.get("ports", []):
            host = str(port).rsplit(":", 1)[0].split(":")[-1] if ":" in str(port) else str(port)
            assert host not in published, f"{name} and {published[host]} both publish host port {host}"
            published[host] = name
    assert published["8080"] == "accessward" and published["8081"] == "keycloak"


def test_every_environment_variable_passed_to_accessward_exists_and_the_mounted_settings_load() -> None:
    spec = compose()
    for name, svc in accessward_services(spec).items():
        env = dict(svc["environment"])
        mounts = [v.split(":") for v in svc["volumes"] if str(v).startswith("./")]
        config = [(src, dst) for src, dst, *_ in mounts if dst == env["ACCESSWARD_CONFIG"]]
        assert config, f"{name}: nothing is mounted at ACCESSWARD_CONFIG={env['ACCESSWARD_CONFIG']}"
        source = DOCKER / config[0][0]
        assert source.is_file(), f"{source} must exist as a file (Docker would mount a directory in its place)"
        settings = load_settings(source)
        tomllib.loads(source.read_text())
        refs = secret_refs(settings)
        assert refs, "the sample settings take their secrets by reference"
        env_refs = {r.env for r in refs if r.env}
        unknown = set(env) - program_environment() - env_refs
        assert not unknown, f"{name}: compose passes variables nothing reads: {sorted(unknown)}"
        missing = env_refs - set(env)
        assert not missing, f"{name}: the settings reference variables compose does not pass: {sorted(missing)}"
        mounted = {f"/run/secrets/{s}" for s in svc["secrets"]}
        for ref in refs:
            if ref.file:
                assert ref.file in mounted, f"{name}: {ref.file} is not a mounted secret"
                assert Path(ref.file).name in spec["secrets"]
        assert db.ENV_URL in env and env[db.ENV_URL].startswith("postgresql+psycopg://")


def test_the_settings_point_at_the_services_and_the_simulators_fixed_ports() -> None:
    settings = load_settings(DOCKER / "accessward.toml")
    services = compose()["services"]
    urls = [getattr(s, "url", None) or getattr(s, "server_url", None) or getattr(s, "base_url", "")
            for s in [*settings.identity_sources, *settings.access_sources]]
    hosts = {re.sub(r"^\w+://([^:/]+).*", r"\1", u) for u in urls}
    assert hosts <= set(services), hosts - set(services)
    sim_ports = {int(m) for u in urls for m in re.findall(r"//simulators:(\d+)", u)}
    assert sim_ports == set(PORTS.values())


def test_env_example_holds_every_variable_compose_requires() -> None:
    text = (DOCKER / "compose.yaml").read_text()
    required = set(re.findall(r"\$\{([A-Z0-9_]+)(?::?[-?][^}]*)?\}", text))
    example = dict(line.split("=", 1) for line in (DOCKER / ".env.example").read_text().splitlines()
                   if line and not line.startswith("#"))
    assert required <= set(example), required - set(example)
    for secret in compose()["secrets"].values():
        assert secret["environment"] in example


def test_the_keycloak_realm_import_has_a_user_with_otp_and_only_placeholders_for_secrets() -> None:
    keycloak = compose()["services"]["keycloak"]
    mount = next(v for v in keycloak["volumes"] if "northwind-realm.json" in v)
    realm = json.loads((DOCKER / mount.split(":")[0]).read_text())
    settings = load_settings(DOCKER / "accessward.toml")
    source = next(s for s in settings.identity_sources if s.type == "keycloak")
    assert realm["realm"] == source.realm  # type: ignore[union-attr]
    client = next(c for c in realm["clients"] if c["clientId"] == source.client_id)  # type: ignore[union-attr]
    assert client["serviceAccountsEnabled"] and not client["publicClient"]
    sa = next(u for u in realm["users"] if u.get("serviceAccountClientId") == client["clientId"])
    assert {"view-users", "query-users", "manage-users"} <= set(sa["clientRoles"]["realm-management"])
    otp = [u["username"] for u in realm["users"] if any(c["type"] == "otp" for c in u.get("credentials", []))]
    assert otp, "a demo user enrolled in OTP"
    placeholders = set(re.findall(r"\$\{([A-Z0-9_]+)\}", json.dumps(realm)))
    assert client["secret"].startswith("${") and placeholders <= set(keycloak["environment"])
    for user in realm["users"]:
        for cred in user.get("credentials", []):
            if cred["type"] == "password":
                assert re.fullmatch(r"\$\{[A-Z0-9_]+\}", cred["value"])


@pytest.mark.parametrize("path", ["accessward.toml", "compose.yaml", ".env.example"])
def test_sample_files_carry_no_real_looking_secret(path: str) -> None:
    text = (DOCKER / path).read_text()
    assert not re.search(r"(?i)(password|secret)\s*=\s*\"[^\"]+\"", text)
    if path == ".env.example":
        assert all(v.startswith("change-me") for k, v in
                   (line.split("=", 1) for line in text.splitlines() if line and not line.startswith("#")))
