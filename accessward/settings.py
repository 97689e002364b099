"""The settings file (``accessward.toml``): sources, store and policy, validated.

Errors name the file, the line and the field (``accessward.toml:14: identity_sources[0].url:
Field required``). Secrets are never written in the file: a secret field takes a reference,
``{ env = "NAME" }`` or ``{ file = "/run/secrets/name" }``, resolved only when a connector is
built, so the value never reaches the store, a log or a report.
"""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, field_validator, model_validator

from accessward.connectors import scrub
from accessward.reconcile.policy import LEVEL_NAMES, PolicySettings
from accessward.toml_lines import line_of


class SettingsError(Exception):
    """One or more problems in a settings file, each with file, line and field."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SecretRef(_Strict):
    """Where a secret lives. Exactly one of ``env`` or ``file``."""

    env: str | None = None
    file: str | None = None
    # "accessward.toml:14: access_sources[0].access_token", set by load_settings for error messages
    _where: str = PrivateAttr(default="secret")

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if (self.env is None) == (self.file is None):
            raise ValueError('give exactly one of env = "NAME" or file = "/path"')
        return self

    def resolve(self) -> str:
        """The secret's value; registered with ``connectors.scrub`` so no echo of it is ever kept."""
        if self.env is not None:
            value = os.environ.get(self.env)
            if value is None:
                raise SettingsError([f"{self._where}: environment variable {self.env} is not set"])
            if not value.strip():
                raise SettingsError([f"{self._where}: environment variable {self.env} is empty"])
        else:
            assert self.file is not None
            try:
                value = Path(self.file).read_text().strip()
            except (OSError, UnicodeDecodeError) as exc:
                why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
                raise SettingsError([f"{self._where}: cannot read {self.file}: {why}"]) from exc
        scrub.register(value)
        return value

    def __str__(self) -> str:
        return f"env:{self.env}" if self.env else f"file:{self.file}"


def _secret(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError('secrets are given by reference: { env = "NAME" } or { file = "/path" }, never inline')
    return value


class LdapSource(_Strict):
    type: Literal["ldap"]
    name: str
    url: str
    bind_dn: str
    bind_password: SecretRef
    base_dn: str
    user_filter: str | None = None  # default: the directory's own ((objectClass=inetOrgPerson) on OpenLDAP)
    directory: Literal["openldap", "active_directory"] = "openldap"
    page_size: Annotated[int, Field(ge=1, le=1000)] = 500
    ca_file: str | None = None
    start_tls: bool = False
    # Incremental rounds (modifyTimestamp / uSNChanged) cannot see deletions: a full round runs
    # at least this often so people deleted from the directory are found.
    full_every_hours: Annotated[float, Field(gt=0)] = 24
    # Optional site-specific employment status, e.g. employeeType = "former" -> terminated.
    status_attribute: str | None = None
    status_values: dict[str, Literal["active", "suspended", "terminated"]] = Field(default_factory=dict)

    _check_secret = field_validator("bind_password", mode="before")(_secret)


class RosterCsvSource(_Strict):
    """An agency's staff list dropped as CSV (email, name, employee_id, active)."""

    type: Literal["roster_csv"]
    name: str
    path: str


class RosterJsonSource(_Strict):
    """An agency's staff list from a JSON endpoint: {"staff": [{"email", "name", "active"}]}."""

    type: Literal["roster_json"]
    name: str
    url: str
    token: SecretRef | None = None

    _check_secret = field_validator("token", mode="before")(_secret)


class RosterScimSource(_Strict):
    """An agency's staff from its portal's SCIM 2.0 /Users."""

    type: Literal["roster_scim"]
    name: str
    base_url: str
    token: SecretRef

    _check_secret = field_validator("token", mode="before")(_secret)


class MetaSource(_Strict):
    type: Literal["meta"]
    name: str
    base_url: str = "https://graph.facebook.com/v21.0"
    business_id: str
    access_token: SecretRef
    # Business membership as grants: "admins" (full control; the default), "all", or "none".
    business_membership: Literal["admins", "all", "none"] = "admins"
    instagram: Literal["assets", "accounts", "none"] = "assets"
    partners: bool = True

    _check_secret = field_validator("access_token", mode="before")(_secret)


class LinkedInSource(_Strict):
    type: Literal["linkedin"]
    name: str
    base_url: str = "https://api.linkedin.com/rest"
    organization_id: str
    access_token: SecretRef
    # LinkedIn retires each monthly API version after about a year: keep this current.
    linkedin_version: Annotated[str, Field(pattern=r"^\d{6}$")] = "202603"

    _check_secret = field_validator("access_token", mode="before")(_secret)


class TikTokSource(_Strict):
    type: Literal["tiktok"]
    name: str
    base_url: str = "https://business-api.tiktok.com/open_api/v1.3"
    bc_id: str
    access_token: SecretRef

    _check_secret = field_validator("access_token", mode="before")(_secret)


class PinterestSource(_Strict):
    type: Literal["pinterest"]
    name: str
    base_url: str = "https://api.pinterest.com/v5"
    business_id: Annotated[str, Field(pattern=r"^\d+$")]
    access_token: SecretRef

    _check_secret = field_validator("access_token", mode="before")(_secret)


class ScimSource(_Strict):
    """A social-media-management suite or agency portal that speaks SCIM 2.0."""

    type: Literal["scim"]
    name: str
    base_url: str
    token: SecretRef
    workspace_id: str
    workspace_name: str = ""
    revoke_mode: Literal["deactivate", "delete"] = "deactivate"
    user_filter: str | None = None
    role_attribute: str = "roles"
    role_levels: dict[str, LEVEL_NAMES] = Field(default_factory=dict)
    default_level: LEVEL_NAMES = "full_publishing"

    _check_secret = field_validator("token", mode="before")(_secret)


class ManualSource(_Strict):
    """A hand-kept CSV inventory for networks with no access API (X, YouTube)."""

    type: Literal["manual"]
    name: str
    path: str


class EntraIdSource(_Strict):
    type: Literal["entra"]
    name: str
    tenant_id: str
    client_id: str
    client_secret: SecretRef
    authority_host: str = "https://login.microsoftonline.com"
    graph_url: str = "https://graph.microsoft.com/v1.0"
    ca_file: str | None = None
    # Read each person's MFA methods (one more request per user) for the mfa_required rule.
    posture: bool = True

    _check_secret = field_validator("client_secret", mode="before")(_secret)


class KeycloakIdSource(_Strict):
    type: Literal["keycloak"]
    name: str
    server_url: str
    realm: str
    client_id: str
    client_secret: SecretRef
    token_realm: str | None = None
    ca_file: str | None = None
    # Read each person's SSO links and MFA credentials (two more requests per user).
    posture: bool = True

    _check_secret = field_validator("client_secret", mode="before")(_secret)


IdentitySourceSettings = Annotated[
    LdapSource | EntraIdSource | KeycloakIdSource | RosterCsvSource | RosterJsonSource | RosterScimSource,
    Field(discriminator="type")]
AccessSourceSettings = Annotated[
    MetaSource | LinkedInSource | TikTokSource | PinterestSource | ScimSource | ManualSource,
    Field(discriminator="type")]


class StoreSettings(_Strict):
    url: str = "sqlite:///accessward.db"


class ReportSettings(_Strict):
    directory: str = "reports"


class ServiceSettings(_Strict):
    """``accessward serve``: the HTTP API and the scheduled jobs (cron fields in ``timezone``)."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    # HR's signed webhook (POST /v1/offboarding): HMAC-SHA256 over "<timestamp>.<body>".
    hr_webhook_secret: SecretRef | None = None
    signature_tolerance_seconds: Annotated[int, Field(ge=10, le=3600)] = 300
    timezone: str = "UTC"
    nightly: str = "0 2 * * *"  # full sync + reconcile + apply (crontab: minute hour day month weekday)
    sync_every_minutes: Annotated[int, Field(ge=0)] = 60  # 0: no syncs between nightly runs
    sync_sources: list[str] = Field(default_factory=list)  # empty: every source
    offboarding_check_seconds: Annotated[int, Field(ge=5)] = 60
    misfire_grace_seconds: Annotated[int, Field(ge=1)] = 3600
    offboarding_retry_minutes: Annotated[float, Field(gt=0)] = 5  # first retry; doubles up to 6 h
    request_wait_seconds: Annotated[float, Field(ge=0)] = 20  # an API call waits this long for a receipt
    revoke_attempts: Annotated[int, Field(ge=1, le=10)] = 3
    revoke_backoff_seconds: Annotated[float, Field(ge=0)] = 1.0

    _check_secret = field_validator("hr_webhook_secret", mode="before")(_secret)

    @field_validator("nightly")
    @classmethod
    def _crontab(cls, value: str) -> str:
        from apscheduler.triggers.cron import CronTrigger

        if len(value.split()) != 5:
            raise ValueError("give a crontab expression with five fields: minute hour day month weekday")
        CronTrigger.from_crontab(value)  # its ValueError names the bad field
        return value

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"unknown time zone {value!r} (an IANA name such as Europe/Berlin)") from None
        return value


class Settings(_Strict):
    store: StoreSettings = Field(default_factory=StoreSettings)
    identity_sources: list[IdentitySourceSettings] = Field(default_factory=list)
    access_sources: list[AccessSourceSettings] = Field(default_factory=list)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)

    @model_validator(mode="after")
    def _unique_names(self) -> Settings:
        names = [s.name for s in self.identity_sources] + [s.name for s in self.access_sources]
        dupes = sorted({n for n in names if names.count(n) > 1})
        if dupes:
            raise ValueError(f"source names must be unique; repeated: {', '.join(dupes)}")
        return self


def _field(loc: tuple[str | int, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out or "(top level)"


def _clean_loc(loc: tuple[str | int, ...], data: dict[str, Any]) -> tuple[str | int, ...]:
    """Drop pydantic's discriminator tags (``ldap``) that are not in the file."""
    out: list[str | int] = []
    node: Any = data
    for part in loc:
        if isinstance(node, dict) and part in node:
            node = node[part]
            out.append(part)
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
            out.append(part)
        elif isinstance(node, dict | list):
            if isinstance(part, str) and isinstance(node, dict) and part not in node and node.get("type") == part:
                continue  # a union tag
            out.append(part)
            node = None
        else:
            out.append(part)
    return tuple(out)


def _locate_secrets(node: Any, loc: tuple[str | int, ...], text: str, path: Path) -> None:
    """Tell every secret reference where it is written, so a missing secret names file, line, field."""
    if isinstance(node, SecretRef):
        line = line_of(text, loc)
        node._where = f"{path}:{line}: {_field(loc)}" if line else f"{path}: {_field(loc)}"
    elif isinstance(node, BaseModel):
        for name in type(node).model_fields:
            _locate_secrets(getattr(node, name), (*loc, name), text, path)
    elif isinstance(node, list):
        for i, item in enumerate(node):
            _locate_secrets(item, (*loc, i), text, path)


def load_settings(path: Path) -> Settings:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise SettingsError([f"{path}: cannot read: {exc.strerror}"]) from exc
    except UnicodeDecodeError as exc:
        raise SettingsError([f"{path}: not UTF-8 text (byte {exc.start})"]) from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+)", str(exc))
        where = f"{path}:{found.group(1)}" if found else str(path)
        raise SettingsError([f"{where}: not valid TOML: {exc}"]) from exc
    try:
        settings = Settings.model_validate(data)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = _clean_loc(tuple(err["loc"]), data)
            line = line_of(text, loc)
            where = f"{path}:{line}" if line else str(path)
            problems.append(f"{where}: {_field(loc)}: {err['msg']}")
        raise SettingsError(problems) from None
    _locate_secrets(settings, (), text, path)
    return settings
