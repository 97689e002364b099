"""The manual inventory (X, YouTube): a good file, bad files with line-level errors, cells kept as data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from accessward.connectors.errors import MalformedResponseError, RejectedError, StopError
from accessward.connectors.manual import UNVERIFIABLE_SOURCE_TYPE, InventoryError, ManualInventory
from accessward.connectors.protocols import AccessSource, Revoker
from accessward.connectors.records import (
    AccessRecord,
    AccountKind,
    AccountRecord,
    GrantRecord,
    GrantRef,
    Level,
    ResourceRecord,
)

TODAY = date(2025, 3, 31)
HEADER = "network,resource_id,resource_name,account_id,account_name,email,role,level,verified_on"
GOOD = f"""{HEADER},notes
# the social team's inventory: one line per person and account
x,@northwind,Northwind on X,@dana_social,Dana Leaver,dana.leaver@example.com,Delegate,full_publishing,2025-02-01,left
x,@northwind,Northwind on X,@alexm,Alex Morgan,alex.morgan@example.com,Owner,admin,2025-02-01,

youtube,UCnorthwind01,Northwind TV,alex.morgan@example.com,Alex Morgan,alex.morgan@example.com,Owner,admin,2025-01-15,
youtube,UCnorthwind01,Northwind TV,creator@brightside.example,Brightside Agency,,Editor,Full Publishing,2025-01-15,
"""


def write(tmp_path: Path, text: str, name: str = "inventory.csv", encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def inventory(path: Path, **kw: object) -> ManualInventory:
    return ManualInventory("social-inventory", path, today=lambda: TODAY, **kw)  # type: ignore[arg-type]


def problems(path: Path) -> list[str]:
    with pytest.raises(InventoryError) as err:
        list(inventory(path).list_access())
    assert isinstance(err.value, MalformedResponseError)  # a bad file fails the source
    return err.value.problems


def test_a_good_file_yields_resources_and_accounts_before_their_grants(tmp_path: Path) -> None:
    source = inventory(write(tmp_path, GOOD))
    records: list[AccessRecord] = list(source.list_access())

    seen: set[str] = set()
    for record in records:
        if isinstance(record, GrantRecord):
            assert record.account_id in seen and record.resource_id in seen
        else:
            seen.add(record.external_id)
    resources = [r for r in records if isinstance(r, ResourceRecord)]
    accounts = {r.external_id: r for r in records if isinstance(r, AccountRecord)}
    grants = [(g.account_id, g.resource_id, g.role, g.level) for g in records if isinstance(g, GrantRecord)]

    assert resources == [ResourceRecord("x:@northwind", "x_account", "Northwind on X"),
                         ResourceRecord("youtube:UCnorthwind01", "youtube_account", "Northwind TV")]
    assert accounts["x:@dana_social"] == AccountRecord("x:@dana_social", AccountKind.human, "Dana Leaver",
                                                       "@dana_social", "dana.leaver@example.com")
    assert accounts["youtube:creator@brightside.example"].email is None
    assert grants == [
        ("x:@dana_social", "x:@northwind", "Delegate", Level.full_publishing),
        ("x:@alexm", "x:@northwind", "Owner", Level.admin),
        ("youtube:alex.morgan@example.com", "youtube:UCnorthwind01", "Owner", Level.admin),
        ("youtube:creator@brightside.example", "youtube:UCnorthwind01", "Editor", Level.full_publishing),
    ]
    assert isinstance(source, AccessSource) and isinstance(source, Revoker)
    assert source.source_type == UNVERIFIABLE_SOURCE_TYPE == "manual"


def test_excel_style_files_semicolons_bom_and_crlf_are_read(tmp_path: Path) -> None:
    text = GOOD.replace(",", ";").replace("\n", "\r\n").replace("network;resource_id;", "Network;Resource ID;", 1)
    path = write(tmp_path, "\ufeff" + text)
    assert len([r for r in inventory(path).list_access() if isinstance(r, GrantRecord)]) == 4


def test_formula_looking_cells_are_kept_as_data(tmp_path: Path) -> None:
    text = (f"{HEADER},account_kind\n"
            'x,@northwind,"=HYPERLINK(""http://evil.example"",""Northwind"")",+4915112345,'
            "@SUM(A1:A9),,-Delegate,can_reply,2025-03-01,agency\n")
    records = list(inventory(write(tmp_path, text)).list_access())
    resource = next(r for r in records if isinstance(r, ResourceRecord))
    account = next(r for r in records if isinstance(r, AccountRecord))
    grant = next(r for r in records if isinstance(r, GrantRecord))

    assert resource.name == '=HYPERLINK("http://evil.example","Northwind")'
    assert (account.login, account.display_name, account.kind) == ("+4915112345", "@SUM(A1:A9)", AccountKind.agency)
    assert (grant.role, grant.level, grant.verifiable) == ("-Delegate", Level.can_reply, False)


def test_a_bad_level_is_reported_with_file_line_and_column(tmp_path: Path) -> None:
    lines = [line for line in GOOD.splitlines() if line]
    lines.append("x,@northwind,Northwind on X,@intern,Intern,,Owner,owner,2025-03-01,")  # line 7
    path = write(tmp_path, "\n".join(lines) + "\n")
    assert problems(path) == [
        f"{path}:7: level: 'owner' is not one of read_only, needs_approval, can_reply, full_publishing, admin"]


def test_every_problem_of_a_bad_file_is_reported_and_nothing_is_yielded(tmp_path: Path) -> None:
    text = f"""{HEADER}
X (Twitter),@northwind,Northwind,@a,A,,Delegate,admin,2025-01-01
x,@northwind,Northwind,@b,B,not-an-email,Delegate,admin,01/02/2025
x,@northwind,Northwind,@c,C,,Delegate,admin,2031-01-01
x,,Northwind,,C,,,,
x,@northwind,Northwind,@d,D,,"Multi
line role",admin,2025-01-01
x,@northwind,Northwind,@e,E,,Delegate,admin,2025-01-01,extra
x,@northwind,Northwind,@d,D,,Delegate,read_only,2025-01-01
x,@northwind,Other name,@f,F,,Delegate,admin,2025-01-01
x,@northwind_de,Northwind DE,@f,F2,,Delegate,admin,2025-01-01
"""
    path = write(tmp_path, text)
    source = inventory(path)
    listing = source.list_access()
    with pytest.raises(InventoryError) as err:
        next(listing)  # fails before the first record: never a partial inventory
    p = f"{path}:"
    assert err.value.problems == [
        p + "2: network: 'X (Twitter)' is not a network name (lowercase letters, digits, _)",
        p + "3: email: 'not-an-email' is not an email address",
        p + "3: verified_on: '01/02/2025' is not a date (YYYY-MM-DD)",
        p + "4: verified_on: 2031-01-01 is in the future",
        p + "5: resource_id: is empty; it is required",
        p + "5: account_id: is empty; it is required",
        p + "5: role: is empty; it is required",
        p + "5: level: is empty; it is required",
        p + "5: verified_on: is empty; it is required",
        p + "8: 10 cells, the header has 9 (an unquoted comma?)",  # line 8: the multi-line cell took 6-7
        p + "9: account_id: '@d' on '@northwind' (x) is already on line 6",
        p + "10: resource_name: 'Other name' differs from 'Northwind' on line 6 for the same resource_id",
        p + "11: account_name: 'F2' differs from 'F' on line 10 for the same account_id",
    ]
    assert str(path) in str(err.value) and "it is not used" in str(err.value)
    assert err.value.system == "social-inventory"


@pytest.mark.parametrize(("text", "expected"), [
    ("network,resource_id,account_id,role\nx,@n,@a,Owner\n",
     "1: header: missing column(s) resource_name, account_name, email, level, verified_on"),
    (f"{HEADER},level\n", "1: header: column(s) level appear more than once"),
    ("\n\n# nothing here\n", "1: header: no header line"),
    (f'{HEADER}\nx,@n,N,@a,A,,"Owner,admin,2025-01-01\n', "2: not valid CSV"),
])
def test_bad_headers_and_broken_csv_fail(tmp_path: Path, text: str, expected: str) -> None:
    [problem] = problems(write(tmp_path, text))
    assert problem.startswith(f"{tmp_path / 'inventory.csv'}:{expected}")


def test_a_file_without_rows_is_never_an_empty_inventory(tmp_path: Path) -> None:
    path = write(tmp_path, HEADER + "\n")
    [problem] = problems(path)
    assert "no rows" in problem
    assert list(inventory(path, allow_empty=True).list_access()) == []


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    path = write(tmp_path, GOOD.replace("Dana Leaver", "Dana Lëaver"), encoding="latin-1")
    [problem] = problems(path)
    assert problem.startswith(f"{path}:3: the file is not UTF-8")


def test_a_missing_file_is_a_configuration_error(tmp_path: Path) -> None:
    with pytest.raises(StopError) as err:
        list(inventory(tmp_path / "nope.csv").list_access())
    assert "nope.csv" in str(err.value)


def test_revoke_is_described_and_refused(tmp_path: Path) -> None:
    source = inventory(write(tmp_path, GOOD))
    list(source.list_access())
    grant = GrantRef("x:@dana_social", "x:@northwind", "Delegate", resource_kind="x_account")

    preview = source.preview_revoke(grant)
    with pytest.raises(RejectedError) as err:
        source.revoke(grant)

    assert (preview.method, preview.url) == ("MANUAL", "manual://x/@northwind")
    step = preview.params["step"]
    assert "Dana Leaver (@dana_social, role Delegate)" in step and "Northwind on X" in step
    assert "Delegate" in step and str(tmp_path / "inventory.csv") in step
    assert str(err.value) == f"revoke by hand: {step}" and err.value.detail == step
    with pytest.raises(RejectedError):
        source.preview_revoke(GrantRef("someone", "no-network-prefix", "Owner"))
