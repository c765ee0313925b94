"""Search: the stored paper search vector, pg_trgm and the GIN indexes (PostgreSQL only).

The trigger that writes the vector and SQLite's FTS5 table are (re)installed after every
migrate by ``leaderboard/db/search_sql.py``; this migration creates the table, the extension and
the indexes, each guarded by the database vendor so that SQLite migrates as before."""

import django.contrib.postgres.search
import django.db.models.deletion
from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations, models

# (index name, table, column): names matched by trigram similarity or a substring.
TRIGRAM_INDEXES = [
    ("task_name_trgm_idx", "leaderboard_task", "name"),
    ("dataset_name_trgm_idx", "leaderboard_dataset", "name"),
    ("benchmark_name_trgm_idx", "leaderboard_benchmark", "name"),
    ("model_name_trgm_idx", "leaderboard_model", "name"),
    ("method_name_trgm_idx", "leaderboard_method", "name"),
    ("method_full_name_trgm_idx", "leaderboard_method", "full_name"),
]


def create_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS papersearch_vector_gin_idx "
        "ON leaderboard_papersearch USING gin (vector)"
    )
    for name, table, column in TRIGRAM_INDEXES:
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {name} ON {table} USING gin ({column} gin_trgm_ops)"
        )


def drop_indexes(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for name, _, _ in TRIGRAM_INDEXES:
        schema_editor.execute(f"DROP INDEX IF EXISTS {name}")


class Migration(migrations.Migration):
    dependencies = [
        ("leaderboard", "0005_catalogue_methods_datasets_directions"),
    ]

    operations = [
        TrigramExtension(),  # CREATE EXTENSION IF NOT EXISTS pg_trgm; nothing on SQLite
        migrations.CreateModel(
            name="PaperSearch",
            fields=[
                (
                    "paper",
                    models.OneToOneField(
                        on_delete=django.db.models.deletion.CASCADE,
                        primary_key=True,
                        related_name="search",
                        serialize=False,
                        to="leaderboard.paper",
                    ),
                ),
                ("vector", django.contrib.postgres.search.SearchVectorField(null=True)),
            ],
        ),
        migrations.RunPython(create_indexes, drop_indexes),
        migrations.AddIndex(
            model_name="paper",
            index=models.Index(
                models.OrderBy(models.F("date"), descending=True),
                models.F("title"),
                models.F("id"),
                name="paper_list_idx",
            ),
        ),
    ]
