"""Rows the database keeps by trigger (migration ``0003_database_triggers``): the catalogue
version, the row counts and the papers' day counts."""

from django.db import models


class CatalogueVersion(models.Model):
    """One row that changes, in the same transaction, with every write to a catalogue table.

    Database triggers (PostgreSQL and SQLite, migration ``0003_database_triggers``) bump ``counter``
    and draw a new random ``stamp`` on every insert, update and delete of every other table of
    this app (the many-to-many ones included), so no write path can skip it: ``save()``,
    ``QuerySet.update()``, ``bulk_create()``, raw SQL alike. The read API keys its response
    cache on the pair (see ``leaderboard/core/cache.py``); the random stamp keeps a rolled-back
    transaction's counter values from ever naming other data.
    """

    counter = models.BigIntegerField(default=0)
    stamp = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"catalogue version {self.counter}"

    @classmethod
    def lock(cls) -> None:
        """Serialize catalogue writers until the current transaction ends.

        A writer that looks before it creates (is this paper already there?) takes this lock
        first, so that two such writers never both decide to create. Every catalogue write takes
        the row's lock through the triggers anyway; this takes it before the looking. On SQLite,
        transactions already begin IMMEDIATE (one writer at a time) and this is a no-op.
        """
        list(cls.objects.select_for_update().filter(pk=1).values_list("pk", flat=True))


class RowCount(models.Model):
    """Maintained row counts of the catalogue's tables (``leaderboard/db/counters.py``): a table's
    count is the sum of ``n`` over its rows (``name``: the table's name; ``<table>:verified``:
    the verified results). PostgreSQL only: database triggers add a row per write statement (the
    change; no shared row is updated, so a long import stays linear), and the writers fold the
    rows back into one per name now and then (reads only read). SQLite keeps no rows here: its
    counts are plain COUNTs, kept under the catalogue version."""

    name = models.CharField(max_length=100)
    n = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.n:+d}"


class PaperDayCount(models.Model):
    """The number of papers of each day (``date``; null: undated), kept by database triggers on
    PostgreSQL as change rows (``leaderboard/db/paper_days.py``): deep pages of the papers list
    start from the right day instead of walking every row before them."""

    day = models.DateField(null=True)
    n = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day}: {self.n:+d}"
