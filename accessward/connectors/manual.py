"""A hand-kept inventory of access on networks with no access API (X, YouTube), read from CSV.

X has no public endpoint that lists or removes a brand account's delegates; the YouTube Data API
has none for a channel's permissions or a Brand Account's managers (reference/social-apis.md,
section 6). The social team keeps one CSV row per person and account, with the columns

    network, resource_id, resource_name, account_id, account_name, email, role, level, verified_on

(``account_kind`` - human, system or agency - is optional; other extra columns, e.g. notes, are
ignored). ``level`` is a ladder name (read_only, needs_approval, can_reply, full_publishing,
admin), ``verified_on`` the ISO date (YYYY-MM-DD) the row was last confirmed with the owner.
A comma- or semicolon-separated file with or without a UTF-8 BOM is read; blank lines and lines
whose first cell starts with ``#`` are skipped. (YAML is not read: PyYAML is not a dependency.)

The whole file is validated before anything is yielded. Every problem is reported as
``file:line: column: what is wrong`` (e.g. ``inventory.csv:7: level: 'owner' is not one of
read_only, …``) in one ``InventoryError`` (a ``MalformedResponseError``), so a bad file fails the
source and never becomes an empty or partial inventory; a file without rows fails too unless
``allow_empty``. A missing file is a ``StopError`` (configuration).

Cells are data, never formulas: ``=HYPERLINK(…)``, ``+1``, ``@brand`` are kept verbatim (X handles
start with ``@``); escaping them on export is the reports' job.

Records: ids are namespaced by network (``x:@northwind``), so one file can hold X and YouTube
without collisions. Resources have kind ``{network}_account``. Nothing here is checked against
the network: every grant from this source is *unverifiable*, which the store should record from
``UNVERIFIABLE_SOURCE_TYPE``. There is no revoke: ``preview_revoke`` describes the manual step
(method ``MANUAL``) and ``revoke`` raises ``RejectedError("revoke by hand: …")``.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from accessward.connectors.errors import MalformedResponseError, RejectedError, StopError
from accessward.connectors.records import (
    AccessRecord,
    AccountKind,
    AccountRecord,
    GrantRecord,
    GrantRef,
    Level,
    RequestPreview,
    ResourceRecord,
    RevokeResult,
)

#: The store marks every grant of a source of this type as unverifiable.
UNVERIFIABLE_SOURCE_TYPE = "manual"
COLUMNS = ("network", "resource_id", "resource_name", "account_id", "account_name", "email", "role", "level",
           "verified_on")
OPTIONAL_COLUMNS = ("account_kind",)
REQUIRED_VALUES = ("network", "resource_id", "account_id", "role", "level", "verified_on")
MAX_REPORTED = 50
LEVEL_NAMES = ", ".join(Level.__members__)

#: Where the step is done by hand (UI paths change; these say where to start looking).
NETWORK_STEPS: dict[str, str] = {
    "x": "on X, in the brand account's delegation settings (Settings and privacy > Account > Delegate) "
         "and, for ads, the X Ads account's user access",
    "youtube": "in YouTube Studio > Settings > Permissions of the channel (and the Brand Account's managers "
               "in its Google account settings)",
}

_NETWORK = re.compile(r"[a-z][a-z0-9_]*")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


class InventoryError(MalformedResponseError):
    """A bad inventory file; ``problems`` holds every ``file:line: column: message`` found."""

    def __init__(self, source: str, problems: list[str], *, system: str = "") -> None:
        shown = problems[:MAX_REPORTED]
        more = f"\n… and {len(problems) - len(shown)} more" if len(problems) > len(shown) else ""
        super().__init__(f"{source}: {len(problems)} problem(s) in the manual inventory; it is not used:\n"
                         + "\n".join(shown) + more, system=system, detail="\n".join(shown))
        self.problems = problems


@dataclass(frozen=True, slots=True)
class InventoryRow:
    """One validated row; ``line`` is where it starts in the file."""

    line: int
    network: str
    resource_id: str
    resource_name: str
    account_id: str
    account_name: str
    email: str | None
    role: str
    level: Level
    verified_on: date
    account_kind: AccountKind = AccountKind.human

    @property
    def resource_key(self) -> str:
        return f"{self.network}:{self.resource_id}"

    @property
    def account_key(self) -> str:
        return f"{self.network}:{self.account_id}"


def _header_name(cell: str) -> str:
    return re.sub(r"[\s-]+", "_", cell.strip().lstrip("\ufeff").strip().lower())


def _level(value: str) -> Level | None:
    return Level.__members__.get(re.sub(r"[\s-]+", "_", value.strip().lower()))


def _decode(raw: bytes, source: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[:exc.start].count(b"\n") + 1
        raise InventoryError(source, [f"{source}:{line}: the file is not UTF-8 text (byte {exc.start}); "
                                      "save it as CSV UTF-8"]) from exc


def _delimiter(text: str) -> str:
    header = next((line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")), "")
    return ";" if header.count(";") > header.count(",") else ","


class _Validator:
    """Collects the problems of one file, each as ``file:line: column: message``."""

    def __init__(self, source: str, today: date) -> None:
        self.source = source
        self.today = today
        self.problems: list[str] = []

    def add(self, line: int, column: str | None, message: str) -> None:
        where = f"{self.source}:{line}: " + (f"{column}: " if column else "")
        self.problems.append(where + message)

    def row(self, line: int, cells: dict[str, str]) -> InventoryRow | None:
        """The row, or None after recording its problems (in column order)."""
        before = len(self.problems)
        network = cells.get("network", "").lower()
        level = _level(cells.get("level", ""))
        verified: date | None = None
        email = cells.get("email") or None
        kind_text = (cells.get("account_kind") or "human").lower()
        for column in (*COLUMNS, *OPTIONAL_COLUMNS):
            value = cells.get(column, "")
            if not value:
                if column in REQUIRED_VALUES:
                    self.add(line, column, "is empty; it is required")
            elif column == "network" and not _NETWORK.fullmatch(network):
                self.add(line, column, f"{value!r} is not a network name (lowercase letters, digits, _)")
            elif column == "email" and not _EMAIL.fullmatch(value):
                self.add(line, column, f"{value!r} is not an email address")
            elif column == "level" and level is None:
                self.add(line, column, f"{value!r} is not one of {LEVEL_NAMES}")
            elif column == "verified_on":
                verified = self._date(line, value)
            elif column == "account_kind" and kind_text not in AccountKind.__members__:
                self.add(line, column, f"{value!r} is not one of {', '.join(AccountKind.__members__)}")
        if len(self.problems) > before or level is None or verified is None:
            return None
        return InventoryRow(
            line=line, network=network, resource_id=cells["resource_id"],
            resource_name=cells.get("resource_name") or cells["resource_id"], account_id=cells["account_id"],
            account_name=cells.get("account_name") or cells["account_id"], email=email, role=cells["role"],
            level=level, verified_on=verified, account_kind=AccountKind(kind_text),
        )

    def _date(self, line: int, text: str) -> date | None:
        try:
            if not _DATE.fullmatch(text):
                raise ValueError(text)
            value = date.fromisoformat(text)
        except ValueError:
            self.add(line, "verified_on", f"{text!r} is not a date (YYYY-MM-DD)")
            return None
        if value > self.today:
            self.add(line, "verified_on", f"{text} is in the future")
            return None
        return value


def parse_inventory(text: str, source: str, *, today: date | None = None, allow_empty: bool = False
                    ) -> list[InventoryRow]:
    """Validate a whole CSV inventory; every row, or ``InventoryError`` with every problem."""
    check = _Validator(source, today or date.today())
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=_delimiter(text), strict=True)
    header: list[str] | None = None
    rows: list[InventoryRow] = []
    start = 1
    while True:
        start = reader.line_num + 1
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            check.add(start, None, f"not valid CSV ({exc})")
            break
        stripped = [c.strip() for c in cells]
        if not any(stripped) or stripped[0].startswith("#"):
            continue
        if header is None:
            header = [_header_name(c) for c in cells]
            missing = [c for c in COLUMNS if c not in header]
            if missing:
                check.add(start, "header", f"missing column(s) {', '.join(missing)} (expected {', '.join(COLUMNS)})")
            duplicated = sorted({c for c in header if c and header.count(c) > 1})
            if duplicated:
                check.add(start, "header", f"column(s) {', '.join(duplicated)} appear more than once")
            if missing or duplicated:
                break
            continue
        if len(stripped) > len(header):
            check.add(start, None, f"{len(stripped)} cells, the header has {len(header)} (an unquoted comma?)")
            continue
        row = check.row(start, dict(zip(header, stripped, strict=False)))
        if row is not None:
            rows.append(row)
    if header is None and not check.problems:
        check.add(1, "header", f"no header line (expected {', '.join(COLUMNS)})")
    _check_consistency(rows, check)
    if check.problems:
        raise InventoryError(source, check.problems)
    if not rows and not allow_empty:
        raise InventoryError(source, [f"{source}: the inventory has no rows; an empty manual inventory is never "
                                      "taken as 'nobody has access' (set allow_empty to mean it)"])
    return rows


def _check_consistency(rows: list[InventoryRow], check: _Validator) -> None:
    """One row per grant; one name per resource; one name, email and kind per account."""
    grants: dict[tuple[str, str], InventoryRow] = {}
    resources: dict[str, InventoryRow] = {}
    accounts: dict[str, InventoryRow] = {}
    for row in rows:
        first = grants.setdefault((row.resource_key, row.account_key), row)
        if first is not row:
            check.add(row.line, "account_id", f"{row.account_id!r} on {row.resource_id!r} ({row.network}) is "
                                              f"already on line {first.line}")
        seen = resources.setdefault(row.resource_key, row)
        if seen.resource_name != row.resource_name:
            check.add(row.line, "resource_name", f"{row.resource_name!r} differs from {seen.resource_name!r} "
                                                 f"on line {seen.line} for the same resource_id")
        known = accounts.setdefault(row.account_key, row)
        for column in ("account_name", "email", "account_kind"):
            mine, theirs = getattr(row, column), getattr(known, column)
            if mine != theirs:
                check.add(row.line, column, f"{mine!r} differs from {theirs!r} on line {known.line} for the same "
                                            "account_id")


class ManualInventory:
    """AccessSource (and a Revoker that only describes) for one hand-kept CSV inventory."""

    source_type = UNVERIFIABLE_SOURCE_TYPE

    def __init__(self, name: str, path: str | os.PathLike[str], *, allow_empty: bool = False,
                 today: Callable[[], date] = date.today) -> None:
        self.name = name
        self.path = Path(path)
        self._source = os.fspath(path)
        self._allow_empty = allow_empty
        self._today = today
        self._names: dict[str, str] = {}

    def __repr__(self) -> str:
        return f"ManualInventory(name={self.name!r}, path={self._source!r})"

    def read(self) -> list[InventoryRow]:
        """Every validated row of the file (``InventoryError`` / ``StopError`` otherwise)."""
        try:
            raw = self.path.read_bytes()
        except OSError as exc:
            raise StopError(f"cannot read the manual inventory {self._source}: {exc.strerror or exc}",
                            system=self.name) from exc
        try:
            rows = parse_inventory(_decode(raw, self._source), self._source, today=self._today(),
                                   allow_empty=self._allow_empty)
        except InventoryError as exc:
            exc.system = self.name
            raise
        for row in rows:
            self._names[row.resource_key] = row.resource_name
            self._names[row.account_key] = row.account_name
        return rows

    def list_access(self) -> Iterator[AccessRecord]:
        """Each resource and account before its first grant; nothing at all if the file is bad."""
        rows = self.read()
        seen: set[str] = set()
        for row in rows:
            if row.resource_key not in seen:
                seen.add(row.resource_key)
                yield ResourceRecord(external_id=row.resource_key, kind=f"{row.network}_account",
                                     name=row.resource_name)
            if row.account_key not in seen:
                seen.add(row.account_key)
                yield AccountRecord(external_id=row.account_key, kind=row.account_kind, display_name=row.account_name,
                                    login=row.account_id, email=row.email)
            yield GrantRecord(account_id=row.account_key, resource_id=row.resource_key, role=row.role, level=row.level,
                              verifiable=False)

    # -- Revoker (describes only) ----------------------------------------------------------------

    def _step(self, grant: GrantRef) -> tuple[str, str, str]:
        network, sep, resource = grant.resource_id.partition(":")
        if not sep or not network:
            raise RejectedError(f"{grant.resource_id!r} is not a manual-inventory resource id (network:id)",
                                system=self.name)
        account = grant.account_id.partition(":")[2] or grant.account_id
        who = self._names.get(grant.account_id, account)
        what = self._names.get(grant.resource_id, resource)
        where = NETWORK_STEPS.get(network, f"on {network}, in the account's access settings")
        step = (f"remove {who} ({account}, role {grant.role}) from {what} ({resource}) {where}; "
                f"then delete its line from {self._source}")
        return network, resource, step

    def preview_revoke(self, grant: GrantRef) -> RequestPreview:
        network, resource, step = self._step(grant)
        return RequestPreview(method="MANUAL", url=f"manual://{network}/{resource}",
                              params={"step": step, "account": grant.account_id})

    def revoke(self, grant: GrantRef) -> RevokeResult:
        _, _, step = self._step(grant)
        raise RejectedError(f"revoke by hand: {step}", system=self.name, detail=step)
