"""SCIM 2.0 PATCH (RFC 7644 section 3.5.2) and list filters, as Entra ID and Okta send them.

PATCH operations on a User kept as its JSON document. ``op`` is case-insensitive (Entra sends
``Replace``, Okta ``replace``); with a ``path`` (``active``, ``name.givenName``,
``emails[type eq "work"].value``, ``urn:...:enterprise:2.0:User:employeeNumber``) or without one
(``value`` is an object of attribute -> value, keys possibly dotted or schema-qualified).
Attribute names are case-insensitive (RFC 7643 section 2.1). Entra's non-compliant boolean
strings (``"False"``) are accepted for ``active``. A path names an attribute of the announced
schemas, or it is ``invalidPath``. List filters are the whole RFC grammar (``scim_filter``).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from accessward.api import scim_filter
from accessward.api.scim_filter import FilterError
from accessward.api.scim_schemas import (
    ENTERPRISE_ATTRIBUTES,
    ENTERPRISE_SCHEMA,
    PATCH_SCHEMA,
    USER_ATTRIBUTES,
    USER_SCHEMA,
)

__all__ = ["ENTERPRISE_SCHEMA", "PATCH_SCHEMA", "USER_SCHEMA", "ScimProblem", "apply_patch", "as_bool", "attr_key",
           "parse_filter"]
READ_ONLY = ("id", "meta")

_ATTR = r"[A-Za-z][\w$-]*"
_PATH = re.compile(rf'^(?P<attr>{_ATTR})(?:\[(?P<filter>[^\]]*)\])?(?:\.(?P<sub>{_ATTR}))?$', re.IGNORECASE)
_SIMPLE_EQ = re.compile(rf'^\s*(?P<attr>{_ATTR})\s+eq\s+"(?P<value>[^"\\]*)"\s*$', re.IGNORECASE)


class ScimProblem(Exception):
    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.scim_type = scim_type


def attr_key(obj: dict[str, Any], name: str) -> str:
    """The key of ``obj`` that is ``name`` ignoring case (or ``name`` itself if absent)."""
    lowered = name.lower()
    return next((k for k in obj if k.lower() == lowered), name)


def as_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise ScimProblem(400, "active must be a boolean", "invalidValue")


@dataclass(frozen=True)
class _Path:
    container: str | None  # an extension schema URN, or None for the core schema
    attr: str
    filter_attr: str | None = None  # of a value filter "attr eq value": a new element gets it
    filter_value: str | None = None
    sub: str | None = None
    selects: Callable[[dict[str, Any]], bool] | None = None  # the value filter, any RFC filter


_CORE = {a["name"].lower(): a for a in USER_ATTRIBUTES}
_EXTENSION = {a["name"].lower(): a for a in ENTERPRISE_ATTRIBUTES}


def _known(p: _Path) -> _Path:
    """``p`` if it names an announced attribute (and sub-attribute); else invalidPath."""
    attr = (_EXTENSION if p.container else _CORE).get(p.attr.lower())
    if attr is None:
        raise ScimProblem(400, f"{p.attr} is not an attribute of the announced schemas", "invalidPath")
    subs = {s["name"].lower() for s in attr.get("subAttributes", [])}
    for sub in (p.sub, p.filter_attr if p.selects is not None else None):
        if sub is not None and sub.lower() not in subs:
            raise ScimProblem(400, f"{p.attr} has no sub-attribute {sub}", "invalidPath")
    if p.selects is not None and not attr.get("multiValued"):
        raise ScimProblem(400, f"{p.attr} is not multi-valued: it takes no filter", "invalidPath")
    return p


def _parse_path(path: str) -> _Path:
    container = None
    low = path.lower()
    if low.startswith(USER_SCHEMA.lower() + ":"):
        path = path[len(USER_SCHEMA) + 1:]
    elif low.startswith("urn:"):
        if not low.startswith(ENTERPRISE_SCHEMA.lower() + ":"):
            if low == ENTERPRISE_SCHEMA.lower():
                return _Path(ENTERPRISE_SCHEMA, "")
            raise ScimProblem(400, "the path names a schema that is not announced", "invalidPath")
        container, path = ENTERPRISE_SCHEMA, path[len(ENTERPRISE_SCHEMA) + 1:]
    found = _PATH.match(path.strip())
    if not found:
        raise ScimProblem(400, "the path is not an attribute path this service follows", "invalidPath")
    if found["attr"].lower() in READ_ONLY and container is None:
        raise ScimProblem(400, f"{found['attr']} is read-only", "mutability")
    if found["filter"] is None:
        return _known(_Path(container, found["attr"], sub=found["sub"]))
    try:
        selects = scim_filter.parse(found["filter"])
    except FilterError as exc:
        raise ScimProblem(400, f"the value filter of the path: {exc}", "invalidFilter") from None
    simple = _SIMPLE_EQ.match(found["filter"])
    return _known(_Path(container, found["attr"], simple["attr"] if simple else None,
                        simple["value"] if simple else None, found["sub"], selects))


def _target(resource: dict[str, Any], p: _Path) -> dict[str, Any]:
    if p.container is None:
        return resource
    key = attr_key(resource, p.container)
    ext = resource.setdefault(key, {})
    if not isinstance(ext, dict):
        raise ScimProblem(400, f"{p.container} is not an object", "invalidValue")
    return ext


def _matches(element: Any, p: _Path) -> bool:
    return isinstance(element, dict) and p.selects is not None and p.selects(element)


def _apply_path(resource: dict[str, Any], op: str, p: _Path, value: Any) -> None:
    if p.container is not None and not p.attr:  # the whole extension
        if op == "remove":
            resource.pop(attr_key(resource, p.container), None)
        elif isinstance(value, dict):
            _target(resource, p).update(value)
        else:
            raise ScimProblem(400, "an extension is set with an object", "invalidValue")
        return
    obj = _target(resource, p)
    key = attr_key(obj, p.attr)
    if p.selects is not None:  # emails[type eq "work"].value
        items = obj.get(key)
        items = items if isinstance(items, list) else []
        hits = [e for e in items if _matches(e, p)]
        if op == "remove":
            if p.sub is None:
                obj[key] = [e for e in items if e not in hits]
            else:
                for e in hits:
                    e.pop(attr_key(e, p.sub), None)
            return
        if not hits:
            if p.filter_attr is None:  # RFC 7644 3.5.2.3: no element selected
                raise ScimProblem(400, "the value filter of the path selects no element", "noTarget")
            new: dict[str, Any] = {p.filter_attr: p.filter_value}  # "type eq work": Entra adds one so
            items.append(new)
            hits = [new]
        for e in hits:
            if p.sub is not None:
                e[attr_key(e, p.sub)] = value
            elif isinstance(value, dict):
                e.update(value)
        obj[key] = items
        return
    if p.sub is not None:  # name.givenName
        if op == "remove":
            parent = obj.get(key)
            if isinstance(parent, dict):
                parent.pop(attr_key(parent, p.sub), None)
            return
        parent = obj.setdefault(key, {})
        if not isinstance(parent, dict):
            raise ScimProblem(400, f"{p.attr} is not a complex attribute", "invalidPath")
        parent[attr_key(parent, p.sub)] = value
        return
    if op == "remove":
        obj.pop(key, None)
    elif op == "add" and isinstance(obj.get(key), list) and isinstance(value, list):
        obj[key] = [*obj[key], *(v for v in value if v not in obj[key])]
    elif op == "add" and isinstance(obj.get(key), dict) and isinstance(value, dict):
        obj[key].update(value)
    else:
        obj[key] = value


def _apply_object(resource: dict[str, Any], op: str, value: Any) -> None:
    if not isinstance(value, dict):
        raise ScimProblem(400, f"an operation without a path needs an object value, not {type(value).__name__}",
                          "invalidValue")
    for name, item in value.items():
        if name.lower() in (*READ_ONLY, "schemas"):
            continue
        try:
            path = _parse_path(name)
        except ScimProblem as exc:
            if exc.scim_type == "invalidPath":
                continue  # not an announced attribute: dropped, as in a POST or PUT body
            raise
        _apply_path(resource, op, path, item)


def apply_patch(resource: dict[str, Any], body: Any) -> dict[str, Any]:
    """The resource after the PatchOp ``body`` (a copy; the input is not changed)."""
    if not isinstance(body, dict) or not isinstance(body.get("schemas"), list) or PATCH_SCHEMA not in body["schemas"]:
        raise ScimProblem(400, f"a PATCH body is a {PATCH_SCHEMA} message", "invalidSyntax")
    operations = body.get(attr_key(body, "Operations"))
    if not isinstance(operations, list) or not operations:
        raise ScimProblem(400, "Operations must be a non-empty list", "invalidSyntax")
    out = copy.deepcopy(resource)
    for operation in operations:
        if not isinstance(operation, dict):
            raise ScimProblem(400, "each operation is an object", "invalidSyntax")
        op = str(operation.get(attr_key(operation, "op"), "")).lower()
        if op not in ("add", "replace", "remove"):
            raise ScimProblem(400, "op must be add, replace or remove", "invalidSyntax")
        path = operation.get(attr_key(operation, "path"))
        value = operation.get(attr_key(operation, "value"))
        if path:
            _apply_path(out, op, _parse_path(str(path)), value)
        elif op == "remove":
            raise ScimProblem(400, "remove needs a path", "noTarget")
        else:
            _apply_object(out, op, value)
    return out


def parse_filter(text: str) -> Callable[[dict[str, Any]], bool]:
    """A predicate over User resources for the filter ``text``; ScimProblem(invalidFilter) otherwise."""
    try:
        return scim_filter.parse(text)
    except FilterError as exc:
        raise ScimProblem(400, str(exc), "invalidFilter") from None
