#!/usr/bin/env python3
"""Check VeriSOTA's public ledger: the hash recipe and the chain check, standard library only.

This file is the one definition of how a ledger entry is hashed: the site imports it to append
entries (``leaderboard/results/ledger_chain.py``) and to verify them (``manage.py
verify_ledger``), and a reader runs it alone, with nothing installed, against the public
JSON lines::

    python3 verify_ledger.py https://verisota.example/log.jsonl
    python3 verify_ledger.py ledger.jsonl            # a saved copy
    curl -s https://verisota.example/log.jsonl | python3 verify_ledger.py -

(``scripts/verify_ledger.py`` is this file; the site also serves it at ``/log/verify_ledger.py``.)

Each line of the JSON lines is one entry, oldest first::

    {"seq": 1, "prev_hash": "000…0", "hash": "…", "content": {"seq": 1, "kind": "publication", …}}

The recipe (docs/ledger.md):

- ``canonical(content)``: the content as JSON with its keys sorted, no spaces
  (``separators=(",", ":")``), non-ASCII characters written as themselves, encoded in UTF-8;
  numbers as Python writes them (the shortest form that reads back as the same float);
- ``hash = sha256(prev_hash + "\\n" + canonical(content))`` in lowercase hex, where
  ``prev_hash`` is the previous entry's hash, and 64 zeros for the first entry.

The check walks the entries in order and names the first one that does not match: a sequence
number out of place, a ``prev_hash`` that is not the previous entry's hash, or a hash that is
not that of its content. Exit status 0: the chain is unbroken; 1: an entry does not match; 2:
the input could not be read.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Iterable
from dataclasses import dataclass

GENESIS = "0" * 64
#: The longest line the checker reads (an entry is well under 4 KiB).
MAX_LINE = 1 << 20


def canonical(content: dict) -> str:
    """The text of ``content`` that is hashed: sorted keys, no spaces, UTF-8 as itself."""
    return json.dumps(
        content, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )


def entry_hash(prev_hash: str, content_text: str) -> str:
    """SHA-256 (hex) of the previous entry's hash, a newline and the canonical content."""
    return hashlib.sha256(f"{prev_hash}\n{content_text}".encode()).hexdigest()


@dataclass
class ChainReport:
    entries: int = 0
    head: str = GENESIS
    problem: str = ""  # empty: the chain is unbroken
    bad_seq: int | None = None  # the first entry that does not match

    @property
    def ok(self) -> bool:
        return not self.problem

    def describe(self) -> str:
        """One line: what a reader is told (the command and the script print the same)."""
        if self.ok:
            return f"ledger chain unbroken: {self.entries} entries, head {self.head}"
        return f"ledger chain broken at entry {self.bad_seq}: {self.problem}"


def check_chain(entries: Iterable[dict]) -> ChainReport:
    """Walk the entries (dicts as the JSON lines give them) and stop at the first mismatch."""
    report = ChainReport()
    prev = GENESIS
    expected = 1
    for entry in entries:
        seq = entry.get("seq") if isinstance(entry, dict) else None
        report.bad_seq = seq if isinstance(seq, int) else expected
        if not isinstance(entry, dict) or not isinstance(entry.get("content"), dict):
            report.problem = "not an entry (an object with seq, prev_hash, hash and content)"
            return report
        if seq != expected:
            report.bad_seq = expected
            report.problem = f"expected entry {expected} here, found {seq!r} (an entry is missing)"
            return report
        content = entry["content"]
        if content.get("seq") != seq:
            report.problem = f"its content says seq {content.get('seq')!r}"
            return report
        if entry.get("prev_hash") != prev:
            report.problem = (
                f"prev_hash {entry.get('prev_hash')!r} is not the hash of entry {seq - 1} ({prev})"
            )
            return report
        try:
            computed = entry_hash(prev, canonical(content))
        except ValueError as exc:  # a NaN or infinity: not canonical JSON
            report.problem = f"content cannot be hashed ({exc})"
            return report
        if entry.get("hash") != computed:
            report.problem = (
                f"stored hash {entry.get('hash')!r} is not the hash of its content ({computed})"
            )
            return report
        prev = computed
        report.entries += 1
        report.head = computed
        expected += 1
    report.bad_seq = None
    return report


def parse_lines(lines: Iterable[str | bytes]) -> Iterable[dict]:
    """The entries of JSON lines; a line that is not JSON is given as ``None`` (not an entry)."""
    for line in lines:
        if isinstance(line, bytes):
            line = line.decode("utf-8", errors="replace")
        if not line.strip():
            continue
        if len(line) > MAX_LINE:
            yield None
            continue
        try:
            yield json.loads(line)
        except ValueError:
            yield None


def _open(source: str):
    if source == "-":
        return sys.stdin.buffer
    if source.startswith(("http://", "https://")):
        from urllib.request import Request, urlopen

        request = Request(source, headers={"Accept": "application/jsonl, application/json"})
        return urlopen(request, timeout=60)  # noqa: S310 (http(s) only, checked above)
    return open(source, "rb")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        print(__doc__.split("\n\n")[0])
        print("usage: verify_ledger.py URL|FILE|-")
        return 2
    try:
        with _open(argv[0]) as stream:
            report = check_chain(parse_lines(stream))
    except OSError as exc:
        print(f"cannot read {argv[0]}: {exc}", file=sys.stderr)
        return 2
    print(report.describe())
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
