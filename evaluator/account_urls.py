"""Log-in and log-out, without a namespace so that LOGIN_URL = "login" resolves.

Sign-up and the account page are in evaluator/urls.py (``evaluator:signup``,
``evaluator:account``). Log-out takes a POST only (Django 5). Log-in locks a user name and
address out after repeated failures (django-axes, configured in ``evaluator.limits``).
"""

from django.contrib.auth import views as auth_views
from django.urls import path

urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
]
