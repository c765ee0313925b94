from django.urls import path

from evaluator.views import accounts, evidence, submissions

app_name = "evaluator"
urlpatterns = [
    path("accounts/signup/", accounts.signup, name="signup"),
    path("accounts/", accounts.account, name="account"),
    path("accounts/token/", accounts.regenerate_token, name="regenerate_token"),
    path("submit/", submissions.submit, name="submit"),
    path("submissions/", submissions.submission_list, name="submissions"),
    path("submissions/<int:pk>/", submissions.submission_detail, name="submission"),
    path("submissions/<int:pk>/status/", submissions.submission_status, name="submission_status"),
    path("submissions/<int:pk>/cancel/", submissions.cancel, name="cancel"),
    path("results/<int:pk>/evidence/", evidence.evidence, name="evidence"),
    path("results/<int:pk>/evidence/scores.csv", evidence.scores_csv, name="evidence_csv"),
    path("results/<int:pk>/evidence/scores.json", evidence.scores_json, name="evidence_json"),
    path(
        "results/<int:pk>/evidence/checkpoint.safetensors",
        evidence.checkpoint,
        name="evidence_checkpoint",
    ),
]
