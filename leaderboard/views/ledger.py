"""``/log``: the public ledger page, and its Atom feeds (all benchmarks, and one benchmark)."""

from django.contrib.syndication.views import Feed
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed

from leaderboard.models import Benchmark
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
        return text

    def item_link(self, entry):
        if entry.kind == "verified" and entry.result.verification_url:
            return entry.result.verification_url
        if entry.benchmark is None:
            return reverse("leaderboard:log")
        return reverse("leaderboard:benchmark", args=[entry.benchmark.slug])

    def item_guid(self, entry):
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
        tags = [{"verified": "verified", "edit": "curator edit"}.get(entry.kind, "archive import")]
        if entry.new_sota:
            tags.append("new state of the art")
        return tags
