"""The export is written once per catalogue version and served as a file: a second reader costs
one query (the version), a reader holding the version gets a 304, a catalogue write gives a new
file (the old one removed), readers arriving together at a new version write it once, and the
export has a throttle of its own."""

import gzip
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.core.management import call_command
from django.db import connection

from leaderboard import export_files
from leaderboard.archive import evaluation_tables
from leaderboard.models import Paper

URL = "/api/export/evaluation-tables.json"


@pytest.fixture
def seeded(db):
    call_command("load_seed", verbosity=0)


def body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_the_second_reader_is_served_the_file_for_one_query(
    client, seeded, export_dir, django_assert_num_queries
):
    first = client.get(URL)
    assert first.status_code == 200 and first["Content-Type"] == "application/json"
    content = body(first)
    assert content == "".join(evaluation_tables(False)).encode()
    [written] = export_dir.glob("evaluation-tables-plain-*.json")
    assert written.read_bytes() == content
    mtime = written.stat().st_mtime_ns
    with django_assert_num_queries(1):  # the catalogue version
        second = client.get(URL)
        assert body(second) == content
    assert int(second["Content-Length"]) == len(content)
    assert written.stat().st_mtime_ns == mtime
    # The extended export is a file of its own.
    extended = json.loads(body(client.get(URL, {"extended": "1"})))
    assert all(task["verisota_extended"] for task in extended)
    assert len(list(export_dir.glob("evaluation-tables-*.json"))) == 2  # and their gzip copies


def test_a_client_accepting_gzip_gets_the_compressed_copy(client, seeded, export_dir):
    plain = body(client.get(URL))
    r = client.get(URL, HTTP_ACCEPT_ENCODING="gzip, deflate")
    assert r["Content-Encoding"] == "gzip" and "Accept-Encoding" in r["Vary"]
    packed = body(r)
    assert gzip.decompress(packed) == plain and len(packed) < len(plain)
    assert r["ETag"] != client.get(URL)["ETag"]
    assert len(list(export_dir.glob("evaluation-tables-plain-*.json.gz"))) == 1


def test_a_reader_holding_the_version_gets_a_304(client, seeded):
    etag = client.get(URL)["ETag"]
    r = client.get(URL, HTTP_IF_NONE_MATCH=etag)
    assert r.status_code == 304 and r["ETag"] == etag
    Paper.objects.filter(slug__startswith="model-agnostic").update(title="Renamed")
    r = client.get(URL, HTTP_IF_NONE_MATCH=etag)
    assert r.status_code == 200 and r["ETag"] != etag


def test_a_catalogue_write_gives_a_new_file_and_removes_the_old(client, seeded, export_dir):
    before = body(client.get(URL))
    [old] = export_dir.glob("evaluation-tables-plain-*.json")
    Paper.objects.filter(slug__startswith="model-agnostic").update(
        url="https://example.org/renamed-paper"
    )
    after = body(client.get(URL))
    assert after != before and b"https://example.org/renamed-paper" in after
    [new] = export_dir.glob("evaluation-tables-plain-*.json")
    assert new != old and not old.exists()
    assert [p.name for p in export_dir.glob("*.gz")] == [new.name + ".gz"]


@pytest.mark.django_db(transaction=True)
def test_readers_arriving_together_write_the_file_once(client, export_dir, monkeypatch):
    call_command("load_seed", verbosity=0)
    calls = []
    real = export_files.evaluation_tables

    def slow_tables(extended):
        calls.append(extended)
        time.sleep(0.5)  # long enough for every reader to arrive while it is written
        yield from real(extended)

    monkeypatch.setattr(export_files, "evaluation_tables", slow_tables)
    start = threading.Barrier(6)

    def read(_):
        start.wait(timeout=30)
        try:
            found = export_files.export_file(False)
            return found[0].read_bytes()
        finally:
            connection.close()

    with ThreadPoolExecutor(6) as pool:
        contents = list(pool.map(read, range(6)))
    assert calls == [False]
    assert len(set(contents)) == 1 and json.loads(contents[0])


def test_the_export_has_its_own_throttle(client, seeded, settings):
    settings.THROTTLE_EXPORT = "2/hour"
    assert client.get(URL).status_code == 200
    assert client.get(URL, {"extended": "1"}).status_code == 200
    r = client.get(URL)
    assert r.status_code == 429
    assert 0 < int(r["Retry-After"]) <= 3600
    assert "throttled" in r.json()["detail"]
    # Other reads are not counted against it.
    assert client.get("/api/results/").status_code == 200
