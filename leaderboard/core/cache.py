"""The read cache, never stale: every entry is keyed on the catalogue version.

Every write to a catalogue table changes the ``CatalogueVersion`` row in the same transaction
(database triggers, see ``leaderboard/db/triggers.py``), so the version is the only invalidation:
an entry of an older version is never read again (it ages out of the cache).

**Responses** (``cached_response``): one mechanism for the catalogue's HTML pages
(``cache_page``, in ``leaderboard/urls.py``) and the read APIs (``CachedReadMixin`` of
``leaderboard/api/views.py``, which the PWC API's viewsets use too). A cacheable GET reads the
version first (one small query), then looks up the stored response under (version, kind, scheme,
host, path with its query string exactly as sent: the pagination links echo it). A hit returns it
without running the view; a miss computes it and stores it under the version read *before*
computing, so a write committed meanwhile can only make a stored body newer than its key, never
older. Every cacheable 200 carries an ``ETag`` (a hash of its body), and a request whose
``If-None-Match`` names it gets a 304 with no body (Django's ``get_conditional_response``), hit or
miss.

Cacheable: a GET with no ``Authorization`` header, no session or messages cookie (a reader who is
logged in, or has a message waiting, always gets their own page); for the API also no ``format``
parameter and an ``Accept`` header that DRF resolves to JSON without options (absent, ``*/*`` or
``application/json``): the browsable API and other media types are computed each time. Stored:
a 200 that is not streamed, sets no cookie, needs no CSRF cookie, is JSON if DRF rendered it, and
is at most ``RESPONSE_CACHE_MAX_BODY`` bytes.

The store is Django's cache alias ``responses`` (settings.py): each process's memory, bounded by
``RESPONSE_CACHE_ENTRIES`` (least recently used out first; ``0`` turns the response cache and its
version query off), or the Redis of ``CACHE_URL``, shared by every web process. A cache server
that is down answers every look-up as a miss (django-redis' ``IGNORE_EXCEPTIONS``): the response
is computed, with its ETag, and served.

**Values** (``versioned``, ``versioned_many``): any other computed value (whole-table counts, the
home page's figures, a paginator's count: ``leaderboard/core/paginators.py``) under the same
version, in the ``default`` cache: a scan runs once per catalogue version, not once per request.
While a response is computed they reuse the version its look-up read (``_REQUEST_VERSION``: the
values are computed deep in views, paginators and serializers that no argument reaches).
"""

import contextlib
import contextvars
import functools
import hashlib

from django.conf import settings
from django.core.cache import cache as django_cache
from django.core.cache import caches
from django.db import connection
from django.http import HttpResponse
from django.template.response import SimpleTemplateResponse
from django.utils.cache import get_conditional_response, patch_vary_headers

from leaderboard.models import CatalogueVersion

STORE = "responses"  # the alias in settings.CACHES
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


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


# ---- responses -------------------------------------------------------------------------------


def request_key(request, *, api: bool) -> str | None:
    """What identifies a cacheable request's response (the version apart), or None if it must
    be computed: anonymous GETs only, and for the API only those answered in plain JSON."""
    if request.method != "GET":
        return None
    if "Authorization" in request.headers:
        return None
    if settings.SESSION_COOKIE_NAME in request.COOKIES or "messages" in request.COOKIES:
        return None
    if api:
        if "format" in request.GET:
            return None
        if request.headers.get("Accept", "").strip() not in JSON_ACCEPTS:
            return None
    kind = "api" if api else "page"
    return f"{kind} {request.scheme}://{request.get_host()}{request.get_full_path()}"


def entry_key(version: tuple, key: str) -> str:
    return "resp:{}:{}:{}".format(*version, _digest(key))


def store():
    """The response store: Django's cache alias ``responses`` (settings.py)."""
    return caches[STORE]


def etag_of(body: bytes) -> str:
    return f'"{hashlib.blake2b(body, digest_size=16).hexdigest()}"'


def _storable(request, response) -> bool:
    """A 200 of whole content that is the same for every anonymous reader of the URL."""
    if response.status_code != 200 or response.streaming or response.cookies:
        return False
    if request.META.get("CSRF_COOKIE_NEEDS_UPDATE"):  # the body holds this reader's token
        return False
    renderer = getattr(response, "accepted_renderer", None)
    return renderer is None or getattr(renderer, "format", None) == "json"


def _from_entry(entry) -> HttpResponse:
    body, headers, vary_cookie = entry
    response = HttpResponse(body)
    for name, value in headers:
        response[name] = value
    if vary_cookie:  # as SessionMiddleware marked the miss (the view looked at the session)
        patch_vary_headers(response, ("Cookie",))
    return response


def cached_response(request, compute, *, api: bool) -> HttpResponse:
    """``compute()``'s response to ``request``, or the one stored for this catalogue version;
    with an ``ETag``, and a 304 where ``If-None-Match`` names it. ``api``: a DRF view (only
    JSON is cached; a hit's headers are the miss's exactly), else a page (a hit is marked
    ``X-Page-Cache: hit``)."""
    if settings.RESPONSE_CACHE_ENTRIES <= 0:
        return compute()
    key = request_key(request, api=api)
    if key is None:
        return compute()
    version = current_version()  # read before computing: see the module's docstring
    if version is None:
        return compute()
    stored_as = entry_key(version, key)
    entry = store().get(stored_as)
    if entry is not None:
        response = _from_entry(entry)
        if not api:
            response["X-Page-Cache"] = "hit"
        return get_conditional_response(request, etag=response["ETag"], response=response)
    with request_version(version):  # the values it keeps go under the same version
        response = compute()
    if isinstance(response, SimpleTemplateResponse) and not response.is_rendered:
        response.render()  # DRF's Response: the body is needed now
    if not _storable(request, response):
        return response
    body = bytes(response.content)
    response["ETag"] = etag_of(body)
    if len(body) <= settings.RESPONSE_CACHE_MAX_BODY:
        session = getattr(request, "session", None)
        vary_cookie = bool(session is not None and session.accessed)
        store().set(stored_as, (body, tuple(response.headers.items()), vary_cookie))
    return get_conditional_response(request, etag=response["ETag"], response=response)


def cache_page(view):
    """The page ``view`` for anonymous GETs from the response cache (``cached_response``)."""

    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        return cached_response(request, lambda: view(request, *args, **kwargs), api=False)

    return wrapper


# ---- values ----------------------------------------------------------------------------------

_MISSING = object()
# The version read by the response cache for the request being computed: the values the view
# stores with ``versioned()`` go under it too, without reading the version again.
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


def _version():
    version = _REQUEST_VERSION.get()
    return current_version() if version is _MISSING else version


def _value_key(version: tuple, name: str) -> str:
    return "v:{}:{}:{}".format(*version, _digest(name))


def versioned(name: str, compute, version=_MISSING):
    """``compute()``, stored under (catalogue version, ``name``) in the ``default`` cache.

    One small query (the version, unless the request's response cache read it already) and one
    cache look-up on a hit; ``compute()`` runs once per catalogue version and process (per
    version only, with ``CACHE_URL``). With no version row (an unsupported database) it is
    computed every time."""
    if version is _MISSING:
        version = _version()
    if version is None:
        return compute()
    key = _value_key(version, name)
    value = django_cache.get(key, _MISSING)
    if value is _MISSING:
        value = compute()
        django_cache.set(key, value)
    return value


def versioned_many(names: list[str], compute) -> dict:
    """Like ``versioned`` for several values at once: ``compute(missing)`` gives a dict of the
    names not stored yet (one call, so one query for all of them), stored under the catalogue
    version; one cache round trip for the rest."""
    version = _version()
    if version is None:
        return compute(list(names))
    keys = {name: _value_key(version, name) for name in names}
    found = django_cache.get_many(list(keys.values()))
    out = {name: found[key] for name, key in keys.items() if key in found}
    missing = [name for name in names if name not in out]
    if missing:
        computed = compute(missing)
        django_cache.set_many({keys[name]: computed[name] for name in missing})
        out.update(computed)
    return out
