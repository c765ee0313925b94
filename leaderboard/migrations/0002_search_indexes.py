"""What the models cannot say, squashed from the first history (issue 23): pg_trgm and the search
indexes (PostgreSQL only; SQLite migrates without them).

The triggers (the catalogue version's, the paper search vector and SQLite's FTS5 table, the row
and day counts, the ledger's guard) are installed by the next migration,
0003_database_triggers."""

from django.contrib.postgres.operations import TrigramExtension
from django.db import migrations

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


NEWEST = "paper_newest_idx"


def newest_index(apps, schema_editor):
    """The papers newest first, undated last (the papers list's pages, search's candidates):
    PostgreSQL only, SQLite cannot index NULLS LAST (its lists are small)."""
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {NEWEST} ON leaderboard_paper "
            "(date DESC NULLS LAST, id DESC)"
        )


def drop_newest_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {NEWEST}")


# Every filter of the API that reaches the database uses an index (issue 19): parts of a
# repository's address (ILIKE '%/owner/%', '%/name'), which a pg_trgm GIN index serves on
# PostgreSQL (SQLite has no such index; its catalogue is the small embedded one).
URL_TRIGRAM = "codelink_url_trgm_idx"


def url_trigram(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {URL_TRIGRAM} ON leaderboard_codelink "
            "USING gin (url gin_trgm_ops)"
        )


def drop_url_trigram(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {URL_TRIGRAM}")


class Migration(migrations.Migration):
    dependencies = [
        ("leaderboard", "0001_initial"),
    ]

    operations = [
        TrigramExtension(),  # CREATE EXTENSION IF NOT EXISTS pg_trgm; nothing on SQLite
        migrations.RunPython(create_indexes, drop_indexes),
        migrations.RunPython(newest_index, drop_newest_index),
        migrations.RunPython(url_trigram, drop_url_trigram),
    ]
