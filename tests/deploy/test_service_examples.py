"""deploy/systemd and deploy/kubernetes: the unit verifies, the manifests hang together, secrets are files.

``systemd-analyze verify`` (systemd 252 here) checks the unit; it exits 0 even on an unknown key or
a bad value and only reports them on stderr, so the test asserts an empty stderr. ``systemd-analyze
security --offline`` scores the hardening. The Kubernetes manifests are checked structurally (no
cluster here): two replicas sharing PostgreSQL, probes on /healthz at the container's port, the
Service selecting the pods, and every secret the settings read is a key of the mounted Secret.
"""

from __future__ import annotations

import configparser
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from accessward.settings import SecretRef, SettingsError, load_settings
from accessward.sync import db
from tests.conftest import need_service
from tests.deploy.test_compose import secret_refs

ROOT = Path(__file__).resolve().parents[2]
UNIT = ROOT / "deploy" / "systemd" / "accessward.service"
K8S = ROOT / "deploy" / "kubernetes" / "accessward.yaml"


def unit() -> dict[str, list[tuple[str, str]]]:
    sections: dict[str, list[tuple[str, str]]] = {}
    current = ""
    for raw in UNIT.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("["):
            current = line.strip("[]")
            sections[current] = []
        else:
            key, _, value = line.partition("=")
            sections[current].append((key, value))
    return sections


def service(key: str) -> list[str]:
    return [v for k, v in unit()["Service"] if k == key]


def test_the_unit_is_hardened() -> None:
    assert service("DynamicUser") == ["yes"] or service("User")
    assert service("ProtectSystem") == ["strict"] and service("NoNewPrivileges") == ["yes"]
    assert service("StateDirectory") == ["accessward"] and service("CapabilityBoundingSet") == [""]
    for key in ("ProtectHome", "PrivateTmp", "PrivateDevices", "RestrictSUIDSGID", "LockPersonality"):
        assert service(key) == ["yes"], key
    assert not any(re.search(r"(?i)(password|secret|token)=", e) for e in service("Environment"))


def test_every_credential_the_settings_read_is_loaded_by_the_unit() -> None:
    loaded = {v.split(":", 1)[0] for v in service("LoadCredential")}
    settings = load_settings(ROOT / "deploy" / "systemd" / "accessward.toml")
    refs = secret_refs(settings)
    assert refs and all(r.credential for r in refs), "the systemd sample takes every secret from a credential"
    assert {r.credential for r in refs} <= loaded
    env = dict(e.split("=", 1) for e in service("Environment"))
    assert env["PGPASSFILE"] == "%d/pgpass" and "pgpass" in loaded  # the store password is a credential too
    assert "@" in env[db.ENV_URL] and ":" not in env[db.ENV_URL].split("//", 1)[1].split("@")[0]
    assert env["ACCESSWARD_CONFIG"] == "/etc/accessward/accessward.toml"


def test_a_credential_reference_reads_the_credentials_directory(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "ldap-bind-password").write_text("s3cret\n")
    ref = SecretRef(credential="ldap-bind-password")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(tmp_path))
    assert ref.resolve() == "s3cret" and str(ref) == "credential:ldap-bind-password"
    monkeypatch.delenv("CREDENTIALS_DIRECTORY")
    with pytest.raises(SettingsError, match="CREDENTIALS_DIRECTORY is not set"):
        ref.resolve()
    with pytest.raises(ValueError, match="exactly one"):
        SecretRef(credential="x", env="Y")
    with pytest.raises(ValueError):
        SecretRef(credential="../etc/shadow")  # a name in the directory, never a path out of it


def test_systemd_analyze_verify_accepts_the_unit(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    need_service("systemd-analyze", analyze is not None)  # skips locally, fails with CI=true
    assert analyze is not None
    # verify checks that ExecStart's binary exists: point it at this checkout's entry point
    exe = Path(sys.executable).with_name("accessward")
    copy = tmp_path / "accessward.service"
    copy.write_text(UNIT.read_text().replace("/opt/accessward/venv/bin/accessward", str(exe)))
    done = subprocess.run([analyze, "verify", str(copy)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stderr.strip() == "", done.stderr
    bad = tmp_path / "bad.service"
    bad.write_text(copy.read_text().replace("ProtectSystem=strict", "ProtectSystem=strictly"))
    rejected = subprocess.run([analyze, "verify", str(bad)], capture_output=True, text=True, timeout=120)
    assert "ignoring: strictly" in rejected.stderr  # verify does report what it ignores
    score = subprocess.run([analyze, "security", "--offline=yes", str(copy)], capture_output=True, text=True,
                           timeout=120)
    exposure = re.search(r"Overall exposure level for accessward\.service: ([\d.]+)", score.stdout + score.stderr)
    assert exposure and float(exposure.group(1)) < 2.0, score.stdout[-500:]


def k8s() -> dict[str, dict[str, Any]]:
    return {doc["kind"]: doc for doc in yaml.safe_load_all(K8S.read_text()) if doc}


def test_the_kubernetes_deployment_runs_two_replicas_with_probes_on_healthz() -> None:
    docs = k8s()
    assert set(docs) == {"ConfigMap", "Deployment", "Service"}
    for doc in docs.values():
        assert doc["apiVersion"] in ("v1", "apps/v1") and doc["metadata"]["name"].startswith("accessward")
    deploy = docs["Deployment"]["spec"]
    assert deploy["replicas"] == 2
    labels = deploy["template"]["metadata"]["labels"]
    assert deploy["selector"]["matchLabels"].items() <= labels.items()
    pod = deploy["template"]["spec"]
    (container,) = pod["containers"]
    ports = {p["name"]: p["containerPort"] for p in container["ports"]}
    assert f'"--port", "{ports["http"]}"' in str(container["args"]).replace("'", '"')
    for probe in ("livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"] == {"path": "/healthz", "port": "http"}
    assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] == 10001
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["securityContext"]["readOnlyRootFilesystem"] is True
    svc = docs["Service"]["spec"]
    assert svc["selector"].items() <= labels.items() and svc["ports"][0]["targetPort"] == "http"


def test_kubernetes_secrets_are_files_the_settings_and_the_store_url_read(tmp_path: Path) -> None:
    docs = k8s()
    pod = docs["Deployment"]["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    secret_dir = mounts[next(n for n, v in volumes.items() if "secret" in v)]
    config_dir = mounts[next(n for n, v in volumes.items() if "configMap" in v)]
    env = {e["name"]: e["value"] for e in container["env"]}
    assert not any("valueFrom" in e for e in container["env"]), "secrets as files, not environment variables"
    assert env["ACCESSWARD_CONFIG"] == f"{config_dir}/accessward.toml"
    assert env[db.ENV_URL_FILE].startswith(secret_dir + "/")
    for toml_name, text in docs["ConfigMap"]["data"].items():
        path = Path(config_dir) / toml_name
        local = tmp_path / toml_name
        local.write_text(text)
        settings = load_settings(local)
        refs = secret_refs(settings)
        assert refs and all(r.file and r.file.startswith(secret_dir + "/") for r in refs), path
    mode = volumes["secrets"]["secret"]["defaultMode"]
    assert mode & 0o007 == 0, "secret files are not world-readable"
    assert pod["securityContext"]["fsGroup"] == pod["securityContext"]["runAsGroup"]


def test_the_database_url_can_come_from_a_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "database-url").write_text("postgresql+psycopg://a:b@db/accessward\n")
    monkeypatch.delenv(db.ENV_URL, raising=False)
    monkeypatch.setenv(db.ENV_URL_FILE, str(tmp_path / "database-url"))
    assert db.resolve_url("sqlite:///x.db") == "postgresql+psycopg://a:b@db/accessward"
    monkeypatch.setenv(db.ENV_URL, "sqlite:///env.db")
    assert db.resolve_url(None) == "sqlite:///env.db"  # the plain variable still wins


def test_unit_parses_as_ini() -> None:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.read_string(UNIT.read_text())
    assert parser.has_section("Install") and parser.get("Install", "WantedBy") == "multi-user.target"
