# ruff: noqa: E501  (the messy files are written as literals, one case a line)
"""The five archive files, small and messy, written by the tests: each case of issue 9."""

import gzip
import json
import subprocess
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from leaderboard.directions import higher_is_better
from leaderboard.models import (
    Benchmark,
    BenchmarkMetric,
    CodeLink,
    Collection,
    Dataset,
    Method,
    Metric,
    Paper,
    Result,
    Task,
)
from tests.tool_venvs import SOTA_EXTRACTOR, tool_python

pytestmark = pytest.mark.django_db

ARXIV = "https://arxiv.org/abs/1703.03400v3"
PWC = "https://paperswithcode.com/paper/model-agnostic-meta-learning-for-fast"
LOWER = ["WER", "CER", "BPC", "Perplexity", "MAE", "RMSE", "FID", "Params", "FLOPs",
         "Latency", "Mean Rank", "Error"]  # fmt: skip
VALUES = {  # raw -> (value, ci95)
    "0.8428 ± 0.0014": (0.8428, 0.0014),
    "2.53±0.40": (2.53, 0.40),
    "−1.2": (-1.2, None),
    "\ufeff93.3": (93.3, None),
    "63.7*": (63.7, None),
    "72.5†": (72.5, None),
    "~257M": (257e6, None),
    "3.0m": (3e6, None),
    "1.5k": (1500.0, None),
    "2B": (2e9, None),
}


def tables():
    rows = [
        {
            "model_name": "MAML",
            "metrics": {"Accuracy": "98.7"},
            "paper_title": "",
            "paper_url": ARXIV,
            "paper_date": "2017-03-09",
            "code_links": [{"title": "cbfinn/maml", "url": "https://github.com/cbfinn/maml"}],
        },
        # Looks like the first, another value: a second result, the first kept.
        {
            "model_name": "MAML",
            "metrics": {"Accuracy": "98.1"},
            "paper_title": "",
            "paper_url": ARXIV,
            "paper_date": "2017-03-09",
        },
        # Equal in every field to the first: the same result.
        {
            "model_name": "MAML",
            "metrics": {"Accuracy": "98.7"},
            "paper_title": "",
            "paper_url": ARXIV,
            "paper_date": "2017-03-09",
            "code_links": [{"title": "cbfinn/maml", "url": "https://github.com/cbfinn/maml"}],
        },
        {"model_name": "", "metrics": {"Accuracy": "50"}},
        {
            "model_name": "Bad date",
            "metrics": {"Accuracy": "n/a"},
            "paper_title": "Some Paper",
            "paper_url": "javascript:alert(1)",
            "paper_date": "2017-02-30",
            "code_links": [{"title": "x", "url": "javascript:alert(1)"}],
        },
    ]
    value_rows = [
        {"model_name": f"V{i}", "metrics": {"Score": raw}} for i, raw in enumerate(VALUES)
    ]
    lower_rows = [{"model_name": "L", "metrics": {m: "1.0" for m in LOWER}}]
    return [
        {"task": "Image Classification", "categories": ["Computer Vision"], "datasets": [],
         "subtasks": [{"task": "Few-Shot Image Classification", "datasets": [
             {"dataset": "OMNIGLOT", "sota": {"metrics": ["Accuracy"], "rows": rows},
              "subdatasets": [{"subdataset": "OMNIGLOT - 1-Shot, 5-way",
                               "sota": {"metrics": ["Accuracy"], "rows": [
                                   {"model_name": "MAML", "metrics": {"Accuracy": "98.7"}}]}}]},
         ]}]},
        {"task": "Chunking", "datasets": [{"dataset": "Penn Treebank", "sota": {
            "metrics": ["F1 score"], "rows": [{"model_name": "C", "metrics": {"F1 score": "95.1"}}]}}]},
        {"task": "Constituency Parsing", "datasets": [{"dataset": "Penn Treebank", "sota": {
            "metrics": ["F1 score"], "rows": [{"model_name": "P", "metrics": {"F1 score": "96.2"}}]}}]},
        {"task": "Values", "datasets": [{"dataset": "Messy", "sota": {"metrics": ["Score"],
            "rows": value_rows}}, {"dataset": "Lower", "sota": {"metrics": LOWER, "rows": lower_rows}}]},
        {"task": "", "datasets": []},
    ]  # fmt: skip


def papers():
    method = {
        "name": "MAML",
        "full_name": "Model-Agnostic Meta-Learning",
        "description": "d",
        "introduced_year": 2017,
        "source_url": ARXIV,
        "source_title": "MAML",
        "code_snippet_url": "javascript:x",
        "main_collection": {
            "name": "Meta-Learning Algorithms",
            "description": "m",
            "area": "General",
            "parent": None,
        },
    }
    return [
        {"paper_url": PWC, "arxiv_id": "1703.03400", "title": "Model-Agnostic Meta-Learning for "
         "Fast Adaptation of Deep Networks", "abstract": "We propose " * 200, "url_abs": ARXIV,
         "url_pdf": "https://arxiv.org/pdf/1703.03400v3.pdf", "proceeding": "ICML 2017",
         "authors": ["Chelsea Finn", "Pieter Abbeel", "Sergey Levine"],
         "tasks": ["Few-Shot Image Classification"], "date": "2017-03-09", "methods": [method]},
        {"paper_url": "https://paperswithcode.com/paper/qian", "arxiv_id": None,
         "title": "Qian Chen et al. '17", "abstract": "", "url_abs": "javascript:alert(1)",
         "url_pdf": "", "proceeding": None, "authors": [], "tasks": [], "date": "not a date",
         "methods": []},
        {"paper_url": "", "arxiv_id": None, "title": "", "abstract": "x", "url_abs": "",
         "url_pdf": "", "proceeding": None, "authors": [], "tasks": [], "date": None,
         "methods": []},
    ]  # fmt: skip


def code_links():
    base = {
        "paper_url": PWC,
        "paper_title": "MAML",
        "paper_arxiv_id": "1703.03400",
        "paper_url_abs": ARXIV,
        "paper_url_pdf": "",
    }
    return [
        {**base, "repo_url": "https://github.com/cbfinn/maml", "is_official": True,
         "mentioned_in_paper": True, "mentioned_in_github": True, "framework": "tf"},
        {**base, "repo_url": "https://github.com/dragen1860/MAML-Pytorch", "is_official": False,
         "mentioned_in_paper": False, "mentioned_in_github": True, "framework": "pytorch"},
        {**base, "repo_url": "javascript:alert(1)", "is_official": False,
         "mentioned_in_paper": False, "mentioned_in_github": False, "framework": "none"},
    ]  # fmt: skip


def methods():
    return [
        {"url": "https://paperswithcode.com/method/maml", "name": "MAML", "full_name":
         "Model-Agnostic Meta-Learning", "description": "MAML is ...", "paper": {"title":
         "Model-Agnostic Meta-Learning for Fast Adaptation of Deep Networks", "url": PWC},
         "introduced_year": 2017, "source_url": ARXIV, "source_title": "MAML",
         "code_snippet_url": "https://github.com/cbfinn/maml/blob/master/maml.py",
         "num_papers": 321, "collections": [{"collection": "Meta-Learning Algorithms",
         "area_id": "general", "area": "General"}]},
        {"url": "https://paperswithcode.com/method/x", "name": "", "collections": []},
    ]  # fmt: skip


def datasets():
    return [
        {"url": "https://paperswithcode.com/dataset/omniglot-1", "name": "OMNIGLOT",
         "full_name": "Omniglot", "homepage": "https://github.com/brendenlake/omniglot",
         "description": "1623 characters", "paper": None, "introduced_date": "2015-12-11",
         "warning": None, "modalities": ["Images"], "tasks": [{"task": "Few-Shot Image "
         "Classification", "url": "https://paperswithcode.com/task/few-shot"}],
         "languages": [], "variants": ["OMNIGLOT - 1-Shot, 5-way"], "num_papers": 500,
         "data_loaders": [{"url": "https://pytorch.org/vision", "repo": "https://github.com/"
         "pytorch/vision", "frameworks": ["pytorch"]}, {"url": "javascript:1", "repo": ""}]},
        {"url": "https://paperswithcode.com/dataset/bad", "name": "Bad", "homepage":
         "javascript:alert(1)", "introduced_date": "2015-13-40", "modalities": [],
         "variants": []},
        {"url": "https://paperswithcode.com/dataset/empty", "name": "  ", "modalities": []},
    ]  # fmt: skip


FILES = {
    "evaluation-tables.json": tables,
    "papers-with-abstracts.json.gz": papers,
    "links-between-papers-and-code.json": code_links,
    "methods.json.gz": methods,
    "datasets.json": datasets,
}


def write_all(folder: Path) -> Path:
    folder.mkdir(exist_ok=True)
    for name, make in FILES.items():
        data = json.dumps(make(), ensure_ascii=False).encode()
        if name.endswith(".gz"):
            data = gzip.compress(data)
        elif name == "datasets.json":
            data = b"\xef\xbb\xbf" + data  # a byte-order mark at the start
        (folder / name).write_bytes(data)
    return folder


def snapshot() -> dict:
    return {
        "results": sorted(
            Result.objects.values_list(
                "benchmark__name", "metric__name", "model__name", "value", "ci95", "raw_value",
                "paper__title",
            ),
            key=repr,
        ),
        "papers": sorted(Paper.objects.values_list("title", "pwc_url", "arxiv_id", "url", "date")),
        "links": sorted(CodeLink.objects.values_list("url", "official", "framework",
                                                     "mentioned_in_paper", "mentioned_in_github")),
        "methods": sorted(Method.objects.values_list("name", "num_papers", "code_snippet_url")),
        "datasets": sorted(Dataset.objects.values_list("name", "homepage", "introduced_date")),
    }  # fmt: skip


def test_all_five_files_import_with_their_warnings_and_nothing_else_lost(tmp_path, capsys):
    call_command("import_archive", "--all", str(write_all(tmp_path / "a")))
    out, err = capsys.readouterr()
    # Rows: a row with a URL and no title keeps its paper, date and code links.
    maml = Result.objects.filter(benchmark__name="OMNIGLOT", model__name="MAML")
    assert sorted(maml.values_list("value", flat=True)) == [98.1, 98.7]
    paper = Paper.objects.get(arxiv_id="1703.03400")
    assert set(maml.values_list("paper", flat=True)) == {paper.pk}
    assert paper.date.isoformat() == "2017-03-09" and paper.pwc_url == PWC
    assert paper.proceeding == "ICML 2017" and paper.authors[0] == "Chelsea Finn"
    assert list(paper.methods.values_list("name", flat=True)) == ["MAML"]
    assert Paper.objects.count() == 3  # MAML, Qian Chen, "Some Paper"; the empty one skipped
    assert Paper.objects.get(title="Qian Chen et al. '17").url == ""  # javascript: dropped
    assert Paper.objects.get(title="Some Paper").date is None
    # Subdataset keeps its parent; unrelated same-named tables are separate benchmarks.
    sub = Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way")
    assert sub.parent.name == "OMNIGLOT" and sub.dataset.name == "OMNIGLOT"
    ptb = Benchmark.objects.filter(dataset__name="Penn Treebank").order_by("pk")
    assert [(b.name, b.archive_name) for b in ptb] == [
        ("Penn Treebank", ""),
        ("Penn Treebank (Constituency Parsing)", "Penn Treebank"),
    ]
    assert [list(b.results.values_list("model__name", flat=True)) for b in ptb] == [["C"], ["P"]]
    # Every value form.
    for raw, (value, ci) in VALUES.items():
        r = Result.objects.get(benchmark__name="Messy", raw_value=raw)
        assert (r.value, r.ci95) == (pytest.approx(value), ci), raw
    text = Result.objects.get(model__name="Bad date")
    assert (text.value, text.raw_value) == (None, "n/a")
    # Every lower-is-better metric, and its direction per benchmark.
    for name in LOWER:
        assert not Metric.objects.get(name=name).higher_is_better, name
    assert Metric.objects.get(name="Accuracy").higher_is_better
    # Code links: flags, frameworks, only http(s).
    links = {c.url: c for c in CodeLink.objects.all()}
    assert set(links) == {
        "https://github.com/cbfinn/maml",
        "https://github.com/dragen1860/MAML-Pytorch",
    }
    c = links["https://github.com/cbfinn/maml"]
    assert (c.official, c.framework, c.mentioned_in_paper, c.mentioned_in_github) == (
        True,
        "tf",
        True,
        True,
    )
    # Methods, collections, areas.
    m = Method.objects.get(name="MAML")
    assert (m.num_papers, m.introduced_year, m.paper_id, m.pwc_url) == (
        321,
        2017,
        paper.pk,
        "https://paperswithcode.com/method/maml",
    )
    assert Collection.objects.get().area.name == "General"
    assert list(m.collections.values_list("name", flat=True)) == ["Meta-Learning Algorithms"]
    # Datasets.
    d = Dataset.objects.get(name="OMNIGLOT")
    assert (d.full_name, d.homepage, d.introduced_date.isoformat(), d.num_papers) == (
        "Omniglot",
        "https://github.com/brendenlake/omniglot",
        "2015-12-11",
        500,
    )
    assert d.data_loaders == [
        {
            "url": "https://pytorch.org/vision",
            "repo": "https://github.com/pytorch/vision",
            "frameworks": ["pytorch"],
        }
    ]
    assert list(d.tasks.values_list("name", flat=True)) == ["Few-Shot Image Classification"]
    bad = Dataset.objects.get(name="Bad")
    assert (bad.homepage, bad.introduced_date) == ("", None)
    # Warnings name their path.
    for expected in (
        "evaluation-tables.json tasks[0].subtasks[0].datasets[0].sota.rows[3]: no model_name",
        "tasks[0].subtasks[0].datasets[0].sota.rows[4]: paper_date '2017-02-30' is not a date",
        "tasks[0].subtasks[0].datasets[0].sota.rows[4]: paper_url 'javascript:alert(1)'",
        "tasks[4]: no task name",
        "papers-with-abstracts.json.gz [2]: no title, paper_url or arxiv_id",
        "links-between-papers-and-code.json [2]: repo_url 'javascript:alert(1)'",
        "methods.json.gz [1]: empty name",
        "datasets.json [2]: empty name",
        "datasets.json [1]: homepage 'javascript:alert(1)'",
    ):
        assert expected in err, expected
    assert "results: " in out and "papers: " in out and "code-links: 2 created" in out
    # A second import changes nothing.
    before = snapshot()
    call_command("import_archive", "--all", str(tmp_path / "a"))
    out, _ = capsys.readouterr()
    assert snapshot() == before
    summary = out.split("Summary: ")[1].split("\n")[0].rstrip(".")
    lines = dict(part.split(": ", 1) for part in summary.split("; "))
    for kind in ("results", "papers", "code-links", "methods", "datasets"):
        assert lines[kind].startswith("0 created, 0 updated,"), (kind, lines[kind])
    assert lines["results"] == "0 created, 0 updated, 30 unchanged, 0 skipped"


def test_a_title_shared_by_two_papers_matches_neither(tmp_path):
    Paper.objects.create(title="Same", slug="same-1")
    Paper.objects.create(title="same", slug="same-2")
    path = tmp_path / "t.json"
    path.write_text(json.dumps([{"task": "T", "datasets": [{"dataset": "D", "sota": {"rows": [
        {"model_name": "M", "metrics": {"Acc": "1"}, "paper_title": "Same"}]}}]}]))  # fmt: skip
    call_command("import_archive", str(path))
    assert Paper.objects.count() == 3  # a new one: never a guess between the two


def test_a_curator_direction_ranks_that_benchmark_only(tmp_path):
    call_command("import_archive", "--all", str(write_all(tmp_path / "a")))
    link = BenchmarkMetric.objects.get(benchmark__name="Penn Treebank", metric__name="F1 score")
    link.higher_is_better = False
    link.save()
    other = Benchmark.objects.get(name="Penn Treebank (Constituency Parsing)")
    assert not higher_is_better(link.benchmark, link.metric)
    assert higher_is_better(other, link.metric)


def test_a_file_of_none_of_the_formats_is_refused_whole(tmp_path):
    path = tmp_path / "x.json.gz"
    path.write_bytes(gzip.compress(json.dumps([{"foo": 1}, *tables()]).encode()))
    with pytest.raises(CommandError, match="none of the five formats"):
        call_command("import_archive", str(path))
    assert not Task.objects.exists() and not Result.objects.exists()


def sota_python() -> Path:
    """sota-extractor 0.0.29's virtualenv (.ci/venvs/sota-extractor.txt), built once by
    ``.ci/tool_venvs.sh``, never here (tests/tool_venvs.py)."""
    return tool_python(SOTA_EXTRACTOR)


LOAD = """
import json, sys
from sota_extractor.taskdb import TaskDB
db = TaskDB()
db.load_tasks(sys.argv[1])
json.dump(db.export(), open(sys.argv[2], "w"))
"""


def test_an_export_loads_in_sota_extractor_and_reimports_to_the_same_tables(tmp_path):
    call_command("import_archive", "--all", str(write_all(tmp_path / "a")))
    before = snapshot()["results"]
    out = tmp_path / "evaluation-tables.json"
    call_command("export_archive", str(out))
    python = sota_python()
    reloaded = tmp_path / "reloaded.json"
    done = subprocess.run([str(python), "-c", LOAD, str(out), str(reloaded)], capture_output=True, text=True)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    # The extended export says what it is, and the format's loader refuses it.
    ext = tmp_path / "ext.json"
    call_command("export_archive", str(ext), "--extended")
    assert all(t["verisota_extended"] for t in json.loads(ext.read_text()))
    refused = subprocess.run([str(python), "-c", LOAD, str(ext), str(tmp_path / "r2.json")], capture_output=True, text=True)  # fmt: skip
    assert refused.returncode != 0 and "Unknown field" in refused.stderr
    # What sota-extractor wrote back, into an empty catalogue: the same tables, value by value.
    for model in (
        Result,
        CodeLink,
        BenchmarkMetric,
        Benchmark,
        Method,
        Paper,
        Dataset,
        Metric,
        Task,
    ):
        model.objects.all().delete()
    call_command("import_archive", str(reloaded))
    after = snapshot()["results"]
    # Every table, row and value; a paper the rows name by URL only is titled by its arXiv id
    # here (the papers file that titled it is not part of this round trip).
    assert len(after) == len(before) == 29
    assert [r[:6] for r in after] == [r[:6] for r in before]
    assert {r[6] for r in after} == {None, "1703.03400", "Some Paper"}
    assert Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way").parent.name == "OMNIGLOT"
