# A verified row's number becomes the figure the site measured (issue 18): ``value`` and
# ``ci95`` of a verified row now hold the reference run's mean and 95% half-width, and the claim
# moves to the new ``claimed_value`` (shown beside it, never ranked). This migration adds the
# new fields and converts the existing verified rows; 0012 drops the old reproduced_* columns.

from django.db import migrations, models


def measured_value(apps, schema_editor):
    """Every verified row: claim -> claimed_value, reproduced mean and interval -> value, ci95.
    A verified row without a reproduced figure keeps its value (the claim) and is reported by
    ``manage.py check_verified_rows``."""
    Result = apps.get_model("leaderboard", "Result")
    for r in Result.objects.filter(source="verified").only(
        "value", "ci95", "raw_value", "claimed_value", "reproduced_value", "reproduced_ci95"
    ):
        r.claimed_value = r.value
        if r.reproduced_value is not None:
            r.value, r.ci95, r.raw_value = r.reproduced_value, r.reproduced_ci95, ""
        r.save(update_fields=["claimed_value", "value", "ci95", "raw_value"])


def claimed_value_back(apps, schema_editor):
    Result = apps.get_model("leaderboard", "Result")
    for r in Result.objects.filter(source="verified"):
        r.reproduced_value, r.reproduced_ci95 = r.value, r.ci95
        if r.claimed_value is not None:
            r.value, r.raw_value, r.ci95 = r.claimed_value, f"{r.claimed_value:g}", None
        r.save(update_fields=["reproduced_value", "reproduced_ci95", "value", "raw_value", "ci95"])


class Migration(migrations.Migration):
    dependencies = [
        ("leaderboard", "0010_row_counts_and_search_index"),
    ]

    operations = [
        migrations.AddField(
            model_name="result",
            name="claimed_value",
            field=models.FloatField(
                blank=True,
                help_text="A verified row's claim, as submitted (never ranked)",
                null=True,
            ),
        ),
        migrations.AddField(
            model_name="result",
            name="checkpoint_sha256",
            field=models.CharField(
                blank=True, help_text="The evaluated checkpoint of a verified row", max_length=64
            ),
        ),
        migrations.AddField(
            model_name="result",
            name="verification_note",
            field=models.CharField(
                blank=True,
                help_text="How the verdict was reached when not by the decision rule alone (a "
                "curator's override, with the reason); shown on the ledger",
                max_length=500,
            ),
        ),
        migrations.RunPython(measured_value, claimed_value_back),
    ]
