"""What every v1 API write shares: staff-only permissions, the error responses, the public
ledger's record of a call, and the request bodies' serializers (validation, bounded)."""

import json

from drf_spectacular.utils import OpenApiResponse
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, ValidationError
from rest_framework.permissions import SAFE_METHODS, AllowAny, BasePermission

from leaderboard.core.links import validate_http_url
from leaderboard.models import (
    CatalogueEdit,
)

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
