"""The ledger's hash chain (docs/ledger.md): its table and a first entry for every verified result
published before it (in the order they were published, dated then, the reason saying so). The
triggers that refuse UPDATE and DELETE (PostgreSQL: also TRUNCATE) on it: migration 0016."""

import django.db.models.deletion
from django.db import migrations, models

from leaderboard.results import ledger_chain


def record_published(apps, schema_editor):
    Result = apps.get_model("leaderboard", "Result")
    LedgerEntry = apps.get_model("leaderboard", "LedgerEntry")
    using = schema_editor.connection.alias
    published = (
        Result.objects.using(using)
        .filter(source="verified")
        .select_related("benchmark", "metric", "model", "paper")
        .order_by("verified_at", "id")
    )
    for result in published.iterator(chunk_size=500):
        ledger_chain.append(
            "publication",
            result,
            reason="published before the ledger began; recorded when it began",
            at=result.verified_at or result.created_at,
            entry_model=LedgerEntry,
            using=using,
        )


class Migration(migrations.Migration):
    dependencies = [
        ("leaderboard", "0014_archive_rows_directions_authors_edits"),
    ]

    operations = [
        migrations.CreateModel(
            name="LedgerEntry",
            fields=[
                ("seq", models.PositiveBigIntegerField(primary_key=True, serialize=False)),
                (
                    "kind",
                    models.CharField(
                        choices=[
                            ("publication", "publication"),
                            ("correction", "correction"),
                            ("override", "curator's override"),
                            ("withdrawal", "withdrawal"),
                        ],
                        max_length=20,
                    ),
                ),
                ("at", models.DateTimeField()),
                ("content", models.TextField(help_text="Canonical JSON, exactly as hashed")),
                ("prev_hash", models.CharField(max_length=64, unique=True)),
                ("hash", models.CharField(max_length=64, unique=True)),
                (
                    "benchmark",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="ledger_entries",
                        to="leaderboard.benchmark",
                    ),
                ),
                (
                    "result",
                    models.ForeignKey(
                        blank=True,
                        db_constraint=False,
                        null=True,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="ledger_entries",
                        to="leaderboard.result",
                    ),
                ),
            ],
            options={
                "verbose_name_plural": "ledger entries",
                "ordering": ["seq"],
            },
        ),
        migrations.RunPython(record_published, migrations.RunPython.noop),
    ]
