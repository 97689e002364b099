"""Identity-provider actions behind one small protocol: end sessions, disable, list/remove MFA methods.

Entra ID and Keycloak name these differently (``revokeSignInSessions`` vs ``logout``,
authentication methods vs credentials); offboarding and lost-device handling speak only
:class:`IdentityProvider`. Each adapter wraps the connector that already knows the API, its error
taxonomy and its previews, and adds the naming, which methods are bound to a device, and the
**order of steps** each IdP needs (:meth:`IdentityProvider.offboarding_steps`,
:meth:`IdentityProvider.lost_device_steps`):

- Keycloak: disable first, then log out (the reverse leaves a window to sign in again), then remove
  offline tokens through the user's consents (logout leaves them listed). Deleting a user's only OTP
  adds the ``CONFIGURE_TOTP`` required action, keeping the existing ones.
- Entra ID, a member: disable (when asked), then ``revokeSignInSessions``. A **guest** (B2B, agency
  staff): ``revokeSignInSessions`` does not end a guest's sessions, so the guest account is disabled
  (``accountEnabled`` false) or deleted, per ``guests``; "sessions ended" is never recorded for one.

Disabling an IdP account is wide too: everything the person reaches through that sign-in goes with it
(:func:`disable_takes`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol, runtime_checkable

from accessward.connectors.records import RequestPreview, RevocationScope, RevokeOutcome, RevokeResult, Takes

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
GuestAction = Literal["disable", "delete"]


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


@dataclass(frozen=True)
class IdpStep:
    """One IdP action of an offboarding or a lost-device response, in the order it must run.

    ``kind``: ``disable_account`` | ``end_sessions`` | ``remove_offline_tokens`` | ``disable_guest`` |
    ``remove_guest``. ``preview`` is the exact request; ``run`` sends it.
    """

    kind: str
    preview: RequestPreview
    run: Callable[[], RevokeResult]


def disable_takes(idp_name: str) -> Takes:
    """What disabling (or deleting) a person's IdP account takes away, for the guards to judge.

    Every grant whose account signs in through this IdP (SSO) stops working with it; the planner's
    ``account_on_system`` expansion does not fit (the grants are on *other* systems), so the scope is
    ``account_on_system`` of the IdP itself and the note says which grants follow it.
    """
    return Takes(RevocationScope.account_on_system,
                 note=f"disabling the account in {idp_name} ends every sign-in through it: each SSO grant of "
                      "the person stops working with it")


@runtime_checkable
class IdentityProvider(Protocol):
    name: str

    def preview_end_sessions(self, user_id: str) -> RequestPreview: ...

    def end_sessions(self, user_id: str) -> RevokeResult: ...

    def preview_disable(self, user_id: str) -> RequestPreview: ...

    def disable(self, user_id: str) -> RevokeResult: ...

    def offboarding_steps(self, user_id: str, *, disable: bool) -> list[IdpStep]: ...

    def lost_device_steps(self, user_id: str) -> list[IdpStep]: ...

    def mfa_methods(self, user_id: str) -> list[MfaMethod]: ...

    def preview_remove_mfa_method(self, user_id: str, method: MfaMethod) -> RequestPreview: ...

    def remove_mfa_method(self, user_id: str, method: MfaMethod) -> RevokeResult: ...


class EntraIdp:
    """Entra ID through :class:`connectors.entra.EntraSource` (user object ids)."""

    def __init__(self, source: EntraSource, *, guests: GuestAction = "disable") -> None:
        if guests not in ("disable", "delete"):
            raise ValueError(f"guests must be 'disable' or 'delete', not {guests!r}")
        self.source = source
        self.name = source.name
        self.guests: GuestAction = guests

    def preview_end_sessions(self, user_id: str) -> RequestPreview:
        return self.source.preview_revoke_sessions(user_id)

    def end_sessions(self, user_id: str) -> RevokeResult:
        return self.source.revoke_sessions(user_id)

    def preview_disable(self, user_id: str) -> RequestPreview:
        return self.source.preview_disable(user_id)

    def disable(self, user_id: str) -> RevokeResult:
        return self.source.disable(user_id)

    def _guest_step(self, user_id: str) -> IdpStep:
        why = "revokeSignInSessions does not end a guest's sessions"
        if self.guests == "delete":
            return IdpStep("remove_guest", self.source.preview_delete_user(user_id),
                           lambda: _explained(self.source.delete_user(user_id), why))
        return IdpStep("disable_guest", self.source.preview_disable(user_id),
                       lambda: _explained(self.source.disable(user_id), why))

    def offboarding_steps(self, user_id: str, *, disable: bool) -> list[IdpStep]:
        """Reads the user (``userType``): NotFoundError when it is gone."""
        if self.source.is_guest(user_id):
            return [self._guest_step(user_id)]
        steps = [IdpStep("disable_account", self.source.preview_disable(user_id),
                         lambda: self.source.disable(user_id))] if disable else []
        return [*steps, IdpStep("end_sessions", self.source.preview_revoke_sessions(user_id),
                                lambda: self.source.revoke_sessions(user_id))]

    def lost_device_steps(self, user_id: str) -> list[IdpStep]:
        if self.source.is_guest(user_id):
            return [self._guest_step(user_id)]
        return [IdpStep("end_sessions", self.source.preview_revoke_sessions(user_id),
                        lambda: self.source.revoke_sessions(user_id))]

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


def _explained(result: RevokeResult, why: str) -> RevokeResult:
    return RevokeResult(result.outcome, f"{result.detail} (a guest: {why}; sessions were not ended)")


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

    def _session_steps(self, user_id: str) -> list[IdpStep]:
        return [IdpStep("end_sessions", self.source.preview_logout(user_id), lambda: self.source.logout(user_id)),
                IdpStep("remove_offline_tokens", self.source.preview_remove_offline_tokens(user_id),
                        lambda: self.source.remove_offline_tokens(user_id))]

    def offboarding_steps(self, user_id: str, *, disable: bool) -> list[IdpStep]:
        """Disable first, then log out: logging out first leaves a window to sign in again."""
        steps = [IdpStep("disable_account", self.source.preview_disable(user_id),
                         lambda: self.source.disable(user_id))] if disable else []
        return [*steps, *self._session_steps(user_id)]

    def lost_device_steps(self, user_id: str) -> list[IdpStep]:
        return self._session_steps(user_id)

    def mfa_methods(self, user_id: str) -> list[MfaMethod]:
        return [MfaMethod(c.id, c.type, c.label, c.type in KEYCLOAK_DEVICE_CREDENTIALS)
                for c in self.source.credentials(user_id) if c.is_factor]

    def preview_remove_mfa_method(self, user_id: str, method: MfaMethod) -> RequestPreview:
        return self.source.preview_delete_credential(user_id, method.id)

    def remove_mfa_method(self, user_id: str, method: MfaMethod) -> RevokeResult:
        """Delete the credential; deleting the last OTP leaves sign-in password-only, so CONFIGURE_TOTP
        is added (keeping the user's other required actions)."""
        result = self.source.delete_credential(user_id, method.id)
        if method.kind != "otp" or any(c.type == "otp" for c in self.source.credentials(user_id)):
            return result
        totp = self.source.require_totp_setup(user_id)
        outcome = RevokeOutcome.done if RevokeOutcome.done in (result.outcome, totp.outcome) else result.outcome
        return RevokeResult(outcome, f"{result.detail}; {totp.detail}")
