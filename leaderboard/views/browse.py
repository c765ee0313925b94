"""Pages that browse the whole catalogue: SotA (every benchmark by area and task, with its
current best), Methods (by collection and area; a method's page) and About. Each runs a fixed
number of queries; long lists are paginated with cached totals."""

from django.db.models import Q
from django.shortcuts import get_object_or_404, render

from leaderboard.core.paginators import DeferredJoinPaginator
from leaderboard.models import Area, Benchmark, Collection, Method
from leaderboard.results.bests import attach_bests
from leaderboard.views.pages import paginate

SOTA_PER_PAGE = 50
METHODS_PER_PAGE = 50


def _areas():
    return list(Area.objects.order_by("name"))


def sota(request):
    """Every (task, benchmark) pair, grouped by area then task, with the benchmark's current
    best and its number of results. Filters: ``area``, ``task`` (slugs) and ``q`` (a part of
    the benchmark's, dataset's or task's name)."""
    through = Benchmark.tasks.through
    pairs = through.objects.select_related("task", "benchmark__dataset")
    pairs = pairs.select_related("task__area")
    area_slug = request.GET.get("area", "")
    task_slug = request.GET.get("task", "")
    q = request.GET.get("q", "").replace("\x00", "").strip()[:200]
    if area_slug:
        pairs = pairs.filter(task__area__slug=area_slug)
    if task_slug:
        pairs = pairs.filter(Q(task__slug=task_slug) | Q(task__parent__slug=task_slug))
    if q:
        pairs = pairs.filter(
            Q(benchmark__name__icontains=q)
            | Q(benchmark__dataset__name__icontains=q)
            | Q(task__name__icontains=q)
        )
    order = ["task__name", "benchmark__name", "pk"]
    order = ["task__area__name", *order]
    pairs = pairs.defer(
        "task__description", "benchmark__description", "benchmark__dataset__description"
    )
    # Unfiltered, the list is every (task, benchmark) pair once (forward joins only).
    whole = None if area_slug or task_slug or q else through
    paginator = DeferredJoinPaginator(pairs.order_by(*order), SOTA_PER_PAGE, whole_table=whole)
    page = paginator.get_page(request.GET.get("page"))
    benchmarks = {p.benchmark_id: p.benchmark for p in page.object_list}
    attach_bests(benchmarks.values())
    groups, last = [], None
    for pair in page.object_list:
        area = pair.task.area
        key = (area.pk if area else None, pair.task_id)
        if key != last:
            groups.append({"area": area, "task": pair.task, "benchmarks": []})
            last = key
        groups[-1]["benchmarks"].append(benchmarks[pair.benchmark_id])
    return render(
        request,
        "leaderboard/sota.html",
        {
            "page": page,
            "groups": groups,
            "areas": _areas(),
            "area": area_slug,
            "task": task_slug,
            "name_q": q,
        },
    )


def about(request):
    return render(request, "leaderboard/about.html")


def method_list(request):
    methods = Method.objects.order_by("name", "pk")  # names repeat: pk, a total order
    collection_slug = request.GET.get("collection", "")
    area_slug = request.GET.get("area", "")
    q = request.GET.get("q", "").replace("\x00", "").strip()[:200]
    if collection_slug:
        methods = methods.filter(
            Q(collections__slug=collection_slug) | Q(collections__parent__slug=collection_slug)
        )
    if area_slug:
        methods = methods.filter(collections__area__slug=area_slug)
    if q:
        methods = methods.filter(Q(name__icontains=q) | Q(full_name__icontains=q))
    if collection_slug or area_slug:  # once each
        methods = Method.objects.filter(pk__in=methods.values("pk")).order_by("name", "pk")
    whole = None if collection_slug or area_slug or q else Method
    collections = Collection.objects.select_related("area", "parent").order_by("area__name", "name")
    if area_slug:
        collections = collections.filter(area__slug=area_slug)
    return render(
        request,
        "leaderboard/method_list.html",
        {
            "page": paginate(
                request, methods.defer("description"), METHODS_PER_PAGE, whole_table=whole
            ),
            "collections": list(collections[:300]),
            "areas": _areas(),
            "collection": collection_slug,
            "area": area_slug,
            "name_q": q,
        },
    )


def method_detail(request, slug):
    method = get_object_or_404(Method.objects.select_related("paper"), slug=slug)
    papers = method.papers.defer("abstract").order_by("-date", "title", "pk")
    return render(
        request,
        "leaderboard/method_detail.html",
        {
            "method": method,
            "collections": list(method.collections.select_related("area").order_by("name")),
            "page": paginate(request, papers),
        },
    )
