"""Security headers on every response, and one Content-Security-Policy for the whole site.

The policy allows scripts, styles, images and fetches from the site itself only: no inline
``<script>``, ``style="..."`` attribute, event handler or ``javascript:`` URL runs, so a stored
link or text that escaped the templates cannot execute. Pages put their script in static files
and their data in ``json_script`` blocks or ``data-`` attributes. A view that needs more (none
does today) sets ``response.csp_extra = {"img-src": ["https://example.org"]}``, added to the
policy for that response only; ``CSP_REPORT_ONLY`` sends it as a report-only header instead.

Django's own middleware adds ``X-Content-Type-Options: nosniff`` (SECURE_CONTENT_TYPE_NOSNIFF),
``Referrer-Policy`` (SECURE_REFERRER_POLICY) and ``X-Frame-Options: DENY`` (X_FRAME_OPTIONS);
this one adds the policy and ``Cross-Origin-Opener-Policy`` where missing.
"""

from __future__ import annotations

from django.conf import settings


def policy_text(extra: dict | None = None) -> str:
    policy = {k: list(v) for k, v in settings.CSP_POLICY.items()}
    for directive, sources in (extra or {}).items():
        policy.setdefault(directive, [])
        policy[directive] += [s for s in sources if s not in policy[directive]]
    return "; ".join(f"{d} {' '.join(sources)}" for d, sources in policy.items())


class SecurityHeadersMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        header = (
            "Content-Security-Policy-Report-Only"
            if settings.CSP_REPORT_ONLY
            else "Content-Security-Policy"
        )
        if header not in response:
            response[header] = policy_text(getattr(response, "csp_extra", None))
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault(
            "Referrer-Policy", settings.SECURE_REFERRER_POLICY or "same-origin"
        )
        return response
