"""Logging filters (settings.LOGGING).

``CacheErrors``: django-redis logs every cache call that failed while the cache is down (it then
answers as a miss, settings.CACHES), each with its traceback; a request makes several such calls.
This filter keeps one line per process every ``interval`` seconds, with the error and how many
were folded into it, so that an outage shows in the log without burying it.
"""

from __future__ import annotations

import logging
import threading
import time


class CacheErrors(logging.Filter):
    def __init__(self, interval: float = 10.0):
        super().__init__()
        self.interval = float(interval)
        self._lock = threading.Lock()
        self._last = 0.0
        self._folded = 0

    def filter(self, record: logging.LogRecord) -> bool:
        now = time.monotonic()
        with self._lock:
            if now - self._last < self.interval:
                self._folded += 1
                return False
            folded, self._folded, self._last = self._folded, 0, now
        error = record.exc_info[1] if record.exc_info else None
        cause = getattr(error, "__cause__", None) or error
        record.msg = "cache unavailable, serving uncached: %s%s"
        record.args = (
            f"{type(cause).__name__}: {cause}" if cause else record.getMessage(),
            f" ({folded} more cache errors folded since the last report)" if folded else "",
        )
        record.exc_info = None
        record.exc_text = None
        record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True
