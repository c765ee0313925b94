"""The log-in lock-out (django-axes, counting in the database): one count per user name however it
is spelt (NFKC, case), per client address as the deployment defines it (TRUSTED_PROXY_COUNT),
429 with Retry-After on the site's and the admin's log-in, and holding when the cache is down."""

import pytest
from axes.models import AccessAttempt

from tests.redis_servers import cache_settings, closed_port_url

LOGIN = "/accounts/login/"
RIGHT = "owner-pass-123"
# "owner" as other keyboards and fonts write it: fullwidth letters (NFKC folds them), capitals
# (case-folded), a mathematical bold "o" (NFKC), a trailing space.
LOOK_ALIKES = ["ｏｗｎｅｒ", "OWNER", "Owner", "\U0001d428wner", "owner "]


@pytest.fixture(autouse=True)
def limit(settings):
    settings.AXES_FAILURE_LIMIT = 5


def post(client, username, password, path=LOGIN, **extra):
    return client.post(path, {"username": username, "password": password}, **extra)


def logged_in(client) -> bool:
    return "_auth_user_id" in client.session


def assert_locked(response):
    assert response.status_code == 429
    assert "locked for" in response.content.decode()
    seconds = int(response["Retry-After"])
    assert 0 < seconds <= 15 * 60


def test_look_alike_names_share_one_lock_out(client, owner):
    for name in LOOK_ALIKES[:4]:
        r = post(client, name, "wrong")
        assert r.status_code == 200
        assert "correct username and password" in r.content.decode()
    # The fifth failure, in yet another spelling, locks the name out.
    assert_locked(post(client, LOOK_ALIKES[4], "wrong"))
    attempt = AccessAttempt.objects.get()
    assert (attempt.username, attempt.ip_address, attempt.failures_since_start) == (
        "owner",
        "127.0.0.1",
        5,
    )
    # Now the right password is refused in every spelling, the one Django would log in with too.
    for name in ["owner", *LOOK_ALIKES]:
        assert_locked(post(client, name, RIGHT))
        assert not logged_in(client)
    # Refusals while locked are not counted: the lock ends when it said it would.
    assert AccessAttempt.objects.get().failures_since_start == 5


def test_the_owner_from_another_address_is_not_locked_out_by_a_guesser(client, owner):
    for _ in range(5):
        post(client, "owner", "wrong")
    assert_locked(post(client, "owner", RIGHT))
    r = post(client, "owner", RIGHT, REMOTE_ADDR="10.0.0.9")
    assert r.status_code == 302
    assert client.session["_auth_user_id"] == str(owner.pk)


def test_the_admin_log_in_is_locked_out_with_a_429(client, staff):
    for _ in range(4):
        r = post(client, "staff", "nope", path="/admin/login/")
        assert r.status_code == 200
    assert_locked(post(client, "STAFF", "nope", path="/admin/login/"))
    assert_locked(post(client, "ｓｔａｆｆ", "staff-pass-123", path="/admin/login/"))
    assert not logged_in(client)
    # The site's log-in shares the count: the same person, the same address.
    assert_locked(post(client, "staff", "staff-pass-123"))


def test_a_successful_log_in_clears_the_failures(client, owner):
    for _ in range(4):
        post(client, "owner", "wrong")
    assert post(client, "owner", RIGHT).status_code == 302
    assert not AccessAttempt.objects.exists()
    client.logout()
    for _ in range(4):
        post(client, "owner", "wrong")
    assert post(client, "owner", RIGHT).status_code == 302


def test_behind_a_trusted_proxy_each_client_address_has_its_own_count(client, owner, settings):
    settings.TRUSTED_PROXY_COUNT = 1  # one reverse proxy, which writes X-Forwarded-For
    proxy = {"REMOTE_ADDR": "172.18.0.3"}
    for _ in range(5):
        post(client, "owner", "wrong", HTTP_X_FORWARDED_FOR="203.0.113.5", **proxy)
    assert_locked(post(client, "owner", RIGHT, HTTP_X_FORWARDED_FOR="203.0.113.5", **proxy))
    assert AccessAttempt.objects.get().ip_address == "203.0.113.5"
    # Another reader behind the same proxy is not locked out.
    r = post(client, "owner", RIGHT, HTTP_X_FORWARDED_FOR="198.51.100.7", **proxy)
    assert r.status_code == 302


def test_without_a_trusted_proxy_a_forged_forwarded_for_changes_nothing(client, owner):
    for n in range(5):
        post(client, "owner", "wrong", HTTP_X_FORWARDED_FOR=f"198.51.100.{n}")
    assert_locked(post(client, "owner", RIGHT, HTTP_X_FORWARDED_FOR="198.51.100.200"))
    assert AccessAttempt.objects.get().ip_address == "127.0.0.1"


def test_the_lock_out_holds_when_the_cache_is_down(client, owner, settings):
    settings.CACHES = cache_settings(closed_port_url())
    for _ in range(4):
        assert post(client, "owner", "wrong").status_code == 200
    assert_locked(post(client, "Owner", "wrong"))
    assert_locked(post(client, "owner", RIGHT))
    assert not logged_in(client)


def test_the_lock_ends_after_the_cool_off(client, owner, settings):
    for _ in range(5):
        post(client, "owner", "wrong")
    assert_locked(post(client, "owner", RIGHT))
    # As if the cool-off had passed since the last counted failure.
    from datetime import timedelta

    AccessAttempt.objects.update(
        attempt_time=AccessAttempt.objects.get().attempt_time - timedelta(minutes=16)
    )
    assert post(client, "owner", RIGHT).status_code == 302
