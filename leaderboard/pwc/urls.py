from django.urls import re_path
from rest_framework.routers import SimpleRouter

from leaderboard.pwc import sync, views, writes
from leaderboard.pwc.authors import AuthorViewSet
from leaderboard.pwc.views import Area, Method

# The client asks for "/papers/" and once for "/repositories/{owner}" without a slash: both work.
router = SimpleRouter()
router.trailing_slash = "/?"
router.register("papers", views.PaperViewSet, basename="pwc-paper")
router.register("search", views.SearchViewSet, basename="pwc-search")
# Tasks, datasets and evaluation tables take writes from staff tokens (pwc/writes.py, pwc/sync.py).
router.register("tasks", writes.TaskViewSet, basename="pwc-task")
router.register("datasets", writes.DatasetViewSet, basename="pwc-dataset")
router.register("evaluations", writes.EvaluationViewSet, basename="pwc-evaluation")
router.register("authors", AuthorViewSet, basename="pwc-author")
if Method() is not None:
    router.register("methods", views.MethodViewSet, basename="pwc-method")
if Area() is not None:
    router.register("areas", views.AreaViewSet, basename="pwc-area")

ID = r"(?P<{}>[^/]+)"
repos = views.RepositoryViewSet
confs = views.ConferenceViewSet
urlpatterns = [
    re_path(
        r"^rpc/evaluation-synchronize/?$",
        sync.SynchronizeView.as_view(),
        name="pwc-evaluation-synchronize",
    ),
    re_path(r"^repositories/?$", repos.as_view({"get": "list"}), name="pwc-repository-list"),
    re_path(
        rf"^repositories/{ID.format('owner')}/{ID.format('name')}/papers/?$",
        repos.as_view({"get": "papers"}),
        name="pwc-repository-papers",
    ),
    re_path(
        rf"^repositories/{ID.format('owner')}/{ID.format('name')}/?$",
        repos.as_view({"get": "retrieve"}),
        name="pwc-repository-detail",
    ),
    re_path(
        rf"^repositories/{ID.format('owner')}/?$",
        repos.as_view({"get": "owner"}),
        name="pwc-repository-owner",
    ),
    re_path(r"^conferences/?$", confs.as_view({"get": "list"}), name="pwc-conference-list"),
    re_path(
        rf"^conferences/{ID.format('id')}/proceedings/{ID.format('proceeding_id')}/papers/?$",
        confs.as_view({"get": "proceeding_papers"}),
        name="pwc-proceeding-papers",
    ),
    re_path(
        rf"^conferences/{ID.format('id')}/proceedings/{ID.format('proceeding_id')}/?$",
        confs.as_view({"get": "proceeding"}),
        name="pwc-proceeding-detail",
    ),
    re_path(
        rf"^conferences/{ID.format('id')}/proceedings/?$",
        confs.as_view({"get": "proceedings"}),
        name="pwc-proceeding-list",
    ),
    re_path(
        rf"^conferences/{ID.format('id')}/?$",
        confs.as_view({"get": "retrieve"}),
        name="pwc-conference-detail",
    ),
    *router.urls,
]
