"""Build connectors from settings. The only place that resolves secrets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from accessward.settings import IdentitySourceSettings, LdapSource, MetaSource, RosterCsvSource, Settings
from connectors.protocols import AccessSource, IdentitySource, Revoker


@dataclass(frozen=True)
class Built:
    identity: list[tuple[str, Callable[[], IdentitySource]]]
    access: list[tuple[str, Callable[[], AccessSource]]]


def _relative(base: Path, value: str | None) -> str | None:
    if value is None:
        return None
    path = Path(value)
    return str(path if path.is_absolute() else base / path)


def identity_source(cfg: IdentitySourceSettings, base: Path) -> IdentitySource:
    from connectors.roster import CsvRoster, JsonRoster

    if isinstance(cfg, LdapSource):
        return ldap_source(cfg, base)
    if isinstance(cfg, RosterCsvSource):
        return CsvRoster(cfg.name, Path(_relative(base, cfg.path) or cfg.path))
    return JsonRoster(cfg.name, cfg.url, cfg.token.resolve() if cfg.token else None)


def ldap_source(cfg: LdapSource, base: Path) -> IdentitySource:
    from connectors.ldap import PRESETS, LdapSource, LdapSourceConfig
    from connectors.records import PersonStatus

    attributes = PRESETS[cfg.directory]
    if cfg.status_attribute:
        attributes = attributes.replace(
            status_attribute=cfg.status_attribute,
            status_values={k.lower(): PersonStatus(v) for k, v in cfg.status_values.items()},
        )
    return LdapSource(LdapSourceConfig(
        name=cfg.name, url=cfg.url, bind_dn=cfg.bind_dn, password=cfg.bind_password.resolve(),
        base_dn=cfg.base_dn, user_filter=cfg.user_filter, schema=cfg.directory, attribute_map=attributes,
        page_size=cfg.page_size, ca_file=_relative(base, cfg.ca_file), start_tls=cfg.start_tls,
    ))


def access_source(cfg: MetaSource) -> AccessSource:
    from connectors.meta import MetaBusinessConnector

    return MetaBusinessConnector(
        name=cfg.name, base_url=cfg.base_url, business_id=cfg.business_id, access_token=cfg.access_token.resolve(),
    )


def revoker(cfg: MetaSource) -> Revoker:
    connector = access_source(cfg)
    assert isinstance(connector, Revoker)
    return connector


def identity_sources(settings: Settings, base: Path, only: set[str] | None = None) -> list[IdentitySource]:
    return [identity_source(s, base) for s in settings.identity_sources if not only or s.name in only]


def access_sources(settings: Settings, only: set[str] | None = None) -> list[AccessSource]:
    return [access_source(s) for s in settings.access_sources if not only or s.name in only]


def revokers(settings: Settings) -> dict[str, Revoker]:
    return {s.name: revoker(s) for s in settings.access_sources}
