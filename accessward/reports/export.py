"""Write rows of a report as CSV or JSON, streaming, with spreadsheet-safe CSV cells.

Every CSV cell is quoted (``QUOTE_ALL``): a spreadsheet opened with ``;`` or tab as its separator
cannot split ``x;=1+1`` into a second cell that starts with ``=``. Cells that would start a formula
are neutralised besides (``reports.safe``). The same generator feeds files, stdout and the HTTP API.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

from accessward.reports.safe import safe_cell

FORMATS = ("csv", "json")
CHUNK_ROWS = 500


def json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def csv_chunks(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], counter: list[int] | None = None,
               ) -> Iterator[str]:
    """CSV text in chunks of ``CHUNK_ROWS`` rows; ``counter[0]`` ends as the number of rows written."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL)
    writer.writerow(columns)
    n = 0
    for n, row in enumerate(rows, 1):
        writer.writerow([safe_cell(row.get(c)) for c in columns])
        if n % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    if counter is not None:
        counter[:] = [n]
    yield buffer.getvalue()


def json_chunks(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], counter: list[int] | None = None,
                ) -> Iterator[str]:
    yield "["
    n = 0
    for n, row in enumerate(rows, 1):
        yield ("," if n > 1 else "") + "\n  " + json.dumps({c: row.get(c) for c in columns}, default=json_default)
    if counter is not None:
        counter[:] = [n]
    yield "\n]\n"


def chunks(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], fmt: str,
           counter: list[int] | None = None) -> Iterator[str]:
    if fmt == "csv":
        return csv_chunks(rows, columns, counter)
    if fmt == "json":
        return json_chunks(rows, columns, counter)
    raise ValueError(f"unknown format {fmt!r}; choose one of {', '.join(FORMATS)}")


def write_rows(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], fmt: str, out: IO[str]) -> int:
    counter = [0]
    for chunk in chunks(rows, columns, fmt, counter):
        out.write(chunk)
    return counter[0]


def write_file(rows: Iterable[Mapping[str, Any]], columns: Sequence[str], fmt: str, path: Path) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".partial")
    with tmp.open("w", newline="", encoding="utf-8") as out:
        count = write_rows(rows, columns, fmt, out)
    tmp.replace(path)
    return count
