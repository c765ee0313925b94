"""The archive export (``/api/export/evaluation-tables.json``) as a file, written once per
catalogue version: its cost no longer grows with its readers.

``export_file(extended)`` returns the file of the current catalogue version (``cache.py``'s
version row, which every catalogue write changes), writing it first if it is missing: the first
reader of a version writes it (to a temporary name, renamed when complete), under an exclusive
lock on the folder so that readers arriving meanwhile wait for that one file instead of each
computing their own; every later reader is served the file, or its gzip copy (written beside it)
where the client accepts ``gzip``: a tenth of the bytes to send. Older versions' files are removed
once the new one is in place (a reader still sending one keeps its open file). The version is
read before the file is written, so a write committed meanwhile can only make the file newer than
its name, never older.

The files live in ``EXPORT_DIR`` (default ``$VAR_DIR/exports``), each web machine its own.
"""

from __future__ import annotations

import fcntl
import gzip
import os
from pathlib import Path

from django.conf import settings

from leaderboard.archive import evaluation_tables
from leaderboard.core.cache import current_version

PREFIX = "evaluation-tables"


def export_dir() -> Path:
    path = Path(settings.EXPORT_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _kind(extended: bool) -> str:
    return "extended" if extended else "plain"


def gzipped(path: Path) -> Path:
    """The gzip-compressed copy of an export file, served to clients that accept it."""
    return path.with_name(path.name + ".gz")


def write(path: Path, extended: bool) -> None:
    """The file and its gzip copy (written first: once the file exists, so does the copy)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp_gz = path.with_name(f".{path.name}.{os.getpid()}.gz.tmp")
    try:
        with tmp.open("w", encoding="utf-8") as f, gzip.open(tmp_gz, "wt", encoding="utf-8") as z:
            for chunk in evaluation_tables(extended):
                f.write(chunk)
                z.write(chunk)
        os.replace(tmp_gz, gzipped(path))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
        tmp_gz.unlink(missing_ok=True)


def export_file(extended: bool = False) -> tuple[Path, str] | None:
    """(the file, its version tag) for the current catalogue version, written if missing;
    None where the database has no version row (the caller streams the export instead)."""
    version = current_version()
    if version is None:
        return None
    folder = export_dir()
    kind = _kind(extended)
    tag = f"{version[0]}-{version[1]}"
    path = folder / f"{PREFIX}-{kind}-{tag}.json"
    if path.exists():
        return path, tag
    with (folder / ".lock").open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not path.exists():
                write(path, extended)
                for old in folder.glob(f"{PREFIX}-{kind}-*.json*"):
                    if old not in (path, gzipped(path)):
                        old.unlink(missing_ok=True)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    return path, tag
