"""Read-only viewsets of ``/api/v1/`` (see the package's docstring). Every list is paginated by
``PwcPagination``; ``q`` parameters use ``leaderboard/search.py``, like the search page."""

from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Max,
    OuterRef,
    Prefetch,
    Q,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.http import Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import viewsets
from rest_framework.decorators import action
from rest_framework.permissions import AllowAny
from rest_framework.response import Response

from leaderboard import directions, search
from leaderboard.api.views import CachedReadMixin
from leaderboard.core.cache import versioned
from leaderboard.core.query import query_int
from leaderboard.models import (
    Area,
    Benchmark,
    BenchmarkMetric,
    CodeLink,
    Dataset,
    Method,
    Metric,
    Paper,
    Result,
    Task,
)
from leaderboard.pwc import serializers as s
from leaderboard.pwc.ids import paper_or_404
from leaderboard.pwc.pagination import PwcPagination
from leaderboard.results.rows import TableRow, first_of_rows, group_rows

ID = r"[^/]+"


def _param(name: str, help_text: str, type=OpenApiTypes.STR) -> OpenApiParameter:
    return OpenApiParameter(
        name, type, OpenApiParameter.QUERY, required=False, description=help_text
    )


PAGE_PARAMS = [
    _param("page", "Page number (from 1)", OpenApiTypes.INT),
    _param("items_per_page", "Rows per page (default 50, at most 500)", OpenApiTypes.INT),
]


def papers_qs():
    return Paper.objects.all()


def evaluations_qs():
    return Benchmark.objects.select_related("dataset").prefetch_related("tasks").order_by("name")


def with_best_rank(qs):
    """Annotate ``best_rank``: 1 + the number of rows of the same benchmark and metric that are
    strictly better, by the metric's direction (one correlated count per row, on the
    (benchmark, metric, value) index)."""
    same = Result.objects.filter(benchmark=OuterRef("benchmark"), metric=OuterRef("metric"))

    def better(lookup):
        count = (
            same.filter(**{lookup: OuterRef("value")})
            .order_by()
            .values("benchmark")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return Coalesce(Subquery(count, output_field=IntegerField()), Value(0))

    return qs.annotate(
        best_rank=Case(
            When(value__isnull=True, then=Value(None)),
            When(directions.is_higher(directions.direction()), then=better("value__gt") + 1),
            default=better("value__lt") + 1,
            output_field=IntegerField(),
        )
    )


def results_qs():
    """The v1 API's results: one per archive row (its first result stands for it, with its
    ``best_rank``; ``leaderboard/results/rows.py``), rows of one table together."""
    return first_of_rows(
        with_best_rank(
            Result.objects.select_related("benchmark", "metric", "model", "paper").defer(
                "paper__abstract", "paper__authors", "benchmark__description"
            )
        )
    ).order_by("benchmark__name", "metric__name", F("best_rank").asc(nulls_last=True), "pk")


def table_rows(firsts) -> list[TableRow]:
    """The rows that ``firsts`` (from ``results_qs``) stand for, each with all its metrics (one
    query for them all)."""
    return group_rows(firsts, Result.objects.select_related("metric"))


def row_of(benchmark, result_id) -> TableRow | None:
    """The row of ``benchmark`` holding the result ``result_id`` (the row's id, or the id of
    any of its metrics' results), as ``results_qs`` gives it."""
    found = Result.objects.filter(benchmark=benchmark, pk=result_id).first()
    if found is None:
        return None
    (row,) = table_rows([found])
    first = results_qs().filter(pk=row.id).first()
    return TableRow(row.results, lead=first) if first is not None else None


class V1ViewSet(CachedReadMixin, viewsets.ReadOnlyModelViewSet):
    permission_classes = [AllowAny]
    pagination_class = PwcPagination
    filter_backends: list = []
    lookup_field = "slug"
    lookup_url_kwarg = "id"
    lookup_value_regex = ID
    # The model whose whole table the list being paginated is (every row once: no filter,
    # forward ``select_related`` only), set by ``whole(queryset)``; PwcPagination then takes the
    # maintained row count for its total. None: counted.
    whole_table = None

    def whole(self, queryset):
        """``queryset``, said to be every row of its model's table once (``whole_table``)."""
        self.whole_table = queryset.model
        return queryset

    def page_of(self, queryset, serializer_class):
        page = self.paginate_queryset(queryset)
        return self.get_paginated_response(serializer_class(page, many=True).data)

    def rows_page(self, firsts):
        """A page of results (``results_qs``), each the whole row it stands for."""
        page = table_rows(self.paginate_queryset(firsts))
        return self.get_paginated_response(s.PwcResultSerializer(page, many=True).data)

    def object_or_404(self, queryset, **lookup):
        obj = queryset.filter(**lookup).first()
        if obj is None:
            raise Http404("Not found.")
        return obj


def _q(request, name):
    value = request.query_params.get(name)
    if value is not None and "\x00" in value:
        from rest_framework.exceptions import ValidationError

        raise ValidationError({name: ["Null characters are not allowed."]})
    return value


class NameFilterMixin:
    """The list of a named kind: ``q`` searches names (ranked, as the search page does; also
    ``also``, a second name field), each of ``exact_fields`` matches exactly without regard to
    case. Subclasses give ``base_queryset()``: every row of their model once (forward
    ``select_related`` only), so that the unfiltered list's total is the maintained row count
    (``whole``); their list's schema names the parameters."""

    exact_fields: tuple[str, ...] = ("name",)
    also = ""

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        labels = [_param(f, f.replace("_", " ").capitalize()) for f in cls.exact_fields]
        params = [*PAGE_PARAMS, _param("q", "Search"), *labels]
        extend_schema_view(list=extend_schema(parameters=params))(cls)

    def base_queryset(self):
        raise NotImplementedError

    def get_queryset(self):
        qs = self.base_queryset()
        if self.action != "list":
            return qs
        filtered = False
        for field in self.exact_fields:
            if _q(self.request, field):
                qs = qs.filter(**{f"{field}__iexact": self.request.query_params[field]})
                filtered = True
        if _q(self.request, "q"):
            return search.names(qs, self.request.query_params["q"], also=self.also)
        return qs if filtered else self.whole(qs)  # base_queryset(): every row once


@extend_schema(tags=["pwc v1"])
class PaperViewSet(V1ViewSet):
    """Papers. ``q`` searches as the search page does (title, abstract, authors, model and
    method names; ranked); ``title`` and ``abstract`` keep the papers whose title or abstract
    holds every word given (stemmed, as the search does; newest first, at most the newest 500
    matches), ``arxiv_id`` matches exactly."""

    serializer_class = s.PwcPaperSerializer

    def get_queryset(self):
        qs = papers_qs()
        if self.action != "list":
            return qs
        params = self.request.query_params
        if _q(self.request, "arxiv_id"):
            qs = qs.filter(arxiv_id=params["arxiv_id"])
        words = {f: params[f] for f in ("title", "abstract") if _q(self.request, f)}
        if words:  # the search's indexes, newest first, bounded (search.papers_with_words)
            qs = search.papers_with_words(qs, words)
        if _q(self.request, "q"):
            return search.papers(params["q"], qs)
        if words:
            return qs
        ordered = qs.order_by("-date", "title", "pk")
        return ordered if _q(self.request, "arxiv_id") else self.whole(ordered)

    @extend_schema(
        parameters=[
            *PAGE_PARAMS,
            _param("q", "Search (ranked)"),
            _param("title", "Words of the title (all of them, stemmed; the newest 500 matches)"),
            _param(
                "abstract", "Words of the abstract (all of them, stemmed; the newest 500 matches)"
            ),
            _param("arxiv_id", "arXiv id"),
        ]
    )
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _paper(self):
        return paper_or_404(self.kwargs["id"])

    def get_object(self):
        """By slug, or by the id of the PWC URL it was imported with (``pwc/ids.py``)."""
        return paper_or_404(self.kwargs["id"], self.get_queryset())

    @extend_schema(parameters=PAGE_PARAMS, responses=s.PwcRepositorySerializer(many=True))
    @action(detail=True)
    def repositories(self, request, id=None):
        paper = self._paper()
        return self.page_of(
            paper.code_links.order_by("-official", "url"), s.PwcRepositorySerializer
        )

    @extend_schema(parameters=PAGE_PARAMS, responses=s.PwcResultSerializer(many=True))
    @action(detail=True)
    def results(self, request, id=None):
        paper = self._paper()
        return self.rows_page(results_qs().filter(paper=paper))

    @extend_schema(parameters=PAGE_PARAMS, responses=s.PwcTaskSerializer(many=True))
    @action(detail=True)
    def tasks(self, request, id=None):
        paper = self._paper()
        tasks = Task.objects.filter(Q(papers=paper) | Q(benchmarks__results__paper=paper))
        return self.page_of(tasks_qs().filter(pk__in=tasks.values("pk")), s.PwcTaskSerializer)

    @extend_schema(parameters=PAGE_PARAMS, responses=s.PwcMethodSerializer(many=True))
    @action(detail=True)
    def methods(self, request, id=None):
        paper = self._paper()
        return self.page_of(
            paper.methods.select_related("paper").order_by("name", "pk"), s.PwcMethodSerializer
        )

    @extend_schema(parameters=PAGE_PARAMS, responses=s.PwcDatasetSerializer(many=True))
    @action(detail=True)
    def datasets(self, request, id=None):
        paper = self._paper()
        used = Benchmark.objects.filter(results__paper=paper).values("dataset_id")
        return self.page_of(
            Dataset.objects.filter(pk__in=used).order_by("name"), s.PwcDatasetSerializer
        )


@extend_schema(tags=["pwc v1"])
class SearchViewSet(CachedReadMixin, viewsets.GenericViewSet):
    """Papers with their repository (the official one first), as the front page's search."""

    permission_classes = [AllowAny]
    pagination_class = PwcPagination
    serializer_class = s.PwcPaperRepoSerializer

    def get_queryset(self):
        links = Prefetch("code_links", queryset=CodeLink.objects.order_by("-official", "url"))
        q = _q(self.request, "q")
        if q:
            return search.papers(q).prefetch_related(links)
        self.whole_table = Paper  # every paper once (a prefetch adds no rows)
        return papers_qs().order_by("-date", "title", "pk").prefetch_related(links)

    @extend_schema(parameters=[*PAGE_PARAMS, _param("q", "Search (ranked)")])
    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(s.PwcPaperRepoSerializer(page, many=True).data)


def tasks_qs():
    return Task.objects.select_related("parent", "area").order_by("name")


@extend_schema(tags=["pwc v1"])
class TaskViewSet(NameFilterMixin, V1ViewSet):
    """Tasks; ``q`` searches names (ranked), ``name`` matches exactly (any case)."""

    serializer_class = s.PwcTaskSerializer

    def base_queryset(self):
        return tasks_qs()

    def _task(self):
        return self.object_or_404(tasks_qs(), slug=self.kwargs["id"])

    @extend_schema(parameters=PAGE_PARAMS, responses=s.PwcTaskSerializer(many=True))
    @action(detail=True)
    def children(self, request, id=None):
        return self.page_of(tasks_qs().filter(parent=self._task()), s.PwcTaskSerializer)

    @extend_schema(parameters=PAGE_PARAMS, responses=s.PwcTaskSerializer(many=True))
    @action(detail=True)
    def parents(self, request, id=None):
        """The task's ancestors, nearest first (one query per level, at most 20)."""
        task, chain, seen = self._task(), [], set()
        while task.parent_id and task.parent_id not in seen and len(chain) < 20:
            seen.add(task.parent_id)
            task = tasks_qs().get(pk=task.parent_id)
            chain.append(task)
        return self.page_of(chain, s.PwcTaskSerializer)

    @extend_schema(parameters=PAGE_PARAMS, responses=s.PwcPaperSerializer(many=True))
    @action(detail=True)
    def papers(self, request, id=None):
        task = self._task()
        return self.page_of(task.papers.order_by("-date", "title", "pk"), s.PwcPaperSerializer)

    @extend_schema(parameters=PAGE_PARAMS, responses=s.PwcEvaluationSerializer(many=True))
    @action(detail=True)
    def evaluations(self, request, id=None):
        task = self._task()
        return self.page_of(evaluations_qs().filter(tasks=task), s.PwcEvaluationSerializer)


@extend_schema(tags=["pwc v1"])
class DatasetViewSet(NameFilterMixin, V1ViewSet):
    """Datasets; ``q`` searches names (ranked); ``name`` and ``full_name`` match exactly."""

    serializer_class = s.PwcDatasetSerializer
    exact_fields = ("name", "full_name")

    def base_queryset(self):
        return Dataset.objects.order_by("name")

    @extend_schema(parameters=PAGE_PARAMS, responses=s.PwcEvaluationSerializer(many=True))
    @action(detail=True)
    def evaluations(self, request, id=None):
        dataset = self.object_or_404(Dataset.objects.all(), slug=id)
        return self.page_of(evaluations_qs().filter(dataset=dataset), s.PwcEvaluationSerializer)


@extend_schema(tags=["pwc v1"])
class EvaluationViewSet(V1ViewSet):
    """Evaluation tables: one per benchmark (its id), with its metrics and results."""

    serializer_class = s.PwcEvaluationSerializer

    def get_queryset(self):
        return self.whole(evaluations_qs()) if self.action == "list" else evaluations_qs()

    @extend_schema(parameters=PAGE_PARAMS)
    def list(self, request, *args, **kwargs):
        return super().list(request, *args, **kwargs)

    def _benchmark(self):
        return self.object_or_404(Benchmark.objects.all(), slug=self.kwargs["id"])

    def _metrics(self, benchmark):
        """The table's metrics, each with its ``direction`` in it (``is_loss``)."""
        used = Result.objects.filter(benchmark=benchmark).values("metric_id")
        declared = BenchmarkMetric.objects.filter(benchmark=benchmark).values("metric_id")
        metrics = Metric.objects.filter(Q(pk__in=declared) | Q(pk__in=used))
        return directions.metrics_in(benchmark, metrics).order_by("name")

    @extend_schema(parameters=PAGE_PARAMS, responses=s.PwcMetricSerializer(many=True))
    @action(detail=True)
    def metrics(self, request, id=None):
        return self.page_of(self._metrics(self._benchmark()), s.PwcMetricSerializer)

    @extend_schema(responses=s.PwcMetricSerializer)
    @action(detail=True, url_path=r"metrics/(?P<metric_id>[^/]+)")
    def metric(self, request, id=None, metric_id=None):
        metric = self.object_or_404(self._metrics(self._benchmark()), slug=metric_id)
        return Response(s.PwcMetricSerializer(metric).data)

    @extend_schema(parameters=PAGE_PARAMS, responses=s.PwcResultSerializer(many=True))
    @action(detail=True)
    def results(self, request, id=None):
        return self.rows_page(results_qs().filter(benchmark=self._benchmark()))

    @extend_schema(responses=s.PwcResultSerializer)
    @action(detail=True, url_path=r"results/(?P<result_id>[0-9]+)")
    def result(self, request, id=None, result_id=None):
        row = row_of(self._benchmark(), result_id)
        if row is None:
            raise Http404("Not found.")
        return Response(s.PwcResultSerializer(row).data)


@extend_schema(tags=["pwc v1"])
class RepositoryViewSet(CachedReadMixin, viewsets.GenericViewSet):
    """Code links as repositories, one per address. VeriSOTA records no stars: ``stars`` keeps
    the repositories with at least that many, so any value above 0 gives an empty page."""

    permission_classes = [AllowAny]
    pagination_class = PwcPagination
    serializer_class = s.PwcRepositorySerializer
    queryset = CodeLink.objects.none()  # for the schema: the rows are built in each action

    def _rows(self, links=None):
        links = CodeLink.objects.all() if links is None else links
        return links.values("url").annotate(framework=Max("framework")).order_by("url")

    def _by_owner(self, qs, owner):
        # Parts of an address: ILIKE, which the trigram index of the addresses serves.
        contains, ends = search.substring("url"), search.substring("url", "endswith")
        return qs.filter(Q(**{contains: f"/{owner}/"}) | Q(**{ends: f"/{owner}"}))

    @extend_schema(
        parameters=[
            *PAGE_PARAMS,
            _param("q", "A part of the address"),
            _param("owner", "Owner"),
            _param("name", "Repository name"),
            _param("framework", "Framework"),
            _param("stars", "Minimum number of stars", OpenApiTypes.INT),
        ]
    )
    def list(self, request):
        params = request.query_params
        links = CodeLink.objects.all()
        if _q(request, "framework"):  # on the links' column (its index), before grouping
            links = links.filter(framework__iexact=params["framework"])
        qs = self._rows(links)
        ends = search.substring("url", "endswith")
        if _q(request, "q"):
            qs = qs.filter(**{search.substring("url"): params["q"]})
        if _q(request, "owner"):
            qs = self._by_owner(qs, params["owner"])
        if _q(request, "name"):
            name = params["name"]
            qs = qs.filter(Q(**{ends: f"/{name}"}) | Q(**{ends: f"/{name}.git"}))
        stars = query_int(request, "stars", minimum=0)
        if stars is not None and stars > 0:
            qs = qs.none()
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(s.PwcRepositorySerializer(page, many=True).data)

    def _links(self, owner, name):
        ends = search.substring("url", "endswith")
        links = CodeLink.objects.filter(
            Q(**{ends: f"/{owner}/{name}"}) | Q(**{ends: f"/{owner}/{name}.git"})
        )
        return links

    @extend_schema(
        operation_id="v1_repositories_owner_list",
        parameters=PAGE_PARAMS,
        responses=s.PwcRepositorySerializer(many=True),
    )
    def owner(self, request, owner=None):
        page = self.paginate_queryset(self._by_owner(self._rows(), owner))
        return self.get_paginated_response(s.PwcRepositorySerializer(page, many=True).data)

    @extend_schema(responses=s.PwcRepositorySerializer)
    def retrieve(self, request, owner=None, name=None):
        row = self._rows().filter(pk__in=self._links(owner, name).values("pk")).first()
        if row is None:
            raise Http404("Not found.")
        return Response(s.PwcRepositorySerializer(row).data)

    @extend_schema(parameters=PAGE_PARAMS, responses=s.PwcPaperSerializer(many=True))
    def papers(self, request, owner=None, name=None):
        papers = papers_qs().filter(pk__in=self._links(owner, name).values("paper_id"))
        page = self.paginate_queryset(papers.order_by("-date", "title", "pk"))
        return self.get_paginated_response(s.PwcPaperSerializer(page, many=True).data)


def conferences() -> list[dict]:
    """Conferences and proceedings from the papers' venues ("ICML 2017": conference ICML,
    proceeding icml-2017), computed once per catalogue version."""

    def compute():
        venues = Paper.objects.exclude(venue="").values_list("venue", flat=True).distinct()
        found: dict[str, dict] = {}
        for venue in sorted(set(venues)):
            name, year = s.conference_of(venue)
            cid = s._slug(name)
            if not cid:
                continue
            conf = found.setdefault(cid, {"id": cid, "name": name, "proceedings": []})
            conf["proceedings"].append({"id": s._slug(venue), "year": year, "venue": venue})
        return sorted(found.values(), key=lambda c: c["name"].lower())

    return versioned("pwc:conferences", compute)


@extend_schema(tags=["pwc v1"])
class ConferenceViewSet(CachedReadMixin, viewsets.GenericViewSet):
    """Conferences and their proceedings, as the papers' venues name them."""

    permission_classes = [AllowAny]
    pagination_class = PwcPagination
    serializer_class = s.PwcConferenceSerializer
    queryset = Paper.objects.none()  # for the schema: conferences come from the venues

    def _conference(self, conference_id):
        for conf in conferences():
            if conf["id"] == conference_id:
                return conf
        raise Http404("Not found.")

    def _proceeding(self, conference_id, proceeding_id):
        for p in self._conference(conference_id)["proceedings"]:
            if p["id"] == proceeding_id:
                return p
        raise Http404("Not found.")

    @extend_schema(
        parameters=[*PAGE_PARAMS, _param("q", "A part of the name"), _param("name", "Name")]
    )
    def list(self, request):
        rows = conferences()
        if _q(request, "q"):
            rows = [c for c in rows if request.query_params["q"].lower() in c["name"].lower()]
        if _q(request, "name"):
            rows = [c for c in rows if request.query_params["name"].lower() == c["name"].lower()]
        page = self.paginate_queryset(rows)
        return self.get_paginated_response(s.PwcConferenceSerializer(page, many=True).data)

    def retrieve(self, request, id=None):
        return Response(s.PwcConferenceSerializer(self._conference(id)).data)

    @extend_schema(parameters=PAGE_PARAMS, responses=s.PwcProceedingSerializer(many=True))
    def proceedings(self, request, id=None):
        page = self.paginate_queryset(self._conference(id)["proceedings"])
        return self.get_paginated_response(s.PwcProceedingSerializer(page, many=True).data)

    @extend_schema(responses=s.PwcProceedingSerializer)
    def proceeding(self, request, id=None, proceeding_id=None):
        return Response(s.PwcProceedingSerializer(self._proceeding(id, proceeding_id)).data)

    @extend_schema(parameters=PAGE_PARAMS, responses=s.PwcPaperSerializer(many=True))
    def proceeding_papers(self, request, id=None, proceeding_id=None):
        venue = self._proceeding(id, proceeding_id)["venue"]
        papers = papers_qs().filter(venue=venue).order_by("-date", "title", "pk")
        page = self.paginate_queryset(papers)
        return self.get_paginated_response(s.PwcPaperSerializer(page, many=True).data)


@extend_schema(tags=["pwc v1"])
class MethodViewSet(NameFilterMixin, V1ViewSet):
    """Methods; ``q`` searches names (ranked), ``name`` and ``full_name`` match exactly."""

    serializer_class = s.PwcMethodSerializer
    exact_fields = ("name", "full_name")
    also = "full_name"

    def base_queryset(self):
        return Method.objects.select_related("paper").order_by("name", "pk")


@extend_schema(tags=["pwc v1"])
class AreaViewSet(NameFilterMixin, V1ViewSet):
    """Research areas and their tasks."""

    serializer_class = s.PwcAreaSerializer

    def base_queryset(self):
        return Area.objects.order_by("name")

    @extend_schema(parameters=PAGE_PARAMS, responses=s.PwcTaskSerializer(many=True))
    @action(detail=True)
    def tasks(self, request, id=None):
        area = self.object_or_404(Area.objects.all(), slug=id)
        return self.page_of(tasks_qs().filter(area=area), s.PwcTaskSerializer)
