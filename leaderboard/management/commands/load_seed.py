from django.core.management.base import BaseCommand

from leaderboard.seeding import SEED_FILE, load_seed


class Command(BaseCommand):
    help = "Load the MAML paper and its results table (idempotent: run it as often as you like)."

    def handle(self, *args, **options):
        counts = load_seed()
        self.stdout.write(
            f"Seed {SEED_FILE.name}: {counts['created']} results created, "
            f"{counts['updated']} updated, {counts['unchanged']} unchanged."
        )
