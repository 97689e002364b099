"""SCIM 2.0 filters (RFC 7644 section 3.4.2.2), parsed into a predicate over User representations.

The whole grammar: ``eq ne co sw ew gt ge lt le pr``, ``and`` / ``or`` / ``not (...)`` with the
RFC's precedence (not, and, or), parentheses, and value paths (``emails[type eq "work" and
value co "@example.com"]``), plus the ``emails[type eq "work"].value eq "..."`` form some
provisioning clients send. Attribute names and operators are case-insensitive; string comparisons
follow each attribute's ``caseExact`` (``id`` and ``externalId`` are exact, the rest not). An
attribute the schemas do not define simply matches nothing. Anything else is 400
``invalidFilter`` (the message never echoes the filter); a filter longer than :data:`MAX_LENGTH`
or nested deeper than :data:`MAX_DEPTH` is refused before it can cost anything.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from accessward.api.scim_schemas import ENTERPRISE_SCHEMA, USER_SCHEMA

MAX_LENGTH = 4096
MAX_DEPTH = 32
OPERATORS = ("eq", "ne", "co", "sw", "ew", "gt", "ge", "lt", "le")
_TOKEN = re.compile(r"""\s*(?:(?P<string>"(?:[^"\\]|\\.)*")|(?P<punct>[()\[\]])|(?P<dotted>\.[A-Za-z][\w$-]*)"""
                    r"""|(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?(?![\w:.$-]))|(?P<word>[A-Za-z][\w:.$-]*))""")
_CASE_EXACT = {"id", "externalid"}

Predicate = Callable[[dict[str, Any]], bool]


class FilterError(ValueError):
    """The filter is not one this service evaluates (the caller answers 400 invalidFilter)."""


@dataclass(frozen=True)
class _Tok:
    kind: str  # string | punct | number | word
    text: str


def _tokens(text: str) -> list[_Tok]:
    out: list[_Tok] = []
    pos = 0
    while pos < len(text):
        if text[pos:].strip() == "":
            break
        found = _TOKEN.match(text, pos)
        if found is None or found.end() == pos:
            raise FilterError("the filter has a character it cannot use here")
        kind = found.lastgroup or "word"
        out.append(_Tok(kind, found[kind]))
        pos = found.end()
    return out


@dataclass(frozen=True)
class _Attr:
    extension: bool
    name: str  # lower-cased
    sub: str | None  # lower-cased


def _attr(word: str) -> _Attr:
    low = word.lower()
    extension = False
    if low.startswith(USER_SCHEMA.lower() + ":"):
        low = low[len(USER_SCHEMA) + 1:]
    elif low.startswith(ENTERPRISE_SCHEMA.lower() + ":"):
        extension, low = True, low[len(ENTERPRISE_SCHEMA) + 1:]
    elif ":" in low:
        return _Attr(False, "", None)  # another schema: defined nowhere here, matches nothing
    name, _, sub = low.partition(".")
    if not name or "." in sub or (sub == "" and low.endswith(".")):
        raise FilterError("an attribute path has the form name or name.subAttribute")
    return _Attr(extension, name, sub or None)


def _get(obj: Any, name: str) -> Any:
    if not isinstance(obj, dict):
        return None
    return next((v for k, v in obj.items() if k.lower() == name), None)


def _values(resource: dict[str, Any], attr: _Attr) -> list[Any]:
    """Every value the attribute path names in ``resource`` (a multi-valued one gives several)."""
    if not attr.name:
        return []
    holder = _get(resource, ENTERPRISE_SCHEMA.lower()) if attr.extension else resource
    top = _get(holder, attr.name)
    items = top if isinstance(top, list) else [top]
    out: list[Any] = []
    for item in items:
        if attr.sub is not None:
            out.append(_get(item, attr.sub))
        elif isinstance(item, dict):  # a complex multi-valued attribute compares on its "value"
            out.append(_get(item, "value"))
        else:
            out.append(item)
    return [v for v in out if v is not None]


def _compare(op: str, have: Any, want: Any, exact: bool) -> bool:
    """``have op want`` for one value; values of another type than ``want`` never match."""
    if isinstance(want, bool) or isinstance(have, bool):
        return isinstance(have, bool) and isinstance(want, bool) and have is want
    a: Any
    b: Any
    if isinstance(want, (int, float)):
        if not isinstance(have, (int, float)):
            return False
        a, b = float(have), float(want)
    elif isinstance(want, str) and isinstance(have, str):
        a, b = (have, want) if exact else (have.lower(), want.lower())
    else:
        return False
    if op == "eq":
        return bool(a == b)
    if op in ("co", "sw", "ew"):
        return isinstance(a, str) and (b in a if op == "co" else a.startswith(b) if op == "sw" else a.endswith(b))
    return bool({"gt": a > b, "ge": a >= b, "lt": a < b, "le": a <= b}[op])


class _Parser:
    def __init__(self, tokens: list[_Tok]) -> None:
        self.tokens, self.pos, self.depth = tokens, 0, 0

    def peek(self) -> _Tok | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> _Tok:
        tok = self.peek()
        if tok is None:
            raise FilterError("the filter ends too early")
        self.pos += 1
        return tok

    def keyword(self, *words: str) -> bool:
        tok = self.peek()
        return tok is not None and tok.kind == "word" and tok.text.lower() in words

    def expect(self, text: str) -> None:
        tok = self.take()
        if tok.text != text:
            raise FilterError(f"expected {text!r} in the filter")

    def nest(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise FilterError("the filter is nested too deeply")

    def parse_or(self) -> Predicate:
        parts = [self.parse_and()]
        while self.keyword("or"):
            self.take()
            parts.append(self.parse_and())
        return parts[0] if len(parts) == 1 else (lambda r: any(p(r) for p in parts))

    def parse_and(self) -> Predicate:
        parts = [self.parse_unary()]
        while self.keyword("and"):
            self.take()
            parts.append(self.parse_unary())
        return parts[0] if len(parts) == 1 else (lambda r: all(p(r) for p in parts))

    def parse_unary(self) -> Predicate:
        tok = self.peek()
        if tok is not None and tok.text == "(":
            self.take()
            self.nest()
            inner = self.parse_or()
            self.expect(")")
            self.depth -= 1
            return inner
        if self.keyword("not"):
            self.take()
            tok = self.peek()
            if tok is None or tok.text != "(":
                raise FilterError("not is followed by a parenthesised filter")
            inner = self.parse_unary()
            return lambda r: not inner(r)
        return self.parse_comparison()

    def _value(self) -> Any:
        tok = self.take()
        if tok.kind == "string":
            try:
                return json.loads(tok.text)
            except ValueError:
                raise FilterError("a string in the filter is not a valid JSON string") from None
        if tok.kind == "number":
            return float(tok.text) if any(c in tok.text for c in ".eE") else int(tok.text)
        if tok.kind == "word" and tok.text.lower() in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[tok.text.lower()]
        raise FilterError("a comparison needs a value: a string, a number, true, false or null")

    def parse_comparison(self) -> Predicate:
        tok = self.take()
        if tok.kind != "word" or tok.text.lower() in ("and", "or", "not"):
            raise FilterError("expected an attribute name in the filter")
        attr = _attr(tok.text)
        nxt = self.peek()
        if nxt is not None and nxt.text == "[":
            return self.parse_value_path(attr)
        return self.parse_operator(attr)

    def parse_operator(self, attr: _Attr) -> Predicate:
        op_tok = self.take()
        op = op_tok.text.lower()
        if op_tok.kind != "word" or op not in (*OPERATORS, "pr"):
            raise FilterError("expected an operator (eq, ne, co, sw, ew, gt, ge, lt, le, pr)")
        if op == "pr":
            return lambda r: any(v not in ("", [], {}) for v in _values(r, attr))
        want = self._value()
        if (want is None or isinstance(want, bool)) and op not in ("eq", "ne"):
            raise FilterError("true, false and null compare with eq or ne only")
        if op in ("co", "sw", "ew") and not isinstance(want, str):
            raise FilterError("co, sw and ew compare with a string")
        exact = (attr.sub or attr.name) in _CASE_EXACT
        test = "eq" if op == "ne" else op

        def predicate(r: dict[str, Any]) -> bool:
            values = _values(r, attr)
            hit = not values if want is None else any(_compare(test, v, want, exact) for v in values)
            return not hit if op == "ne" else hit

        return predicate

    def parse_value_path(self, attr: _Attr) -> Predicate:
        if attr.sub is not None:
            raise FilterError("a value filter follows a multi-valued attribute, not a sub-attribute")
        self.expect("[")
        self.nest()
        inner = self.parse_or()
        self.expect("]")
        self.depth -= 1
        sub_test: Predicate | None = None
        nxt = self.peek()
        if nxt is not None and nxt.kind == "dotted":  # emails[type eq "work"].value eq "..."
            self.take()
            sub_test = self.parse_operator(_Attr(False, "value_path_element", nxt.text[1:].lower()))

        def predicate(r: dict[str, Any]) -> bool:
            holder = _get(r, ENTERPRISE_SCHEMA.lower()) if attr.extension else r
            items = _get(holder, attr.name)
            for item in items if isinstance(items, list) else [items]:
                if isinstance(item, dict) and inner(item) and (
                        sub_test is None or sub_test({"value_path_element": item})):
                    return True
            return False

        return predicate


def parse(text: str) -> Predicate:
    """A predicate over User representations for the filter ``text``; :class:`FilterError` otherwise."""
    if len(text) > MAX_LENGTH:
        raise FilterError(f"a filter is at most {MAX_LENGTH} characters")
    tokens = _tokens(text)
    if not tokens:
        raise FilterError("the filter is empty")
    parser = _Parser(tokens)
    predicate = parser.parse_or()
    if parser.peek() is not None:
        raise FilterError("the filter goes on after a complete expression")
    return predicate
