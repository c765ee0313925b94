"""Read API: small viewsets over the catalogue and its published results."""

from django.db.models import Count, Prefetch
from django.http import FileResponse, HttpResponseNotModified, JsonResponse, StreamingHttpResponse
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from leaderboard import export_files
from leaderboard.api import filters, serializers
from leaderboard.api.pagination import ApiPagination
from leaderboard.archive import evaluation_tables
from leaderboard.core.cache import cached_response
from leaderboard.core.query import query_flag, query_int
from leaderboard.directions import with_direction
from leaderboard.models import Benchmark, Dataset, Paper, Result, Task
from leaderboard.results import ranking
from leaderboard.results.rows import result_rows, row_values
from leaderboard.results.sota import sota_tables
from leaderboard.throttles import READ_THROTTLES, ExportThrottle, refused_early

SLUG = r"[-a-zA-Z0-9_]+"


class CachedReadMixin:
    """Anonymous JSON GETs answered from the response cache while the catalogue is unchanged,
    with ETags (``leaderboard/core/cache.py``, the same cache as the pages'): a hit costs one
    small query, before DRF's request handling.
    What reaches the database is throttled: anonymous reads and searches per client
    (``leaderboard/throttles.py``)."""

    throttle_classes = READ_THROTTLES

    def dispatch(self, request, *args, **kwargs):
        refused = refused_early(request, self.throttle_classes)
        if refused is not None:  # a client over its budget: no version query, no cache look-up
            return refused
        compute = super().dispatch
        return cached_response(request, lambda: compute(request, *args, **kwargs), api=True)


class ReadOnlyViewSet(CachedReadMixin, viewsets.ReadOnlyModelViewSet):
    permission_classes = [AllowAny]
    pagination_class = ApiPagination
    filter_backends = [DjangoFilterBackend, filters.RankedSearchFilter]
    lookup_field = "slug"
    lookup_value_regex = SLUG


class ResultViewSet(ReadOnlyViewSet):
    """Published results: archive rows and verified ones, newest first (``ordering=best``: by
    benchmark and metric, best first; every ordering ends with the id, so that walking the
    pages returns each row once). ``dataset`` matches every variant of a dataset, by slug or
    name without regard to case. A row's ``value`` ± ``ci95`` is what it is ranked by: for a
    verified row the reproduced mean, with the claim in ``claimed_value``."""

    serializer_class = serializers.ResultSerializer
    filterset_class = filters.ResultFilter
    filter_backends = [DjangoFilterBackend]
    lookup_field = "pk"
    lookup_value_regex = r"[0-9]+"

    def get_queryset(self):
        if self.action == "list":
            return row_values(Result.objects.order_by("-id"))
        return with_direction(Result.objects.for_api())

    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(result_rows(page))


class PaperViewSet(ReadOnlyViewSet):
    """Papers; ``search`` searches as the search page does (title, abstract, authors, model
    and method names; ranked)."""

    filterset_class = filters.PaperFilter
    search_fields = ["title", "abstract", "arxiv_id"]

    def get_serializer_class(self):
        if self.action == "retrieve":
            return serializers.PaperDetailSerializer
        return serializers.PaperSerializer

    def get_queryset(self):
        qs = Paper.objects.prefetch_related("tasks")
        if self.action == "retrieve":
            results = with_direction(Result.objects.for_listing()).best_first()
            qs = qs.prefetch_related("code_links", Prefetch("results", queryset=results))
        else:
            qs = qs.defer("abstract")
        return qs.order_by("-date", "title", "pk")  # paper_list_idx; pk: a total order


class TaskViewSet(ReadOnlyViewSet):
    serializer_class = serializers.TaskSerializer
    filterset_class = filters.TaskFilter
    search_fields = ["name", "description"]

    def get_queryset(self):
        return (
            Task.objects.select_related("parent")
            .annotate(benchmark_count=Count("benchmarks", distinct=True))
            .order_by("name")
        )


class DatasetViewSet(ReadOnlyViewSet):
    serializer_class = serializers.DatasetSerializer
    filterset_class = filters.DatasetFilter
    search_fields = ["name", "description"]

    def get_queryset(self):
        return Dataset.objects.annotate(
            benchmark_count=Count("benchmarks", distinct=True)
        ).order_by("name")


class BenchmarkViewSet(ReadOnlyViewSet):
    """Benchmarks; a benchmark's detail holds its SotA tables, one per metric, ranked by the
    metric's direction (the best 100 rows of each; ``/api/results?benchmark=`` has them all)."""

    filterset_class = filters.BenchmarkFilter
    search_fields = ["name", "dataset__name"]

    def get_serializer_class(self):
        if self.action == "retrieve":
            return serializers.BenchmarkDetailSerializer
        return serializers.BenchmarkSerializer

    def get_queryset(self):
        return (
            Benchmark.objects.select_related("dataset")
            .prefetch_related("tasks", "metrics")
            .annotate(result_count=Count("results", distinct=True))
            .order_by("name")
        )

    def retrieve(self, request, *args, **kwargs):
        benchmark = self.get_object()
        benchmark.sota_tables = sota_tables(benchmark)
        return Response(self.get_serializer(benchmark).data)

    @extend_schema(
        parameters=[
            OpenApiParameter("a", int, required=True, description="a verified result's id"),
            OpenApiParameter("b", int, required=True, description="another verified result's id"),
        ],
        responses={200: serializers.ComparisonSerializer},
    )
    @action(detail=True, methods=["get"], filter_backends=[], pagination_class=None)
    def compare(self, request, *args, **kwargs):
        """The paired difference a − b over the two verified results' shared fixed episodes:
        mean, 95% paired t interval and p-value. 400 for results of another benchmark or
        without per-episode scores on the same episodes."""
        benchmark = self.get_object()
        ids = {}
        for name in ("a", "b"):
            ids[name] = query_int(request, name, minimum=1)
            if ids[name] is None:
                return Response({"detail": f"Give {name}=<result id>."}, status=400)
        found = Result.objects.select_related("model", "metric").in_bulk(ids.values())
        a, b = found.get(ids["a"]), found.get(ids["b"])
        for name, r in (("a", a), ("b", b)):
            if r is None or r.benchmark_id != benchmark.pk:
                return Response(
                    {"detail": f"Result {ids[name]} ({name}) is not a result of {benchmark.name}."},
                    status=400,
                )
            if not (r.is_verified and r.episode_scores):
                return Response(
                    {"detail": f"Result {r.pk} ({name}) has no per-episode scores to compare."},
                    status=400,
                )
        if a.metric_id != b.metric_id:
            return Response({"detail": "The two results are of different metrics."}, status=400)
        vs = ranking.compare(a, b)
        if vs is None:
            return Response(
                {"detail": "The two results were not scored on the same episodes."}, status=400
            )
        return Response(
            {
                "benchmark": benchmark.slug,
                "metric": a.metric.name,
                "a": {"id": a.pk, "model": a.model.name, "value": a.value},
                "b": {"id": b.pk, "model": b.model.name, "value": b.value},
                **vs.to_dict(),
            }
        )


class ArchiveExportView(APIView):
    """Every published result in the Papers With Code archive format (evaluation-tables.json).
    Written once per catalogue version and served as a file (``leaderboard/export_files.py``),
    gzip-compressed where the client accepts it, with an ``ETag``: a reader holding the current
    version gets a 304. ``?extended=1`` adds
    VeriSOTA's fields (verification, intervals, directions, ways and shots), which
    sota-extractor's loader does not accept. Throttled per client (``THROTTLE_EXPORT``)."""

    permission_classes = [AllowAny]
    throttle_classes = [ExportThrottle]

    def dispatch(self, request, *args, **kwargs):
        refused = refused_early(request, self.throttle_classes)
        return refused or super().dispatch(request, *args, **kwargs)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "extended",
                str,
                enum=["1", "true", "yes", "0", "false", "no"],
                description="1: add VeriSOTA's fields",
            )
        ],
        responses={
            200: OpenApiResponse(
                {"type": "array", "items": {"type": "object", "additionalProperties": True}},
                description="The tasks of evaluation-tables.json: a list, as the archive's file.",
            )
        },
    )
    def get(self, request):
        extended = query_flag(request, "extended", default=False)
        name = "evaluation-tables-verisota.json" if extended else "evaluation-tables.json"
        found = export_files.export_file(extended)
        if found is None:  # no catalogue version to key a file on: stream it
            response = StreamingHttpResponse(
                (chunk.encode() for chunk in evaluation_tables(extended)),
                content_type="application/json",
            )
        else:
            path, tag = found
            compressed = "gzip" in request.headers.get("Accept-Encoding", "")
            etag = f'"{tag}-{"extended" if extended else "plain"}{"-gz" if compressed else ""}"'
            if etag in request.headers.get("If-None-Match", ""):
                response = HttpResponseNotModified()
            elif compressed:
                gz = export_files.gzipped(path).open("rb")
                response = FileResponse(gz, content_type="application/json")
                response["Content-Encoding"] = "gzip"
            else:
                response = FileResponse(path.open("rb"), content_type="application/json")
            response["ETag"] = etag
            response["Vary"] = "Accept-Encoding"
        response["Content-Disposition"] = f'inline; filename="{name}"'
        return response


def ping(request):
    """A constant JSON body: the baseline that benchmarks/api_load.py measures the API against."""
    return JsonResponse({"status": "ok"})
