"""``import_archive --fetch``: the archive's five files, downloaded, resumable and checked.

Each file is fetched from ``--base-url`` (else ``settings.ARCHIVE_URL``: $VERISOTA_ARCHIVE_URL,
else Papers With Code's own address, ``BASE_URL``) into ``--dir`` (default ``VAR_DIR/archive``).
A partial download (``NAME.part``) is resumed with an HTTP Range request; a server that ignores
the range sends the whole file again and the part is started over. Checked before it is kept:

- the size: the bytes received must be the length the server announced (``Content-Length``,
  or the total of a ``Content-Range``); a short file stays a ``.part``, to be resumed;
- the SHA-256, when one is known: ``--sha256 NAME=SUM``, else the mirror's ``SHA256SUMS`` (in
  ``sha256sum``'s format) if it serves one. A file whose sum is wrong is removed, never kept.
  Papers With Code published no sums: without one only the size is checked, and the command
  says so.

A file already in the folder whose size (and sum, if known) is right is not fetched again.
Same design as ``maml_ref download`` (which this app may not import).
"""

from __future__ import annotations

import hashlib
import http.client
import os
import re
import sys
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings

BASE_URL = "https://production-media.paperswithcode.com/about"
BASE_URL_ENV = "VERISOTA_ARCHIVE_URL"
FILES = (
    "papers-with-abstracts.json.gz",
    "links-between-papers-and-code.json.gz",
    "evaluation-tables.json.gz",
    "methods.json.gz",
    "datasets.json.gz",
)
SUMS_FILE = "SHA256SUMS"
CHUNK = 1 << 16
TIMEOUT_SECONDS = 30
MAX_SUMS_BYTES = 64 * 1024


class FetchError(Exception):
    """A download that cannot finish: unreachable, refused, short, or a wrong checksum."""


def default_dir() -> Path:
    return Path(settings.VAR_DIR) / "archive"


def resolve_base_url(given: str | None = None) -> str:
    return (given or settings.ARCHIVE_URL or BASE_URL).rstrip("/")


def parse_sums(pairs) -> dict:
    """``["NAME=SUM", ...]`` (``--sha256``) as {name: sum}; ValueError naming a bad one."""
    sums = {}
    for pair in pairs or []:
        name, _, value = pair.partition("=")
        if name not in FILES or not re.fullmatch(r"[0-9a-f]{64}", value):
            raise ValueError(
                f"--sha256 {pair!r}: expected NAME=SUM, NAME one of {', '.join(FILES)} and SUM "
                "64 lower-case hex digits"
            )
        sums[name] = value
    return sums


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _open(url: str, have: int = 0):
    request = urllib.request.Request(url, headers={"User-Agent": "verisota-import-archive"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    return urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS)


def mirror_sums(base: str) -> dict:
    """The mirror's ``SHA256SUMS`` as {name: sum}, or {} if it serves none."""
    try:
        with _open(f"{base}/{SUMS_FILE}") as response:
            text = response.read(MAX_SUMS_BYTES).decode("utf-8", "replace")
    except (urllib.error.URLError, OSError):
        return {}
    sums = {}
    for line in text.splitlines():
        match = re.fullmatch(r"([0-9a-fA-F]{64})\s+\*?(\S+)\s*", line)
        if match and match.group(2) in FILES:
            sums[match.group(2)] = match.group(1).lower()
    return sums


def _total(response, have: int, resumed: bool) -> int | None:
    """The whole file's size the server announced, if it did."""
    if resumed:
        match = re.search(r"/(\d+)\s*$", response.headers.get("Content-Range") or "")
        if match:
            return int(match.group(1))
    length = response.headers.get("Content-Length")
    if length and length.isdigit():
        return (have if resumed else 0) + int(length)
    return None


def fetch(url: str, dest: Path, expected_sha256: str | None, *, progress: bool = True) -> Path:
    """``url`` to ``dest``, resuming ``dest.part``; FetchError if it comes short or its sum is
    wrong. Returns ``dest``."""
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    try:
        response = _open(url, have)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the part is whole already: checked below
            response = None
        else:
            raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        why = getattr(exc, "reason", exc)
        raise FetchError(
            f"cannot reach {url} ({why}); point --base-url (or ${BASE_URL_ENV}) at a mirror, "
            f"or put the five files in {dest.parent} and import them with --all"
        ) from None
    total = None
    if response is not None:
        with response:
            resumed = bool(have) and response.status == 206
            if not resumed:
                have = 0  # the whole file: start over
            total = _total(response, have, resumed)
            bar = _bar(dest.name, total, have, progress)
            try:
                with open(part, "ab" if resumed else "wb") as out:
                    while block := response.read(CHUNK):
                        out.write(block)
                        bar.update(len(block))
            except (OSError, http.client.HTTPException) as exc:  # IncompleteRead among them
                raise FetchError(
                    f"{url}: interrupted after {part.stat().st_size} bytes ({exc}); run the "
                    "command again to resume"
                ) from None
            finally:
                bar.close()
    got_size = part.stat().st_size
    if total is not None and got_size != total:
        raise FetchError(
            f"{dest.name}: {got_size} bytes of {total}; run the command again to resume"
        )
    if expected_sha256:
        got = sha256_of(part)
        if got != expected_sha256:
            part.unlink()
            raise FetchError(
                f"{dest.name}: SHA-256 {got}, expected {expected_sha256}: the file was "
                "removed; run the command again (a mirror that serves another file will fail "
                "the same way)"
            )
    os.replace(part, dest)
    return dest


def _bar(name: str, total: int | None, initial: int, enabled: bool):
    from tqdm import tqdm

    return tqdm(
        total=total,
        initial=initial,
        desc=name,
        unit="B",
        unit_scale=True,
        unit_divisor=1024,
        file=sys.stderr,
        disable=not enabled,
    )


def _already_there(dest: Path, url: str, expected: str | None) -> bool:
    """A file fetched before: kept if its sum is right, or (without a sum) if its size is the
    one the server announces now."""
    if not dest.is_file():
        return False
    if expected:
        return sha256_of(dest) == expected
    try:
        request = urllib.request.Request(url, method="HEAD")
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            length = response.headers.get("Content-Length")
    except (urllib.error.URLError, OSError):
        return False
    return bool(length and length.isdigit() and int(length) == dest.stat().st_size)


def fetch_archive(
    directory=None, *, base_url: str | None = None, sums=None, progress=True, say=print
) -> list[Path]:
    """The five files in ``directory`` (fetched where missing); their paths."""
    folder = Path(directory) if directory else default_dir()
    folder.mkdir(parents=True, exist_ok=True)
    base = resolve_base_url(base_url)
    known = {**mirror_sums(base), **(sums or {})}
    if len(known) < len(FILES):
        missing = [n for n in FILES if n not in known]
        say(
            f"No SHA-256 known for {', '.join(missing)} (the mirror serves no {SUMS_FILE}): "
            "their size is checked, not their content."
        )
    paths = []
    for name in FILES:
        url, dest = f"{base}/{name}", folder / name
        if _already_there(dest, url, known.get(name)):
            say(f"{name}: already in {folder}, checked.")
        else:
            fetch(url, dest, known.get(name), progress=progress)
            checked = "size and SHA-256" if known.get(name) else "size"
            size = dest.stat().st_size
            say(f"{name}: downloaded into {folder} ({size} bytes, {checked} checked).")
        paths.append(dest)
    return paths
