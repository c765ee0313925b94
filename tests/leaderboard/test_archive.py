import json

import pytest
from django.core.management import CommandError, call_command

from leaderboard.archive import parse_value
from leaderboard.models import Benchmark, CodeLink, Dataset, Metric, Paper, Result, Task

pytestmark = pytest.mark.django_db


def _archive() -> list:
    row = {
        "model_name": "ProtoNet",
        "metrics": {"Accuracy": "98.8%", "Params": "1.2M"},
        "paper_title": "Prototypical Networks for Few-shot Learning",
        "paper_url": "https://arxiv.org/abs/1703.05175v2",
        "paper_date": "2017-03-15",
        "code_links": [
            {
                "title": "jakesnell/prototypical-networks",
                "url": "https://github.com/jakesnell/prototypical-networks",
            }
        ],
        "uses_additional_data": False,
    }
    return [
        {
            "task": "Few-Shot Learning",
            "datasets": [],
            "subtasks": [
                {
                    "task": "Few-Shot Image Classification",
                    "datasets": [
                        {
                            "dataset": "OMNIGLOT - 1-Shot, 5-way",
                            "sota": {
                                "metrics": ["Accuracy", "Params"],
                                "rows": [
                                    row,
                                    {"model_name": "Matching Nets", "metrics": {"Accuracy": "n/a"}},
                                    {"metrics": {"Accuracy": "90"}},
                                    {
                                        "model_name": "Siamese",
                                        "metrics": {"Accuracy": "97.3"},
                                        "uses_additional_data": True,
                                    },
                                ],
                            },
                        },
                        {
                            "dataset": "Mini-Imagenet 5-way (1-shot)",
                            "sota": {
                                "metrics": ["Error"],
                                "rows": [
                                    {
                                        "model_name": "ProtoNet",
                                        "metrics": {"Error": "50.6"},
                                        "paper_title": row["paper_title"],
                                        "paper_url": row["paper_url"],
                                    },
                                ],
                            },
                        },
                    ],
                }
            ],
        }
    ]


def _write(tmp_path, data, name="evaluation-tables.json"):
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def test_it_parses_archive_values():
    assert parse_value("98.7") == (98.7, None)
    assert parse_value("98.7%") == (98.7, None)
    assert parse_value("1.2M") == (1.2e6, None)
    assert parse_value("1,024") == (1024.0, None)
    assert parse_value(57.024) == (57.024, None)
    assert parse_value("98.7 ± 0.2") == (98.7, 0.2)
    for bad in ("n/a", "-", "", None, True, "nan", [1]):
        assert parse_value(bad) is None


def test_it_imports_a_small_archive_file(tmp_path, capsys):
    call_command("import_archive", str(_write(tmp_path, _archive())))
    out, err = capsys.readouterr()
    # "n/a" is kept as text (value None) with a warning; the row without a model is kept under
    # a name that says so.
    assert "results: 6 created, 0 updated, 0 unchanged, 0 skipped" in out
    assert "'n/a' is not a number, kept as text" in err
    assert "rows[2]: no model_name: its values are kept as '(unnamed model)'" in err
    assert Result.objects.get(model__name="(unnamed model)").value == 90.0
    na = Result.objects.get(model__name="Matching Nets")
    assert (na.value, na.raw_value) == (None, "n/a")
    child = Task.objects.get(name="Few-Shot Image Classification")
    assert child.parent.name == "Few-Shot Learning"
    omniglot = Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way")
    assert (omniglot.dataset.slug, omniglot.ways, omniglot.shots) == ("omniglot", 5, 1)
    assert list(omniglot.tasks.all()) == [child]
    acc = Result.objects.get(benchmark=omniglot, model__name="ProtoNet", metric__name="Accuracy")
    assert (acc.value, acc.raw_value, acc.source) == (98.8, "98.8%", "archive")
    assert Result.objects.get(metric__name="Params").value == 1.2e6
    assert Result.objects.get(model__name="Siamese").uses_additional_data
    paper = Paper.objects.get(arxiv_id="1703.05175")
    assert paper.date.isoformat() == "2017-03-15"
    assert paper.results.count() == 3
    assert CodeLink.objects.filter(paper=paper).count() == 1
    assert not Metric.objects.get(name="Error").higher_is_better
    assert Metric.objects.get(name="Accuracy").higher_is_better
    assert Dataset.objects.filter(slug="mini-imagenet").count() == 1


def test_it_matches_existing_datasets_and_benchmarks_of_the_seed(tmp_path):
    call_command("load_seed")
    before = (Dataset.objects.count(), Result.objects.count())
    call_command("import_archive", str(_write(tmp_path, _archive())))
    assert Dataset.objects.count() == before[0]
    assert Result.objects.count() == before[1] + 6
    assert Benchmark.objects.get(name="Mini-Imagenet 5-way (1-shot)").dataset.name == (
        "Mini-ImageNet"
    )


def test_it_is_idempotent_and_counts_updates(tmp_path, capsys):
    path = _write(tmp_path, _archive())
    call_command("import_archive", str(path))
    call_command("import_archive", str(path))
    assert "results: 0 created, 0 updated, 6 unchanged" in capsys.readouterr().out
    assert Result.objects.count() == 6
    # A row that differs in a value is another row: stored too, the first one kept as it was.
    data = _archive()
    data[0]["subtasks"][0]["datasets"][0]["sota"]["rows"][0]["metrics"]["Accuracy"] = "99.1"
    call_command("import_archive", str(_write(tmp_path, data)))
    assert "results: 2 created, 0 updated, 4 unchanged" in capsys.readouterr().out
    values = Result.objects.filter(model__name="ProtoNet", metric__name="Accuracy")
    assert sorted(values.values_list("value", flat=True)) == [98.8, 99.1]


@pytest.mark.parametrize(
    "content, message",
    [
        ("{not json", "not in the archive format"),
        ("[1, {not json", "not in the archive format"),
        ({"task": "x"}, "the top level is not a list"),
        ([{"datasets": []}], "none of the five formats"),
        ([], "an empty list"),
    ],
)
def test_it_rejects_a_file_of_none_of_the_formats_and_writes_nothing(tmp_path, content, message):
    with pytest.raises(CommandError, match=message):
        call_command("import_archive", str(_write(tmp_path, content)))
    assert not Task.objects.exists()
    assert not Result.objects.exists()


def test_a_broken_file_after_good_items_writes_nothing(tmp_path):
    text = json.dumps(_archive())[:-1] + ', {"task": "T"'  # cut short inside an item
    with pytest.raises(CommandError, match="not valid JSON"):
        call_command("import_archive", str(_write(tmp_path, text)))
    assert not Task.objects.exists()
    assert not Result.objects.exists()


def test_it_rejects_a_missing_file(tmp_path):
    with pytest.raises(CommandError, match="cannot be read"):
        call_command("import_archive", str(tmp_path / "absent.json"))


def _tables() -> set:
    return {
        (
            r.benchmark.name,
            r.benchmark.dataset.name,
            r.benchmark.ways,
            r.benchmark.shots,
            tuple(sorted(r.benchmark.tasks.values_list("name", flat=True))),
            r.metric.name,
            r.metric.higher_is_better,
            r.model.name,
            r.value,
            r.raw_value,
            r.paper.title if r.paper else None,
            r.paper.date if r.paper else None,
            r.uses_additional_data,
        )
        for r in Result.objects.with_relations()
    }


def test_an_export_imported_into_an_empty_database_reproduces_the_tables(tmp_path):
    call_command("load_seed")
    call_command("import_archive", str(_write(tmp_path, _archive())))
    before = _tables()
    official = set(CodeLink.objects.filter(official=True).values_list("url", flat=True))
    out = tmp_path / "export.json"
    call_command("export_archive", str(out), "--extended")
    Result.objects.all().delete()
    for model in (CodeLink, Paper, Benchmark, Dataset, Metric, Task):
        model.objects.all().delete()
    call_command("import_archive", str(out))
    assert _tables() == before
    assert set(CodeLink.objects.filter(official=True).values_list("url", flat=True)) == official
    assert Benchmark.objects.get(name="Sinusoid Regression (10-shot)").metrics.get().name == "MSE"
