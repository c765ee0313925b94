"""methods.json: one method per item, with its collections and areas."""

from ..models import Method
from . import values as v
from .code_links import paper_for
from .common import Context, chunks, valid_items

KIND = "methods"
FIELDS = (
    "name",
    "full_name",
    "description",
    "introduced_year",
    "source_url",
    "source_title",
    "code_snippet_url",
    "num_papers",
    "pwc_url",
    "paper_id",
)


def import_methods(items, ctx: Context) -> None:
    report, index = ctx.report, ctx.methods
    for batch in chunks(items, 200):
        for where, item in valid_items(batch, report, KIND):
            name = v.clean_text(item.get("name"))[:300]
            if not name:
                report.count(KIND, "skipped")
                report.warn(where, "empty name, method skipped")
                continue
            paper = item.get("paper")
            paper_id = None
            if isinstance(paper, dict):
                paper_id = paper_for(paper, ctx, prefix="")
            fields = {
                "name": name,
                "full_name": v.clean_text(item.get("full_name"))[:500],
                "description": item["description"]
                if isinstance(item.get("description"), str)
                else "",
                "introduced_year": v.as_int(item.get("introduced_year")),
                "source_url": v.http_url(item.get("source_url")),
                "source_title": v.clean_text(item.get("source_title"))[:500],
                "code_snippet_url": v.http_url(item.get("code_snippet_url")),
                "num_papers": max(v.as_int(item.get("num_papers")) or 0, 0),
                "pwc_url": v.http_url(item.get("url")),
                "paper_id": paper_id,
            }
            for key in ("source_url", "code_snippet_url", "url"):
                field = "pwc_url" if key == "url" else key
                if item.get(key) and not fields[field]:
                    report.warn(
                        where, f"{key} {str(item[key])[:80]!r} is not an http(s) URL, dropped"
                    )
            collections = []
            for j, c in enumerate(v.as_list(item.get("collections"))):
                if not isinstance(c, dict) or not v.clean_text(c.get("collection")):
                    report.warn(f"{where}.collections[{j}]", "no collection name, dropped")
                    continue
                collections.append(ctx.collection(c["collection"], area=ctx.area(c.get("area"))))
            pk = index["url"].get(fields["pwc_url"]) if fields["pwc_url"] else None
            if pk is None:
                pk = index["name"].get(name.casefold())
            if pk is None:
                method = Method.objects.create(slug=index["slugs"].new(name), **fields)
                report.count(KIND, "created")
            else:
                method = Method.objects.get(pk=pk)
                dirty = [
                    f
                    for f in FIELDS
                    if fields[f] not in ("", None) and getattr(method, f) != fields[f]
                ]
                for f in dirty:
                    setattr(method, f, fields[f])
                if dirty:
                    method.save(update_fields=dirty)
                have = set(method.collections.values_list("pk", flat=True))
                report.count(KIND, "updated" if dirty or set(collections) - have else "unchanged")
            method.collections.add(*collections)
            index["name"][name.casefold()] = method.pk
            if method.pwc_url:
                index["url"][method.pwc_url] = method.pk
