"""Bounded JSON parsing: every JSON document the site reads goes through ``loads_bounded``.

Python's ``json`` has no bound of its own: a body nested a few thousand levels deep raises
``RecursionError`` (a 500 where it escapes), and an integer of thousands of digits raises
``ValueError`` (Python refuses int-string conversions past 4,300 digits) or costs quadratic time
below that. Here the size is checked on the raw bytes before parsing, integers by their digit
count before conversion (the ``parse_int`` hook sees the digits as text), and the nesting depth
while parsing (a ``RecursionError`` from the C scanner) and after it (an iterative walk), so each
refusal is a ``JSONBoundError`` naming the bound it hit.

Used by the API's request parser (``leaderboard.parsers.BoundedJSONParser``), the training
configurations of submissions (``evaluator.validation.parse_config``), the authors list of the
submissions API and the archive importer.
"""

from __future__ import annotations

import json

MAX_DEPTH = 32
MAX_INT_DIGITS = 20


class JSONBoundError(ValueError):
    """A JSON document over one of the bounds; ``bound`` is "size", "depth" or "integer"."""

    def __init__(self, message: str, bound: str):
        super().__init__(message)
        self.bound = bound


def _refuse_constant(name: str):
    raise ValueError(f"{name} is not valid JSON (use a finite number).")


def depth_of(value) -> int:
    """The nesting depth of a parsed document (a scalar is 0, ``[]`` and ``{}`` are 1)."""
    deepest, stack = 0, [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        depth += 1
        deepest = max(deepest, depth)
        stack.extend((child, depth) for child in children if isinstance(child, dict | list))
    return deepest


def loads_bounded(
    raw: str | bytes,
    *,
    max_bytes: int | None,
    max_depth: int = MAX_DEPTH,
    max_int_digits: int = MAX_INT_DIGITS,
    what: str = "The JSON document",
):
    """Parse ``raw`` within the bounds; ``JSONBoundError`` for a bound, ``ValueError`` (a
    ``json.JSONDecodeError`` or ``UnicodeDecodeError`` among them) for anything not JSON."""
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
    if depth_of(value) > max_depth:
        raise too_deep
    return value
