"""The OpenAPI schema documents every error the API answers, with its JSON body.

``document_errors`` (a drf-spectacular post-processing hook) adds to each operation the error
responses it can give, each with the ``Error`` body (``detail`` and, on a 400, the field errors
beside it), next to what the views declare themselves:

- every operation: 400 (a bad query parameter or body), 404 (an unknown object or page), 405
  (another method), 406 (an ``Accept`` the API cannot answer), 429 (a throttle, with
  ``Retry-After``: leaderboard/throttles.py, evaluator/limits.py), 500, and 414 (a request line
  over the web server's limit, answered by gunicorn before the application, without a JSON
  body: gunicorn's ``--limit-request-line``, 4094 bytes by default);
- an operation that needs a user: 401 (no or a wrong token) and 403 (not allowed);
- a write: 413 (a body or upload over its limit), 415, and 429 also for the cap on active
  runs.

``add_links`` (another hook) adds OpenAPI links between the operations (lists, objects, sub-lists,
a created submission), which schemathesis' stateful phase follows.
"""

from __future__ import annotations

import re

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
    "414": "The request line (path and query string) is over the web server's limit; answered "
    "by the web server itself, not as JSON.",
    "415": "Unsupported media type.",
    "429": "Too many requests: a throttle (wait `Retry-After` seconds), or too many active runs.",
    "500": "Server error.",
}
READ = ["400", "404", "405", "406", "414", "429", "500"]
AUTH = ["401", "403"]
WRITE = ["413", "415"]


def _response(code: str) -> dict:
    if code == "414":
        return {"description": DESCRIPTIONS[code]}
    body = {
        "description": DESCRIPTIONS[code],
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }
    if code == "429":
        body["headers"] = {
            "Retry-After": {
                "schema": {"type": "integer"},
                "description": "Seconds to wait (sent by every throttle).",
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


PARAM = re.compile(r"\{(\w+)\}")
UNLINKABLE = {"owner", "name"}  # a repository's: parts of its address, not a listed field


def _link_field(param: str) -> str:
    """The field of a listed object that a path parameter takes: a slug, or an id (the PWC
    API's ids are slugs, in its ``id`` field)."""
    return "slug" if param == "slug" else "id"


def add_links(result, generator, request, public):
    """OpenAPI links, for clients and for schemathesis' stateful phase: from a list to each
    object's operations (the first listed object), from an object to its sub-lists, and from a
    created submission to the operations on it. Only where the target's parameters can all be
    filled: the repositories (owner/name, parts of an address) have none."""
    gets = {}
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if isinstance(operation, dict) and "operationId" in operation:
                gets.setdefault(path, {})[method] = operation
    for path, ops in gets.items():
        source = ops.get("get")
        if source is None or "200" not in source.get("responses", {}):
            continue
        own = PARAM.findall(path)
        is_list = not path.rstrip("/").endswith("}")
        links = {}
        for target_path, target_ops in gets.items():
            if target_path == path or not target_path.startswith(path):
                continue
            new = [p for p in PARAM.findall(target_path) if p not in own]
            if len(new) > (1 if is_list else 0) or set(new) & UNLINKABLE:
                continue
            parameters = {p: f"$request.path.{p}" for p in own}
            if new:
                parameters[new[0]] = f"$response.body#/results/0/{_link_field(new[0])}"
            if not new and is_list:
                continue  # another list under this one: reached through its objects
            for operation in target_ops.values():
                if set(PARAM.findall(target_path)) == set(parameters):
                    links[operation["operationId"]] = {
                        "operationId": operation["operationId"],
                        "parameters": parameters,
                    }
        if links:
            source["responses"]["200"]["links"] = links
    created = gets.get("/api/submissions/", {}).get("post")
    if created and "201" in created["responses"]:
        created["responses"]["201"]["links"] = {
            op: {"operationId": op, "parameters": {"id": "$response.body#/id"}}
            for op in ("submissions_retrieve", "submissions_cancel_create")
        }
    return result
