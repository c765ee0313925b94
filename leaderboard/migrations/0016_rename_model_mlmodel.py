# The class Model became MLModel (it shadowed django.db.models.Model); its table keeps its name.

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [
        ("leaderboard", "0015_ledger_entry"),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RenameModel("Model", "MLModel"),
                migrations.AlterModelTable("mlmodel", "leaderboard_model"),
                migrations.AlterModelOptions(
                    name="mlmodel", options={"ordering": ["name"], "verbose_name": "model"}
                ),
            ]
        ),
    ]
