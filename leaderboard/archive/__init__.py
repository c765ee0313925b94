"""The Papers With Code archive in and out: its five files (see docs/leaderboard.md).

``import_file(path)`` recognises a file by its first item, streams it and imports it in one
transaction; ``import_archive(data)`` does the same for parsed JSON. One module per kind of
file; ``values`` parses what they hold, ``reader`` streams them, ``export`` writes them back.
"""

import io
import json

from django.db import transaction

from leaderboard.archive.common import Context, ImportReport
from leaderboard.archive.export import EXPORTS, FILE_NAMES, evaluation_tables, export_archive
from leaderboard.archive.reader import (
    IMPORT_ORDER,
    KINDS,
    ArchiveFormatError,
    iter_items,
    kind_of,
    open_archive,
    read_ahead,
)
from leaderboard.archive.values import parse_value

__all__ = [
    "EXPORTS",
    "FILE_NAMES",
    "IMPORT_ORDER",
    "KINDS",
    "ArchiveFormatError",
    "ImportReport",
    "detect_kind",
    "evaluation_tables",
    "export_archive",
    "import_archive",
    "import_file",
    "parse_value",
]


def _importer(kind: str):
    from leaderboard.archive import code_links, datasets, methods, papers, tables

    return {
        "evaluation-tables": tables.import_tables,
        "papers": papers.import_papers,
        "code-links": code_links.import_code_links,
        "methods": methods.import_methods,
        "datasets": datasets.import_datasets,
    }[kind]


def _first(items):
    first = next(items, None)
    if first is None:
        return None, None, iter(())
    return kind_of(first[1]), first, items


def detect_kind(path) -> str:
    """The kind of an archive file, from its first item; ArchiveFormatError if none."""
    with open_archive(path) as stream:
        kind, first, _ = _first(iter_items(stream))
    if first is None:
        raise ArchiveFormatError("the file is an empty list")
    if kind is None:
        raise ArchiveFormatError(
            "its first item is none of the five formats (evaluation tables, papers, code "
            "links, methods, datasets)"
        )
    return kind


def _run(stream, report, ctx=None, progress=None) -> str:
    state = {"kind": None, "held": []}

    def note(index, path, message):
        """A string the reader cleaned, named by its path once the file's kind is known."""
        if state["kind"] is None:
            state["held"].append((index, path, message))
            return
        root = "tasks" if state["kind"] == "evaluation-tables" else ""
        report.warn(f"{root}[{index}]{path}", message)

    kind, first, rest = _first(iter_items(stream, note))
    state["kind"] = kind
    for held in state.pop("held"):
        note(*held)
    if first is None:
        raise ArchiveFormatError("the file is an empty list")
    if kind is None:
        raise ArchiveFormatError(
            "its first item is none of the five formats (evaluation tables, papers, code "
            "links, methods, datasets)"
        )

    def all_items():
        yield first
        for entry in read_ahead(rest):  # the file is parsed by a thread, ahead
            if progress:
                progress()
            yield entry

    items = all_items()
    try:
        with transaction.atomic():
            _importer(kind)(items, ctx or Context(report))
    finally:
        items.close()  # stops the reading thread
    return kind


def import_file(path, report: ImportReport | None = None, ctx=None, progress=None):
    """Import one archive file (plain or gzip) in one transaction; returns (kind, report)."""
    report = report or ImportReport()
    with open_archive(path) as stream:
        kind = _run(stream, report, ctx, progress)
    return kind, report


def import_archive(data) -> ImportReport:
    """Import parsed JSON of any of the five kinds (tests)."""
    report = ImportReport()
    _run(io.BytesIO(json.dumps(data).encode()), report)
    return report
