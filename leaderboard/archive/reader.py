"""Streaming reading of an archive file: plain or gzip, top-level items one at a time.

The file is parsed by ijson's events (its C backend, which does not recurse), and each item of
the top-level list is built here under bounds: nesting depth (``MAX_DEPTH``) and the number of
values in one item (``MAX_ITEM_VALUES``). An item past a bound is skipped with a warning (the
rest of the file is still read); only the first item decides the file's kind, and a file whose
top level is not a list of objects of one of the five kinds is refused before anything is
written. Memory is bounded by the largest item, not by the file.
"""

import gzip
import io
import queue
import threading
from collections.abc import Iterator
from decimal import Decimal

import ijson

MAX_DEPTH = 64
MAX_ITEM_VALUES = 2_000_000  # one task of evaluation-tables.json holds at most ~100k values
MAX_STRING = 1_000_000  # characters of one string (an abstract is ~2k)

KINDS = ("evaluation-tables", "papers", "code-links", "methods", "datasets")
# The order --all imports them in: papers and methods before what points at them.
IMPORT_ORDER = ("methods", "papers", "datasets", "code-links", "evaluation-tables")


class ArchiveFormatError(ValueError):
    """The file is not one of the archive's five formats; nothing was written."""


class ItemTooLarge(ValueError):
    pass


def open_archive(path) -> io.BufferedReader:
    """A binary stream of the file's JSON, gunzipped if it starts with gzip's magic bytes, with
    a UTF-8 byte-order mark skipped."""
    raw = open(path, "rb")  # noqa: SIM115 (returned to the caller, who closes it)
    head = raw.peek(3)[:3] if hasattr(raw, "peek") else b""
    stream = gzip.GzipFile(fileobj=raw) if head[:2] == b"\x1f\x8b" else raw
    stream = io.BufferedReader(stream) if not isinstance(stream, io.BufferedReader) else stream
    if stream.peek(3)[:3] == b"\xef\xbb\xbf":
        stream.read(3)
    return stream


def kind_of(item) -> str | None:
    """Which of the five files an item of the top-level list belongs to (by its keys)."""
    if not isinstance(item, dict):
        return None
    keys = set(item)
    if "task" in keys and ({"datasets", "subtasks", "categories"} & keys):
        return "evaluation-tables"
    if "repo_url" in keys and ({"paper_url", "paper_title", "paper_arxiv_id"} & keys):
        return "code-links"
    if "paper_url" in keys and ({"abstract", "title", "url_abs"} & keys):
        return "papers"
    if "name" in keys and ({"data_loaders", "modalities", "variants", "homepage"} & keys):
        return "datasets"
    if "name" in keys and ({"collections", "code_snippet_url", "source_title"} & keys):
        return "methods"
    return None


def _value(v):
    if isinstance(v, Decimal):
        return int(v) if v == v.to_integral_value() and "." not in str(v) else float(v)
    return v


def iter_items(stream) -> Iterator[tuple[int, object, str | None]]:
    """(index, item, error) for each item of the top-level list; ``item`` is None and ``error``
    says why when an item broke a bound. Raises ArchiveFormatError if the top level is not a
    list, and ijson's errors for broken JSON."""
    events = ijson.basic_parse(stream, use_float=False)
    first = next(events, None)
    if first is None or first[0] != "start_array":
        raise ArchiveFormatError("the top level is not a list")
    index = 0
    while True:
        event, value = next(events)
        if event == "end_array":
            break
        try:
            item = _build(event, value, events)
            yield index, item, None
        except ItemTooLarge as exc:
            yield index, None, str(exc)
        index += 1
    for _ in events:  # trailing content is a JSON error ijson raises here
        pass


def _build(event, value, events):
    """One value starting with ``event``, built from the event stream under the bounds."""
    if event != "start_map" and event != "start_array":
        return _value(value)
    root = {} if event == "start_map" else []
    stack = [root]
    parent, in_map = root, event == "start_map"
    key = None
    count = 0
    error = None
    for event, value in events:
        count += 1
        if event == "map_key":
            key = value
            continue
        if event == "string":  # the commonest event first
            child = value
            if len(child) > MAX_STRING and error is None:
                error = f"a string longer than {MAX_STRING} characters"
        elif event == "end_map" or event == "end_array":
            stack.pop()
            if not stack:
                if error is None and count > MAX_ITEM_VALUES:
                    error = f"more than {MAX_ITEM_VALUES} values"
                if error:
                    raise ItemTooLarge(error)
                return root
            parent = stack[-1]
            in_map = type(parent) is dict
            continue
        elif event == "start_map" or event == "start_array":
            child = {} if event == "start_map" else []
            if len(stack) >= MAX_DEPTH and error is None:
                error = f"nested deeper than {MAX_DEPTH}"
            if error is None and count > MAX_ITEM_VALUES:
                error = f"more than {MAX_ITEM_VALUES} values"
            if error is None:
                if in_map:
                    parent[key] = child
                else:
                    parent.append(child)
                stack.append(child)
            else:
                stack.append([])
            parent, in_map = stack[-1], event == "start_map" and error is None
            continue
        else:
            child = _value(value) if type(value) is Decimal else value
        if error is None:
            if count > MAX_ITEM_VALUES:
                error = f"more than {MAX_ITEM_VALUES} values"
            elif in_map:
                parent[key] = child
            else:
                parent.append(child)
    raise ArchiveFormatError("the file ends inside an item")


def _scalar(value):
    return _value(value)


def read_ahead(iterable, depth: int = 2000) -> Iterator:
    """The items of ``iterable``, produced by a thread up to ``depth`` items ahead: reading and
    parsing the file (pure Python, no database) go on while the importer waits for PostgreSQL.
    An exception of the producer is raised here; closing this generator stops the producer."""
    items: queue.Queue = queue.Queue(depth)
    stop = threading.Event()

    def put(entry) -> bool:
        while not stop.is_set():
            try:
                items.put(entry, timeout=0.1)
                return True
            except queue.Full:
                continue
        return False

    def produce():
        try:
            for item in iterable:
                if not put((True, item)):
                    return
            put((False, None))
        except BaseException as exc:  # handed to the consumer, raised there
            put((False, exc))

    thread = threading.Thread(target=produce, name="archive-read-ahead", daemon=True)
    thread.start()
    try:
        while True:
            more, item = items.get()
            if not more:
                if item is not None:
                    raise item
                return
            yield item
    finally:
        stop.set()
        thread.join()
