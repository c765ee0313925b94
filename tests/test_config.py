"""Site-wide configuration: settings helpers, API 404s, uploaded files never served."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.settings import env_bool, env_int, env_list


def test_env_bool_reads_the_usual_spellings(monkeypatch):
    for raw, expected in [("1", True), ("yes", True), ("off", False), ("False", False)]:
        monkeypatch.setenv("SOME_FLAG", raw)
        assert env_bool("SOME_FLAG", not expected) is expected
    monkeypatch.delenv("SOME_FLAG")
    assert env_bool("SOME_FLAG", True) is True


def test_env_helpers_fail_loudly_on_bad_values(monkeypatch):
    monkeypatch.setenv("SOME_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="SOME_FLAG"):
        env_bool("SOME_FLAG", False)
    monkeypatch.setenv("SOME_NUMBER", "ten")
    with pytest.raises(ImproperlyConfigured, match="SOME_NUMBER"):
        env_int("SOME_NUMBER", 1)


def test_env_list_splits_and_trims(monkeypatch):
    monkeypatch.setenv("SOME_HOSTS", " a.example , b.example,,")
    assert env_list("SOME_HOSTS", []) == ["a.example", "b.example"]


@pytest.mark.django_db
def test_it_answers_unknown_api_paths_with_json_404(client):
    response = client.get("/api/no-such-thing/")
    assert response.status_code == 404
    assert response.json() == {"detail": "Not found."}


@pytest.mark.django_db
def test_it_never_serves_uploaded_files(client, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    (tmp_path / "checkpoints").mkdir()
    (tmp_path / "checkpoints" / "secret.safetensors").write_bytes(b"weights")
    response = client.get("/media/checkpoints/secret.safetensors")
    assert response.status_code == 404
    assert b"weights" not in response.content


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/api/docs/", "/api/schema/"])
def test_the_docs_and_schema_answer_other_methods_405_json(path, owner):
    from django.test import Client

    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)  # a session without a CSRF token: it was an HTML 403
    for method in ("post", "put", "patch", "delete"):
        response = getattr(client, method)(path)
        assert response.status_code == 405, (path, method)
        assert response["Content-Type"] == "application/json"
        assert response.json()["detail"] == f'Method "{method.upper()}" not allowed.'
        assert response["Allow"] == "GET, HEAD, OPTIONS"
    assert client.get(path).status_code == 200
