"""Sign-up, log-in, log-out and the account page with the user's API token."""

import pytest
from django.contrib.auth import get_user_model
from rest_framework.authtoken.models import Token

pytestmark = pytest.mark.django_db


def signup_data(**extra):
    data = {
        "username": "ada",
        "email": "ada@example.org",
        "password1": "analytical-engine-1843",
        "password2": "analytical-engine-1843",
    }
    data.update(extra)
    return data


def test_it_signs_up_logs_in_and_creates_a_token(client):
    r = client.post("/accounts/signup/", signup_data())
    assert r.status_code == 302
    assert r["Location"] == "/accounts/"
    user = get_user_model().objects.get(username="ada")
    assert user.email == "ada@example.org"
    token = Token.objects.get(user=user)
    page = client.get("/accounts/")
    assert page.status_code == 200
    assert token.key in page.content.decode()


def test_it_refuses_mismatched_passwords(client):
    r = client.post("/accounts/signup/", signup_data(password2="something-else-99"))
    assert r.status_code == 200
    assert "didn’t match" in r.content.decode() or "match" in r.content.decode()
    assert not get_user_model().objects.filter(username="ada").exists()
    assert Token.objects.count() == 0


def test_it_refuses_a_taken_email(client, owner):
    r = client.post("/accounts/signup/", signup_data(email="OWNER@example.org"))
    assert r.status_code == 200
    assert "exists already" in r.content.decode()
    assert get_user_model().objects.count() == 1


def test_it_refuses_a_signup_without_csrf(owner):
    from django.test import Client

    r = Client(enforce_csrf_checks=True).post("/accounts/signup/", signup_data())
    assert r.status_code == 403
    assert not get_user_model().objects.filter(username="ada").exists()


def test_it_logs_in_and_out(client, owner):
    r = client.post(
        "/accounts/login/", {"username": "owner", "password": "owner-pass-123", "next": "/submit/"}
    )
    assert r.status_code == 302
    assert r["Location"] == "/submit/"
    assert client.get("/submit/").status_code == 200
    assert client.get("/accounts/logout/").status_code == 405  # log-out takes a POST only
    r = client.post("/accounts/logout/")
    assert r.status_code in (200, 302)
    assert client.get("/submit/").status_code == 302


def test_it_refuses_a_wrong_password(client, owner):
    r = client.post("/accounts/login/", {"username": "owner", "password": "nope-nope-123"})
    assert r.status_code == 200
    assert "correct username and password" in r.content.decode()


def test_the_account_page_needs_a_login(client):
    r = client.get("/accounts/")
    assert r.status_code == 302
    assert r["Location"].startswith("/accounts/login/?next=/accounts/")


def test_the_account_page_creates_a_missing_token(client, owner):
    client.force_login(owner)
    assert Token.objects.count() == 0
    r = client.get("/accounts/")
    assert Token.objects.get(user=owner).key in r.content.decode()


def test_it_replaces_the_token(client, owner):
    old = Token.objects.create(user=owner).key
    client.force_login(owner)
    assert client.get("/accounts/token/").status_code == 405
    r = client.post("/accounts/token/")
    assert r.status_code == 302
    new = Token.objects.get(user=owner).key
    assert new != old
    assert not Token.objects.filter(key=old).exists()


def test_the_header_shows_the_account_links(client, owner):
    anonymous = client.get("/accounts/login/").content.decode()
    assert 'href="/accounts/signup/"' in anonymous
    client.force_login(owner)
    page = client.get("/accounts/").content.decode()
    assert 'href="/submit/"' in page
    assert 'action="/accounts/logout/"' in page
    assert 'href="/accounts/signup/"' not in page
