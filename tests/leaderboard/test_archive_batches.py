"""The batched import paths: a second import compares each row of a batch with what is stored
(one query a batch) and still finds the one changed value; items listed twice in one batch;
the item builder's bounds; the fast URL check."""

import json
import random
from urllib.parse import urlsplit

import pytest
from django.core.management import call_command

from leaderboard.archive import reader
from leaderboard.archive import values as v
from leaderboard.models import CodeLink, Dataset, Method, MLModel, Paper, Result

pytestmark = pytest.mark.django_db


def papers(n=5):
    return [
        {
            "paper_url": f"https://paperswithcode.com/paper/p{i}",
            "arxiv_id": f"1703.0{i}000",
            "title": f"Paper {i}",
            "abstract": f"Abstract {i}.",
            "url_abs": f"https://arxiv.org/abs/1703.0{i}000",
            "url_pdf": f"https://arxiv.org/pdf/1703.0{i}000",
            "proceeding": None,
            "authors": ["A. Author", f"B. Author {i}"],
            "tasks": ["Image Classification"],
            "date": "2017-03-09",
            "methods": [],
        }
        for i in range(n)
    ]


def links(n=5):
    return [
        {
            "paper_url": f"https://paperswithcode.com/paper/p{i}",
            "paper_title": f"Paper {i}",
            "paper_arxiv_id": f"1703.0{i}000",
            "paper_url_abs": f"https://arxiv.org/abs/1703.0{i}000",
            "paper_url_pdf": f"https://arxiv.org/pdf/1703.0{i}000",
            "repo_url": f"https://github.com/x/repo{i}",
            "is_official": True,
            "mentioned_in_paper": False,
            "mentioned_in_github": True,
            "framework": "pytorch",
        }
        for i in range(n)
    ]


def methods(n=3):
    return [
        {
            "url": f"https://paperswithcode.com/method/m{i}",
            "name": f"Method {i}",
            "full_name": f"Method number {i}",
            "description": "",
            "paper": None,
            "introduced_year": 2017,
            "source_url": None,
            "source_title": None,
            "code_snippet_url": None,
            "num_papers": 3,
            "collections": [{"collection": "Optimizers", "area_id": "general", "area": "General"}],
        }
        for i in range(n)
    ]


def datasets(n=3):
    return [
        {
            "url": f"https://paperswithcode.com/dataset/d{i}",
            "name": f"Dataset {i}",
            "full_name": f"Dataset number {i}",
            "homepage": f"https://example.org/d{i}",
            "description": "",
            "paper": None,
            "introduced_date": "2015-01-01",
            "warning": None,
            "modalities": ["Images"],
            "tasks": [{"task": "Image Classification", "url": ""}],
            "languages": [],
            "variants": [f"Dataset {i}"],
            "num_papers": 2,
            "data_loaders": [],
        }
        for i in range(n)
    ]


def write(folder, **files):
    folder.mkdir(exist_ok=True)
    for name, data in files.items():
        (folder / f"{name}.json").write_text(json.dumps(data))
    return folder


def summary(capsys) -> str:
    return capsys.readouterr().out


def test_a_second_import_finds_the_one_changed_value_of_each_kind(tmp_path, capsys):
    files = {"p": papers(), "l": links(), "m": methods(), "d": datasets()}
    call_command("import_archive", "--all", str(write(tmp_path / "a", **files)))
    call_command("import_archive", "--all", str(write(tmp_path / "a", **files)))
    out = summary(capsys).split("Summary:")[-1]
    assert "papers: 0 created, 0 updated, 5 unchanged" in out
    assert "code-links: 0 created, 0 updated, 5 unchanged" in out
    assert "methods: 0 created, 0 updated, 3 unchanged" in out
    assert "datasets: 0 created, 0 updated, 3 unchanged" in out
    files["p"][3]["abstract"] = "Another abstract."
    files["l"][2]["framework"] = "jax"
    files["m"][1]["full_name"] = "Method one, renamed"
    files["d"][2]["homepage"] = "https://example.org/elsewhere"
    call_command("import_archive", "--all", str(write(tmp_path / "b", **files)))
    out = summary(capsys).split("Summary:")[-1]
    assert "papers: 0 created, 1 updated, 4 unchanged" in out
    assert "code-links: 0 created, 1 updated, 4 unchanged" in out
    assert "methods: 0 created, 1 updated, 2 unchanged" in out
    assert "datasets: 0 created, 1 updated, 2 unchanged" in out
    abstracts = dict(Paper.objects.values_list("title", "abstract"))
    assert abstracts["Paper 3"] == "Another abstract." and abstracts["Paper 2"] == "Abstract 2."
    frameworks = dict(CodeLink.objects.values_list("url", "framework"))
    assert frameworks["https://github.com/x/repo2"] == "jax"
    assert frameworks["https://github.com/x/repo1"] == "pytorch"
    assert Method.objects.get(name="Method 1").full_name == "Method one, renamed"
    assert Method.objects.get(name="Method 0").full_name == "Method number 0"
    assert Dataset.objects.get(name="Dataset 2").homepage == "https://example.org/elsewhere"
    assert Dataset.objects.get(name="Dataset 1").homepage == "https://example.org/d1"


def test_an_item_listed_twice_in_one_batch_updates_what_the_first_made(tmp_path, capsys):
    m = methods(1) * 2
    m[1] = {**m[1], "full_name": "The second spelling"}
    d = datasets(1) * 2
    d[1] = {**d[1], "homepage": "https://example.org/second"}
    p = papers(1) * 2
    p[1] = {**p[1], "abstract": "The second abstract."}
    call_command("import_archive", "--all", str(write(tmp_path / "a", m=m, d=d, p=p)))
    out = summary(capsys)
    assert "methods: 1 created, 1 updated, 0 unchanged" in out
    assert "datasets: 1 created, 1 updated, 0 unchanged" in out
    assert Method.objects.get().full_name == "The second spelling"
    assert Dataset.objects.get(name="Dataset 0").homepage == "https://example.org/second"
    # A paper listed twice in one batch is one paper; the first's values are kept.
    assert Paper.objects.get().abstract == "Abstract 0."


def test_a_model_keeps_each_spelling_of_its_name(tmp_path, capsys):
    def table(dataset, model):
        return {
            "dataset": dataset,
            "sota": {
                "metrics": ["Accuracy"],
                "rows": [{"model_name": model, "metrics": {"Accuracy": "91.5"}}],
            },
        }

    data = [
        {"task": "Image Classification", "datasets": [table("CIFAR-10", "ResNet-50")]},
        {"task": "Object Detection", "datasets": [table("COCO", "resnet-50")]},
    ]
    folder = write(tmp_path / "a", t=data)
    call_command("import_archive", str(folder / "t.json"))
    # Each spelling is shown as the archive wrote it (not the first one met for both).
    assert "models: 2 created" in summary(capsys)
    assert sorted(MLModel.objects.values_list("name", flat=True)) == ["ResNet-50", "resnet-50"]
    assert Result.objects.get(benchmark__name="COCO").model.name == "resnet-50"
    call_command("import_archive", str(folder / "t.json"))
    assert "models:" not in summary(capsys).split("Summary:")[-1]  # none created again
    assert MLModel.objects.count() == 2


def test_it_skips_an_item_past_a_bound_and_reads_the_rest(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(reader, "MAX_DEPTH", 4)
    monkeypatch.setattr(reader, "MAX_ITEM_VALUES", 40)
    items = papers(3)
    items[1]["authors"] = [[[["too deep"]]]]  # the first item decides the file's kind
    items[2]["authors"] = [f"Author {i}" for i in range(50)]
    path = write(tmp_path / "a", p=items) / "p.json"
    call_command("import_archive", str(path))
    captured = capsys.readouterr()
    assert "[1]: nested deeper than 4" in captured.err
    assert "[2]: more than 40 values" in captured.err
    assert "papers: 1 created, 0 updated, 0 unchanged, 2 skipped" in captured.out
    assert list(Paper.objects.values_list("title", flat=True)) == ["Paper 0"]


def slow_http_url(raw, max_length=500):
    """http_url as it was before its fast path (urlsplit for every URL)."""
    text = v.clean_text(raw)
    if not text or len(text) > max_length or any(c in text for c in "<>\"' \\"):
        return ""
    try:
        parts = urlsplit(text)
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        return ""
    return text


def test_the_fast_url_check_answers_as_urlsplit_does():
    rng = random.Random(9)
    pieces = ["http", "https", "HTTP", "hTtPs", "ftp", "javascript", ":", "//", "/", "a", "b.c",
              "-", "_", "~", "%20", "@", "[", "]", "::1", ":80", ":x", "?q=1", "#f", " ", "\t",
              "\ufeff", "<", "'", "\\", "é", "\x01", "."]  # fmt: skip
    cases = ["https://github.com/x/y", "http://a.b:", "http://%", "http://[::1]/", "http://",
             "https://user@host/x", "http://a.b:99999/x", "https://a.b/<x>", "data:,"]  # fmt: skip
    for _ in range(20000):
        cases.append("".join(rng.choice(pieces) for _ in range(rng.randint(1, 8))))
        cases.append(rng.choice(["http://", "https://"]) + cases[-1])
    for case in cases:
        assert v.http_url(case) == slow_http_url(case), case


def test_it_takes_no_arxiv_id_from_a_url_with_too_many_digits():
    assert v.arxiv_id("", "https://arxiv.org/abs/1703.03400v3") == "1703.03400"
    assert v.arxiv_id("", "https://arxiv.org/pdf/1703.03400.pdf") == "1703.03400"
    assert v.arxiv_id("", "https://arxiv.org/abs/cs/0112017") == "cs/0112017"
    # Not the paper 1000.10000: two papers would become one.
    assert v.arxiv_id("", "https://arxiv.org/abs/1000.100000v1") == ""


def test_an_import_leaves_the_planner_statistics_fresh_on_postgresql(tmp_path, capsys):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("planner statistics are PostgreSQL's (SQLite has no ANALYZE here)")

    def estimates() -> dict[str, float]:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname, reltuples FROM pg_class WHERE relname = ANY(%s)",
                [["leaderboard_paper", "leaderboard_codelink", "leaderboard_method"]],
            )
            return dict(cursor.fetchall())

    with connection.cursor() as cursor:  # as after a bulk load the planner has not seen
        cursor.execute("ANALYZE leaderboard_paper, leaderboard_codelink, leaderboard_method")
    assert estimates() == {
        "leaderboard_paper": 0,
        "leaderboard_codelink": 0,
        "leaderboard_method": 0,
    }
    files = {"p": papers(), "l": links(), "m": methods(), "d": datasets()}
    call_command("import_archive", "--all", str(write(tmp_path / "a", **files)))
    assert estimates() == {
        "leaderboard_paper": Paper.objects.count(),
        "leaderboard_codelink": CodeLink.objects.count(),
        "leaderboard_method": Method.objects.count(),
    }
