import datetime

from leaderboard.results.charts import progress_chart

D = datetime.date


def test_it_draws_the_running_best_for_a_higher_is_better_metric():
    points = [(D(2017, 3, 9), 95.0), (D(2018, 1, 1), 93.0), (D(2019, 6, 1), 98.7)]
    chart = progress_chart(points, higher_is_better=True)
    assert not chart["empty"]
    assert len(chart["dots"]) == 3
    assert [r["label"] for r in chart["records"]] == ["2017-03-09: 95", "2019-06-01: 98.7"]
    assert chart["best"] == "98.7"
    assert chart["path"].startswith("M") and chart["path"].count("V") == 1
    # Under three years: months, at most six labels.
    labels = [t["label"] for t in chart["x_ticks"]]
    assert 2 <= len(labels) <= 6 and "Jan 2018" in labels and "Jan 2019" in labels
    xs = [d["x"] for d in chart["dots"]]
    assert xs == sorted(xs) and chart["left"] <= xs[0] and xs[-1] <= chart["right"]
    # A higher value is drawn higher (smaller y).
    ys = {d["label"]: d["y"] for d in chart["dots"]}
    assert ys["2019-06-01: 98.7"] < ys["2017-03-09: 95"] < ys["2018-01-01: 93"]


def test_it_counts_a_lower_value_as_progress_for_a_lower_is_better_metric():
    points = [(D(2020, 1, 1), 10.25), (D(2021, 1, 1), 12.0), (D(2022, 1, 1), 3.0)]
    chart = progress_chart(points, higher_is_better=False)
    assert [r["label"] for r in chart["records"]] == ["2020-01-01: 10.25", "2022-01-01: 3"]
    assert chart["best"] == "3"


def test_it_handles_a_single_point_and_no_point():
    chart = progress_chart([(D(2017, 3, 9), 48.7)], higher_is_better=True)
    assert len(chart["dots"]) == 1 and chart["best"] == "48.7"
    assert chart["left"] < chart["dots"][0]["x"] < chart["right"]
    assert progress_chart([], higher_is_better=True) == {"empty": True}


def test_a_single_point_gets_its_date_under_it_and_a_narrow_percentage_axis():
    chart = progress_chart([(D(2017, 3, 9), 98.7)], higher_is_better=True, percent=True)
    (tick,) = chart["x_ticks"]
    assert tick["label"] == "2017-03-09" and tick["x"] == chart["dots"][0]["x"]
    ys = [float(t["label"]) for t in chart["y_ticks"]]
    assert max(ys) <= 100 and max(ys) - min(ys) <= 3  # not a 94-102 range around one dot
    assert chart["top"] < chart["dots"][0]["y"] < chart["bottom"]


def test_verified_points_are_drawn_apart_with_their_interval_as_a_whisker():
    archive = [(D(2017, 3, 9), 95.0), (D(2018, 1, 1), 96.0)]
    verified = [(D(2026, 11, 1), 97.5, 0.8, "MAML (ours)")]
    chart = progress_chart(archive, True, verified=verified, percent=True)
    assert len(chart["dots"]) == 2  # archive only
    (mark,) = chart["verified"]
    assert mark["high"] < mark["y"] < mark["low"]  # the whisker spans the interval
    assert mark["diamond"].startswith("M") and "verified 97.5 ± 0.8" in mark["label"]
    assert mark["record"] is True  # it beats the archive
    labels = [t["label"] for t in chart["x_ticks"]]
    assert len(labels) <= 8  # years, thinned: legible at 390 px


def test_only_verified_points_still_make_a_chart():
    chart = progress_chart([], True, verified=[(D(2026, 1, 5), 60.0, 1.7, "A")], percent=True)
    assert not chart["empty"] and chart["x_ticks"][0]["label"] == "2026-01-05"
