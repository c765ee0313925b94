"""Only http(s) links, everywhere: the one check used on import, in the API, the forms, the admin
and when a page renders a stored link (the ``safe_href`` template filter).

A stored ``javascript:`` or ``data:`` URL emitted as ``href`` runs code in the site's origin at
one click; a scheme-less or ``ftp:`` one is not a link a reader can follow either. Anything that
is not an absolute http(s) URL with a host is refused (forms, API, admin) or dropped with a
warning (archive import), and never rendered as a link.

Usage: ``http_url_or_empty(raw)`` for an importer (the cleaned URL, or "" if it is not one),
``validate_http_url`` as a form/serializer/model validator, ``is_http_url`` for a test, and in
templates ``{% load leaderboard_tags %}`` then ``{% if paper.url|safe_href %}<a href="{{
paper.url|safe_href }}">``.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.core.exceptions import ValidationError
from django.core.validators import URLValidator

SCHEMES = ("http", "https")
MAX_URL_LENGTH = 500
_VALIDATOR = URLValidator(schemes=list(SCHEMES))
MESSAGE = "Only http:// and https:// links are accepted."


def is_http_url(value) -> bool:
    """True for an absolute http(s) URL with a host (what Django's URLValidator accepts)."""
    if not isinstance(value, str):
        return False
    value = value.strip()
    if not value or len(value) > MAX_URL_LENGTH:
        return False
    # The scheme first: cheap, and it settles javascript:, data:, vbscript:, relative paths.
    scheme = urlsplit(value).scheme.lower() if ":" in value else ""
    if scheme not in SCHEMES:
        return False
    try:
        _VALIDATOR(value)
    except ValidationError:
        return False
    return True


def http_url_or_empty(value) -> str:
    """The URL, stripped, if it is an http(s) one; otherwise ""."""
    return value.strip() if is_http_url(value) else ""


def validate_http_url(value) -> None:
    """A validator: empty passes (blank fields), anything else must be an http(s) URL."""
    if value in (None, ""):
        return
    if not is_http_url(value):
        raise ValidationError(MESSAGE, code="invalid_url_scheme")


def admin_formfield_overrides() -> dict:
    """``formfield_overrides`` for a ModelAdmin or inline: every URLField accepts http(s) only,
    and a link typed without a scheme is taken as https."""
    from django.db import models

    return {models.URLField: {"validators": [validate_http_url], "assume_scheme": "https"}}
