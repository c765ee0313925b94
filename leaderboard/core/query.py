"""Query-string input: one parser per kind of value, each refusal a clear message (a 400 under
``/api/``), never an exception from Python or the database (a 500).

- ``problem_of(querydict)``: what every API query string must satisfy, checked for every request
  under ``/api/`` by ``config.api_errors.ApiQueryMiddleware``: each parameter given once (a
  repeated ``page`` is not a guess between two pages), no NUL character (PostgreSQL refuses it in
  a text value), at most ``MAX_VALUE_CHARS`` characters.
- ``parse_int(raw, minimum, maximum)``: an integer in ASCII digits, at most ``MAX_INT_DIGITS``
  of them. ``str.isdigit()`` is true for "²" and "١", which ``int()`` then refuses or reads as
  another number, and Python refuses to convert more than 4,300 digits: both were 500s.
- ``parse_flag(raw)``: true/false, 1/0, yes/no; an empty value is refused, not read as "no".

``query_int`` and ``query_flag`` read a DRF request's parameter and raise DRF's
``ValidationError`` (400, the message under the parameter's name).
"""

from __future__ import annotations

from rest_framework.exceptions import ValidationError

MAX_INT_DIGITS = 18  # below 2**63: every id, page and count fits the database's bigint
MAX_VALUE_CHARS = 1000
TRUE = ("true", "1", "yes")
FALSE = ("false", "0", "no")
FLAGS = TRUE + FALSE


class QueryError(ValueError):
    """A query value that is not of its kind; the message says what is expected."""


def parse_int(raw: str, minimum: int | None = None, maximum: int | None = None) -> int:
    text = raw.strip()
    if not (text.isascii() and text.isdigit()):
        low = "a positive integer" if minimum == 1 else "a whole number"
        raise QueryError(f"Give {low} in the digits 0-9 (got {raw[:20]!r}).")
    if len(text) > MAX_INT_DIGITS:
        raise QueryError(f"At most {MAX_INT_DIGITS} digits (got {len(text)}).")
    value = int(text)
    if minimum is not None and value < minimum:
        raise QueryError(f"At least {minimum}.")
    if maximum is not None and value > maximum:
        raise QueryError(f"At most {maximum}.")
    return value


def parse_flag(raw: str) -> bool:
    value = raw.strip().lower()
    if value in TRUE:
        return True
    if value in FALSE:
        return False
    raise QueryError(f"Give one of {', '.join(FLAGS)} (got {raw[:20]!r}).")


def problem_of(querydict) -> tuple[str, str] | None:
    """(parameter, message) for the first parameter no API accepts, else None."""
    for name, values in querydict.lists():
        shown = name[:50].replace("\x00", "\\x00")
        if "\x00" in name:
            return shown, "Null characters are not allowed in a parameter's name."
        if len(values) > 1:
            return shown, f"Give this parameter once (it was given {len(values)} times)."
        value = values[0] if values else ""
        if "\x00" in value:
            return shown, "Null characters are not allowed."
        if len(value) > MAX_VALUE_CHARS:
            return shown, f"At most {MAX_VALUE_CHARS} characters (got {len(value)})."
    return None


def query_int(
    request, name: str, default=None, minimum: int | None = None, maximum: int | None = None
):
    """The parameter ``name`` of a DRF request as an int (``default`` when absent)."""
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return parse_int(raw, minimum, maximum)
    except QueryError as exc:
        raise ValidationError({name: [str(exc)]}) from None


def query_flag(request, name: str, default: bool = False) -> bool:
    raw = request.query_params.get(name)
    if raw is None:
        return default
    try:
        return parse_flag(raw)
    except QueryError as exc:
        raise ValidationError({name: [str(exc)]}) from None
