"""The one reading of an arXiv identifier, for the archive's import, the catalogue's
find-or-create and the submission form and API.

An id is new-style (``1703.03400``, four digits, a dot, four or five) or old-style
(``cs/0112017``, ``math.GT/0309136``), with an optional version (``v3``). Pure functions, no
database.
"""

import re

_ID = r"(\d{4}\.\d{4,5}|[a-z][a-z-]*(?:\.[a-z]{2})?/\d{7})(v\d+)?"
# What a person types for an id: the id, ``arXiv:`` and the id, or an arxiv.org abs/pdf address.
_WHOLE = re.compile(
    rf"^(?:arxiv:|https?://(?:www\.|export\.)?arxiv\.org/(?:abs|pdf)/)?{_ID}(?:\.pdf)?/?$", re.I
)
# An arxiv.org address anywhere in a text (the archive's paper URLs). (?!\d): "1000.100000" is
# no arXiv id; without it, its first five digits matched another paper.
_IN_URL = re.compile(rf"arxiv\.org/(?:abs|pdf)/{_ID}(?!\d)", re.I)


def _id(match, version: bool) -> str:
    if match is None:
        return ""
    return match.group(1) + ((match.group(2) or "") if version else "")


def arxiv_id(text: str, *, version: bool = False) -> str:
    """The id that ``text`` is (an id, ``arXiv:`` and an id, or an arxiv.org address), without
    its version unless ``version``; "" when ``text`` is none of these."""
    return _id(_WHOLE.match((text or "").strip()), version)


def arxiv_id_in_url(url: str, *, version: bool = False) -> str:
    """The id of the arxiv.org address in ``url``, without its version unless ``version``; ""
    when it names none."""
    return _id(_IN_URL.search(url or ""), version)
