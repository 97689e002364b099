"""``accessward check``: a read-only preflight of every configured source.

Builds each connector from the settings (accessward/wiring.py, the same code a sync uses), calls the
``check(...)`` at the end of its connector module, and marks which missing items fail the run: a read the
settings use; on an access source, a revoke capability while any policy rule has ``action = "revoke"``; on
an identity provider (Entra, Keycloak), what offboarding and lost-device response use (they end sessions
whatever the rules say). Nothing is written:
no store is opened, no audit event is appended, and the connectors are asked only to read.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

from accessward import exitcodes, wiring
from accessward.connectors.errors import ConnectorError
from accessward.connectors.preflight import CheckItem, first_record, probe
from accessward.settings import Settings


@dataclass(frozen=True)
class SourceCheck:
    """One source's capabilities; ``failing`` holds the missing items that the settings or policy rely on."""

    source: str
    type: str
    role: str  # identity | access
    items: tuple[CheckItem, ...]

    @property
    def failing(self) -> tuple[CheckItem, ...]:
        return tuple(i for i in self.items if i.status == "missing" and i.relied_on)


@dataclass(frozen=True)
class CheckReport:
    sources: tuple[SourceCheck, ...]
    revoking_rules: tuple[str, ...]

    @property
    def exit_code(self) -> int:
        """0 when nothing relied on is missing, else exitcodes.CHECK_MISSING."""
        return CHECK_MISSING if any(s.failing for s in self.sources) else exitcodes.OK

    def as_json(self) -> dict[str, Any]:
        return {"ok": self.exit_code == exitcodes.OK, "exit_code": self.exit_code,
                "revoking_rules": list(self.revoking_rules),
                "sources": [{"source": s.source, "type": s.type, "role": s.role,
                             "failing": [i.capability for i in s.failing],
                             "items": [asdict(i) for i in s.items]} for s in self.sources]}


CHECK_MISSING = exitcodes.CHECK_MISSING


def _identity_items(cfg: Any, source: Any, *, disable_accounts: bool = False) -> list[CheckItem]:
    kind = cfg.type
    if kind == "ldap":
        from accessward.connectors.ldap import check as ldap_check

        return ldap_check(source)
    if kind == "entra":
        from accessward.connectors.entra import check as entra_check

        return entra_check(source, disable_accounts=disable_accounts, guests=cfg.guests)
    if kind == "keycloak":
        from accessward.connectors.keycloak import check as keycloak_check

        return keycloak_check(source)
    # rosters: a file or an endpoint to read; nothing on them is revoked
    return [probe("roster readable", lambda: first_record(source.list_people),
                  fix=f"check the roster's {'path' if kind == 'roster_csv' else 'url and token'}")]


def _access_items(cfg: Any, connector: Any) -> list[CheckItem]:
    checks: dict[str, Callable[[Any], list[CheckItem]]] = {}
    kind = cfg.type
    if kind == "meta":
        from accessward.connectors.meta import check as meta_check

        checks["meta"] = meta_check
    elif kind == "linkedin":
        from accessward.connectors.linkedin import check as linkedin_check

        checks["linkedin"] = linkedin_check
    elif kind == "tiktok":
        from accessward.connectors.tiktok import check as tiktok_check

        checks["tiktok"] = tiktok_check
    elif kind == "pinterest":
        from accessward.connectors.pinterest import check as pinterest_check

        checks["pinterest"] = pinterest_check
    elif kind == "scim":
        from accessward.connectors.scim import check as scim_check

        checks["scim"] = scim_check
    if kind in checks:
        return checks[kind](connector)
    return [probe("inventory readable", lambda: first_record(connector.list_access),
                  fix=f"fix the inventory file {cfg.path} (line-level errors above)"),
            CheckItem("revocation", "ok", "a manual inventory: every revocation is a manual step, by hand", "",
                      "revoke", False)]


def _guarded(build: Callable[[], Any], what: str) -> tuple[Any, CheckItem | None]:
    try:
        return build(), None
    except ConnectorError as exc:
        return None, CheckItem("connect", "missing", f"{exc.kind}: {exc}", f"fix the settings of {what}")
    except (OSError, ValueError) as exc:
        return None, CheckItem("connect", "missing", str(exc)[:300], f"fix the settings of {what}")


def _run(cfg: Any, role: str, build: Callable[[], Any], items: Callable[[Any, Any], list[CheckItem]],
         revoking: bool) -> SourceCheck:
    """``revoking``: whether the revoke items of this source are relied on."""
    connector, failed = _guarded(build, cfg.name)
    found: Iterable[CheckItem]
    if failed is not None:
        found = [failed]
    else:
        try:
            found = items(cfg, connector)
        except ConnectorError as exc:  # a check that could not finish: say so, never pass it
            found = [CheckItem("connect", "missing", f"{exc.kind}: {exc}", f"fix the settings of {cfg.name}")]
        finally:
            close = getattr(connector, "close", None)
            if callable(close):
                close()
    marked = tuple(replace(i, relied_on=i.relied_on and revoking) if i.use == "revoke" else i for i in found)
    return SourceCheck(cfg.name, cfg.type, role, marked)


def run_check(settings: Settings, base: Path, only: set[str] | None = None) -> CheckReport:
    """Check every configured source (or those named in ``only``), identity sources first."""
    revoking = tuple(sorted(name for name, rule in settings.policy.rules.items() if rule.action == "revoke"))
    out: list[SourceCheck] = []
    disable = settings.policy.offboarding.disable_account
    for ident in settings.identity_sources:
        if not only or ident.name in only:
            # an Entra or Keycloak source is also the IdP of offboarding and lost devices, whatever the rules
            out.append(_run(ident, "identity", partial(wiring.identity_source, ident, base),
                            partial(_identity_items, disable_accounts=disable), True))
    for access in settings.access_sources:
        if not only or access.name in only:
            out.append(_run(access, "access", partial(wiring.access_connector, access, base), _access_items,
                            bool(revoking)))
    return CheckReport(tuple(out), revoking)
