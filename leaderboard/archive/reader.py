"""Streaming reading of an archive file: plain or gzip, top-level items one at a time.

The file is parsed by ijson's events (its C backend, which does not recurse), and each item of
the top-level list is built here under bounds: nesting depth (``MAX_DEPTH``) and the number of
values in one item (``MAX_ITEM_VALUES``). An item past a bound is skipped with a warning (the
rest of the file is still read); only the first item decides the file's kind, and a file whose
top level is not a list of objects of one of the five kinds is refused before anything is
written. Memory is bounded by the largest item, not by the file.

Numbers are bounded before they are built: an integral number becomes an ``int`` only below
``MAX_INT_DIGITS`` digits (``1e10000000`` would otherwise build a ten-million-digit integer), and
a number beyond a float's range is kept as its text (a value cell shows it, with a warning, as
text). A string or key holding a NUL character or a lone surrogate (which PostgreSQL refuses) is
cleaned here, once for every importer, and ``note(index, path, message)`` is told where.
"""

import gzip
import io
import queue
import re
import threading
from collections.abc import Iterator
from decimal import Decimal

import ijson

MAX_DEPTH = 64
MAX_ITEM_VALUES = 2_000_000  # one task of evaluation-tables.json holds at most ~100k values
MAX_STRING = 1_000_000  # characters of one string (an abstract is ~2k)
MAX_INT_DIGITS = 20  # as leaderboard/core/json_bounds.py: an integer of more digits is kept as text
_INT_BOUND = 10**MAX_INT_DIGITS
_SURROGATE = re.compile("[\ud800-\udfff]")

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
    """A scalar as the importers read it: a number bounded before it is built."""
    if type(v) is int:
        return v if -_INT_BOUND < v < _INT_BOUND else _number_text(v)
    if isinstance(v, Decimal):
        if not v.is_finite():
            return str(v)
        exponent = v.adjusted()  # the power of ten of its first digit: O(1), builds nothing
        if exponent > 308 or (exponent < -308 and v):
            return str(v)  # beyond a float: "1E+10000000" stays text
        if exponent < MAX_INT_DIGITS and v == v.to_integral_value() and "." not in str(v):
            return int(v)
        return float(v)
    return v


def _number_text(n: int) -> str:
    """The text of an integer past the bound (ijson's C parser built it; at most 4,300 digits)."""
    digits = len(str(abs(n)))
    return str(n) if digits <= 100 else f"{'-' if n < 0 else ''}{str(abs(n))[:1]}e+{digits - 1}"


def _clean(text: str) -> str | None:
    """``text`` without NUL characters and with lone surrogates replaced, or None if it had
    neither (the common case costs a scan in C)."""
    changed = False
    if "\x00" in text:
        text, changed = text.replace("\x00", ""), True
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            text, changed = _SURROGATE.sub("\ufffd", text), True
    return text if changed else None


def iter_items(stream, note=None) -> Iterator[tuple[int, object, str | None]]:
    """(index, item, error) for each item of the top-level list; ``item`` is None and ``error``
    says why when an item broke a bound. ``note(index, path, message)`` hears of each string
    cleaned (``path`` within the item, as ".datasets[0].sota.rows[3].model_name"). Raises
    ArchiveFormatError if the top level is not a list, and ijson's errors for broken JSON."""
    events = ijson.basic_parse(stream, use_float=False)
    first = next(events, None)
    if first is None or first[0] != "start_array":
        raise ArchiveFormatError("the top level is not a list")
    index = 0
    while True:
        event, value = next(events)
        if event == "end_array":
            break
        notes = []
        try:
            item = _build(event, value, events, notes)
            yield index, item, None
        except ItemTooLarge as exc:
            yield index, None, str(exc)
        if notes and note is not None:
            for path, message in notes:
                note(index, path, message)
        index += 1
    for _ in events:  # trailing content is a JSON error ijson raises here
        pass


def _path(keys, last) -> str:
    out = ""
    for k in [*keys[1:], last]:
        out += f"[{k}]" if type(k) is int else f".{k}"
    return out


def _build(event, value, events, notes=None):
    """One value starting with ``event``, built from the event stream under the bounds.
    ``notes`` gets (path, message) for each string or key cleaned (see ``_clean``)."""
    notes = [] if notes is None else notes
    if event != "start_map" and event != "start_array":
        child = _value(value)
        if type(child) is str and (fixed := _clean(child)) is not None:
            notes.append(("", "NUL characters or invalid Unicode removed"))
            child = fixed
        return child
    root = {} if event == "start_map" else []
    stack = [root]
    keys = [None]  # the key (or index) of each open container in its parent
    parent, in_map = root, event == "start_map"
    key = None
    count = 0
    error = None
    for event, value in events:
        count += 1
        if event == "map_key":
            key = value
            if (fixed := _clean(key)) is not None:
                key = fixed
                notes.append((_path(keys, key), "NUL characters or invalid Unicode removed"))
            continue
        if event == "string":  # the commonest event first
            child = value
            if len(child) > MAX_STRING and error is None:
                error = f"a string longer than {MAX_STRING} characters"
            elif (fixed := _clean(child)) is not None:
                where = _path(keys, key if in_map else len(parent))
                notes.append((where, "NUL characters or invalid Unicode removed"))
                child = fixed
        elif event == "end_map" or event == "end_array":
            stack.pop()
            keys.pop()
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
                    keys.append(key)
                    parent[key] = child
                else:
                    keys.append(len(parent))
                    parent.append(child)
                stack.append(child)
            else:
                keys.append(None)
                stack.append([])
            parent, in_map = stack[-1], event == "start_map" and error is None
            continue
        else:
            kind = type(value)
            if kind is Decimal or (kind is int and not -_INT_BOUND < value < _INT_BOUND):
                child = _value(value)
            else:
                child = value
        if error is None:
            if count > MAX_ITEM_VALUES:
                error = f"more than {MAX_ITEM_VALUES} values"
            elif in_map:
                parent[key] = child
            else:
                parent.append(child)
    raise ArchiveFormatError("the file ends inside an item")


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
