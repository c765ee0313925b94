"""The catalogue in the Django admin: search, filters, inline code links and results."""

from django.contrib import admin, messages

from .merging import MergeConflict, merge_papers
from .models import Benchmark, CodeLink, Dataset, Metric, Model, Paper, Result, Task
from .urls_safe import admin_formfield_overrides


class CodeLinkInline(admin.TabularInline):
    formfield_overrides = admin_formfield_overrides()
    model = CodeLink
    extra = 0
    fields = ["url", "official", "framework"]


class ResultInline(admin.TabularInline):
    model = Result
    extra = 0
    fields = [
        "benchmark",
        "metric",
        "model",
        "value",
        "raw_value",
        "uses_additional_data",
        "source",
    ]
    readonly_fields = ["source"]
    autocomplete_fields = ["benchmark", "metric", "model", "paper"]
    show_change_link = True
    max_num = 500

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("benchmark", "metric", "model", "paper")


class BenchmarkResultInline(ResultInline):
    fields = ["model", "metric", "value", "raw_value", "paper", "uses_additional_data", "source"]


@admin.register(Task)
class TaskAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "parent"]
    list_filter = [("parent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["parent"]


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    formfield_overrides = admin_formfield_overrides()
    list_display = ["name", "slug", "url"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Metric)
class MetricAdmin(admin.ModelAdmin):
    list_display = ["name", "unit", "higher_is_better"]
    list_filter = ["higher_is_better"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Model)
class ModelAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Benchmark)
class BenchmarkAdmin(admin.ModelAdmin):
    list_display = ["name", "dataset", "ways", "shots"]
    list_filter = ["dataset", "tasks", "ways", "shots"]
    list_select_related = ["dataset"]
    search_fields = ["name", "slug", "dataset__name"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["tasks", "metrics"]
    autocomplete_fields = ["dataset"]
    inlines = [BenchmarkResultInline]


@admin.register(Paper)
class PaperAdmin(admin.ModelAdmin):
    formfield_overrides = admin_formfield_overrides()
    list_display = ["title", "date", "venue", "arxiv_id"]
    list_filter = ["venue", ("date", admin.DateFieldListFilter), "tasks"]
    search_fields = ["title", "slug", "arxiv_id", "abstract"]
    date_hierarchy = "date"
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["tasks"]
    inlines = [CodeLinkInline, ResultInline]
    actions = ["merge_selected"]

    @admin.action(
        description="Merge the selected papers into the oldest one", permissions=["change"]
    )
    def merge_selected(self, request, queryset):
        papers = list(queryset.order_by("created_at", "pk"))
        if len(papers) < 2:
            self.message_user(request, "Select at least two papers to merge.", messages.WARNING)
            return
        try:
            merged = merge_papers(papers[0], papers[1:])
        except MergeConflict as exc:
            self.message_user(request, f"Nothing merged: {exc}", messages.ERROR)
            return
        self.message_user(request, f"Merged {merged} paper(s) into “{papers[0]}”.")


@admin.register(CodeLink)
class CodeLinkAdmin(admin.ModelAdmin):
    formfield_overrides = admin_formfield_overrides()
    list_display = ["url", "paper", "official", "framework"]
    list_filter = ["official", "framework"]
    list_select_related = ["paper"]
    search_fields = ["url", "paper__title"]
    autocomplete_fields = ["paper"]


@admin.register(Result)
class ResultAdmin(admin.ModelAdmin):
    list_display = [
        "model",
        "benchmark",
        "metric",
        "value",
        "source",
        "evaluation_mode",
        "paper",
        "verified_at",
    ]
    list_filter = [
        "source",
        "evaluation_mode",
        "uses_additional_data",
        "metric",
        ("benchmark__dataset", admin.RelatedOnlyFieldListFilter),
    ]
    list_select_related = ["model", "benchmark", "metric", "paper"]
    search_fields = ["model__name", "benchmark__name", "paper__title", "paper__arxiv_id"]
    autocomplete_fields = ["benchmark", "metric", "model", "paper"]
    date_hierarchy = "created_at"
    readonly_fields = ["created_at"]
    fieldsets = [
        (None, {"fields": ["benchmark", "metric", "model", "paper", "value", "raw_value"]}),
        ("Provenance", {"fields": ["source", "uses_additional_data", "evaluation_mode"]}),
        (
            "Verification (written by the evaluator)",
            {
                "fields": [
                    "reproduced_value",
                    "reproduced_ci95",
                    "verification_url",
                    "verified_at",
                    "created_at",
                ]
            },
        ),
    ]
