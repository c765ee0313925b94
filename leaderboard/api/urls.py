from django.urls import re_path
from rest_framework.routers import SimpleRouter

from leaderboard.api import views as api_views

# "/?": /api/results?dataset=omniglot works with and without the trailing slash, no redirect
# (set after construction: the constructor only knows "/" or "").
router = SimpleRouter()
router.trailing_slash = "/?"
router.register("results", api_views.ResultViewSet, basename="api-result")
router.register("papers", api_views.PaperViewSet, basename="api-paper")
router.register("tasks", api_views.TaskViewSet, basename="api-task")
router.register("datasets", api_views.DatasetViewSet, basename="api-dataset")
router.register("benchmarks", api_views.BenchmarkViewSet, basename="api-benchmark")

urlpatterns = [
    re_path(
        r"^export/evaluation-tables\.json$",
        api_views.ArchiveExportView.as_view(),
        name="api-export",
    ),
    re_path(r"^_ping/?$", api_views.ping, name="api-ping"),
    *router.urls,
]
