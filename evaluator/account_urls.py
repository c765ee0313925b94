"""Log-in and log-out, without a namespace so that LOGIN_URL = "login" resolves.

Sign-up and the account page are in evaluator/urls.py (``evaluator:signup``,
``evaluator:account``). Log-out takes a POST only (Django 5). Log-in locks a user name and
address out after repeated failures (``evaluator.limits``).
"""

from django.contrib.auth import views as auth_views
from django.urls import path

from evaluator.forms import LockoutAuthenticationForm


class LoginView(auth_views.LoginView):
    """Django's log-in view with the lock-out form: a locked pair answers 429."""

    form_class = LockoutAuthenticationForm

    def form_invalid(self, form):
        response = super().form_invalid(form)
        if form.locked:
            response.status_code = 429
        return response


urlpatterns = [
    path("accounts/login/", LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
