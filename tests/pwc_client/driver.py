"""Run in paperswithcode-client 0.3.1's own virtualenv (not the project's): read
``{"url": ..., "calls": [[name, args, kwargs], ...]}`` on stdin, call each method of
``PapersWithCodeClient(url=...)`` and print, as JSON, each call's parsed model (``.dict()``) or
its error. Nothing of the project is imported here."""

import json
import sys

from paperswithcode import PapersWithCodeClient


def main() -> None:
    job = json.load(sys.stdin)
    client = PapersWithCodeClient(url=job["url"])
    out = []
    for name, args, kwargs in job["calls"]:
        try:
            value = getattr(client, name)(*args, **kwargs)
            out.append({"ok": True, "type": type(value).__name__, "value": value.dict()})
        except Exception as exc:  # reported to the test, which fails on it
            out.append({"ok": False, "error": f"{type(exc).__name__}: {exc}"})
    json.dump(out, sys.stdout, default=str)


if __name__ == "__main__":
    main()
