"""Limits on what one user can do (settings in config/settings.py, "Limits per user").

- ``SubmissionRateThrottle``: DRF's user throttle, scope ``submissions``, at ``SUBMISSION_RATE``
  (e.g. "30/hour"); the API answers 429 with ``Retry-After``, the form the same status with the
  wait in words. API and form share one budget (one cache key per user).
- ``check_active_runs``: a user's active (queued or running) runs per queue at most
  ``EVALUATOR_MAX_ACTIVE_RUNS[queue]``; called by ``services.create_submission`` inside the
  transaction that creates the run, after locking the user's row, so two requests at once cannot
  both pass it.
- ``LockoutFormMixin``: after ``LOGIN_FAILURE_LIMIT`` failed log-ins for one user name from one
  address, that pair is refused for ``LOGIN_LOCKOUT_SECONDS`` (Django's cache, the pattern of
  django-axes' "combination" mode): a guesser is stopped; the account's owner, from another
  address, is not locked out by them.
"""

from __future__ import annotations

import hashlib
import math

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import ValidationError
from rest_framework.throttling import UserRateThrottle

from .protocols import QUEUES


class SubmissionRateThrottle(UserRateThrottle):
    scope = "submissions"

    def get_rate(self):
        return settings.SUBMISSION_RATE  # read per request: the setting may change (tests)


def throttle_wait(request) -> int | None:
    """For a view outside DRF (the form): None if allowed (and counted), else seconds to wait."""
    throttle = SubmissionRateThrottle()
    if throttle.allow_request(request, None):
        return None
    return math.ceil(throttle.wait() or 1)


class ActiveRunLimit(Exception):
    """The user has as many active runs on this queue as the limit allows; nothing was stored."""


def max_active_runs(queue: str) -> int:
    return int(getattr(settings, "EVALUATOR_MAX_ACTIVE_RUNS", {}).get(queue, 0) or 0)


def check_active_runs(owner, kind: str) -> None:
    """Raise ActiveRunLimit if one more run of ``kind`` would pass the owner's limit on its
    queue. Call inside the transaction that creates the run: the owner's row is locked first."""
    from .models import Run

    queue = QUEUES[kind]
    limit = max_active_runs(queue)
    if limit <= 0:
        return
    get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
    kinds = [k for k, q in QUEUES.items() if q == queue]
    active = (
        Run.objects.active().filter(submission__owner=owner, submission__kind__in=kinds).count()
    )
    if active >= limit:
        raise ActiveRunLimit(
            f"You have {active} active {' or '.join(kinds)} run(s) on the {queue} queue, the "
            f"limit is {limit}: wait until one finishes (or cancel one) before submitting another."
        )


# --- log-in lock-out --------------------------------------------------------------------------


def client_address(request) -> str:
    return (request.META.get("REMOTE_ADDR") or "unknown") if request is not None else "unknown"


def _key(username: str, address: str) -> str:
    digest = hashlib.sha256(f"{username.strip().lower()}\0{address}".encode()).hexdigest()
    return f"login-failures:{digest[:32]}"


def failures(username: str, address: str) -> int:
    return int(cache.get(_key(username, address), 0))


def record_failure(username: str, address: str) -> int:
    key = _key(username, address)
    seconds = int(settings.LOGIN_LOCKOUT_SECONDS)
    if cache.add(key, 1, seconds):
        return 1
    try:
        return cache.incr(key)
    except ValueError:  # expired between add and incr
        cache.set(key, 1, seconds)
        return 1


def reset_failures(username: str, address: str) -> None:
    cache.delete(_key(username, address))


def is_locked(username: str, address: str) -> bool:
    return failures(username, address) >= int(settings.LOGIN_FAILURE_LIMIT)


LOCKED_MESSAGE = (
    "Too many failed log-ins for this user name from your address: log-in is locked for "
    "{minutes} minutes. Reset your password with an administrator if you forgot it."
)


class LockoutFormMixin:
    """For an AuthenticationForm: refuse a locked (user name, address) before checking the
    password, count each failure, clear the count on success."""

    locked = False

    def clean(self):
        username = self.data.get("username", "") or ""
        address = client_address(self.request)
        if username and is_locked(username, address):
            self.locked = True
            minutes = math.ceil(int(settings.LOGIN_LOCKOUT_SECONDS) / 60)
            raise ValidationError(LOCKED_MESSAGE.format(minutes=minutes), code="locked")
        try:
            cleaned = super().clean()
        except ValidationError:
            if username:
                record_failure(username, address)
            raise
        reset_failures(username, address)
        return cleaned
