"""One streamed export in a fresh process, so its peak RSS is the export's own (``make bench``, part c).

``python -m tests.bench.export_child URL FORMAT PATH`` writes the access report of the store at URL
(now) as FORMAT (csv | xlsx | none: only import and connect) to PATH and prints one JSON line:
rows, seconds, peak RSS in MiB, bytes written.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from accessward.reports import export, xlsx
from accessward.reports.access import ACCESS_COLUMNS, access_rows
from accessward.sync.clock import utcnow
from accessward.sync.db import make_engine


def main(url: str, fmt: str, path: str) -> None:
    engine = make_engine(url)
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")
    start = time.perf_counter()
    rows = 0
    if fmt == "csv":
        rows = export.write_file(access_rows(engine, utcnow()), ACCESS_COLUMNS, "csv", Path(path))
    elif fmt == "xlsx":
        rows = xlsx.write_xlsx(Path(path), [("access", ACCESS_COLUMNS, access_rows(engine, utcnow()))])["access"]
    elapsed = time.perf_counter() - start
    size = Path(path).stat().st_size if fmt != "none" else 0
    print(json.dumps({"rows": rows, "seconds": elapsed, "peak_mib": peak_mib(), "bytes": size}))


def peak_mib() -> float:
    """This process's own peak RSS (VmHWM). Not ``ru_maxrss``: Linux carries that across fork and exec,
    so a child would report the parent's peak."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status")


if __name__ == "__main__":
    main(*sys.argv[1:4])
