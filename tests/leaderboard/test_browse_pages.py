"""SotA, About, task, dataset and paper pages, the navigation and the page cache."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from leaderboard.models import Benchmark, CodeLink, Dataset, Metric, Paper, Task

from .conftest import add_results, make_verified

MAML = "model-agnostic-meta-learning-for-fast-adaptation-of-deep-networks"

pytestmark = pytest.mark.usefixtures("seeded")


def html(client, url, params=None) -> str:
    response = client.get(url, params or {})
    assert response.status_code == 200, url
    return response.content.decode()


def test_the_navigation_is_the_seed_pages(client):
    body = html(client, "/")
    nav = body[body.index('class="main-nav"') : body.index("</nav>")]
    labels = re.findall(r">([^<]+)</a>", nav)
    assert labels == ["Tasks", "SotA", "Datasets", "Papers", "Methods", "Submit", "About"]


def test_sota_lists_every_benchmark_under_each_task_with_its_best_and_count(client):
    body = html(client, "/sota/", {"q": "OMNIGLOT - 1-Shot, 5-way"})
    omniglot = Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way")
    for task in omniglot.tasks.all():
        assert f">{task.name}</a></h2>" in body
    assert body.count(f'href="{omniglot.get_absolute_url()}"') == omniglot.tasks.count()
    assert "98.7" in body and "archive, not re-run" in body


def test_sota_shows_a_verified_best_and_the_number_of_results(client):
    omniglot = Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way")
    accuracy = Metric.objects.get(name="Accuracy")
    make_verified(omniglot, accuracy, 99.5)
    body = html(client, "/sota/", {"q": "OMNIGLOT - 1-Shot, 5-way"})
    row = body[body.index(omniglot.get_absolute_url()) :]
    row = row[: row.index("</tr>")]
    assert "99.5" in row and "verified" in row and ">2</td>" in row


def test_sota_is_paginated_and_filtered_by_task(client):
    task = Task.objects.get(name="Few-Shot Image Classification")
    first = client.get("/sota/", {"task": task.slug})
    assert first.status_code == 200
    total = first.context["page"].paginator.count
    assert total == task.benchmarks.count() + sum(
        s.benchmarks.count() for s in Task.objects.filter(parent=task)
    )
    dataset = Dataset.objects.get(slug="omniglot")
    for i in range(60):
        b = Benchmark.objects.create(name=f"Extra {i:02d}", slug=f"extra-{i:02d}", dataset=dataset)
        b.tasks.add(task)
    page2 = client.get("/sota/", {"task": task.slug, "page": 2})
    assert page2.context["page"].number == 2
    assert page2.context["page"].paginator.count == total + 60


def test_sota_runs_the_same_queries_for_few_and_many_results(client):
    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get("/sota/").status_code == 200
        return len(ctx.captured_queries)

    few = queries()
    omniglot = Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way")
    add_results(omniglot, Metric.objects.get(name="Accuracy"), 200)
    assert queries() == few


def test_about_explains_the_marks_and_the_licence(client):
    body = html(client, "/about/")
    for words in ("evaluated", "reproduced", "archive, not re-run", "CC-BY-SA 4.0"):
        assert words in body
    # One paragraph says what a verified row's number is: the measured one, the claim beside.
    paragraph = body.split('id="verified-number-text"')[1].split("</p>")[0]
    assert "the one VeriSOTA measured" in paragraph and "claimed 61.3" in paragraph
    assert "ranked, charted, ledgered and exported by that measured figure" in paragraph


def test_a_task_page_says_each_benchmarks_best(client):
    task = Task.objects.get(name="Few-Shot Image Classification")
    task.description = "Classify from a few examples."
    task.save()
    body = html(client, task.get_absolute_url())
    assert "Classify from a few examples." in body
    omniglot = Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way")
    row = body[body.index(omniglot.get_absolute_url()) :]
    assert "98.7" in row[: row.index("</tr>")]


def test_a_large_task_is_paginated_with_each_benchmarks_best_in_the_same_queries(client):
    from leaderboard.views.pages import PER_PAGE

    task = Task.objects.create(name="Large task", slug="large-task")
    metric = Metric.objects.get(name="Accuracy")
    dataset = Dataset.objects.first()

    def grow(n: int) -> None:
        start = task.benchmarks.count()
        for i in range(start, start + n):
            b = Benchmark.objects.create(name=f"Large {i:03d}", slug=f"large-{i}", dataset=dataset)
            b.tasks.add(task)
            add_results(b, metric, 2, start=20.0 + i)

    def queries(page: int) -> tuple[int, str]:
        with CaptureQueriesContext(connection) as ctx:
            body = html(client, task.get_absolute_url(), {"page": page})
        return len(ctx.captured_queries), body

    grow(3)
    few, _ = queries(1)
    grow(PER_PAGE + 4)  # now PER_PAGE + 7 benchmarks: two pages
    many, body = queries(1)
    assert many == few
    assert body.count('href="/benchmarks/large-') == PER_PAGE
    assert f"Page 1 of 2 · {PER_PAGE + 7} in all" in body
    _, body = queries(2)
    assert body.count('href="/benchmarks/large-') == 7
    last = Benchmark.objects.get(name=f"Large {PER_PAGE + 6:03d}")
    row = body[body.index(last.get_absolute_url()) :]
    assert f"{20 + PER_PAGE + 6}.1" in row[: row.index("</tr>")]  # its best of 2


def test_the_paper_page_lists_every_code_link_official_first(client):
    paper = Paper.objects.get(slug=MAML)
    CodeLink.objects.create(
        paper=paper, url="https://github.com/aaa/first-by-name", framework="pytorch"
    )
    CodeLink.objects.create(paper=paper, url="javascript:alert(1)", framework="")
    body = html(client, paper.get_absolute_url())
    table = body[body.index('id="code-links"') :]
    table = table[: table.index("</table>")]
    assert table.index("cbfinn/maml") < table.index("aaa/first-by-name")
    assert "official" in table and "pytorch" in table and "tensorflow" in table
    assert 'href="javascript:' not in body
    assert re.search(r'<a [^>]*href="https://arxiv.org/pdf/1703.03400"[^>]*id="pdf-link"', body)


def test_related_papers_share_the_most_tasks_first(client):
    maml = Paper.objects.get(slug=MAML)
    tasks = list(maml.tasks.all())
    both = Paper.objects.create(title="Shares two", slug="two")
    both.tasks.set(tasks[:2])
    one = Paper.objects.create(title="Shares one", slug="one")
    one.tasks.set(tasks[:1])
    Paper.objects.create(title="Shares none", slug="none")
    body = html(client, maml.get_absolute_url())
    related = body[body.index('id="related-papers"') :]
    assert related.index("Shares two") < related.index("Shares one")
    assert "Shares none" not in related


def test_related_papers_cost_the_same_queries_however_many_papers_share(client):
    maml = Paper.objects.get(slug=MAML)
    task = maml.tasks.first()
    task.papers.add(Paper.objects.create(title="Already related", slug="already"))

    def queries():
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(maml.get_absolute_url()).status_code == 200
        return len(ctx.captured_queries)

    few = queries()
    papers = Paper.objects.bulk_create(Paper(title=f"P{i}", slug=f"p{i}") for i in range(50))
    task.papers.add(*papers)
    assert queries() == few


def test_a_dataset_page_shows_its_description_homepage_and_tasks(client):
    dataset = Dataset.objects.get(slug="omniglot")
    dataset.description = "1623 handwritten characters from 50 alphabets."
    dataset.url = "https://github.com/brendenlake/omniglot"
    dataset.save()
    body = html(client, dataset.get_absolute_url())
    assert "1623 handwritten characters" in body
    assert 'href="https://github.com/brendenlake/omniglot"' in body
    assert "Few-Shot Image Classification" in body[body.index('id="dataset-tasks"') :]


def test_an_anonymous_page_is_cached_until_the_catalogue_changes(client):
    first = client.get("/sota/")
    assert "X-Page-Cache" not in first
    with CaptureQueriesContext(connection) as ctx:
        second = client.get("/sota/")
    assert second["X-Page-Cache"] == "hit" and len(ctx.captured_queries) == 1
    assert second.content == first.content
    Task.objects.create(name="Brand New Task", slug="brand-new")
    b = Benchmark.objects.first()
    b.tasks.add(Task.objects.get(slug="brand-new"))
    third = client.get("/sota/")
    assert "X-Page-Cache" not in third and "Brand New Task" in third.content.decode()


def test_a_logged_in_reader_is_never_served_the_cache(client, owner):
    client.get("/sota/")
    client.force_login(owner)
    response = client.get("/sota/")
    assert "X-Page-Cache" not in response and "owner" in response.content.decode()
