"""The evidence pack verifies, and fails on any change: a file, the manifest, the signature, another key."""

from __future__ import annotations

import base64
import json
import zipfile
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from typer.testing import CliRunner

from accessward.cli import app
from accessward.connectors.records import Level, PersonStatus
from accessward.reconcile.policy import PolicySettings
from accessward.reconcile.run import reconcile
from accessward.reports import evidence, keys
from accessward.reports.pack_members import MEMBERS, PACK_REPORTS, redact
from accessward.sync.clock import utcnow
from accessward.sync.runner import sync_access, sync_identity
from tests.fakes import FakeAccess, FakeIdentity, person

SECRET = "s3cr3t-token-value-4711"
SETTINGS = {
    "store": {"url": f"postgresql://accessward:{SECRET}@db.example/accessward"},
    "access_sources": [{"name": "meta", "type": "meta", "access_token": {"env": "META_TOKEN", "file": None}}],
    "service": {"hr_webhook_secret": {"env": None, "file": "/run/secrets/hr"}},
    "reports": {"directory": "reports", "signing_key": {"file": "accessward.key", "env": None}},
}


@pytest.fixture
def store(sqlite_engine):
    sync_identity(sqlite_engine, FakeIdentity(people=[person("ann"), person("dana", status=PersonStatus.terminated)]))
    sync_access(sqlite_engine, FakeAccess(grants=[("ann", "page", "MANAGE", Level.admin),
                                                  ("dana", "page", "MANAGE", Level.admin)]))
    reconcile(sqlite_engine, PolicySettings())
    return sqlite_engine


def this_quarter() -> evidence.Period:
    today = utcnow()
    return evidence.period(f"{today.year}-Q{(today.month - 1) // 3 + 1}")


@pytest.fixture
def pack(store, tmp_path):
    key = Ed25519PrivateKey.generate()
    path = tmp_path / "pack.zip"
    built = evidence.build(store, path, this_quarter(), key, SETTINGS)
    return path, key, built


def rewrite(src: Path, dst: Path, change) -> Path:
    """Copy a zip member by member, letting ``change(name, data)`` return new bytes (or None to drop it)."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            data = change(info.filename, zin.read(info.filename))
            if data is not None:
                zout.writestr(info.filename, data)
    return dst


def test_periods():
    q3 = evidence.period("2026-Q3")
    assert (q3.since, q3.until) == (datetime(2026, 7, 1), datetime(2026, 10, 1))
    assert evidence.period("2026-Q4").until == datetime(2027, 1, 1)
    assert evidence.period("2026-02").until == datetime(2026, 3, 1)
    span = evidence.period(since="2026-07-01", until="2026-07-31")
    assert span.until == datetime(2026, 8, 1)
    with pytest.raises(ValueError):
        evidence.period("2026-Q5")


def test_the_pack_holds_every_report_the_audit_trail_settings_version_and_a_signed_manifest(pack):
    path, key, built = pack
    result = evidence.verify(path, public_key=key.public_key())
    assert result.ok, result.problems
    with zipfile.ZipFile(path) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read("manifest.json"))
        settings = zf.read("settings.json").decode()
        chain = json.loads(zf.read("audit/chain.json"))
        findings = zf.read("reports/findings.csv").decode()
    assert {f"reports/{n}.csv" for n in PACK_REPORTS} <= names
    assert {"reports/evidence.xlsx", "reports/evidence.html", "reports/evidence.pdf", "audit/events.jsonl",
            "audit/chain.json", "settings.json", "version.json", "manifest.json", "manifest.sig"} <= names
    assert {f["path"] for f in manifest["files"]} == names - {"manifest.json", "manifest.sig", "signer.pub"}
    assert manifest["key_fingerprint"] == keys.fingerprint(key.public_key()) == built.fingerprint
    assert manifest["members"] == list(MEMBERS)
    assert chain["verified"] is True and chain["head"] and chain["events"] >= chain["period_events"] > 0
    assert SECRET not in settings and "META_TOKEN" not in settings and "/run/secrets/hr" not in settings
    assert "db.example" in settings, "the rest of the settings is kept"
    assert '"orphaned"' in findings and '"critical"' in findings


def test_redaction():
    out = redact({"a": {"env": "X", "file": None}, "url": "ldaps://cn:pw@host/", "bind_password": "raw",
                  "name": "meta"})
    assert out == {"a": "(secret removed)", "url": "ldaps://cn:(secret removed)@host/",
                   "bind_password": "(secret removed)", "name": "meta"}


def test_any_change_fails(pack, tmp_path):
    path, key, _ = pack
    public = key.public_key()

    def fails(changed: Path, expect: str) -> None:
        result = evidence.verify(changed, public_key=public)
        assert not result.ok and any(expect in p for p in result.problems), result.problems

    fails(rewrite(path, tmp_path / "file.zip", lambda n, d: d.replace(b"dana", b"dina")
                  if n == "reports/findings.csv" else d), "reports/findings.csv: SHA-256 differs")
    fails(rewrite(path, tmp_path / "gone.zip", lambda n, d: None if n == "reports/actions.csv" else d),
          "reports/actions.csv: listed in the manifest but missing")
    added = rewrite(path, tmp_path / "added.zip", lambda n, d: d)
    with zipfile.ZipFile(added, "a") as zf:
        zf.writestr("reports/extra.csv", "planted")
    fails(added, "reports/extra.csv: in the zip but not in the manifest")

    def edit_manifest(name: str, data: bytes) -> bytes:
        if name != "manifest.json":
            return data
        manifest = json.loads(data)
        manifest["files"] = [f for f in manifest["files"] if f["path"] != "reports/findings.csv"]
        return json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"

    fails(rewrite(path, tmp_path / "manifest.zip", edit_manifest), "signature does not verify")

    def flip(name: str, data: bytes) -> bytes:
        if name != "manifest.sig":
            return data
        raw = bytearray(base64.b64decode(data))
        raw[0] ^= 1
        return base64.b64encode(bytes(raw))

    fails(rewrite(path, tmp_path / "sig.zip", flip), "signature does not verify")


def test_a_pack_re_signed_with_another_key_fails(pack, tmp_path):
    path, key, _ = pack
    other = Ed25519PrivateKey.generate()

    def resign(name: str, data: bytes) -> bytes:
        if name == "reports/findings.csv":
            return b"nothing to see"
        return data

    forged = rewrite(path, tmp_path / "forged.zip", resign)
    # the forger rebuilds a consistent manifest and signs it with their own key, shipping their public key
    with zipfile.ZipFile(forged) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        for f in manifest["files"]:
            f["sha256"] = evidence.hashlib.sha256(zf.read(f["path"])).hexdigest()
        manifest["key_fingerprint"] = keys.fingerprint(other.public_key())
    body = json.dumps(manifest, indent=2, sort_keys=True).encode() + b"\n"
    resigned = rewrite(forged, tmp_path / "resigned.zip", lambda n, d: {
        "manifest.json": body, "manifest.sig": base64.b64encode(other.sign(body)),
        "signer.pub": keys.public_pem(other.public_key())}.get(n, d))
    assert evidence.verify(resigned, public_key=other.public_key()).ok, "consistent with the forger's own key"
    assert not evidence.verify(resigned, public_key=key.public_key()).ok
    assert not evidence.verify(resigned, pinned=keys.fingerprint(key.public_key())).ok
    assert not evidence.verify(resigned).ok, "no key given: the key inside the pack is not trusted"
    assert evidence.verify(path, pinned=keys.fingerprint(key.public_key())).ok


def test_cli_keys_evidence_and_verify(store, tmp_path, monkeypatch):
    url = str(store.url)
    runner = CliRunner()
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TOK", SECRET)
    made = runner.invoke(app, ["keys", "create", "--out", str(tmp_path / "signer")])
    assert made.exit_code == 0, made.output
    assert (tmp_path / "signer.key").stat().st_mode & 0o077 == 0
    config = tmp_path / "accessward.toml"
    config.write_text(f'[store]\nurl = "{url}"\n\n[reports]\nsigning_key = {{ file = "signer.key" }}\n\n'
                      '[[access_sources]]\nname = "social"\ntype = "scim"\nbase_url = "http://x"\n'
                      'token = { env = "TOK" }\nworkspace_id = "w"\n')
    q = this_quarter().label
    out = runner.invoke(app, ["-c", str(config), "report", "evidence", "--period", q, "-o", "pack.zip"])
    assert out.exit_code == 0, out.output
    ok = runner.invoke(app, ["report", "verify", "pack.zip", "--key", "signer.pub"])
    assert ok.exit_code == 0 and "pack verified" in ok.output, ok.output
    with zipfile.ZipFile(tmp_path / "pack.zip") as zf:
        assert not any(SECRET.encode() in zf.read(n) for n in zf.namelist())
    rewrite(tmp_path / "pack.zip", tmp_path / "bad.zip", lambda n, d: d + b"\n" if n == "version.json" else d)
    bad = runner.invoke(app, ["report", "verify", "bad.zip", "--key", "signer.pub"])
    assert bad.exit_code != 0 and "version.json" in bad.output
    assert runner.invoke(app, ["report", "verify", "pack.zip"]).exit_code != 0, "no key, no trust"
    runner.invoke(app, ["keys", "create", "--out", str(tmp_path / "other")])
    assert runner.invoke(app, ["report", "verify", "pack.zip", "--key", "other.pub"]).exit_code != 0
    early = runner.invoke(app, ["-c", str(config), "report", "access", "--as-of",
                                (utcnow() - timedelta(days=400)).date().isoformat()])
    assert early.exit_code == 0 and "before the first sync" in early.output
