"""Find the line of a field in a TOML text, so a settings error can name it.

tomllib gives values, not positions; this walks the text once and maps each table header and
key to its line. It understands what settings files use: ``[table]``, ``[[array.of.tables]]``,
``key = value`` and dotted keys. A field that is missing maps to its table's line.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_HEADER = re.compile(r"^\s*(\[\[?)\s*([^\]]+?)\s*\]\]?\s*(#.*)?$")
_KEY = re.compile(r"""^\s*((?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_-]+|"[^"]*"|'[^']*'))*)\s*=""")


def _split_dotted(key: str) -> list[str]:
    parts = re.findall(r'"[^"]*"|\'[^\']*\'|[^.\s]+', key)
    return [p.strip("\"'") for p in parts]


def index_lines(text: str) -> dict[tuple[str | int, ...], int]:
    """Map every path (table names, array indexes, keys) to its 1-based line number."""
    where: dict[tuple[str | int, ...], int] = {}
    arrays: dict[tuple[str | int, ...], int] = {}
    current: tuple[str | int, ...] = ()
    in_multiline = False
    for number, line in enumerate(text.splitlines(), start=1):
        if in_multiline:
            if line.count('"""') % 2 == 1 or line.count("'''") % 2 == 1:
                in_multiline = False
            continue
        header = _HEADER.match(line)
        if header:
            names = _split_dotted(header.group(2))
            if header.group(1) == "[[":
                base = (*_resolve(tuple(names[:-1]), arrays), names[-1])
                arrays[base] = arrays.get(base, -1) + 1
                current = (*base, arrays[base])
            else:
                current = _resolve(tuple(names), arrays)
            where.setdefault(current, number)
            continue
        key = _KEY.match(line)
        if key:
            path = (*current, *_split_dotted(key.group(1)))
            where.setdefault(path, number)
            rest = line[key.end():]
            if rest.count('"""') == 1 or rest.count("'''") == 1:
                in_multiline = True
    return where


def _resolve(names: tuple[str, ...], arrays: dict[tuple[str | int, ...], int]) -> tuple[str | int, ...]:
    """``[a.b]`` after ``[[a]]`` refers to the newest element of array ``a``."""
    out: list[str | int] = []
    for name in names:
        out.append(name)
        key = tuple(out)
        if key in arrays:
            out.append(arrays[key])
    return tuple(out)


def line_of(text: str, loc: Sequence[str | int]) -> int | None:
    """Line of the deepest existing prefix of ``loc``; None when nothing matches."""
    where = index_lines(text)
    path = tuple(loc)
    while path:
        if path in where:
            return where[path]
        path = path[:-1]
    return None
