"""The v1 API's write calls, for staff tokens: what paperswithcode-client 0.3.1's ``task_*``,
``dataset_*``, ``evaluation_*`` (tables, their metrics and results) ``add`` / ``update`` /
``delete`` and ``evaluation_synchronize`` send, so that a lab that kept its leaderboard in sync
through that client can point it here.

What they write are archive rows: claimed, not re-run (``Result.Source.ARCHIVE``), ranked and
shown as such; a verified row is never changed or removed here (only a reproduction run makes
one). Each call is one transaction, taken after the catalogue's writer lock, and is recorded on
the public ledger (``CatalogueEdit``: who, what, which table; ``/log`` lists them).

Rows: PWC's result is one row of a table with all its metrics; VeriSOTA stores one ``Result``
per metric, and the metrics of one written row share an ``archive_key`` (as an imported archive
row's do; ``leaderboard/results/rows.py`` groups them, for these calls and every reader). A
result's id is the first of those rows, kept while the row lasts (an update that drops that
row's metric moves it to a metric the update gives); update and delete act on all of them.
``PATCH`` bodies carry every field of the client's request model, unset ones as null: a null
means "unchanged". ``evaluation_synchronize`` upserts a table by its ``external_id`` and its
rows by theirs (a row without one is identified by what it holds), and removes the rows an
earlier synchronisation made that the new one no longer lists.
"""

import hashlib
import json
import uuid

from django.db import transaction
from django.db.models import ProtectedError
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, PermissionDenied, ValidationError
from rest_framework.permissions import SAFE_METHODS, AllowAny, BasePermission
from rest_framework.response import Response
from rest_framework.views import APIView

from leaderboard import catalogue, directions
from leaderboard.archive.values import parse_value
from leaderboard.core.links import validate_http_url
from leaderboard.direction_guess import TABLE, guess_in_table
from leaderboard.models import (
    Area,
    Benchmark,
    BenchmarkMetric,
    CatalogueEdit,
    CatalogueVersion,
    Dataset,
    DirectionSource,
    LedgerEntry,
    Metric,
    Result,
    Task,
    unique_slug,
)
from leaderboard.pwc import serializers as s
from leaderboard.pwc import views
from leaderboard.pwc.ids import paper_by_id
from leaderboard.results import ledger_chain
from leaderboard.results import rows as result_rows

MAX_METRICS = 100
MAX_SYNC_RESULTS = 5000


class StaffWrites(BasePermission):
    """Writes for a staff member (``Authorization: Token ...``)."""

    message = "Writes need a staff member's token."

    def has_permission(self, request, view):
        user = request.user
        return bool(user and user.is_authenticated and user.is_staff)


class StaffWritesMixin:
    """Reads for anyone (``AllowAny``, so that the schema documents them as needing no
    credentials), writes for staff (``StaffWrites``)."""

    def get_permissions(self):
        request = getattr(self, "request", None)
        if request is None or request.method in SAFE_METHODS:
            return [AllowAny()]
        return [StaffWrites()]


class Conflict(APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The change conflicts with what the catalogue holds."
    default_code = "conflict"


ERRORS = {
    400: OpenApiResponse(description="Invalid: the reason, by field"),
    401: OpenApiResponse(description="No token"),
    403: OpenApiResponse(description="Not a staff member's token"),
    404: OpenApiResponse(description="No such object"),
    409: OpenApiResponse(description="Conflicts with the catalogue (the reason)"),
}


def _errors(*codes):
    return {code: ERRORS[code] for code in codes}


#: The reason of a ledger entry of a v1 API write (``leaderboard/results/ledger_chain.py``): each
#: write
#: to a result appends its entry, so that what the API changes is in the chain, not only here.
V1_REASON = "a curator through the v1 API {}"


def _actor(request) -> str:
    return request.user.get_username()[:150]


def record(request, action_: str, kind: str, label: str, benchmark=None, **detail) -> None:
    """The call on the public ledger (``/log``)."""
    CatalogueEdit.objects.create(
        user=request.user,
        username=request.user.get_username()[:150],
        action=action_,
        kind=kind,
        label=label[:500],
        benchmark=benchmark,
        detail=detail,
    )


def given(data: dict) -> dict:
    """A request's fields without the nulls (PATCH bodies carry every field, unset as null)."""
    return {k: v for k, v in (data or {}).items() if v is not None}


def _validated(serializer_class, data, partial=False) -> dict:
    if not isinstance(data, dict):
        raise ValidationError({"detail": ["A JSON object is required."]})
    ser = serializer_class(data=given(data), partial=partial)
    ser.is_valid(raise_exception=True)
    return ser.validated_data


class HttpUrl(serializers.CharField):
    def __init__(self, **kwargs):
        kwargs.setdefault("max_length", 500)
        kwargs.setdefault("required", False)
        kwargs.setdefault("allow_blank", True)
        super().__init__(validators=[validate_http_url], **kwargs)


class MetricsField(serializers.DictField):
    """``{"Accuracy": "97.3", ...}``: names of at most 200 characters, values a number or its
    text (at most 100 characters), at most ``MAX_METRICS`` of them."""

    def to_internal_value(self, data):
        if not isinstance(data, dict) or not data:
            raise ValidationError("A non-empty object of metric names and values is required.")
        if len(data) > MAX_METRICS:
            raise ValidationError(f"At most {MAX_METRICS} metrics.")
        out = {}
        for name, value in data.items():
            name = " ".join(str(name).split())
            if not name or len(name) > 200 or "\x00" in name:
                raise ValidationError(f"{name[:40]!r}: a metric name of 1 to 200 characters.")
            if isinstance(value, bool) or not isinstance(value, str | int | float):
                raise ValidationError(f"{name}: a number or its text is required.")
            text = value if isinstance(value, str) else json.dumps(value)
            if len(text) > 100 or "\x00" in text or not text.strip():
                raise ValidationError(f"{name}: a value of 1 to 100 characters.")
            out[name] = text.strip()
        return out


class TaskIn(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, required=False, max_length=100_000)
    area = serializers.CharField(max_length=200, required=False, allow_blank=True)
    parent_task = serializers.CharField(max_length=200, required=False, allow_blank=True)


class DatasetIn(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    full_name = serializers.CharField(max_length=500, required=False, allow_blank=True)
    url = HttpUrl()


class EvaluationIn(serializers.Serializer):
    task = serializers.CharField(max_length=200)
    dataset = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, required=False, max_length=100_000)
    mirror_url = HttpUrl()


class MetricIn(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    description = serializers.CharField(allow_blank=True, required=False, max_length=10_000)
    is_loss = serializers.BooleanField()


class ResultIn(serializers.Serializer):
    metrics = MetricsField()
    methodology = serializers.CharField(max_length=300)
    uses_additional_data = serializers.BooleanField(required=False, default=False)
    paper = serializers.CharField(max_length=400, required=False, allow_blank=True)
    evaluated_on = serializers.DateField(required=False)
    external_source_url = HttpUrl()


class SyncResultIn(ResultIn):
    external_id = serializers.CharField(max_length=200, required=False, allow_blank=True)


class SyncMetricIn(MetricIn):
    is_loss = serializers.BooleanField(required=False, default=True)  # the client's default


class SyncIn(EvaluationIn):
    external_id = serializers.CharField(max_length=200, required=False, allow_blank=True)
    metrics = SyncMetricIn(many=True, required=False)
    results = serializers.ListField(
        child=serializers.DictField(), required=False, max_length=MAX_SYNC_RESULTS
    )


def _area(text: str):
    text = " ".join((text or "").split())
    if not text:
        return None
    found = Area.objects.filter(slug=text).first() or Area.objects.filter(name__iexact=text).first()
    return found or Area.objects.create(name=text[:200], slug=unique_slug(Area, text))


def _by_slug(model_cls, slug: str, field: str):
    obj = model_cls.objects.filter(slug=slug).first()
    if obj is None:
        raise ValidationError({field: [f"No {model_cls._meta.verbose_name} has the id {slug!r}."]})
    return obj


def _paper(paper_id: str | None):
    if not paper_id:
        return None
    paper = paper_by_id(paper_id)
    if paper is None:
        raise ValidationError({"paper": [f"No paper has the id {paper_id!r}."]})
    return paper


def _locked():
    """The catalogue's writer lock, taken first (``CatalogueVersion.lock``)."""
    CatalogueVersion.lock()


# ---- tasks and datasets ---------------------------------------------------------------------


class TaskViewSet(StaffWritesMixin, views.TaskViewSet):
    @extend_schema(request=TaskIn, responses={201: s.PwcTaskSerializer, **_errors(400, 401, 403)})
    def create(self, request):
        data = _validated(TaskIn, request.data)
        with transaction.atomic():
            _locked()
            if Task.objects.filter(name__iexact=data["name"]).exists():
                raise ValidationError({"name": ["A task of that name exists."]})
            parent = data.get("parent_task")
            task = Task.objects.create(
                name=data["name"],
                slug=unique_slug(Task, data["name"]),
                description=data.get("description", ""),
                area=_area(data.get("area", "")),
                parent=_by_slug(Task, parent, "parent_task") if parent else None,
            )
            record(request, CatalogueEdit.Action.ADD, "task", task.name)
        return Response(s.PwcTaskSerializer(task).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=TaskIn, responses={200: s.PwcTaskSerializer, **_errors(400, 401, 403, 404)}
    )
    def partial_update(self, request, id=None):
        data = _validated(TaskIn, request.data, partial=True)
        with transaction.atomic():
            _locked()
            task = self._task()
            before = task.name
            if "name" in data and data["name"] != task.name:
                if Task.objects.filter(name__iexact=data["name"]).exclude(pk=task.pk).exists():
                    raise ValidationError({"name": ["A task of that name exists."]})
                task.name = data["name"]
            if "description" in data:
                task.description = data["description"]
            if "area" in data:
                task.area = _area(data["area"])
            if "parent_task" in data:
                parent = _by_slug(Task, data["parent_task"], "parent_task")
                if parent.pk == task.pk:
                    raise ValidationError({"parent_task": ["A task is not its own parent."]})
                task.parent = parent
            task.save()
            record(request, CatalogueEdit.Action.UPDATE, "task", before, fields=sorted(data))
        return Response(s.PwcTaskSerializer(tasks_qs_get(task.pk)).data)

    update = partial_update

    @extend_schema(request=None, responses={204: None, **_errors(401, 403, 404, 409)})
    def destroy(self, request, id=None):
        with transaction.atomic():
            _locked()
            task = self._task()
            tables = task.benchmarks.count()
            if tables:
                raise Conflict(
                    f"The task has {tables} evaluation table(s): delete or move them first."
                )
            record(request, CatalogueEdit.Action.DELETE, "task", task.name)
            task.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


def tasks_qs_get(pk):
    return views.tasks_qs().get(pk=pk)


class DatasetViewSet(StaffWritesMixin, views.DatasetViewSet):
    def _dataset(self):
        return self.object_or_404(Dataset.objects.all(), slug=self.kwargs["id"])

    @extend_schema(
        request=DatasetIn, responses={201: s.PwcDatasetSerializer, **_errors(400, 401, 403)}
    )
    def create(self, request):
        data = _validated(DatasetIn, request.data)
        with transaction.atomic():
            _locked()
            if Dataset.objects.filter(name__iexact=data["name"]).exists():
                raise ValidationError({"name": ["A dataset of that name exists."]})
            dataset = Dataset.objects.create(
                name=data["name"],
                slug=unique_slug(Dataset, data["name"]),
                full_name=data.get("full_name", ""),
                url=data.get("url", ""),
            )
            record(request, CatalogueEdit.Action.ADD, "dataset", dataset.name)
        return Response(s.PwcDatasetSerializer(dataset).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        request=DatasetIn, responses={200: s.PwcDatasetSerializer, **_errors(400, 401, 403, 404)}
    )
    def partial_update(self, request, id=None):
        data = _validated(DatasetIn, request.data, partial=True)
        with transaction.atomic():
            _locked()
            dataset = self._dataset()
            before = dataset.name
            if "name" in data and data["name"] != dataset.name:
                others = Dataset.objects.filter(name__iexact=data["name"]).exclude(pk=dataset.pk)
                if others.exists():
                    raise ValidationError({"name": ["A dataset of that name exists."]})
                dataset.name = data["name"]
            for field in ("full_name", "url"):
                if field in data:
                    setattr(dataset, field, data[field])
            dataset.save()
            record(request, CatalogueEdit.Action.UPDATE, "dataset", before, fields=sorted(data))
        return Response(s.PwcDatasetSerializer(dataset).data)

    update = partial_update

    @extend_schema(request=None, responses={204: None, **_errors(401, 403, 404, 409)})
    def destroy(self, request, id=None):
        with transaction.atomic():
            _locked()
            dataset = self._dataset()
            tables = dataset.benchmarks.count()
            if tables:
                raise Conflict(
                    f"The dataset has {tables} evaluation table(s): delete or move them first."
                )
            record(request, CatalogueEdit.Action.DELETE, "dataset", dataset.name)
            dataset.delete()
        return Response(status=status.HTTP_204_NO_CONTENT)


# ---- evaluation tables, their metrics and rows -------------------------------------------


def _table_name(dataset: Dataset, task: Task) -> str:
    """The dataset's name, else suffixed with the task (a benchmark's name is unique)."""
    taken = lambda n: Benchmark.objects.filter(name__iexact=n).exists()  # noqa: E731
    for name in (dataset.name, f"{dataset.name} ({task.name})"):
        if not taken(name[:300]):
            return name[:300]
    n = 2
    while taken(f"{dataset.name} ({task.name}, {n})"[:300]):
        n += 1
    return f"{dataset.name} ({task.name}, {n})"[:300]


def create_table(task, dataset, description="", mirror_url="", external_id="") -> Benchmark:
    name = _table_name(dataset, task)
    ways, shots = catalogue.ways_shots(name)
    benchmark = Benchmark.objects.create(
        name=name,
        slug=unique_slug(Benchmark, name, 300),
        dataset=dataset,
        description=description,
        mirror_url=mirror_url,
        external_id=external_id,
        ways=ways,
        shots=shots,
    )
    benchmark.tasks.add(task)
    return benchmark


def link_metric(benchmark, name, is_loss=None, description=None) -> BenchmarkMetric:
    """The metric ``name`` in the table (found or created, linked if it was not): the direction
    given (``is_loss``: set by a curator) or else guessed as the importer guesses."""
    hib = None if is_loss is None else not is_loss
    metric, created = catalogue.get_metric(name, higher_is_better=hib)
    if created and hib is not None:
        Metric.objects.filter(pk=metric.pk).update(direction_source=DirectionSource.CURATOR)
    link, made = BenchmarkMetric.objects.select_related("metric").get_or_create(
        benchmark=benchmark, metric=metric
    )
    changed = []
    if hib is not None and (link.higher_is_better, link.direction_source) != (
        hib,
        DirectionSource.CURATOR,
    ):
        link.higher_is_better, link.direction_source = hib, DirectionSource.CURATOR
        changed += ["higher_is_better", "direction_source"]
    elif made and hib is None:
        names = list(
            BenchmarkMetric.objects.filter(benchmark=benchmark).values_list(
                "metric__name", flat=True
            )
        )
        guess, why = guess_in_table(metric.name, names)
        if why == TABLE and guess != metric.higher_is_better:
            link.higher_is_better, link.direction_source = guess, DirectionSource.TABLE
            changed += ["higher_is_better", "direction_source"]
    if description is not None and link.description != description:
        link.description = description
        changed.append("description")
    if changed:
        link.save(update_fields=changed)
    return link


def metric_payload(link: BenchmarkMetric) -> dict:
    """A metric of a table as the client reads it (``is_loss``: its direction in that table)."""
    return {
        "id": link.metric.slug,
        "name": link.metric.name,
        "description": link.description,
        "is_loss": not directions.higher_is_better(link.benchmark, link.metric),
        "unit": link.metric.unit,
    }


def _new_key(seed: str | None = None) -> str:
    return hashlib.sha1((seed or f"api:{uuid.uuid4().hex}").encode()).hexdigest()


def row_results(first: Result) -> list[Result]:
    """The results of the row ``first`` is in (its metrics; ``leaderboard/results/rows.py``)."""
    qs = Result.objects.select_related("metric", "model", "paper", "benchmark")
    return result_rows.group_rows([first], qs)[0].results


def result_payload(rows: list[Result]) -> dict:
    """A written row as the client reads it (``PwcResultSerializer``): all its metrics."""
    first = views.results_qs().filter(pk=rows[0].pk).first() or rows[0]
    return dict(s.PwcResultSerializer(result_rows.TableRow(rows, lead=first)).data)


def write_row(benchmark, data: dict, rows: list[Result] | None, key=None, **extra) -> list:
    """Create (``rows`` None) or change a written row so that it holds ``data``: its metrics
    exactly as given (when given), and the other fields given. Returns its rows."""
    rows = list(rows or [])
    if any(r.is_verified for r in rows):
        raise PermissionDenied("A verified row changes only through a reproduction run.")
    first = rows[0] if rows else None
    model = (
        catalogue.get_model(data["methodology"][:300])[0]
        if "methodology" in data
        else (first.model if first else None)
    )
    paper = _paper(data.get("paper")) if "paper" in data else (first.paper if first else None)
    archive_row = dict(first.archive_row) if first and isinstance(first.archive_row, dict) else {}
    if "external_source_url" in data:
        archive_row["external_source_url"] = data["external_source_url"]
    archive_row.update(extra)
    common = {
        "model": model,
        "paper": paper,
        "date": data["evaluated_on"] if "evaluated_on" in data else (first.date if first else None),
        "uses_additional_data": data.get(
            "uses_additional_data", first.uses_additional_data if first else False
        ),
        "archive_row": archive_row,
    }
    if "paper_date" in archive_row or "evaluated_on" in data:
        archive_row["paper_date"] = common["date"].isoformat() if common["date"] else None
    if first is not None and not first.archive_key:  # a row of one (the seed's): keyed now, so
        first.archive_key = _new_key()  # that the metrics written with it stay one row
    key = first.archive_key if first else (key or _new_key())
    wanted = data.get("metrics")
    by_metric = {r.metric_id: r for r in rows}
    out = []
    if wanted is None:  # the metrics unchanged, the other fields written
        for r in rows:
            for field, value in common.items():
                setattr(r, field, value)
            r.save()
            out.append(r)
        return out
    keep = set()
    links = [(link_metric(benchmark, name), text) for name, text in wanted.items()]
    if first is not None and links and first.metric_id not in {k.metric_id for k, _ in links}:
        # The row keeps its id (its first result's): that result takes a metric it is given,
        # in place of the result that metric had, if any.
        target = links[0][0]
        taken = by_metric.pop(target.metric_id, None)
        if taken is not None:
            rows = [r for r in rows if r.pk != taken.pk]
            taken.delete()
        by_metric.pop(first.metric_id, None)
        first.metric = target.metric
        by_metric[target.metric_id] = first
    for link, text in links:
        parsed = parse_value(text)
        value, ci = parsed if parsed else (None, None)
        row = by_metric.get(link.metric_id)
        if row is None:
            row = Result(
                benchmark=benchmark,
                metric=link.metric,
                source=Result.Source.ARCHIVE,
                archive_key=key,
            )
        row.value, row.ci95, row.raw_value = value, ci, text
        for field, v in common.items():
            setattr(row, field, v)
        row.save()
        by_metric[link.metric_id] = row  # two spellings of one metric: one row
        if row.pk not in keep:
            keep.add(row.pk)
            out.append(row)
    for r in rows:
        if r.pk not in keep:
            r.delete()
    return sorted(out, key=lambda r: r.pk)


class EvaluationViewSet(StaffWritesMixin, views.EvaluationViewSet):
    @extend_schema(
        request=EvaluationIn,
        responses={201: s.PwcEvaluationSerializer, **_errors(400, 401, 403)},
    )
    def create(self, request):
        data = _validated(EvaluationIn, request.data)
        with transaction.atomic():
            _locked()
            task = _by_slug(Task, data["task"], "task")
            dataset = _by_slug(Dataset, data["dataset"], "dataset")
            benchmark = create_table(
                task, dataset, data.get("description", ""), data.get("mirror_url", "")
            )
            record(request, CatalogueEdit.Action.ADD, "evaluation", benchmark.name, benchmark)
        return Response(self._table(benchmark.pk), status=status.HTTP_201_CREATED)

    def _table(self, pk) -> dict:
        return table_payload(views.evaluations_qs().get(pk=pk))

    @extend_schema(
        request=EvaluationIn,
        responses={200: s.PwcEvaluationSerializer, **_errors(400, 401, 403, 404)},
    )
    def partial_update(self, request, id=None):
        data = _validated(EvaluationIn, request.data, partial=True)
        with transaction.atomic():
            _locked()
            benchmark = self._benchmark()
            if "task" in data:
                benchmark.tasks.set([_by_slug(Task, data["task"], "task")])
            if "dataset" in data:
                benchmark.dataset = _by_slug(Dataset, data["dataset"], "dataset")
            for field in ("description", "mirror_url"):
                if field in data:
                    setattr(benchmark, field, data[field])
            benchmark.save()
            record(
                request,
                CatalogueEdit.Action.UPDATE,
                "evaluation",
                benchmark.name,
                benchmark,
                fields=sorted(data),
            )
        return Response(self._table(benchmark.pk))

    update = partial_update

    @extend_schema(request=None, responses={204: None, **_errors(401, 403, 404, 409)})
    def destroy(self, request, id=None):
        with transaction.atomic():
            _locked()
            benchmark = self._benchmark()
            verified = benchmark.results.verified().count()
            if verified:
                raise Conflict(
                    f"The table has {verified} verified row(s): they stay (only a run makes "
                    "or changes one)."
                )
            name = benchmark.name
            removed = benchmark.results.count()
            try:
                with transaction.atomic():
                    ledger_chain.withdraw_known(
                        benchmark.results.all(),
                        V1_REASON.format("deleted its table"),
                        _actor(request),
                    )
                    benchmark.results.all().delete()
                    benchmark.delete()
            except ProtectedError as exc:
                raise Conflict(
                    f"Other records point at the table ({len(exc.protected_objects)}, e.g. "
                    "submissions): it stays."
                ) from None
            record(request, CatalogueEdit.Action.DELETE, "evaluation", name, rows=removed)
        return Response(status=status.HTTP_204_NO_CONTENT)

    # -- metrics of a table

    @extend_schema(methods=["GET"], responses=s.PwcMetricSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=MetricIn,
        responses={201: s.PwcMetricSerializer, **_errors(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["get", "post"])
    def metrics(self, request, id=None):
        if request.method == "GET":
            return super().metrics(request, id)
        data = _validated(MetricIn, request.data)
        with transaction.atomic():
            _locked()
            benchmark = self._benchmark()
            existing = catalogue._by_slug_or_name(Metric, data["name"])
            linked = BenchmarkMetric.objects.filter(benchmark=benchmark, metric=existing)
            if existing is not None and linked.exists():
                raise ValidationError({"name": ["The table has that metric already."]})
            link = link_metric(
                benchmark, data["name"], data["is_loss"], data.get("description", "")
            )
            record(
                request,
                CatalogueEdit.Action.ADD,
                "metric",
                link.metric.name,
                benchmark,
                is_loss=data["is_loss"],
            )
        return Response(metric_payload(link), status=status.HTTP_201_CREATED)

    def _link(self, benchmark, metric_id) -> BenchmarkMetric:
        link = (
            BenchmarkMetric.objects.select_related("metric")
            .filter(benchmark=benchmark, metric__slug=metric_id)
            .first()
        )
        if link is None:
            metric = self.object_or_404(self._metrics(benchmark), slug=metric_id)
            link = BenchmarkMetric.objects.select_related("metric").get_or_create(
                benchmark=benchmark, metric=metric
            )[0]
        return link

    @extend_schema(methods=["GET"], responses=s.PwcMetricSerializer)
    @extend_schema(
        methods=["PATCH"],
        request=MetricIn,
        responses={200: s.PwcMetricSerializer, **_errors(400, 401, 403, 404, 409)},
    )
    @extend_schema(
        methods=["DELETE"], request=None, responses={204: None, **_errors(401, 403, 404, 409)}
    )
    @action(
        detail=True, methods=["get", "patch", "delete"], url_path=r"metrics/(?P<metric_id>[^/]+)"
    )
    def metric(self, request, id=None, metric_id=None):
        if request.method == "GET":
            return super().metric(request, id, metric_id)
        with transaction.atomic():
            _locked()
            benchmark = self._benchmark()
            if request.method == "DELETE":
                return self._delete_metric(request, benchmark, metric_id)
            data = _validated(MetricIn, request.data, partial=True)
            link = self._link(benchmark, metric_id)
            before = link.metric.name
            if "name" in data and data["name"] != link.metric.name:
                link = self._rename(benchmark, link, data["name"])
            if "is_loss" in data or "description" in data:
                link = link_metric(
                    benchmark, link.metric.name, data.get("is_loss"), data.get("description")
                )
            record(
                request,
                CatalogueEdit.Action.UPDATE,
                "metric",
                before,
                benchmark,
                fields=sorted(data),
            )
        return Response(metric_payload(link))

    def _rename(self, benchmark, link, name) -> BenchmarkMetric:
        """The table's metric ``link`` under another name: its rows and direction move to the
        metric of that name (which the table must not use yet)."""
        rows = Result.objects.filter(benchmark=benchmark, metric=link.metric)
        if rows.verified().exists():
            raise Conflict("Verified rows measure this metric: its name stays.")
        target = catalogue._by_slug_or_name(Metric, name)
        if target is not None and (
            BenchmarkMetric.objects.filter(benchmark=benchmark, metric=target).exists()
            or Result.objects.filter(benchmark=benchmark, metric=target).exists()
        ):
            raise ValidationError({"name": ["The table has a metric of that name already."]})
        if target is None:
            target, _ = catalogue.get_metric(
                name,
                higher_is_better=directions.higher_is_better(benchmark, link.metric),
                unit=link.metric.unit,
            )
        moved = list(rows.values_list("pk", flat=True))
        rows.update(metric=target)
        BenchmarkMetric.objects.filter(pk=link.pk).update(metric=target)
        ledger_chain.correct_known(
            Result.objects.filter(pk__in=moved), V1_REASON.format(f"renamed the metric {name}")
        )
        return BenchmarkMetric.objects.select_related("metric").get(pk=link.pk)

    def _delete_metric(self, request, benchmark, metric_id):
        link = self._link(benchmark, metric_id)
        rows = Result.objects.filter(benchmark=benchmark, metric=link.metric)
        if rows.verified().exists():
            raise Conflict("Verified rows measure this metric: it stays in the table.")
        removed = rows.count()
        ledger_chain.withdraw_known(
            rows, V1_REASON.format("deleted the metric from its table"), _actor(request)
        )
        rows.delete()
        name = link.metric.name
        link.delete()
        record(request, CatalogueEdit.Action.DELETE, "metric", name, benchmark, rows=removed)
        return Response(status=status.HTTP_204_NO_CONTENT)

    # -- rows of a table

    @extend_schema(methods=["GET"], responses=s.PwcResultSerializer(many=True))
    @extend_schema(
        methods=["POST"],
        request=ResultIn,
        responses={201: s.PwcResultSerializer, **_errors(400, 401, 403, 404)},
    )
    @action(detail=True, methods=["get", "post"])
    def results(self, request, id=None):
        if request.method == "GET":
            return super().results(request, id)
        data = _validated(ResultIn, request.data)
        with transaction.atomic():
            _locked()
            benchmark = self._benchmark()
            rows = write_row(benchmark, data, None, written_by=request.user.get_username())
            for r in rows:
                ledger_chain.append(
                    LedgerEntry.Kind.PUBLICATION,
                    r,
                    reason=V1_REASON.format("added it (claimed, not re-run)"),
                    actor=_actor(request),
                )
            record(
                request,
                CatalogueEdit.Action.ADD,
                "result",
                f"{rows[0].model.name}: {', '.join(r.metric.name for r in rows)}",
                benchmark,
                ids=[r.pk for r in rows],
            )
        return Response(result_payload(rows), status=status.HTTP_201_CREATED)

    @extend_schema(methods=["GET"], responses=s.PwcResultSerializer)
    @extend_schema(
        methods=["PATCH"],
        request=ResultIn,
        responses={200: s.PwcResultSerializer, **_errors(400, 401, 403, 404)},
    )
    @extend_schema(
        methods=["DELETE"], request=None, responses={204: None, **_errors(401, 403, 404)}
    )
    @action(
        detail=True, methods=["get", "patch", "delete"], url_path=r"results/(?P<result_id>[0-9]+)"
    )
    def result(self, request, id=None, result_id=None):
        if request.method == "GET":
            return super().result(request, id, result_id)
        with transaction.atomic():
            _locked()
            benchmark = self._benchmark()
            first = self.object_or_404(
                Result.objects.filter(benchmark=benchmark), pk=int(result_id)
            )
            rows = row_results(first)
            if any(r.is_verified for r in rows):
                raise PermissionDenied("A verified row changes only through a reproduction run.")
            label = f"{rows[0].model.name}: {', '.join(r.metric.name for r in rows)}"
            if request.method == "DELETE":
                for r in rows:
                    ledger_chain.append(
                        LedgerEntry.Kind.WITHDRAWAL,
                        r,
                        reason=V1_REASON.format("deleted it"),
                        actor=_actor(request),
                    )
                    r.delete()
                record(
                    request, CatalogueEdit.Action.DELETE, "result", label, benchmark, ids=[first.pk]
                )
                return Response(status=status.HTTP_204_NO_CONTENT)
            data = _validated(ResultIn, request.data, partial=True)
            before = {r.pk for r in rows}
            rows = write_row(benchmark, data, rows)
            for r in rows:
                ledger_chain.append(
                    LedgerEntry.Kind.CORRECTION if r.pk in before else LedgerEntry.Kind.PUBLICATION,
                    r,
                    reason=V1_REASON.format(f"updated it ({', '.join(sorted(data))})"),
                    actor=_actor(request),
                )
            record(
                request,
                CatalogueEdit.Action.UPDATE,
                "result",
                label,
                benchmark,
                ids=[r.pk for r in rows],
                fields=sorted(data),
            )
        return Response(result_payload(rows))


def table_payload(b: Benchmark) -> dict:
    out = s.PwcEvaluationSerializer(b).data
    out["mirror_url"] = b.mirror_url or None
    out["external_id"] = b.external_id
    return out


# ---- evaluation_synchronize ------------------------------------------------------------------


def _sync_key(benchmark: Benchmark, row: dict) -> str:
    if row.get("external_id"):
        return _new_key(f"sync:{benchmark.pk}:{row['external_id']}")
    canon = {k: (v.isoformat() if hasattr(v, "isoformat") else v) for k, v in row.items()}
    return _new_key(f"sync-row:{benchmark.pk}:{json.dumps(canon, sort_keys=True, default=str)}")


class SynchronizeView(APIView):
    """``POST /api/v1/rpc/evaluation-synchronize/``: make a table (found by ``external_id``, else
    by task and dataset, else created) hold the metrics and rows given."""

    permission_classes = [StaffWrites]

    @extend_schema(
        tags=["pwc v1"],
        request=SyncIn,
        responses={200: OpenApiTypes.OBJECT, **_errors(400, 401, 403)},
    )
    def post(self, request):
        data = _validated(SyncIn, request.data)
        results = []
        for i, raw in enumerate(data.get("results", [])):
            ser = SyncResultIn(data=given(raw))
            if not ser.is_valid():
                raise ValidationError({"results": {str(i): ser.errors}})
            results.append(ser.validated_data)
        with transaction.atomic():
            _locked()
            task = _by_slug(Task, data["task"], "task")
            dataset = _by_slug(Dataset, data["dataset"], "dataset")
            external = data.get("external_id", "")
            benchmark = None
            if external:
                benchmark = Benchmark.objects.filter(external_id=external).first()
            if benchmark is None and not external:
                benchmark = (
                    Benchmark.objects.filter(dataset=dataset, tasks=task).order_by("pk").first()
                )
            created = benchmark is None
            if created:
                benchmark = create_table(
                    task,
                    dataset,
                    data.get("description", ""),
                    data.get("mirror_url", ""),
                    external,
                )
            else:
                for field in ("description", "mirror_url"):
                    if field in data:
                        setattr(benchmark, field, data[field])
                if external:
                    benchmark.external_id = external
                benchmark.save()
                if task not in benchmark.tasks.all():
                    benchmark.tasks.add(task)
            links = [
                link_metric(benchmark, m["name"], m["is_loss"], m.get("description", ""))
                for m in data.get("metrics", [])
            ]
            counts = {"created": 0, "updated": 0, "deleted": 0}
            kept, out = set(), []
            for row in results:
                key = _sync_key(benchmark, row)
                existing = list(
                    Result.objects.filter(
                        benchmark=benchmark, source=Result.Source.ARCHIVE, archive_key=key
                    ).order_by("pk")
                )
                rows = write_row(
                    benchmark,
                    row,
                    existing or None,
                    key=key,
                    synced=True,
                    external_id=row.get("external_id", ""),
                )
                counts["updated" if existing else "created"] += 1
                kept.add(key)
                out.append(rows)
            stale = (
                Result.objects.archive()
                .filter(benchmark=benchmark, archive_row__synced=True)
                .exclude(archive_key__in=kept)
            )
            counts["deleted"] = len({k for k in stale.values_list("archive_key", flat=True)})
            reason = V1_REASON.format("synchronised its table")
            ledger_chain.correct_known(
                Result.objects.filter(pk__in=[r.pk for rs in out for r in rs]),
                reason,
                _actor(request),
            )
            ledger_chain.withdraw_known(stale, reason, _actor(request))
            stale.delete()
            record(
                request,
                CatalogueEdit.Action.SYNC,
                "evaluation",
                benchmark.name,
                benchmark,
                table_created=created,
                **counts,
            )
        payload = table_payload(views.evaluations_qs().get(pk=benchmark.pk))
        payload["metrics"] = [
            {
                k: v
                for k, v in metric_payload(link).items()
                if k in ("name", "description", "is_loss")
            }
            for link in links
        ]
        payload["results"] = [
            {
                k: v
                for k, v in result_payload(row_results(rows[0])).items()
                if k
                in (
                    "id",
                    "metrics",
                    "methodology",
                    "paper",
                    "uses_additional_data",
                    "external_id",
                    "evaluated_on",
                    "external_source_url",
                )
            }
            for rows in out
        ]
        return Response(payload)
