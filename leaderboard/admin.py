"""The catalogue in the Django admin: search, filters, inline code links and results."""

from django import forms
from django.contrib import admin, messages
from django.db import transaction

from leaderboard.core.links import admin_formfield_overrides
from leaderboard.merging import MergeConflict, merge_papers
from leaderboard.models import (
    Area,
    Benchmark,
    BenchmarkMetric,
    CodeLink,
    Collection,
    Dataset,
    DirectionSource,
    LedgerEntry,
    Method,
    Metric,
    MLModel,
    Paper,
    Result,
    Task,
)
from leaderboard.results import ledger_chain


class CodeLinkInline(admin.TabularInline):
    formfield_overrides = admin_formfield_overrides()
    model = CodeLink
    extra = 0
    fields = ["url", "official", "framework", "mentioned_in_paper", "mentioned_in_github"]


class BenchmarkMetricInline(admin.TabularInline):
    """A curator corrects a metric's direction for one benchmark here (empty: the metric's
    own flag)."""

    model = BenchmarkMetric
    extra = 0
    fields = ["metric", "higher_is_better", "direction_source", "description"]
    readonly_fields = ["direction_source"]
    autocomplete_fields = ["metric"]
    verbose_name = "metric (direction in this benchmark)"
    verbose_name_plural = "metrics (direction in this benchmark)"


VERIFIED_BY_RUN = (
    "A verified result is published only by a reference run, with its evidence: submit the "
    "checkpoint, or use Evaluator › Runs › “Override the verdict” (recorded on the run and the "
    "public ledger). A result cannot be made verified by hand."
)

#: A verified row's measured number and what it was measured on: written by its run, never edited.
MEASURED_FIELDS = ("benchmark", "metric", "value", "ci95", "raw_value", "uses_additional_data")


class ResultAdminForm(forms.ModelForm):
    """A result as a curator edits it: an archive row's figures may be corrected; a verified
    row's number, interval, claim and provenance are the run's (disabled here, and read-only in
    ``ResultAdmin``); a form that tries to make a row verified is refused."""

    class Meta:
        model = Result
        fields = ["benchmark", "metric", "model", "paper", "value", "ci95", "raw_value"]
        fields += ["uses_additional_data", "source"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if self.instance.pk and self.instance.is_verified:
            for name in (*MEASURED_FIELDS, *Result.VERIFICATION_FIELDS):
                if name in self.fields:
                    self.fields[name].disabled = True

    def clean(self):
        cleaned = super().clean()
        wanted = self.data.get(self.add_prefix("source"), cleaned.get("source"))
        if wanted == Result.Source.VERIFIED and not (
            self.instance.pk and self.instance.is_verified
        ):
            raise forms.ValidationError(VERIFIED_BY_RUN, code="verified_by_run")
        return cleaned


def ledger_admin_write(request, result, kind: str, changed=()) -> None:
    """The ledger entry of a curator's write to a result in the admin, in its transaction: an
    edit is a correction (which fields), a new row a publication, a deleted one a withdrawal."""
    what = {
        LedgerEntry.Kind.CORRECTION: f"edited in the admin ({', '.join(changed)})",
        LedgerEntry.Kind.PUBLICATION: "added in the admin",
        LedgerEntry.Kind.WITHDRAWAL: "deleted in the admin",
    }[kind]
    ledger_chain.append(kind, result, reason=what, actor=request.user.get_username())


def save_result_formset(request, formset) -> None:
    """Save an inline formset of results, each write with its ledger entry."""
    instances = formset.save(commit=False)
    for obj in formset.deleted_objects:
        ledger_admin_write(request, obj, LedgerEntry.Kind.WITHDRAWAL)
        obj.delete()
    changed = dict(formset.changed_objects)
    for obj in instances:
        new = obj.pk is None
        obj.save()
        if new:
            ledger_admin_write(request, obj, LedgerEntry.Kind.PUBLICATION)
        else:
            ledger_admin_write(request, obj, LedgerEntry.Kind.CORRECTION, changed.get(obj, ()))
    formset.save_m2m()


class ResultInline(admin.TabularInline):
    model = Result
    form = ResultAdminForm
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
    list_display = ["name", "slug", "parent", "area"]
    list_filter = ["area", ("parent", admin.RelatedOnlyFieldListFilter)]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["parent", "area"]


@admin.register(Area)
class AreaAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Collection)
class CollectionAdmin(admin.ModelAdmin):
    list_display = ["name", "area", "parent"]
    list_filter = ["area"]
    list_select_related = ["area", "parent"]
    search_fields = ["name", "slug", "description"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["area", "parent"]


@admin.register(Method)
class MethodAdmin(admin.ModelAdmin):
    formfield_overrides = admin_formfield_overrides()
    list_display = ["name", "full_name", "introduced_year", "num_papers"]
    list_filter = ["collections__area", "introduced_year"]
    search_fields = ["name", "slug", "full_name", "description"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["paper"]
    filter_horizontal = ["collections"]


@admin.register(BenchmarkMetric)
class BenchmarkMetricAdmin(admin.ModelAdmin):
    """Every (benchmark, metric) pair with its direction, correctable in the list itself."""

    list_display = ["benchmark", "metric", "higher_is_better", "direction_source"]
    list_editable = ["higher_is_better"]
    list_filter = ["higher_is_better", "direction_source", "metric__higher_is_better"]
    list_select_related = ["benchmark", "metric"]
    search_fields = ["benchmark__name", "metric__name"]
    autocomplete_fields = ["benchmark", "metric"]
    readonly_fields = ["direction_source"]

    def save_model(self, request, obj, form, change):
        mark_curated(form, obj)
        super().save_model(request, obj, form, change)


def mark_curated(form, obj) -> None:
    """A direction a curator set in a form is marked as theirs (no longer a guess)."""
    if "higher_is_better" in form.changed_data:
        curated = obj.higher_is_better is not None or isinstance(obj, Metric)
        obj.direction_source = DirectionSource.CURATOR if curated else DirectionSource.UNKNOWN


@admin.register(Dataset)
class DatasetAdmin(admin.ModelAdmin):
    formfield_overrides = admin_formfield_overrides()
    list_display = ["name", "full_name", "introduced_date", "num_papers"]
    search_fields = ["name", "slug", "full_name", "description"]
    prepopulated_fields = {"slug": ["name"]}
    autocomplete_fields = ["paper"]
    filter_horizontal = ["tasks"]


@admin.register(Metric)
class MetricAdmin(admin.ModelAdmin):
    list_display = ["name", "unit", "higher_is_better", "direction_source"]
    list_filter = ["higher_is_better", "direction_source"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}
    readonly_fields = ["direction_source"]

    def save_model(self, request, obj, form, change):
        mark_curated(form, obj)
        super().save_model(request, obj, form, change)


@admin.register(MLModel)
class MLModelAdmin(admin.ModelAdmin):
    list_display = ["name", "slug"]
    search_fields = ["name", "slug"]
    prepopulated_fields = {"slug": ["name"]}


@admin.register(Benchmark)
class BenchmarkAdmin(admin.ModelAdmin):
    formfield_overrides = admin_formfield_overrides()
    list_display = ["name", "dataset", "ways", "shots"]
    list_filter = ["dataset", "tasks", "ways", "shots"]
    list_select_related = ["dataset"]
    search_fields = ["name", "slug", "dataset__name"]
    prepopulated_fields = {"slug": ["name"]}
    filter_horizontal = ["tasks"]
    autocomplete_fields = ["dataset"]
    inlines = [BenchmarkMetricInline, BenchmarkResultInline]

    def save_formset(self, request, form, formset, change):
        if formset.model is Result:
            return save_result_formset(request, formset)
        if formset.model is BenchmarkMetric:
            for f in formset.forms:
                if f.has_changed() and hasattr(f, "cleaned_data"):
                    mark_curated(f, f.instance)
        super().save_formset(request, form, formset, change)


@admin.register(Paper)
class PaperAdmin(admin.ModelAdmin):
    formfield_overrides = admin_formfield_overrides()
    list_display = ["title", "date", "venue", "arxiv_id"]
    list_filter = ["venue", ("date", admin.DateFieldListFilter), "tasks"]
    search_fields = ["title", "slug", "arxiv_id", "pwc_url"]
    date_hierarchy = "date"
    prepopulated_fields = {"slug": ["title"]}
    filter_horizontal = ["tasks", "methods"]
    inlines = [CodeLinkInline, ResultInline]
    actions = ["merge_selected"]

    def save_formset(self, request, form, formset, change):
        if formset.model is Result:
            return save_result_formset(request, formset)
        return super().save_formset(request, form, formset, change)

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
    list_filter = ["official", "framework", "mentioned_in_paper", "mentioned_in_github"]
    list_select_related = ["paper"]
    search_fields = ["url", "paper__title"]
    autocomplete_fields = ["paper"]


@admin.register(Result)
class ResultAdmin(admin.ModelAdmin):
    """Results. An archive row's figures may be corrected here; a verified row is the run's:
    its number, interval, claim, source and verification fields are read-only, and no row can
    be made verified by hand (``ResultAdminForm``): the curator's way is the run's override,
    which is audited on the run and shown on the ledger."""

    form = ResultAdminForm
    list_display = [
        "model",
        "benchmark",
        "metric",
        "value",
        "ci95",
        "claimed_value",
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
    fieldsets = [
        (
            None,
            {"fields": ["benchmark", "metric", "model", "paper", "value", "ci95", "raw_value"]},
        ),
        ("Provenance", {"fields": ["source", "uses_additional_data", "evaluation_mode"]}),
        (
            "Verification (written by the evaluator's run; read-only)",
            {
                "fields": [
                    "claimed_value",
                    "checkpoint_sha256",
                    "verification_level",
                    "verification_url",
                    "verification_note",
                    "verified_at",
                    "created_at",
                ]
            },
        ),
    ]

    def save_model(self, request, obj, form, change):
        """Saved with its ledger entry (a correction, naming the fields): an edit here adds to
        the history instead of rewriting it. A save that changes nothing appends nothing."""
        super().save_model(request, obj, form, change)
        if not change:
            ledger_admin_write(request, obj, LedgerEntry.Kind.PUBLICATION)
        elif form.changed_data:
            ledger_admin_write(request, obj, LedgerEntry.Kind.CORRECTION, form.changed_data)

    def delete_model(self, request, obj):
        ledger_admin_write(request, obj, LedgerEntry.Kind.WITHDRAWAL)
        super().delete_model(request, obj)

    def delete_queryset(self, request, queryset):
        with transaction.atomic():
            for obj in queryset.select_related("benchmark", "metric", "model", "paper"):
                ledger_admin_write(request, obj, LedgerEntry.Kind.WITHDRAWAL)
            super().delete_queryset(request, queryset)

    def get_readonly_fields(self, request, obj=None):
        fields = [*Result.VERIFICATION_FIELDS, "created_at"]
        if obj is not None and obj.is_verified:
            fields += MEASURED_FIELDS
        return fields


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    """The hash chain, read-only (the database refuses any change; docs/ledger.md)."""

    list_display = ["seq", "kind", "at", "result_id", "benchmark", "hash"]
    list_filter = ["kind"]
    list_select_related = ["benchmark"]
    search_fields = ["hash", "prev_hash", "=result__id"]
    readonly_fields = ["seq", "kind", "at", "result", "benchmark", "content", "prev_hash", "hash"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
