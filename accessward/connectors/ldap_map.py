"""Attribute maps of the LDAP identity source: which directory attribute feeds which PersonRecord field.

Two presets, :data:`OPENLDAP` and :data:`ACTIVE_DIRECTORY`; adjust one with :meth:`AttributeMap.replace`.
Split out of :mod:`accessward.connectors.ldap` (which re-exports every name here).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from accessward.connectors.ldap_ad import AD_DEFAULT_FILTER, SYSTEM_ACCOUNT_ATTRIBUTES
from accessward.connectors.records import PersonKind, PersonStatus

__all__ = ["ACTIVE_DIRECTORY", "DEFAULT_KIND_VALUES", "OPENLDAP", "PRESETS", "AttributeMap", "Schema"]

Schema = Literal["openldap", "active_directory"]

DEFAULT_KIND_VALUES: Mapping[str, PersonKind] = {
    "employee": PersonKind.employee,
    "staff": PersonKind.employee,
    "permanent": PersonKind.employee,
    "intern": PersonKind.employee,
    "contractor": PersonKind.contractor,
    "contract": PersonKind.contractor,
    "consultant": PersonKind.contractor,
    "freelancer": PersonKind.contractor,
    "temp": PersonKind.contractor,
    "agency": PersonKind.agency,
    "partner": PersonKind.agency,
    "vendor": PersonKind.agency,
}


@dataclass(frozen=True, slots=True)
class AttributeMap:
    """Which directory attribute feeds which PersonRecord field.

    Tuples are tried in order; the first non-empty value wins (emails take all of them).
    ``key_format`` is ``"string"`` (entryUUID) or ``"guid_le"`` (AD objectGUID: 16 bytes,
    little-endian, rendered with ``uuid.UUID(bytes_le=...)``).
    """

    key: str
    key_format: Literal["string", "guid_le"]
    default_filter: str
    username: tuple[str, ...] = ()
    upn: tuple[str, ...] = ()
    emails: tuple[str, ...] = ("mail",)
    proxy_addresses: str | None = None
    employee_id: tuple[str, ...] = ()
    display_name: tuple[str, ...] = ("displayName", "cn")
    department: tuple[str, ...] = ()
    manager: str | None = "manager"
    groups: str | None = None
    kind: str | None = "employeeType"
    kind_values: Mapping[str, PersonKind] = field(default_factory=lambda: dict(DEFAULT_KIND_VALUES))
    # Active Directory account state
    account_control: str | None = None
    account_expires: str | None = None
    # OpenLDAP account state
    locked_time: str | None = None
    lockout_is_suspension: bool = False
    shadow_expire: str | None = None
    # Site-specific employment status
    status_attribute: str | None = None
    status_values: Mapping[str, PersonStatus] = field(default_factory=dict)
    # Active Directory: every group a person is in through other groups; built-in and service accounts dropped
    nested_groups: bool = False
    drop_system_accounts: bool = False

    def replace(self, **changes: Any) -> AttributeMap:
        """A copy with some fields changed (``dataclasses.replace``)."""
        return dataclasses.replace(self, **changes)

    def lowered(self) -> AttributeMap:
        """A copy with every attribute name lower-cased (how entries are keyed once read)."""

        def one(name: str | None) -> str | None:
            return name.lower() if name else name

        def many(names: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(name.lower() for name in names)

        return self.replace(
            key=self.key.lower(), username=many(self.username), upn=many(self.upn), emails=many(self.emails),
            proxy_addresses=one(self.proxy_addresses), employee_id=many(self.employee_id),
            display_name=many(self.display_name), department=many(self.department), manager=one(self.manager),
            groups=one(self.groups), kind=one(self.kind), account_control=one(self.account_control),
            account_expires=one(self.account_expires), locked_time=one(self.locked_time),
            shadow_expire=one(self.shadow_expire), status_attribute=one(self.status_attribute),
        )

    def requested_attributes(self) -> list[str]:
        """Every attribute to ask for, operational ones (entryUUID, pwdAccountLockedTime) by name."""
        names: list[str] = [self.key]
        names += [*self.username, *self.upn, *self.emails, *self.employee_id]
        names += [*self.display_name, *self.department]
        for single in (
            self.proxy_addresses,
            self.manager,
            self.groups,
            self.kind,
            self.account_control,
            self.account_expires,
            self.locked_time,
            self.shadow_expire,
            self.status_attribute,
        ):
            if single:
                names.append(single)
        if self.drop_system_accounts:
            names += SYSTEM_ACCOUNT_ATTRIBUTES
        seen: set[str] = set()
        unique = []
        for name in names:
            if name.lower() not in seen:
                seen.add(name.lower())
                unique.append(name)
        return unique


#: OpenLDAP ``inetOrgPerson`` (RFC 2798) with ppolicy and ``shadowAccount`` for account state.
OPENLDAP = AttributeMap(
    key="entryUUID",
    key_format="string",
    default_filter="(objectClass=inetOrgPerson)",
    username=("uid",),
    emails=("mail",),
    employee_id=("employeeNumber",),
    display_name=("displayName", "cn"),
    department=("departmentNumber", "ou"),
    manager="manager",
    groups="memberOf",
    kind="employeeType",
    locked_time="pwdAccountLockedTime",
    shadow_expire="shadowExpire",
)

#: Active Directory users (``objectGUID`` key, ``userAccountControl`` / ``accountExpires`` state).
ACTIVE_DIRECTORY = AttributeMap(
    key="objectGUID",
    key_format="guid_le",
    default_filter=AD_DEFAULT_FILTER,
    username=("sAMAccountName",),
    upn=("userPrincipalName",),
    emails=("mail",),
    proxy_addresses="proxyAddresses",
    employee_id=("employeeID", "employeeNumber"),
    display_name=("displayName", "cn", "name"),
    department=("department",),
    manager="manager",
    groups="memberOf",
    kind="employeeType",
    account_control="userAccountControl",
    account_expires="accountExpires",
    nested_groups=True,
    drop_system_accounts=True,
)

PRESETS: Mapping[Schema, AttributeMap] = {"openldap": OPENLDAP, "active_directory": ACTIVE_DIRECTORY}

