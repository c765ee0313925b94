"""Who a request comes from, and the throttles of the read API (rates in settings.py, "Limits").

``client_address(request)`` is the one definition of a client's address, read by these throttles,
the submission limits and the log-in lock-out (django-axes' ``AXES_CLIENT_IP_CALLABLE``): the
connection's address, unless ``TRUSTED_PROXY_COUNT`` reverse proxies stand in front of the web
server, in which case django-ipware reads it from ``X-Forwarded-For`` as those proxies write it
(a chain of another length falls back to the connection's address, so a client cannot choose its
own by sending the header).

``WindowThrottle`` counts requests in fixed windows of the rate's period, atomically: the first
request of a window creates its counter (``cache.add``), every other increments it
(``cache.incr``: one Redis ``INCR`` with ``CACHE_URL``, so every web process shares one exact
count; a locked increment in the per-process cache otherwise). A cache that fails (django-redis
answers ``None`` under ``IGNORE_EXCEPTIONS``) does not lift the limit: the count goes on in the
process's own memory, so the limit then holds per web process (N processes: at most N times the
rate) until the cache is back. A refused request answers DRF's 429 with ``Retry-After``, the
seconds to the end of the window.

The scoped throttles of the read API:

- ``AnonReadThrottle`` (scope ``anon_reads``, rate ``THROTTLE_ANON_READS``): every API read of
  an anonymous client computed by the database (a response served from the read cache costs one
  small query and is not counted; but a client over its budget is refused before the cache is
  asked, by ``refused_early``: a cache read per request, no query);
- ``SearchThrottle`` (scope ``search``, ``THROTTLE_SEARCH``): reads with a search or substring
  parameter (``q``, ``search``, ``title``, ``abstract``), for everyone;
- ``ExportThrottle`` (scope ``export``, ``THROTTLE_EXPORT``): the archive export, for everyone.
"""

from __future__ import annotations

import hashlib
import math
import threading
import time

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse, JsonResponse
from ipware import get_client_ip
from rest_framework.throttling import BaseThrottle

SEARCH_PARAMS = ("q", "search", "title", "abstract")


def client_address(request) -> str:
    """The client's address as the deployment defines it (``TRUSTED_PROXY_COUNT``)."""
    if request is None:
        return "unknown"
    meta = request.META
    proxies = settings.TRUSTED_PROXY_COUNT
    if proxies <= 0:
        return meta.get("REMOTE_ADDR") or "unknown"
    # ipware's proxy count is the number of proxy addresses inside X-Forwarded-For: the last
    # proxy is the connection itself (REMOTE_ADDR), so N proxies write N - 1 of them.
    address, _ = get_client_ip(
        request,
        proxy_count=proxies - 1,
        proxy_trusted_ips=settings.TRUSTED_PROXY_IPS or None,
        request_header_order=("HTTP_X_FORWARDED_FOR", "REMOTE_ADDR"),
    )
    return address or meta.get("REMOTE_ADDR") or "unknown"


def parse_rate(rate: str) -> tuple[int, int]:
    """``"30/hour"`` → (30, 3600), as DRF reads its rates (s, m, h, d by first letter)."""
    num, period = rate.split("/")
    return int(num), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period.strip()[0]]


class LocalCounters:
    """Counters in this process's memory, for when the shared cache fails."""

    def __init__(self):
        self._lock = threading.Lock()
        self._counts: dict[str, tuple[float, int]] = {}

    def incr(self, key: str, ttl: float) -> int:
        now = time.monotonic()
        with self._lock:
            if len(self._counts) > 10_000:
                self._counts = {k: v for k, v in self._counts.items() if v[0] > now}
            expires, count = self._counts.get(key, (0.0, 0))
            if expires <= now:
                expires, count = now + ttl, 0
            self._counts[key] = (expires, count + 1)
            return count + 1

    def clear(self) -> None:
        with self._lock:
            self._counts.clear()


LOCAL = LocalCounters()


def count_in_window(key: str, ttl: int) -> int:
    """Add one to ``key`` (created for ``ttl`` seconds) and return its count: atomic in the
    shared cache; in this process's memory when the cache fails."""
    for _ in range(2):
        try:
            added = cache.add(key, 1, ttl)
            if added:
                return 1
            if added is None:  # django-redis under IGNORE_EXCEPTIONS: the cache is down
                break
            value = cache.incr(key)
            if value is None:
                break
            return int(value)
        except ValueError:  # the key expired between add and incr: add it again
            continue
        except Exception:  # a cache backend that raises instead
            break
    return LOCAL.incr(key, ttl)


class WindowThrottle(BaseThrottle):
    """A DRF throttle counting in fixed windows of its rate's period (see the module)."""

    scope = ""
    rate_setting = ""  # the setting that holds the rate, read per request ("" or 0: no limit)

    def rate(self) -> str | None:
        return getattr(settings, self.rate_setting) or None

    def applies(self, request, view) -> bool:
        return True

    def ident(self, request) -> str:
        user = getattr(request, "user", None)
        if user is not None and user.is_authenticated:
            return f"user:{user.pk}"
        return f"addr:{client_address(request)}"

    def _window(self, request, view) -> tuple[str, int] | None:
        """(this window's counter key, the limit), or None where no limit applies."""
        rate = self.rate()
        if not rate or not self.applies(request, view):
            return None
        limit, period = parse_rate(rate)
        now = time.time()
        window = int(now // period)
        self.wait_seconds = max(1, math.ceil((window + 1) * period - now))
        digest = hashlib.sha256(self.ident(request).encode()).hexdigest()[:32]
        return f"throttle:{self.scope}:{period}:{window}:{digest}", limit

    def allow_request(self, request, view) -> bool:
        found = self._window(request, view)
        if found is None:
            return True
        key, limit = found
        period = parse_rate(self.rate())[1]
        return count_in_window(key, period + 1) <= limit

    def over_limit(self, request) -> bool:
        """Whether this client has used its whole budget of this window already (read only:
        nothing counted). False where the cache cannot say."""
        found = self._window(request, None)
        if found is None:
            return False
        key, limit = found
        try:
            count = cache.get(key)
        except Exception:
            return False
        return count is not None and int(count) >= limit

    def wait(self):
        return getattr(self, "wait_seconds", None)


class AnonReadThrottle(WindowThrottle):
    scope = "anon_reads"
    rate_setting = "THROTTLE_ANON_READS"

    def applies(self, request, view) -> bool:
        if request.method not in ("GET", "HEAD"):
            return False
        if view is None:  # refused_early: a request without credentials or session
            return True
        user = getattr(request, "user", None)
        return not (user and user.is_authenticated)


class SearchThrottle(WindowThrottle):
    scope = "search"
    rate_setting = "THROTTLE_SEARCH"

    def applies(self, request, view) -> bool:
        params = request.query_params if hasattr(request, "query_params") else request.GET
        return any(params.get(name) for name in SEARCH_PARAMS)


class ExportThrottle(WindowThrottle):
    scope = "export"
    rate_setting = "THROTTLE_EXPORT"


READ_THROTTLES = [AnonReadThrottle, SearchThrottle]


def refused_early(request, throttle_classes) -> HttpResponse | None:
    """For an anonymous request (no credentials, no session) whose client has already used a
    whole budget: DRF's 429, answered before the response cache and the database are asked (a
    client that goes on sending costs a cache read per request). Everything else goes on to
    the view, where DRF counts it."""
    if "Authorization" in request.headers or settings.SESSION_COOKIE_NAME in request.COOKIES:
        return None
    for throttle_class in throttle_classes:
        throttle = throttle_class()
        if throttle.over_limit(request):
            wait = throttle.wait()
            response = JsonResponse(
                {"detail": f"Request was throttled. Expected available in {wait} seconds."},
                status=429,
            )
            response["Retry-After"] = str(wait)
            return response
    return None
