import gzip
import json
import sys
import zlib
from pathlib import Path

import ijson
from django.apps import apps
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import OperationalError, connection
from tqdm import tqdm

from leaderboard.archive import IMPORT_ORDER, ArchiveFormatError, detect_kind, import_file
from leaderboard.archive import fetch as archive_fetch
from leaderboard.archive.common import Context, ImportReport
from leaderboard.archive.lock import ImportBusy, import_lock
from leaderboard.db.counters import fold
from leaderboard.db.paper_days import fold_days


def refusal(exc: BaseException) -> str:
    """Why a file was refused, in words (each file is one transaction: nothing of it stays)."""
    if isinstance(exc, ArchiveFormatError):
        return f"not in the archive format ({exc})"
    if isinstance(exc, ijson.JSONError | json.JSONDecodeError):
        return f"not valid JSON ({exc})"
    if isinstance(exc, EOFError | gzip.BadGzipFile | zlib.error):
        return f"a damaged or truncated gzip file ({exc})"
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text ({exc})"
    if isinstance(exc, OperationalError) and "locked" in str(exc):
        return "the database stayed locked by another writer; run the command again"
    if isinstance(exc, OSError):
        return f"cannot be read ({exc.strerror or exc})"
    cause = f" ({exc.__cause__})" if exc.__cause__ else ""
    return f"{type(exc).__name__}: {exc}{cause}"


class Command(BaseCommand):
    help = (
        "Import Papers With Code archive files (evaluation tables, papers, code links, methods, "
        "datasets; plain or .gz), each recognised by its content; --all DIR imports a folder's "
        "files in the right order, --fetch downloads the five first. Each file is one "
        "transaction: a file that cannot be read is refused with its reason and the others are "
        "imported; the command then exits non-zero. One import runs at a time."
    )

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="*", help="archive files")
        parser.add_argument("--all", dest="folder", help="a folder holding archive files")
        parser.add_argument(
            "--fetch",
            action="store_true",
            help="download the five archive files (resumable, checked) into --dir, then import",
        )
        parser.add_argument(
            "--dir",
            type=Path,
            help=f"where --fetch puts the files (default: {archive_fetch.default_dir()})",
        )
        parser.add_argument(
            "--base-url",
            help=f"a mirror for --fetch (default: ${archive_fetch.BASE_URL_ENV}, else "
            f"{archive_fetch.BASE_URL})",
        )
        parser.add_argument(
            "--sha256",
            action="append",
            default=[],
            metavar="NAME=SUM",
            help="expect this SHA-256 for a fetched file (else the mirror's SHA256SUMS, if any)",
        )
        parser.add_argument(
            "--no-wait",
            action="store_true",
            help="refuse at once if another import is running (default: wait for it)",
        )
        parser.add_argument("--quiet-warnings", action="store_true", help="count warnings only")

    def handle(self, *args, **options):
        quiet_bars = not sys.stderr.isatty() or not settings.PROGRESS_BARS
        paths = [Path(p) for p in options["files"]]
        if options["folder"]:
            folder = Path(options["folder"])
            if not folder.is_dir():
                raise CommandError(f"{folder} is not a folder")
            paths += sorted(p for p in folder.iterdir() if p.name.endswith((".json", ".json.gz")))
        if options["fetch"]:
            try:
                paths += archive_fetch.fetch_archive(
                    options["dir"],
                    base_url=options["base_url"],
                    sums=archive_fetch.parse_sums(options["sha256"]),
                    progress=not quiet_bars,
                    say=lambda line: self.stdout.write(line),
                )
            except (archive_fetch.FetchError, ValueError) as exc:
                raise CommandError(f"--fetch: {exc}") from exc
        if not paths:
            raise CommandError("Name one or more files, --all DIR or --fetch.")
        try:
            with import_lock(
                wait=not options["no_wait"], on_wait=lambda m: self.stderr.write(f"{m}.")
            ):
                refused = self.import_files(paths, options, quiet_bars)
        except ImportBusy as exc:
            raise CommandError(f"Refused: {exc}.") from exc
        if refused:
            lines = "; ".join(f"{p} ({why})" for p, why in refused.items())
            raise CommandError(
                f"{len(refused)} of {len(paths)} files refused, nothing of them imported: {lines}"
            )

    def import_files(self, paths, options, quiet_bars) -> dict:
        """Import each readable file (one transaction each); returns {path: reason} of those
        refused. Printed: a line per file, then the summary of what was imported."""
        refused, kinds = {}, {}
        for path in paths:
            try:
                kinds[path] = detect_kind(path)
            except Exception as exc:  # the file is the unit: refused, the others go on
                refused[path] = refusal(exc)
        readable = sorted(kinds, key=lambda p: IMPORT_ORDER.index(kinds[p]))
        total = ImportReport()
        ctx = None
        for path in readable:
            bar = tqdm(
                desc=f"{kinds[path]} ({path.name})",
                unit=" items",
                disable=quiet_bars,
                file=sys.stderr,
            )
            report = ImportReport()
            try:
                ctx = ctx or Context(report)
                ctx.report = report
                import_file(path, report, ctx, progress=bar.update)
            except Exception as exc:  # rolled back whole; the next file starts afresh
                refused[path] = refusal(exc)
                ctx = None  # its indexes may name rows the rollback removed
            finally:
                bar.close()
            if not options["quiet_warnings"]:
                for warning in report.warnings:
                    self.stderr.write(f"warning: {path.name} {warning}")
            if path in refused:
                continue
            for kind, counts in report.counts.items():
                for action, n in counts.items():
                    total.count(kind, action, n)
            total.warning_count += report.warning_count
            self.stdout.write(
                f"Imported {path} ({kinds[path]}): {report.summary()}; "
                f"{report.warning_count} warnings."
            )
        for path in paths:
            if path in refused:
                self.stdout.write(f"Refused {path}: {refused[path]}; nothing of it was imported.")
        if readable and len(refused) < len(paths):
            fold_counts()
            analyse_catalogue()
        self.stdout.write(f"Summary: {total.summary()}.")
        self.stdout.write(f"{total.warning_count} warnings.")
        return refused


def fold_counts() -> None:
    """The maintained counts' change rows folded into one per table and per day (PostgreSQL;
    the writers fold as they go, this leaves the fewest rows for reads to sum)."""
    fold()
    fold_days()


def analyse_catalogue() -> None:
    """Fresh planner statistics for the catalogue's tables on PostgreSQL (about 2 s at full
    size). Autovacuum gets there eventually, but right after a large import the planner still
    believes the tables small: the papers export's first prefetch took 1.5 s instead of 0.02 s."""
    if connection.vendor != "postgresql":
        return
    config = apps.get_app_config("leaderboard")
    tables = sorted({m._meta.db_table for m in config.get_models(include_auto_created=True)})
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE " + ", ".join(connection.ops.quote_name(t) for t in tables))
