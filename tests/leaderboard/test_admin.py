import pytest

from leaderboard.models import Benchmark, Paper, Result

pytestmark = pytest.mark.usefixtures("seeded")


@pytest.fixture
def curator(client, staff):
    client.force_login(staff)
    return client


@pytest.mark.parametrize(
    "url",
    [
        "/admin/leaderboard/result/?q=omniglot",
        "/admin/leaderboard/result/?source__exact=archive&metric__id__exact=1",
        "/admin/leaderboard/paper/?q=model-agnostic",
        "/admin/leaderboard/benchmark/?q=mini&dataset__id__exact=1",
        "/admin/leaderboard/task/?q=few",
        "/admin/leaderboard/dataset/?q=omni",
        "/admin/leaderboard/metric/?higher_is_better__exact=0",
        "/admin/leaderboard/model/?q=maml",
        "/admin/leaderboard/codelink/?official__exact=1",
    ],
)
def test_a_curator_can_search_and_filter(curator, url):
    response = curator.get(url)
    assert response.status_code == 200


def test_the_result_search_finds_by_benchmark_model_and_paper(curator):
    page = curator.get("/admin/leaderboard/result/", {"q": "OMNIGLOT - 5-Shot, 5-way"}).content
    assert b"99.9" in page and b"48.7" not in page


def test_the_paper_form_has_code_link_and_result_inlines(curator):
    paper = Paper.objects.get()
    page = curator.get(f"/admin/leaderboard/paper/{paper.pk}/change/").content.decode()
    assert "https://github.com/cbfinn/maml" in page
    assert 'id="code_links-group"' in page and 'id="results-group"' in page


def test_the_benchmark_form_has_a_results_inline(curator):
    bench = Benchmark.objects.get(name="Mini-Imagenet 5-way (1-shot)")
    page = curator.get(f"/admin/leaderboard/benchmark/{bench.pk}/change/").content.decode()
    assert 'id="results-group"' in page and "48.7" in page


def test_a_curator_can_correct_a_value_and_an_anonymous_user_cannot(client, curator):
    result = Result.objects.get(value=48.7)
    url = f"/admin/leaderboard/result/{result.pk}/change/"
    page = curator.get(url)
    assert page.status_code == 200
    client.logout()
    assert client.get(url).status_code == 302
