"""One JSON object per log line, the way Lambda's JSON log format writes records.

In Lambda the runtime's own formatter writes every `extra=` field of a record as a top-level key,
which Logs Insights can filter on (`filter status >= 500`). Outside Lambda (serve, invoke, tests)
nothing has configured logging, so this formatter writes the same shape.
"""

from __future__ import annotations

import json
import logging

# Attributes every LogRecord has; anything else on a record came from `extra=`.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}


class JsonLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = {"level": record.levelname, "logger": record.name, "message": record.getMessage()}
        line.update((name, value) for name, value in vars(record).items() if name not in _STANDARD_ATTRIBUTES)
        if record.exc_info:
            line["stackTrace"] = self.formatException(record.exc_info)
        return json.dumps(line, default=str)


def configure_outside_lambda() -> None:
    """Log JSON lines at INFO, unless a runtime (Lambda's, or pytest's) configured logging already."""
    root = logging.getLogger()
    if root.handlers:
        return
    stream = logging.StreamHandler()
    stream.setFormatter(JsonLineFormatter())
    root.addHandler(stream)
    root.setLevel(logging.INFO)
