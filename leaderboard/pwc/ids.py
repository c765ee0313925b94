"""The v1 API's ids: a paper answers under its slug and, when it was imported with a Papers
With Code URL, under that URL's id too (``/papers/<pwc id>/``, as old scripts stored it)."""

from django.http import Http404

from leaderboard.models import Paper

PWC_PAPER = ("https://paperswithcode.com/paper/", "http://paperswithcode.com/paper/")


def paper_by_id(paper_id: str, queryset=None) -> Paper | None:
    """The paper whose slug is ``paper_id``, else the one imported with the PWC URL of that id
    (two indexed look-ups at most)."""
    queryset = Paper.objects.all() if queryset is None else queryset
    if not paper_id or "\x00" in paper_id or len(paper_id) > 400:
        return None
    found = queryset.filter(slug=paper_id).first()
    if found is None:
        urls = [f"{prefix}{paper_id}{end}" for prefix in PWC_PAPER for end in ("", "/")]
        found = queryset.filter(pwc_url__in=urls).order_by("pk").first()
    return found


def paper_or_404(paper_id: str, queryset=None) -> Paper:
    found = paper_by_id(paper_id, queryset)
    if found is None:
        raise Http404("Not found.")
    return found
