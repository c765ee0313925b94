"""Query filters of the read API. A malformed value is a 400 (the form's errors), an unknown
value an empty page. Names match a slug or a name without regard to case."""

import django_filters
from django import forms
from django.db.models import Q
from django_filters.constants import EMPTY_VALUES
from drf_spectacular.utils import extend_schema_field
from rest_framework.exceptions import ValidationError
from rest_framework.filters import SearchFilter

from leaderboard.core.query import QueryError, parse_int
from leaderboard.models import Benchmark, Dataset, Metric, MLModel, Paper, Result, Task

BOOLEAN_CHOICES = [(v, v) for v in ("true", "false", "1", "0", "yes", "no")]


def _slug_or_name(prefix: str, value: str) -> Q:
    return Q(**{f"{prefix}slug__iexact": value}) | Q(**{f"{prefix}name__iexact": value})


def _truthy(value: str) -> bool:
    return value in ("true", "1", "yes")


class AsciiIntegerField(forms.IntegerField):
    """An integer in the digits 0-9 only (``leaderboard/core/query.py``): "²" and "١٢" are 400s."""

    def to_python(self, value):
        if value in self.empty_values:
            return None
        try:
            return parse_int(str(value))
        except QueryError as exc:
            raise forms.ValidationError(str(exc), code="invalid") from None


@extend_schema_field({"type": "integer", "minimum": 1, "maximum": 9999})
class YearFilter(django_filters.NumberFilter):
    """A year: an integer from 1 to 9999, as the schema says (a fraction is a 400)."""

    field_class = AsciiIntegerField


class SafeSearchFilter(SearchFilter):
    """DRF's search, refusing a NUL character (the database would refuse it with a 500)."""

    def get_search_terms(self, request):
        raw = request.query_params.get(self.search_param, "")
        if "\x00" in raw:
            raise ValidationError({self.search_param: ["Null characters are not allowed."]})
        return super().get_search_terms(request)


class RankedSearchFilter(SafeSearchFilter):
    """``search`` as the search page does it (``leaderboard/search.py``): papers by full-text
    search, authors, model and method names; names by trigram similarity; best first."""

    def filter_queryset(self, request, queryset, view):
        from leaderboard import search

        terms = self.get_search_terms(request)
        if not terms:
            return queryset
        q = " ".join(terms)
        if queryset.model is Paper:
            return search.papers(q, queryset)
        return search.names(queryset, q)


class ResultOrdering(django_filters.OrderingFilter):
    """The usual ``ordering`` fields, plus ``best``: by benchmark and metric, each best first
    by its metric's direction (the SotA order). Every ordering ends with the id (descending
    after a descending field), so that rows tied on the field keep one order from page to
    page: walking the pages returns each row exactly once."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.extra["choices"] = [*self.extra["choices"], ("best", "best first per metric")]

    def filter(self, qs, value):
        if value and "best" in value:
            return qs.best_first()
        if value in EMPTY_VALUES:
            return qs
        ordering = [self.get_ordering_value(p) for p in value if p not in EMPTY_VALUES]
        if not ordering:
            return qs
        return qs.order_by(*ordering, "-id" if ordering[-1].startswith("-") else "id")


# Form classes built by FormOncePerClassMixin, by filter set class.
_FORM_CLASSES: dict[type, type] = {}


class FormOncePerClassMixin:
    """django-filter builds the filter set's form class anew for every request (``type()`` over
    every filter's form field): 0.36 to 0.47 ms of CPU a request, about half of the filter
    set's cost (docs/benchmarks.md, issue 23). ``get_form_class`` is the hook django-filter
    gives for this (its docstring: "should be overridden if the form class needs to be
    customized"): here it returns the class django-filter's own ``get_form_class`` built for
    the first instance of the filter set class. Only for filter sets whose form fields depend
    on nothing of the request (fixed choices, no querysets); ``test_api_results.py`` checks the
    class built once against a fresh one."""

    def get_form_class(self):
        cls = type(self)
        if cls not in _FORM_CLASSES:  # two threads at once: built twice, either serves
            _FORM_CLASSES[cls] = super().get_form_class()
        return _FORM_CLASSES[cls]


class NoEmptyValueMixin:
    """A choice or number parameter given empty (``verified=``, ``year=``) is a 400, not read
    as absent: the schema lists the choices or the type, and "" is neither."""

    def is_valid(self):
        valid = super().is_valid()
        for name, flt in self.filters.items():
            if self.data.get(name) != "":
                continue
            if isinstance(flt, django_filters.ChoiceFilter):
                choices = ", ".join(str(value) for value, _ in flt.extra["choices"])
                self.form.add_error(name, f"Choose one of {choices} (got an empty value).")
                valid = False
            elif isinstance(flt, django_filters.NumberFilter):
                self.form.add_error(name, "Give a number (got an empty value).")
                valid = False
        return valid


class ResultFilter(NoEmptyValueMixin, FormOncePerClassMixin, django_filters.FilterSet):
    dataset = django_filters.CharFilter(method="filter_dataset", help_text="slug or name")
    benchmark = django_filters.CharFilter(method="filter_benchmark", help_text="slug or name")
    task = django_filters.CharFilter(method="filter_task", help_text="slug or name")
    metric = django_filters.CharFilter(method="filter_metric", help_text="slug or name")
    paper = django_filters.CharFilter(method="filter_paper", help_text="slug, arXiv id or title")
    model = django_filters.CharFilter(method="filter_model", help_text="slug or name")
    verified = django_filters.ChoiceFilter(choices=BOOLEAN_CHOICES, method="filter_verified")
    verification = django_filters.ChoiceFilter(
        choices=[
            ("archive", "archive, not re-run"),
            ("evaluated", "evaluated: the checkpoint re-scored"),
            ("reproduced", "reproduced: re-trained from the configuration"),
        ],
        method="filter_verification",
        help_text="archive, evaluated or reproduced",
    )
    ordering = ResultOrdering(
        fields=(
            ("value", "value"),
            ("paper__date", "date"),
            ("created_at", "created_at"),
            ("verified_at", "verified_at"),
            ("model__name", "model"),
            ("benchmark__name", "benchmark"),
        )
    )

    class Meta:
        model = Result
        fields: list = []

    # Each name is resolved to ids by a small query first, so that the results query itself
    # filters on its own columns (cheap to plan; see docs/leaderboard.md, load benchmark).

    def filter_dataset(self, qs, name, value):
        ids = Benchmark.objects.filter(_slug_or_name("dataset__", value)).values_list("pk")
        return qs.filter(benchmark_id__in=list(ids))

    def filter_benchmark(self, qs, name, value):
        ids = Benchmark.objects.filter(_slug_or_name("", value)).values_list("pk")
        return qs.filter(benchmark_id__in=list(ids))

    def filter_task(self, qs, name, value):
        tasks = Task.objects.filter(_slug_or_name("", value))
        ids = Benchmark.objects.filter(tasks__in=tasks).values_list("pk").distinct()
        return qs.filter(benchmark_id__in=list(ids))

    def filter_metric(self, qs, name, value):
        ids = Metric.objects.filter(_slug_or_name("", value)).values_list("pk")
        return qs.filter(metric_id__in=list(ids))

    def filter_paper(self, qs, name, value):
        ids = Paper.objects.filter(
            Q(slug__iexact=value) | Q(arxiv_id=value) | Q(title__iexact=value)
        ).values_list("pk")
        return qs.filter(paper_id__in=list(ids))

    def filter_model(self, qs, name, value):
        ids = MLModel.objects.filter(_slug_or_name("", value)).values_list("pk")
        return qs.filter(model_id__in=list(ids))

    def filter_verification(self, qs, name, value):
        if value == "archive":
            return qs.archive()
        return qs.verified().filter(verification_level=value)

    def filter_verified(self, qs, name, value):
        return qs.verified() if _truthy(value) else qs.archive()


class BenchmarkFilter(django_filters.FilterSet):
    dataset = django_filters.CharFilter(method="filter_dataset", help_text="slug or name")
    task = django_filters.CharFilter(method="filter_task", help_text="slug or name")

    class Meta:
        model = Benchmark
        fields: list = []

    def filter_dataset(self, qs, name, value):
        return qs.filter(_slug_or_name("dataset__", value))

    def filter_task(self, qs, name, value):
        return qs.filter(tasks__in=Task.objects.filter(_slug_or_name("", value))).distinct()


class PaperFilter(NoEmptyValueMixin, django_filters.FilterSet):
    task = django_filters.CharFilter(method="filter_task", help_text="slug or name")
    arxiv_id = django_filters.CharFilter()
    year = YearFilter(field_name="date__year", min_value=1, max_value=9999)

    class Meta:
        model = Paper
        fields: list = []

    def filter_task(self, qs, name, value):
        return qs.filter(tasks__in=Task.objects.filter(_slug_or_name("", value))).distinct()


class TaskFilter(django_filters.FilterSet):
    parent = django_filters.CharFilter(method="filter_parent", help_text="slug or name")

    class Meta:
        model = Task
        fields: list = []

    def filter_parent(self, qs, name, value):
        return qs.filter(_slug_or_name("parent__", value))


class DatasetFilter(django_filters.FilterSet):
    task = django_filters.CharFilter(method="filter_task", help_text="slug or name")

    class Meta:
        model = Dataset
        fields: list = []

    def filter_task(self, qs, name, value):
        tasks = Task.objects.filter(_slug_or_name("", value))
        return qs.filter(benchmarks__tasks__in=tasks).distinct()
