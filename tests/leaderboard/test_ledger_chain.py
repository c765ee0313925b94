"""The ledger's hash chain (``leaderboard/results/ledger_chain.py``, docs/ledger.md): entries the
database
refuses to change, ``verify_ledger`` naming the first entry the site or the chain no longer
matches, the JSON lines a reader checks with the stand-alone script, the admin's corrections."""

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, connection, transaction

from leaderboard.models import Benchmark, LedgerEntry, Metric, Result
from leaderboard.results import ledger_chain
from leaderboard.results.ledger_hash import GENESIS, canonical, entry_hash

from .conftest import make_verified

pytestmark = pytest.mark.usefixtures("seeded")
SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "verify_ledger.py"
PG_ONLY = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="PostgreSQL: concurrent writers"
)


@pytest.fixture
def omniglot():
    return Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way")


@pytest.fixture
def accuracy():
    return Metric.objects.get(name="Accuracy")


def published(benchmark, metric, value, model):
    """A verified row and its publication entry, in one transaction (as the evaluator does)."""
    with transaction.atomic():
        row = make_verified(benchmark, metric, value, model=model)
        ledger_chain.append(LedgerEntry.Kind.PUBLICATION, row, reason="within tolerance")
    return row


@pytest.fixture
def three(omniglot, accuracy):
    """Three publications (entries 1-3), then a correction of the second (entry 4)."""
    rows = [published(omniglot, accuracy, v, f"MAML {i}") for i, v in enumerate((61.3, 62.0, 63.1))]
    with transaction.atomic():
        Result.objects.filter(pk=rows[1].pk).update(value=62.2, ci95=0.4)
        rows[1].refresh_from_db()
        ledger_chain.append(LedgerEntry.Kind.CORRECTION, rows[1], reason="re-run #9")
    return rows


def verify_ledger() -> tuple[str, str]:
    """``manage.py verify_ledger``: (what it printed, its error or "")."""
    from io import StringIO

    out = StringIO()
    try:
        call_command("verify_ledger", stdout=out)
    except CommandError as exc:
        return out.getvalue(), str(exc)
    return out.getvalue(), ""


def test_each_entry_chains_to_the_one_before_by_the_documented_recipe(three):
    entries = list(LedgerEntry.objects.order_by("seq"))
    assert [e.seq for e in entries] == [1, 2, 3, 4]
    assert [e.kind for e in entries] == ["publication"] * 3 + ["correction"]
    prev = GENESIS
    for e in entries:
        content = json.loads(e.content)
        assert e.content == canonical(content)  # stored exactly as hashed
        assert e.prev_hash == prev and e.hash == entry_hash(prev, e.content)
        prev = e.hash
    last = json.loads(entries[-1].content)
    assert (last["result"], last["value"], last["ci95"], last["claimed_value"]) == (
        three[1].pk,
        62.2,
        0.4,
        three[1].claimed_value,
    )
    assert last["kind"] == "correction" and last["reason"] == "re-run #9" and last["at"]
    out, error = verify_ledger()
    assert error == ""
    assert f"ledger chain unbroken: 4 entries, head {entries[-1].hash}" in out
    assert "site matches the ledger: 3 results checked" in out


def test_an_edit_behind_the_sites_back_is_named_by_its_entry(three):
    # The site's database edited directly (no correction appended): the third row's value, and
    # the second row's claim. The second row's latest entry (4) is the correction.
    Result.objects.filter(pk=three[2].pk).update(value=70.0)
    Result.objects.filter(pk=three[1].pk).update(claimed_value=99.0)
    out, error = verify_ledger()
    assert "ledger chain unbroken: 4 entries" in out  # the chain itself is intact
    assert error.startswith("2 result(s) do not match the ledger; the first: entry 3 ")
    assert f"entry 3 (result {three[2].pk}) does not match the site" in error
    assert "value is 70.0 on the site, 63.1 in the ledger" in error
    # The first row deleted behind the site's back: its publication (entry 1) is now first.
    Result.objects.filter(pk=three[0].pk).delete()
    _, error = verify_ledger()
    assert f"the first: entry 1 (result {three[0].pk}) does not match the site: " in error
    assert "is gone from the site, not withdrawn" in error


def test_a_verified_row_published_without_an_entry_is_named(three, omniglot, accuracy):
    sneaked = make_verified(omniglot, accuracy, 64.0, model="Sneaked in")
    _, error = verify_ledger()
    assert f"result {sneaked.pk} has no ledger entry" in error


@pytest.mark.parametrize("op", ["instance delete", "queryset delete", "update", "raw update"])
def test_the_database_refuses_to_change_or_delete_an_entry(three, op):
    entry = LedgerEntry.objects.get(seq=2)
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        if op == "instance delete":
            entry.delete()
        elif op == "queryset delete":
            LedgerEntry.objects.all().delete()
        elif op == "update":
            LedgerEntry.objects.filter(seq=2).update(content=entry.content.replace("62", "72"))
        else:
            with connection.cursor() as cursor:
                cursor.execute("UPDATE leaderboard_ledgerentry SET hash = %s", ["0" * 64])
    assert LedgerEntry.objects.count() == 4
    assert LedgerEntry.objects.get(seq=2).content == entry.content


@pytest.mark.skipif(connection.vendor != "postgresql", reason="SQLite has no TRUNCATE")
def test_postgresql_refuses_to_truncate_the_ledger(three):
    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("TRUNCATE leaderboard_ledgerentry")
    assert LedgerEntry.objects.count() == 4


def tamper(sql: str, params=()) -> None:
    """What only the database's owner can do: lift the guard (inside the test's transaction,
    undone with it), change the table, put the guard back."""
    with ledger_chain.guard_lifted(), connection.cursor() as cursor:
        cursor.execute(sql, params)


def served_jsonl(client, tmp_path) -> Path:
    response = client.get("/log.jsonl")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/jsonl; charset=utf-8"
    path = tmp_path / "ledger.jsonl"
    path.write_bytes(b"".join(response.streaming_content))
    return path


def script(path: Path) -> subprocess.CompletedProcess:
    """The stand-alone checker, as a reader runs it: a bare interpreter, no Django."""
    return subprocess.run(
        [sys.executable, "-I", str(SCRIPT), str(path)], capture_output=True, text=True, timeout=60
    )


@pytest.mark.parametrize(
    "how, seq, why",
    [
        ("content", 2, "is not the hash of its content"),
        ("content and hash", 3, "is not the hash of entry 2"),
        ("deleted", 2, "expected entry 2 here, found 3 (an entry is missing)"),
    ],
)
def test_a_tampered_entry_is_named_by_the_command_and_the_script_alike(
    client, tmp_path, three, how, seq, why
):
    entry = LedgerEntry.objects.get(seq=2)
    forged = entry.content.replace('"value":62.0', '"value":72.0')
    assert forged != entry.content
    if how == "content":
        tamper("UPDATE leaderboard_ledgerentry SET content = %s WHERE seq = 2", [forged])
    elif how == "content and hash":  # recomputed, so entry 3 no longer follows it
        new_hash = entry_hash(entry.prev_hash, forged)
        tamper(
            "UPDATE leaderboard_ledgerentry SET content = %s, hash = %s WHERE seq = 2",
            [forged, new_hash],
        )
    else:
        tamper("DELETE FROM leaderboard_ledgerentry WHERE seq = 2")
    out, error = verify_ledger()
    assert error.startswith(f"ledger chain broken at entry {seq}: ") and why in error
    checked = script(served_jsonl(client, tmp_path))
    assert checked.returncode == 1, checked.stderr
    assert checked.stdout.strip() == error == out.strip()


def test_the_served_json_lines_are_every_entry_once_and_the_script_agrees(client, tmp_path, three):
    path = served_jsonl(client, tmp_path)
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert [line["seq"] for line in lines] == [1, 2, 3, 4]
    stored = {e.seq: e for e in LedgerEntry.objects.all()}
    for line in lines:
        e = stored[line["seq"]]
        assert (line["hash"], line["prev_hash"]) == (e.hash, e.prev_hash)
        assert canonical(line["content"]) == e.content
    checked = script(path)
    out, error = verify_ledger()
    assert checked.returncode == 0 and error == ""
    assert checked.stdout.strip() == out.splitlines()[0]
    # A reader who has checked up to entry 2 fetches what came after.
    after = client.get("/log.jsonl?after=2")
    assert [json.loads(x)["seq"] for x in b"".join(after.streaming_content).splitlines()] == [3, 4]
    for bad in ("-1", "x", "1e3", "9" * 40):
        assert client.get("/log.jsonl", {"after": bad}).status_code == 400
    # The script the page links to is the one run here.
    served = client.get("/log/verify_ledger.py")
    assert served.status_code == 200 and b"".join(served.streaming_content) == SCRIPT.read_bytes()


def test_the_script_reads_the_public_url(live_server, three):
    checked = subprocess.run(
        [sys.executable, "-I", str(SCRIPT), f"{live_server.url}/log.jsonl"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    head = LedgerEntry.objects.get(seq=4).hash
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.strip() == f"ledger chain unbroken: 4 entries, head {head}"


def test_a_file_that_is_not_the_ledger_is_refused(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_text('{"seq": 1}\nnot json\n')
    checked = script(path)
    assert checked.returncode == 1
    assert checked.stdout.startswith("ledger chain broken at entry 1: not an entry")
    assert script(tmp_path / "missing.jsonl").returncode == 2


@pytest.mark.django_db(transaction=True)
def test_an_append_outside_a_transaction_is_refused(three):
    """(A transactional test: the others run inside one. Its teardown empties the database,
    ledger included, through ``flush``, which lifts the guard for that alone.)"""
    with pytest.raises(RuntimeError, match="transaction of the change"):
        ledger_chain.append(LedgerEntry.Kind.CORRECTION, three[0])


def test_the_log_page_and_the_feed_carry_corrections_with_their_hashes(client, three):
    correction = LedgerEntry.objects.get(seq=4)
    page = client.get("/log").content.decode()
    assert f'id="ledger-entry-{correction.seq}"' in page and correction.hash[:12] in page
    first = LedgerEntry.objects.get(seq=1)
    assert f"entry #1 · {first.hash[:12]}" in page  # the verified row's publication
    assert 'id="ledger-entry-1"' not in page  # not listed twice
    feed = client.get("/log/feed.atom").content.decode()
    assert "tag:verisota,2026:ledger/4" in feed and correction.hash in feed
    assert f"Ledger entry #1, SHA-256 {first.hash}" in feed


# --- Concurrent appends: one chain ------------------------------------------------------------


@PG_ONLY
@pytest.mark.django_db(transaction=True)
def test_concurrent_appends_make_one_unbroken_chain(omniglot, accuracy, monkeypatch):
    """Eight writers appending at once, each in its own transaction and connection, without the
    catalogue's lock (the ledger's own advisory lock alone): one chain, no fork, no gap."""
    from leaderboard.models import CatalogueVersion

    monkeypatch.setattr(CatalogueVersion, "lock", classmethod(lambda cls: None))
    rows = [published(omniglot, accuracy, 50.0 + i, f"Writer {i}") for i in range(8)]
    barrier = threading.Barrier(len(rows))
    errors = []

    def writer(pk):
        try:
            row = Result.objects.select_related("benchmark", "metric", "model", "paper").get(pk=pk)
            barrier.wait()
            for n in range(5):
                # The append alone: a write to the catalogue first would take the version row's
                # lock (its trigger) and serialise the writers before the ledger's lock does.
                with transaction.atomic():
                    ledger_chain.append(LedgerEntry.Kind.CORRECTION, row, reason=f"{n}")
        except Exception as exc:  # reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=writer, args=(r.pk,)) for r in rows]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    assert list(LedgerEntry.objects.values_list("seq", flat=True)) == list(range(1, 49))
    out, error = verify_ledger()
    assert error == "" and "ledger chain unbroken: 48 entries" in out


# --- The admin: an edit is a correction, a deletion a withdrawal ---------------------------------


@pytest.fixture
def curator(client, staff):
    client.force_login(staff)
    return client


def _admin_form(row, **changes):
    return {
        "benchmark": row.benchmark_id,
        "metric": row.metric_id,
        "model": row.model_id,
        "paper": row.paper_id or "",
        "value": row.value,
        "ci95": row.ci95 if row.ci95 is not None else "",
        "raw_value": row.raw_value,
        **changes,
    }


def test_an_admin_edit_appends_a_correction_and_a_deletion_a_withdrawal(curator, three):
    row = Result.objects.get(value=48.7)  # an archive row of the seed
    url = f"/admin/leaderboard/result/{row.pk}/change/"
    response = curator.post(url, _admin_form(row, value="48.8", raw_value="48.8"))
    assert response.status_code == 302
    entry = LedgerEntry.objects.latest("seq")
    content = json.loads(entry.content)
    assert (entry.seq, entry.kind, entry.result_id) == (5, "correction", row.pk)
    assert (content["value"], content["raw_value"], content["actor"]) == (48.8, "48.8", "staff")
    assert content["reason"] == "edited in the admin (value, raw_value)"
    # A save that changes nothing adds nothing.
    row.refresh_from_db()
    curator.post(url, _admin_form(row))
    assert LedgerEntry.objects.count() == 5
    out, error = verify_ledger()
    assert error == "" and "4 results checked" in out
    # Deleted through the admin: a withdrawal with the figures it had, and still verifiable.
    response = curator.post(f"/admin/leaderboard/result/{row.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and not Result.objects.filter(pk=row.pk).exists()
    gone = LedgerEntry.objects.latest("seq")
    assert (gone.kind, gone.result_id, json.loads(gone.content)["value"]) == (
        "withdrawal",
        row.pk,
        48.8,
    )
    assert verify_ledger()[1] == ""


def test_an_edit_through_a_papers_inline_appends_a_correction(curator, three):
    from leaderboard.models import Paper

    paper = Paper.objects.get()
    page = curator.get(f"/admin/leaderboard/paper/{paper.pk}/change/")
    form = page.context["adminform"].form
    data = {k: v for k, v in form.initial.items() if v is not None and not isinstance(v, list)}
    data.update({"title": paper.title, "slug": paper.slug, "authors": json.dumps(paper.authors)})
    for formset in page.context["inline_admin_formsets"]:
        fs = formset.formset
        prefix = fs.prefix
        data[f"{prefix}-TOTAL_FORMS"] = len(fs.forms)
        data[f"{prefix}-INITIAL_FORMS"] = len(fs.initial_forms)
        for i, f in enumerate(fs.forms):
            for name, field in f.fields.items():
                value = f.initial.get(name, field.initial)
                if hasattr(value, "pk"):
                    value = value.pk
                if value is None or value is False:
                    continue
                data[f"{prefix}-{i}-{name}"] = value
    target = Result.objects.filter(paper=paper, source="archive").order_by("pk").first()
    (results,) = [
        f.formset for f in page.context["inline_admin_formsets"] if f.formset.model is Result
    ]
    i = [f.instance.pk for f in results.forms].index(target.pk)
    data[f"{results.prefix}-{i}-value"] = "12.5"
    data[f"{results.prefix}-{i}-raw_value"] = "12.5"
    response = curator.post(f"/admin/leaderboard/paper/{paper.pk}/change/", data)
    assert response.status_code == 302, response.context["errors"] if response.context else ""
    entry = LedgerEntry.objects.latest("seq")
    assert (entry.kind, entry.result_id, json.loads(entry.content)["value"]) == (
        "correction",
        target.pk,
        12.5,
    )
    assert verify_ledger()[1] == ""


# --- The v1 API's writes (a curator's token) ----------------------------------------------------


def test_v1_api_writes_to_a_result_append_their_entries(three, staff, omniglot):
    from rest_framework.test import APIClient

    api = APIClient()
    api.force_authenticate(staff)
    url = f"/api/v1/evaluations/{omniglot.slug}/results/"
    added = api.post(
        url,
        {"metrics": {"Accuracy": "55.5"}, "methodology": "Curated MAML"},
        format="json",
    )
    assert added.status_code == 201, added.content
    row = Result.objects.get(model__name="Curated MAML")
    entry = LedgerEntry.objects.latest("seq")
    assert (entry.kind, entry.result_id, json.loads(entry.content)["actor"]) == (
        "publication",
        row.pk,
        "staff",
    )
    patched = api.patch(f"{url}{row.pk}/", {"metrics": {"Accuracy": "56.5"}}, format="json")
    assert patched.status_code == 200, patched.content
    entry = LedgerEntry.objects.latest("seq")
    assert (entry.kind, json.loads(entry.content)["value"]) == ("correction", 56.5)
    assert verify_ledger()[1] == ""
    assert api.delete(f"{url}{row.pk}/").status_code == 204
    assert LedgerEntry.objects.latest("seq").kind == "withdrawal"
    assert verify_ledger()[1] == ""


def test_the_admin_lists_entries_read_only(curator, three):
    Result.objects.filter(pk=three[0].pk).delete()  # an entry whose result is gone still shows
    assert (
        curator.get("/admin/leaderboard/ledgerentry/?q=" + three[1].pk.__str__()).status_code == 200
    )
    page = curator.get("/admin/leaderboard/ledgerentry/1/change/")
    assert page.status_code == 200 and LedgerEntry.objects.get(seq=1).hash in page.content.decode()
    assert (
        curator.post("/admin/leaderboard/ledgerentry/1/delete/", {"post": "yes"}).status_code == 403
    )
    assert LedgerEntry.objects.count() == 4
