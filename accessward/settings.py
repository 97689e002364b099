"""The settings file (``accessward.toml``): sources, store and policy, validated.

Errors name the file, the line and the field (``accessward.toml:14: identity_sources[0].url:
Field required``). Secrets are never written in the file: a secret field takes a reference,
``{ env = "NAME" }``, ``{ file = "/run/secrets/name" }`` or ``{ credential = "name" }`` (a systemd
credential: ``$CREDENTIALS_DIRECTORY/name``, from ``LoadCredential=``), resolved only when a connector
is built, so the value never reaches the store, a log or a report.
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
from accessward.review_settings import ReviewCampaignSettings, unique_names
from accessward.toml_lines import line_of


class SettingsError(Exception):
    """One or more problems in a settings file, each with file, line and field."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class SecretRef(_Strict):
    """Where a secret lives. Exactly one of ``env``, ``file`` or ``credential``.

    ``credential`` names a file in the directory systemd gives a unit in ``$CREDENTIALS_DIRECTORY``
    (``LoadCredential=name:/etc/credstore/name``): the path is only known when the service runs.
    """

    env: str | None = None
    file: str | None = None
    credential: Annotated[str | None, Field(pattern=r"^[A-Za-z0-9_.-]+$")] = None
    # "accessward.toml:14: access_sources[0].access_token", set by load_settings for error messages
    _where: str = PrivateAttr(default="secret")

    @model_validator(mode="after")
    def _exactly_one(self) -> SecretRef:
        if sum(v is not None for v in (self.env, self.file, self.credential)) != 1:
            raise ValueError('give exactly one of env = "NAME", file = "/path" or credential = "name"')
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
            path = self.file
            if self.credential is not None:
                directory = os.environ.get("CREDENTIALS_DIRECTORY")
                if not directory:
                    raise SettingsError([f"{self._where}: credential {self.credential}: $CREDENTIALS_DIRECTORY is "
                                         "not set (run under systemd with LoadCredential=)"])
                path = str(Path(directory) / self.credential)
            assert path is not None
            try:
                value = Path(path).read_text().strip()
            except (OSError, UnicodeDecodeError) as exc:
                why = exc.strerror if isinstance(exc, OSError) else "not UTF-8 text"
                raise SettingsError([f"{self._where}: cannot read {path}: {why}"]) from exc
        scrub.register(value)
        return value

    def __str__(self) -> str:
        if self.credential:
            return f"credential:{self.credential}"
        return f"env:{self.env}" if self.env else f"file:{self.file}"


def _secret(value: Any) -> Any:
    if isinstance(value, str):
        raise ValueError('secrets are given by reference: { env = "NAME" }, { file = "/path" } or '
                         '{ credential = "name" } (systemd), never inline')
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
    # OpenLDAP's incremental rounds (modifyTimestamp) cannot see deletions: a full round runs at
    # least this often so people deleted from the directory are found. AD's rounds see them through
    # the Deleted Objects container (deleted_objects; the bind account must be allowed to list it).
    full_every_hours: Annotated[float, Field(gt=0)] = 24
    deleted_objects: bool = True
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
    # Whole partnerships (DELETE /{business}/agencies) are a manual step unless this is true: the
    # connector reads Pages and Instagram only, and a partnership can also hold ad accounts, catalogs, pixels.
    remove_partnerships: bool = False

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
    child_bc_ids: list[Annotated[str, Field(pattern=r"^\d+$")]] = Field(default_factory=list)  # their own members

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
    # Read employeeLeaveDateTime (needs User-LifeCycleInfo.Read.All, checked at the start of each run).
    leave_dates: bool = True
    # What offboarding and lost-device response do to a B2B guest: revokeSignInSessions ends no guest session.
    guests: Literal["disable", "delete"] = "disable"

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
    # The Ed25519 key that signs evidence packs (`accessward keys create`), e.g. { file = "accessward.key" };
    # a relative file is relative to this settings file.
    signing_key: SecretRef | None = None

    _check_secret = field_validator("signing_key", mode="before")(_secret)


class ServiceSettings(_Strict):
    """``accessward serve``: the HTTP API and the scheduled jobs (cron fields in ``timezone``)."""

    host: str = "127.0.0.1"
    port: Annotated[int, Field(ge=0, le=65535)] = 8080
    # HR's signed webhook (POST /v1/offboarding): HMAC-SHA256 over "<timestamp>.<body>".
    hr_webhook_secret: SecretRef | None = None
    signature_tolerance_seconds: Annotated[int, Field(ge=10, le=3600)] = 300
    # Request bodies above this are refused (413) before authentication and before parsing.
    max_body_bytes: Annotated[int, Field(ge=1024)] = 1024 * 1024
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
    # a SCIM deprovisioning nobody matched is retried after each identity sync this long (0: never)
    scim_unmatched_retry_days: Annotated[float, Field(ge=0, le=365)] = 30

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


NOTIFY_EVENTS = ("plan.needs_approval", "review.assigned", "review.due_soon", "review.overdue",
                 "offboarding.partial", "offboarding.unmatched", "source.failing", "source.quarantined",
                 "device.lost")


class EmailChannel(_Strict):
    """Mail over SMTP: STARTTLS on the submission port by default, AUTH with a secret reference."""

    type: Literal["email"]
    host: str
    port: Annotated[int, Field(ge=1, le=65535)] = 587
    security: Literal["starttls", "tls", "none"] = "starttls"  # "none" only for a relay on localhost
    username: str | None = None
    password: SecretRef | None = None
    ca_file: str | None = None  # a private CA for the mail server's certificate
    sender: str = Field(alias="from")
    to: Annotated[list[str], Field(min_length=1)]
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 15

    _check_secret = field_validator("password", mode="before")(_secret)

    @model_validator(mode="after")
    def _auth_needs_tls(self) -> EmailChannel:
        if (self.username is None) != (self.password is None):
            raise ValueError("give both username and password, or neither")
        if self.username is not None and self.security == "none":
            raise ValueError("SMTP AUTH without TLS would send the password in the clear: use starttls or tls")
        return self


class WebhookChannel(_Strict):
    """A chat webhook: Slack incoming webhook, or a Microsoft Teams Workflows webhook (Adaptive Card).
    The URL carries the credential, so it is a secret reference."""

    type: Literal["slack", "teams"]
    url: SecretRef
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 15
    ca_file: str | None = None

    _check_secret = field_validator("url", mode="before")(_secret)


ChannelSettings = Annotated[EmailChannel | WebhookChannel, Field(discriminator="type")]


class NotificationSettings(_Strict):
    """Who is told what: channels, and per event the channels it goes to (accessward.notify)."""

    base_url: str = "http://127.0.0.1:8080"  # the console; every message links to the page that acts on it
    channels: dict[str, ChannelSettings] = Field(default_factory=dict)
    events: dict[str, list[str]] = Field(default_factory=dict)
    source_failures: Annotated[int, Field(ge=1)] = 3  # a source failing this many runs in a row is reported
    max_attempts: Annotated[int, Field(ge=1, le=50)] = 10
    retry_seconds: Annotated[float, Field(ge=0)] = 30  # first retry; doubles up to an hour
    check_seconds: Annotated[int, Field(ge=5)] = 30  # how often `serve` delivers

    @model_validator(mode="after")
    def _known(self) -> NotificationSettings:
        unknown = sorted(set(self.events) - set(NOTIFY_EVENTS))
        if unknown:
            raise ValueError(f"unknown event(s) {', '.join(unknown)}; known: {', '.join(NOTIFY_EVENTS)}")
        missing = sorted({c for chans in self.events.values() for c in chans} - set(self.channels))
        if missing:
            raise ValueError(f"events name undefined channel(s): {', '.join(missing)}")
        return self


class PrincipalSettings(_Strict):
    """A person who approves, reviews or accepts risks, before (or beside) the console's IdP login.

    ``id`` is stable (an employee id is a good choice); ``person_key`` finds their own records in
    the directory (employee id, UPN or source key; the email is used too), so they never decide on
    their own access. ``issuer`` + ``subject`` pre-bind their console login (OIDC ``iss``/``sub``).
    """

    id: Annotated[str, Field(min_length=1, pattern=r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")]
    name: str = ""
    email: str | None = None
    person_key: str | None = None
    issuer: str | None = None
    subject: str | None = None


class Settings(_Strict):
    store: StoreSettings = Field(default_factory=StoreSettings)
    principals: list[PrincipalSettings] = Field(default_factory=list)
    notifications: NotificationSettings = Field(default_factory=NotificationSettings)
    identity_sources: list[IdentitySourceSettings] = Field(default_factory=list)
    access_sources: list[AccessSourceSettings] = Field(default_factory=list)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    reports: ReportSettings = Field(default_factory=ReportSettings)
    service: ServiceSettings = Field(default_factory=ServiceSettings)
    reviews: list[ReviewCampaignSettings] = Field(default_factory=list)  # access reviews (review_settings)

    @model_validator(mode="after")
    def _unique_names(self) -> Settings:
        unique_names(self.reviews)
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
