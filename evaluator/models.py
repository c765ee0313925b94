"""Submissions (a claim and its artefact) and their verification runs.

A Submission is created with its first Run in one transaction; the Celery task gets the Run's
primary key only, dispatched on commit. Nothing here is ever deleted by the pipeline: a rejected
claim stays with its evidence, and a curator's re-queue makes a new Run beside the old one (whose
verdict then replaces the published row, never adds one: ``publishing.publish``).
"""

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce
from django.urls import reverse
from django.utils import timezone

from leaderboard.models import Benchmark, Metric, Paper, Result


class Submission(models.Model):
    class Kind(models.TextChoices):
        EVALUATE = "evaluate", "evaluate a checkpoint"
        REPRODUCE = "reproduce", "reproduce from a training configuration"

    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="submissions"
    )
    # The claim.
    benchmark = models.ForeignKey(Benchmark, on_delete=models.PROTECT, related_name="submissions")
    metric = models.ForeignKey(Metric, on_delete=models.PROTECT, related_name="submissions")
    claimed_value = models.FloatField()
    model_name = models.CharField(max_length=300)
    transductive = models.BooleanField(
        default=True, help_text="Claimed under transductive batch norm (the official code's mode)"
    )
    uses_additional_data = models.BooleanField(default=False)
    # The paper: an existing one, or the details of a new one (created only when published).
    paper = models.ForeignKey(
        Paper, null=True, blank=True, on_delete=models.PROTECT, related_name="submissions"
    )
    paper_title = models.CharField(max_length=500, blank=True)
    paper_url = models.URLField(max_length=500, blank=True)
    paper_arxiv_id = models.CharField(max_length=50, blank=True)
    paper_authors = models.JSONField(default=list, blank=True)
    paper_date = models.DateField(null=True, blank=True)
    # The artefact.
    kind = models.CharField(max_length=20, choices=Kind.choices)
    checkpoint = models.FileField(upload_to="checkpoints/%Y/%m/", blank=True)
    checkpoint_sha256 = models.CharField(max_length=64, blank=True)
    checkpoint_public = models.BooleanField(
        default=True, help_text="Anyone may download the checkpoint from the evidence page"
    )
    config = models.JSONField(null=True, blank=True, help_text="Training configuration")
    protocol = models.CharField(max_length=50, blank=True, help_text="maml_ref protocol name")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # A user's newest submissions: the submission limit's count (evaluator/limits.py)
            # and the user's own list.
            models.Index(fields=["owner", "-created_at"], name="submission_owner_newest_idx"),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.model_name} {self.claimed_value} on {self.benchmark}"

    def get_absolute_url(self) -> str:
        return reverse("evaluator:submission", args=[self.pk])

    @property
    def current_run(self) -> "Run | None":
        return self.runs.order_by("-created_at", "-id").first()


class RunQuerySet(models.QuerySet):
    def active(self) -> "RunQuerySet":
        return self.filter(status__in=[Run.Status.QUEUED, Run.Status.RUNNING])

    def stale(self, before) -> "RunQuerySet":
        """Runs left running whose worker has not written a heartbeat since ``before``."""
        beat = models.Q(heartbeat_at__lt=before) | models.Q(
            heartbeat_at__isnull=True, started_at__lt=before
        )
        return self.filter(status=Run.Status.RUNNING).filter(beat)

    def claim(self, pk: int, token: str, host: str = "") -> bool:
        """Take a queued run for one worker: a conditional update, so only one ever wins."""
        now = timezone.now()
        return bool(
            self.filter(pk=pk, status=Run.Status.QUEUED).update(
                status=Run.Status.RUNNING,
                worker=token,
                host=host,
                started_at=now,
                heartbeat_at=now,
                finished_at=None,
                phase="claimed",
                attempts=models.F("attempts") + 1,
            )
        )

    def owned(self, pk: int, token: str) -> "RunQuerySet":
        """The run while it is still running for the worker holding ``token``."""
        return self.filter(pk=pk, status=Run.Status.RUNNING, worker=token)

    def queue_position(self, run: "Run") -> int | None:
        """1 for the next queued run of its queue (``cpu`` or ``gpu``: the kinds it serves),
        counting every user's runs queued before it (by time put on the queue, then primary key);
        None when the run is not queued."""
        from .protocols import QUEUES

        if run.status != Run.Status.QUEUED:
            return None
        queue = QUEUES.get(run.submission.kind)
        kinds = [k for k, q in QUEUES.items() if q == queue]
        at = run.queued_at or run.created_at
        ahead = (
            self.filter(status=Run.Status.QUEUED, submission__kind__in=kinds)
            .annotate(at=Coalesce("queued_at", "created_at"))
            .filter(models.Q(at__lt=at) | models.Q(at=at, pk__lt=run.pk))
        )
        return ahead.count() + 1


class Run(models.Model):
    """One verification of a submission by the reference implementation."""

    class Status(models.TextChoices):
        QUEUED = "queued"
        RUNNING = "running"
        VERIFIED = "verified"
        REJECTED = "rejected"
        FAILED = "failed"
        CANCELLED = "cancelled"
        UNVERIFIABLE = "unverifiable"

    FINAL = {
        Status.VERIFIED,
        Status.REJECTED,
        Status.FAILED,
        Status.CANCELLED,
        Status.UNVERIFIABLE,
    }

    submission = models.ForeignKey(Submission, on_delete=models.PROTECT, related_name="runs")
    status = models.CharField(
        max_length=20, choices=Status.choices, default=Status.QUEUED, db_index=True
    )
    phase = models.CharField(max_length=100, blank=True, help_text="What the worker is doing")
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(default=0)
    log_tail = models.TextField(blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    reason = models.TextField(blank=True, help_text="Why it ended as it did")
    # What ran.
    protocol = models.CharField(max_length=50, blank=True)
    maml_ref_version = models.CharField(max_length=20, blank=True)
    evaluation_mode = models.CharField(max_length=20, blank=True)
    seeds = models.JSONField(default=dict, blank=True)
    device = models.CharField(max_length=50, blank=True)
    host_class = models.CharField(max_length=200, blank=True, help_text="CPU/GPU of the worker")
    parameters = models.JSONField(
        default=dict, blank=True, help_text="The protocol's parameters as run (episodes, ...)"
    )
    episodes_fingerprint = models.CharField(max_length=64, blank=True)
    host = models.CharField(max_length=200, blank=True)
    worker = models.CharField(max_length=200, blank=True, help_text="Claim token of the worker")
    # What it found.
    reproduced_value = models.FloatField(null=True, blank=True)
    ci95 = models.FloatField(null=True, blank=True, help_text="Half-width of the 95% interval")
    episode_scores = models.JSONField(default=list, blank=True)
    # How a training (reproduce run) goes: iteration, total, meta-loss, the validation curve,
    # time per 100 iterations and left, the last saved state's iteration (worker.training_fields).
    training = models.JSONField(default=dict, blank=True)
    result = models.OneToOneField(
        Result, null=True, blank=True, on_delete=models.PROTECT, related_name="verification_run"
    )
    # A verified run whose checkpoint already had its row (one checkpoint, one row): the row
    # it is linked to instead of publishing a second one.
    same_checkpoint_as = models.ForeignKey(
        Result,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="same_checkpoint_runs",
        help_text="The published row of the same checkpoint, when this run did not publish one",
    )
    # When.
    created_at = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True, help_text="Last put on a queue")
    started_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    wall_seconds = models.FloatField(null=True, blank=True)

    objects = RunQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"run #{self.pk} of submission #{self.submission_id}: {self.status}"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL

    @property
    def progress_percent(self) -> int:
        if not self.progress_total:
            return 100 if self.is_final else 0
        return min(100, round(100 * self.progress_done / self.progress_total))

    def add_event(self, kind: str, message: str = "", actor=None) -> "RunEvent":
        return RunEvent.objects.create(run=self, kind=kind, message=message, actor=actor)


class RunEvent(models.Model):
    """The audit trail of a run: every claim, phase change, curator act and final state."""

    run = models.ForeignKey(Run, on_delete=models.CASCADE, related_name="events")
    at = models.DateTimeField(default=timezone.now)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    kind = models.CharField(max_length=40)
    message = models.TextField(blank=True)

    class Meta:
        ordering = ["at", "id"]

    def __str__(self) -> str:
        return f"{self.at:%Y-%m-%d %H:%M:%S} {self.kind}"
