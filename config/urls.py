from django.contrib import admin
from django.http import JsonResponse
from django.urls import include, path, re_path
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView


@csrf_exempt  # any method: a POST to an unknown path is a 404, not a CSRF refusal
def api_not_found(request, *args, **kwargs):
    """Programs get JSON, not the HTML 404 page, for an unknown path under /api/."""
    return JsonResponse({"detail": "Not found."}, status=404)


READ_METHODS = ("GET", "HEAD", "OPTIONS")


def read_only(view):
    """The schema and its docs page are read-only: any other method is a 405 in JSON, as
    everywhere under /api/ (their own renderers would answer it in HTML or YAML, and a session's
    POST without a CSRF token was an HTML 403)."""

    @csrf_exempt
    def wrapper(request, *args, **kwargs):
        if request.method not in READ_METHODS:
            response = JsonResponse(
                {"detail": f'Method "{request.method}" not allowed.'}, status=405
            )
            response["Allow"] = ", ".join(READ_METHODS)
            return response
        return view(request, *args, **kwargs)

    return wrapper


urlpatterns = [
    path("admin/", admin.site.urls),
    path("api/schema/", read_only(SpectacularAPIView.as_view()), name="api-schema"),
    path(
        "api/docs/",
        read_only(SpectacularSwaggerSplitView.as_view(url_name="api-schema")),
        name="api-docs",
    ),
    path("api/v1/", include("leaderboard.pwc.urls")),
    path("api/", include("evaluator.api_urls")),
    path("api/", include("leaderboard.api.urls")),
    re_path(r"^api/", api_not_found),
    path("", include("evaluator.account_urls")),
    path("", include("evaluator.urls")),
    path("", include("leaderboard.urls")),
]

# JSON under /api/, the site's pages elsewhere (config/api_errors.py).
handler400 = "config.api_errors.bad_request"
handler403 = "config.api_errors.permission_denied"
handler404 = "config.api_errors.page_not_found"
handler500 = "config.api_errors.server_error"
