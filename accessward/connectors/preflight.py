"""Typed records of ``accessward check``: what one source's credentials can read and revoke.

Each connector module ends with a small ``check(...)`` that connects with its own client, reads (never
writes) and returns :class:`CheckItem` records. A capability is ``ok`` when the platform proved it,
``missing`` when the platform refused or a documented read shows it absent (with the exact fix), and
``unknown`` when no documented read-only call can tell (with the reason), so a guess never passes for
a fact. Whether a missing item fails the run is decided by the orchestrator (accessward/check.py) from
what the settings and the policy rely on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Literal

from accessward.connectors.errors import ConnectorError, TransientError

Status = Literal["ok", "missing", "unknown"]
Use = Literal["read", "revoke", "other"]


@dataclass(frozen=True)
class CheckItem:
    """One capability of one source: ``use`` says whether listing (read) or revocation relies on it."""

    capability: str
    status: Status
    detail: str = ""
    fix: str = ""
    use: Use = "read"
    relied_on: bool = True  # the settings use it; the orchestrator also asks the policy for revoke items


def probe(capability: str, read: Callable[[], str], *, fix: str, use: Use = "read",
          relied_on: bool = True) -> CheckItem:
    """Run one read-only ``read`` (it returns the detail of an ``ok``); a platform refusal is ``missing``.

    A transient failure (throttled, 5xx) says nothing about a permission, so it is ``unknown``.
    """
    try:
        detail = read()
    except TransientError as exc:
        return CheckItem(capability, "unknown", f"the platform did not answer: {exc}", "run check again",
                         use, relied_on)
    except ConnectorError as exc:
        return CheckItem(capability, "missing", f"{exc.kind}: {exc}", fix, use, relied_on)
    return CheckItem(capability, "ok", detail, "", use, relied_on)


def first_record(listing: Callable[[], Iterable[object]]) -> str:
    """Read the first record of a lazy listing (a few requests, never the whole source)."""
    for _ in listing():
        return "read (first record only)"
    return "read: the listing is empty"
