from django.urls import path

from . import ledger_views, views

app_name = "leaderboard"
urlpatterns = [
    path("", views.home, name="home"),
    path("tasks/", views.task_list, name="task-list"),
    path("tasks/<slug:slug>/", views.task_detail, name="task"),
    path("datasets/", views.dataset_list, name="dataset-list"),
    path("datasets/<slug:slug>/", views.dataset_detail, name="dataset"),
    path("benchmarks/<slug:slug>/", views.benchmark_detail, name="benchmark"),
    path("papers/", views.paper_list, name="paper-list"),
    path("papers/<slug:slug>/", views.paper_detail, name="paper"),
    path("search/", views.search, name="search"),
    path("log/", ledger_views.log, name="log"),
    path("log", ledger_views.log),
    path("log/feed.atom", ledger_views.LedgerFeed(), name="log-feed"),
    path("log/<slug:slug>/", ledger_views.log, name="benchmark-log"),
    path("log/<slug:slug>/feed.atom", ledger_views.LedgerFeed(), name="benchmark-log-feed"),
]
