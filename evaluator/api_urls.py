from rest_framework.routers import DefaultRouter

from evaluator.views.api import SubmissionViewSet

router = DefaultRouter(trailing_slash="/?")
router.include_root_view = False
router.register("submissions", SubmissionViewSet, basename="submission")

urlpatterns = router.urls
