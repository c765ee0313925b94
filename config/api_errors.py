"""Every error under ``/api/`` is JSON with a ``detail`` string, whatever raised it.

- DRF's exceptions go through ``exception_handler``: DRF's own answer, plus ``detail`` where DRF
  gives only field errors (a 400 keeps its field keys beside ``detail``), and the request-size
  errors Django raises while parsing a body (``RequestDataTooBig``: 413; too many fields: 400).
- What escapes a view (an unknown path, a CSRF failure, a 500) goes through Django's handlers,
  set in ``config/urls.py`` and ``CSRF_FAILURE_VIEW``: JSON under ``/api/``, the site's HTML
  pages elsewhere.
- ``ApiQueryMiddleware`` refuses, before any view or cache, a query string under ``/api/`` that
  no API accepts (``leaderboard.core.query.problem_of``: a repeated parameter, a NUL character, an
  over-long value): 400 with the parameter's name.
"""

from __future__ import annotations

from django.core.exceptions import (
    BadRequest,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import JsonResponse
from django.views import defaults
from django.views.csrf import csrf_failure as django_csrf_failure
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from leaderboard.core.query import problem_of

API_PREFIX = "/api/"


def is_api(request) -> bool:
    return request is not None and request.path.startswith(API_PREFIX)


def _summary(data) -> str:
    """One line out of DRF's field errors: ``field: message; other: message``."""
    if isinstance(data, dict):
        parts = []
        for key, value in data.items():
            text = _summary(value)
            parts.append(text if key == "non_field_errors" else f"{key}: {text}")
        return "; ".join(parts)
    if isinstance(data, list):
        return " ".join(_summary(item) for item in data)
    return str(data)


def with_detail(data):
    """The body of an API error, always an object holding a ``detail`` string."""
    if isinstance(data, dict):
        if isinstance(data.get("detail"), str):
            return data
        if "detail" in data:
            return {**data, "detail": _summary(data["detail"])}
        return {"detail": _summary(data) or "Invalid input.", **data}
    if isinstance(data, list):
        return {"detail": _summary(data) or "Invalid input.", "errors": data}
    return {"detail": str(data)}


def exception_handler(exc, context):
    if isinstance(exc, RequestDataTooBig):
        return Response(
            {"detail": f"The request body is too large: {exc}"},
            status=status.HTTP_413_REQUEST_ENTITY_TOO_LARGE,
        )
    if isinstance(exc, TooManyFieldsSent | TooManyFilesSent | SuspiciousOperation | BadRequest):
        return Response({"detail": f"Bad request: {exc}"}, status=status.HTTP_400_BAD_REQUEST)
    response = drf_exception_handler(exc, context)
    if response is not None:
        response.data = with_detail(response.data)
    return response


def _json(detail: str, status_code: int) -> JsonResponse:
    return JsonResponse({"detail": detail}, status=status_code)


def bad_request(request, exception=None):
    if is_api(request):
        if isinstance(exception, RequestDataTooBig):
            return _json(f"The request body is too large: {exception}", 413)
        return _json(f"Bad request: {exception}" if exception else "Bad request.", 400)
    return defaults.bad_request(request, exception)


def permission_denied(request, exception=None):
    if is_api(request):
        return _json(str(exception) if exception else "Permission denied.", 403)
    return defaults.permission_denied(request, exception)


def page_not_found(request, exception=None):
    if is_api(request):
        return _json("Not found.", 404)
    return defaults.page_not_found(request, exception)


def server_error(request):
    if is_api(request):
        return _json("Server error: the error has been logged.", 500)
    return defaults.server_error(request)


def csrf_failure(request, reason=""):
    """CSRF refusals: JSON under /api/ (a program sending a session cookie without the token)."""
    if is_api(request):
        return _json(
            f"CSRF Failed: {reason}. Send the X-CSRFToken header with a session, or use "
            "token authentication (Authorization: Token ...).",
            403,
        )
    return django_csrf_failure(request, reason)


class ApiQueryMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if is_api(request) and request.META.get("QUERY_STRING"):
            problem = problem_of(request.GET)
            if problem is not None:
                name, message = problem
                body = {name: [message]} if name != "detail" else {}
                return JsonResponse({**body, "detail": f"{name}: {message}"}, status=400)
        return self.get_response(request)
