# The reproduced_* columns are gone (0011 moved them into value and ci95); one checkpoint is
# one verified row per benchmark and evaluation mode (a partial unique index, so that two runs
# of the same file can never both publish; evaluator 0004 fills checkpoint_sha256 of existing
# rows once their duplicates are resolved); every default ordering of results ends with id.

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("leaderboard", "0011_result_measured_value"),
    ]

    operations = [
        migrations.RemoveField(model_name="result", name="reproduced_value"),
        migrations.RemoveField(model_name="result", name="reproduced_ci95"),
        migrations.AlterModelOptions(
            name="result", options={"ordering": ["benchmark", "metric", "-value", "id"]}
        ),
        migrations.AlterField(
            model_name="result",
            name="ci95",
            field=models.FloatField(
                blank=True,
                help_text="Half-width of the 95% interval of value: the reference run's for a "
                "verified row, the archive's own (0.84 ± 0.01) for an archive row",
                null=True,
            ),
        ),
        migrations.AlterField(
            model_name="result",
            name="raw_value",
            field=models.CharField(
                blank=True,
                help_text="As the archive wrote it (empty for a verified row)",
                max_length=100,
            ),
        ),
        migrations.AlterField(
            model_name="result",
            name="value",
            field=models.FloatField(
                blank=True,
                help_text="The row's number: the reproduced mean of a verified row, the "
                "archive's figure otherwise (empty: raw_value is not a number)",
                null=True,
            ),
        ),
        migrations.AddConstraint(
            model_name="result",
            constraint=models.UniqueConstraint(
                condition=models.Q(
                    ("source", "verified"), models.Q(("checkpoint_sha256", ""), _negated=True)
                ),
                fields=("benchmark", "evaluation_mode", "checkpoint_sha256"),
                name="unique_verified_checkpoint",
            ),
        ),
    ]
