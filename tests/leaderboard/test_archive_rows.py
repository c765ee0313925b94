# ruff: noqa: E501  (the archive's rows are written as literals, a row a line)
"""A row of the archive holds all of its table's metrics for one model and paper (PWC's SQuAD1.1:
184 rows of EM and F1), and VeriSOTA shows it as that one row (issue 22): the v1 API's result
(one per row, ``metrics`` all of them, its id stable), the export (one row per row, so the round
trip through sota-extractor 0.0.29 gives the same rows back) and the benchmark page (one line per
row, a column per metric, ranked by the table's first metric). ``/api/results`` stays one metric
per entry, each counted once. Files the test writes; runs on PostgreSQL and on SQLite alike."""

import html
import json
import re
import subprocess

import pytest
from django.core.management import call_command
from rest_framework.authtoken.models import Token

from leaderboard.models import Benchmark, CodeLink, Dataset, Metric, MLModel, Paper, Result, Task

pytestmark = pytest.mark.django_db

SQUAD = "SQuAD1.1 dev (rows test)"
IMAGENET = "ImageNet (rows test)"

# Rows as the archive has them, best first by the first metric. EM/F1: higher is better.
SQUAD_ROWS = [
    {
        "model_name": "XLNet (single model)",
        "metrics": {"EM": "89.898", "F1": "95.080"},
        "paper_title": "XLNet: Generalized Autoregressive Pretraining for Language Understanding",
        "paper_url": "https://arxiv.org/abs/1906.08237v2",
        "paper_date": "2019-06-19",
        "code_links": [{"title": "zihangdai/xlnet", "url": "https://github.com/zihangdai/xlnet"}],
        "model_links": [],
        "uses_additional_data": False,
    },
    {
        "model_name": "BERT (single model)",
        "metrics": {"EM": "84.1", "F1": "90.9"},
        "paper_title": "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding",
        "paper_url": "https://arxiv.org/abs/1810.04805v2",
        "paper_date": "2018-10-11",
        "code_links": [],
        "model_links": [],
        "uses_additional_data": False,
    },
    # The same model and paper again, with extra data and another date: another row.
    {
        "model_name": "BERT (single model)",
        "metrics": {"EM": "84.1", "F1": "91.3"},
        "paper_title": "BERT: Pre-training of Deep Bidirectional Transformers for Language Understanding",
        "paper_url": "https://arxiv.org/abs/1810.04805v2",
        "paper_date": "2018-11-01",
        "code_links": [],
        "model_links": [],
        "uses_additional_data": True,
    },
    {
        "model_name": "BiDAF",
        "metrics": {"EM": "67.7", "F1": "77.3"},
        "paper_title": "Bidirectional Attention Flow for Machine Comprehension",
        "paper_url": "https://arxiv.org/abs/1611.01603v6",
        "paper_date": "2016-11-05",
        "code_links": [],
        "model_links": [],
        "uses_additional_data": False,
    },
    # F1 only (the archive's empty EM), and EM as text: rows all the same.
    {
        "model_name": "Match-LSTM",
        "metrics": {"EM": "", "F1": "73.7"},
        "paper_title": "",
        "paper_url": "",
        "paper_date": "2016-08-29",
        "code_links": [],
        "model_links": [],
        "uses_additional_data": False,
    },
    {
        "model_name": "Logistic regression",
        "metrics": {"EM": "—", "F1": "51.0"},
        "paper_title": "",
        "paper_url": "",
        "paper_date": "2016-06-16",
        "code_links": [],
        "model_links": [],
        "uses_additional_data": False,
    },
]
# Top 1 Accuracy is the table's first metric; by name "Number of params" comes first.
IMAGENET_ROWS = [
    {
        "model_name": "EfficientNet-B7",
        "metrics": {
            "Top 1 Accuracy": "84.4%",
            "Number of params": "66M",
            "Top 5 Accuracy": "97.1%",
        },
        "paper_title": "EfficientNet: Rethinking Model Scaling for Convolutional Neural Networks",
        "paper_url": "https://arxiv.org/abs/1905.11946v5",
        "paper_date": "2019-05-28",
        "code_links": [],
        "model_links": [],
        "uses_additional_data": False,
    },
    {
        "model_name": "ResNet-50",
        "metrics": {
            "Top 1 Accuracy": "76.0%",
            "Number of params": "25M",
            "Top 5 Accuracy": "93.0%",
        },
        "paper_title": "Deep Residual Learning for Image Recognition",
        "paper_url": "https://arxiv.org/abs/1512.03385v1",
        "paper_date": "2015-12-10",
        "code_links": [],
        "model_links": [],
        "uses_additional_data": False,
    },
    {
        "model_name": "AlexNet",
        "metrics": {
            "Top 1 Accuracy": "63.3%",
            "Number of params": "60M",
            "Top 5 Accuracy": "84.6%",
        },
        "paper_title": "ImageNet Classification with Deep Convolutional Neural Networks",
        "paper_url": "https://papers.nips.cc/paper/4824-imagenet-classification",
        "paper_date": "2012-12-03",
        "code_links": [],
        "model_links": [],
        "uses_additional_data": False,
    },
]


def tables() -> list:
    return [
        {
            "task": "Question Answering (rows test)",
            "description": "",
            "categories": [],
            "synonyms": [],
            "source_link": None,
            "datasets": [
                {
                    "dataset": SQUAD,
                    "description": "",
                    "dataset_links": [],
                    "dataset_citations": [],
                    "subdatasets": [],
                    "sota": {"metrics": ["EM", "F1"], "rows": SQUAD_ROWS},
                }
            ],
            "subtasks": [],
        },
        {
            "task": "Image Classification (rows test)",
            "description": "",
            "categories": [],
            "synonyms": [],
            "source_link": None,
            "datasets": [
                {
                    "dataset": IMAGENET,
                    "description": "",
                    "dataset_links": [],
                    "dataset_citations": [],
                    "subdatasets": [],
                    "sota": {
                        "metrics": ["Top 1 Accuracy", "Number of params", "Top 5 Accuracy"],
                        "rows": IMAGENET_ROWS,
                    },
                }
            ],
            "subtasks": [],
        },
    ]


def _values(row: dict) -> dict:
    """A row's metrics with a value (an empty one is not imported)."""
    return {k: v for k, v in row["metrics"].items() if v != ""}


@pytest.fixture
def imported(tmp_path):
    path = tmp_path / "evaluation-tables.json"
    path.write_text(json.dumps(tables(), ensure_ascii=False), encoding="utf-8")
    call_command("import_archive", str(path))
    return path


def _v1_rows(client, bench: Benchmark, size: int = 2) -> list:
    """Every v1 result of the table, walked page by page."""
    out, page = [], 1
    while True:
        body = client.get(
            f"/api/v1/evaluations/{bench.slug}/results/", {"page": page, "items_per_page": size}
        ).json()
        out += body["results"]
        assert body["count"] == len(
            {r for r in Result.objects.filter(benchmark=bench).values_list("archive_key")}
        )
        if not body["next"]:
            return out
        page += 1


def _page(client, bench: Benchmark, metric: str | None = None) -> tuple[list[str], list[dict]]:
    """(the column heads, each line of the table as {column: text}) of the benchmark page."""
    params = {"metric": Metric.objects.get(name=metric).slug} if metric else {}
    response = client.get(bench.get_absolute_url(), params)
    assert response.status_code == 200
    table = response.content.decode().split('id="sota-table"')[1].split("</table>")[0]
    head = [_plain(h) for h in re.findall(r"<th[^>]*>(.*?)</th>", table.split("</thead>")[0], re.S)]
    lines = []
    for body in re.findall(r"<tr id=\"result-\d+\"[^>]*>(.*?)</tr>", table, re.S):
        cells = [_plain(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", body, re.S)]
        assert len(cells) == len(head)
        lines.append(dict(zip(head, cells, strict=True)))
    return head, lines


def _plain(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def test_each_archive_row_is_one_v1_result_with_all_its_metrics(client, imported):
    for name, rows in ((SQUAD, SQUAD_ROWS), (IMAGENET, IMAGENET_ROWS)):
        bench = Benchmark.objects.get(name=name)
        # Stored one value a result: as many results as values, one key per row.
        assert Result.objects.filter(benchmark=bench).count() == sum(len(_values(r)) for r in rows)
        results = _v1_rows(client, bench)
        assert len(results) == len({r["id"] for r in results}) == len(rows)
        got = sorted(
            (r["methodology"], r["evaluated_on"], r["uses_additional_data"], r["metrics"])
            for r in results
        )  # fmt: skip
        want = sorted(
            (r["model_name"], r["paper_date"], r["uses_additional_data"], _values(r)) for r in rows
        )  # fmt: skip
        assert got == want
        for r in results:
            # Its id: its first result's; any of its results' ids finds the same row.
            members = Result.objects.filter(
                benchmark=bench, archive_key=Result.objects.get(pk=r["id"]).archive_key
            )
            assert int(r["id"]) == min(m.pk for m in members)
            assert r["best_metric"] == next(iter(r["metrics"]))
            for m in members:
                one = client.get(f"/api/v1/evaluations/{bench.slug}/results/{m.pk}/").json()
                assert one == r
    # Ranks: the table's first metric, ties shared (two BERT rows at EM 84.1).
    squad = {
        (r["methodology"], r["metrics"].get("F1")): r
        for r in _v1_rows(client, Benchmark.objects.get(name=SQUAD), 50)
    }
    assert [
        squad[k]["best_rank"]
        for k in (
            ("XLNet (single model)", "95.080"),
            ("BERT (single model)", "90.9"),
            ("BERT (single model)", "91.3"),
            ("BiDAF", "77.3"),
        )
    ] == [1, 2, 2, 4]
    # A paper's results: its rows, once each.
    bert = Paper.objects.get(arxiv_id="1810.04805")
    listed = client.get(f"/api/v1/papers/{bert.slug}/results/").json()
    assert sorted(r["metrics"]["F1"] for r in listed["results"]) == ["90.9", "91.3"]
    assert listed["count"] == 2


def test_results_api_lists_each_value_once(client, imported):
    """``/api/results``: one metric per entry, as documented; each value once, none twice."""
    bench = Benchmark.objects.get(name=SQUAD)
    body = client.get("/api/results", {"benchmark": bench.slug, "page_size": 100}).json()
    assert body["count"] == len(body["results"]) == 11  # 6 rows, 12 cells, one empty
    assert len({r["id"] for r in body["results"]}) == 11
    assert sorted((r["model"], r["metric"], r["raw_value"]) for r in body["results"]) == sorted(
        (row["model_name"], m, v) for row in SQUAD_ROWS for m, v in _values(row).items()
    )


def test_the_benchmark_page_shows_a_line_per_row_and_a_column_per_metric(client, imported):
    bench = Benchmark.objects.get(name=IMAGENET)
    head, lines = _page(client, bench)
    # Ranked by the table's first metric (not the first by name), its column first.
    assert head[:5] == ["Rank", "Model", "Top 1 Accuracy", "Number of params", "Top 5 Accuracy"]
    assert [
        (line["Model"], line["Top 1 Accuracy"], line["Number of params"], line["Top 5 Accuracy"])
        for line in lines
    ] == [
        (
            r["model_name"],
            r["metrics"]["Top 1 Accuracy"],
            r["metrics"]["Number of params"],
            r["metrics"]["Top 5 Accuracy"],
        )
        for r in IMAGENET_ROWS
    ]
    assert [line["Rank"] for line in lines] == ["1", "2", "3"]
    # Ranked by another metric: the same rows, reordered; parameters are lower-is-better.
    head, lines = _page(client, bench, "Number of params")
    assert head[2:5] == ["Number of params", "Top 1 Accuracy", "Top 5 Accuracy"]
    assert [
        (line["Model"], line["Number of params"], line["Top 1 Accuracy"]) for line in lines
    ] == [
        ("ResNet-50", "25M", "76.0%"),
        ("AlexNet", "60M", "63.3%"),
        ("EfficientNet-B7", "66M", "84.4%"),
    ]

    squad = Benchmark.objects.get(name=SQUAD)
    head, lines = _page(client, squad)
    assert head[2:4] == ["EM", "F1"]
    # Every row once, each value as the archive wrote it; ties share a rank; a row without a
    # number of the ranked metric (empty, or text) comes last. (The second of a tie is "=2".)
    assert [
        (line["Rank"], line["Model"], line["EM"], line["F1"], line["Extra data"])
        for line in lines[:4]
    ] == [
        ("1", "XLNet (single model)", "89.898", "95.080", "no"),
        ("2", "BERT (single model)", "84.1", "90.9", "no"),
        ("=2", "BERT (single model)", "84.1", "91.3", "extra data"),
        ("4", "BiDAF", "67.7", "77.3", "no"),
    ]
    assert sorted((line["Model"], line["EM"], line["F1"]) for line in lines[4:]) == [
        ("Logistic regression", "—", "51.0"),
        ("Match-LSTM", "—", "73.7"),
    ]
    # By F1: all six rows by F1.
    _, lines = _page(client, squad, "F1")
    assert [line["F1"] for line in lines] == ["95.080", "91.3", "90.9", "77.3", "73.7", "51.0"]
    assert [line["Rank"] for line in lines] == ["1", "2", "3", "4", "5", "6"]


def test_rows_of_many_metrics_walk_the_page_and_the_v1_api_once_each(client, imported):
    """Sixty rows of three metrics with tied values, paginated: every row once."""
    bench = Benchmark.objects.get(name=IMAGENET)
    metrics = list(
        Metric.objects.filter(name__in=["Top 1 Accuracy", "Number of params", "Top 5 Accuracy"])
    )
    model = MLModel.objects.get(name="ResNet-50")
    Result.objects.bulk_create(
        Result(
            benchmark=bench,
            metric=m,
            model=model,
            value=float(50 + i % 3),
            raw_value="",
            archive_key=f"tie-{i}",
        )
        for i in range(60)
        for m in metrics
    )
    rows = 60 + len(IMAGENET_ROWS)  # two pages of the benchmark page (50 a page)
    ids = [int(r["id"]) for r in _v1_rows(client, bench, size=7)]
    assert len(ids) == len(set(ids)) == rows
    seen = []
    for page in range(1, 3):
        response = client.get(bench.get_absolute_url(), {"page": page})
        seen += [int(pk) for pk in re.findall(r'<tr id="result-(\d+)"', response.content.decode())]
    assert len(seen) == len(set(seen)) == rows


def test_v1_writes_keep_a_row_and_its_id(client, imported, django_user_model):
    staff = django_user_model.objects.create_user("curator", password="x", is_staff=True)
    auth = {"HTTP_AUTHORIZATION": f"Token {Token.objects.create(user=staff).key}"}
    bench = Benchmark.objects.get(name=SQUAD)
    url = f"/api/v1/evaluations/{bench.slug}/results/"
    added = client.post(
        url,
        {
            "metrics": {"EM": "70.1", "F1": "80.2"},
            "methodology": "R-Net",
            "evaluated_on": "2017-05-01",
        },
        content_type="application/json",
        **auth,
    )
    assert added.status_code == 201, added.content
    rid = added.json()["id"]
    listed = {r["id"]: r for r in _v1_rows(client, bench, 50)}
    assert (
        listed[rid]["metrics"] == {"EM": "70.1", "F1": "80.2"}
        and len(listed) == len(SQUAD_ROWS) + 1
    )
    # Its first metric replaced: the row keeps its id.
    changed = client.patch(
        f"{url}{rid}/", {"metrics": {"F1": "81.0"}}, content_type="application/json", **auth
    )
    assert changed.status_code == 200, changed.content
    assert changed.json()["id"] == rid and changed.json()["metrics"] == {"F1": "81.0"}
    assert Result.objects.get(pk=rid).metric.name == "F1"
    assert client.get(f"{url}{rid}/").json()["metrics"] == {"F1": "81.0"}
    changed = client.patch(
        f"{url}{rid}/",
        {"metrics": {"EM": "71.0", "F1": "81.5"}},
        content_type="application/json",
        **auth,
    )
    assert changed.json()["id"] == rid and changed.json()["metrics"] == {"EM": "71.0", "F1": "81.5"}
    _, lines = _page(client, bench, "F1")
    assert [
        (line["Model"], line["EM"], line["F1"]) for line in lines if line["Model"] == "R-Net"
    ] == [("R-Net", "71.0", "81.5")]
    assert client.delete(f"{url}{rid}/", **auth).status_code == 204
    assert not Result.objects.filter(model__name="R-Net").exists()


def test_multi_metric_rows_round_trip_through_sota_extractor_exactly(imported, tmp_path):
    """Exported (one row per archive row, all its metrics), loaded and written back by
    sota-extractor 0.0.29's loader, imported into an empty catalogue: the same rows."""
    from .test_archive_files import LOAD, sota_python

    def rows_of(items):
        return sorted(
            (
                d["dataset"],
                r["model_name"],
                r["paper_title"],
                r["paper_url"],
                r["paper_date"],
                r["uses_additional_data"],
                json.dumps(_values(r), sort_keys=True),
            )
            for t in items
            for d in t["datasets"]
            for r in d["sota"]["rows"]
            if d["dataset"] in (SQUAD, IMAGENET)
        )

    original = rows_of(tables())
    out = tmp_path / "exported.json"
    call_command("export_archive", str(out))
    exported = json.loads(out.read_text())
    assert rows_of(exported) == original
    # The table's metric order, and each row's, as the archive had them.
    squad = next(d for t in exported for d in t["datasets"] if d["dataset"] == SQUAD)
    assert squad["sota"]["metrics"] == ["EM", "F1"]
    assert [list(r["metrics"]) for r in squad["sota"]["rows"]][:1] == [["EM", "F1"]]
    reloaded = tmp_path / "reloaded.json"
    done = subprocess.run(
        [str(sota_python()), "-c", LOAD, str(out), str(reloaded)], capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert rows_of(json.loads(reloaded.read_text())) == original
    for model in (Result, CodeLink, Benchmark, Paper, Dataset, Metric, Task):
        model.objects.all().delete()
    call_command("import_archive", str(reloaded))
    again = tmp_path / "again.json"
    call_command("export_archive", str(again))
    assert rows_of(json.loads(again.read_text())) == original
    for name, rows in ((SQUAD, SQUAD_ROWS), (IMAGENET, IMAGENET_ROWS)):
        bench = Benchmark.objects.get(name=name)
        assert Result.objects.filter(benchmark=bench).values(
            "archive_key"
        ).distinct().count() == len(rows)
