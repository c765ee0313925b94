"""Ranks that respect the noise: neighbouring verified rows that a paired comparison over their
shared fixed episodes cannot tell apart at 95% share a rank ("=2").

Two rows are compared when both are verified with per-episode scores of the same length on the
same episodes (equal fingerprints, or none recorded on either). An archive row, or a verified
row without scores, keeps the rank of its position.
"""

from __future__ import annotations

from collections.abc import Sequence

from leaderboard.results.paired import NotComparable, PairedDifference, paired_difference


def comparable_scores(a, b) -> tuple[list, list] | None:
    """The two results' per-episode scores when they can be paired, else None."""
    if not (a.is_verified and b.is_verified):
        return None
    sa, sb = a.episode_scores or [], b.episode_scores or []
    if len(sa) < 2 or len(sa) != len(sb):
        return None
    if (a.episodes_fingerprint or b.episodes_fingerprint) and (
        a.episodes_fingerprint != b.episodes_fingerprint
    ):
        return None
    if any(s is None for s in sa) or any(s is None for s in sb):
        return None
    return sa, sb


def compare(a, b) -> PairedDifference | None:
    pair = comparable_scores(a, b)
    if pair is None:
        return None
    try:
        return paired_difference(*pair)
    except NotComparable:
        return None


def _fmt(x: float) -> str:
    return f"{x:+.2f}" if abs(x) >= 0.01 or x == 0 else f"{x:+.3g}"


def describe(vs: PairedDifference, above, row) -> str:
    """The tooltip of a row compared with the row above it."""
    verdict = "not distinguishable" if not vs.distinguishable else "distinguishable"
    return (
        f"{above.model.name} − {row.model.name}: {_fmt(vs.mean)} "
        f"(95% interval {_fmt(vs.low)} to {_fmt(vs.high)}, p = {vs.p_value:.2g}, "
        f"{vs.n} paired episodes): {verdict} at 95%"
    )


def annotate_ranks(rows: Sequence, previous=None) -> None:
    """Set ``display_rank`` ("2" or "=2"), ``rank_shared`` and ``rank_title`` on each row.

    ``rows`` are ordered best first and carry ``rank`` (the position rank, ties shared; None
    for a row without a value of the ranked metric, listed last and shown "—");
    ``previous`` is the row just above the first one (the last of the page before), if any.
    """
    above = previous
    above_rank = getattr(previous, "shown_rank", getattr(previous, "rank", None))
    for row in rows:
        row.shown_rank, row.rank_shared, row.rank_title = row.rank, False, ""
        if row.rank is None:  # a row without a value of the ranked metric: unranked
            above, above_rank = row, None
            continue
        vs = compare(above, row) if above is not None else None
        if vs is not None:
            row.rank_title = describe(vs, above, row)
            if not vs.distinguishable:
                row.shown_rank = above_rank
                row.rank_shared = True
                above.rank_shared = True
        elif above is not None and above_rank == row.rank:
            row.rank_shared = True  # an exact tie
        above, above_rank = row, row.shown_rank
    for row in rows:
        if row.shown_rank is None:
            row.display_rank = "—"
        else:
            row.display_rank = f"={row.shown_rank}" if row.rank_shared else str(row.shown_rank)
