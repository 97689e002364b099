"""A User body reduced to the schemas we announce, and partial representations (RFC 7643/7644).

Why: what an identity provider sends is stored and echoed back, so it must be exactly what the
announced schemas allow. Attributes the schemas do not define (``password`` above all: RFC 7643
makes it writeOnly, returned never, and Accessward needs none) are dropped, never stored and
never echoed, as RFC 7644 section 3.3 lets a service provider ignore what it does not support;
readOnly ones (``id``, ``meta``) are ignored as RFC 7644 requires. A value of the wrong type is
refused (400 ``invalidValue``), naming the attribute but never echoing the value.

``attributes`` / ``excludedAttributes`` (RFC 7644 section 3.9) cut a representation down;
``id`` and ``schemas`` are returned always.
"""

from __future__ import annotations

import re
from typing import Any

from accessward.api.scim_patch import ENTERPRISE_SCHEMA, USER_SCHEMA, ScimProblem, as_bool
from accessward.api.scim_schemas import ENTERPRISE_ATTRIBUTES, USER_ATTRIBUTES

ALWAYS = ("id", "schemas")
_NAME = re.compile(r"^[A-Za-z][\w$-]*(\.[A-Za-z][\w$-]*)?$")
_CORE_PREFIX = USER_SCHEMA.lower() + ":"
_EXT_PREFIX = ENTERPRISE_SCHEMA.lower() + ":"


def _by_name(attrs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {a["name"].lower(): a for a in attrs}


CORE = _by_name(USER_ATTRIBUTES)
EXTENSION = _by_name(ENTERPRISE_ATTRIBUTES)


def _problem(where: str, expected: str) -> ScimProblem:
    return ScimProblem(400, f"{where} must be {expected}", "invalidValue")


def _single(attr: dict[str, Any], value: Any, where: str) -> Any:
    kind = attr["type"]
    if kind == "boolean":
        try:
            return as_bool(value)
        except ScimProblem:
            raise _problem(where, "a boolean") from None
    if kind == "complex":
        if not isinstance(value, dict):
            raise _problem(where, "an object")
        return _attributes(value, _by_name(attr.get("subAttributes", [])), where) or None
    if not isinstance(value, str):
        raise _problem(where, "a string")
    return value


def value_of(attr: dict[str, Any], value: Any, where: str) -> Any:
    """``value`` checked against ``attr``'s definition; None when it leaves the attribute unassigned."""
    if value is None:
        return None
    if attr.get("multiValued"):
        if not isinstance(value, list):
            raise _problem(where, "a list")
        items = [v for v in (_single(attr, item, where) for item in value) if v is not None]
        return items or None  # an empty list is unassigned (RFC 7643 section 2.5)
    return _single(attr, value, where)


def _attributes(obj: dict[str, Any], known: dict[str, dict[str, Any]], where: str = "",
                strict: bool = True) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in obj.items():
        attr = known.get(str(key).lower())
        if attr is None:
            continue  # not in the announced schema: dropped
        try:
            checked = value_of(attr, value, f"{where}.{attr['name']}" if where else attr["name"])
        except ScimProblem:
            if strict:
                raise
            continue  # stored by an older version: shown without it rather than not at all
        if checked is not None:
            out[attr["name"]] = checked
    return out


def clean(body: Any, *, strict: bool = True) -> dict[str, Any]:
    """The User ``body`` as stored: announced attributes only, in the schemas' spelling.

    ``strict=False`` is for what is already stored: a value of the wrong type is left out.
    """
    if not isinstance(body, dict):
        if not strict:
            return {}
        raise ScimProblem(400, "a User is a JSON object", "invalidSyntax")
    core: dict[str, Any] = {}
    ext: dict[str, Any] = {}
    for key, value in body.items():
        low = str(key).lower()
        if low == ENTERPRISE_SCHEMA.lower():
            if value is None:
                continue
            if not isinstance(value, dict):
                if not strict:
                    continue
                raise _problem(ENTERPRISE_SCHEMA, "an object")
            ext.update(_attributes(value, EXTENSION, "enterprise", strict))
        elif low.startswith(_EXT_PREFIX):
            ext.update(_attributes({key[len(_EXT_PREFIX):]: value}, EXTENSION, "enterprise", strict))
        else:
            core.update(_attributes({key[len(_CORE_PREFIX):] if low.startswith(_CORE_PREFIX) else key: value},
                                    CORE, strict=strict))
    if ext:
        core[ENTERPRISE_SCHEMA] = ext
    return core


def parse_names(text: str | list[Any] | None, param: str) -> list[tuple[str | None, str, str | None]]:
    """``attributes`` / ``excludedAttributes``: (extension or None, attribute, sub-attribute), lower-cased."""
    if text is None:
        return []
    parts = text.split(",") if isinstance(text, str) else text
    out: list[tuple[str | None, str, str | None]] = []
    for part in parts:
        if not isinstance(part, str):
            raise ScimProblem(400, f"{param} is a list of attribute names", "invalidValue")
        name = part.strip()
        low = name.lower()
        if not name:
            continue
        if low == ENTERPRISE_SCHEMA.lower():
            out.append((ENTERPRISE_SCHEMA, "", None))
            continue
        container = None
        if low.startswith(_EXT_PREFIX):
            container, name = ENTERPRISE_SCHEMA, name[len(_EXT_PREFIX):]
        elif low.startswith(_CORE_PREFIX):
            name = name[len(_CORE_PREFIX):]
        if not _NAME.match(name):
            raise ScimProblem(400, f"{param} holds a name that is not an attribute path", "invalidValue")
        attr, _, sub = name.lower().partition(".")
        out.append((container, attr, sub or None))
    return out


def _pick(obj: dict[str, Any], attr: str, sub: str | None) -> tuple[str, Any] | None:
    key = next((k for k in obj if k.lower() == attr), None)
    if key is None:
        return None
    value = obj[key]
    if sub is None:
        return key, value

    def cut(item: Any) -> Any:
        return {k: v for k, v in item.items() if k.lower() == sub} if isinstance(item, dict) else None

    cut_value = [c for c in map(cut, value) if c] if isinstance(value, list) else cut(value)
    return (key, cut_value) if cut_value else None


def _merge(into: dict[str, Any], key: str, value: Any) -> None:
    have = into.get(key)
    if isinstance(have, dict) and isinstance(value, dict):
        have.update(value)
    elif isinstance(have, list) and isinstance(value, list) and len(have) == len(value):
        into[key] = [{**a, **b} if isinstance(a, dict) and isinstance(b, dict) else b for a, b in
                     zip(have, value, strict=True)]
    else:
        into[key] = value


def _include(rep: dict[str, Any], names: list[tuple[str | None, str, str | None]]) -> dict[str, Any]:
    out = {k: v for k, v in rep.items() if k in ALWAYS}
    for container, attr, sub in names:
        source = rep.get(ENTERPRISE_SCHEMA) if container else rep
        if not isinstance(source, dict):
            continue
        if container and not attr:
            out[ENTERPRISE_SCHEMA] = source
            continue
        picked = _pick(source, attr, sub)
        if picked is None:
            continue
        if container:
            _merge(out.setdefault(ENTERPRISE_SCHEMA, {}), *picked)
        else:
            _merge(out, *picked)
    return out


def _exclude(rep: dict[str, Any], names: list[tuple[str | None, str, str | None]]) -> dict[str, Any]:
    out = {k: (dict(v) if isinstance(v, dict) else v) for k, v in rep.items()}
    for container, attr, sub in names:
        if container and not attr:
            out.pop(ENTERPRISE_SCHEMA, None)
            continue
        target = out.get(ENTERPRISE_SCHEMA) if container else out
        if not isinstance(target, dict):
            continue
        key = next((k for k in target if k.lower() == attr), None)
        if key is None or (not container and key in ALWAYS):
            continue
        if sub is None:
            target.pop(key)
            continue
        value = target[key]
        items = value if isinstance(value, list) else [value]
        kept = [{k: v for k, v in i.items() if k.lower() != sub} for i in items if isinstance(i, dict)]
        kept = [i for i in kept if i]
        if not kept:
            target.pop(key)
        else:
            target[key] = kept if isinstance(value, list) else kept[0]
    if isinstance(out.get(ENTERPRISE_SCHEMA), dict) and not out[ENTERPRISE_SCHEMA]:
        out.pop(ENTERPRISE_SCHEMA)
    return out


def project(rep: dict[str, Any], attributes: list[tuple[str | None, str, str | None]],
            excluded: list[tuple[str | None, str, str | None]]) -> dict[str, Any]:
    """``rep`` cut down as the caller asked; ``schemas`` then names the extension only if it is there."""
    if not attributes and not excluded:
        return rep
    out = _include(rep, attributes) if attributes else _exclude(rep, excluded)
    out["schemas"] = [USER_SCHEMA] + ([ENTERPRISE_SCHEMA] if ENTERPRISE_SCHEMA in out else [])
    return out
