"""The catalogue and its published results.

Every Result row is published: an archive row (imported, "archive, not re-run") or a verified
row (created by the evaluator when a reference run supported the claim). This app imports
nothing of ``evaluator``: a verified row carries its own badge fields (reproduced value,
interval, evaluation mode, link to the run).

By concern: ``catalogue`` (tasks, datasets, metrics, benchmarks), ``papers`` (papers, methods,
models, code links), ``results``, ``ledger`` (curators' edits, the hash chain) and
``bookkeeping`` (the rows database triggers keep). Import from here: ``leaderboard.models``.
"""

from leaderboard.models.bookkeeping import (
    CatalogueVersion,
    PaperDayCount,
    RowCount,
)
from leaderboard.models.catalogue import (
    Area,
    Benchmark,
    BenchmarkMetric,
    Collection,
    Dataset,
    DirectionSource,
    Metric,
    Task,
    unique_slug,
)
from leaderboard.models.ledger import (
    CatalogueEdit,
    LedgerEntry,
)
from leaderboard.models.papers import (
    CodeLink,
    Method,
    MLModel,
    Paper,
    PaperAuthor,
    PaperSearch,
)
from leaderboard.models.results import (
    Result,
)

__all__ = [
    "Area",
    "Benchmark",
    "BenchmarkMetric",
    "CatalogueEdit",
    "CatalogueVersion",
    "CodeLink",
    "Collection",
    "Dataset",
    "DirectionSource",
    "LedgerEntry",
    "MLModel",
    "Method",
    "Metric",
    "Paper",
    "PaperAuthor",
    "PaperDayCount",
    "PaperSearch",
    "Result",
    "RowCount",
    "Task",
    "unique_slug",
]
