"""Contested claims: archive rows of one model on one benchmark and metric, from different papers,
whose figures cannot all be right (the rule is in docs/contested.md).

A **group** is the archive rows (claims, not re-run) with a number, a paper, and the same
benchmark, metric and model name once normalised (``name_key``: NFKC, case folded, every run of
whitespace and punctuation one space), from at least two papers. Two claims of a group
**disagree** when

- both print a 95% interval (``ci95``) and the intervals do not overlap, or otherwise
- they differ by more than the table's tolerance: the largest of the benchmark and metric's
  *usual spread* (the mean ``ci95`` its archive rows print; 0 where none does), 1% of the larger
  figure, and one unit in the last digit either figure is written with.

A group is **contested** when two of its claims disagree. The verified rows (a reference run's
measurement) of the same benchmark, metric and model name belong to the group too: each says on
which side of the claims its measurement falls (``side``).

Everything is computed from one query over the rows of the benchmarks (and metrics) concerned,
each table's groups then kept in the read cache under the catalogue version (``groups_for``):
``mark(results)`` for a page of ``Result`` instances, ``row_memberships(rows)`` for the read
API's plain rows, ``group_of(benchmark, metric, key)`` for a group's page. The list of every
contested group (``all_contested``, the ``/contested/`` page) scans the archive once per
catalogue version (``cache.versioned``).
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date

from django.db.models import Q
from django.urls import reverse

from leaderboard.models import Benchmark, Result

#: Relative part of the tolerance: figures within 1% of each other never disagree.
RELATIVE = 0.01
_SEPARATORS = re.compile(r"[\W_]+", re.UNICODE)
_NUMBER = re.compile(r"[-+]?\d+(?:[.,](\d+))?")

ROW_FIELDS = (
    "id",
    "benchmark_id",
    "benchmark__slug",
    "metric_id",
    "metric__slug",
    "model__name",
    "paper_id",
    "paper__slug",
    "paper__title",
    "paper__date",
    "date",
    "value",
    "ci95",
    "raw_value",
    "source",
    "verification_url",
    "metric__name",
)


def name_key(name: str) -> str:
    """A model's name as groups compare it: NFKC, case folded, punctuation and whitespace
    collapsed to one space (``"MAML (ours)"`` and ``"maml ours"`` are one key)."""
    text = unicodedata.normalize("NFKC", name or "").casefold()
    return _SEPARATORS.sub(" ", text).strip()


def key_slug(key: str) -> str:
    """The key in a URL: its spaces as hyphens (a key holds no hyphen, so this reverses)."""
    return key.replace(" ", "-")


def slug_key(slug: str) -> str:
    return name_key(slug.replace("-", " "))


def _unit(raw: str, value: float) -> float:
    """One unit in the last digit the figure is written with (``98.7``: 0.1)."""
    m = _NUMBER.search(raw or "") or _NUMBER.search(f"{value:.10g}")
    if m is None or "e" in f"{value:.10g}".lower():
        return 0.0
    decimals = m.group(1)
    return 10.0 ** -len(decimals) if decimals else 1.0


@dataclass
class Claim:
    id: int
    model: str
    paper_slug: str | None
    paper_title: str | None
    day: date | None
    value: float
    ci95: float | None
    raw_value: str
    verified: bool
    evidence_url: str | None
    agrees: bool = True  # a verified row: whether it agrees with every claim
    side: str = ""  # a verified row in a contested group: above, higher, middle, lower, below

    @property
    def figure(self) -> str:
        return self.raw_value or f"{self.value:g}"

    @property
    def interval(self) -> tuple[float, float] | None:
        if self.ci95 is None or self.ci95 <= 0:
            return None
        return (self.value - self.ci95, self.value + self.ci95)


@dataclass
class Group:
    benchmark_id: int
    benchmark_slug: str
    metric_id: int
    metric_slug: str
    key: str
    spread: float
    claims: list[Claim] = field(default_factory=list)
    verified: list[Claim] = field(default_factory=list)
    contested: bool = False
    benchmark_name: str = ""
    metric_name: str = ""
    task_ids: tuple = ()

    @property
    def model(self) -> str:
        return self.claims[0].model if self.claims else self.key

    @property
    def low(self) -> float:
        return min(c.value for c in self.claims)

    @property
    def high(self) -> float:
        return max(c.value for c in self.claims)

    @property
    def newest(self) -> date | None:
        days = [c.day for c in self.claims if c.day is not None]
        return max(days) if days else None

    @property
    def papers(self) -> int:
        return len({c.paper_slug for c in self.claims})

    def get_absolute_url(self) -> str:
        return reverse(
            "leaderboard:contested-group",
            args=[self.benchmark_slug, self.metric_slug, key_slug(self.key)],
        )

    def tolerance(self, a: Claim, b: Claim) -> float:
        return max(
            self.spread,
            RELATIVE * max(abs(a.value), abs(b.value)),
            _unit(a.raw_value, a.value),
            _unit(b.raw_value, b.value),
        )

    def disagree(self, a: Claim, b: Claim) -> bool:
        """The rule of the module's docstring, for two figures."""
        ia, ib = a.interval, b.interval
        if ia is not None and ib is not None:
            return ia[1] < ib[0] or ib[1] < ia[0]
        return abs(a.value - b.value) > self.tolerance(a, b)

    def decide(self) -> None:
        """Set ``contested``, and each verified row's ``agrees`` and ``side``."""
        claims = self.claims
        self.contested = any(
            self.disagree(a, b)
            for i, a in enumerate(claims)
            for b in claims[i + 1 :]
            if a.paper_slug != b.paper_slug
        )
        low, high = self.low, self.high
        lowest = min(claims, key=lambda c: c.value)
        highest = max(claims, key=lambda c: c.value)
        for v in self.verified:
            v.agrees = not any(self.disagree(v, c) for c in claims)
            if not self.contested:
                v.side = ""
            elif v.value > high and self.disagree(v, highest):
                v.side = "above"
            elif v.value < low and self.disagree(v, lowest):
                v.side = "below"
            else:
                middle = (low + high) / 2
                v.side = "higher" if v.value > middle else "lower" if v.value < middle else "middle"

    def agreeing(self, v: Claim) -> list[Claim]:
        """The claims a verified measurement ``v`` agrees with."""
        return [c for c in self.claims if not self.disagree(v, c)]

    def side_text(self, v: Claim) -> str:
        """What a reader reads beside a verified row of a contested group."""
        near = ", ".join(c.figure for c in self.agreeing(v))
        where = {
            "above": "above every claim",
            "below": "below every claim",
            "higher": "on the side of the higher claims",
            "lower": "on the side of the lower claims",
            "middle": "between the claims",
        }.get(v.side, "")
        return f"{where}; agrees with {near}" if near else f"{where}; agrees with none"


def _claim(row) -> Claim:
    (pk, _, _, _, _, model, _, paper_slug, title, paper_day, own_day, value, ci95, raw, source,
     url, _) = row  # fmt: skip
    verified = source == Result.Source.VERIFIED
    return Claim(
        id=pk,
        model=model,
        paper_slug=paper_slug,
        paper_title=title,
        day=own_day or paper_day,
        value=value,
        ci95=ci95,
        raw_value="" if verified else (raw or ""),
        verified=verified,
        evidence_url=(url or None) if verified else None,
    )


def build(rows) -> dict[tuple, Group]:
    """The groups (contested or not) of ``ROW_FIELDS`` tuples, by (benchmark, metric, key)."""
    spreads: dict[tuple, list[float]] = defaultdict(list)
    keyed: dict[tuple, list] = defaultdict(list)
    for row in rows:
        value, ci95, source, paper_id = row[11], row[12], row[14], row[6]  # ROW_FIELDS
        if value is None or not math.isfinite(value):
            continue
        key = name_key(row[5])
        if not key:
            continue
        verified = source == Result.Source.VERIFIED
        if not verified:
            if paper_id is None:
                continue
            if ci95 is not None and ci95 > 0 and math.isfinite(ci95):
                spreads[(row[1], row[3])].append(ci95)
        keyed[(row[1], row[3], key)].append(row)
    groups = {}
    for (b, m, key), members in keyed.items():
        if len({r[6] for r in members if r[14] != Result.Source.VERIFIED}) < 2:
            continue  # fewer than two papers: no group
        claims = [_claim(r) for r in members if r[14] != Result.Source.VERIFIED]
        known = spreads.get((b, m), [])
        first = members[0]
        group = Group(
            metric_name=first[16],
            benchmark_id=b,
            benchmark_slug=first[2],
            metric_id=m,
            metric_slug=first[4],
            key=key,
            spread=sum(known) / len(known) if known else 0.0,
            claims=sorted(claims, key=lambda c: (-c.value, c.id)),
            verified=[_claim(r) for r in members if r[14] == Result.Source.VERIFIED],
        )
        group.decide()
        groups[(b, m, key)] = group
    return groups


def _rows(q: Q):
    return (
        Result.objects.filter(q, value__isnull=False)
        .filter(Q(source=Result.Source.VERIFIED) | Q(paper__isnull=False))
        .order_by("id")
        .values_list(*ROW_FIELDS)
    )


def groups_for(pairs) -> dict[tuple, Group]:
    """The groups of the (benchmark id, metric name) ``pairs``, by (benchmark id, metric name,
    key): each pair's groups are kept in the read cache under the catalogue version, so a
    table's rows are grouped once per version; the pairs not kept yet cost one query in all."""
    pairs = sorted(set(pairs), key=lambda p: (p[0], p[1]))
    if not pairs:
        return {}
    from leaderboard.core.cache import versioned_many

    names = {f"contested:{b}:{m}": (b, m) for b, m in pairs}

    def compute(missing: list[str]) -> dict:
        wanted = {names[n] for n in missing}
        q = Q(benchmark_id__in={b for b, _ in wanted}, metric__name__in={m for _, m in wanted})
        found: dict[tuple, dict] = {pair: {} for pair in wanted}
        for (b, _, key), group in build(_rows(q)).items():
            if (b, group.metric_name) in found:
                found[(b, group.metric_name)][key] = group
        return {n: found[names[n]] for n in missing}

    out = {}
    for name, groups in versioned_many(list(names), compute).items():
        b, m = names[name]
        out.update({(b, m, key): group for key, group in groups.items()})
    return out


@dataclass(frozen=True)
class Membership:
    """What a row shows of its group: ``contested`` (an archive row whose group is contested),
    ``url`` (the group's page, for any row of a contested group), ``side`` (a verified row's)."""

    contested: bool = False
    url: str | None = None
    side: str | None = None
    text: str = ""
    group: Group | None = None


NONE = Membership()


def membership(group: Group | None, pk: int, verified: bool) -> Membership:
    if group is None or not group.contested:
        return NONE
    if verified:
        v = next((c for c in group.verified if c.id == pk), None)
        if v is None:
            return NONE
        return Membership(False, group.get_absolute_url(), v.side, group.side_text(v), group)
    if not any(c.id == pk for c in group.claims):
        return NONE
    others = ", ".join(
        f"{c.figure} ({c.paper_title or c.paper_slug})" for c in group.claims if c.id != pk
    )
    return Membership(True, group.get_absolute_url(), None, f"other papers: {others}", group)


def mark(results) -> None:
    """Set ``contested`` (a ``Membership``) on each ``Result`` of ``results`` (``groups_for``:
    at most one query)."""
    results = list(results)
    groups = groups_for((r.benchmark_id, r.metric.name) for r in results)
    for r in results:
        key = (r.benchmark_id, r.metric.name, name_key(r.model.name))
        r.contested = membership(groups.get(key), r.pk, r.source == Result.Source.VERIFIED)


def row_memberships(rows) -> dict[int, Membership]:
    """Memberships of the read API's plain rows (``result_rows.VALUE_FIELDS`` tuples), by id
    (``groups_for``: at most one query)."""
    rows = list(rows)
    groups = groups_for((r[1], r[2]) for r in rows)
    out = {}
    for r in rows:
        key = (r[1], r[2], name_key(r[8]))
        out[r[0]] = membership(groups.get(key), r[0], r[14] == Result.Source.VERIFIED)
    return out


def group_of(benchmark: Benchmark, metric, key: str) -> Group | None:
    groups = groups_for([(benchmark.pk, metric.name)])
    return groups.get((benchmark.pk, metric.name, key))


def _all_contested() -> list[Group]:
    groups = [g for g in build(_rows(Q(source=Result.Source.ARCHIVE)).iterator()).values()
              if g.contested]  # fmt: skip
    ids = {g.benchmark_id for g in groups}
    names = dict(Benchmark.objects.filter(pk__in=ids).values_list("pk", "name"))
    tasks = defaultdict(list)
    for b, t in Benchmark.tasks.through.objects.filter(benchmark_id__in=ids).values_list(
        "benchmark_id", "task_id"
    ):
        tasks[b].append(t)
    from leaderboard.models import Metric

    metrics = dict(
        Metric.objects.filter(pk__in={g.metric_id for g in groups}).values_list("pk", "name")
    )
    for g in groups:
        g.benchmark_name = names.get(g.benchmark_id, "")
        g.metric_name = metrics.get(g.metric_id, "")
        g.task_ids = tuple(tasks.get(g.benchmark_id, ()))
        g.verified = []  # the list shows the claims; a group's page shows its verified rows
    groups.sort(key=lambda g: (g.newest or date.min, g.benchmark_id, g.metric_id, g.key))
    groups.reverse()
    return groups


def all_contested() -> list[Group]:
    """Every contested group, newest claim first: computed once per catalogue version."""
    from leaderboard.core.cache import versioned

    return versioned("contested:all", _all_contested)
