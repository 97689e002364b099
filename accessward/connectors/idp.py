"""Identity-provider actions behind one small protocol: end sessions, disable, list/remove MFA methods.

Entra ID and Keycloak name these differently (``revokeSignInSessions`` vs ``logout``,
authentication methods vs credentials); offboarding and lost-device handling speak only
:class:`IdentityProvider`. Each adapter wraps the connector that already knows the API, its error
taxonomy and its previews, and adds nothing but the naming and which methods are bound to a device.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from accessward.connectors.records import RequestPreview, RevokeResult

if TYPE_CHECKING:
    from accessward.connectors.entra import EntraSource
    from accessward.connectors.keycloak import KeycloakSource

# Methods that live on a device (a phone app, a security key, a laptop's TPM), per IdP.
ENTRA_DEVICE_METHODS = frozenset({
    "microsoftAuthenticatorAuthenticationMethod", "fido2AuthenticationMethod",
    "windowsHelloForBusinessAuthenticationMethod", "softwareOathAuthenticationMethod",
    "platformCredentialAuthenticationMethod",
})
KEYCLOAK_DEVICE_CREDENTIALS = frozenset({"otp", "webauthn", "webauthn-passwordless"})


@dataclass(frozen=True, slots=True)
class MfaMethod:
    """A registered sign-in method; ``label`` is the device name where the IdP keeps one."""

    id: str
    kind: str
    label: str = ""
    device_bound: bool = False

    def matches(self, device: str) -> bool:
        wanted = device.strip().casefold()
        return bool(wanted) and wanted in (self.id.casefold(), self.label.strip().casefold())


@runtime_checkable
class IdentityProvider(Protocol):
    name: str

    def preview_end_sessions(self, user_id: str) -> RequestPreview: ...

    def end_sessions(self, user_id: str) -> RevokeResult: ...

    def preview_disable(self, user_id: str) -> RequestPreview: ...

    def disable(self, user_id: str) -> RevokeResult: ...

    def mfa_methods(self, user_id: str) -> list[MfaMethod]: ...

    def preview_remove_mfa_method(self, user_id: str, method: MfaMethod) -> RequestPreview: ...

    def remove_mfa_method(self, user_id: str, method: MfaMethod) -> RevokeResult: ...


class EntraIdp:
    """Entra ID through :class:`connectors.entra.EntraSource` (user object ids)."""

    def __init__(self, source: EntraSource) -> None:
        self.source = source
        self.name = source.name

    def preview_end_sessions(self, user_id: str) -> RequestPreview:
        return self.source.preview_revoke_sessions(user_id)

    def end_sessions(self, user_id: str) -> RevokeResult:
        return self.source.revoke_sessions(user_id)

    def preview_disable(self, user_id: str) -> RequestPreview:
        return self.source.preview_disable(user_id)

    def disable(self, user_id: str) -> RevokeResult:
        return self.source.disable(user_id)

    def mfa_methods(self, user_id: str) -> list[MfaMethod]:
        return [MfaMethod(m.id, m.type, m.display_name, m.type in ENTRA_DEVICE_METHODS)
                for m in self.source.mfa_methods(user_id) if m.is_mfa]

    def _segment(self, method: MfaMethod) -> str:
        from accessward.connectors.entra import METHOD_SEGMENTS

        return METHOD_SEGMENTS.get(method.kind, "")

    def preview_remove_mfa_method(self, user_id: str, method: MfaMethod) -> RequestPreview:
        return self.source.preview_remove_mfa_method(user_id, method.id, self._segment(method))

    def remove_mfa_method(self, user_id: str, method: MfaMethod) -> RevokeResult:
        return self.source.remove_mfa_method(user_id, method.id, self._segment(method))


class KeycloakIdp:
    """Keycloak through :class:`connectors.keycloak.KeycloakSource` (user ids of the realm)."""

    def __init__(self, source: KeycloakSource) -> None:
        self.source = source
        self.name = source.name

    def preview_end_sessions(self, user_id: str) -> RequestPreview:
        return self.source.preview_logout(user_id)

    def end_sessions(self, user_id: str) -> RevokeResult:
        return self.source.logout(user_id)

    def preview_disable(self, user_id: str) -> RequestPreview:
        return self.source.preview_disable(user_id)

    def disable(self, user_id: str) -> RevokeResult:
        return self.source.disable(user_id)

    def mfa_methods(self, user_id: str) -> list[MfaMethod]:
        return [MfaMethod(c.id, c.type, c.label, c.type in KEYCLOAK_DEVICE_CREDENTIALS)
                for c in self.source.credentials(user_id) if c.is_mfa]

    def preview_remove_mfa_method(self, user_id: str, method: MfaMethod) -> RequestPreview:
        return self.source.preview_delete_credential(user_id, method.id)

    def remove_mfa_method(self, user_id: str, method: MfaMethod) -> RevokeResult:
        return self.source.delete_credential(user_id, method.id)
