"""Import and export of a synthetic full-size archive on PostgreSQL (issue 9's goals).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_archive \
        .venv/bin/python benchmarks/archive_import.py [--scale 1.0] [--folder DIR] \
        [--steps import,second,export]

``--folder DIR`` holding the five ``*.json.gz`` is used as it is; without one, the archive is
generated (``manage.py generate_archive``) into ``var/archive/scale-S`` if missing. Steps, each
in this process, so that they can be timed as separate runs (peak RSS is the process's):

- ``import``: recreates the database, migrates, imports the five files (wall time, peak RSS,
  ms per item over each tenth of each file);
- ``second``: imports the same files again into the database as it is; it must report
  0 created and 0 updated in every kind ("nothing_changed");
- ``export``: streams each of the five export files (time to the first chunk, wall, bytes,
  RSS growth over the RSS before it).

Prints one JSON report (with the load average before and after, CPUs and torch threads).
Goals: import < 10 min and < 1 GB, per-row cost flat; second import < 3 min; export < 200 MB,
first byte < 1 s.
"""

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def current_rss_mb() -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def torch_threads():
    """torch's thread count, asked in another process (torch is not loaded here: the import
    does not use it, and it would add its own memory to the peak RSS measured)."""
    probe = [sys.executable, "-c", "import torch; print(torch.get_num_threads())"]
    done = subprocess.run(probe, capture_output=True, text=True)
    return int(done.stdout) if done.returncode == 0 else None


def recreate_database(url: str, py: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)


def tenths(stamps: list) -> list:
    """ms per item over each tenth of a file's items (from the time each item was read)."""
    total = len(stamps)
    if total < 10:
        return []
    out = []
    for k in range(10):
        a, b = k * total // 10, min(total - 1, (k + 1) * total // 10)
        out.append(round((stamps[b] - stamps[a]) / max(1, b - a) * 1000, 3))
    return out


def run_import(files) -> dict:
    from leaderboard.archive import import_file
    from leaderboard.archive.common import Context, ImportReport

    rep = ImportReport()
    ctx = Context(rep)
    start = time.monotonic()
    per_file = {}
    for path in files:
        stamps = []
        t0 = time.monotonic()
        import_file(path, rep, ctx, progress=lambda s=stamps: s.append(time.monotonic()))
        per_file[path.name] = {
            "items": len(stamps) + 1,
            "seconds": round(time.monotonic() - t0, 1),
            "ms_per_item_by_tenth": tenths(stamps),
        }
    changed = {kind: dict(c) for kind, c in rep.counts.items() if c["created"] or c["updated"]}
    return {
        "wall_s": round(time.monotonic() - start, 1),
        "peak_rss_mb": round(rss_mb(), 1),
        "files": per_file,
        "summary": rep.summary(),
        "created_or_updated": changed,
        "nothing_changed": not changed,
        "warnings": rep.warning_count,
    }


def run_exports() -> dict:
    from leaderboard.archive import EXPORTS

    out = {}
    for kind, make in EXPORTS.items():
        before = current_rss_mb()
        start = time.monotonic()
        first = None
        size = 0
        peak = before
        for i, chunk in enumerate(make()):
            if first is None:
                first = time.monotonic() - start
            size += len(chunk.encode())
            if i % 200 == 0:
                peak = max(peak, current_rss_mb())
        peak = max(peak, current_rss_mb())
        out[kind] = {
            "first_byte_s": round(first, 3),
            "wall_s": round(time.monotonic() - start, 1),
            "bytes": size,
            "rss_before_mb": round(before, 1),
            "rss_growth_mb": round(peak - before, 1),
        }
    out["peak_rss_mb"] = round(rss_mb(), 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--folder", help="a folder holding the five *.json.gz (used as it is)")
    parser.add_argument("--steps", default="import,second,export")
    args = parser.parse_args()
    steps = args.steps.split(",")
    url = os.environ.get("DATABASE_URL", "")
    assert url.startswith("postgres"), "run it on PostgreSQL (DATABASE_URL=postgres://...)"
    py = sys.executable
    if args.folder:
        folder = Path(args.folder)
    else:
        folder = ROOT / "var" / "archive" / f"scale-{args.scale}"
        if not (folder / "evaluation-tables.json.gz").exists():
            subprocess.run([py, "manage.py", "generate_archive", str(folder), "--scale",
                            str(args.scale)], cwd=ROOT, check=True)  # fmt: skip
    if "import" in steps:
        recreate_database(url, py)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from leaderboard.archive import IMPORT_ORDER, detect_kind

    files = sorted(folder.glob("*.json.gz"), key=lambda p: IMPORT_ORDER.index(detect_kind(p)))
    report = {
        "folder": str(folder),
        "steps": steps,
        "load_before": os.getloadavg(),
        "cpus": os.cpu_count(),
        "torch_threads": torch_threads(),
    }
    if "import" in steps:
        report["import"] = run_import(files)
    if "second" in steps:
        report["second_import"] = run_import(files)
    if "export" in steps:
        report["export"] = run_exports()
    report["load_after"] = os.getloadavg()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
