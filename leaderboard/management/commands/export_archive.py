import json
import sys

from django.core.management.base import BaseCommand, CommandError

from leaderboard.archive import export_archive


class Command(BaseCommand):
    help = "Export every published result as a Papers With Code evaluation-tables.json file."

    def add_arguments(self, parser):
        parser.add_argument("file", help='output path, or "-" for standard output')

    def handle(self, *args, **options):
        data = export_archive()
        text = json.dumps(data, indent=2, ensure_ascii=False)
        if options["file"] == "-":
            sys.stdout.write(text + "\n")
            return
        try:
            with open(options["file"], "w", encoding="utf-8") as fh:
                fh.write(text + "\n")
        except OSError as exc:
            raise CommandError(f"Cannot write {options['file']}: {exc.strerror or exc}") from exc
        rows = sum(_count_rows(t) for t in data)
        self.stdout.write(f"Exported {rows} rows to {options['file']}.")


def _count_rows(task: dict) -> int:
    own = sum(len(d["sota"]["rows"]) for d in task["datasets"])
    return own + sum(_count_rows(t) for t in task["subtasks"])
