"""Logging: readable lines for people, one JSON object per line for machines (``--log-format json``).

Every line is scrubbed of secrets (``connectors.scrub``) on its way out, whichever library wrote
it: urllib3 logs request lines with their query strings, msal and python-keycloak log token
answers, a traceback may quote a URL. httpcore's debug log (the raw request and response headers,
an ``Authorization`` among them) is never emitted.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime

from accessward.connectors.scrub import scrub, scrub_value

_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class ScrubFilter(logging.Filter):
    """Scrubs a record's message and extras in place, for handlers that are not ours (uvicorn's)."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep the template only
            message = str(record.msg)
        record.msg, record.args = scrub(message), None
        for key, value in list(vars(record).items()):
            if key not in _STANDARD and isinstance(value, str | dict | list | tuple):
                setattr(record, key, scrub_value(value))
        if record.exc_info and not record.exc_text:
            record.exc_text = scrub(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = scrub(record.exc_text)
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(self._format(record))

    def _format(self, record: logging.LogRecord) -> str:
        payload = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        payload.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            payload["exc"] = self.formatException(record.exc_info)
        return json.dumps(payload, default=str)


class TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return scrub(self._line(record))  # one line: tracebacks go to the JSON format only

    def _line(self, record: logging.LogRecord) -> str:
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        tail = " ".join(f"{k}={v}" for k, v in extras.items())
        return f"{record.levelname.lower():7} {record.name}: {record.getMessage()}" + (f" {tail}" if tail else "")


def configure(fmt: str = "text", level: str = "WARNING") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else TextFormatter())
    handler.addFilter(ScrubFilter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # httpcore's debug lines are the raw headers of every request and answer: never logged.
    for name in ("httpcore", "hpack"):
        logging.getLogger(name).setLevel(logging.WARNING)
