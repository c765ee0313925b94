"""Every paginated API operation, as the OpenAPI schema lists them, refuses a page number or size
that is not a positive integer in ASCII digits ("²", "١٢", 5,000 digits, "", "0") with a 400 JSON
naming the parameter; a repeated parameter, a NUL character, an empty ``verified`` or ``extended``
the same. Under a real server (Django's, as ``make run``) a 5,000-digit page is a 400 too."""

import http.client
from urllib.parse import quote, urlsplit

import pytest
from django.core.management import call_command
from drf_spectacular.generators import SchemaGenerator

from leaderboard.models import Area, Benchmark, Result, Task

BAD_INTEGERS = ["²", "١٢", "1²", "0", "-1", "", "1.0", "abc", "9" * 5000, "9" * 19]
PAGE_PARAMS = ("page", "page_size", "items_per_page")


@pytest.fixture
def seeded(db):
    call_command("load_seed", verbosity=0)
    area = Area.objects.create(name="Computer Vision", slug="computer-vision")
    Task.objects.update(area=area)


def paginated_operations() -> list[tuple[str, list[str]]]:
    schema = SchemaGenerator().get_schema(request=None, public=True)
    found = []
    for path, item in schema["paths"].items():
        params = [
            p["name"] for p in item.get("get", {}).get("parameters", []) if p["in"] == "query"
        ]
        page = [p for p in params if p in PAGE_PARAMS]
        if page and not path.startswith("/api/submissions"):
            found.append((path, page))
    return found


def first(client, path: str) -> dict:
    r = client.get(path)
    assert r.status_code == 200, (path, r.status_code)
    results = r.json()["results"]
    assert results, f"the seed catalogue has nothing at {path}"
    return results[0]


def concrete(client, template: str) -> str | None:
    """The template with its path parameters replaced by objects of the seed catalogue."""
    path = template
    while "{" in path:
        start = path.index("{")
        name = path[start + 1 : path.index("}")]
        item = first(client, path[:start])
        if name in ("owner", "name"):  # a repository: from its address
            owner, repo = urlsplit(item["url"]).path.strip("/").split("/")[:2]
            value = owner if name == "owner" else repo
        else:
            value = str(item.get("id") or item.get("slug"))
        path = path[:start] + quote(value) + path[path.index("}") + 1 :]
    return path


def assert_400(response, param: str):
    assert response.status_code == 400, (response.request["PATH_INFO"], param, response.status_code)
    body = response.json()
    assert isinstance(body["detail"], str) and param in body["detail"]
    assert param in body


def test_the_schema_lists_the_paginated_operations():
    operations = dict(paginated_operations())
    assert len(operations) >= 25
    assert operations["/api/results/"] == ["page", "page_size"]
    assert operations["/api/v1/papers/{id}/results/"] == ["items_per_page", "page"]


def test_every_paginated_operation_refuses_odd_page_numbers_with_a_400(client, seeded):
    checked = 0
    for template, params in paginated_operations():
        path = concrete(client, template)
        assert client.get(path, {params[0]: "1"}).status_code == 200, path
        for param in params:
            for value in BAD_INTEGERS:
                assert_400(client.get(path, {param: value}), param)
                checked += 1
        r = client.get(f"{path}?page=1&page=2")
        assert_400(r, "page")
    assert checked >= 25 * 2 * len(BAD_INTEGERS)


def test_a_nul_character_in_any_parameter_is_a_400(client, seeded):
    for path, param in [
        ("/api/results/", "dataset"),
        ("/api/papers/", "search"),
        ("/api/v1/papers/", "abstract"),
        ("/api/v1/repositories/", "owner"),
        ("/api/v1/search/", "q"),
        ("/api/benchmarks/", "anything"),
    ]:
        assert_400(client.get(path, {param: "a\x00b"}), param)


def test_empty_or_odd_flags_are_a_400(client, seeded):
    for value in ["", "maybe", "²"]:
        assert_400(client.get("/api/results/", {"verified": value}), "verified")
        assert_400(
            client.get("/api/export/evaluation-tables.json", {"extended": value}), "extended"
        )
    assert client.get("/api/results/", {"verified": "false"}).status_code == 200
    for value in ["", "²", "١٩٩٩", "9" * 5000]:
        assert_400(client.get("/api/papers/", {"year": value}), "year")
    assert client.get("/api/papers/", {"year": "2017"}).status_code == 200


def test_stars_and_compare_ids_are_ascii_integers(client, seeded):
    for value in ["²", "١", "", "9" * 5000]:
        assert_400(client.get("/api/v1/repositories/", {"stars": value}), "stars")
    benchmark = Benchmark.objects.filter(results__isnull=False).first()
    rid = str(Result.objects.filter(benchmark=benchmark).first().pk)
    for value in ["²", "١", "9" * 5000]:
        r = client.get(f"/api/benchmarks/{benchmark.slug}/compare/", {"a": value, "b": rid})
        assert_400(r, "a")


@pytest.mark.django_db(transaction=True)
def test_a_five_thousand_digit_page_is_a_400_under_a_real_server(live_server):
    call_command("load_seed", verbosity=0)
    host = urlsplit(live_server.url)
    for path in ["/api/results/", "/api/v1/papers/", "/api/tasks/"]:
        conn = http.client.HTTPConnection(host.hostname, host.port, timeout=30)
        conn.request("GET", f"{path}?page={'9' * 5000}")
        response = conn.getresponse()
        body = response.read()
        conn.close()
        assert response.status == 400, (path, response.status, body[:200])
        assert response.getheader("Content-Type").startswith("application/json")
        assert b"page" in body
