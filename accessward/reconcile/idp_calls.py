"""One IdP action with the executor's error taxonomy: retried while transient, "not found" is gone."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from accessward.connectors.errors import ConnectorError, NotFoundError, TransientError
from accessward.connectors.records import RevokeOutcome, RevokeResult

log = logging.getLogger("accessward.idp")


@dataclass(frozen=True)
class Retry:
    attempts: int = 3
    backoff: float = 1.0
    sleep: Callable[[float], None] = time.sleep


def call_idp(action: Callable[[], RevokeResult], retry: Retry) -> tuple[str, str]:
    """Run ``action``; answer (state, detail) with state done | already_gone | failed."""
    for attempt in range(1, retry.attempts + 1):
        try:
            result = action()
        except NotFoundError as exc:
            return "already_gone", f"not in the identity provider any more ({exc})"
        except TransientError as exc:
            if attempt == retry.attempts:
                return "failed", f"transient, gave up after {attempt} attempts: {exc}"
            wait = exc.retry_after if exc.retry_after is not None else retry.backoff * 2 ** (attempt - 1)
            log.warning("identity provider transient failure", extra={"wait_s": wait})
            retry.sleep(wait)
            continue
        except ConnectorError as exc:
            return "failed", f"{exc.kind}: {exc}" + (f" ({exc.detail})" if exc.detail else "")
        except Exception as exc:  # a bug or an unmapped library error: recorded, retried by the next run
            log.exception("identity provider action failed unexpectedly")
            return "failed", f"internal error: {type(exc).__name__}"
        state = "already_gone" if result.outcome == RevokeOutcome.already_gone else "done"
        return state, result.detail
    return "failed", "no attempt made"
