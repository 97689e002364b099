"""Agency rosters from a CSV drop and a JSON endpoint."""

from __future__ import annotations

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse
from starlette.routing import Route

from accessward.connectors.errors import AuthError, MalformedResponseError, StopError
from accessward.connectors.records import PersonKind, PersonStatus
from accessward.connectors.roster import CsvRoster, JsonRoster
from accessward.sandbox.server import start_app


def test_csv_roster(tmp_path):
    path = tmp_path / "brightside.csv"
    path.write_text("Email,Name,active\nTaylor@Brightside.agency,Taylor Brooks,yes\nsam@brightside.agency,Sam,no\n")
    people = list(CsvRoster("brightside", path).list_people())
    assert [(p.source_key, p.kind, p.status) for p in people] == [
        ("taylor@brightside.agency", PersonKind.agency, PersonStatus.active),
        ("sam@brightside.agency", PersonKind.agency, PersonStatus.terminated)]


@pytest.mark.parametrize(("text", "message"), [
    ("name\nTaylor\n", ":1: missing column(s) email"),
    ("email,name\ntaylor@brightside.agency,T\nnot-an-email,X\n", ":3: email: 'not-an-email'"),
    ("email\na@b.agency\nA@b.agency\n", ":3: email: 'A@b.agency' is listed twice"),
])
def test_csv_roster_errors_name_the_line(tmp_path, text, message):
    path = tmp_path / "r.csv"
    path.write_text(text)
    with pytest.raises(MalformedResponseError) as err:
        list(CsvRoster("r", path).list_people())
    assert str(err.value) == f"{path}{message}" or str(err.value).startswith(f"{path}{message}")


def test_missing_roster_file_stops(tmp_path):
    with pytest.raises(StopError, match="cannot read roster"):
        list(CsvRoster("r", tmp_path / "nope.csv").list_people())


def roster_app(answers: dict[str, object]) -> Starlette:
    async def staff(request: Request):
        if request.headers.get("Authorization") != "Bearer good":
            return JSONResponse({"error": "unauthorized"}, status_code=401)
        if answers.get("html"):
            return HTMLResponse("<html>login</html>")
        return JSONResponse(answers["body"])

    return Starlette(routes=[Route("/staff", staff)])


def test_json_roster_and_its_failures():
    answers: dict[str, object] = {"body": {"staff": [{"email": "a@agency.test", "name": "A"},
                                                     {"email": "b@agency.test", "active": False}]}}
    with start_app(roster_app(answers)) as server:
        people = list(JsonRoster("r", f"{server.url}/staff", token="good").list_people())
        assert [(p.source_key, p.status) for p in people] == [
            ("a@agency.test", PersonStatus.active), ("b@agency.test", PersonStatus.terminated)]
        with pytest.raises(AuthError):
            list(JsonRoster("r", f"{server.url}/staff", token="bad").list_people())
        answers["html"] = True
        with pytest.raises(MalformedResponseError):
            list(JsonRoster("r", f"{server.url}/staff", token="good").list_people())
        answers["html"], answers["body"] = False, {"people": []}
        with pytest.raises(MalformedResponseError, match="no list 'staff'"):
            list(JsonRoster("r", f"{server.url}/staff", token="good").list_people())
        answers["body"] = {"staff": [{"email": "nobody"}]}
        with pytest.raises(MalformedResponseError, match=r"staff\[0\].email"):
            list(JsonRoster("r", f"{server.url}/staff", token="good").list_people())


def test_scim_roster_against_a_real_scim_server():
    from accessward.connectors.roster import ScimRoster
    from accessward.sandbox.scim import start_scim_server

    with start_scim_server(tokens=["agency-token"]) as server:
        server.add_user("taylor@brightside.example", email="taylor@brightside.example", display_name="Taylor")
        server.add_user("kim@brightside.example", email="kim@brightside.example", display_name="Kim", active=False)
        people = list(ScimRoster("bright", server.url, "agency-token").list_people())
        assert sorted((p.source_key, p.status, p.kind) for p in people) == [
            ("kim@brightside.example", PersonStatus.terminated, PersonKind.agency),
            ("taylor@brightside.example", PersonStatus.active, PersonKind.agency)]
        with pytest.raises(AuthError):
            list(ScimRoster("bright", server.url, "wrong").list_people())
