from django.urls import path

from evaluator.views import accounts, submissions

app_name = "evaluator"
urlpatterns = [
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/", accounts.account, name="account"),
    path("accounts/token/", accounts.regenerate_token, name="regenerate_token"),
    path("submit/", submissions.submit, name="submit"),
    path("submissions/", submissions.submission_list, name="submissions"),
    path("submissions/<int:pk>/", submissions.submission_detail, name="submission"),
    path("submissions/<int:pk>/status/", submissions.submission_status, name="submission_status"),
]
