from rest_framework.routers import DefaultRouter

from evaluator.views.api import SubmissionViewSet

router = DefaultRouter()
router.trailing_slash = "/?"  # /api/submissions and /api/submissions/ alike (the constructor
router.include_root_view = False  # only knows "/" or "")
router.register("submissions", SubmissionViewSet, basename="submission")

urlpatterns = router.urls
