"""Re-queue (or fail) runs left running by dead workers; resend runs whose message was lost."""

from django.core.management.base import BaseCommand

from evaluator.tasks import reap


class Command(BaseCommand):
    help = (
        "Find runs left 'running' with a stale heartbeat: re-queue them up to "
        "EVALUATOR_MAX_ATTEMPTS times, then mark them failed with the reason."
    )

    def handle(self, *args, **options):
        counts = reap(include_dead_here=True)
        self.stdout.write(", ".join(f"{n} {what}" for what, n in counts.items()))
