"""Issue 22: a result's own date, where a direction came from (guess, file or curator), a
metric's description per table, the v1 API's table ids, the authors index, and the ledger's
record of curators' API writes.

Two data steps: an archive row's own date is copied from what the import kept of it
(``archive_row["paper_date"]``), and the authors index is filled from ``Paper.authors``."""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models
from django.utils.text import slugify


def fill_row_dates(apps, schema_editor):
    vendor = schema_editor.connection.vendor
    if vendor == "postgresql":
        sql = (
            "UPDATE leaderboard_result SET date = (archive_row->>'paper_date')::date "
            "WHERE source = 'archive' AND date IS NULL "
            "AND archive_row->>'paper_date' ~ '^[0-9]{4}-[0-9]{2}-[0-9]{2}$'"
        )
    elif vendor == "sqlite":
        sql = (
            "UPDATE leaderboard_result SET date = json_extract(archive_row, '$.paper_date') "
            "WHERE source = 'archive' AND date IS NULL AND json_valid(archive_row) "
            "AND json_extract(archive_row, '$.paper_date') GLOB "
            "'[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]'"
        )
    else:
        return
    schema_editor.execute(sql)


def fill_authors(apps, schema_editor):
    Paper = apps.get_model("leaderboard", "Paper")
    PaperAuthor = apps.get_model("leaderboard", "PaperAuthor")
    batch = []
    papers = Paper.objects.exclude(authors=[]).values_list("pk", "authors").order_by("pk")
    for pk, names in papers.iterator(5000):
        for position, name in enumerate(names if isinstance(names, list) else []):
            if not isinstance(name, str) or position > 32767:
                continue
            name = " ".join(name.split())[:300]
            slug = slugify(name)[:300]
            if slug:
                batch.append(PaperAuthor(paper_id=pk, position=position, name=name, slug=slug))
        if len(batch) >= 5000:
            PaperAuthor.objects.bulk_create(batch)
            batch = []
    PaperAuthor.objects.bulk_create(batch)


class Migration(migrations.Migration):
    dependencies = [
        ("leaderboard", "0013_filter_indexes"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AddField(
            model_name="benchmark",
            name="external_id",
            field=models.CharField(blank=True, db_index=True, max_length=200),
        ),
        migrations.AddField(
            model_name="benchmark",
            name="mirror_url",
            field=models.URLField(blank=True, max_length=500),
        ),
        migrations.AddField(
            model_name="benchmarkmetric",
            name="description",
            field=models.TextField(blank=True, help_text="What the metric means in this table"),
        ),
        migrations.AddField(
            model_name="benchmarkmetric",
            name="direction_source",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "not recorded"),
                    ("name", "guessed from the metric's name"),
                    ("table", "guessed from the table's other metrics"),
                    ("archive", "as the imported file gave it"),
                    ("curator", "set by a curator"),
                ],
                default="",
                help_text="Where higher_is_better came from (when it is set)",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="metric",
            name="direction_source",
            field=models.CharField(
                blank=True,
                choices=[
                    ("", "not recorded"),
                    ("name", "guessed from the metric's name"),
                    ("table", "guessed from the table's other metrics"),
                    ("archive", "as the imported file gave it"),
                    ("curator", "set by a curator"),
                ],
                default="",
                max_length=10,
            ),
        ),
        migrations.AddField(
            model_name="result",
            name="date",
            field=models.DateField(blank=True, null=True),
        ),
        migrations.CreateModel(
            name="CatalogueEdit",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("at", models.DateTimeField(auto_now_add=True, db_index=True)),
                (
                    "username",
                    models.CharField(blank=True, help_text="As it was at the time", max_length=150),
                ),
                (
                    "action",
                    models.CharField(
                        choices=[
                            ("add", "added"),
                            ("update", "updated"),
                            ("delete", "deleted"),
                            ("sync", "synchronised"),
                        ],
                        max_length=10,
                    ),
                ),
                (
                    "kind",
                    models.CharField(
                        help_text="task, dataset, evaluation, metric, result", max_length=20
                    ),
                ),
                (
                    "label",
                    models.CharField(help_text="The object's name at the time", max_length=500),
                ),
                ("detail", models.JSONField(blank=True, default=dict)),
                (
                    "benchmark",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        related_name="edits",
                        to="leaderboard.benchmark",
                    ),
                ),
                (
                    "user",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.SET_NULL,
                        to=settings.AUTH_USER_MODEL,
                    ),
                ),
            ],
            options={
                "ordering": ["-at", "-id"],
            },
        ),
        migrations.CreateModel(
            name="PaperAuthor",
            fields=[
                (
                    "id",
                    models.BigAutoField(
                        auto_created=True, primary_key=True, serialize=False, verbose_name="ID"
                    ),
                ),
                ("position", models.PositiveSmallIntegerField()),
                ("name", models.CharField(max_length=300)),
                ("slug", models.SlugField(db_index=False, max_length=300)),
                (
                    "paper",
                    models.ForeignKey(
                        on_delete=django.db.models.deletion.CASCADE,
                        related_name="author_rows",
                        to="leaderboard.paper",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["slug", "paper"], name="paperauthor_slug_idx")],
            },
        ),
        migrations.RunPython(fill_row_dates, migrations.RunPython.noop),
        migrations.RunPython(fill_authors, migrations.RunPython.noop),
    ]
