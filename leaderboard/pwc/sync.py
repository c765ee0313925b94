"""``evaluation_synchronize``: a table upserted by its ``external_id``, its rows by theirs, and the
rows an earlier synchronisation made that the new one no longer lists removed."""

from django.db import transaction
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response
from rest_framework.views import APIView

from leaderboard.models import (
    Benchmark,
    CatalogueEdit,
    Dataset,
    Result,
    Task,
)
from leaderboard.pwc import views
from leaderboard.pwc.staff import (
    V1_REASON,
    StaffWrites,
    SyncIn,
    SyncResultIn,
    _actor,
    _errors,
    _validated,
    given,
    record,
)
from leaderboard.pwc.tables import (
    _by_slug,
    _locked,
    _sync_key,
    create_table,
    link_metric,
    metric_payload,
    result_payload,
    row_results,
    table_payload,
    write_row,
)
from leaderboard.results import ledger_chain


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
