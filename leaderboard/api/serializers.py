"""Explicit read serializers of the API. Each expects the queryset its view builds
(select_related / prefetch_related / annotations), so that no field runs a query per row."""

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from leaderboard.core.links import http_url_or_empty
from leaderboard.models import Benchmark, CodeLink, Dataset, Paper, Result, Task
from leaderboard.results import contested
from leaderboard.results.rows import instance_row


@extend_schema_field(
    {"type": "string", "description": "An http(s) URL, or empty when there is none."}
)
class HttpUrlField(serializers.CharField):
    """A stored link as the API gives it: http(s) only (anything else reads as ""), and
    documented as a string that may be empty (not ``format: uri``, which "" would break)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("read_only", True)
        super().__init__(**kwargs)

    def to_representation(self, value):
        return http_url_or_empty(value)


class MarkedListSerializer(serializers.ListSerializer):
    """A list of results, their groups of claims found by one query (``contested.mark``)."""

    def to_representation(self, data):
        rows = list(data.all() if hasattr(data, "all") else data)
        contested.mark([getattr(r, "lead", r) for r in rows])  # a ``TableRow``: its first result
        return super().to_representation(rows)


class ResultSerializer(serializers.ModelSerializer):
    """One published result: the row of ``leaderboard/results/rows.py`` (its one builder; the
    declared fields here document it and drive the schema, ``test_serializers`` checks they
    agree). Expects instances annotated with ``direction`` (``directions.with_direction``)."""

    benchmark = serializers.CharField(source="benchmark.slug")
    benchmark_name = serializers.CharField(source="benchmark.name")
    dataset = serializers.CharField(source="benchmark.dataset.slug")
    dataset_name = serializers.CharField(source="benchmark.dataset.name")
    metric = serializers.CharField(source="metric.name")
    higher_is_better = serializers.BooleanField(
        source="direction",
        help_text="The metric's direction in this benchmark (its curator's correction, else the "
        "metric's own): what the rows are ranked by",
    )
    value = serializers.FloatField(
        allow_null=True,
        help_text="The row's number, what it is ranked by: for a verified row the reproduced "
        "mean (what the reference run measured), for an archive row the archive's figure",
    )
    ci95 = serializers.FloatField(
        allow_null=True,
        help_text="Half-width of the 95% interval of value: the reference run's for a verified "
        "row, the archive's own where it printed one",
    )
    claimed_value = serializers.FloatField(
        allow_null=True, help_text="A verified row's claim, as submitted (null: archive row)"
    )
    model = serializers.CharField(source="model.name")
    paper = serializers.CharField(source="paper.slug", allow_null=True, default=None)
    paper_title = serializers.CharField(source="paper.title", allow_null=True, default=None)
    paper_date = serializers.DateField(
        source="row_date",
        allow_null=True,
        default=None,
        help_text="The row's own date (as the archive row gives it), else its paper's",
    )
    verified = serializers.BooleanField(source="is_verified")
    reproduced_value = serializers.FloatField(
        allow_null=True, help_text="Compatibility: value of a verified row (null: archive row)"
    )
    reproduced_ci95 = serializers.FloatField(
        allow_null=True, help_text="Compatibility: ci95 of a verified row (null: archive row)"
    )
    verification_level = serializers.ChoiceField(
        source="level_name",
        choices=["archive", "evaluated", "reproduced"],
        help_text="archive (not re-run), evaluated (the checkpoint re-scored) or reproduced "
        "(re-trained from the configuration)",
    )
    evidence_url = serializers.CharField(
        allow_null=True, help_text="The public evidence page of a verified result"
    )
    page_url = serializers.CharField(source="benchmark.get_absolute_url")
    contested = serializers.BooleanField(
        source="contested.contested",
        default=False,
        help_text="An archive row whose figure other papers' figures for the same model on this "
        "benchmark and metric contradict (docs/contested.md)",
    )
    contested_url = serializers.CharField(
        source="contested.url",
        allow_null=True,
        default=None,
        help_text="The page of the contested group (every paper's figure), for any row in one",
    )
    contested_side = serializers.ChoiceField(
        source="contested.side",
        choices=["above", "higher", "middle", "lower", "below"],
        allow_null=True,
        default=None,
        help_text="A verified row in a contested group: where its measurement falls among the "
        "claims",
    )

    class Meta:
        model = Result
        list_serializer_class = MarkedListSerializer
        fields = [
            "id",
            "benchmark",
            "benchmark_name",
            "dataset",
            "dataset_name",
            "metric",
            "higher_is_better",
            "value",
            "ci95",
            "claimed_value",
            "raw_value",
            "model",
            "paper",
            "paper_title",
            "paper_date",
            "uses_additional_data",
            "source",
            "verified",
            "evaluation_mode",
            "reproduced_value",
            "reproduced_ci95",
            "verification_url",
            "verification_level",
            "evidence_url",
            "verified_at",
            "page_url",
            "contested",
            "contested_url",
            "contested_side",
        ]
        read_only_fields = fields

    def to_representation(self, r):
        return instance_row(r)


class RankedResultSerializer(ResultSerializer):
    rank = serializers.IntegerField()

    class Meta(ResultSerializer.Meta):
        fields = ["rank", *ResultSerializer.Meta.fields]
        read_only_fields = fields

    def to_representation(self, r):
        return {"rank": r.rank, **super().to_representation(r)}


class CodeLinkSerializer(serializers.ModelSerializer):
    url = HttpUrlField()

    class Meta:
        model = CodeLink
        fields = ["url", "official", "framework"]
        read_only_fields = fields


class PaperSerializer(serializers.ModelSerializer):
    tasks = serializers.SlugRelatedField(many=True, read_only=True, slug_field="slug")
    page_url = serializers.CharField(source="get_absolute_url")
    url = HttpUrlField()
    pdf_url = HttpUrlField()

    class Meta:
        model = Paper
        fields = [
            "slug",
            "title",
            "authors",
            "date",
            "venue",
            "arxiv_id",
            "url",
            "pdf_url",
            "tasks",
            "page_url",
        ]
        read_only_fields = fields


class PaperDetailSerializer(PaperSerializer):
    code_links = CodeLinkSerializer(many=True, read_only=True)
    results = ResultSerializer(many=True, read_only=True)

    class Meta(PaperSerializer.Meta):
        fields = [*PaperSerializer.Meta.fields, "abstract", "code_links", "results"]
        read_only_fields = fields


class TaskSerializer(serializers.ModelSerializer):
    parent = serializers.CharField(source="parent.slug", allow_null=True, default=None)
    benchmark_count = serializers.IntegerField()
    page_url = serializers.CharField(source="get_absolute_url")

    class Meta:
        model = Task
        fields = ["slug", "name", "description", "parent", "benchmark_count", "page_url"]
        read_only_fields = fields


class DatasetSerializer(serializers.ModelSerializer):
    url = HttpUrlField()
    benchmark_count = serializers.IntegerField()
    page_url = serializers.CharField(source="get_absolute_url")

    class Meta:
        model = Dataset
        fields = ["slug", "name", "description", "url", "benchmark_count", "page_url"]
        read_only_fields = fields


class BenchmarkSerializer(serializers.ModelSerializer):
    dataset = serializers.CharField(source="dataset.slug")
    dataset_name = serializers.CharField(source="dataset.name")
    tasks = serializers.SlugRelatedField(many=True, read_only=True, slug_field="slug")
    metrics = serializers.SlugRelatedField(many=True, read_only=True, slug_field="name")
    result_count = serializers.IntegerField()
    page_url = serializers.CharField(source="get_absolute_url")

    class Meta:
        model = Benchmark
        fields = [
            "slug",
            "name",
            "dataset",
            "dataset_name",
            "tasks",
            "metrics",
            "ways",
            "shots",
            "result_count",
            "page_url",
        ]
        read_only_fields = fields


class SotaTableSerializer(serializers.Serializer):
    metric = serializers.CharField()
    unit = serializers.CharField()
    higher_is_better = serializers.BooleanField()
    total = serializers.IntegerField(help_text="rows of this metric; `rows` holds the best ones")
    rows = RankedResultSerializer(many=True)


class BenchmarkDetailSerializer(BenchmarkSerializer):
    description = serializers.CharField()
    sota = SotaTableSerializer(many=True, source="sota_tables")

    class Meta(BenchmarkSerializer.Meta):
        fields = [*BenchmarkSerializer.Meta.fields, "description", "sota"]
        read_only_fields = fields


class ComparedResultSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    model = serializers.CharField()
    value = serializers.FloatField(allow_null=True, help_text="its value (the reproduced mean)")


class ComparisonSerializer(serializers.Serializer):
    """The paired comparison of two verified results (a − b, episode by episode)."""

    benchmark = serializers.CharField()
    metric = serializers.CharField()
    a = ComparedResultSerializer()
    b = ComparedResultSerializer()
    n = serializers.IntegerField(help_text="episodes compared")
    mean = serializers.FloatField(help_text="mean of a − b")
    low = serializers.FloatField(help_text="95% interval, low end")
    high = serializers.FloatField(help_text="95% interval, high end")
    p_value = serializers.FloatField()
    distinguishable = serializers.BooleanField(help_text="the interval excludes zero")
    confidence = serializers.FloatField()
