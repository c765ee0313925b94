from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView


def api_not_found(request, *args, **kwargs):
    """Programs get JSON, not the HTML 404 page, for an unknown path under /api/."""
    return JsonResponse({"detail": "Not found."}, status=404)


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/v1/", include("leaderboard.pwc.urls")),
    path("api/", include("evaluator.api_urls")),
    path("api/", include("leaderboard.api_urls")),
    re_path(r"^api/", api_not_found),
    path("", include("evaluator.account_urls")),
    path("", include("evaluator.urls")),
    path("", include("leaderboard.urls")),
]
