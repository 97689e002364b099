"""Cells that are safe to open in a spreadsheet.

A value beginning with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return is run as a formula
by Excel, LibreOffice and Google Sheets (CSV injection, OWASP). Such a value is prefixed with a
single quote so it is shown as the text it is. Numbers are left alone, so ``-3`` stays a number.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def safe_cell(value: Any) -> Any:
    if value is None:
        return ""
    if isinstance(value, bool | int | float):
        return value
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    text = str(value)
    if text.startswith(_TRIGGERS):
        return "'" + text
    return text
