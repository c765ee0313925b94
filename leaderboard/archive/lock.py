"""One archive import at a time.

An import reads the catalogue's names into memory (``common.Context``) and then creates what is
missing: two imports at once would both decide to create the same task, and the second would
fail on the unique name (issue 19). So an import holds this lock from before it reads anything
until it has finished: on PostgreSQL a session-level advisory lock, on SQLite an exclusive
``flock`` on a file beside the database (SQLite's IMMEDIATE transactions serialise each file's
writes, not the reading before them). A second import is told who it waits for, then waits; or,
with ``wait=False``, is refused at once.
"""

import contextlib
import fcntl
import hashlib
import os
from pathlib import Path

from django.conf import settings
from django.db import connection

NAME = "verisota archive import"
# A 63-bit key from the name: pg_advisory_lock takes a bigint.
KEY = int.from_bytes(hashlib.sha256(NAME.encode()).digest()[:8], "big") >> 1


class ImportBusy(Exception):
    """Another import holds the lock and the caller asked not to wait."""


def _lock_file() -> Path:
    name = Path(str(connection.settings_dict["NAME"]))
    if str(name) in ("", ":memory:") or str(name).startswith("file:"):
        return Path(settings.VAR_DIR) / "archive-import.lock"
    return name.with_name(name.name + ".import-lock")


@contextlib.contextmanager
def import_lock(wait: bool = True, on_wait=None):
    """Hold the import lock for the block. ``on_wait(message)`` is called once if another import
    holds it (then this waits for it, or raises ImportBusy when ``wait`` is False)."""
    busy = "another archive import is running"
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_lock(%s)", [KEY])
            got = cursor.fetchone()[0]
            if not got:
                cursor.execute(
                    "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                    "AND ((classid::bigint << 32) | objid::bigint) = %s",
                    [KEY],
                )
                holder = cursor.fetchone()
                who = f" (PostgreSQL backend {holder[0]})" if holder else ""
                if not wait:
                    raise ImportBusy(f"{busy}{who}; nothing was imported")
                if on_wait:
                    on_wait(f"{busy}{who}: waiting for it to finish")
                cursor.execute("SELECT pg_advisory_lock(%s)", [KEY])
        try:
            yield
        finally:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [KEY])
        return
    path = _lock_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip()
            who = f" (process {holder})" if holder else ""
            if not wait:
                raise ImportBusy(f"{busy}{who}; nothing was imported") from None
            if on_wait:
                on_wait(f"{busy}{who}: waiting for it to finish")
            fcntl.flock(handle, fcntl.LOCK_EX)
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()
            fcntl.flock(handle, fcntl.LOCK_UN)
