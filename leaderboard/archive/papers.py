"""papers-with-abstracts.json: one paper per item, with its tasks and methods."""

from types import SimpleNamespace

from leaderboard import authors
from leaderboard.archive import values as v
from leaderboard.archive.common import (
    Context,
    bulk_insert,
    chunks,
    int_field,
    valid_items,
    where_in,
)
from leaderboard.archive.reader import read_ahead
from leaderboard.models import Method, Paper

KIND = "papers"
FIELDS = ("title", "abstract", "url", "pdf_url", "proceeding", "authors", "date", "arxiv_id")


def read_paper(item: dict, where: str, ctx: Context) -> dict | None:
    pwc = v.http_url(item.get("paper_url"))
    url = v.http_url(item.get("url_abs"))
    fields = {
        "title": v.clean_text(item.get("title"))[:500],
        "abstract": item.get("abstract").strip() if isinstance(item.get("abstract"), str) else "",
        "url": url,
        "pdf_url": v.http_url(item.get("url_pdf")),
        "proceeding": v.clean_text(item.get("proceeding"))[:300],
        "authors": v.string_list(item.get("authors")),
        "date": v.parse_date(item.get("date")),
        "arxiv_id": v.arxiv_id(item.get("arxiv_id"), url),
        "pwc_url": pwc,
    }
    for key, field in (("paper_url", "pwc_url"), ("url_abs", "url"), ("url_pdf", "pdf_url")):
        if item.get(key) and not fields[field]:
            ctx.report.warn(where, f"{key} {str(item[key])[:80]!r} is not an http(s) URL, dropped")
    if item.get("date") and fields["date"] is None:
        ctx.report.warn(where, f"date {str(item['date'])[:40]!r} is not a date, dropped")
    if not (fields["title"] or pwc or fields["arxiv_id"]):
        ctx.report.warn(where, "no title, paper_url or arxiv_id, paper skipped")
        return None
    return fields


def method_of_paper(entry, where: str, ctx: Context) -> int | None:
    """A paper's method (by name; created with its main collection if new)."""
    if not isinstance(entry, dict):
        return None
    name = v.clean_text(entry.get("name"))[:300]
    if not name:
        ctx.report.warn(where, "a method without a name, dropped")
        return None
    index = ctx.methods
    pk = index["name"].get(name.casefold())
    if pk is not None:
        return pk
    method = Method.objects.create(
        name=name,
        slug=index["slugs"].new(name),
        full_name=v.clean_text(entry.get("full_name"))[:500],
        description=entry.get("description") if isinstance(entry.get("description"), str) else "",
        introduced_year=int_field(
            entry, "introduced_year", 1000, 2999, where, ctx.report, "a year"
        ),
        source_url=v.http_url(entry.get("source_url")),
        source_title=v.clean_text(entry.get("source_title"))[:500],
        code_snippet_url=v.http_url(entry.get("code_snippet_url")),
    )
    index["name"][name.casefold()] = method.pk
    ctx.report.count("methods", "created")
    main = entry.get("main_collection")
    if isinstance(main, dict):
        parent = main.get("parent")
        parent = ctx.collection(parent.get("name") if isinstance(parent, dict) else parent)
        coll = ctx.collection(
            main.get("name"),
            main.get("description") if isinstance(main.get("description"), str) else "",
            ctx.area(main.get("area")),
            parent,
        )
        if coll:
            method.collections.add(coll)
    return method.pk


def import_papers(items, ctx: Context) -> None:
    """Each batch is read (``read_paper``: no database) by a thread while the one before is
    written; tasks and methods, which may write, are resolved here."""
    report = ctx.report

    def read_batches():
        for batch in chunks(items):
            rows = []
            for where, item in valid_items(batch, report, KIND):
                fields = read_paper(item, where, ctx)
                if fields is None:
                    report.count(KIND, "skipped")
                    continue
                rows.append((where, item, fields))
            yield rows

    batches = read_ahead(read_batches(), 2)
    try:
        for read in batches:
            rows = []
            for where, item, fields in read:
                tasks = [ctx.task(t[:200]) for t in v.string_list(item.get("tasks"))]
                methods = [
                    method_of_paper(m, f"{where}.methods[{j}]", ctx)
                    for j, m in enumerate(v.as_list(item.get("methods")))
                ]
                rows.append((fields, tasks, [m for m in methods if m]))
            _write_batch(rows, ctx)
    finally:
        batches.close()  # stops the reading thread before the file is closed


def _write_batch(rows, ctx: Context) -> None:
    index, report = ctx.papers, ctx.report
    found = {}
    for n, (f, _, _) in enumerate(rows):
        pk = index.find(f["pwc_url"], f["arxiv_id"], f["url"], f["title"])
        if pk:
            found[n] = pk
    # The batch's existing papers as plain values (no model instance unless one changes).
    columns = ("pk", *FIELDS, "pwc_url")
    existing = {
        row[0]: SimpleNamespace(**dict(zip(columns, row, strict=True)))
        for row in where_in(Paper.objects, "id", set(found.values())).values_list(*columns)
    }
    to_update, changed, pk_of, changed_fields, author_changes = [], set(), {}, set(), {}
    pending, pending_keys, pending_of = [], {}, {}
    for n, (f, _, _) in enumerate(rows):
        paper = existing.get(found.get(n))
        if paper is None:
            keys = [k for k in (f["pwc_url"], f["arxiv_id"], f["url"]) if k]
            twin = next((pending_keys[k] for k in keys if k in pending_keys), None)
            if twin is not None:  # listed twice in this batch: the first one, completed
                pending_of[n] = twin
                for name in (*FIELDS, "pwc_url"):
                    if f[name] not in ("", None, []) and not getattr(pending[twin], name):
                        setattr(pending[twin], name, f[name])
                continue
            shown = f["title"] or f["arxiv_id"] or f["url"] or f["pwc_url"]
            pending.append(Paper(slug=index.slugs.new(shown), **{**f, "title": shown[:500]}))
            pending_of[n] = len(pending) - 1
            for k in keys:
                pending_keys[k] = len(pending) - 1
            continue
        pk_of[n] = paper.pk
        dirty = False
        for name in (*FIELDS, "pwc_url"):
            new = f[name]
            if new not in ("", None, []) and getattr(paper, name) != new:
                setattr(paper, name, new)
                dirty = True
                changed_fields.add(name)
                if name == "authors":
                    author_changes[paper.pk] = new
        if dirty:
            to_update.append(Paper(**vars(paper)))
            changed.add(paper.pk)
            index.add(paper.pk, paper.pwc_url, paper.arxiv_id, paper.url, paper.title)
    if pending:
        bulk_insert(pending)
        for paper in pending:
            index.add(paper.pk, paper.pwc_url, paper.arxiv_id, paper.url, paper.title)
        authors.insert([row for p in pending for row in authors.tuples_of(p.pk, p.authors)])
        report.count(KIND, "created", len(pending))
    for n, j in pending_of.items():
        pk_of[n] = pending[j].pk
    if to_update:
        Paper.objects.bulk_update(to_update, sorted(changed_fields), batch_size=500)
    authors.sync(author_changes)
    changed |= _add_links(Paper.tasks.through, "task_id", rows, pk_of, 1)
    changed |= _add_links(Paper.methods.through, "method_id", rows, pk_of, 2)
    counted = set()
    for n in found:
        pk = pk_of[n]
        if pk in existing and pk not in counted:
            counted.add(pk)
            report.count(KIND, "updated" if pk in changed else "unchanged")


def _add_links(through, column: str, rows, pk_of, pos: int) -> set:
    wanted = {(pk_of[n], t) for n, row in enumerate(rows) for t in row[pos]}
    if not wanted:
        return set()
    papers = {p for p, _ in wanted}
    have = set(where_in(through.objects, "paper", papers).values_list("paper_id", column))
    new = wanted - have
    bulk_insert([through(paper_id=p, **{column: t}) for p, t in sorted(new)])
    return {p for p, _ in new}
