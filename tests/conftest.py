"""Fixtures shared by the whole suite: named users (owner, other user, staff)."""

import pytest
from django.core.cache import cache


@pytest.fixture(autouse=True)
def fresh_cache():
    """Throttle and log-in counters (Django's cache) start empty in every test."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def owner(django_user_model):
    return django_user_model.objects.create_user("owner", "owner@example.org", "owner-pass-123")


@pytest.fixture
def other_user(django_user_model):
    return django_user_model.objects.create_user("other", "other@example.org", "other-pass-123")


@pytest.fixture
def staff(django_user_model):
    return django_user_model.objects.create_user(
        "staff", "staff@example.org", "staff-pass-123", is_staff=True, is_superuser=True
    )
