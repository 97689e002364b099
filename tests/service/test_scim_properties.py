"""Property-based: no input to the SCIM filter parser, PATCH, the User cleaner or the HR webhook verifier
produces anything but the protocol's own refusal (a SCIM 400 / an AuthProblem 401 or 409): never a 500,
never a traceback. Pure functions are driven hard; the HTTP service is driven too, fewer times, so the
whole path (routing, error handlers, audit middleware) is covered."""

from __future__ import annotations

import json
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from accessward import tokens
from accessward.api.app import create_app
from accessward.api.auth import SIGNATURE_HEADER, TIMESTAMP_HEADER, AuthProblem, sign, verify_signature
from accessward.api.scim_patch import ENTERPRISE_SCHEMA, PATCH_SCHEMA, ScimProblem, apply_patch, parse_filter
from accessward.api.scim_resource import clean, parse_names, project
from accessward.api.scim_users import _clean
from accessward.runtime import Runtime
from accessward.settings import Settings
from accessward.sync.db import open_store

SECRET_ENV = "ACCESSWARD_PROPERTY_TEST_HR_SECRET"
SECRET = "property-test-shared-secret"
ERROR = "urn:ietf:params:scim:api:messages:2.0:Error"
FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HTTP = settings(max_examples=60, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

SAMPLE = {"userName": "dana@example.com", "externalId": "d", "active": True, "displayName": "Dana",
          "name": {"givenName": "Dana"}, "emails": [{"value": "dana@example.com", "type": "work", "primary": True}],
          ENTERPRISE_SCHEMA: {"employeeNumber": "E1", "manager": {"value": "m"}}}

words = st.sampled_from(["userName", "USERNAME", "emails", "emails.value", "name.givenName", "active", "id", "meta",
                         "externalId", "displayName", "title", "password", "nickName", "schemas", ENTERPRISE_SCHEMA,
                         f"{ENTERPRISE_SCHEMA}:employeeNumber", f"{ENTERPRISE_SCHEMA}:manager.value",
                         "urn:ietf:params:scim:schemas:core:2.0:User:userName", "urn:x:y", "emails[type eq \"work\"]",
                         'emails[type eq "work"].value', "name[x eq \"y\"]", "[", "]", '"', "\\", " eq ", " and ",
                         " co ", " pr", "true", "false", "null", "(", ")", ".", ":", ""])
text = st.one_of(st.text(max_size=60), st.lists(words, max_size=6).map("".join),
                 st.lists(st.one_of(words, st.text(max_size=4)), max_size=8).map(" ".join))
json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), text),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(st.one_of(words, text), inner, max_size=4)),
    max_leaves=20)
operations = st.fixed_dictionaries(
    {"op": st.one_of(st.sampled_from(["add", "Replace", "remove", "REMOVE", "move"]), json_values)},
    optional={"path": st.one_of(words, text, json_values), "value": json_values})
patch_bodies = st.one_of(
    json_values,
    st.fixed_dictionaries({"schemas": st.just([PATCH_SCHEMA]),
                           "Operations": st.one_of(st.lists(operations, max_size=4), json_values)}))


@FAST
@given(text, st.dictionaries(st.one_of(words, text), json_values, max_size=5))
def test_the_filter_parser_refuses_or_answers_never_crashes(filter_text: str, odd: dict[str, Any]) -> None:
    try:
        predicate = parse_filter(filter_text)
    except ScimProblem as exc:
        assert exc.status == 400 and exc.scim_type == "invalidFilter"
        return
    for resource in (SAMPLE, {}, odd, {"emails": "x", "userName": 3}, {"emails": [None, 1, {"value": None}]},
                     {ENTERPRISE_SCHEMA: [1], "name": {"givenName": 7}, "active": "yes"}):
        assert predicate(resource) in (True, False)


@FAST
@given(st.lists(st.sampled_from(['userName eq "a"', "title pr", "and", "or", "not", "(", ")", "[", "]",
                                 'emails[type eq "work"]', ".value", "eq", "co", '"x"', "1", "true", "null"]),
                max_size=14).map(" ".join))
def test_grammar_shaped_filters_refuse_or_answer(filter_text: str) -> None:
    try:
        predicate = parse_filter(filter_text)
    except ScimProblem as exc:
        assert exc.status == 400 and exc.scim_type == "invalidFilter"
        assert len(filter_text) < 4 or filter_text not in exc.detail  # the filter is never echoed
        return
    assert predicate(SAMPLE) in (True, False)


@FAST
@given(patch_bodies, st.sampled_from([SAMPLE, {"userName": "x"}, {"userName": "x", "emails": "odd", "name": 1}]))
def test_patch_refuses_or_applies_never_crashes(body: Any, resource: dict[str, Any]) -> None:
    before = json.dumps(resource, sort_keys=True)
    try:
        out = _clean(apply_patch(resource, body))
    except ScimProblem as exc:
        assert exc.status == 400 and exc.scim_type
        return
    finally:
        assert json.dumps(resource, sort_keys=True) == before  # the stored resource is never changed in place
    assert isinstance(out["userName"], str) and "password" not in out and "id" not in out


@FAST
@given(json_values, st.one_of(st.none(), text), st.one_of(st.none(), text))
def test_the_user_cleaner_and_projection_refuse_or_answer(body: Any, attributes: str | None,
                                                         excluded: str | None) -> None:
    try:
        stored = clean(body)
        shown = project({"schemas": [], "id": "1", **stored}, parse_names(attributes, "attributes"),
                        parse_names(excluded, "excludedAttributes"))
    except ScimProblem as exc:
        assert exc.status == 400 and exc.scim_type in ("invalidValue", "invalidSyntax")
        return
    assert "password" not in json.dumps(stored) and shown["id"] == "1"


@FAST
@given(json_values)
def test_what_is_already_stored_is_always_shown(stored: Any) -> None:
    shown = clean(stored, strict=False)  # an older version's row: never a 400 on GET
    assert isinstance(shown, dict) and "password" not in {k.lower() for k in shown}


@pytest.fixture(scope="module")
def runtime() -> Iterator[Runtime]:
    os.environ[SECRET_ENV] = SECRET
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Settings.model_validate({"service": {"hr_webhook_secret": {"env": SECRET_ENV}}})
        rt = Runtime(cfg, Path(tmp), open_store(f"sqlite:///{Path(tmp) / 'store.db'}"))
        try:
            yield rt
        finally:
            rt.close()
            rt.engine.dispose()
            os.environ.pop(SECRET_ENV, None)


stamps = st.one_of(st.integers().map(str), st.integers(min_value=10**20, max_value=10**420).map(str),
                   st.just(str(10**400)), st.just("-" + "9" * 400), text, st.just("1e9"), st.just(" 17 "),
                   st.just("١٢٣٤"), st.floats().map(str))
signatures = st.one_of(text, st.just("sha256="),
                       st.text(alphabet="0123456789abcdef", max_size=70).map("sha256=".__add__))


@FAST
@given(stamps, signatures, st.binary(max_size=64))
def test_the_webhook_verifier_refuses_with_401_never_crashes(runtime: Runtime, stamp: str, signature: str,
                                                             body: bytes) -> None:
    try:
        verify_signature(runtime, {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: signature}, body)
    except AuthProblem as exc:
        assert exc.status in (401, 409)
        return
    raise AssertionError("an unsigned or mis-signed request was accepted")


def test_the_webhook_verifier_accepts_a_good_signature_once(runtime: Runtime) -> None:
    stamp, body = str(int(time.time())), b'{"person": "E1"}'
    headers = {TIMESTAMP_HEADER: stamp, SIGNATURE_HEADER: sign(SECRET, stamp, body)}
    assert verify_signature(runtime, headers, body).role == "hr"
    with pytest.raises(AuthProblem) as replay:
        verify_signature(runtime, headers, body)
    assert replay.value.status == 409


@pytest.fixture(scope="module")
def client(runtime: Runtime) -> Iterator[tuple[TestClient, dict[str, str]]]:
    token = tokens.create(runtime.engine, name="property-hr", role="hr", actor="test")
    with TestClient(create_app(runtime), raise_server_exceptions=False) as c:
        auth = {"Authorization": f"Bearer {token}"}
        made = c.post("/scim/v2/Users", json={"userName": "someone@example.com"}, headers=auth)
        assert made.status_code == 201
        c.headers["X-Test-User"] = made.json()["id"]
        yield c, auth


queries = st.dictionaries(st.sampled_from(["filter", "startIndex", "count", "attributes", "excludedAttributes",
                                           "sortBy", "x"]), text, max_size=4)


@HTTP
@given(st.sampled_from(["GET", "POST", "PUT", "PATCH", "DELETE"]),
       st.sampled_from(["/scim/v2/Users", "/scim/v2/Users/.search", "/scim/v2/.search", "/scim/v2/Users/none",
                        "/scim/v2/Users/{user}", "/scim/v2/Users/{user}",
                        "/scim/v2/Schemas", "/scim/v2/Nope", "/scim/v2/ResourceTypes/User"]),
       queries, st.one_of(json_values, patch_bodies))
@example("PATCH", "/scim/v2/Users/{user}", {}, {"schemas": True})  # once a 500 (found by the pure property)
@example("POST", "/scim/v2/.search", {}, {"schemas": 1})
@example("GET", "/scim/v2/Users", {"filter": "((" * 40}, None)
@example("GET", "/scim/v2/Users", {"startIndex": "9" * 400, "count": "-1"}, None)
def test_the_scim_service_answers_every_request_with_a_scim_body_never_a_500(
        client: tuple[TestClient, dict[str, str]], method: str, path: str, query: dict[str, str], body: Any) -> None:
    c, auth = client
    path = path.replace("{user}", c.headers["X-Test-User"])
    if method == "DELETE" and c.headers["X-Test-User"] in path:
        method = "PATCH"  # keep the user for the next examples
    response = c.request(method, path, params=query, headers={**auth, "Content-Type": "application/scim+json"},
                         content=json.dumps(body))
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert response.json()["schemas"] == [ERROR] and response.json()["status"] == str(response.status_code)


@HTTP
@given(stamps, signatures)
def test_the_signed_webhook_endpoint_answers_401_never_a_500(client: tuple[TestClient, dict[str, str]],
                                                            stamp: str, signature: str) -> None:
    c, _ = client
    headers = {TIMESTAMP_HEADER: stamp.encode("ascii", "ignore").decode() or "0",
               SIGNATURE_HEADER: signature.encode("ascii", "ignore").decode() or "x",
               "Content-Type": "application/json"}
    response = c.post("/v1/offboarding", headers=headers, content=b'{"person": "E1"}')
    assert response.status_code in (401, 409), response.text


def test_no_scim_route_can_answer_a_422() -> None:
    """FastAPI's 422 echoes the input: no SCIM route may declare a query or body FastAPI validates."""
    from fastapi.routing import APIRoute

    from accessward.api import scim

    scim_routes = [r for r in scim.router.routes if isinstance(r, APIRoute)]
    assert len(scim_routes) >= 12

    def declared(dependant: Any) -> list[str]:
        own = [p.name for p in (*dependant.query_params, *dependant.body_params, *dependant.header_params,
                                *dependant.cookie_params)]
        return own + [n for d in dependant.dependencies for n in declared(d)]

    assert {r.path: declared(r.dependant) for r in scim_routes if declared(r.dependant)} == {}
