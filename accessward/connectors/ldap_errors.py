"""How the LDAP identity source reports failures: ldap3's exceptions and result codes as ConnectorErrors.

Split out of :mod:`accessward.connectors.ldap` (DESIGN.md invariant 1: every failure raises, nothing
ends as a short listing).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ldap3.core import exceptions as lx

from accessward.connectors.errors import AuthError, ConnectorError, StopError, TransientError

if TYPE_CHECKING:
    from accessward.connectors.ldap import LdapSourceConfig

__all__ = ["check_page_result", "translate"]


def check_page_result(config: LdapSourceConfig, result: Mapping[str, Any], page: int, seen: int) -> None:
    """Raise the ConnectorError a page's non-zero result code means (ldap3 raises none for 3, 4)."""
    code = result.get("result")
    if code == 0:
        return
    what = f"{result.get('description')} ({code}) {result.get('message', '')}".strip()
    where = f"on page {page} after {seen} entries"
    if code == 4:  # sizeLimitExceeded: the server cut the listing short
        raise StopError(
            f"{config.name}: the server's size limit cut the listing short {where}; "
            "raise the service account's limits for paged searches",
            system=config.name,
            detail=what,
            status=4,
        )
    if code == 3:  # timeLimitExceeded
        raise TransientError(f"{config.name}: server time limit hit {where}", system=config.name, detail=what, status=3)
    if code == 10:  # referral: the base DN lives on another server
        raise StopError(
            f"{config.name}: the server referred the search of {config.base_dn} elsewhere; "
            "point url at the server holding that naming context",
            system=config.name,
            detail=f"{what} {result.get('referrals')}",
            status=10,
        )
    raise ConnectorError(f"{config.name}: search failed {where}: {what}", system=config.name, status=code)


def translate(config: LdapSourceConfig, exc: lx.LDAPException) -> ConnectorError:
    """The ConnectorError for an ldap3 exception: transient, auth or stop, as the module docstring says."""
    name = config.name
    detail = str(exc)
    status = getattr(exc, "result", None)
    status = status if isinstance(status, int) else None
    where = f"{config.url} ({config.base_dn})"
    if "certificate verify failed" in detail.lower() or isinstance(
        exc, lx.LDAPCertificateError | lx.LDAPSSLConfigurationError | lx.LDAPStartTLSError
    ):
        return StopError(f"{name}: TLS with {where} failed: {detail}", system=name, detail=detail)
    if isinstance(exc, lx.LDAPCommunicationError | lx.LDAPResponseTimeoutError):
        return TransientError(f"{name}: LDAP server {where} unreachable: {detail}", system=name, detail=detail)
    if isinstance(exc, lx.LDAPBusyResult | lx.LDAPUnavailableResult | lx.LDAPTimeLimitExceededResult):
        return TransientError(
            f"{name}: LDAP server {where} busy or unavailable", system=name, detail=detail, status=status
        )
    if isinstance(
        exc,
        lx.LDAPInvalidCredentialsResult
        | lx.LDAPBindError
        | lx.LDAPInappropriateAuthenticationResult
        | lx.LDAPInsufficientAccessRightsResult
        | lx.LDAPAuthMethodNotSupportedResult
        | lx.LDAPUserNameIsMandatoryError
        | lx.LDAPPasswordIsMandatoryError,
    ):
        return AuthError(
            f"{name}: bind as {config.bind_dn or '(anonymous)'} to {config.url} refused",
            system=name,
            detail=detail,
            status=status,
        )
    if isinstance(exc, lx.LDAPNoSuchObjectResult):
        return StopError(
            f"{name}: base DN {config.base_dn} does not exist on {config.url}",
            system=name,
            detail=detail,
            status=status,
        )
    if isinstance(exc, lx.LDAPStrongerAuthRequiredResult | lx.LDAPConfidentialityRequiredResult):
        return StopError(
            f"{name}: {config.url} requires a protected connection: use ldaps:// or start_tls",
            system=name,
            detail=detail,
            status=status,
        )
    if isinstance(exc, lx.LDAPUnavailableCriticalExtensionResult):
        return StopError(
            f"{name}: {config.url} does not support paged results; cannot list it completely",
            system=name,
            detail=detail,
            status=status,
        )
    if isinstance(
        exc,
        lx.LDAPInvalidDNSyntaxResult
        | lx.LDAPInvalidFilterError
        | lx.LDAPInvalidDnError
        | lx.LDAPUnwillingToPerformResult
        | lx.LDAPAdminLimitExceededResult
        | lx.LDAPSizeLimitExceededResult
        | lx.LDAPReferralResult
        | lx.LDAPConfigurationError
        | lx.LDAPInvalidPortError
        | lx.LDAPInvalidServerError,
    ):
        return StopError(
            f"{name}: LDAP search of {where} rejected: {detail}", system=name, detail=detail, status=status
        )
    return ConnectorError(f"{name}: LDAP error from {where}: {detail}", system=name, detail=detail, status=status)
