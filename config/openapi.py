"""The OpenAPI schema documents every error the API answers, with its JSON body.

``document_errors`` (a drf-spectacular post-processing hook) adds to each operation the error
responses it can give, each with the ``Error`` body (``detail`` and, on a 400, the field errors
beside it), next to what the views declare themselves:

- every operation: 400 (a bad query parameter or body), 404 (an unknown object or page), 405
  (another method), 406 (an ``Accept`` the API cannot answer), 500;
- an operation that needs a user: 401 (no or a wrong token) and 403 (not allowed);
- a write: 413 (a body or upload over its limit) and 429 (the submission throttle, with
  ``Retry-After``; or the cap on active runs).
"""

from __future__ import annotations

ERROR = {
    "type": "object",
    "description": "An error: `detail` says what went wrong; a 400 also lists field errors.",
    "properties": {"detail": {"type": "string"}},
    "required": ["detail"],
    "additionalProperties": True,
}

DESCRIPTIONS = {
    "400": "Bad request: a parameter or a field is invalid (field errors beside `detail`).",
    "401": "Authentication needed: send `Authorization: Token <your token>`.",
    "403": "Not allowed (or a session request without its CSRF token).",
    "404": "Not found.",
    "405": "Method not allowed.",
    "406": "The `Accept` header asks for a type the API cannot give.",
    "413": "The body or an upload is over its limit (the limit is in `detail`).",
    "415": "Unsupported media type.",
    "429": "Too many submissions this hour (see `Retry-After`), or too many active runs.",
    "500": "Server error.",
}
READ = ["400", "404", "405", "406", "500"]
AUTH = ["401", "403"]
WRITE = ["413", "415", "429"]


def _response(code: str) -> dict:
    body = {
        "description": DESCRIPTIONS[code],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if code == "429":
        body["headers"] = {
            "Retry-After": {
                "schema": {"type": "integer"},
                "description": "Seconds to wait (sent by the submission throttle).",
            }
        }
    if code == "401":
        body["headers"] = {
            "WWW-Authenticate": {"schema": {"type": "string"}, "description": "`Token`"}
        }
    return body


def document_errors(result, generator, request, public):
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR
    for path_item in result.get("paths", {}).values():
        for method, operation in path_item.items():
            if not isinstance(operation, dict) or "responses" not in operation:
                continue
            codes = list(READ)
            needs_user = operation.get("security") and {} not in operation["security"]
            if needs_user or method != "get":
                codes += AUTH
            if method in ("post", "put", "patch"):
                codes += WRITE
            for code in codes:
                operation["responses"].setdefault(code, _response(code))
    return result
