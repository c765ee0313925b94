from django import template

register = template.Library()


@register.filter
def result_value(result) -> str:
    """A result's value as its source wrote it, or compactly if it has no raw text."""
    if result.raw_value:
        return result.raw_value
    return f"{result.value:.6g}"


@register.filter
def number(value) -> str:
    return "" if value is None else f"{value:.6g}"


@register.simple_tag(takes_context=True)
def page_url(context, page_number) -> str:
    """The current URL with ``page`` replaced (other query parameters kept, escaped later)."""
    params = context["request"].GET.copy()
    params["page"] = page_number
    return "?" + params.urlencode()
