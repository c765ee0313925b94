"""methods.json: one method per item, with its collections and areas.

A batch costs a few statements whatever its size: its existing methods and their collections
are read in one query each, compared in memory item by item (in file order, so that an item
listed twice updates what the first one made), and written with one ``bulk_create`` of the
new methods, one ``bulk_update`` of the changed ones and one insert of the new collection links.
"""

from leaderboard.archive import values as v
from leaderboard.archive.code_links import paper_for
from leaderboard.archive.common import Context, chunks, int_field, valid_items
from leaderboard.models import Method

KIND = "methods"
MAX_COUNT = 2_147_483_647  # PositiveIntegerField
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


def read_method(item: dict, where: str, ctx: Context):
    """(fields, collection ids) of one item, or None if it has no name."""
    report = ctx.report
    name = v.clean_text(item.get("name"))[:300]
    if not name:
        report.count(KIND, "skipped")
        report.warn(where, "empty name, method skipped")
        return None
    paper = item.get("paper")
    paper_id = paper_for(paper, ctx, prefix="") if isinstance(paper, dict) else None
    fields = {
        "name": name,
        "full_name": v.clean_text(item.get("full_name"))[:500],
        "description": item["description"] if isinstance(item.get("description"), str) else "",
        "introduced_year": int_field(item, "introduced_year", 1000, 2999, where, report, "a year"),
        "source_url": v.http_url(item.get("source_url")),
        "source_title": v.clean_text(item.get("source_title"))[:500],
        "code_snippet_url": v.http_url(item.get("code_snippet_url")),
        "num_papers": int_field(item, "num_papers", 0, MAX_COUNT, where, report) or 0,
        "pwc_url": v.http_url(item.get("url")),
        "paper_id": paper_id,
    }
    for key in ("source_url", "code_snippet_url", "url"):
        field = "pwc_url" if key == "url" else key
        if item.get(key) and not fields[field]:
            report.warn(where, f"{key} {str(item[key])[:80]!r} is not an http(s) URL, dropped")
    collections = []
    for j, c in enumerate(v.as_list(item.get("collections"))):
        if not isinstance(c, dict) or not v.clean_text(c.get("collection")):
            report.warn(f"{where}.collections[{j}]", "no collection name, dropped")
            continue
        collections.append(ctx.collection(c["collection"], area=ctx.area(c.get("area"))))
    return fields, collections


def import_methods(items, ctx: Context) -> None:
    for batch in chunks(items):
        parsed = []
        for where, item in valid_items(batch, ctx.report, KIND):
            read = read_method(item, where, ctx)
            if read is not None:
                parsed.append(read)
        _write_batch(parsed, ctx)


def _write_batch(parsed, ctx: Context) -> None:
    report, index = ctx.report, ctx.methods
    wanted = set()
    for fields, _ in parsed:
        pk = index["url"].get(fields["pwc_url"]) if fields["pwc_url"] else None
        wanted.add(pk if pk is not None else index["name"].get(fields["name"].casefold()))
    wanted.discard(None)
    objs = {m.pk: m for m in Method.objects.filter(pk__in=wanted)}
    through = Method.collections.through
    there = set(
        through.objects.filter(method_id__in=wanted).values_list("method_id", "collection_id")
    )
    # id(method) -> [method, the collections it has]; new methods are found by URL or name.
    state = {id(m): [m, set()] for m in objs.values()}
    for method_id, coll in there:
        state[id(objs[method_id])][1].add(coll)
    new, new_by_url, new_by_name, dirty = [], {}, {}, {}
    for fields, collections in parsed:
        name, url = fields["name"], fields["pwc_url"]
        method = None
        if url:
            pk = index["url"].get(url)
            method = objs.get(pk) if pk is not None else new_by_url.get(url)
        if method is None:
            pk = index["name"].get(name.casefold())
            method = objs.get(pk) if pk is not None else new_by_name.get(name.casefold())
        if method is None:
            method = Method(slug=index["slugs"].new(name), **fields)
            new.append(method)
            state[id(method)] = [method, set()]
            report.count(KIND, "created")
        else:
            changed = [
                f for f in FIELDS if fields[f] not in ("", None) and getattr(method, f) != fields[f]
            ]
            for f in changed:
                setattr(method, f, fields[f])
            if changed and method.pk is not None:
                dirty.setdefault(method.pk, (method, set()))[1].update(changed)
            added = set(collections) - state[id(method)][1]
            report.count(KIND, "updated" if changed or added else "unchanged")
        state[id(method)][1].update(collections)
        if method.pk is None:
            new_by_name[name.casefold()] = method
            if method.pwc_url:
                new_by_url[method.pwc_url] = method
        else:
            index["name"][name.casefold()] = method.pk
            if method.pwc_url:
                index["url"][method.pwc_url] = method.pk
    Method.objects.bulk_create(new, batch_size=500)
    for key, method in new_by_name.items():
        index["name"][key] = method.pk
    for url, method in new_by_url.items():
        index["url"][url] = method.pk
    if dirty:
        changed = sorted(set().union(*(f for _, f in dirty.values())))
        Method.objects.bulk_update([m for m, _ in dirty.values()], changed, batch_size=500)
    rows = [
        through(method_id=m.pk, collection_id=c)
        for m, colls in state.values()
        for c in colls
        if c and (m.pk, c) not in there
    ]
    through.objects.bulk_create(rows, batch_size=1000, ignore_conflicts=True)
