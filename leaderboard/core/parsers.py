"""The API's JSON request parser: DRF's, with the site's bounds
(``leaderboard/core/json_bounds.py``).

The body is read up to ``API_JSON_MAX_BYTES`` plus one byte, never further: a longer one is a
413; a body nested deeper than ``API_JSON_MAX_DEPTH`` or holding an integer of more than
``API_JSON_MAX_INT_DIGITS`` digits, or with a NUL character in a string, is a 400 naming the
bound.
"""

from django.conf import settings
from rest_framework import status
from rest_framework.exceptions import APIException, ParseError
from rest_framework.parsers import JSONParser

from leaderboard.core.json_bounds import JSONBoundError, loads_bounded


class RequestTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "too_large"


NUL_MESSAGE = "Null characters are not allowed."


def json_max_bytes() -> int:
    return settings.API_JSON_MAX_BYTES


class BoundedJSONParser(JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        limit = json_max_bytes()
        raw = stream.read(limit + 1) if stream is not None else b""
        if len(raw) > limit:
            raise RequestTooLarge(f"A JSON request body is limited to {limit} bytes.")
        try:
            return loads_bounded(
                raw,
                max_bytes=limit,
                max_depth=settings.API_JSON_MAX_DEPTH,
                max_int_digits=settings.API_JSON_MAX_INT_DIGITS,
                what="The request body",
                allow_nul=False,
            )
        except JSONBoundError as exc:
            if exc.field:  # a NUL character under a field: the 400 names the field
                raise ParseError({exc.field: [NUL_MESSAGE]}, code="json_nul") from None
            raise ParseError(str(exc), code=f"json_{exc.bound}") from None
        except ValueError as exc:
            raise ParseError(f"JSON parse error - {exc}") from None
