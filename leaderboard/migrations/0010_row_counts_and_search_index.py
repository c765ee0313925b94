# The maintained row counts of leaderboard/db/counters.py (the triggers that keep them, and the
# first count of every table, come from its post_migrate handler, re-installed after every
# migrate like the catalogue version's triggers), the papers' day counts of
# leaderboard/db/paper_days.py, the index of the newest papers (the papers list, search) and
# that of the results per benchmark and source (the home page's notable benchmarks).

from django.db import migrations, models

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


class Migration(migrations.Migration):
    dependencies = [
        ("leaderboard", "0008_benchmark_parent"),
    ]

    operations = [
        migrations.CreateModel(
            name="RowCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("name", models.CharField(max_length=100)),
                ("n", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.CreateModel(
            name="PaperDayCount",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("day", models.DateField(null=True)),
                ("n", models.BigIntegerField(default=0)),
            ],
        ),
        migrations.RunPython(newest_index, drop_newest_index),
        migrations.AddIndex(
            model_name="result",
            index=models.Index(fields=["benchmark", "source"], name="result_benchmark_source_idx"),
        ),
    ]
