"""What the service's parts share: settings, the store, metrics, and connectors built on demand.

Connectors are built for one piece of work and closed after it (their HTTP clients hold
sockets); secrets are resolved then, by ``accessward.wiring``, never kept around.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from accessward import wiring
from accessward.connectors.idp import EntraIdp, IdentityProvider, KeycloakIdp
from accessward.connectors.protocols import Revoker
from accessward.metrics import Metrics
from accessward.reconcile import lost_device, offboarding
from accessward.reconcile.idp_calls import Retry
from accessward.settings import EntraIdSource, KeycloakIdSource, Settings
from accessward.sync.service_models import DeviceReport


def _close(objects: Iterator[Any]) -> None:
    for obj in objects:
        target = getattr(obj, "source", obj)
        close = getattr(target, "close", None)
        if callable(close):
            with contextlib.suppress(Exception):
                close()


@dataclass
class Runtime:
    settings: Settings
    base: Path
    engine: Engine
    metrics: Metrics = field(default_factory=Metrics)
    sleep: Callable[[float], None] = time.sleep
    workers: int = 4

    def __post_init__(self) -> None:
        self.metrics.attach_store(self.engine)
        self._pool = ThreadPoolExecutor(max_workers=self.workers, thread_name_prefix="accessward-work")

    # -- connectors ---------------------------------------------------------------------------

    def identity_providers(self) -> dict[str, IdentityProvider]:
        out: dict[str, IdentityProvider] = {}
        for cfg in self.settings.identity_sources:
            if isinstance(cfg, EntraIdSource):
                from accessward.connectors.entra import EntraSource

                entra = wiring.identity_source(cfg, self.base)
                assert isinstance(entra, EntraSource)
                out[cfg.name] = EntraIdp(entra, guests=cfg.guests)
            elif isinstance(cfg, KeycloakIdSource):
                from accessward.connectors.keycloak import KeycloakSource

                keycloak = wiring.identity_source(cfg, self.base)
                assert isinstance(keycloak, KeycloakSource)
                out[cfg.name] = KeycloakIdp(keycloak)
        return out

    @contextlib.contextmanager
    def connectors(self) -> Iterator[tuple[dict[str, Revoker], dict[str, IdentityProvider]]]:
        revokers = wiring.revokers(self.settings, self.base)
        idps = self.identity_providers()
        try:
            yield revokers, idps
        finally:
            _close(iter([*revokers.values(), *idps.values()]))

    def retry(self) -> Retry:
        svc = self.settings.service
        return Retry(svc.revoke_attempts, svc.revoke_backoff_seconds, self.sleep)

    # -- work ---------------------------------------------------------------------------------

    def run_offboarding(self, offboarding_id: int, *, actor: str = "system") -> str:
        svc = self.settings.service
        with self.connectors() as (revokers, idps):
            tools = offboarding.Tools(revokers, idps, self.settings.policy, attempts=svc.revoke_attempts,
                                      backoff=svc.revoke_backoff_seconds, retry_minutes=svc.offboarding_retry_minutes,
                                      sleep=self.sleep)
            return offboarding.run(self.engine, offboarding_id, tools, actor=actor)

    def submit_offboarding(self, offboarding_id: int, *, actor: str = "system") -> Future[str]:
        return self._pool.submit(self.run_offboarding, offboarding_id, actor=actor)

    def report_device(self, *, person_key: str, device: str, status: str, reported_by: str,
                      request_id: str | None = None) -> tuple[DeviceReport, bool]:
        if request_id and (existing := lost_device.find(self.engine, request_id)) is not None:
            return existing, False
        with self.connectors() as (_revokers, idps):
            tools = lost_device.DeviceTools(idps, self.retry(), break_glass=tuple(self.settings.policy.break_glass))
            return lost_device.report(self.engine, person_key=person_key, device=device, status=status,
                                      reported_by=reported_by, tools=tools, request_id=request_id)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)
