"""Bounded JSON parsing: every JSON document the site reads goes through ``loads_bounded``.

Python's ``json`` has no bound of its own: a body nested a few thousand levels deep raises
``RecursionError`` (a 500 where it escapes), and an integer of thousands of digits raises
``ValueError`` (Python refuses int-string conversions past 4,300 digits) or costs quadratic time
below that. Here the size is checked on the raw bytes before parsing, integers by their digit
count before conversion (the ``parse_int`` hook sees the digits as text), and the nesting depth
while parsing (a ``RecursionError`` from the C scanner) and after it (an iterative walk), so each
refusal is a ``JSONBoundError`` naming the bound it hit.

A NUL character in a key or string is refused where the document is stored in the database
(``allow_nul=False``). Used by the API's request parser
(``leaderboard.core.parsers.BoundedJSONParser``), the training
configurations of submissions (``evaluator.validation.parse_config``), the authors list of the
submissions API and the archive importer.
"""

from __future__ import annotations

import json

MAX_DEPTH = 32
MAX_INT_DIGITS = 20


class JSONBoundError(ValueError):
    """A JSON document over one of the bounds; ``bound`` is "size", "depth", "integer" or "nul"
    (a NUL character in a string, which PostgreSQL cannot store in text or jsonb)."""

    def __init__(self, message: str, bound: str):
        super().__init__(message)
        self.bound = bound
        self.field = ""  # "nul": the top-level key whose value holds it ("" if none)


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON (use a finite number).")


def depth_of(value) -> int:
    """The nesting depth of a parsed document (a scalar is 0, ``[]`` and ``{}`` are 1)."""
    return _walk(value)[0]


def _walk(value) -> tuple[int, str | None]:
    """(nesting depth, where the first NUL character is: the top-level key whose value holds it,
    "" for the document itself, None if none), iteratively."""
    deepest, nul_at = 0, None
    stack: list = [(value, 0, "")]
    while stack:
        item, depth, top = stack.pop()
        if isinstance(item, str):
            if nul_at is None and "\x00" in item:
                nul_at = top
            continue
        if isinstance(item, dict):
            if nul_at is None and any("\x00" in key for key in item):
                nul_at = top
            children = item.items()
        elif isinstance(item, list):
            children = ((top, child) for child in item)
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        for key, child in children:
            if isinstance(child, dict | list | str):
                stack.append((child, depth, key if depth == 1 and isinstance(item, dict) else top))
    return deepest, nul_at


def loads_bounded(
    raw: str | bytes,
    *,
    max_bytes: int | None,
    max_depth: int = MAX_DEPTH,
    max_int_digits: int = MAX_INT_DIGITS,
    what: str = "The JSON document",
    allow_nul: bool = True,
):
    """Parse ``raw`` within the bounds; ``JSONBoundError`` for a bound, ``ValueError`` (a
    ``json.JSONDecodeError`` or ``UnicodeDecodeError`` among them) for anything not JSON.
    ``allow_nul=False`` refuses a NUL character in any key or string (a document stored in
    the database: the API's request bodies, training configurations)."""
    size = len(raw) if isinstance(raw, bytes) else len(raw.encode("utf-8", "surrogatepass"))
    if max_bytes is not None and size > max_bytes:
        raise JSONBoundError(
            f"{what} is {size} bytes long, over the limit of {max_bytes} bytes.", "size"
        )
    text = raw.decode("utf-8") if isinstance(raw, bytes) else raw

    def parse_int(digits: str) -> int:
        count = len(digits.lstrip("-"))
        if count > max_int_digits:
            raise JSONBoundError(
                f"{what} holds an integer of {count} digits; integers are limited to "
                f"{max_int_digits} digits.",
                "integer",
            )
        return int(digits)

    too_deep = JSONBoundError(
        f"{what} is nested deeper than the limit of {max_depth} levels.", "depth"
    )
    try:
        value = json.loads(text, parse_int=parse_int, parse_constant=_refuse_constant)
    except RecursionError:
        raise too_deep from None
    depth, nul_at = _walk(value)
    if depth > max_depth:
        raise too_deep
    if nul_at is not None and not allow_nul:
        error = JSONBoundError(f"{what} holds a NUL character (\\u0000): not allowed.", "nul")
        error.field = nul_at.replace("\x00", "\\x00")[:100]
        raise error
    return value
