"""Graph user objects and authentication methods mapped onto records (see ``connectors.entra``).

Split out of ``connectors.entra`` so the pure mapping (no network) is read and tested apart from the
connector; ``connectors.entra`` re-exports every public name here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from accessward.connectors.errors import MalformedResponseError
from accessward.connectors.http import JSONDict
from accessward.connectors.records import PersonKind, PersonRecord, PersonStatus

DEFAULT_EMPLOYEE_TYPES: Mapping[str, PersonKind] = {
    "contractor": PersonKind.contractor,
    "consultant": PersonKind.contractor,
    "vendor": PersonKind.contractor,
    "agency": PersonKind.agency,
}

#: ``@odata.type`` suffix -> the URL segment under ``/users/{id}/authentication/``.
METHOD_SEGMENTS: Mapping[str, str] = {
    "microsoftAuthenticatorAuthenticationMethod": "microsoftAuthenticatorMethods",
    "fido2AuthenticationMethod": "fido2Methods",
    "phoneAuthenticationMethod": "phoneMethods",
    "softwareOathAuthenticationMethod": "softwareOathMethods",
    "emailAuthenticationMethod": "emailMethods",
    "windowsHelloForBusinessAuthenticationMethod": "windowsHelloForBusinessMethods",
    "temporaryAccessPassAuthenticationMethod": "temporaryAccessPassMethods",
    "passwordAuthenticationMethod": "passwordMethods",
    "platformCredentialAuthenticationMethod": "platformCredentialMethods",
}
#: Methods that are not a second factor: the password itself, and email (self-service reset only).
_NOT_MFA = frozenset({"passwordAuthenticationMethod", "emailAuthenticationMethod"})


@dataclass(frozen=True, slots=True)
class AuthMethod:
    """One authentication method of a user, as ``/authentication/methods`` lists it."""

    id: str
    type: str  # the @odata.type without "#microsoft.graph.", e.g. "fido2AuthenticationMethod"
    display_name: str = ""  # device name for Authenticator / FIDO2 / Windows Hello, number for phone
    created: datetime | None = None
    detail: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_mfa(self) -> bool:
        return self.type not in _NOT_MFA

    @property
    def segment(self) -> str | None:
        """The URL segment to address this method (None for a type this connector does not know)."""
        return METHOD_SEGMENTS.get(self.type)


def _text(item: JSONDict, key: str, system: str) -> str | None:
    value = item.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise MalformedResponseError(f"user {item.get('id')!r}: {key!r} is not a string", system=system)
    return value


def _strings(item: JSONDict, key: str, system: str) -> list[str]:
    value = item.get(key)
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise MalformedResponseError(f"user {item.get('id')!r}: {key!r} is not a list of strings", system=system)
    return value


def _when(value: str, what: str, system: str) -> datetime:
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise MalformedResponseError(f"{what}: {value!r} is not an ISO 8601 time", system=system) from exc
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _emails(item: JSONDict, system: str) -> tuple[str, ...]:
    found: list[str] = []
    mail = _text(item, "mail", system)
    if mail:
        found.append(mail)
    found += _strings(item, "otherMails", system)
    proxies = _strings(item, "proxyAddresses", system)
    found += [p[5:] for p in proxies if p.startswith("SMTP:")]
    found += [p[5:] for p in proxies if p[:5].lower() == "smtp:" and not p.startswith("SMTP:")]
    seen: set[str] = set()
    unique: list[str] = []
    for address in (a.strip() for a in found):
        if address and address.lower() not in seen:
            seen.add(address.lower())
            unique.append(address)
    return tuple(unique)


def person_from_user(
    item: JSONDict, *, system: str, now: datetime,
    employee_types: Mapping[str, PersonKind] = DEFAULT_EMPLOYEE_TYPES,
) -> PersonRecord:
    """A Graph user object (selected with ``USER_SELECT``) as a PersonRecord (see the module docstring)."""
    user_id = item.get("id")
    if not isinstance(user_id, str) or not user_id:
        # Skipping it would make this person look like a leaver: the page is malformed.
        raise MalformedResponseError("a user without an 'id'", system=system,
                                     detail=f"keys: {', '.join(sorted(map(str, item)))[:200]}")
    enabled = item.get("accountEnabled")
    if enabled is not None and not isinstance(enabled, bool):
        raise MalformedResponseError(f"user {user_id}: 'accountEnabled' is not a boolean", system=system)
    leave_raw = _text(item, "employeeLeaveDateTime", system)
    leave_date = _when(leave_raw, f"user {user_id} employeeLeaveDateTime", system) if leave_raw else None
    if leave_date is not None and leave_date <= now:
        status = PersonStatus.terminated
    elif enabled is False:
        status = PersonStatus.suspended
    else:
        status = PersonStatus.active
    user_type = (_text(item, "userType", system) or "").lower()
    employee_type = (_text(item, "employeeType", system) or "").strip().lower()
    lowered = {k.lower(): v for k, v in employee_types.items()}
    kind = PersonKind.agency if user_type == "guest" else lowered.get(employee_type, PersonKind.employee)
    return PersonRecord(
        source_key=user_id,
        display_name=_text(item, "displayName", system) or "",
        employee_id=_text(item, "employeeId", system),
        upn=_text(item, "userPrincipalName", system),
        emails=_emails(item, system),
        kind=kind,
        status=status,
        leave_date=leave_date,
        department=_text(item, "department", system),
    )


def _method_from_json(item: JSONDict, system: str) -> AuthMethod:
    method_id, odata_type = item.get("id"), item.get("@odata.type")
    if not isinstance(method_id, str) or not isinstance(odata_type, str):
        raise MalformedResponseError("an authentication method without 'id' or '@odata.type'", system=system)
    created_raw = item.get("createdDateTime")
    created = _when(created_raw, f"method {method_id} createdDateTime", system) \
        if isinstance(created_raw, str) and created_raw else None
    name = item.get("displayName") or item.get("phoneNumber") or item.get("emailAddress") or ""
    detail = {k: v for k, v in item.items() if k not in ("id", "@odata.type", "password")}
    return AuthMethod(method_id, odata_type.removeprefix("#microsoft.graph."), str(name), created, detail)
