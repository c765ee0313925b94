"""Sign-up and the user's own page with their API token (log-in/out are Django's views)."""

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.db import transaction
from django.shortcuts import redirect, render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from rest_framework.authtoken.models import Token

from evaluator.forms import SignUpForm
from evaluator.permissions import own_submissions


def signup(request):
    if request.user.is_authenticated:
        return redirect("evaluator:account")
    if request.method == "POST":
        form = SignUpForm(request.POST)
        if form.is_valid():
            with transaction.atomic():
                user = form.save()
                Token.objects.create(user=user)
            login(request, user, backend="django.contrib.auth.backends.ModelBackend")
            messages.success(request, f"Welcome, {user.username}: your account is ready.")
            return redirect("evaluator:account")
    else:
        form = SignUpForm()
    return render(request, "registration/signup.html", {"form": form})


@never_cache  # the page shows the API token: Cache-Control: no-store, never kept by a cache
@login_required
def account(request):
    token, _ = Token.objects.get_or_create(user=request.user)
    recent = own_submissions(request.user).prefetch_related("runs")[:5]
    return render(request, "evaluator/account.html", {"token": token, "recent_submissions": recent})


@login_required
@require_POST
def regenerate_token(request):
    with transaction.atomic():
        Token.objects.filter(user=request.user).delete()
        Token.objects.create(user=request.user)
    messages.success(request, "A new API token replaces the old one, which no longer works.")
    return redirect("evaluator:account")
