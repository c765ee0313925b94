"""``/log``: the public ledger page, its Atom feeds (all benchmarks, and one benchmark), the hash
chain as JSON lines (``/log.jsonl``) and the stand-alone script that checks it."""

from pathlib import Path

from django.contrib.syndication.views import Feed
from django.http import FileResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from leaderboard.models import Benchmark, LedgerEntry
from leaderboard.results import ledger_chain, ledger_hash
from leaderboard.results.ledger import ledger, measured_text, parse_before

FEED_ITEMS = 50


def log(request, slug=None):
    benchmark = get_object_or_404(Benchmark, slug=slug) if slug else None
    days, older = ledger(benchmark, parse_before(request.GET.get("before")))
    feed = (
        reverse("leaderboard:benchmark-log-feed", args=[benchmark.slug])
        if benchmark
        else reverse("leaderboard:log-feed")
    )
    return render(
        request,
        "leaderboard/log.html",
        {"days": days, "older": older, "benchmark": benchmark, "feed_url": feed},
    )


def log_jsonl(request):
    """Every entry of the hash chain, oldest first, one JSON object a line, streamed (every entry
    once, whatever their number). ``?after=N``: only the entries after sequence number N (a
    reader who has checked up to N fetches what is new)."""
    after = request.GET.get("after", "0")
    if not after.isascii() or not after.isdigit() or len(after) > 18:
        return HttpResponseBadRequest(
            "after: a sequence number (0 or more)\n", content_type="text/plain"
        )
    entries = (
        LedgerEntry.objects.filter(seq__gt=int(after))
        .order_by("seq")
        .only("seq", "prev_hash", "hash", "content")
    )
    response = StreamingHttpResponse(
        (ledger_chain.jsonl(e) for e in entries.iterator(chunk_size=1000)),
        content_type="application/jsonl; charset=utf-8",
    )
    response["Content-Disposition"] = 'inline; filename="verisota-ledger.jsonl"'
    return response


def verify_script(request):
    """The stand-alone checker (``leaderboard/results/ledger_hash.py``, standard library only)."""
    response = FileResponse(
        Path(ledger_hash.__file__).open("rb"), content_type="text/x-python; charset=utf-8"
    )
    response["Content-Disposition"] = 'inline; filename="verify_ledger.py"'
    return response


class LedgerFeed(Feed):
    """Atom: the newest published verdicts and archive imports."""

    feed_type = Atom1Feed
    title = "VeriSOTA ledger"
    subtitle = "Every published verdict and archive import, newest first."

    def get_object(self, request, slug=None):
        return get_object_or_404(Benchmark, slug=slug) if slug else None

    def link(self, obj):
        if obj is None:
            return reverse("leaderboard:log")
        return reverse("leaderboard:benchmark-log", args=[obj.slug])

    def feed_url(self, obj):
        if obj is None:
            return reverse("leaderboard:log-feed")
        return reverse("leaderboard:benchmark-log-feed", args=[obj.slug])

    def get_feed(self, obj, request):
        if obj is not None:
            self.title = f"VeriSOTA ledger: {obj.name}"
        return super().get_feed(obj, request)

    def items(self, obj):
        days, _ = ledger(obj, limit=FEED_ITEMS)
        return [entry for day in days for entry in day.entries]

    def item_title(self, entry):
        return entry.title

    def item_description(self, entry):
        if entry.kind == "chain":
            e = entry.chain
            return (
                f"{entry.title}. Ledger entry #{e.seq} ({e.get_kind_display()}), SHA-256 {e.hash}, "
                f"previous {e.prev_hash}."
            )
        if entry.kind == "import":
            return "Imported from the Papers With Code archive: not re-run."
        if entry.kind == "edit":
            return f"{entry.title}. What the API writes is claimed, not re-run."
        r = entry.result
        text = (
            f"Measured {measured_text(r)} by the reference run "
            f"({r.get_verification_level_display()})."
            if r.value is not None
            else "Verified by the reference run."
        )
        if r.verification_note:
            text += f" {r.verification_note}."
        if entry.difference is not None:
            text += (
                f" Difference from the previous best ({entry.previous_best:g}): "
                f"{entry.difference:+.2f}."
            )
        if entry.new_sota:
            text += " New state of the art."
        if entry.ledger_seq is not None:
            text += f" Ledger entry #{entry.ledger_seq}, SHA-256 {entry.ledger_hash}."
        return text

    def item_link(self, entry):
        if entry.kind == "chain":
            evidence = entry.content.get("evidence")
            if entry.chain.kind != LedgerEntry.Kind.WITHDRAWAL and isinstance(evidence, str):
                if evidence.startswith("/"):
                    return evidence
            return reverse("leaderboard:log-jsonl") + f"?after={entry.chain.seq - 1}"
        if entry.kind == "verified" and entry.result.verification_url:
            return entry.result.verification_url
        if entry.benchmark is None:
            return reverse("leaderboard:log")
        return reverse("leaderboard:benchmark", args=[entry.benchmark.slug])

    def item_guid(self, entry):
        if entry.kind == "chain":
            return f"tag:verisota,2026:ledger/{entry.chain.seq}"
        if entry.kind == "verified":
            return f"tag:verisota,2026:result/{entry.result.pk}"
        if entry.kind == "edit":
            return f"tag:verisota,2026:edit/{entry.edit.pk}"
        return f"tag:verisota,2026:import/{entry.benchmark.slug}/{entry.day.isoformat()}"

    item_guid_is_permalink = False

    def item_pubdate(self, entry):
        return entry.at

    def item_updateddate(self, entry):
        return entry.at

    def item_categories(self, entry):
        if entry.kind == "chain":
            return [entry.chain.kind]
        tags = [{"verified": "verified", "edit": "curator edit"}.get(entry.kind, "archive import")]
        if entry.new_sota:
            tags.append("new state of the art")
        return tags
