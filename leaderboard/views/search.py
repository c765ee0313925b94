"""The search page: papers (ranked full-text search, found also through model and method names),
tasks, datasets, benchmarks, methods and model names, highlighted and paginated. The queries
are those of ``leaderboard/search.py``, shared with the API."""

from django.shortcuts import render

from leaderboard import search
from leaderboard.core.paginators import CachedCountPaginator

PER_PAGE = 20
PREVIEW = 5


def _kinds(q: str) -> dict:
    # Whether some paper's text matches: one query for every kind's choice of near misses.
    found = search.text_matches(q) if search.is_postgres() else None
    kinds = {
        "papers": search.papers(q),
        "tasks": search.tasks(q, found),
        "datasets": search.datasets(q, found),
        "benchmarks": search.benchmarks(q, found),
        "methods": search.methods(q, found),
        "models": search.models(q, found),
    }
    return {k: v for k, v in kinds.items() if v is not None}


def _decorate(kind: str, page, q: str) -> None:
    for item in page:
        item.highlighted = search.highlight(item.title if kind == "papers" else item.name, q)
        if kind == "papers":
            item.snippet = search.snippet(item.abstract, q) if item.abstract else ""
            item.authors_highlighted = search.highlight(", ".join(item.authors or []), q)


def search_page(request):
    q = search.clean(request.GET.get("q"))
    kind = request.GET.get("type")
    sections = []
    if q:
        querysets = _kinds(q)
        if kind in querysets:
            names = [kind]
        else:
            kind, names = None, list(querysets)
        for name in names:
            per_page = PER_PAGE if kind else PREVIEW
            number = request.GET.get("page") if kind else 1
            page = CachedCountPaginator(querysets[name], per_page).get_page(number)
            _decorate(name, page, q)
            bound = search.bound_of(querysets[name]) if name == "papers" else None
            sections.append(
                {"kind": name, "page": page, "bound_note": bound and search.bound_note(bound)}
            )
    return render(request, "leaderboard/search.html", {"q": q, "kind": kind, "sections": sections})
