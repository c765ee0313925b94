"""Limits on what one user can do (settings in config/settings.py, "Limits"; docs/security.md).

None of them depends on the cache being up:

- **Submissions per period** (``SUBMISSION_RATE``, e.g. "30/hour"): counted from the submissions
  table itself, a rolling window. ``check_submission_limits`` runs inside the transaction that
  stores a submission, after locking the user's row, so concurrent requests of one user are
  serialised there and exactly the limit gets through (SQLite: the transaction's write lock does
  the same). ``submission_wait`` is the same count without the lock, read before the request's
  body is parsed so that a user over the limit is refused before uploading anything. API and form
  share the budget; the answer is 429 with ``Retry-After`` (the seconds until the oldest
  submission of the window leaves it).
- **Submission attempts** (``SUBMISSION_ATTEMPT_RATE``): every POST of the form or the API, valid
  or not, counted per user by ``SubmissionAttemptThrottle`` (leaderboard/throttles.py's atomic
  window counter), so invalid uploads cannot be sent without end either.
- **Active runs per queue** (``EVALUATOR_MAX_ACTIVE_RUNS``): checked in the same transaction.
- **The log-in lock-out**: django-axes, counting failures in the database per (user name, client
  address); the callables below are its settings: ``lockout_username`` (NFKC-normalised and
  case-folded, so "ａlice", "Alice" and "alice" share one count), ``lockout_address``
  (``leaderboard.throttles.client_address``, the deployment's trusted proxies) and
  ``lockout_response`` (429 with ``Retry-After`` and the message).
"""

from __future__ import annotations

import math
import unicodedata
from datetime import timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db.models import Max
from django.shortcuts import render
from django.utils import timezone

from leaderboard.throttles import WindowThrottle, client_address, parse_rate

from .protocols import QUEUES


class SubmissionRateLimit(Exception):
    """The user has stored as many submissions in the window as the rate allows."""

    def __init__(self, message: str, wait: int):
        super().__init__(message)
        self.wait = wait


class ActiveRunLimit(Exception):
    """The user has as many active runs on this queue as the limit allows; nothing was stored."""


class SubmissionAttemptThrottle(WindowThrottle):
    scope = "submission_attempts"
    rate_setting = "SUBMISSION_ATTEMPT_RATE"


def attempt_wait(request) -> int | None:
    """Count one submission attempt of ``request``'s user: None if allowed, else seconds."""
    throttle = SubmissionAttemptThrottle()
    if throttle.allow_request(request, None):
        return None
    return int(throttle.wait() or 1)


def submission_wait(owner) -> int | None:
    """Seconds until ``owner`` may store another submission (None: now), by SUBMISSION_RATE."""
    from .models import Submission

    rate = settings.SUBMISSION_RATE or ""
    if not rate:
        return None
    limit, period = parse_rate(rate)
    now = timezone.now()
    recent = list(
        Submission.objects.filter(owner=owner, created_at__gt=now - timedelta(seconds=period))
        .order_by("-created_at")
        .values_list("created_at", flat=True)[:limit]
    )
    if len(recent) < limit:
        return None
    leaves = recent[-1] + timedelta(seconds=period)  # the oldest of the window's newest `limit`
    return max(1, math.ceil((leaves - now).total_seconds()))


def rate_message(wait: int) -> str:
    minutes = max(1, round(wait / 60))
    return (
        f"You have sent too many submissions (the limit is {settings.SUBMISSION_RATE}): try "
        f"again in about {minutes} minute(s)."
    )


def max_active_runs(queue: str) -> int:
    return int(settings.EVALUATOR_MAX_ACTIVE_RUNS.get(queue, 0) or 0)


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


def check_submission_limits(owner, kind: str, verifiable: bool) -> None:
    """Inside the transaction that stores a submission: lock the owner's row (concurrent
    submissions of one user wait here for each other), then raise SubmissionRateLimit or
    ActiveRunLimit if storing one more would pass a limit."""
    get_user_model().objects.select_for_update().filter(pk=owner.pk).first()
    wait = submission_wait(owner)
    if wait is not None:
        raise SubmissionRateLimit(rate_message(wait), wait)
    if verifiable:
        check_active_runs(owner, kind)


# --- log-in lock-out (django-axes) ------------------------------------------------------------


def normalise_username(username: str) -> str:
    """What Django compares a log-in with (NFKC, as UsernameField does), case-folded too."""
    return unicodedata.normalize("NFKC", username or "").casefold().strip()


def lockout_username(request, credentials) -> str | None:
    """AXES_USERNAME_CALLABLE: the user name a failure counts against."""
    raw = None
    if credentials:
        raw = credentials.get(get_user_model().USERNAME_FIELD) or credentials.get("username")
    if raw is None and request is not None:
        raw = request.POST.get("username")
    if raw is None:
        return None
    return normalise_username(str(raw))


def lockout_address(request) -> str | None:
    """AXES_CLIENT_IP_CALLABLE: the client address, as every other limit reads it (None for a
    request without one, such as a test client's ``force_login``)."""
    address = client_address(request)
    return None if address == "unknown" else address


def lockout_seconds_left(request, credentials) -> int:
    """Seconds until the lock of this (user name, address) ends: the cool-off from its last
    counted failure (failures while locked are not counted, so the clock does not restart)."""
    from axes.models import AccessAttempt

    cool_off = settings.AXES_COOLOFF_TIME
    last = AccessAttempt.objects.filter(
        username=lockout_username(request, credentials),
        ip_address=lockout_address(request),
    ).aggregate(last=Max("attempt_time"))["last"]
    if last is None:
        return max(1, int(cool_off.total_seconds()))
    return max(1, math.ceil((last + cool_off - timezone.now()).total_seconds()))


LOCKED_MESSAGE = (
    "Too many failed log-ins for this user name from your address: log-in is locked for "
    "{minutes} more minute(s). Reset your password with an administrator if you forgot it."
)


def lockout_response(request, original_response=None, credentials=None):
    """AXES_LOCKOUT_CALLABLE: 429 with Retry-After and the message, on the site's and the
    admin's log-in (the API has no log-in: it takes tokens, shown on the account page)."""
    seconds = lockout_seconds_left(request, credentials)
    message = LOCKED_MESSAGE.format(minutes=max(1, math.ceil(seconds / 60)))
    response = render(request, "registration/locked_out.html", {"message": message}, status=429)
    response["Retry-After"] = str(seconds)
    return response
