"""Run in paperswithcode-client 0.3.1's own virtualenv (not the project's): read
``{"url": ..., "token": ..., "calls": [[name, args, kwargs], ...]}`` on stdin, call each method
of ``PapersWithCodeClient(token=..., url=...)`` and print, as JSON, each call's parsed model
(``.dict()``; None for a delete) or its error. An argument ``{"__model__": "TaskCreateRequest",
...}`` is built as that request model of the client. ``{"methods": true}`` instead lists the
client's public methods. Nothing of the project is imported here."""

import json
import sys

from paperswithcode import PapersWithCodeClient, models


def _arg(value):
    if isinstance(value, dict) and "__model__" in value:
        fields = {k: v for k, v in value.items() if k != "__model__"}
        return getattr(models, value["__model__"])(**fields)
    return value


def main() -> None:
    job = json.load(sys.stdin)
    if job.get("methods"):
        names = [
            n
            for n in dir(PapersWithCodeClient)
            if not n.startswith("_") and callable(getattr(PapersWithCodeClient, n))
        ]
        json.dump(names, sys.stdout)
        return
    client = PapersWithCodeClient(token=job.get("token"), url=job["url"])
    out = []
    for name, args, kwargs in job["calls"]:
        try:
            value = getattr(client, name)(
                *[_arg(a) for a in args], **{k: _arg(v) for k, v in kwargs.items()}
            )
            dumped = None if value is None else value.dict()
            out.append({"ok": True, "type": type(value).__name__, "value": dumped})
        except Exception as exc:  # reported to the test, which fails on it
            out.append({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
    json.dump(out, sys.stdout, default=str)


if __name__ == "__main__":
    main()
