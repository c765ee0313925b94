"""Import and export of a synthetic full-size archive on PostgreSQL (issue 9's goals).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/bench_archive \
        .venv/bin/python benchmarks/archive_import.py [--scale 1.0] [--folder var/archive]

Generates the archive (``manage.py generate_archive``) if missing, recreates the database,
migrates, then in this process: imports the five files (wall time, peak RSS, seconds per 1,000
items over each tenth of each file), imports them again (nothing may change), and exports the
evaluation tables and papers (time to the first byte, wall, peak RSS growth). Prints one JSON
report. Goals: import < 10 min and < 1 GB, per-row cost flat; second import < 3 min;
export < 200 MB, first byte < 1 s.
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


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--scale", type=float, default=1.0)
    parser.add_argument("--folder", default=str(ROOT / "var" / "archive"))
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    assert url.startswith("postgres"), "run it on PostgreSQL (DATABASE_URL=postgres://...)"
    folder = Path(args.folder) / f"scale-{args.scale}"
    py = sys.executable
    if not (folder / "evaluation-tables.json.gz").exists():
        subprocess.run([py, "manage.py", "generate_archive", str(folder), "--scale",
                        str(args.scale)], cwd=ROOT, check=True)  # fmt: skip
    name = url.rsplit("/", 1)[1]
    admin = url.rsplit("/", 1)[0] + "/postgres"
    import psycopg

    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    subprocess.run([py, "manage.py", "migrate", "-v0"], cwd=ROOT, check=True)

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from leaderboard.archive import IMPORT_ORDER, detect_kind, import_file
    from leaderboard.archive.common import Context, ImportReport
    from leaderboard.archive.export import evaluation_tables, papers

    files = sorted(folder.glob("*.json.gz"), key=lambda p: IMPORT_ORDER.index(detect_kind(p)))
    report = {"scale": args.scale, "load_before": os.getloadavg(), "cpus": os.cpu_count()}

    def run_import(label):
        rep = ImportReport()
        ctx = Context(rep)
        start = time.monotonic()
        per_file = {}
        for path in files:
            stamps = []
            t0 = time.monotonic()
            import_file(path, rep, ctx, progress=lambda s=stamps: s.append(time.monotonic()))
            total = len(stamps)
            tenths = []
            if total >= 10:
                for k in range(10):
                    a, b = stamps[k * total // 10], stamps[min(total - 1, (k + 1) * total // 10)]
                    items = max(1, (k + 1) * total // 10 - k * total // 10)
                    tenths.append(round((b - a) / items * 1000, 3))
            per_file[path.name] = {
                "items": total + 1,
                "seconds": round(time.monotonic() - t0, 1),
                "s_per_1000_items_by_tenth": tenths,
            }
        report[label] = {
            "wall_s": round(time.monotonic() - start, 1),
            "peak_rss_mb": round(rss_mb(), 1),
            "files": per_file,
            "summary": rep.summary(),
            "warnings": rep.warning_count,
        }

    run_import("import")
    run_import("second_import")
    for label, make in (("export_evaluation_tables", evaluation_tables), ("export_papers", papers)):
        before = current_rss_mb()
        start = time.monotonic()
        first = None
        size = 0
        peak = before
        for i, chunk in enumerate(make()):
            if first is None:
                first = time.monotonic() - start
            size += len(chunk.encode())
            if i % 500 == 0:
                peak = max(peak, current_rss_mb())
        report[label] = {
            "first_byte_s": round(first, 3),
            "wall_s": round(time.monotonic() - start, 1),
            "bytes": size,
            "rss_growth_mb": round(peak - before, 1),
        }
    report["load_after"] = os.getloadavg()
    print(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
