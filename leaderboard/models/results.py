"""The published results: one row per archive row or verified checkpoint."""

from django.db import models
from django.db.models import Q

from leaderboard.models.catalogue import Benchmark, Metric
from leaderboard.models.papers import MLModel, Paper
from leaderboard.querysets import ResultQuerySet


class Result(models.Model):
    """One published row: an archive row or a verified one.

    The number of every row is ``value`` ± ``ci95``, and ranking, tables, the chart, the ledger,
    the export and both APIs read only these. For an **archive** row they are the figure the
    archive printed (``raw_value`` as written; not re-run). For a **verified** row they are what
    the site measured: the reference run's mean over the fixed test episodes and the half-width
    of its 95% interval; the submitter's claim is ``claimed_value``, shown beside it, never
    ranked. A verified row is written only by the evaluator (``evaluator.publishing.publish``),
    one per checkpoint (SHA-256), benchmark and evaluation mode.
    """

    class Source(models.TextChoices):
        ARCHIVE = "archive", "archive, not re-run"
        VERIFIED = "verified", "verified by a reference run"

    class VerificationLevel(models.TextChoices):
        NONE = "", "archive, not re-run"
        EVALUATED = "evaluated", "evaluated: the checkpoint re-scored"
        REPRODUCED = "reproduced", "reproduced: re-trained from the configuration"

    class EvaluationMode(models.TextChoices):
        UNKNOWN = "", "not recorded"
        TRANSDUCTIVE = "transductive", "transductive batch norm"
        NON_TRANSDUCTIVE = "non-transductive", "non-transductive"

    #: What only a reference run writes: read-only in the admin, never set by hand.
    VERIFICATION_FIELDS = (
        "source",
        "claimed_value",
        "checkpoint_sha256",
        "evaluation_mode",
        "verification_url",
        "verified_at",
        "verification_level",
        "verification_note",
        "episodes_fingerprint",
    )

    benchmark = models.ForeignKey(Benchmark, on_delete=models.PROTECT, related_name="results")
    metric = models.ForeignKey(Metric, on_delete=models.PROTECT, related_name="results")
    value = models.FloatField(
        null=True,
        blank=True,
        help_text="The row's number: the reproduced mean of a verified row, the archive's "
        "figure otherwise (empty: raw_value is not a number)",
    )
    raw_value = models.CharField(
        max_length=100, blank=True, help_text="As the archive wrote it (empty for a verified row)"
    )
    ci95 = models.FloatField(
        null=True,
        blank=True,
        help_text="Half-width of the 95% interval of value: the reference run's for a verified "
        "row, the archive's own (0.84 ± 0.01) for an archive row",
    )
    claimed_value = models.FloatField(
        null=True, blank=True, help_text="A verified row's claim, as submitted (never ranked)"
    )
    # The row's own date (an archive row's ``paper_date``, the v1 API's ``evaluated_on``), which
    # may differ from its paper's; empty: the paper's date, if any.
    date = models.DateField(null=True, blank=True)
    # Identity of an archive row: a digest of every field of the row it came from, so that two
    # rows of one table that differ in any field stay two results (see leaderboard/archive/).
    archive_key = models.CharField(max_length=40, blank=True, db_index=True)
    # What else the archive row held, exported back unchanged: {"code_links": [...],
    # "model_links": [...]} as {"title", "url"} lists.
    archive_row = models.JSONField(default=dict, blank=True)
    model = models.ForeignKey(MLModel, on_delete=models.PROTECT, related_name="results")
    paper = models.ForeignKey(
        Paper, null=True, blank=True, on_delete=models.PROTECT, related_name="results"
    )
    uses_additional_data = models.BooleanField(default=False)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.ARCHIVE)
    evaluation_mode = models.CharField(
        max_length=20, choices=EvaluationMode.choices, blank=True, default=""
    )
    # Badge of a verified row, written by the evaluator when it publishes.
    checkpoint_sha256 = models.CharField(
        max_length=64, blank=True, help_text="The evaluated checkpoint of a verified row"
    )
    verification_url = models.CharField(max_length=500, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_note = models.CharField(
        max_length=500,
        blank=True,
        help_text="How the verdict was reached when not by the decision rule alone "
        "(a curator's override, with the reason); shown on the ledger",
    )
    # The verification summary the evaluator writes when it publishes (this app never reads the
    # evaluator's tables): the level, the per-episode scores on the fixed episodes (what paired
    # comparisons use) and the fingerprint of those episodes (equal means the same episodes).
    verification_level = models.CharField(
        max_length=20, choices=VerificationLevel.choices, blank=True, default="", db_index=True
    )
    episode_scores = models.JSONField(default=list, blank=True)
    episodes_fingerprint = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ResultQuerySet.as_manager()

    class Meta:
        ordering = ["benchmark", "metric", "-value", "id"]
        indexes = [
            models.Index(fields=["benchmark", "metric", "value"]),
            models.Index(fields=["source", "-verified_at"], name="result_source_verified_idx"),
            # The home page's notable benchmarks: results and verified results per benchmark
            # by an index-only scan, not a scan of the table.
            models.Index(fields=["benchmark", "source"], name="result_benchmark_source_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["benchmark", "metric", "archive_key"],
                condition=Q(source="archive") & ~Q(archive_key=""),
                name="unique_archive_row_metric",
            ),
            # One checkpoint, one row: two runs of the same file (concurrent ones included)
            # never both publish on one benchmark and evaluation mode.
            models.UniqueConstraint(
                fields=["benchmark", "evaluation_mode", "checkpoint_sha256"],
                condition=Q(source="verified") & ~Q(checkpoint_sha256=""),
                name="unique_verified_checkpoint",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model} on {self.benchmark}: {self.metric} {self.value}"

    @property
    def is_verified(self) -> bool:
        return self.source == self.Source.VERIFIED

    @property
    def row_date(self):
        """The row's own date, else its paper's; None when neither is known (such a row is
        listed, never charted on some other day)."""
        if self.date is not None:
            return self.date
        return self.paper.date if self.paper_id is not None else None

    @property
    def level_name(self) -> str:
        """``archive``, ``evaluated`` or ``reproduced`` (the API's ``verification_level``)."""
        return self.verification_level or "archive" if self.is_verified else "archive"

    @property
    def evidence_url(self) -> str | None:
        """The public evidence page of a verified row (written by the evaluator)."""
        return (self.verification_url or None) if self.is_verified else None

    @property
    def is_reproduced(self) -> bool:
        return self.verification_level == self.VerificationLevel.REPRODUCED

    @property
    def reproduced_value(self) -> float | None:
        """Compatibility name: ``value`` of a verified row, None for an archive row."""
        return self.value if self.is_verified else None

    @property
    def reproduced_ci95(self) -> float | None:
        """Compatibility name: ``ci95`` of a verified row, None for an archive row."""
        return self.ci95 if self.is_verified else None
