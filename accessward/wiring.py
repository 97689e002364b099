"""Build connectors from settings. The only place that resolves secrets.

Connector modules are imported when a source of their type is configured, so a settings file
with only LDAP and Meta never loads msal or python-keycloak.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

from accessward.connectors.protocols import AccessSource, IdentitySource, Revoker
from accessward.settings import (
    AccessSourceSettings,
    EntraIdSource,
    IdentitySourceSettings,
    KeycloakIdSource,
    LdapSource,
    LinkedInSource,
    ManualSource,
    MetaSource,
    PinterestSource,
    RosterCsvSource,
    RosterJsonSource,
    RosterScimSource,
    ScimSource,
    Settings,
    TikTokSource,
)


def _relative(base: Path, value: str | None) -> str | None:
    if value is None:
        return None
    path = Path(value)
    return str(path if path.is_absolute() else base / path)


def _verify(base: Path, ca_file: str | None) -> bool | str:
    return _relative(base, ca_file) or True


def identity_source(cfg: IdentitySourceSettings, base: Path) -> IdentitySource:
    if isinstance(cfg, LdapSource):
        return ldap_source(cfg, base)
    if isinstance(cfg, EntraIdSource):
        from accessward.connectors.entra import EntraSource

        return EntraSource(cfg.name, cfg.tenant_id, cfg.client_id, cfg.client_secret.resolve(),
                           authority_host=cfg.authority_host, graph_url=cfg.graph_url,
                           verify=_verify(base, cfg.ca_file), posture=cfg.posture, leave_dates=cfg.leave_dates)
    if isinstance(cfg, KeycloakIdSource):
        from accessward.connectors.keycloak import KeycloakSource

        return KeycloakSource(cfg.name, cfg.server_url, cfg.realm, cfg.client_id, cfg.client_secret.resolve(),
                              token_realm=cfg.token_realm, verify=_verify(base, cfg.ca_file), posture=cfg.posture)
    from accessward.connectors.roster import CsvRoster, JsonRoster, ScimRoster

    if isinstance(cfg, RosterCsvSource):
        return CsvRoster(cfg.name, Path(_relative(base, cfg.path) or cfg.path))
    if isinstance(cfg, RosterScimSource):
        return ScimRoster(cfg.name, cfg.base_url, cfg.token.resolve())
    assert isinstance(cfg, RosterJsonSource)
    return JsonRoster(cfg.name, cfg.url, cfg.token.resolve() if cfg.token else None)


def ldap_source(cfg: LdapSource, base: Path) -> IdentitySource:
    from accessward.connectors.ldap import PRESETS, LdapSource, LdapSourceConfig
    from accessward.connectors.records import PersonStatus

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
        full_every=timedelta(hours=cfg.full_every_hours), deleted_objects=cfg.deleted_objects,
    ))


def access_connector(cfg: AccessSourceSettings, base: Path) -> Any:
    """A connector that is both the access source and the revoker of its system."""
    if isinstance(cfg, MetaSource):
        from accessward.connectors.meta import MetaBusinessConnector

        return MetaBusinessConnector(name=cfg.name, base_url=cfg.base_url, business_id=cfg.business_id,
                                     access_token=cfg.access_token.resolve(),
                                     business_membership=cfg.business_membership, instagram=cfg.instagram,
                                     partners=cfg.partners, remove_partnerships=cfg.remove_partnerships)
    if isinstance(cfg, LinkedInSource):
        from accessward.connectors.linkedin import LinkedInOrganizationConnector

        return LinkedInOrganizationConnector(cfg.name, cfg.base_url, cfg.organization_id,
                                             cfg.access_token.resolve(), linkedin_version=cfg.linkedin_version)
    if isinstance(cfg, TikTokSource):
        from accessward.connectors.tiktok import TikTokBusinessCenterConnector

        return TikTokBusinessCenterConnector(cfg.name, cfg.base_url, cfg.bc_id, cfg.access_token.resolve(),
                                             child_bc_ids=cfg.child_bc_ids)
    if isinstance(cfg, PinterestSource):
        from accessward.connectors.pinterest import PinterestBusinessConnector

        return PinterestBusinessConnector(cfg.name, cfg.base_url, cfg.business_id, cfg.access_token.resolve())
    if isinstance(cfg, ScimSource):
        from accessward.connectors.scim import ScimConnector

        return ScimConnector(cfg.name, cfg.base_url, cfg.token.resolve(), workspace_id=cfg.workspace_id,
                             workspace_name=cfg.workspace_name, revoke_mode=cfg.revoke_mode,
                             user_filter=cfg.user_filter, role_attribute=cfg.role_attribute,
                             role_levels=dict(cfg.role_levels) or None, default_level=cfg.default_level)
    assert isinstance(cfg, ManualSource)
    from accessward.connectors.manual import ManualInventory

    return ManualInventory(cfg.name, _relative(base, cfg.path) or cfg.path)


def identity_sources(settings: Settings, base: Path, only: set[str] | None = None) -> list[IdentitySource]:
    return [identity_source(s, base) for s in settings.identity_sources if not only or s.name in only]


def access_sources(settings: Settings, base: Path, only: set[str] | None = None) -> list[AccessSource]:
    out: list[AccessSource] = []
    for s in settings.access_sources:
        if not only or s.name in only:
            connector = access_connector(s, base)
            assert isinstance(connector, AccessSource)
            out.append(connector)
    return out


def revokers(settings: Settings, base: Path) -> dict[str, Revoker]:
    out: dict[str, Revoker] = {}
    for s in settings.access_sources:
        connector = access_connector(s, base)
        assert isinstance(connector, Revoker)
        out[s.name] = connector
    return out
