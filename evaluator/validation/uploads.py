"""Uploads: their size limit, the bounded upload handler, the temporary files of checks, and
the start-up sweep of the upload folder (``FILE_UPLOAD_TEMP_DIR``, the project's ``var/uploads``).

Django deletes an upload's temporary file when the request ends (refused, accepted, or aborted
by the client: the file is closed with the request); the copies validation makes are removed in
a ``finally``. Only a server killed mid-request leaves one behind: every process sweeps the
folder at start-up (``EvaluatorConfig.ready``), removing files untouched for
FILE_UPLOAD_STALE_SECONDS (15 minutes: an upload in progress in another process is younger).
"""

from __future__ import annotations

import logging
import os
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.uploadhandler import FileUploadHandler, StopUpload

log = logging.getLogger(__name__)

CHECKPOINT_SUFFIX = ".safetensors"
# Room for the form fields around the file in a multipart body.
MULTIPART_OVERHEAD_BYTES = 1024 * 1024


def max_checkpoint_bytes() -> int:
    return int(settings.MAX_CHECKPOINT_BYTES)


def human_size(n: int) -> str:
    for unit in ("bytes", "KB", "MB", "GB"):
        if n < 1024 or unit == "GB":
            return f"{n} {unit}" if unit == "bytes" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n} bytes"  # pragma: no cover


class UploadTooLarge(ValidationError):
    """An upload over the limit: the API answers 413 for it, the form a field error."""

    def __init__(self, limit: int, size: int | None = None):
        got = f" ({human_size(size)})" if size is not None else ""
        super().__init__(
            f"The file is too large{got}: checkpoints are limited to {human_size(limit)}.",
            code="too_large",
        )


# --------------------------------------------------------------------------- request bounds


class BoundedUploadHandler(FileUploadHandler):
    """Stops reading a multipart body as soon as one file passes the checkpoint limit.

    It goes first in ``request.upload_handlers``; the view then sees
    ``request.upload_too_large`` and answers 413 (API) or a field error (form), having read at
    most the limit plus one chunk of that file.
    """

    def __init__(self, request=None, limit: int | None = None):
        super().__init__(request)
        self.limit = limit if limit is not None else max_checkpoint_bytes()
        self.received = 0

    def new_file(self, field_name, *args, **kwargs):
        self.received = 0
        return super().new_file(field_name, *args, **kwargs)

    def receive_data_chunk(self, raw_data, start):
        self.received += len(raw_data)
        if self.received > self.limit:
            self.request.upload_too_large = self.field_name
            raise StopUpload(connection_reset=True)
        return raw_data

    def file_complete(self, file_size):
        return None


def install_upload_bound(request) -> None:
    """Put the bounded handler first; call before anything reads ``request.POST``/``FILES``."""
    request.upload_too_large = None
    upload_temp_dir()  # the folder Django writes large uploads to exists
    request.upload_handlers.insert(0, BoundedUploadHandler(request))


def declared_body_too_large(request) -> bool:
    """True when the declared body length alone is over the limit (nothing read yet)."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > max_checkpoint_bytes() + MULTIPART_OVERHEAD_BYTES


def _read_exactly(fileobj, n: int) -> bytes:
    """At most ``n`` bytes of ``fileobj`` from where it stands, read a megabyte at a time."""
    chunks, left = [], n
    while left > 0:
        chunk = fileobj.read(min(left, 1024 * 1024))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


@contextmanager
def upload_path(uploaded):
    """A file-system path holding the upload's bytes (its temporary file when it has one)."""
    if hasattr(uploaded, "temporary_file_path"):
        yield uploaded.temporary_file_path()
        return
    fd, path = tempfile.mkstemp(suffix=CHECKPOINT_SUFFIX, dir=upload_temp_dir())
    try:
        with os.fdopen(fd, "wb") as out:
            uploaded.seek(0)
            for chunk in uploaded.chunks():
                out.write(chunk)
        yield path
    finally:
        os.unlink(path)


def upload_temp_dir() -> str | None:
    """Where uploads and their copies are written: FILE_UPLOAD_TEMP_DIR (the project's
    ``var/uploads``, swept of stale files at start-up by ``sweep_stale_uploads`` below)."""
    path = settings.FILE_UPLOAD_TEMP_DIR
    if path:
        os.makedirs(path, exist_ok=True)
    return path


def _user_named(message: str, path: str, uploaded) -> str:
    """A message about the file at ``path`` naming the user's file instead of the server's."""
    name = os.path.basename(getattr(uploaded, "name", "") or "") or "the checkpoint"
    for server_name in (path, os.path.basename(path)):
        message = message.replace(server_name, name)
    temp = getattr(uploaded, "temporary_file_path", None)
    if temp:
        for server_name in (temp(), os.path.basename(temp())):
            message = message.replace(server_name, name)
    return message


def sweep_stale_uploads(now: float | None = None) -> list[str]:
    """Remove stale files from the upload folder; returns the names removed."""
    folder = settings.FILE_UPLOAD_TEMP_DIR
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
