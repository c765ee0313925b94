"""``import_archive`` as a command: one import at a time across processes (real processes on
the test database, PostgreSQL's advisory lock or SQLite's lock file), and ``--fetch`` from a
local HTTP server (resume, size and SHA-256 checks), then the import."""

import gzip
import hashlib
import http.server
import json
import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from leaderboard.archive import lock as archive_lock
from leaderboard.models import Benchmark, Method, Result, Task

ROOT = Path(__file__).resolve().parents[2]


def tables(n_tasks: int = 40, n_rows: int = 25) -> list:
    return [
        {
            "task": f"Task {t}",
            "datasets": [
                {
                    "dataset": f"Dataset {t}",
                    "sota": {
                        "metrics": ["Accuracy"],
                        "rows": [
                            {
                                "model_name": f"Model {t}-{r}",
                                "metrics": {"Accuracy": f"{50 + r * 0.5:.2f}"},
                                "paper_title": f"Paper {t}-{r}",
                                "paper_url": f"https://openreview.net/forum?id=t{t}r{r}",
                                "paper_date": "2020-01-01",
                            }
                            for r in range(n_rows)
                        ],
                    },
                }
            ],
        }
        for t in range(n_tasks)
    ]


def manage_env() -> dict:
    """The environment of a ``manage.py`` process that uses this test's database."""
    db = connection.settings_dict
    if connection.vendor == "postgresql":
        auth = db["USER"] + (f":{db['PASSWORD']}" if db.get("PASSWORD") else "")
        url = f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    else:
        url = f"sqlite:///{db['NAME']}"
    return {**os.environ, "DATABASE_URL": url, "PYTHONUNBUFFERED": "1"}


def start(*args) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "manage.py", "import_archive", *args],
        cwd=ROOT,
        env=manage_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


class Lines:
    """A process's stderr, read by a thread, line by line."""

    def __init__(self, stream):
        self.lines: queue.Queue = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, args=(stream,), daemon=True).start()

    def _read(self, stream):
        for line in stream:
            self.lines.put(line)

    def wait_for(self, text: str, timeout: float = 60) -> str:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=0.2)
            except queue.Empty:
                continue
            self.seen.append(line)
            if text in line:
                return line
        raise AssertionError(f"{text!r} not seen in {self.seen[-5:]}")

    def rest(self) -> str:
        while not self.lines.empty():
            self.seen.append(self.lines.get())
        return "".join(self.seen)


class HeldLock:
    """The import lock held from outside the processes under test, as a running import holds
    it: a second PostgreSQL session's advisory lock, or the SQLite lock file's flock."""

    def __enter__(self):
        if connection.vendor == "postgresql":
            import psycopg

            db = connection.settings_dict
            self.conn = psycopg.connect(
                host=db["HOST"] or "127.0.0.1",
                port=db["PORT"] or 5432,
                user=db["USER"],
                password=db.get("PASSWORD") or None,
                dbname=db["NAME"],
                autocommit=True,
            )
            self.conn.execute("SELECT pg_advisory_lock(%s)", [archive_lock.KEY])
        else:
            import fcntl

            self.file = open(archive_lock._lock_file(), "a+")  # noqa: SIM115
            fcntl.flock(self.file, fcntl.LOCK_EX)
            self.file.seek(0)
            self.file.truncate()
            self.file.write("424242")
            self.file.flush()
        return self

    def __exit__(self, *exc):
        if connection.vendor == "postgresql":
            self.conn.execute("SELECT pg_advisory_unlock(%s)", [archive_lock.KEY])
            self.conn.close()
        else:
            import fcntl

            fcntl.flock(self.file, fcntl.LOCK_UN)
            self.file.close()


@pytest.mark.django_db(transaction=True)
def test_two_imports_of_one_file_at_once_import_it_once(tmp_path):
    path = tmp_path / "evaluation-tables.json"
    path.write_text(json.dumps(tables()))
    first, second = start(str(path)), start(str(path))
    done = [p.communicate(timeout=600) for p in (first, second)]
    assert [p.returncode for p in (first, second)] == [0, 0], [e[-2000:] for _, e in done]
    outs = sorted(out for out, _ in done)
    created = [o for o in outs if "results: 1000 created" in o]
    unchanged = [o for o in outs if "results: 0 created, 0 updated, 1000 unchanged" in o]
    assert len(created) == 1 and len(unchanged) == 1, outs  # one import; the other found it all
    assert Result.objects.count() == 1000 and Task.objects.count() == 40
    assert Benchmark.objects.count() == 40


@pytest.mark.django_db(transaction=True)
def test_an_import_waits_for_the_running_one_and_says_so(tmp_path):
    path = tmp_path / "evaluation-tables.json"
    path.write_text(json.dumps(tables(3, 4)))
    with HeldLock():
        waiting = start(str(path))
        err = Lines(waiting.stderr)
        line = err.wait_for("another archive import is running")
        assert "waiting for it to finish" in line
        time.sleep(0.5)
        assert waiting.poll() is None and not Result.objects.exists()  # it waits, writes nothing
    out, _ = waiting.communicate(timeout=300)
    assert waiting.returncode == 0, err.rest()[-2000:]
    assert "results: 12 created" in out and Result.objects.count() == 12


@pytest.mark.django_db(transaction=True)
def test_with_no_wait_a_second_import_is_refused_with_a_message(tmp_path):
    path = tmp_path / "evaluation-tables.json"
    path.write_text(json.dumps(tables(3, 4)))
    with HeldLock():
        refused = start("--no-wait", str(path))
        out, err = refused.communicate(timeout=300)
    assert refused.returncode != 0
    assert "another archive import is running" in err and "nothing was imported" in err
    assert not Result.objects.exists()


# ---- --fetch -------------------------------------------------------------------------------


class Server:
    """A local HTTP server of a folder, with Range requests (and a log of the ranges asked)."""

    def __init__(self, folder: Path, cut: dict | None = None):
        self.folder, self.cut, self.ranges = folder, cut or {}, []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, body_too: bool):
                path = server.folder / self.path.lstrip("/").split("?")[0]
                if not path.is_file():
                    self.send_error(404)
                    return
                data = path.read_bytes()
                start = 0
                header = self.headers.get("Range")
                if header and header.startswith("bytes="):
                    server.ranges.append((path.name, header))
                    start = int(header[6:].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                self.send_header("Content-Length", str(len(data) - start))
                self.end_headers()
                if body_too:
                    body = data[start:]
                    if path.name in server.cut:  # the connection drops part-way
                        body = body[: server.cut.pop(path.name)]
                    self.wfile.write(body)

            def do_GET(self):
                self._send(True)

            def do_HEAD(self):
                self._send(False)

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/archive"
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


def mirror(folder: Path, with_sums: bool = True) -> dict:
    """The five files, gzipped, as a mirror serves them (and its SHA256SUMS)."""
    site = folder / "archive"
    site.mkdir(parents=True)
    content = {
        "evaluation-tables.json.gz": tables(4, 5),
        "papers-with-abstracts.json.gz": [
            {
                "paper_url": f"https://paperswithcode.com/paper/p{i}",
                "title": f"Paper P{i}",
                "abstract": "x" * 2000,
                "authors": ["Ada Lovelace"],
                "date": "2019-01-01",
            }
            for i in range(300)
        ],  # fmt: skip
        "links-between-papers-and-code.json.gz": [
            {
                "paper_url": "https://paperswithcode.com/paper/p1",
                "paper_title": "Paper P1",
                "repo_url": "https://github.com/lab/p1",
                "is_official": True,
                "framework": "pytorch",
            }
        ],  # fmt: skip
        "methods.json.gz": [
            {
                "url": "https://paperswithcode.com/method/maml",
                "name": "MAML",
                "collections": [],
                "introduced_year": 2017,
                "num_papers": 321,
            }
        ],  # fmt: skip
        "datasets.json.gz": [
            {
                "url": "https://paperswithcode.com/dataset/omniglot-1",
                "name": "OMNIGLOT",
                "modalities": ["Images"],
                "num_papers": 500,
            }
        ],  # fmt: skip
    }
    sums = {}
    for name, items in content.items():
        data = gzip.compress(json.dumps(items).encode(), mtime=0)
        (site / name).write_bytes(data)
        sums[name] = hashlib.sha256(data).hexdigest()
    if with_sums:
        text = "".join(f"{digest}  {name}\n" for name, digest in sums.items())
        (site / "SHA256SUMS").write_text(text)
    return sums


@pytest.fixture
def served(tmp_path):
    sums = mirror(tmp_path / "mirror")
    server = Server(tmp_path / "mirror")
    yield server, sums
    server.close()


@pytest.mark.django_db
def test_fetch_downloads_the_five_files_checked_then_imports_them(served, tmp_path, capsys):
    server, sums = served
    target = tmp_path / "fetched"
    call_command("import_archive", "--fetch", "--base-url", server.url, "--dir", str(target))
    out = capsys.readouterr().out
    for name, digest in sums.items():
        assert hashlib.sha256((target / name).read_bytes()).hexdigest() == digest
        assert f"{name}: downloaded into {target}" in out and "size and SHA-256 checked" in out
    assert Result.objects.count() == 20 and Method.objects.get().num_papers == 321
    assert "Summary: " in out
    # Run again: nothing is downloaded twice (the files are checked where they are).
    call_command("import_archive", "--fetch", "--base-url", server.url, "--dir", str(target))
    out = capsys.readouterr().out
    assert out.count("already in") == 5 and Result.objects.count() == 20


@pytest.mark.django_db
def test_fetch_resumes_a_partial_file_with_a_range_request(served, tmp_path, capsys):
    server, sums = served
    target = tmp_path / "fetched"
    target.mkdir()
    name = "papers-with-abstracts.json.gz"
    whole = (tmp_path / "mirror" / "archive" / name).read_bytes()
    (target / f"{name}.part").write_bytes(whole[:1000])
    call_command("import_archive", "--fetch", "--base-url", server.url, "--dir", str(target))
    assert (name, "bytes=1000-") in server.ranges
    assert (target / name).read_bytes() == whole and not (target / f"{name}.part").exists()


@pytest.mark.django_db
def test_fetch_keeps_a_cut_download_to_resume_and_imports_nothing(tmp_path, capsys):
    mirror(tmp_path / "mirror", with_sums=False)
    name = "papers-with-abstracts.json.gz"
    server = Server(tmp_path / "mirror", cut={name: 700})
    try:
        target = tmp_path / "fetched"
        with pytest.raises(CommandError, match=rf"{name}.*(bytes of|interrupted)"):
            call_command(
                "import_archive", "--fetch", "--base-url", server.url, "--dir", str(target)
            )
        assert (target / f"{name}.part").stat().st_size == 700
        assert not Result.objects.exists()
        # Again: it resumes from byte 700; no sums published, so the size is what is checked.
        call_command("import_archive", "--fetch", "--base-url", server.url, "--dir", str(target))
        out = capsys.readouterr().out
        assert (name, "bytes=700-") in server.ranges
        assert "No SHA-256 known for" in out and f"{name}: downloaded into" in out
        assert Result.objects.count() == 20
    finally:
        server.close()


@pytest.mark.django_db
def test_fetch_refuses_a_file_whose_checksum_is_wrong(served, tmp_path):
    server, sums = served
    target = tmp_path / "fetched"
    wrong = "0" * 64
    with pytest.raises(CommandError, match="SHA-256 .* expected 0{64}: the file was removed"):
        call_command(
            "import_archive",
            "--fetch",
            "--base-url",
            server.url,
            "--dir",
            str(target),
            "--sha256",
            f"evaluation-tables.json.gz={wrong}",
        )
    assert not (target / "evaluation-tables.json.gz").exists()
    assert not (target / "evaluation-tables.json.gz.part").exists()
    assert not Result.objects.exists()


@pytest.mark.django_db
def test_fetch_says_where_to_put_the_files_when_the_mirror_is_unreachable(tmp_path):
    with pytest.raises(CommandError, match="cannot reach http://127.0.0.1:9/archive/"):
        call_command(
            "import_archive", "--fetch", "--base-url", "http://127.0.0.1:9/archive", "--dir",
            str(tmp_path),
        )  # fmt: skip


@pytest.mark.django_db
def test_fetch_uses_the_configured_mirror_without_base_url(served, tmp_path, settings, capsys):
    server, _ = served
    settings.ARCHIVE_URL = server.url  # VERISOTA_ARCHIVE_URL in the environment
    call_command("import_archive", "--fetch", "--dir", str(tmp_path / "fetched"))
    assert capsys.readouterr().out.count("downloaded into") == 5
    assert Result.objects.count() == 20
