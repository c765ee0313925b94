"""README badges of verified results, as SVG: "VeriSOTA | <benchmark> | 62.43 ± 1.75 verified"
(a result's measured value) and "VeriSOTA | <benchmark> | rank 2 of 14" (its rank on the table).

Every text is escaped (``xml.sax.saxutils``) and bounded in length; the SVG links to the result's
evidence page; the response is ``image/svg+xml`` with ``Cache-Control`` and a strong ``ETag``
(a digest of the body: a reader's cache revalidates with ``If-None-Match`` and gets a 304).
Only verified results have badges: an archive row's figure was not re-run.
"""

from __future__ import annotations

import hashlib
from xml.sax.saxutils import escape, quoteattr

from django.http import HttpResponse, HttpResponseNotModified
from django.shortcuts import get_object_or_404

from leaderboard.directions import with_direction
from leaderboard.models import Result
from leaderboard.templatetags.leaderboard_tags import measured

MAX_TEXT = 60
CACHE_SECONDS = 3600
CHAR_WIDTH = 6.6  # Verdana 11px, about; shields.io draws the same way
GREEN, BLUE, GREY = "#2e7d32", "#1f5fbf", "#555"


def _clip(text: str) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= MAX_TEXT else text[: MAX_TEXT - 1] + "…"


def svg(parts: list[tuple[str, str]], link: str | None = None, title: str = "") -> str:
    """A badge of ``(text, colour)`` parts, left to right; every text escaped."""
    texts = [(_clip(t), c) for t, c in parts]
    widths = [int(len(t) * CHAR_WIDTH) + 12 for t, _ in texts]
    total = sum(widths)
    x = 0
    rects, labels = [], []
    for (text, colour), w in zip(texts, widths, strict=True):
        rects.append(f'<rect x="{x}" width="{w}" height="20" fill={quoteattr(colour)}/>')
        middle = f"{x + w / 2:.1f}"
        labels.append(
            f'<text x="{middle}" y="14" fill="#fff" text-anchor="middle">{escape(text)}</text>'
        )
        x += w
    alt = _clip(title) if title else " | ".join(t for t, _ in texts)
    body = (
        f'<g font-family="Verdana,DejaVu Sans,sans-serif" font-size="11">'
        f"{''.join(rects)}{''.join(labels)}</g>"
    )
    if link:
        body = f'<a xlink:href={quoteattr(link)} target="_top">{body}</a>'
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" '
        f'width="{total}" height="20" role="img" aria-label={quoteattr(alt)}>'
        f"<title>{escape(alt)}</title>{body}</svg>\n"
    )


def _verified(pk: int) -> Result:
    return get_object_or_404(
        with_direction(Result.objects.verified().select_related("benchmark", "metric")),
        pk=pk,
    )


def value_text(result: Result) -> str:
    unit = (result.metric.unit or "").strip()
    text = measured(result.value)
    if result.ci95 is not None:
        text += f" ± {measured(result.ci95, result.value)}"
    return f"{text}{unit} verified"


def rank_of(result: Result) -> tuple[int, int]:
    """(rank, rows) of ``result`` in its benchmark's table of its metric (one query)."""
    table = Result.objects.filter(benchmark_id=result.benchmark_id, metric_id=result.metric_id)
    ranked = table.with_rank().values_list("pk", "rank")
    total = 0
    rank = 0
    for pk, r in ranked:
        total += 1
        if pk == result.pk:
            rank = r
    return rank, total


def _response(request, body: str) -> HttpResponse:
    etag = '"' + hashlib.sha256(body.encode()).hexdigest()[:32] + '"'
    if etag in [t.strip() for t in request.headers.get("If-None-Match", "").split(",")]:
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(body, content_type="image/svg+xml; charset=utf-8")
    response["ETag"] = etag
    response["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def evidence_link(request, result: Result) -> str | None:
    url = result.evidence_url
    return request.build_absolute_uri(url) if url and url.startswith("/") else None


def result_badge(request, pk: int):
    result = _verified(pk)
    parts = [("VeriSOTA", GREY), (result.benchmark.name, BLUE), (value_text(result), GREEN)]
    return _response(request, svg(parts, evidence_link(request, result)))


def rank_badge(request, pk: int):
    result = _verified(pk)
    rank, total = rank_of(result)
    text = f"rank {rank} of {total} ({result.metric.name})"
    parts = [("VeriSOTA", GREY), (result.benchmark.name, BLUE), (text, GREEN)]
    return _response(request, svg(parts, evidence_link(request, result)))


def snippets(request, result: Result) -> dict:
    """The badges' URLs and the Markdown to paste in a README (the evidence page shows it)."""
    from django.urls import reverse

    badge = request.build_absolute_uri(reverse("leaderboard:result-badge", args=[result.pk]))
    rank = request.build_absolute_uri(reverse("leaderboard:rank-badge", args=[result.pk]))
    evidence = evidence_link(request, result) or request.build_absolute_uri(
        result.benchmark.get_absolute_url()
    )
    alt = f"VeriSOTA: {result.benchmark.name}".replace("[", "(").replace("]", ")")
    return {
        "badge_url": badge,
        "rank_badge_url": rank,
        "markdown": f"[![{alt}]({badge})]({evidence})",
        "rank_markdown": f"[![{alt} rank]({rank})]({evidence})",
    }


def model_index_yaml(request, pk: int):
    """The verified result as a ``model-index`` block (``leaderboard/core/model_index.py``) for a
    model card, as text (``?download=1``: as a file)."""
    from leaderboard.core import model_index

    result = get_object_or_404(
        Result.objects.verified().select_related("benchmark", "metric", "model"), pk=pk
    )
    evidence = evidence_link(request, result) or request.build_absolute_uri(
        result.benchmark.get_absolute_url()
    )
    body = model_index.export(result, evidence)
    response = HttpResponse(body, content_type="text/yaml; charset=utf-8")
    if request.GET.get("download"):
        response["Content-Disposition"] = f'attachment; filename="result-{pk}-model-index.yaml"'
    response["Cache-Control"] = f"public, max-age={CACHE_SECONDS}"
    response["X-Content-Type-Options"] = "nosniff"
    return response
