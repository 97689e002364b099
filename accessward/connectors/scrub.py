"""Remove secrets from text before it is stored, logged or printed (DESIGN.md invariant 7).

Platforms echo what they were sent: a token in a redirect's ``Location``, in a JSON error body,
in an HTML error page. Whatever carries such text onward — a :class:`ConnectorError`, a log line,
a sync run's error, an audit event — passes it through :func:`scrub` first.

Two kinds of knowledge are used:

* the **exact secrets** this process knows (every secret reference the settings resolve, every
  bearer token the shared HTTP client sends), in the forms they travel in: verbatim,
  URL-encoded (``%7C`` for Meta's ``id|secret``, ``+`` for spaces), JSON-escaped;
* **shapes** that are credentials whatever their value: ``Bearer …``, JWTs (``eyJ….…``),
  ``access_token=…`` (and its URL-encoded ``access_token%3D…``) parameters, ``"access_token": "…"``
  JSON members, Meta's ``EAA…`` user tokens and ``<app id>|<secret>`` app tokens.

The registry is process-wide on purpose: the layers that carry text onward (logging, the error
taxonomy, the audit trail) know nothing of the settings, and a secret is a secret everywhere.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "<redacted>"  # not "[redacted]": rich would read that as markup and print nothing
_MIN_LENGTH = 6  # shorter values ("abc", "1") would redact ordinary words; no real secret is this short

_lock = threading.Lock()
_known: set[str] = set()
_pattern: re.Pattern[str] | None = None
_stale = False  # a secret was registered since _pattern was built

_NAMES = r"access_token|refresh_token|id_token|client_secret|client_assertion|password|api_key|apikey|token"
_SHAPES = [
    # Authorization header values: Bearer <token>, Basic <base64>
    (re.compile(r"(?i)\b(bearer)(?:\s+|%20|\+)[A-Za-z0-9\-._~+/%]+=*"), rf"\1 {REDACTED}"),
    (re.compile(r"(?i)(authorization[\"']?\s*[:=,]\s*[\"']?basic\s+)[A-Za-z0-9+/]+=*"), rf"\1{REDACTED}"),
    # JWTs (header.payload[.signature]); the header always starts with '{"' -> eyJ
    (re.compile(r"eyJ[A-Za-z0-9_-]{2,}\.[A-Za-z0-9_-]*(?:\.[A-Za-z0-9_-]*)?"), REDACTED),
    # query or form parameters, plain or URL-encoded inside another URL (next=...%3Faccess_token%3D...)
    (re.compile(rf"(?i)({_NAMES})(=|%3D)(?:(?!%26)[^&\s\"'<>#])+"), rf"\1\2{REDACTED}"),
    # JSON members: "access_token": "…" (also with escaped quotes inside a JSON string)
    (re.compile(rf'(?i)(\\?"(?:{_NAMES})\\?"\s*:\s*\\?")(?:[^"\\]|\\(?!"))*(\\?")'), rf"\1{REDACTED}\2"),
    # Meta: user/system-user tokens (EAA…) and app tokens (<app id>|<app secret>, also %7C-encoded)
    (re.compile(r"\bEAA[A-Za-z0-9]{20,}"), REDACTED),
    (re.compile(r"\b\d{6,}(\||%7C|%7c)[A-Za-z0-9_-]{16,}"), REDACTED),
]


def _forms(secret: str) -> set[str]:
    """The ways a secret travels: as is, URL-encoded (both flavours), JSON-escaped."""
    forms = {secret, quote(secret, safe=""), quote(secret), quote_plus(secret), quote_plus(secret, safe="")}
    for ensure_ascii in (True, False):
        escaped = json.dumps(secret, ensure_ascii=ensure_ascii)[1:-1]
        forms |= {escaped, escaped.replace("/", "\\/")}
    return {f for f in forms if len(f) >= _MIN_LENGTH}


def register(*secrets: str | None) -> None:
    """Remember secrets so every later :func:`scrub` removes them (and their encoded forms).

    The pattern of every known secret is rebuilt by the next :func:`scrub`, not here: a listing
    registers each Page token it sends (hundreds, one by one), and compiling all of them again
    for each new one made registration quadratic (18 CPU-seconds for 400 Pages).
    """
    global _stale
    fresh = {s for s in secrets if s and len(s) >= _MIN_LENGTH} - _known
    if not fresh:
        return
    with _lock:
        _known.update(fresh)
        _stale = True


def _current() -> re.Pattern[str] | None:
    """The pattern of every registered secret, rebuilt first if a secret was registered since."""
    global _pattern, _stale
    if not _stale:
        return _pattern
    with _lock:
        if _stale:
            forms = sorted({f for s in _known for f in _forms(s)}, key=len, reverse=True)
            _pattern = re.compile("|".join(re.escape(f) for f in forms)) if forms else None
            _stale = False
        return _pattern


def known() -> frozenset[str]:
    """The registered secrets (for ``accessward audit redact`` and the tests)."""
    return frozenset(_known)


def forget_all() -> None:
    """Empty the registry (tests only)."""
    global _pattern, _stale
    with _lock:
        _known.clear()
        _pattern, _stale = None, False


def scrub(text: str, extra: Iterable[str] = ()) -> str:
    """``text`` with every known secret, its encoded forms and credential shapes replaced."""
    if not text:
        return text
    pattern = _current()
    if pattern is not None:
        text = pattern.sub(REDACTED, text)
    for value in extra:
        for form in sorted(_forms(value), key=len, reverse=True):
            text = text.replace(form, REDACTED)
    for shape, replacement in _SHAPES:
        text = shape.sub(replacement, text)
    return text


def scrub_value(value: Any) -> Any:
    """:func:`scrub` applied to every string inside a JSON-like value (dicts, lists, strings)."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {scrub(str(k)) if isinstance(k, str) else k: scrub_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub_value(v) for v in value]
    return value
