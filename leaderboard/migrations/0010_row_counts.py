# The maintained row counts of leaderboard/counters.py; the triggers that keep them, and the
# first count of every table, come from its post_migrate handler (re-installed after every
# migrate, like the catalogue version's triggers).

from django.db import migrations, models


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
    ]
