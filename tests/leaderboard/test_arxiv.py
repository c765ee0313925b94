"""One reading of an arXiv id (``leaderboard/core/arxiv.py``): the archive's import, the catalogue's
find-or-create and the submission form agree on every id and address."""

import pytest
from django.core.exceptions import ValidationError

from evaluator.validation.claims import normalise_arxiv_id
from leaderboard.archive import values as v
from leaderboard.core.arxiv import arxiv_id, arxiv_id_in_url

ADDRESSES = [
    ("https://arxiv.org/abs/1703.03400", "1703.03400"),
    ("https://arxiv.org/abs/1703.03400v3", "1703.03400"),
    ("https://arxiv.org/pdf/1703.03400v2.pdf", "1703.03400"),
    ("http://export.arxiv.org/abs/1703.03400", "1703.03400"),
    ("https://arxiv.org/abs/cs/0112017", "cs/0112017"),
    ("https://arxiv.org/abs/math.GT/0309136v1", "math.GT/0309136"),
    ("https://arxiv.org/abs/1000.100000v1", ""),  # not the paper 1000.10000
    ("https://example.org/abs/1703.03400", ""),
]


@pytest.mark.parametrize(("url", "expected"), ADDRESSES)
def test_the_importer_the_catalogue_and_the_form_read_an_address_alike(url, expected):
    assert arxiv_id_in_url(url) == expected
    assert v.arxiv_id("", url) == expected
    if url.startswith("https://arxiv.org/"):
        if expected:
            assert arxiv_id(url) == expected
            assert normalise_arxiv_id(url) == arxiv_id(url, version=True)
            assert normalise_arxiv_id(url).startswith(expected)
        else:
            with pytest.raises(ValidationError):
                normalise_arxiv_id(url)


@pytest.mark.parametrize(
    ("text", "bare", "versioned"),
    [
        ("1703.03400", "1703.03400", "1703.03400"),
        ("arXiv:1703.03400v3", "1703.03400", "1703.03400v3"),
        (" cs/0112017 ", "cs/0112017", "cs/0112017"),
        ("1703.034001", "", ""),
        ("https://arxiv.org/abs/1703.03400/more", "", ""),
        ("not an id", "", ""),
    ],
)
def test_an_id_as_typed(text, bare, versioned):
    assert arxiv_id(text) == bare == v.arxiv_id(text)
    assert arxiv_id(text, version=True) == versioned
