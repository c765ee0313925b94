"""``manage.py verify_ledger``: recompute the ledger's hash chain and check the site against it.

Two checks (docs/ledger.md). The chain: every entry's hash is recomputed from its content and
the previous entry's hash (``leaderboard/results/ledger_hash.py``, the same code as the stand-alone
script a reader runs against ``/log.jsonl``, which prints the same first line). The site: every
result the ledger knows shows the figures of its latest entry (a withdrawn one is gone), and
no verified result is published without an entry. The first entry that does not match is
named; the exit status is then 1.
"""

from django.core.management.base import BaseCommand, CommandError

from leaderboard.results.ledger_chain import describe_mismatch, verify


class Command(BaseCommand):
    help = "Recompute the ledger's hash chain and check every result against its latest entry."

    def add_arguments(self, parser):
        parser.add_argument("--database", default="default", help="The database to check")
        parser.add_argument(
            "--all", action="store_true", help="List every result that does not match, not one"
        )

    def handle(self, *args, **options):
        report = verify(options["database"])
        self.stdout.write(report.chain.describe())
        if not report.chain.ok:
            raise CommandError(report.chain.describe())
        first = report.first()
        if first is None:
            self.stdout.write(
                f"site matches the ledger: {report.results_checked} results checked against "
                "their latest entry"
            )
            return
        if options["all"]:
            key = lambda m: (m.seq is None, m.seq or 0, m.result)  # noqa: E731
            for m in sorted(report.mismatches, key=key):
                self.stdout.write(describe_mismatch(m))
        raise CommandError(
            f"{len(report.mismatches)} result(s) do not match the ledger; the first: "
            f"{describe_mismatch(first)}"
        )
