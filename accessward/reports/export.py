"""Write rows of a report as CSV or JSON, streaming, with spreadsheet-safe CSV cells."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from accessward.reports.safe import safe_cell

FORMATS = ("csv", "json")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def write_rows(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], fmt: str, out: IO[str]) -> int:
    count = 0
    if fmt == "csv":
        writer = csv.writer(out)
        writer.writerow(columns)
        for row in rows:
            writer.writerow([safe_cell(row.get(c)) for c in columns])
            count += 1
        return count
    if fmt == "json":
        out.write("[")
        for row in rows:
            out.write(("," if count else "") + "\n  " + json.dumps({c: row.get(c) for c in columns},
                                                                  default=_json_default))
            count += 1
        out.write("\n]\n")
        return count
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def write_file(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], fmt: str, path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    with tmp.open("w", newline="", encoding="utf-8") as out:
        count = write_rows(rows, columns, fmt, out)
    tmp.replace(path)
    return count
