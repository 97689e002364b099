"""A campaign's report is part of the evidence pack of the period it ran in, and the pack still verifies."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from accessward.reports import evidence
from tests.reviews.test_reviews import as_boss, estate, started


def test_the_pack_holds_each_campaign_with_its_decisions(sqlite_engine, tmp_path: Path) -> None:
    engine = sqlite_engine
    estate(engine)
    cid, ids = started(engine)
    as_boss(engine, cid, [ids[("cat", "main")]], "revoke", justification="left in October")
    key = Ed25519PrivateKey.generate()
    when = evidence.period(since="2000-01-01", until="2100-01-01")
    built = evidence.build(engine, tmp_path / "pack.zip", when, key, {})
    assert evidence.verify(built.path, public_key=key.public_key()).ok
    with zipfile.ZipFile(built.path) as zf:
        names = zf.namelist()
        member = next(n for n in names if n.endswith(f"reports/review-{cid}.csv"))
        rows = list(csv.DictReader(io.StringIO(zf.read(member).decode())))
        summary = json.loads(zf.read(next(n for n in names if n.endswith("reviews/campaigns.json"))))
    cat = next(r for r in rows if r["decision"] == "revoke")
    assert "cat" in (cat["account"] + cat["person"]).lower() and cat["justification"] == "left in October"
    assert [c["key"] for c in summary["campaigns"]] == [summary["campaigns"][0]["key"]] and len(rows) == 5
