"""Response cache of the read API, never stale: keyed on the catalogue version.

Every write to a catalogue table changes the ``CatalogueVersion`` row in the same transaction
(database triggers, see ``leaderboard/db/triggers.py``). A cacheable GET reads that row first (one
small query), then looks up the rendered JSON bytes stored under (version, scheme, host, path
with its query string, exactly as sent: the pagination links echo it). A hit returns them
without running the filters, the serializers or any other query; a miss computes the response
as before and stores it under the version read *before* computing it, so a write committed
meanwhile can only make a stored body newer than its key, never older.

Only anonymous JSON is cached: no ``Authorization`` header, no session cookie, no ``format``
parameter, and an ``Accept`` header that DRF resolves to JSON without options (absent, ``*/*``
or ``application/json``). The browsable API, other media types and every response but a 200
are computed each time. Entries live in each process's memory, least recently used out first,
bounded by ``API_CACHE_ENTRIES`` (default 512; 0 turns the cache and its version query off) and
``API_CACHE_BYTES`` (default 64 MiB in all; a body over an eighth of it is not stored), both in
settings.py.

When ``CACHE_URL`` is set (a Redis server: production and CI), the entries live in Django's
cache instead, shared by every web process: a page computed by one worker is a hit for all.
``versioned()`` keeps any other computed value (whole-table counts, the home page's figures, a
paginator's count: ``leaderboard/core/paginators.py``) under the same version key, in the same
store: never stale, and a scan runs once per catalogue version, not once per request.
"""

import contextlib
import contextvars
import hashlib
import threading
from collections import OrderedDict

from django.conf import settings
from django.core.cache import cache as django_cache
from django.db import connection
from django.http import HttpResponse
from django.utils.cache import patch_vary_headers

from leaderboard.models import CatalogueVersion

JSON_ACCEPTS = frozenset(["", "*/*", "application/json"])
VERSION_SQL = f"SELECT counter, stamp FROM {CatalogueVersion._meta.db_table}"
# On PostgreSQL the triggers bump the version once per transaction (see signals.py); reading
# it clears the transaction's mark, so that a write after this read bumps it again and a
# response cached now is never served for data written later in the same transaction.
PG_VERSION_SQL = (
    f"SELECT counter, stamp, set_config('leaderboard.version_bumped', '', true) "
    f"FROM {CatalogueVersion._meta.db_table}"
)


def current_version() -> tuple[int, int] | None:
    """The catalogue version as this request's database connection sees it (None: no row, so
    nothing may be cached)."""
    with connection.cursor() as cursor:
        cursor.execute(PG_VERSION_SQL if connection.vendor == "postgresql" else VERSION_SQL)
        rows = cursor.fetchall()
    return tuple(rows[0][:2]) if len(rows) == 1 else None


def request_key(request) -> tuple | None:
    """What identifies a cacheable request's response, or None if it must be computed."""
    if request.method != "GET" or "format" in request.GET:
        return None
    if request.headers.get("Accept", "").strip() not in JSON_ACCEPTS:
        return None
    if "Authorization" in request.headers or settings.SESSION_COOKIE_NAME in request.COOKIES:
        return None
    return (request.scheme, request.get_host(), request.get_full_path())


class ResponseCache:
    """Rendered bodies with their headers, for one catalogue version at a time, LRU-bounded."""

    def __init__(self, max_entries: int, max_bytes: int):
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.version = None
        self.size = 0
        self._entries: OrderedDict[tuple, tuple] = OrderedDict()
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.max_entries > 0 and self.max_bytes > 0

    def __len__(self) -> int:
        return len(self._entries)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self.size = 0
            self.version = None

    def get(self, version, key) -> tuple | None:
        with self._lock:
            if version != self.version:
                return None
            entry = self._entries.get(key)
            if entry is None:
                return None
            self._entries.move_to_end(key)
        return entry

    def put(self, version, key, entry: tuple) -> bool:
        """Store ``entry``, a tuple whose first item is the body (its length is counted)."""
        body = entry[0]
        if len(body) > self.max_bytes // 8:
            return False
        with self._lock:
            if version != self.version:  # every entry held belongs to an older version
                self._entries.clear()
                self.size = 0
                self.version = version
            old = self._entries.pop(key, None)
            if old is not None:
                self.size -= len(old[0])
            self._entries[key] = entry
            self.size += len(body)
            while len(self._entries) > self.max_entries or self.size > self.max_bytes:
                _, dropped = self._entries.popitem(last=False)
                self.size -= len(dropped[0])
        return True


class SharedResponseCache:
    """The same interface over Django's cache (Redis when ``CACHE_URL`` is set): shared by every
    process. Entries are keyed on the version, so an older version's are never read again;
    they expire after the cache's timeout."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.enabled = max_bytes > 0

    @staticmethod
    def _key(version, key) -> str:
        digest = hashlib.sha256(repr(key).encode()).hexdigest()
        return f"api:{version[0]}:{version[1]}:{digest}"

    def clear(self) -> None:
        django_cache.clear()

    def get(self, version, key):
        return django_cache.get(self._key(version, key))

    def put(self, version, key, entry: tuple) -> bool:
        if len(entry[0]) > self.max_bytes // 8:
            return False
        django_cache.set(self._key(version, key), entry)
        return True


def _responses():
    max_bytes = settings.API_CACHE_BYTES
    if settings.CACHE_URL and settings.API_CACHE_ENTRIES > 0:
        return SharedResponseCache(max_bytes)
    return ResponseCache(settings.API_CACHE_ENTRIES, max_bytes)


RESPONSES = _responses()

_MISSING = object()
# The version read by the page or response cache for the request being computed: the values
# the page stores with ``versioned()`` go under it too, without reading the version again.
_REQUEST_VERSION: contextvars.ContextVar = contextvars.ContextVar(
    "leaderboard_request_version", default=_MISSING
)


@contextlib.contextmanager
def request_version(version):
    """Within the block, ``versioned()`` uses ``version`` (read before computing the page)."""
    token = _REQUEST_VERSION.set(version)
    try:
        yield
    finally:
        _REQUEST_VERSION.reset(token)


def versioned(name: str, compute, version=_MISSING):
    """``compute()``, stored under (catalogue version, ``name``) in the read cache.

    One small query (the version, unless the request's page cache read it already) and one
    cache look-up on a hit; ``compute()`` runs once per catalogue version and process (per
    version only, with ``CACHE_URL``). With no version row (an unsupported database) it is
    computed every time."""
    if version is _MISSING:
        version = _REQUEST_VERSION.get()
    if version is _MISSING:
        version = current_version()
    if version is None:
        return compute()
    key = "v:{}:{}:{}".format(*version, hashlib.sha256(name.encode()).hexdigest())
    value = django_cache.get(key, _MISSING)
    if value is _MISSING:
        value = compute()
        django_cache.set(key, value)
    return value


def versioned_many(names: list[str], compute) -> dict:
    """Like ``versioned`` for several values at once: ``compute(missing)`` gives a dict of the
    names not stored yet (one call, so one query for all of them), stored under the catalogue
    version; one cache round trip for the rest."""
    version = _REQUEST_VERSION.get()
    if version is _MISSING:
        version = current_version()
    if version is None:
        return compute(list(names))
    keys = {
        name: "v:{}:{}:{}".format(*version, hashlib.sha256(name.encode()).hexdigest())
        for name in names
    }
    found = django_cache.get_many(list(keys.values()))
    out = {name: found[key] for name, key in keys.items() if key in found}
    missing = [name for name in names if name not in out]
    if missing:
        computed = compute(missing)
        django_cache.set_many({keys[name]: computed[name] for name in missing})
        out.update(computed)
    return out


def cached_dispatch(view, request, compute):
    """``compute()`` the response of ``request`` to ``view``, or return the stored one."""
    key = request_key(request) if RESPONSES.enabled else None
    if key is None:
        return compute()
    key = (type(view).__name__, *key)
    version = current_version()  # read before computing: see the module's docstring
    if version is None:
        return compute()
    hit = RESPONSES.get(version, key)
    if hit is not None:
        body, headers, vary_cookie = hit
        response = HttpResponse(body)
        for name, value in headers:
            response[name] = value
        if vary_cookie:  # as SessionMiddleware marked the miss (DRF looked for a session user)
            patch_vary_headers(response, ("Cookie",))
        return response
    with request_version(version):
        response = compute()
    renderer = getattr(response, "accepted_renderer", None)
    if response.status_code == 200 and getattr(renderer, "format", None) == "json":
        response.render()
        session = getattr(request, "session", None)
        vary_cookie = bool(session is not None and session.accessed)
        RESPONSES.put(
            version, key, (bytes(response.content), tuple(response.headers.items()), vary_cookie)
        )
    return response
