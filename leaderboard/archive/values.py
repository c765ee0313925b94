"""Parsing of the archive's values: numbers as people wrote them, dates, URLs, names.

Every function here is pure (no database) and total: it returns a value or None, never raises.
"""

import datetime
import re
import unicodedata
from urllib.parse import urlsplit

from leaderboard.core import arxiv

# "0.8428 ± 0.0014", "2.53±0.40", "−1.2", "\ufeff93.3", "63.7*", "~257M", "3.0m", "1,024", "98.7%"
_MINUSES = dict.fromkeys(map(ord, "\u2212\u2012\u2013\u2014\ufe63\uff0d"), "-")
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060\u00a0\u202f"), None)
_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?"
_VALUE = re.compile(
    rf"^~?\s*(?P<num>{_NUMBER})\s*(?P<suffix>%|[kKmMbBgG])?"
    rf"(?:\s*(?:±|\+/-|\+-)\s*(?P<ci>{_NUMBER})\s*(?P<cisuffix>%|[kKmMbBgG])?)?$"
)
_TRAILING_MARKS = "*†‡§¶#'\""
_SCALE = {None: 1.0, "%": 1.0, "k": 1e3, "m": 1e6, "b": 1e9, "g": 1e9}
_SCALE.update({k.upper(): v for k, v in list(_SCALE.items()) if k})
MAX_NUMBER_TEXT = 100  # characters: a longer cell is text, never parsed as a number
MAX_FLOAT_INT = 10**308


def clean_text(raw) -> str:
    """A string with invisible marks removed and space collapsed ("" for anything else)."""
    if not isinstance(raw, str):
        return ""
    if raw.isascii():  # every invisible mark is outside ASCII: nothing to remove
        return " ".join(raw.split())
    return " ".join(raw.translate(_INVISIBLE).split())


def parse_value(raw) -> tuple[float, float | None] | None:
    """(value, interval) from an archive value, or None if it is not a number.

    Accepts numbers, and text with Unicode minus signs, byte-order marks, a leading ``~``,
    trailing marks (``*``, ``†``), thousands commas, ``%`` and k/m/b/g suffixes of either case,
    and an interval ``± x`` (also ``+/-``). A value out of float range or NaN is not a number.
    """
    if isinstance(raw, bool) or raw is None:
        return None
    if isinstance(raw, int | float):
        if isinstance(raw, int) and not -MAX_FLOAT_INT < raw < MAX_FLOAT_INT:
            return None  # float() would raise
        value = float(raw)
        return (value, None) if value == value and abs(value) != float("inf") else None
    if not isinstance(raw, str) or len(raw) > MAX_NUMBER_TEXT:
        return None
    text = unicodedata.normalize("NFKC", raw.translate(_INVISIBLE)).translate(_MINUSES)
    text = text.strip().rstrip(_TRAILING_MARKS).strip().replace(",", "")
    match = _VALUE.match(text)
    if not match:
        return None
    value = float(match["num"]) * _SCALE[match["suffix"]]
    ci = None
    if match["ci"] is not None:
        ci = abs(float(match["ci"]) * _SCALE[match["cisuffix"] or match["suffix"]])
    if value != value or abs(value) == float("inf") or (ci is not None and ci == float("inf")):
        return None
    return value, ci


def parse_date(raw) -> datetime.date | None:
    """A date from "2017-03-15", "2017-03-15T00:00:00" or "2017-03" (the first of the month)."""
    text = clean_text(raw)
    if not text:
        return None
    candidates = [text[:10]] if len(text) >= 10 else [text + "-01"] if len(text) == 7 else []
    for candidate in candidates:
        try:
            date = datetime.date.fromisoformat(candidate)
        except ValueError:
            continue
        if 1000 <= date.year <= 2999:
            return date
    return None


# http(s)://host[:port][/...] with a host of letters, digits and ._~%- and no character that
# http_url refuses: urlsplit would give that host (tests/leaderboard/test_archive.py checks it).
_PLAIN_HTTP_URL = re.compile(r"(?i:https?)://[A-Za-z0-9._~%-]+(?::[0-9]*)?(?:[/?#][^<>\"' \\]*)?\Z")


def http_url(raw, max_length: int = 500) -> str:
    """``raw`` if it is an absolute http(s) URL with a host (and fits), else "".

    The one place that decides which links the catalogue stores: ``javascript:``, ``data:``,
    relative and scheme-less links are dropped.
    """
    text = clean_text(raw)
    if not text or len(text) > max_length:
        return ""
    if _PLAIN_HTTP_URL.match(text):  # the common case, without urlsplit (same answer)
        return text
    if any(c in text for c in "<>\"' \\"):
        return ""
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    return text


def arxiv_id(raw_id="", url="") -> str:
    """The version-less arXiv id of an id ("1703.05175v2"), else of an arXiv URL
    (``leaderboard/core/arxiv.py``)."""
    return arxiv.arxiv_id(clean_text(raw_id)) or arxiv.arxiv_id_in_url(clean_text(url))


def normalised_title(title) -> str:
    """The form two titles must share to be one paper: case, accents' forms, space and
    punctuation at the ends ignored; nothing fuzzier."""
    text = unicodedata.normalize("NFKC", clean_text(title)).casefold()
    return text.strip(" .")


def is_pwc_url(url: str) -> bool:
    return "paperswithcode.com/" in (url or "")


def as_list(raw) -> list:
    return raw if isinstance(raw, list) else []


def string_list(raw) -> list[str]:
    return [t for t in (clean_text(x) for x in as_list(raw)) if t]


_ASCII_INT = re.compile(r"[-+]?[0-9]{1,18}\Z")


def as_int(raw, lo: int = -(10**18), hi: int = 10**18) -> int | None:
    """An integer from a number or ASCII digits, within [lo, hi]; None otherwise (``"²"`` is
    a digit to ``str.isdigit`` but no number here; a value past the bounds is never built)."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        n = raw
    elif isinstance(raw, float) and raw.is_integer() and abs(raw) < 1e18:
        n = int(raw)
    elif isinstance(raw, str) and _ASCII_INT.match(raw.strip()):
        n = int(raw.strip())
    else:
        return None
    return n if lo <= n <= hi else None


def as_bool(raw) -> bool:
    return raw is True or (isinstance(raw, str) and raw.strip().lower() in ("true", "1", "yes"))
