"""Which benchmarks the reference runner can verify with the data present, and why not."""

import logging

from django.core.management.base import BaseCommand

from evaluator.protocols import log_data_report


class Command(BaseCommand):
    help = (
        "Log, per verification protocol, whether it can run with the data the workers read "
        "(MAML_DATA_DIR), and what fetches the data when it cannot."
    )

    def handle(self, *args, **options):
        log_data_report(logging.getLogger("evaluator.start"))
