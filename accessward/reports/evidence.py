"""The evidence pack: one zip an auditor can keep, and check months later, for one period.

``build`` runs every registered pack member (``reports.pack_members``) into a fresh folder,
hashes every file it finds (SHA-256) into ``manifest.json``, signs the manifest's exact bytes with
the Ed25519 key named in the settings (``manifest.sig``) and zips it all. The signer's public key
travels in the pack (``signer.pub``) only so a reader can see who claims to have signed it.

``verify`` never trusts that key: it checks the signature with a public key the auditor holds
(``--key accessward.pub``), or with the pack's key only when its fingerprint equals the one the
auditor pinned (``--fingerprint sha256:...``). Then every file listed must be there with its hash,
and no file may be there that the manifest does not list. Any change — a file, the manifest, the
signature, or a re-signature with another key — fails.
"""

from __future__ import annotations

import base64
import calendar
import hashlib
import json
import re
import shutil
import tempfile
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Engine

from accessward import __version__
from accessward.reports import keys
from accessward.reports.pack_members import MEMBERS, PackContext
from accessward.sync.clock import to_naive_utc, utcnow

FORMAT = "accessward-evidence-pack/1"
MANIFEST, SIGNATURE, SIGNER = "manifest.json", "manifest.sig", "signer.pub"
_QUARTER = re.compile(r"^(\d{4})-Q([1-4])$", re.I)
_MONTH = re.compile(r"^(\d{4})-(\d{2})$")
_YEAR = re.compile(r"^(\d{4})$")


@dataclass(frozen=True)
class Period:
    label: str
    since: datetime
    until: datetime  # exclusive


def period(label: str | None = None, since: str | None = None, until: str | None = None) -> Period:
    """``2026-Q3``, ``2026-07``, ``2026``, or ``since``/``until`` dates (``until`` a date: that whole day)."""
    if label:
        if m := _QUARTER.match(label.strip()):
            year, q = int(m[1]), int(m[2])
            start = datetime(year, 3 * q - 2, 1)
            end = datetime(year + 1, 1, 1) if q == 4 else datetime(year, 3 * q + 1, 1)
            return Period(f"{year}-Q{q}", start, end)
        if m := _MONTH.match(label.strip()):
            year, month = int(m[1]), int(m[2])
            if not 1 <= month <= 12:
                raise ValueError(f"no month {month} in {label!r}")
            last = calendar.monthrange(year, month)[1]
            return Period(label.strip(), datetime(year, month, 1), datetime(year, month, last) + timedelta(days=1))
        if m := _YEAR.match(label.strip()):
            return Period(label.strip(), datetime(int(m[1]), 1, 1), datetime(int(m[1]) + 1, 1, 1))
        raise ValueError(f"period {label!r}: give 2026-Q3, 2026-07 or 2026 (or --from/--to)")
    if not since or not until:
        raise ValueError("give --period, or both --from and --to")
    start = moment(since, end_of_day=False)
    end = moment(until, end_of_day=True)
    if end <= start:
        raise ValueError("--to must be after --from")
    return Period(f"{start.date().isoformat()} to {(end - timedelta(seconds=1)).date().isoformat()}", start, end)


def moment(value: str, *, end_of_day: bool) -> datetime:
    try:
        if len(value.strip()) == 10:
            day = date.fromisoformat(value.strip())
            moment = datetime(day.year, day.month, day.day)
            return moment + timedelta(days=1) if end_of_day else moment
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise ValueError(f"{value!r} is not an ISO date or datetime") from None
    result = to_naive_utc(parsed)
    assert result is not None
    return result


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


@dataclass
class BuiltPack:
    path: Path
    files: int
    fingerprint: str
    warnings: list[str]


def build(engine: Engine, out: Path, when: Period, signing_key: Ed25519PrivateKey,
          settings: Mapping[str, Any]) -> BuiltPack:
    """Write the pack for ``when`` to ``out`` (a .zip), signed with ``signing_key``."""
    until = min(when.until, utcnow())  # a period that has not ended yet is reported up to now
    work = Path(tempfile.mkdtemp(prefix="accessward-pack-"))
    try:
        folder = work / "pack"
        folder.mkdir()
        ctx = PackContext(engine, folder, when.label, when.since, until, settings)
        if until < when.until:
            ctx.warnings.append(f"the period has not ended: reported up to {until.isoformat(timespec='seconds')} UTC")
        for member in MEMBERS.values():
            member(ctx)
        files = sorted(p for p in folder.rglob("*") if p.is_file())
        public = signing_key.public_key()
        manifest = {
            "format": FORMAT, "software": {"name": "accessward", "version": __version__},
            "created_at": utcnow().isoformat(timespec="seconds") + "Z",
            "period": {"label": when.label, "from": when.since.isoformat(), "to": when.until.isoformat(),
                       "reported_until": until.isoformat()},
            "members": list(MEMBERS), "key_fingerprint": keys.fingerprint(public), "warnings": ctx.warnings,
            "files": [{"path": p.relative_to(folder).as_posix(), "sha256": sha256_file(p), "bytes": p.stat().st_size}
                      for p in files],
        }
        body = (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode()
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".partial")
        with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for p in files:
                zf.write(p, p.relative_to(folder).as_posix())
            zf.writestr(MANIFEST, body)
            zf.writestr(SIGNATURE, base64.b64encode(signing_key.sign(body)).decode() + "\n")
            zf.writestr(SIGNER, keys.public_pem(public))
        tmp.replace(out)
        return BuiltPack(out, len(files), keys.fingerprint(public), ctx.warnings)
    finally:
        shutil.rmtree(work, ignore_errors=True)


@dataclass
class Verification:
    problems: list[str] = field(default_factory=list)
    files: int = 0
    fingerprint: str = ""
    manifest: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(pack: Path, *, public_key: Ed25519PublicKey | None = None, pinned: str | None = None) -> Verification:
    """Check the pack against a key the caller holds (or pins); every problem is listed."""
    result = Verification()
    if public_key is None and not pinned:
        result.problems.append("no key to verify with: give the signer's public key (--key) or its fingerprint "
                               "(--fingerprint); a key inside the pack is never trusted on its own")
        return result
    try:
        zf = zipfile.ZipFile(pack)
    except (OSError, zipfile.BadZipFile) as exc:
        result.problems.append(f"not a readable zip: {exc}")
        return result
    with zf:
        names = [i.filename for i in zf.infolist()]
        for dupe in sorted({n for n in names if names.count(n) > 1}):
            result.problems.append(f"{dupe}: appears more than once in the zip")
        if MANIFEST not in names or SIGNATURE not in names:
            result.problems.append("the manifest or its signature is missing")
            return result
        body = zf.read(MANIFEST)
        key = public_key
        if key is None:
            try:
                key = keys.load_public_bytes(zf.read(SIGNER))
            except (KeyError, keys.KeyProblem):
                result.problems.append("the pack carries no readable signer key to compare with the pinned fingerprint")
                return result
            if keys.fingerprint(key) != (pinned or "").strip().lower():
                result.problems.append(f"signed with key {keys.fingerprint(key)}, not the pinned {pinned}")
                return result
        result.fingerprint = keys.fingerprint(key)
        try:
            key.verify(base64.b64decode(zf.read(SIGNATURE), validate=False), body)
        except (InvalidSignature, ValueError):
            result.problems.append(f"the signature does not verify with key {result.fingerprint}: the manifest was "
                                   "changed, or the pack was signed with another key")
        try:
            manifest = json.loads(body)
            listed = {f["path"]: f["sha256"] for f in manifest["files"]}
        except (ValueError, KeyError, TypeError):
            result.problems.append("the manifest is not a pack manifest")
            return result
        result.manifest = manifest
        if manifest.get("format") != FORMAT:
            result.problems.append(f"unknown pack format {manifest.get('format')!r}")
        for name in names:
            if name not in listed and name not in (MANIFEST, SIGNATURE, SIGNER):
                result.problems.append(f"{name}: in the zip but not in the manifest")
        for path, expected in listed.items():
            if path not in names:
                result.problems.append(f"{path}: listed in the manifest but missing")
                continue
            digest = hashlib.sha256()
            with zf.open(path) as fh:
                for block in iter(lambda: fh.read(1 << 20), b""):
                    digest.update(block)
            if digest.hexdigest() != expected:
                result.problems.append(f"{path}: SHA-256 differs from the manifest (the file was changed)")
            result.files += 1
        if "audit/events.jsonl" in listed and "audit/events.jsonl" in names:
            result.problems.extend(_chain_links(zf.read("audit/events.jsonl")))
    return result


def _chain_links(data: bytes) -> list[str]:
    """The period's events must link one to the next (each prev_hash is the hash before it)."""
    problems, prev = [], None
    for line in data.decode().splitlines():
        event = json.loads(line)
        if prev is not None and event.get("prev_hash") != prev:
            problems.append(f"audit event {event.get('id')}: does not link to the event before it")
        if event.get("verified") not in (None, "ok"):
            problems.append(f"audit event {event.get('id')}: the store's chain was broken here: {event['verified']}")
        prev = event.get("hash")
    return problems
