"""``python -m maml_ref download omniglot``: the two original archives, checked and resumable.

Fetches ``images_background.zip`` and ``images_evaluation.zip`` from the dataset's own
repository (github.com/brendenlake/omniglot, ``python/``), checks the MD5 sums torchvision checks,
and leaves them in the data directory, where the loader reads them as they are (it resizes and
caches them on first use). A partial download (``NAME.part``) is resumed with an HTTP Range
request; a file whose sum is wrong is removed, never kept. Offline, it fails at once with the
URLs and the folder to put the files in.

The base URL is ``--base-url``, else $MAML_OMNIGLOT_URL, else the repository's raw folder (the
tests point it at a local server). ``--md5 NAME=SUM`` replaces a published sum (a mirror that
repacked the files, or archives a test built): the file is still checked, against that sum.
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from . import datadir

BASE_URL = "https://github.com/brendenlake/omniglot/raw/master/python"
BASE_URL_ENV = "MAML_OMNIGLOT_URL"
#: The published MD5 sums (the ones torchvision's Omniglot dataset checks).
MD5 = {
    "images_background.zip": "68d2efa1b9178cc56df9314c21c6e718",
    "images_evaluation.zip": "6b91aef0f799c5bb55b94e3f2daec811",
}
CHUNK = 1 << 16
TIMEOUT_SECONDS = 20


class DownloadError(Exception):
    """A download that cannot finish: unreachable, refused, or a wrong checksum."""


def md5_of(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def base_url(given: str | None = None) -> str:
    return (given or os.environ.get(BASE_URL_ENV) or BASE_URL).rstrip("/")


def _offline_message(url: str, target: Path, why: object) -> str:
    names = " and ".join(MD5)
    return (
        f"cannot reach {url} ({why}). Fetch {names} from {BASE_URL}/ by another way and put "
        f"them in {target} (or point --base-url / ${BASE_URL_ENV} at a mirror), then run this "
        "command again to check them"
    )


def fetch(url: str, dest: Path, expected_md5: str, *, progress: bool = True) -> Path:
    """``url`` to ``dest``, resuming ``dest.part``; DownloadError on a wrong MD5 sum."""
    if dest.is_file() and md5_of(dest) == expected_md5:
        return dest
    part = dest.with_name(dest.name + ".part")
    have = part.stat().st_size if part.is_file() else 0
    request = urllib.request.Request(url, headers={"User-Agent": "maml_ref-download"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    try:
        response = urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and have:  # the part is whole already: check it below
            response = None
        else:
            raise DownloadError(f"{url}: HTTP {exc.code} {exc.reason}") from None
    except (urllib.error.URLError, OSError) as exc:
        why = getattr(exc, "reason", exc)
        raise DownloadError(_offline_message(url, dest.parent, why)) from None
    if response is not None:
        with response:
            resumed = have and response.status == 206
            if not resumed:
                have = 0  # the server sent the whole file: start over
            length = response.headers.get("Content-Length")
            total = have + int(length) if length and length.isdigit() else None
            bar = _bar(dest.name, total, have, progress)
            try:
                with open(part, "ab" if resumed else "wb") as out:
                    while block := response.read(CHUNK):
                        out.write(block)
                        bar.update(len(block))
            except OSError as exc:
                raise DownloadError(
                    f"{url}: interrupted after {part.stat().st_size} bytes ({exc}); run the "
                    "command again to resume"
                ) from None
            finally:
                bar.close()
    got = md5_of(part)
    if got != expected_md5:
        part.unlink()
        raise DownloadError(
            f"{dest.name}: MD5 {got}, expected {expected_md5}: the file was removed; run the "
            "command again (a mirror that serves another file will fail the same way)"
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


def download_omniglot(
    target: str | Path | None = None,
    *,
    url: str | None = None,
    progress: bool = True,
    expected_md5: Mapping[str, str] | None = None,
) -> Path:
    """Both archives into ``target`` (default: the data directory by maml_ref's rule).

    ``expected_md5``: the sums to check instead of the published ones (``--md5``: a repacked
    mirror, or archives a test built); the published sums are the default.
    """
    directory = datadir.data_dir(target)
    directory.mkdir(parents=True, exist_ok=True)
    sums = dict(expected_md5 or MD5)
    base = base_url(url)
    for name, md5 in sums.items():
        fetch(f"{base}/{name}", directory / name, md5, progress=progress)
    return directory
