import gzip
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from leaderboard.archive import EXPORTS, FILE_NAMES


class Command(BaseCommand):
    help = (
        "Export the catalogue as Papers With Code archive files, streamed. By default "
        "evaluation-tables.json in exactly sota-extractor's schema; --kind for another file, "
        "--extended for VeriSOTA's fields too, --all DIR for all five files."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", help='output path ("-": standard output; .gz: gzip)')
        parser.add_argument("--kind", choices=sorted(EXPORTS), default="evaluation-tables")
        parser.add_argument("--extended", action="store_true", help="add VeriSOTA's fields")
        parser.add_argument("--all", dest="folder", help="write all five files into a folder")

    def handle(self, *args, **options):
        if options["folder"]:
            folder = Path(options["folder"])
            folder.mkdir(parents=True, exist_ok=True)
            for kind, name in FILE_NAMES.items():
                self._write(kind, str(folder / name), options["extended"])
            return
        if not options["file"]:
            raise CommandError("Name an output file, or --all DIR.")
        self._write(options["kind"], options["file"], options["extended"])

    def _write(self, kind, path, extended):
        chunks = EXPORTS[kind](extended) if kind == "evaluation-tables" else EXPORTS[kind]()
        if path == "-":
            for chunk in chunks:
                sys.stdout.write(chunk)
            return
        opener = gzip.open if path.endswith(".gz") else open
        try:
            with opener(path, "wt", encoding="utf-8") as fh:
                for chunk in chunks:
                    fh.write(chunk)
        except OSError as exc:
            raise CommandError(f"Cannot write {path}: {exc.strerror or exc}") from exc
        self.stdout.write(f"Exported {kind} to {path}.")
