"""The ledger's hash chain: appending an entry, serving it, checking it (docs/ledger.md).

Every publication, correction, curator's override and withdrawal of a result appends one
``LedgerEntry`` in the transaction of the change it records (``append``): its content is the
result's figures as they are after the change (as they were, for a withdrawal), its evidence
SHA-256s, the reason and the time, and its hash chains it to the entry before
(``leaderboard/results/ledger_hash.py``, the one definition of the recipe). Appends are serialised
(the
catalogue's row lock, then an advisory lock on PostgreSQL; SQLite's transactions already take
the write lock when they begin), and the unique ``prev_hash`` makes a fork impossible even so.
The table refuses UPDATE, DELETE (and, on PostgreSQL, TRUNCATE) by database triggers
(migration 0003; lifted only to empty a whole database: ``guard_lifted``), so a history can
only grow.

``verify`` recomputes the chain, then checks every result the ledger knows against its latest
entry (a figure changed behind the site's back is named with that entry), and that no verified
result was published without one.
"""

from __future__ import annotations

import contextlib
import datetime
import json
from dataclasses import dataclass, field
from typing import Any

from django.db import connections
from django.utils import timezone

from leaderboard.results.ledger_hash import GENESIS, ChainReport, canonical, check_chain, entry_hash

#: pg_advisory_xact_lock key of the ledger's appends ("LEDGER" in ASCII).
LOCK_KEY = 0x4C4544474552

#: What ``verify`` compares between a result and its latest entry: the row's number and what it
#: is a number of (by id: renaming a benchmark, metric or model changes no result), and its
#: provenance. The names an entry also records (benchmark, metric, model, paper) are for readers:
#: a paper merged into another (``leaderboard/merging.py``) is no change of the result.
FIGURES = (
    "source",
    "benchmark_id",
    "metric_id",
    "model_id",
    "value",
    "ci95",
    "claimed_value",
    "raw_value",
    "evaluation_mode",
    "verification_level",
    "verification_note",
    "checkpoint_sha256",
    "episodes_fingerprint",
    "evidence",
)


def figures(result) -> dict[str, Any]:
    """What the site shows of ``result`` (a Result, or the historical model in a migration)."""
    return {
        "source": result.source,
        "benchmark_id": result.benchmark_id,
        "metric_id": result.metric_id,
        "model_id": result.model_id,
        "benchmark": result.benchmark.slug,
        "metric": result.metric.name,
        "model": result.model.name,
        "paper": result.paper.slug if result.paper_id else None,
        "value": result.value,
        "ci95": result.ci95,
        "claimed_value": result.claimed_value,
        "raw_value": result.raw_value,
        "evaluation_mode": result.evaluation_mode,
        "verification_level": result.verification_level,
        "verification_note": result.verification_note,
        "checkpoint_sha256": result.checkpoint_sha256,
        "episodes_fingerprint": result.episodes_fingerprint,
        "evidence": result.verification_url,
    }


def _iso(at: datetime.datetime) -> str:
    return at.astimezone(datetime.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


def append(
    kind: str,
    result,
    *,
    reason: str = "",
    actor: str = "",
    run: dict[str, Any] | None = None,
    at: datetime.datetime | None = None,
    using: str = "default",
):
    """Append the entry recording ``kind`` of ``result``, inside the caller's transaction.

    ``run``: the run behind it and its other evidence (``{"id": 7, "config_sha256": …}``).
    """
    from leaderboard.models import CatalogueVersion, LedgerEntry

    model = LedgerEntry
    connection = connections[using]
    if not connection.in_atomic_block:
        raise RuntimeError("a ledger entry is appended in the transaction of the change it records")
    if kind not in LedgerEntry.Kind.values:
        raise ValueError(f"unknown ledger entry kind {kind!r}")
    # Same order as every catalogue writer (the version row first), then the ledger's own.
    CatalogueVersion.lock()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [LOCK_KEY])
    last = model.objects.using(using).order_by("-seq").values_list("seq", "hash").first()
    seq, prev = (last[0] + 1, last[1]) if last else (1, GENESIS)
    at = at or timezone.now()
    content = {
        "seq": seq,
        "kind": kind,
        "at": _iso(at),
        "result": result.pk,
        **figures(result),
        "run": run or None,
        "reason": reason[:1000],
        "actor": actor,
    }
    text = canonical(content)
    return model.objects.using(using).create(
        seq=seq,
        kind=kind,
        at=at,
        result_id=result.pk,
        benchmark_id=result.benchmark_id,
        content=text,
        prev_hash=prev,
        hash=entry_hash(prev, text),
    )


def known(results):
    """The rows of the queryset ``results`` the ledger has an entry of."""
    from leaderboard.models import LedgerEntry

    return results.filter(
        pk__in=LedgerEntry.objects.filter(result__isnull=False).values("result_id")
    ).select_related("benchmark", "metric", "model", "paper")


def withdraw_known(results, reason: str, actor: str = "") -> int:
    """Before rows are deleted in bulk (a table or a metric removed, a stale synchronised row,
    a merged duplicate): a withdrawal for each row the ledger knows. Rows it never knew (archive
    rows, imported in bulk) have nothing to withdraw."""
    from leaderboard.models import LedgerEntry

    rows = list(known(results))
    for row in rows:
        append(LedgerEntry.Kind.WITHDRAWAL, row, reason=reason, actor=actor)
    return len(rows)


def correct_known(results, reason: str, actor: str = "") -> int:
    """After rows were rewritten in bulk: a correction for each row the ledger knows whose
    figures now differ from its latest entry's (an unchanged row gets none)."""
    from leaderboard.models import LedgerEntry

    rows = {row.pk: row for row in known(results)}
    latest = {}
    for result_id, text in (
        LedgerEntry.objects.filter(result_id__in=list(rows))
        .order_by("seq")
        .values_list("result_id", "content")
    ):
        latest[result_id] = text
    n = 0
    for pk, row in rows.items():
        try:
            recorded = json.loads(latest[pk])
        except (KeyError, ValueError):
            recorded = {}
        if _differences(recorded, figures(row)):
            append(LedgerEntry.Kind.CORRECTION, row, reason=reason, actor=actor)
            n += 1
    return n


def line(entry) -> dict[str, Any]:
    """An entry as the JSON lines serve it (``/log.jsonl``) and the checks read it. Content
    that is not JSON (tampered with) is served as a string: the check names the entry."""
    try:
        content = json.loads(entry.content)
    except ValueError:
        content = entry.content
    return {"seq": entry.seq, "prev_hash": entry.prev_hash, "hash": entry.hash, "content": content}


def jsonl(entry) -> str:
    return json.dumps(line(entry), ensure_ascii=False, separators=(",", ":")) + "\n"


def check_stored_chain(using: str = "default") -> ChainReport:
    """The chain check over the database's entries, exactly as over the served JSON lines."""
    from leaderboard.models import LedgerEntry

    entries = LedgerEntry.objects.using(using).order_by("seq").iterator(chunk_size=2000)
    return check_chain(line(e) for e in entries)


@dataclass
class Mismatch:
    seq: int | None  # the entry the site's figures no longer match (None: no entry at all)
    result: int
    text: str


@dataclass
class Verification:
    chain: ChainReport
    mismatches: list[Mismatch] = field(default_factory=list)
    results_checked: int = 0

    @property
    def ok(self) -> bool:
        return self.chain.ok and not self.mismatches

    def first(self) -> Mismatch | None:
        """The first entry that does not match (lowest seq; a result without entry last)."""
        key = lambda m: (m.seq is None, m.seq or 0, m.result)  # noqa: E731
        return min(self.mismatches, key=key) if self.mismatches else None


def _differences(recorded: dict[str, Any], now: dict[str, Any]) -> list[str]:
    return [
        f"{name} is {now.get(name)!r} on the site, {recorded.get(name)!r} in the ledger"
        for name in FIGURES
        if recorded.get(name) != now.get(name)
    ]


def verify(using: str = "default") -> Verification:
    """Recompute the chain, then compare every result with its latest entry."""
    from leaderboard.models import LedgerEntry, Result

    report = Verification(check_stored_chain(using))
    latest: dict[int, tuple[int, str, dict]] = {}
    for seq, kind, result_id, text in (
        LedgerEntry.objects.using(using)
        .order_by("seq")
        .values_list("seq", "kind", "result_id", "content")
        .iterator(chunk_size=2000)
    ):
        if result_id is None:
            continue
        try:
            content = json.loads(text)
        except ValueError:
            content = {}
        latest[result_id] = (seq, kind, content if isinstance(content, dict) else {})
    results = Result.objects.using(using).select_related("benchmark", "metric", "model", "paper")
    for result in results.filter(pk__in=list(latest)).iterator(chunk_size=2000):
        seq, kind, recorded = latest.pop(result.pk)
        report.results_checked += 1
        if kind == LedgerEntry.Kind.WITHDRAWAL:
            report.mismatches.append(
                Mismatch(seq, result.pk, f"result {result.pk} was withdrawn but is on the site")
            )
            continue
        diff = _differences(recorded, figures(result))
        if diff:
            report.mismatches.append(Mismatch(seq, result.pk, "; ".join(diff)))
    for result_id, (seq, kind, _) in latest.items():  # gone from the site
        report.results_checked += 1
        if kind != LedgerEntry.Kind.WITHDRAWAL:
            report.mismatches.append(
                Mismatch(seq, result_id, f"result {result_id} is gone from the site, not withdrawn")
            )
    unrecorded = (
        Result.objects.using(using)
        .verified()
        .exclude(
            pk__in=LedgerEntry.objects.using(using).filter(result__isnull=False).values("result")
        )
        .values_list("pk", flat=True)
    )
    for pk in unrecorded.iterator():
        report.mismatches.append(
            Mismatch(None, pk, f"verified result {pk} is published without a ledger entry")
        )
    return report


def describe_mismatch(m: Mismatch) -> str:
    if m.seq is None:
        return f"result {m.result} has no ledger entry: {m.text}"
    return f"entry {m.seq} (result {m.result}) does not match the site: {m.text}"


# --- The database's guard: no UPDATE, no DELETE ---------------------------------------------

TABLE = "leaderboard_ledgerentry"


def _guard_triggers(connection) -> list[tuple[str, str]]:
    """The ledger's guard triggers as installed (migration 0003): (name, CREATE statement)."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "SELECT tgname, pg_get_triggerdef(oid) FROM pg_trigger"
                " WHERE tgrelid = to_regclass(%s) AND tgname LIKE 'leaderboard\\_ledger\\_no\\_%%'",
                [TABLE],
            )
        elif connection.vendor == "sqlite":
            cursor.execute(
                "SELECT name, sql FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s"
                " AND name GLOB 'leaderboard_ledger_no_*'",
                [TABLE],
            )
        else:
            return []
        return cursor.fetchall()


@contextlib.contextmanager
def guard_lifted(using: str = "default"):
    """Within the block the ledger's guard is off: only for emptying a whole database
    (``manage.py flush``, a test's teardown) and for tests that play the database's owner.
    Its triggers are dropped and put back exactly as they were; run it inside a transaction,
    so that no other writer ever sees the table unguarded."""
    connection = connections[using]
    triggers = _guard_triggers(connection)
    with connection.cursor() as cursor:
        for name, _ in triggers:
            on = f" ON {TABLE}" if connection.vendor == "postgresql" else ""
            cursor.execute(f"DROP TRIGGER {connection.ops.quote_name(name)}{on}")
    try:
        yield
    finally:
        with connection.cursor() as cursor:
            for _, statement in triggers:
                cursor.execute(statement)
