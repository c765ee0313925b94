"""The submissions API: explicit fields in, explicit fields out."""

from django.core.exceptions import ValidationError as DjangoValidationError
from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers, status
from rest_framework.exceptions import APIException

from evaluator.models import Run, Submission
from evaluator.validation import (
    MAX_CONFIG_BYTES,
    UploadTooLarge,
    check_model_index,
    check_submission,
    paper_fields,
    split_authors,
)
from leaderboard.api.serializers import HttpUrlField
from leaderboard.core.json_bounds import JSONBoundError, loads_bounded
from leaderboard.core.links import validate_http_url
from leaderboard.core.model_index import MAX_BYTES as MODEL_INDEX_BYTES
from leaderboard.core.query import QueryError, parse_int
from leaderboard.models import Benchmark, Metric, Paper


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The upload is too large."
    default_code = "too_large"


@extend_schema_field({"type": "string", "minLength": 1, "maxLength": 300})
class IdOrSlugField(serializers.Field):
    """A catalogue object given by its id, its slug, or (for short lists) its exact name."""

    default_error_messages = {"unknown": "Unknown {kind} {value!r}."}

    def __init__(self, model, kind, by_name=False, **kwargs):
        self.model, self.kind, self.by_name = model, kind, by_name
        super().__init__(**kwargs)

    def to_internal_value(self, data):
        value = str(data).strip()
        if not value or len(value) > 300 or "\x00" in value:
            self.fail("unknown", kind=self.kind, value=value[:300].replace("\x00", "\\x00"))
        qs = self.model.objects.all()
        obj = None
        try:
            obj = qs.filter(pk=parse_int(value)).first()
        except QueryError:  # not an id in ASCII digits ("²" is not one): a slug or a name
            pass
        if obj is None:
            obj = qs.filter(slug=value).first()
        if obj is None and self.by_name:
            obj = qs.filter(name=value).first()
        if obj is None:
            self.fail("unknown", kind=self.kind, value=value)
        return obj

    def to_representation(self, value):
        return value.slug


@extend_schema_field(
    {"oneOf": [{"type": "array", "items": {"type": "string"}}, {"type": "string"}]}
)
class AuthorsField(serializers.Field):
    """A JSON list of names, or one string of names separated by commas or new lines."""

    def to_internal_value(self, data):
        if isinstance(data, str) and data.strip().startswith("["):
            try:
                data = loads_bounded(data, max_bytes=64 * 1024, max_depth=2, what="Authors")
            except JSONBoundError as exc:
                raise serializers.ValidationError(str(exc)) from None
            except ValueError:
                raise serializers.ValidationError("Authors: not a valid JSON list.") from None
        if not isinstance(data, list | str):
            raise serializers.ValidationError("Authors: a list of names or a string.")
        return split_authors(data)

    def to_representation(self, value):
        return value


@extend_schema_field({"oneOf": [{"type": "object"}, {"type": "string"}]})
class ConfigField(serializers.Field):
    """A training configuration: a JSON object, or its text (a multipart field)."""

    def to_internal_value(self, data):
        if isinstance(data, dict):
            return data
        if isinstance(data, str):
            if len(data) > MAX_CONFIG_BYTES:
                raise serializers.ValidationError("The configuration is too large.")
            return data
        raise serializers.ValidationError("The configuration must be a JSON object.")

    def to_representation(self, value):
        return value


MODES = ["transductive", "non-transductive"]


@extend_schema_field({"type": "string", "enum": MODES})  # inline: no enum component to collide
class EvaluationModeField(serializers.CharField):
    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        if value not in MODES:
            raise serializers.ValidationError(f"Choose one of {', '.join(MODES)}.")
        return value


class SubmissionCreateSerializer(serializers.Serializer):
    """A claim: by its fields (``benchmark``, ``metric``, ``claimed_value``, ``model_name``), or
    by a ``model_index`` block giving one claim per metric of each result (each checked on the
    same artefact, all stored or none)."""

    benchmark = IdOrSlugField(Benchmark, "benchmark", by_name=True, required=False)
    metric = IdOrSlugField(Metric, "metric", by_name=True, required=False)
    claimed_value = serializers.FloatField(required=False)
    model_name = serializers.CharField(max_length=300, required=False)
    model_index = serializers.CharField(
        required=False,
        max_length=MODEL_INDEX_BYTES,
        trim_whitespace=False,
        help_text="The claims as a model-index YAML block (paperswithcode/model-index), in place "
        "of benchmark, metric, claimed_value and model_name",
    )
    evaluation_mode = EvaluationModeField(default="transductive")
    uses_additional_data = serializers.BooleanField(default=False)
    checkpoint_public = serializers.BooleanField(
        default=True, help_text="Whether anyone may download the checkpoint (default: yes)"
    )
    paper = IdOrSlugField(Paper, "paper", required=False, allow_null=True)
    paper_title = serializers.CharField(max_length=500, required=False, allow_blank=True)
    paper_arxiv_id = serializers.CharField(max_length=200, required=False, allow_blank=True)
    paper_url = serializers.URLField(
        max_length=500, required=False, allow_blank=True, validators=[validate_http_url]
    )
    paper_authors = AuthorsField(required=False)
    paper_date = serializers.DateField(required=False, allow_null=True)
    kind = serializers.ChoiceField(choices=Submission.Kind.choices, required=False)
    checkpoint = serializers.FileField(required=False, allow_empty_file=False)
    config = ConfigField(required=False)
    config_file = serializers.FileField(required=False)

    def validate(self, attrs):
        if attrs.get("config") is not None and attrs.get("config_file") is not None:
            raise serializers.ValidationError({"config": ["Send config or config_file, not both."]})
        claim_fields = ("benchmark", "metric", "claimed_value", "model_name")
        if attrs.get("model_index"):
            if any(attrs.get(name) is not None for name in claim_fields):
                raise serializers.ValidationError(
                    {"model_index": ["Give the claim by its fields or by a block, not both."]}
                )
            return {"claims": self._model_index_claims(attrs)}
        missing = {n: ["This field is required."] for n in claim_fields if attrs.get(n) is None}
        if missing:
            raise serializers.ValidationError(missing)
        try:
            checked = check_submission(
                benchmark=attrs["benchmark"],
                metric=attrs["metric"],
                claimed_value=attrs["claimed_value"],
                kind=attrs.get("kind"),
                checkpoint=attrs.get("checkpoint"),
                config=attrs.get("config") or attrs.get("config_file"),
                paper=attrs.get("paper"),
                paper_fields=paper_fields(attrs),
            )
        except UploadTooLarge as exc:
            raise PayloadTooLarge({"checkpoint": exc.messages}) from None
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        return {
            **checked,
            "model_name": attrs["model_name"].strip(),
            "transductive": attrs["evaluation_mode"] == "transductive",
            "uses_additional_data": attrs["uses_additional_data"],
            "checkpoint_public": attrs["checkpoint_public"],
        }

    def _model_index_claims(self, attrs) -> list[dict]:
        try:
            claims = check_model_index(
                attrs["model_index"],
                kind=attrs.get("kind"),
                checkpoint=attrs.get("checkpoint"),
                config=attrs.get("config") or attrs.get("config_file"),
                paper=attrs.get("paper"),
                paper_fields=paper_fields(attrs),
            )
        except UploadTooLarge as exc:
            raise PayloadTooLarge({"checkpoint": exc.messages}) from None
        except DjangoValidationError as exc:
            raise serializers.ValidationError(exc.message_dict) from None
        shared = {
            "transductive": attrs["evaluation_mode"] == "transductive",
            "uses_additional_data": attrs["uses_additional_data"],
            "checkpoint_public": attrs["checkpoint_public"],
        }
        return [{**claim, **shared} for claim in claims]


class SubmissionCreateJSONSerializer(SubmissionCreateSerializer):
    """The same claim as a JSON (or url-encoded) body: no file fields, so a reproduce run with
    its ``config`` (an object); an evaluate run sends its checkpoint as multipart."""

    checkpoint = None
    config_file = None


class RunSerializer(serializers.ModelSerializer):
    progress_percent = serializers.IntegerField(read_only=True)
    is_final = serializers.BooleanField(read_only=True)
    result = serializers.PrimaryKeyRelatedField(read_only=True)
    same_checkpoint_as = serializers.PrimaryKeyRelatedField(
        read_only=True,
        help_text="The row of the same checkpoint this verified run was linked to, instead of "
        "publishing a second one (one checkpoint, one row)",
    )

    class Meta:
        model = Run
        fields = [
            "id",
            "status",
            "is_final",
            "phase",
            "progress_done",
            "progress_total",
            "progress_percent",
            "log_tail",
            "attempts",
            "reason",
            "protocol",
            "maml_ref_version",
            "evaluation_mode",
            "seeds",
            "device",
            "host_class",
            "parameters",
            "episodes_fingerprint",
            "reproduced_value",
            "ci95",
            "result",
            "same_checkpoint_as",
            "created_at",
            "started_at",
            "finished_at",
            "wall_seconds",
        ]
        read_only_fields = fields


class RunDetailSerializer(RunSerializer):
    # A reproduce run's training as the run page shows it (worker.training_fields): iteration,
    # total, meta-loss, validation curve [[iteration, value], ...], seconds per 100 and left.
    training = serializers.JSONField(read_only=True)

    class Meta(RunSerializer.Meta):
        fields = [*RunSerializer.Meta.fields, "episode_scores", "training"]
        read_only_fields = fields


class SubmissionSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    status = serializers.SerializerMethodField()
    benchmark = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    benchmark_name = serializers.CharField(source="benchmark.name", read_only=True)
    metric = serializers.CharField(source="metric.name", read_only=True)
    paper = serializers.SlugRelatedField(slug_field="slug", read_only=True)
    paper_title = serializers.SerializerMethodField()
    evaluation_mode = serializers.SerializerMethodField()
    verification_level = serializers.SerializerMethodField()
    evidence_url = serializers.SerializerMethodField()
    run = serializers.SerializerMethodField()

    paper_url = HttpUrlField()

    run_serializer = RunSerializer

    class Meta:
        model = Submission
        fields = [
            "id",
            "url",
            "status",
            "kind",
            "benchmark",
            "benchmark_name",
            "metric",
            "claimed_value",
            "model_name",
            "evaluation_mode",
            "verification_level",
            "evidence_url",
            "uses_additional_data",
            "paper",
            "paper_title",
            "paper_arxiv_id",
            "paper_url",
            "paper_authors",
            "paper_date",
            "checkpoint_sha256",
            "checkpoint_public",
            "config",
            "protocol",
            "created_at",
            "run",
        ]
        read_only_fields = fields

    def get_url(self, obj) -> str:
        request = self.context.get("request")
        path = obj.get_absolute_url()
        return request.build_absolute_uri(path) if request else path

    def _run(self, obj):
        # The newest run; from the prefetched runs when the view prefetched them.
        if "runs" in getattr(obj, "_prefetched_objects_cache", {}):
            runs = list(obj.runs.all())
            return runs[0] if runs else None
        return obj.current_run

    def get_status(self, obj) -> str | None:
        run = self._run(obj)
        return run.status if run else None

    def get_paper_title(self, obj) -> str:
        # A catalogue paper's own title; the submitted title of a new one.
        return obj.paper.title if obj.paper_id else obj.paper_title

    def get_evaluation_mode(self, obj) -> str:
        return "transductive" if obj.transductive else "non-transductive"

    def get_verification_level(self, obj) -> str:
        return "reproduced" if obj.kind == Submission.Kind.REPRODUCE else "evaluated"

    def get_evidence_url(self, obj) -> str | None:
        """The published row's evidence: this submission's, or the row of the same checkpoint
        it was linked to (one checkpoint, one row)."""
        run = self._run(obj)
        if run is None or run.status != Run.Status.VERIFIED:
            return None
        row = run.result_id or run.same_checkpoint_as_id
        if not row:
            return None
        path = reverse("evaluator:evidence", args=[row])
        request = self.context.get("request")
        return request.build_absolute_uri(path) if request else path

    def get_run(self, obj) -> dict | None:
        run = self._run(obj)
        return self.run_serializer(run, context=self.context).data if run else None


class SubmissionDetailSerializer(SubmissionSerializer):
    run_serializer = RunDetailSerializer
    batch = serializers.SerializerMethodField(
        help_text="The submissions stored by the same request, this one first: one per claim of "
        "a model-index block; just this one otherwise"
    )

    class Meta(SubmissionSerializer.Meta):
        fields = [*SubmissionSerializer.Meta.fields, "batch"]
        read_only_fields = fields

    def get_batch(self, obj) -> list[int]:
        return list(self.context.get("batch") or [obj.pk])
