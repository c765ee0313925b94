"""Whole-page cache of the catalogue's HTML pages for anonymous readers, keyed on the catalogue
version (``leaderboard/core/cache.py``): never
stale, one small query and one cache look-up on a hit,
shared by every web process when ``CACHE_URL`` is set. A request with a session cookie or
credentials (its header shows the account), a response that sets a cookie, and anything but a
200 are computed every time. ``PAGE_CACHE=0`` turns it off (settings.py)."""

import functools
import hashlib

from django.conf import settings
from django.core.cache import cache
from django.http import HttpResponse

from leaderboard.core.cache import current_version, request_version


def enabled() -> bool:
    return bool(settings.PAGE_CACHE)


def cacheable(request) -> bool:
    return (
        request.method == "GET"
        and settings.SESSION_COOKIE_NAME not in request.COOKIES
        and "messages" not in request.COOKIES
        and "Authorization" not in request.headers
        and enabled()
    )


def cached_page(view):
    @functools.wraps(view)
    def wrapper(request, *args, **kwargs):
        if not cacheable(request):
            return view(request, *args, **kwargs)
        version = current_version()  # read before computing: a newer body, never an older one
        if version is None:
            return view(request, *args, **kwargs)
        path = f"{request.scheme}://{request.get_host()}{request.get_full_path()}"
        key = "page:{}:{}:{}".format(*version, hashlib.sha256(path.encode()).hexdigest())
        hit = cache.get(key)
        if hit is not None:
            body, content_type = hit
            response = HttpResponse(body, content_type=content_type)
            response["X-Page-Cache"] = "hit"
            return response
        with request_version(version):  # the counts it caches go under the same version
            response = view(request, *args, **kwargs)
        if (
            response.status_code == 200
            and not response.streaming
            and not response.cookies
            and getattr(response, "is_rendered", True) is not False
        ):
            cache.set(key, (bytes(response.content), response["Content-Type"]))
        return response

    return wrapper
