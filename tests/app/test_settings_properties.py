"""Property-based: no settings file, however broken, makes the loader raise anything but SettingsError.

A person editing ``accessward.toml`` gets ``file:line: field: problem``, never a traceback: random
text and bytes, and (mostly) well-formed TOML whose tables and fields are the real ones with
values of the wrong type, shape or range.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accessward.settings import Settings, SettingsError, load_settings

FIELDS = ["name", "type", "url", "base_url", "path", "token", "access_token", "client_secret", "bind_password",
          "bind_dn", "base_dn", "tenant_id", "client_id", "realm", "server_url", "business_id", "bc_id",
          "organization_id", "linkedin_version", "workspace_id", "page_size", "env", "file", "ca_file",
          "directory", "status_values", "role_levels", "rules", "action", "grace_days", "max_revocations",
          "max_revocation_share", "agencies", "break_glass", "nightly", "timezone", "port", "host",
          "hr_webhook_secret", "max_level", "start", "end", "partner_accounts", "stale_after_hours", "max_drop"]
TYPES = ["ldap", "entra", "keycloak", "roster_csv", "roster_json", "roster_scim", "meta", "linkedin", "tiktok",
         "pinterest", "scim", "manual", "nonsense"]
SECTIONS = ["store", "identity_sources", "access_sources", "policy", "reports", "service", "extra"]

scalars = st.one_of(
    st.text(max_size=30), st.sampled_from(TYPES), st.integers(min_value=-(2**63), max_value=2**63 - 1),
    st.floats(allow_nan=True), st.booleans(), st.sampled_from(["0 2 * * *", "Europe/Berlin", "* * *", "Mars/Base"]),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(st.sampled_from(FIELDS), inner, max_size=5),
    ),
    max_leaves=20,
)
source = st.fixed_dictionaries({"type": st.sampled_from(TYPES), "name": st.text(max_size=8)},
                               optional={f: values for f in FIELDS[2:20]})
document = st.fixed_dictionaries({}, optional={
    "store": st.dictionaries(st.sampled_from(["url", "x"]), values, max_size=2),
    "identity_sources": st.lists(source, max_size=3),
    "access_sources": st.lists(source, max_size=3),
    "policy": st.dictionaries(st.sampled_from(FIELDS), values, max_size=5),
    "service": st.dictionaries(st.sampled_from(FIELDS), values, max_size=5),
    "extra": values,
})


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf") if math.isinf(value) else repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return "{" + ", ".join(f"{json.dumps(k)} = {toml_value(v)}" for k, v in value.items()) + "}"


def to_toml(doc: dict[str, Any]) -> str:
    lines = []
    for section, body in doc.items():
        if isinstance(body, list) and all(isinstance(b, dict) for b in body) and body:
            for item in body:
                lines.append(f"[[{section}]]")
                lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in item.items()]
        elif isinstance(body, dict):
            lines.append(f"[{section}]")
            lines += [f"{json.dumps(k)} = {toml_value(v)}" for k, v in body.items()]
        else:
            lines.insert(0, f"{section} = {toml_value(body)}")
    return "\n".join(lines) + "\n"


def load(content: str | bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "accessward.toml"
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8", errors="surrogatepass")
        try:
            result = load_settings(path)
        except SettingsError as exc:
            assert exc.problems and all(p.startswith(str(path)) for p in exc.problems), exc.problems
        else:
            assert isinstance(result, Settings)


SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(document)
def test_structured_documents_never_raise_anything_but_settings_errors(doc: dict[str, Any]) -> None:
    load(to_toml(doc))


@SETTINGS
@given(st.text(max_size=300))
def test_random_text_never_raises_anything_but_settings_errors(text: str) -> None:
    load(text)


@SETTINGS
@given(st.binary(max_size=200))
def test_random_bytes_never_raise_anything_but_settings_errors(blob: bytes) -> None:
    load(blob)
