from django.urls import path

from leaderboard.core.cache import cache_page
from leaderboard.views import badges, browse
from leaderboard.views import contested as contested_views
from leaderboard.views import ledger as ledger_views
from leaderboard.views import pages as views
from leaderboard.views import search as search_views

# Anonymous GETs of these pages come from the response cache while the catalogue is unchanged
# (leaderboard/core/cache.py), with ETags.
app_name = "leaderboard"
urlpatterns = [
    path("", cache_page(views.home), name="home"),
    path("sota/", cache_page(browse.sota), name="sota"),
    path("about/", cache_page(browse.about), name="about"),
    path("tasks/", cache_page(views.task_list), name="task-list"),
    path("tasks/<slug:slug>/", cache_page(views.task_detail), name="task"),
    path("datasets/", cache_page(views.dataset_list), name="dataset-list"),
    path("datasets/<slug:slug>/", cache_page(views.dataset_detail), name="dataset"),
    path("benchmarks/<slug:slug>/", cache_page(views.benchmark_detail), name="benchmark"),
    path("papers/", cache_page(views.paper_list), name="paper-list"),
    path("papers/<slug:slug>/", cache_page(views.paper_detail), name="paper"),
    path("methods/", cache_page(browse.method_list), name="method-list"),
    path("methods/<slug:slug>/", cache_page(browse.method_detail), name="method"),
    path("search/", cache_page(search_views.search_page), name="search"),
    path("contested/", cache_page(contested_views.contested_list), name="contested"),
    path(
        "contested/<slug:benchmark>/<slug:metric>/<str:model>/",
        cache_page(contested_views.contested_group),
        name="contested-group",
    ),
    path("badges/results/<int:pk>.svg", badges.result_badge, name="result-badge"),
    path("badges/results/<int:pk>/rank.svg", badges.rank_badge, name="rank-badge"),
    path("results/<int:pk>/model-index.yaml", badges.model_index_yaml, name="model-index"),
    path("log/", ledger_views.log, name="log"),
    path("log", ledger_views.log),
    path("log/feed.atom", ledger_views.LedgerFeed(), name="log-feed"),
    path("log.jsonl", ledger_views.log_jsonl, name="log-jsonl"),
    path("log/verify_ledger.py", ledger_views.verify_script, name="log-verify-script"),
    path("log/<slug:slug>/", ledger_views.log, name="benchmark-log"),
    path("log/<slug:slug>/feed.atom", ledger_views.LedgerFeed(), name="benchmark-log-feed"),
]
