"""XLSX workbooks: one sheet per report, typed cells, frozen header, autofilter, sensible widths.

Written with xlsxwriter in ``constant_memory`` mode: each row goes to disk as it is written, so a
million-grant access report needs the memory of one row, not of the sheet. No string is ever a
formula or a link: every text cell goes through ``write_string`` (and the workbook refuses to turn
strings into formulas, numbers or URLs), so a display name ``=HYPERLINK(...)`` is shown as text.
A sheet holds at most 1,048,575 rows under its header; more continue on "name (2)", "name (3)".
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from pathlib import Path
from typing import Any

import xlsxwriter  # type: ignore[import-untyped]

MAX_ROWS = 1_048_575  # Excel's 1,048,576 rows, less the header
WIDTHS = {"id": 8, "request": 60, "data": 60, "hash": 22, "prev_hash": 22, "detail": 40, "reason": 24,
          "candidates": 50, "last_error": 40, "plan_reason": 40, "groups": 40, "emails": 32}


def _width(column: str) -> float:
    if column in WIDTHS:
        return WIDTHS[column]
    if column.endswith(("_at", "_seen", "seen_from", "seen_to", "_date", "_since", "_expires")) or column == "at":
        return 20
    if column.endswith("_id") or column in ("level", "state", "severity", "sso", "mfa"):
        return 14
    return max(12, min(30, len(column) + 4))


def _sheet_name(name: str, part: int) -> str:
    base = "".join(ch for ch in name if ch not in "[]:*?/\\")[:25] or "sheet"
    return base if part == 1 else f"{base} ({part})"


class Workbook:
    """A workbook being written; add one sheet per report, then ``close``."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.book = xlsxwriter.Workbook(str(path), {
            "constant_memory": True, "strings_to_formulas": False, "strings_to_urls": False,
            "strings_to_numbers": False, "default_date_format": "yyyy-mm-dd hh:mm:ss", "remove_timezone": True,
        })
        self.header = self.book.add_format({"bold": True, "bg_color": "#1f2937", "font_color": "#ffffff"})
        self.stamp = self.book.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"})
        self.day = self.book.add_format({"num_format": "yyyy-mm-dd"})

    def _start(self, name: str, part: int, columns: Sequence[str]) -> Any:
        ws = self.book.add_worksheet(_sheet_name(name, part))
        for i, column in enumerate(columns):
            ws.set_column(i, i, _width(column))
        ws.freeze_panes(1, 0)
        for i, column in enumerate(columns):
            ws.write_string(0, i, column, self.header)
        return ws

    def _finish(self, ws: Any, rows: int, columns: Sequence[str]) -> None:
        ws.autofilter(0, 0, max(rows, 1), len(columns) - 1)

    def _cell(self, ws: Any, r: int, c: int, value: Any) -> None:
        if value is None or value == "":
            return
        if isinstance(value, bool):
            ws.write_boolean(r, c, value)
        elif isinstance(value, int | float):
            ws.write_number(r, c, value)
        elif isinstance(value, datetime):
            ws.write_datetime(r, c, value.replace(tzinfo=None), self.stamp)
        elif isinstance(value, date):
            ws.write_datetime(r, c, datetime(value.year, value.month, value.day), self.day)
        else:
            ws.write_string(r, c, str(value))  # never a formula, whatever it starts with

    def sheet(self, name: str, columns: Sequence[str], rows: Iterable[Mapping[str, Any]]) -> int:
        part, ws, n, total = 1, self._start(name, 1, columns), 0, 0
        for row in rows:
            if n == MAX_ROWS:
                self._finish(ws, n, columns)
                part, n = part + 1, 0
                ws = self._start(name, part, columns)
            n += 1
            total += 1
            for c, column in enumerate(columns):
                self._cell(ws, n, c, row.get(column))
        self._finish(ws, n, columns)
        return total

    def close(self) -> None:
        self.book.close()


def write_xlsx(path: Path, sheets: Iterable[tuple[str, Sequence[str], Iterable[Mapping[str, Any]]]]) -> dict[str, int]:
    """Write each (name, columns, rows) as a sheet; returns the rows written per sheet."""
    tmp = path.with_name(path.name + ".partial")
    book = Workbook(tmp)
    counts: dict[str, int] = {}
    try:
        for name, columns, rows in sheets:
            counts[name] = book.sheet(name, columns, rows)
    finally:
        book.close()
    tmp.replace(path)
    return counts
