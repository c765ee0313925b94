"""The public record: curators' API writes (``CatalogueEdit``) and the ledger's append-only hash
chain (``LedgerEntry``)."""

from django.conf import settings
from django.db import models

from leaderboard.models.catalogue import Benchmark
from leaderboard.models.results import Result


class CatalogueEdit(models.Model):
    """A change a curator made through the v1 API's write calls, as the public ledger shows it
    (``/log``): who, when, what (the kind, the action, the object's name) and on which table."""

    class Action(models.TextChoices):
        ADD = "add", "added"
        UPDATE = "update", "updated"
        DELETE = "delete", "deleted"
        SYNC = "sync", "synchronised"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    username = models.CharField(max_length=150, blank=True, help_text="As it was at the time")
    action = models.CharField(max_length=10, choices=Action.choices)
    kind = models.CharField(max_length=20, help_text="task, dataset, evaluation, metric, result")
    label = models.CharField(max_length=500, help_text="The object's name at the time")
    benchmark = models.ForeignKey(
        Benchmark, null=True, blank=True, on_delete=models.SET_NULL, related_name="edits"
    )
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.label} {self.get_action_display()}"


class LedgerEntry(models.Model):
    """One entry of the public ledger's hash chain (``leaderboard/results/ledger_chain.py``, and
    docs/ledger.md): a publication, correction, override or withdrawal of a result, appended in
    the transaction of the change it records, never updated or deleted (database triggers
    refuse both).

    ``content`` is the canonical JSON text that was hashed, stored as it was hashed; ``hash`` is
    SHA-256 over the previous entry's hash and that text (``leaderboard/results/ledger_hash.py``).
    The
    result and benchmark columns only index the entries: a withdrawn result is deleted while
    its entries stay, so they hold no database constraint and nothing is done on delete.
    """

    class Kind(models.TextChoices):
        PUBLICATION = "publication", "publication"
        CORRECTION = "correction", "correction"
        OVERRIDE = "override", "curator's override"
        WITHDRAWAL = "withdrawal", "withdrawal"

    seq = models.PositiveBigIntegerField(primary_key=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    at = models.DateTimeField()
    result = models.ForeignKey(
        Result,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="ledger_entries",
    )
    benchmark = models.ForeignKey(
        Benchmark,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="ledger_entries",
    )
    content = models.TextField(help_text="Canonical JSON, exactly as hashed")
    # Unique: two entries naming the same previous one would be a fork of the chain.
    prev_hash = models.CharField(max_length=64, unique=True)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        verbose_name_plural = "ledger entries"

    def __str__(self) -> str:
        return f"ledger entry {self.seq}: {self.kind} of result {self.result_id}"
