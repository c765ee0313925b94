from urllib.parse import urlsplit

from django import template

from leaderboard.core.links import http_url_or_empty

register = template.Library()


@register.filter
def result_value(result) -> str:
    """A row's number as shown: a verified row's measured value (two decimals, see
    ``measured``); an archive row's as the archive wrote it, or compactly without raw text."""
    if result.is_verified:
        return measured(result.value)
    if result.raw_value:
        return result.raw_value
    return "" if result.value is None else f"{result.value:.6g}"


@register.filter
def interval(result):
    """The ± shown after a row's number: its ``ci95`` (a verified row's reproduced interval,
    an archive row's own), except where the archive's text already carries it ("0.7426 ±
    0.0017" as written: the interval is shown once, not twice); None when there is none."""
    ci = result.ci95
    if ci is not None and not result.is_verified and shows_interval(result.raw_value):
        return None
    return ci


def shows_interval(raw_value) -> bool:
    """Whether a value's text already carries its interval ("84.2 ± 0.4", "2.53+/-0.40")."""
    text = raw_value or ""
    return "±" in text or "+/-" in text or "+-" in text


@register.filter
def number(value) -> str:
    return "" if value is None else f"{value:.6g}"


@register.filter
def measured(value, figure=None) -> str:
    """A reproduced figure, or its interval given the figure: two decimals (as on the run's
    page), or three significant digits for a figure below 1 (a mean squared error)."""
    if value is None:
        return ""
    scale = value if figure is None else figure
    return f"{value:.2f}" if abs(scale) >= 1 else f"{value:.3g}"


@register.simple_tag(takes_context=True)
def page_url(context, page_number) -> str:
    """The current URL with ``page`` replaced (other query parameters kept, escaped later)."""
    params = context["request"].GET.copy()
    params["page"] = page_number
    return "?" + params.urlencode()


@register.filter
def http_url(value) -> str:
    """The address if it is an absolute http(s) URL, else "" (never javascript:, data:, ...)."""
    return http_url_or_empty(value)


@register.filter
def repo_label(url) -> str:
    """ "https://github.com/cbfinn/maml" -> "cbfinn/maml"; the host and path otherwise."""
    parts = urlsplit(url or "")
    path = parts.path.strip("/")
    if parts.netloc.endswith("github.com") and path:
        return path.removesuffix(".git")
    return f"{parts.netloc}/{path}".rstrip("/")


@register.filter
def safe_href(value) -> str:
    """The URL if it is an http(s) one, else "": every stored external link goes through this
    before it becomes an ``href`` (see ``leaderboard/core/links.py``)."""
    return http_url_or_empty(value)
