from django.core.management.base import BaseCommand, CommandError

from leaderboard.archive import ArchiveFormatError, import_archive
from leaderboard.json_bounds import JSONBoundError, loads_bounded


class Command(BaseCommand):
    help = "Import a Papers With Code evaluation-tables.json file (idempotent, all or nothing)."

    def add_arguments(self, parser):
        parser.add_argument("file", help="path to evaluation-tables.json")

    def handle(self, *args, **options):
        path = options["file"]
        try:
            with open(path, "rb") as fh:
                data = loads_bounded(fh.read(), max_bytes=None, max_depth=64, what=path)
        except OSError as exc:
            raise CommandError(f"Cannot read {path}: {exc.strerror or exc}") from exc
        except JSONBoundError as exc:
            raise CommandError(f"{exc}; nothing was imported.") from exc
        except ValueError as exc:
            raise CommandError(f"{path} is not a JSON file: {exc}") from exc
        try:
            report = import_archive(data)
        except ArchiveFormatError as exc:
            raise CommandError(
                f"{path} is not in the archive format ({exc}); nothing was imported."
            ) from exc
        for warning in report.warnings:
            self.stderr.write(f"warning: {warning}")
        self.stdout.write(f"Imported {path}: {report.summary()}.")
