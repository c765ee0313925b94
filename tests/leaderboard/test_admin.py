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
        "/admin/leaderboard/mlmodel/?q=maml",
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


# --- Verified only through a run: no hand-made verified row, no hand-edited measured figure.


def _form(result_or_none=None, **changes):
    from leaderboard.models import Metric, MLModel

    base = {
        "benchmark": Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way").pk,
        "metric": Metric.objects.get(name="Accuracy").pk,
        "model": MLModel.objects.get(name="MAML").pk,
        "paper": Paper.objects.get().pk,
        "value": "99.9",
        "ci95": "0.1",
        "raw_value": "99.9",
    }
    return {**base, **changes}


def test_the_admin_refuses_a_hand_made_verified_result(curator):
    before = Result.objects.count()
    forged = _form(
        source="verified",
        claimed_value="99.9",
        verification_url="/results/1/evidence/",
        verified_at_0="2026-01-01",
        verified_at_1="00:00:00",
        verification_level="evaluated",
    )
    response = curator.post("/admin/leaderboard/result/add/", forged)
    assert response.status_code == 200  # the form again, with the refusal
    assert "published only by a reference run" in response.content.decode()
    assert Result.objects.count() == before and not Result.objects.verified().exists()


def test_the_admin_refuses_to_turn_an_archive_row_into_a_verified_one(curator):
    row = Result.objects.get(value=48.7)
    url = f"/admin/leaderboard/result/{row.pk}/change/"
    response = curator.post(url, _form(value="48.7", raw_value="48.7", source="verified"))
    assert response.status_code == 200
    assert "published only by a reference run" in response.content.decode()
    row.refresh_from_db()
    assert row.source == Result.Source.ARCHIVE and not Result.objects.verified().exists()
    # Without the forged field, an archive row's figure may still be corrected.
    response = curator.post(url, _form(value="48.8", raw_value="48.8"))
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.value, row.source) == (48.8, Result.Source.ARCHIVE)


def test_a_verified_rows_number_and_provenance_are_read_only(curator):
    from .conftest import make_verified

    row = make_verified(
        Benchmark.objects.get(name="OMNIGLOT - 1-Shot, 5-way"),
        Result.objects.get(value=48.7).metric,
        61.33,
    )
    url = f"/admin/leaderboard/result/{row.pk}/change/"
    page = curator.get(url).content.decode()
    assert 'name="value"' not in page and 'name="source"' not in page
    assert 'name="claimed_value"' not in page and 'name="paper"' in page
    curator.post(url, _form(value="99.99", ci95="0.01", source="archive", claimed_value="1"))
    row.refresh_from_db()
    assert (row.value, row.ci95, row.claimed_value) == (61.33, 0.3, 61.43)
    assert row.source == Result.Source.VERIFIED
    # Nor through a paper's inline of results.
    paper = Paper.objects.get()
    Result.objects.filter(pk=row.pk).update(paper=paper)
    inline = curator.get(f"/admin/leaderboard/paper/{paper.pk}/change/").context[
        "inline_admin_formsets"
    ]
    (results,) = [f for f in inline if f.formset.model is Result]
    (form,) = [f for f in results.formset.forms if f.instance.pk == row.pk]
    assert form.fields["value"].disabled and form.fields["raw_value"].disabled


def _admins():
    from django.contrib import admin

    for model_admin in admin.site._registry.values():
        yield model_admin
        for inline in model_admin.inlines:
            yield inline(model_admin.model, admin.site)


def test_every_link_field_of_the_admin_takes_http_s_only_and_assumes_https():
    """Each URLField a curator edits (models and inlines, both apps): an http(s)-only validator
    and ``assume_scheme="https"`` (no reliance on FORMS_URLFIELD_ASSUME_HTTPS, gone in Django
    6.0)."""
    from django.core.exceptions import ValidationError
    from django.db import models

    checked = []
    for model_admin in _admins():
        for field in model_admin.model._meta.fields:
            if isinstance(field, models.URLField):
                form_field = model_admin.formfield_for_dbfield(field, request=None)
                name = f"{type(model_admin).__name__}.{field.name}"
                assert form_field.assume_scheme == "https", name
                with pytest.raises(ValidationError):
                    form_field.clean("javascript://alert(1)")
                assert form_field.clean("example.org/a") == "https://example.org/a", name
                checked.append(name)
    assert {
        "MethodAdmin.source_url",
        "BenchmarkAdmin.mirror_url",
        "SubmissionAdmin.paper_url",
    } <= set(checked)
