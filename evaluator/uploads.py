"""Temporary upload files: all under FILE_UPLOAD_TEMP_DIR (the project's ``var/uploads``).

Django deletes an upload's temporary file when the request ends (refused, accepted, or aborted
by the client: the file is closed with the request); the copies validation makes are removed in
a ``finally``. Only a server killed mid-request leaves one behind: every process sweeps the
folder at start-up (``EvaluatorConfig.ready``), removing files untouched for
FILE_UPLOAD_STALE_SECONDS (15 minutes: an upload in progress in another process is younger).
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from django.conf import settings

log = logging.getLogger(__name__)


def sweep_stale_uploads(now: float | None = None) -> list[str]:
    """Remove stale files from the upload folder; returns the names removed."""
    folder = getattr(settings, "FILE_UPLOAD_TEMP_DIR", None)
    if not folder:
        return []
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        entries = list(os.scandir(folder))
    except OSError:
        return []
    cutoff = (now if now is not None else time.time()) - int(settings.FILE_UPLOAD_STALE_SECONDS)
    removed = []
    for entry in entries:
        try:
            if entry.is_file(follow_symlinks=False) and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
                removed.append(entry.name)
        except OSError:
            continue
    if removed:
        log.info("removed %d stale upload file(s) from %s", len(removed), folder)
    return removed
