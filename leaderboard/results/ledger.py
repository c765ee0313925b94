"""The public ledger: every published verdict, every archive import and every curator's change
through the v1 API's write calls (``CatalogueEdit``), newest first.

Verified rows come with their difference from the benchmark's previous best (the best value of
the same benchmark and metric published before it, by the metric's direction in the benchmark,
``leaderboard/directions.py``) and a "new state of the art" mark when they beat it: both by the
row's value, which for a verified row is what the reference run measured, not the claim; a row a
curator published by overriding the decision says so, with the reason. Archive imports are
grouped per day and benchmark. Rejected, failed and cancelled runs are not public (their owner
and staff see them on the submission's page), so the ledger lists the verdicts that published a
row. A fixed number of queries, whatever the size of the
catalogue; ``?before=YYYY-MM-DD`` pages back by day.

The hash chain (``leaderboard/results/ledger_chain.py``, docs/ledger.md) is read here too: a
verified
row carries the entry that published it (its sequence number and hash), and every other entry
of the chain (a correction, a curator's override, a withdrawal, a row a curator added) is an
entry of its own (kind ``chain``), so that what changed after publication is on the page and
in the feed, with its hash.
"""

from __future__ import annotations

import datetime
import json
from dataclasses import dataclass, field
from itertools import groupby

from django.db.models import Count, Exists, F, Max, Min, OuterRef, Q, Subquery
from django.db.models.functions import Coalesce, TruncDate

from leaderboard.directions import with_direction
from leaderboard.models import Benchmark, CatalogueEdit, LedgerEntry, Result

LIMIT = 100


@dataclass
class Entry:
    kind: str  # "verified", "import", "edit" or "chain"
    at: datetime.datetime
    benchmark: Benchmark | None = None
    result: Result | None = None
    count: int = 0  # results imported
    previous_best: float | None = None
    difference: float | None = None  # value - previous best, signed (+ is better)
    new_sota: bool = False
    metric: str = ""
    edit: CatalogueEdit | None = None
    chain: LedgerEntry | None = None  # a "chain" entry's own
    ledger_seq: int | None = None  # a verified row: the entry that published it
    ledger_hash: str = ""

    @property
    def day(self) -> datetime.date:
        return self.at.date()

    @property
    def content(self) -> dict:
        """A chain entry's recorded content (as hashed)."""
        try:
            content = json.loads(self.chain.content) if self.chain is not None else {}
        except ValueError:
            return {}
        return content if isinstance(content, dict) else {}

    @property
    def title(self) -> str:
        if self.kind == "chain":
            c = self.content
            where = self.benchmark.name if self.benchmark else c.get("benchmark", "?")
            text = (
                f"{self.chain.get_kind_display().capitalize()} of result #{self.chain.result_id}: "
                f"{c.get('model', '?')} on {where}: {c.get('metric', '?')} {figure_text(c)}"
            )
            if c.get("reason"):
                text += f" [{c['reason']}]"
            return text
        if self.kind == "edit":
            e = self.edit
            where = (
                f" on {self.benchmark.name}" if self.benchmark and e.kind != "evaluation" else ""
            )
            return (
                f"{e.kind.capitalize()} {e.label} {e.get_action_display()}{where} by curator "
                f"{e.username or 'unknown'} through the API (claimed, not re-run)"
            )
        if self.kind == "import":
            plural = "s" if self.count != 1 else ""
            return f"{self.count} archive result{plural} imported on {self.benchmark.name}"
        r = self.result
        text = (
            f"{r.model.name} {r.get_verification_level_display().split(':')[0]} on "
            f"{r.benchmark.name}: {r.metric.name} {measured_text(r)}"
        )
        if self.difference is not None:
            text += f" ({self.difference:+.2f} vs previous best {self.previous_best:g})"
        else:
            text += " (first result)"
        if self.new_sota:
            text += ": new state of the art"
        if r.verification_note:
            text += f" [{r.verification_note}]"
        return text


def measured_text(r: Result) -> str:
    """ "61.33 ± 1.87 (claimed 61.3)": a verified row's value, its interval and the claim."""
    text = "?" if r.value is None else f"{r.value:.2f}" if abs(r.value) >= 1 else f"{r.value:.3g}"
    if r.ci95 is not None and r.value is not None:
        text += f" ± {r.ci95:.2f}" if abs(r.value) >= 1 else f" ± {r.ci95:.3g}"
    if r.claimed_value is not None:
        text += f" (claimed {r.claimed_value:g})"
    return text


def figure_text(c: dict) -> str:
    """A chain entry's figure as ``measured_text`` writes a row's: "61.33 ± 1.87 (claimed 61.3)"."""
    value, ci95, claimed = c.get("value"), c.get("ci95"), c.get("claimed_value")
    if not isinstance(value, int | float):
        return str(c.get("raw_value") or "?")
    text = f"{value:.2f}" if abs(value) >= 1 else f"{value:.3g}"
    if isinstance(ci95, int | float):
        text += f" ± {ci95:.2f}" if abs(value) >= 1 else f" ± {ci95:.3g}"
    if isinstance(claimed, int | float):
        text += f" (claimed {claimed:g})"
    return text


@dataclass
class Day:
    day: datetime.date
    entries: list[Entry] = field(default_factory=list)


def _earlier_best(aggregate):
    earlier = Result.objects.filter(
        benchmark_id=OuterRef("benchmark_id"),
        metric_id=OuterRef("metric_id"),
        created_at__lt=OuterRef("created_at"),
    )
    return Subquery(
        earlier.order_by().values("benchmark_id").annotate(v=aggregate("value")).values("v")[:1]
    )


def verified_entries(benchmark=None, before=None, limit: int = LIMIT) -> list[Entry]:
    qs = with_direction(
        Result.objects.verified()
        .filter(verified_at__isnull=False)
        .select_related("benchmark", "metric", "model")
        .only(
            "id", "value", "ci95", "claimed_value", "verification_level", "verification_url",
            "verification_note", "verified_at", "created_at", "source",
            "benchmark__name", "benchmark__slug", "metric__name", "metric__unit", "model__name",
        )
    ).annotate(
        prev_max=_earlier_best(Max), prev_min=_earlier_best(Min),
        ledger_seq=Subquery(_first_entry("pk").values("seq")[:1]),
        ledger_hash=Subquery(_first_entry("pk").values("hash")[:1]),
    ).order_by("-verified_at", "-id")  # fmt: skip
    if benchmark is not None:
        qs = qs.filter(benchmark=benchmark)
    if before is not None:
        qs = qs.filter(verified_at__date__lt=before)
    entries = []
    for r in qs[:limit]:
        higher = r.direction
        prev = r.prev_max if higher else r.prev_min
        entry = Entry("verified", r.verified_at, r.benchmark, r, metric=r.metric.name)
        entry.ledger_seq, entry.ledger_hash = r.ledger_seq, r.ledger_hash or ""
        if r.value is None:
            pass  # no measured figure: nothing to compare (check_verified_rows reports it)
        elif prev is None:
            entry.new_sota = True
        else:
            entry.previous_best = prev
            entry.difference = (r.value - prev) if higher else (prev - r.value)
            entry.new_sota = entry.difference > 0
        entries.append(entry)
    return entries


def _first_entry(outer: str):
    """The first chain entry of the result ``OuterRef(outer)`` (the one that published it)."""
    return LedgerEntry.objects.filter(result_id=OuterRef(outer)).order_by("seq")


def chain_entries(benchmark=None, before=None, limit: int = LIMIT) -> list[Entry]:
    """The chain's entries but those a verified row already stands for (the entry that
    published a row still listed as verified), newest first; one query."""
    shown = Exists(
        Result.objects.verified().filter(pk=OuterRef("result_id"), verified_at__isnull=False)
    )
    qs = (
        LedgerEntry.objects.select_related("benchmark")
        .only("seq", "kind", "at", "result_id", "content", "hash", "prev_hash", "benchmark__name",
              "benchmark__slug")
        .annotate(first=Coalesce(Subquery(_first_entry("result_id").values("seq")[:1]), 0))
        .filter(Q(result_id__isnull=True) | ~Q(seq=F("first")) | ~shown)
        .order_by("-seq")
    )  # fmt: skip
    if benchmark is not None:
        qs = qs.filter(benchmark=benchmark)
    if before is not None:
        qs = qs.filter(at__date__lt=before)
    return [Entry("chain", e.at, e.benchmark, chain=e) for e in qs[:limit]]


def import_entries(benchmark=None, before=None, limit: int = LIMIT) -> list[Entry]:
    qs = Result.objects.archive()
    if benchmark is not None:
        qs = qs.filter(benchmark=benchmark)
    if before is not None:
        qs = qs.filter(created_at__date__lt=before)
    groups = list(
        qs.annotate(day=TruncDate("created_at"))
        .values("day", "benchmark_id")
        .annotate(n=Count("id"), last=Max("created_at"))
        .order_by("-day", "benchmark_id")[:limit]
    )
    benchmarks = Benchmark.objects.only("name", "slug").in_bulk({g["benchmark_id"] for g in groups})
    return [Entry("import", g["last"], benchmarks[g["benchmark_id"]], count=g["n"]) for g in groups]


def edit_entries(benchmark=None, before=None, limit: int = LIMIT) -> list[Entry]:
    """Curators' changes through the v1 API (``leaderboard/pwc/``), one query."""
    qs = CatalogueEdit.objects.select_related("benchmark").order_by("-at", "-id")
    if benchmark is not None:
        qs = qs.filter(benchmark=benchmark)
    if before is not None:
        qs = qs.filter(at__date__lt=before)
    return [Entry("edit", e.at, e.benchmark, edit=e) for e in qs[:limit]]


def ledger(
    benchmark=None, before=None, limit: int = LIMIT
) -> tuple[list[Day], datetime.date | None]:
    """Days of entries, newest first, and the ``before`` of the next (older) page, if any."""
    entries = (
        verified_entries(benchmark, before, limit)
        + chain_entries(benchmark, before, limit)
        + import_entries(benchmark, before, limit)
        + edit_entries(benchmark, before, limit)
    )
    entries.sort(key=lambda e: (e.at, e.kind == "verified"), reverse=True)
    older = None
    if len(entries) > limit:
        entries = entries[:limit]
        last_day = entries[-1].day
        if entries[0].day != last_day:  # whole days only: the last one comes on the next page
            entries = [e for e in entries if e.day != last_day]
        older = entries[-1].day
    days = [Day(day, list(items)) for day, items in groupby(entries, key=lambda e: e.day)]
    return days, older


def parse_before(value: str | None) -> datetime.date | None:
    try:
        return datetime.date.fromisoformat(value) if value else None
    except ValueError:
        return None
