"""Agency rosters: the agency's current staff, as an identity source.

An agency tells us who works for it through a CSV drop, a JSON endpoint or its portal's SCIM
2.0 users. Each person on it is yielded with kind ``agency`` and keyed by their
lower-cased email, so the agency rule can tell agency staff who are still on the roster from
those who are not. A roster that cannot be read or has a bad row fails the sync: an unreadable
roster must never look like an agency that has no staff.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from accessward.connectors.errors import MalformedResponseError, StopError
from accessward.connectors.http import HttpClient, require_list
from accessward.connectors.records import PersonKind, PersonRecord, PersonStatus

REQUIRED = ("email",)


def _person(email: str, name: str, employee_id: str | None, active: bool) -> PersonRecord:
    address = email.strip().lower()
    return PersonRecord(
        source_key=address, display_name=name.strip() or address, employee_id=employee_id or None,
        emails=(address,), kind=PersonKind.agency,
        status=PersonStatus.active if active else PersonStatus.terminated,
    )


def _is_email(value: str) -> bool:
    local, _, domain = value.strip().partition("@")
    return bool(local) and "." in domain and " " not in value.strip()


def _truthy(value: str) -> bool:
    return value.strip().lower() not in ("false", "no", "0", "inactive", "left")


@dataclass
class CsvRoster:
    """A CSV with a header row: ``email`` (required), ``name``, ``employee_id``, ``active``."""

    name: str
    path: Path

    def list_people(self) -> Iterator[PersonRecord]:
        try:
            handle = self.path.open(newline="", encoding="utf-8-sig")
        except OSError as exc:
            raise StopError(f"cannot read roster {self.path}: {exc.strerror}", system=self.name) from exc
        with handle:
            reader = csv.DictReader(handle)
            header = [h.strip().lower() for h in reader.fieldnames or []]
            missing = [c for c in REQUIRED if c not in header]
            if missing:
                raise MalformedResponseError(f"{self.path}:1: missing column(s) {', '.join(missing)}", system=self.name)
            seen: set[str] = set()
            for row in reader:
                line = reader.line_num
                clean = {k.strip().lower(): (v or "") for k, v in row.items() if k}
                email = clean.get("email", "").strip()
                if not _is_email(email):
                    raise MalformedResponseError(f"{self.path}:{line}: email: {email!r} is not an email address",
                                                 system=self.name)
                if email.lower() in seen:
                    raise MalformedResponseError(f"{self.path}:{line}: email: {email!r} is listed twice",
                                                 system=self.name)
                seen.add(email.lower())
                yield _person(email, clean.get("name", ""), clean.get("employee_id"),
                              _truthy(clean.get("active", "true") or "true"))


class ScimRoster:
    """An agency portal's users over SCIM 2.0: each user with an email is a member of staff."""

    def __init__(self, name: str, base_url: str, token: str, **http: Any):
        from accessward.connectors.scim import ScimConnector

        self.name = name
        self._scim = ScimConnector(name, base_url, token, workspace_id="roster", **http)

    def list_people(self) -> Iterator[PersonRecord]:
        from accessward.connectors.scim import display_name, is_active, primary_email

        for user in self._scim.users():
            email = primary_email(user)
            if email is None or not _is_email(email):
                raise MalformedResponseError(f"user {user.get('id')!r} has no email address", system=self.name)
            number = user.get("externalId")
            yield _person(email, display_name(user), str(number) if number else None, is_active(user, self.name))


class JsonRoster:
    """``GET url`` answers ``{"staff": [{"email", "name", "employee_id"?, "active"?}, ...]}``."""

    def __init__(self, name: str, url: str, token: str | None = None, **http: Any):
        self.name = name
        self._url = url
        self._client = HttpClient(
            name, url, auth=(lambda: {"Authorization": f"Bearer {token}"}) if token else None, **http)

    def list_people(self) -> Iterator[PersonRecord]:
        body = self._client.get_json(self._url)
        for i, item in enumerate(require_list(body, "staff", self.name)):
            yield self._record(i, item)

    def _record(self, index: int, item: Mapping[str, Any]) -> PersonRecord:
        email = item.get("email")
        if not isinstance(email, str) or not _is_email(email):
            raise MalformedResponseError(f"staff[{index}].email: {email!r} is not an email address", system=self.name)
        active = item.get("active", True)
        return _person(email, str(item.get("name") or ""), item.get("employee_id"), active is not False)
