"""Report every verified row that no verified run stands behind (``evaluator/checks.py``)."""

from django.core.management.base import BaseCommand, CommandError

from evaluator.checks import describe, unbacked_rows


class Command(BaseCommand):
    help = (
        "List the results marked verified that have no verified run behind them (or no "
        "measured value); exit status 1 when there is any."
    )

    def handle(self, *args, **options):
        rows = list(unbacked_rows())
        for r in rows:
            self.stdout.write(describe(r))
        if rows:
            raise CommandError(f"{len(rows)} verified row(s) without a run behind them.")
        self.stdout.write("Every verified row has its verified run.")
