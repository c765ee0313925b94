# ruff: noqa: E501  (the community-edited files are written as literals, a row a line)
"""The shapes the real archive holds that were lost or broke an import (issue 22), in files the
test writes as a community-edited archive would hold them: anonymous rows (and a whole file of
them), a paper known only by an OpenReview address with a code link, a NUL in a name, years of
40000, -5 and "²", 10^12 papers, ``1e10000000`` (read under a timeout), a day whose values are
all text, an undated row, entropy and cross-entropy ("Dev"/"Test" beside losses) tables, a row
dated apart from its paper, intervals, two spellings of a model, a task described in two files,
and two unreadable files among good ones. Each value is checked in the database, on the
benchmark page and in ``/api/results``; runs on PostgreSQL and on SQLite alike."""

import datetime
import gzip
import html
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from leaderboard.archive.tables import UNNAMED
from leaderboard.models import (
    Benchmark,
    BenchmarkMetric,
    CodeLink,
    Dataset,
    Method,
    Metric,
    MLModel,
    Paper,
    Result,
    Task,
)

pytestmark = pytest.mark.django_db

HUGE = "1e10000000"  # a number token of ten million digits' magnitude, written as JSON holds it
MOS = "https://arxiv.org/abs/1711.03953v4"
OPENREVIEW = "https://openreview.net/forum?id=rJXMpikCZ"

LM_DESCRIPTION = (
    "Language modeling is the task of predicting the next word or character in a document."
)


def tables_a() -> list:
    """evaluation-tables.json as the archive has it (rows best first, dates as strings)."""
    return [
        {"task": "Language Modelling", "description": LM_DESCRIPTION, "categories": ["Natural Language Processing"],
         "synonyms": ["LM", "Language Modeling"], "source_link": {"title": "NLP-progress", "url": "https://nlpprogress.com/english/language_modeling.html"},
         "datasets": [
            {"dataset": "Penn Treebank (Word Level)", "description": "",
             "dataset_links": [{"title": "LDC99T42", "url": "https://catalog.ldc.upenn.edu/LDC99T42"}, {"title": "bad", "url": "javascript:alert(1)"}],
             "dataset_citations": [{"title": "Marcus et al., 1993", "url": "https://aclanthology.org/J93-2004/"}],
             "sota": {"metrics": ["Test perplexity", "Validation perplexity", "Params"], "rows": [
                {"model_name": "", "metrics": {"Test perplexity": "46.54", "Validation perplexity": "", "Params": ""}, "paper_title": "", "paper_url": "", "paper_date": None, "code_links": [], "model_links": []},
                {"model_name": "AWD-LSTM-MoS + dynamic eval", "metrics": {"Test perplexity": "47.69", "Validation perplexity": "48.33", "Params": "22M"},
                 "paper_title": "Breaking the Softmax Bottleneck: A High-Rank RNN Language Model", "paper_url": MOS, "paper_date": "2017-11-10",
                 "code_links": [{"title": "zihangdai/mos", "url": "https://github.com/zihangdai/mos"}], "model_links": []},
                {"model_name": "AWD-LSTM-MoS", "metrics": {"Test perplexity": "54.44", "Validation perplexity": "56.54", "Params": "22M"},
                 "paper_title": "Breaking the Softmax Bottleneck: A High-Rank RNN Language Model", "paper_url": MOS, "paper_date": "2018-03-02",
                 "code_links": [{"title": "zihangdai/mos", "url": "https://github.com/zihangdai/mos"}], "model_links": []},
             ]}},
            {"dataset": "WikiText-2 (entropy)", "sota": {"metrics": ["Model Entropy"], "rows": [
                {"model_name": "GPT-2 (small)", "metrics": {"Model Entropy": "4.52"}, "paper_title": "", "paper_url": "", "paper_date": "2019-02-14"},
                {"model_name": "Transformer-XL", "metrics": {"Model Entropy": "4.31"}, "paper_title": "", "paper_url": "", "paper_date": "2019-01-09"},
            ]}},
            {"dataset": "Hutter Prize (dev/test)", "sota": {"metrics": ["Dev", "Test", "Training Loss"], "rows": [
                {"model_name": "LSTM (2 layers)", "metrics": {"Dev": "1.42", "Test": "1.40", "Training Loss": "1.21"}, "paper_date": "2016-09-01"},
                {"model_name": "mLSTM", "metrics": {"Dev": "1.29", "Test": "1.27", "Training Loss": "1.19"}, "paper_date": "2016-09-26"},
            ]}},
         ], "subtasks": []},
        {"task": "Few-Shot Image Classification", "datasets": [
            {"dataset": "Mini-Imagenet 5-way (5-shot)", "sota": {"metrics": ["Accuracy"], "rows": [
                {"model_name": "Baseline++", "metrics": {"Accuracy": "66.43 ± 0.63"}, "paper_title": "A Closer Look at Few-shot Classification", "paper_url": "https://arxiv.org/abs/1904.04232v2", "paper_date": "2019-04-08"},
                {"model_name": "TADAM", "metrics": {"Accuracy": "—"}, "paper_title": "TADAM: Task dependent adaptive metric for improved few-shot learning", "paper_url": "https://arxiv.org/abs/1805.10123v4", "paper_date": "2018-05-23"},
                {"model_name": "SNAIL", "metrics": {"Accuracy": "n/a"}, "paper_title": "A Simple Neural Attentive Meta-Learner", "paper_url": "https://arxiv.org/abs/1707.03141v3", "paper_date": "2018-05-23"},
                {"model_name": "Unpublished baseline", "metrics": {"Accuracy": "60.10"}},
                {"model_name": "Overflow", "metrics": {"Accuracy": "HUGE_TOKEN"}, "paper_date": "2020-01-01"},
            ]}},
         ], "subtasks": []},
        {"task": "Node Classification", "datasets": [
            {"dataset": "Cora", "sota": {"metrics": ["Accuracy"], "rows": [
                {"model_name": "GraphSAGE-mean", "metrics": {"Accuracy": "82.2%"}, "paper_title": "", "paper_url": OPENREVIEW, "paper_date": "2018-02-15",
                 "code_links": [{"title": "williamleif/GraphSAGE", "url": "https://github.com/williamleif/GraphSAGE"}]},
                {"model_name": "GAT\u0000", "metrics": {"Accuracy": "83.0 ± 0.7"}, "paper_title": "Graph Attention Networks", "paper_url": "https://arxiv.org/abs/1710.10903v3", "paper_date": "2017-10-30"},
            ]}},
         ], "subtasks": []},
        {"task": "Question Answering", "datasets": [
            {"dataset": "SQuAD1.1", "sota": {"metrics": ["EM"], "rows": [
                {"model_name": "BERT (single model)", "metrics": {"EM": "84.1"}, "paper_title": "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding", "paper_url": "https://arxiv.org/abs/1810.04805v2", "paper_date": "2018-10-11"},
                {"model_name": "bert (single model)", "metrics": {"EM": "0.7426 ± 0.0017"}, "paper_title": "", "paper_url": "", "paper_date": "2019-05-01"},
            ]}},
         ], "subtasks": []},
    ]  # fmt: skip


def tables_b() -> list:
    """A second file naming "Language Modelling" again, described otherwise."""
    return [
        {"task": "Language Modelling", "description": "Another editor's description.", "categories": ["Speech"],
         "synonyms": [], "source_link": {"title": "elsewhere", "url": "https://example.org/lm"},
         "datasets": [{"dataset": "Text8", "sota": {"metrics": ["Bit per Character (BPC)"], "rows": [
             {"model_name": "64-layer Character Transformer Model", "metrics": {"Bit per Character (BPC)": "1.13"}, "paper_date": "2018-08-09"}]}}],
         "subtasks": []},
    ]  # fmt: skip


def tables_anonymous() -> list:
    """A whole file whose rows all lack a model name (a leaderboard dump)."""
    rows = [
        {"metrics": {"mAP": v}, "paper_date": d}
        for v, d in (("41.2", "2020-03-01"), ("39.8", "2019-11-20"), ("37.5", None))
    ]
    return [{"task": "Object Detection", "datasets": [{"dataset": "COCO test-dev (dump)", "sota": {"metrics": ["mAP"], "rows": rows}}]}]  # fmt: skip


def methods() -> list:
    base = {"full_name": "", "description": "", "paper": None, "source_url": None, "source_title": None,
            "code_snippet_url": None, "collections": []}  # fmt: skip
    return [
        {**base, "url": "https://paperswithcode.com/method/dropout", "name": "Dropout", "introduced_year": 2014, "num_papers": 4123},
        {**base, "url": "https://paperswithcode.com/method/far-future", "name": "Far Future", "introduced_year": 40000, "num_papers": 3},
        {**base, "url": "https://paperswithcode.com/method/bc", "name": "Before Christ", "introduced_year": -5, "num_papers": -2},
        {**base, "url": "https://paperswithcode.com/method/squared", "name": "Squared", "introduced_year": "²", "num_papers": 1000000000000},
        {**base, "url": "https://paperswithcode.com/method/huge", "name": "Huge", "introduced_year": "HUGE_TOKEN", "num_papers": "HUGE_TOKEN"},
    ]  # fmt: skip


def datasets() -> list:
    return [
        {"url": "https://paperswithcode.com/dataset/cora", "name": "Cora", "full_name": "Cora citation network",
         "homepage": "https://relational.fit.cvut.cz/dataset/CORA", "description": "2708 papers", "num_papers": 1235,
         "modalities": ["Graphs"], "tasks": [{"task": "Node Classification", "url": ""}], "variants": ["Cora"]},
        {"url": "https://paperswithcode.com/dataset/too-many", "name": "Too Many", "num_papers": 1000000000000, "modalities": []},
        {"url": "https://paperswithcode.com/dataset/superscript", "name": "Superscript", "num_papers": "²", "modalities": []},
    ]  # fmt: skip


def _text(items) -> str:
    """The file's JSON, with the HUGE_TOKEN placeholders as the bare number token."""
    return json.dumps(items, ensure_ascii=False).replace('"HUGE_TOKEN"', HUGE)


@pytest.fixture
def archive(tmp_path) -> Path:
    folder = tmp_path / "archive"
    folder.mkdir()
    (folder / "evaluation-tables.json").write_text(_text(tables_a()), encoding="utf-8")
    (folder / "evaluation-tables.nlp-extra.json").write_text(_text(tables_b()), encoding="utf-8")
    (folder / "evaluation-tables-dump.json.gz").write_bytes(
        gzip.compress(_text(tables_anonymous()).encode())
    )
    (folder / "methods.json").write_text(_text(methods()), encoding="utf-8")
    (folder / "datasets.json").write_bytes(b"\xef\xbb\xbf" + _text(datasets()).encode())
    # Two files that cannot be read, among the good ones: cut short, and a gzip truncated.
    good = json.dumps(
        [{"paper_url": "https://paperswithcode.com/paper/x", "title": "X", "abstract": ""}]
    )
    (folder / "papers-with-abstracts.json").write_text(good[:-20], encoding="utf-8")
    links = gzip.compress(
        json.dumps(
            [{"paper_url": "", "repo_url": "https://github.com/a/b", "paper_title": "T"}] * 50
        ).encode()
    )
    (folder / "links-between-papers-and-code.json.gz").write_bytes(links[: len(links) // 2])
    return folder


def _import(folder, capsys) -> tuple[str, str, str]:
    """Import the folder; returns (out, err, the CommandError's message)."""
    with pytest.raises(CommandError) as refused:
        call_command("import_archive", "--all", str(folder))
    out, err = capsys.readouterr()
    return out, err, str(refused.value)


def _api_rows(client, benchmark: Benchmark) -> dict:
    body = client.get("/api/results", {"benchmark": benchmark.slug, "page_size": 200}).json()
    assert body["count"] == len(body["results"])
    return {r["id"]: r for r in body["results"]}


def _page_rows(client, benchmark: Benchmark, metric: Metric) -> tuple[str, dict]:
    response = client.get(benchmark.get_absolute_url(), {"metric": metric.slug})
    assert response.status_code == 200
    page = response.content.decode()
    rows = dict(
        (int(pk), body)
        for pk, body in re.findall(r'<tr id="result-(\d+)"[^>]*>(.*?)</tr>', page, re.S)
    )
    return page, rows


def _cell(row_html: str, cls: str) -> str:
    match = re.search(rf'<td class="{cls}[^"]*"[^>]*>(.*?)</td>', row_html, re.S)
    assert match, (cls, row_html[:300])
    return match.group(1)


def _plain(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


# (benchmark, metric, model, raw value, value, ci95, the row's date) of every row with a value.
EXPECTED = [
    ("Penn Treebank (Word Level)", "Test perplexity", UNNAMED, "46.54", 46.54, None, None),
    ("Penn Treebank (Word Level)", "Test perplexity", "AWD-LSTM-MoS + dynamic eval", "47.69", 47.69, None, "2017-11-10"),
    ("Penn Treebank (Word Level)", "Validation perplexity", "AWD-LSTM-MoS + dynamic eval", "48.33", 48.33, None, "2017-11-10"),
    ("Penn Treebank (Word Level)", "Params", "AWD-LSTM-MoS + dynamic eval", "22M", 22e6, None, "2017-11-10"),
    ("Penn Treebank (Word Level)", "Test perplexity", "AWD-LSTM-MoS", "54.44", 54.44, None, "2018-03-02"),
    ("Penn Treebank (Word Level)", "Validation perplexity", "AWD-LSTM-MoS", "56.54", 56.54, None, "2018-03-02"),
    ("Penn Treebank (Word Level)", "Params", "AWD-LSTM-MoS", "22M", 22e6, None, "2018-03-02"),
    ("WikiText-2 (entropy)", "Model Entropy", "GPT-2 (small)", "4.52", 4.52, None, "2019-02-14"),
    ("WikiText-2 (entropy)", "Model Entropy", "Transformer-XL", "4.31", 4.31, None, "2019-01-09"),
    ("Hutter Prize (dev/test)", "Dev", "LSTM (2 layers)", "1.42", 1.42, None, "2016-09-01"),
    ("Hutter Prize (dev/test)", "Test", "LSTM (2 layers)", "1.40", 1.40, None, "2016-09-01"),
    ("Hutter Prize (dev/test)", "Training Loss", "LSTM (2 layers)", "1.21", 1.21, None, "2016-09-01"),
    ("Hutter Prize (dev/test)", "Dev", "mLSTM", "1.29", 1.29, None, "2016-09-26"),
    ("Hutter Prize (dev/test)", "Test", "mLSTM", "1.27", 1.27, None, "2016-09-26"),
    ("Hutter Prize (dev/test)", "Training Loss", "mLSTM", "1.19", 1.19, None, "2016-09-26"),
    ("Mini-Imagenet 5-way (5-shot)", "Accuracy", "Baseline++", "66.43 ± 0.63", 66.43, 0.63, "2019-04-08"),
    ("Mini-Imagenet 5-way (5-shot)", "Accuracy", "TADAM", "—", None, None, "2018-05-23"),
    ("Mini-Imagenet 5-way (5-shot)", "Accuracy", "SNAIL", "n/a", None, None, "2018-05-23"),
    ("Mini-Imagenet 5-way (5-shot)", "Accuracy", "Unpublished baseline", "60.10", 60.10, None, None),
    ("Mini-Imagenet 5-way (5-shot)", "Accuracy", "Overflow", "1E+10000000", None, None, "2020-01-01"),
    ("Cora", "Accuracy", "GraphSAGE-mean", "82.2%", 82.2, None, "2018-02-15"),
    ("Cora", "Accuracy", "GAT", "83.0 ± 0.7", 83.0, 0.7, "2017-10-30"),
    ("SQuAD1.1", "EM", "BERT (single model)", "84.1", 84.1, None, "2018-10-11"),
    ("SQuAD1.1", "EM", "bert (single model)", "0.7426 ± 0.0017", 0.7426, 0.0017, "2019-05-01"),
    ("Text8", "Bit per Character (BPC)", "64-layer Character Transformer Model", "1.13", 1.13, None, "2018-08-09"),
    ("COCO test-dev (dump)", "mAP", UNNAMED, "41.2", 41.2, None, "2020-03-01"),
    ("COCO test-dev (dump)", "mAP", UNNAMED, "39.8", 39.8, None, "2019-11-20"),
    ("COCO test-dev (dump)", "mAP", UNNAMED, "37.5", 37.5, None, None),
]  # fmt: skip


def test_every_real_shape_is_imported_and_shown_value_by_value(archive, client, capsys):
    out, err, refused = _import(archive, capsys)
    # Two files refused with their reason; every other file imported.
    assert "2 of 7 files refused" in refused
    assert "papers-with-abstracts.json (not valid JSON" in refused
    assert "links-between-papers-and-code.json.gz (a damaged or truncated gzip file" in refused
    for name in ("evaluation-tables.json", "evaluation-tables.nlp-extra.json", "evaluation-tables-dump.json.gz", "methods.json", "datasets.json"):  # fmt: skip
        assert re.search(rf"Imported \S*/{re.escape(name)} \(", out), name
    assert "Refused " in out and not Paper.objects.filter(title="X").exists()
    assert not CodeLink.objects.filter(url="https://github.com/a/b").exists()

    # Every row with a value, in the database, as the archive gave it.
    stored = sorted(
        (r.benchmark.name, r.metric.name, r.model.name, r.raw_value, r.value, r.ci95, r.date.isoformat() if r.date else None)
        for r in Result.objects.select_related("benchmark", "metric", "model")
    )  # fmt: skip
    assert sorted(stored, key=repr) == sorted(EXPECTED, key=repr)

    # ... in /api/results and on each benchmark page, value by value.
    for bench in Benchmark.objects.filter(results__isnull=False).distinct():
        api = _api_rows(client, bench)
        assert len(api) == bench.results.count()
        for metric in Metric.objects.filter(results__benchmark=bench).distinct():
            page, rows = _page_rows(client, bench, metric)
            results = Result.objects.filter(benchmark=bench, metric=metric).select_related("model")
            # Every row of the table once (an archive row with all its metrics is one line):
            # by its value of this metric where it has one, else by its first value.
            assert {pk for pk in rows if Result.objects.get(pk=pk).metric_id == metric.pk} == {
                r.pk for r in results
            }, (bench.name, metric.name)
            assert len(rows) == bench.results.values("archive_key").distinct().count()
            for r in results:
                expected = next(
                    e
                    for e in EXPECTED
                    if e[:3] == (bench.name, metric.name, r.model.name) and e[3] == r.raw_value
                )
                _, _, model, raw, value, ci, date = expected
                row = api[r.pk]
                assert (row["model"], row["raw_value"], row["value"], row["ci95"]) == (
                    model,
                    raw,
                    value,
                    ci,
                )
                paper_date = r.paper.date.isoformat() if r.paper_id and r.paper.date else None
                assert row["paper_date"] == (date or paper_date), (model, row["paper_date"])
                cells = rows[r.pk]
                assert _plain(_cell(cells, "model")) == model
                shown = _plain(_cell(cells, "num value"))
                assert shown == raw, (model, shown)  # an interval once, as written
                year = _cell(cells, "num year-cell")
                if date or paper_date:
                    assert f'datetime="{date or paper_date}"' in year, (model, year)
                else:
                    assert _plain(year) == "—"
    # The row dated apart from its paper: each row its own date, the paper its first.
    mos = Paper.objects.get(arxiv_id="1711.03953")
    assert mos.date == datetime.date(2017, 11, 10)
    assert sorted(
        mos.results.filter(metric__name="Test perplexity").values_list("date", flat=True)
    ) == [
        datetime.date(2017, 11, 10),
        datetime.date(2018, 3, 2),
    ]

    # Anonymous rows (three at the top of their tables, a whole file of them): kept, named so.
    assert Result.objects.filter(model__name=UNNAMED).count() == 4
    assert "tasks[0].datasets[0].sota.rows[0]: no model_name: its values are kept" in err
    assert "evaluation-tables-dump.json.gz tasks[0].datasets[0].sota.rows[2]: no model_name" in err

    # A paper known only by its OpenReview address, and its code link (no null paper).
    sage = Result.objects.get(model__name="GraphSAGE-mean")
    assert (sage.paper.title, sage.paper.url, sage.paper.arxiv_id) == (OPENREVIEW, OPENREVIEW, "")
    assert list(sage.paper.code_links.values_list("url", flat=True)) == [
        "https://github.com/williamleif/GraphSAGE"
    ]
    cora = sage.benchmark
    _, rows = _page_rows(client, cora, sage.metric)
    code = _cell(rows[sage.pk], "code-cell")
    assert (
        '<a href="https://github.com/williamleif/GraphSAGE"' in code
        and "williamleif/GraphSAGE" in code
    )
    assert (
        client.get("/api/results", {"model": "GraphSAGE-mean"}).json()["results"][0]["paper_title"]
        == OPENREVIEW
    )

    # The NUL: removed, the warning names its JSON path.
    assert MLModel.objects.filter(name="GAT").exists()
    assert (
        "tasks[2].datasets[0].sota.rows[1].model_name: NUL characters or invalid Unicode removed"
        in err
    )

    # Two spellings of a model, each as written.
    assert set(
        MLModel.objects.filter(name__iexact="bert (single model)").values_list("name", flat=True)
    ) == {
        "BERT (single model)",
        "bert (single model)",
    }

    # 1e10000000 and its kin: text where a value was expected, dropped where a count was.
    assert "'1E+10000000' is not a number, kept as text" in err
    years = dict(Method.objects.values_list("name", "introduced_year"))
    assert years == {
        "Dropout": 2014,
        "Far Future": None,
        "Before Christ": None,
        "Squared": None,
        "Huge": None,
    }
    counts = dict(Method.objects.values_list("name", "num_papers"))
    assert counts == {"Dropout": 4123, "Far Future": 3, "Before Christ": 0, "Squared": 0, "Huge": 0}
    for where, raw in (("[1].introduced_year", "40000"), ("[2].introduced_year", "-5"), ("[3].introduced_year", "²"),
                       ("[4].introduced_year", "1E+10000000"), ("[2].num_papers", "-2"), ("[3].num_papers", "1000000000000")):  # fmt: skip
        assert f"methods.json {where}: {raw!r} is not" in err, where
    listed = Dataset.objects.filter(pwc_url__startswith="https://paperswithcode.com/")
    assert dict(listed.values_list("name", "num_papers")) == {
        "Cora": 1235,
        "Too Many": 0,
        "Superscript": 0,
    }
    assert "datasets.json [1].num_papers: '1000000000000' is not" in err
    assert "datasets.json [2].num_papers: '²' is not" in err

    # Directions: entropy is lower-is-better by its name; "Dev"/"Test" beside a loss, by its
    # table; each guess said on the page.
    entropy = Benchmark.objects.get(name="WikiText-2 (entropy)")
    metric = Metric.objects.get(name="Model Entropy")
    assert (metric.higher_is_better, metric.direction_source) == (False, "name")
    page, rows = _page_rows(client, entropy, metric)
    assert list(rows) == list(
        Result.objects.filter(benchmark=entropy).order_by("value").values_list("pk", flat=True)
    )
    assert "Direction: guessed from the metric&#x27;s name; a curator can correct it." in page
    hutter = Benchmark.objects.get(name="Hutter Prize (dev/test)")
    for name in ("Dev", "Test"):
        link = BenchmarkMetric.objects.get(benchmark=hutter, metric__name=name)
        assert (link.higher_is_better, link.direction_source) == (False, "table")
        page, rows = _page_rows(client, hutter, link.metric)
        assert [_plain(_cell(r, "model")) for r in rows.values()] == ["mLSTM", "LSTM (2 layers)"]
        assert (
            "Direction: guessed from the table&#x27;s other metrics; a curator can correct it."
            in page
        )
    assert not BenchmarkMetric.objects.get(
        benchmark=hutter, metric__name="Training Loss"
    ).metric.higher_is_better

    # A day of text values only, and an undated row: the page answers, neither is charted.
    mini = Benchmark.objects.get(name="Mini-Imagenet 5-way (5-shot)")
    page, _ = _page_rows(client, mini, Metric.objects.get(name="Accuracy"))
    dots = re.findall(r'<circle class="dot"[^>]*><title>([^<]*)</title>', page)
    assert dots == ["2019-04-08: 66.43"]

    # What PWC readers saw: dataset links and citations (http(s) only), the task's synonyms,
    # categories and source, the dataset's count and PWC page.
    ptb = Benchmark.objects.get(name="Penn Treebank (Word Level)")
    page = client.get(ptb.get_absolute_url()).content.decode()
    assert (
        '<a href="https://catalog.ldc.upenn.edu/LDC99T42" rel="nofollow noopener">LDC99T42</a>'
        in page
    )
    assert (
        '<a href="https://aclanthology.org/J93-2004/" rel="nofollow noopener">Marcus et al., 1993</a>'
        in page
    )
    assert "javascript:" not in page
    lm = Task.objects.get(name="Language Modelling")
    assert (lm.description, lm.categories, lm.synonyms) == (
        LM_DESCRIPTION,
        ["Natural Language Processing"],
        ["LM", "Language Modeling"],
    )
    assert lm.source_link["url"] == "https://nlpprogress.com/english/language_modeling.html"
    assert "task 'Language Modelling' already has another description" in err
    task_page = client.get(lm.get_absolute_url()).content.decode()
    for shown in ('<span class="tag">LM</span>', '<span class="tag">Natural Language Processing</span>',
                  'href="https://nlpprogress.com/english/language_modeling.html"'):  # fmt: skip
        assert shown in task_page, shown
    cora_page = client.get(Dataset.objects.get(name="Cora").get_absolute_url()).content.decode()
    assert re.search(r'id="dataset-num-papers">1235 ', cora_page)
    assert 'href="https://paperswithcode.com/dataset/cora"' in cora_page

    # A second import of the same folder changes nothing (and refuses the same two files).
    before = sorted(Result.objects.values_list("pk", "value", "raw_value", "date"))
    out, _, refused = _import(archive, capsys)
    assert "2 of 7 files refused" in refused
    assert sorted(Result.objects.values_list("pk", "value", "raw_value", "date")) == before
    # (The anonymous Penn Treebank row's two empty cells are skipped, each time.)
    assert "results: 0 created, 0 updated, 28 unchanged, 2 skipped" in out


READER = textwrap.dedent(
    """
    import os, sys
    import django
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()  # the package's __init__ imports the models; the reader itself is pure
    from leaderboard.archive.reader import iter_items
    from leaderboard.archive.values import as_int, parse_value
    with open(sys.argv[1], "rb") as f:
        items = [item for _, item, _ in iter_items(f)]
    rows = [r for t in items for d in t["datasets"] for r in d["sota"]["rows"]]
    value = next(r["metrics"]["Accuracy"] for r in rows if r.get("model_name") == "Overflow")
    print(repr(value), parse_value(value), as_int(value))
    """
)


def test_a_huge_exponent_is_read_as_text_within_seconds(tmp_path):
    """``1e10000000`` builds no ten-million-digit number: the reader alone, in a process
    killed after 30 s if it hangs (it takes milliseconds)."""
    path = tmp_path / "evaluation-tables.json"
    path.write_text(_text(tables_a()), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, "-c", READER, str(path)],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=Path(__file__).resolve().parents[2],
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "'1E+10000000' None None"


def test_the_real_shapes_round_trip_through_sota_extractor_exactly(archive, tmp_path, capsys):
    """Exported (sota-extractor 0.0.29's schema), loaded and written back by its loader, then
    imported into an empty catalogue: every row, value, interval, date and model name again;
    the anonymous rows leave without a name, as they came."""
    from .test_archive_files import LOAD, sota_python

    _import(archive, capsys)

    def rows():
        return sorted(
            (r.benchmark.name, r.metric.name, r.model.name, r.raw_value, r.value, r.ci95, r.date)
            for r in Result.objects.select_related("benchmark", "metric", "model")
        )

    before = rows()
    out = tmp_path / "evaluation-tables.json"
    call_command("export_archive", str(out))
    exported = json.loads(out.read_text())
    names = [r["model_name"] for t in exported for d in t["datasets"] for r in d["sota"]["rows"]]
    assert names.count("") == 4 and UNNAMED not in names
    reloaded = tmp_path / "reloaded.json"
    done = subprocess.run(
        [str(sota_python()), "-c", LOAD, str(out), str(reloaded)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
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
    assert rows() == before
    sage = Result.objects.get(model__name="GraphSAGE-mean")
    assert list(sage.paper.code_links.values_list("url", flat=True)) == [
        "https://github.com/williamleif/GraphSAGE"
    ]
