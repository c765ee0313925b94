"""The archive's values bounded before they are built, and strings cleaned where PostgreSQL
would refuse them (pure functions: no database)."""

import io
import json

from leaderboard.archive.reader import _clean, iter_items
from leaderboard.archive.values import as_int, parse_value
from leaderboard.results.charts import progress_chart


def items(text: str):
    notes = []
    got = list(iter_items(io.BytesIO(text.encode()), lambda i, p, m: notes.append((i, p, m))))
    return [item for _, item, _ in got], notes


def test_numbers_past_the_bounds_stay_text():
    (row,), _ = items(
        '[{"a": 1e10000000, "b": -5e-10000000, "c": 1e25, "d": 12, "e": 1.5, "f": '
        + "9" * 40
        + ', "g": 1E+5}]'
    )
    assert row["a"] == "1E+10000000" and row["b"] == "-5E-10000000"
    assert row["c"] == 1e25 and row["d"] == 12 and row["e"] == 1.5 and row["g"] == 100000
    assert row["f"] == "9" * 40
    assert parse_value(row["a"]) is None and parse_value(row["f"]) is not None
    assert parse_value(10**400) is None and parse_value("1" * 101) is None


def test_integers_are_ascii_digits_within_their_range():
    assert as_int("²") is None and as_int("٣") is None
    assert as_int("2017") == 2017 and as_int(2017.0) == 2017 and as_int(" 7 ") == 7
    assert as_int(40000, 1000, 2999) is None and as_int(-5, 1000, 2999) is None
    assert as_int(10**12, 0, 2**31 - 1) is None and as_int("9" * 19) is None
    assert as_int(True) is None and as_int(1.5) is None and as_int("1e3") is None


def test_nul_and_lone_surrogates_are_removed_and_their_path_named():
    text = json.dumps(
        [
            {"task": "T", "datasets": [{"dataset": "D\u0000", "sota": {"rows": [
                {"model_name": "GAT\u0000", "metrics": {"Acc\u0000": "1"}}]}}]},
            {"task": "Bad \ud800 surrogate"},
        ]
    )  # fmt: skip
    (first, second), notes = items(text)
    assert first["datasets"][0]["dataset"] == "D"
    row = first["datasets"][0]["sota"]["rows"][0]
    assert row["model_name"] == "GAT" and row["metrics"] == {"Acc": "1"}
    second["task"].encode("utf-8")  # PostgreSQL takes it (ijson's C parser, or _clean, fixed it)
    assert [(i, p) for i, p, _ in notes if i == 0] == [
        (0, ".datasets[0].dataset"),
        (0, ".datasets[0].sota.rows[0].model_name"),
        (0, ".datasets[0].sota.rows[0].metrics.Acc"),
    ]
    assert _clean("a\ud800b\x00") == "a\ufffdb" and _clean("plain") is None


def test_a_chart_ignores_days_without_a_number():
    day = __import__("datetime").date
    chart = progress_chart([(day(2018, 5, 23), None), (day(2019, 4, 8), 66.43)], True)
    assert [d["label"] for d in chart["dots"]] == ["2019-04-08: 66.43"]
    assert progress_chart([(day(2018, 5, 23), None)], True) == {"empty": True}
