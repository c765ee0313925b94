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

Here the viewsets of tasks, datasets and evaluation tables; ``staff.py`` what every write shares
(permissions, errors, the ledger's record, the request bodies), ``tables.py`` what they persist
(tables, metrics, rows), ``sync.py`` ``evaluation_synchronize``.
"""

from django.db import transaction
from django.db.models import ProtectedError
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.exceptions import PermissionDenied, ValidationError
from rest_framework.response import Response

from leaderboard import catalogue, directions
from leaderboard.models import (
    BenchmarkMetric,
    CatalogueEdit,
    Dataset,
    LedgerEntry,
    Metric,
    Result,
    Task,
    unique_slug,
)
from leaderboard.pwc import serializers as s
from leaderboard.pwc import views
from leaderboard.pwc.staff import (
    V1_REASON,
    Conflict,
    DatasetIn,
    EvaluationIn,
    MetricIn,
    ResultIn,
    StaffWritesMixin,
    TaskIn,
    _actor,
    _errors,
    _validated,
    record,
)
from leaderboard.pwc.tables import (
    _area,
    _by_slug,
    _locked,
    create_table,
    link_metric,
    metric_payload,
    result_payload,
    row_results,
    table_payload,
    write_row,
)
from leaderboard.results import ledger_chain

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
