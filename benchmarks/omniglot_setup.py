"""The local part of getting Omniglot: download command + first load, without the network.

    .venv/bin/python benchmarks/omniglot_setup.py [--data-dir ../shared/data/omniglot]

This machine has no internet, so the download's transfer over a real link cannot be timed here.
What can: the two archives, rebuilt in the original layout from the data present (the tests'
``omniglot_zip``: 1-bit PNGs, deflated, about the size of the originals), served by a local HTTP
server; ``python -m maml_ref download omniglot`` fetching and MD5-checking them (loopback, so the
transfer costs next to nothing), then the first load, which decodes and resizes all 32,460
images and writes the cache. Prints one JSON report with the archives' sizes, so the network
time can be added for a given link speed.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from maml_ref import datadir  # noqa: E402
from maml_ref.data.omniglot import find_sources, load_omniglot  # noqa: E402
from tests.maml_ref.omniglot_server import ArchiveServer, md5, omniglot_zip  # noqa: E402


def archives(source: Path) -> dict[str, bytes]:
    out, first_id = {}, 1
    for path in find_sources(source):
        if path.suffix == ".zip":
            out[path.name] = path.read_bytes()
            continue
        with np.load(path, allow_pickle=False) as f:
            images = f["images"]  # (chars, 20, 105, 105) bool, True = background
        out[f"{path.stem}.zip"] = omniglot_zip(path.stem, images, first_id)
        first_id += images.shape[0]
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default=None)
    args = parser.parse_args()
    source = datadir.omniglot_dir(datadir.data_dir(args.data_dir))
    if source is None:
        sys.exit("no Omniglot data to rebuild the archives from (set MAML_DATA_DIR)")
    files = archives(source)
    with tempfile.TemporaryDirectory() as work, ArchiveServer(files) as server:
        target, cache = Path(work) / "omniglot", Path(work) / "cache"
        sums = [f"--md5={name}={md5(data)}" for name, data in files.items()]
        began = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "maml_ref", "download", "omniglot", "--dir", str(target)]
            + ["--base-url", server.url, *sums],
            cwd=ROOT,
            capture_output=True,
            text=True,
            env={**os.environ, "MAML_CACHE_DIR": str(cache)},
        )
        download_s = time.perf_counter() - began
        if done.returncode != 0:
            sys.exit(done.stderr)
        began = time.perf_counter()
        images = load_omniglot(target, cache)
        first_load_s = time.perf_counter() - began
        began = time.perf_counter()
        load_omniglot(target, cache)
        cached_load_s = time.perf_counter() - began
    report = {
        "archive_bytes": {name: len(data) for name, data in files.items()},
        "download_command_s_loopback": round(download_s, 2),
        "first_load_s": round(first_load_s, 2),
        "cached_load_s": round(cached_load_s, 3),
        "images": list(images.shape),
        "load_average": os.getloadavg(),
    }
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
