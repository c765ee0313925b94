"""datasets.json: one dataset per item, with its details, tasks and data loaders."""

from ..models import Dataset
from . import values as v
from .code_links import paper_for
from .common import Context, chunks, valid_items

KIND = "datasets"
FIELDS = (
    "full_name",
    "homepage",
    "description",
    "introduced_date",
    "warning",
    "modalities",
    "languages",
    "variants",
    "num_papers",
    "data_loaders",
    "paper_id",
    "pwc_url",
)


def _loaders(raw, where: str, ctx: Context) -> list:
    out = []
    for j, loader in enumerate(v.as_list(raw)):
        if not isinstance(loader, dict):
            continue
        url, repo = v.http_url(loader.get("url")), v.http_url(loader.get("repo"))
        if not (url or repo):
            ctx.report.warn(f"{where}.data_loaders[{j}]", "no http(s) url or repo, dropped")
            continue
        out.append(
            {"url": url, "repo": repo, "frameworks": v.string_list(loader.get("frameworks"))}
        )
    return out


def import_datasets(items, ctx: Context) -> None:
    report = ctx.report
    by_url = {u: pk for pk, u in Dataset.objects.values_list("pk", "pwc_url") if u}
    for batch in chunks(items, 200):
        for where, item in valid_items(batch, report, KIND):
            name = v.clean_text(item.get("name"))[:200]
            if not name:
                report.count(KIND, "skipped")
                report.warn(where, "empty name, dataset skipped")
                continue
            paper = item.get("paper")
            date = v.parse_date(item.get("introduced_date"))
            if item.get("introduced_date") and date is None:
                report.warn(
                    where,
                    f"introduced_date {str(item['introduced_date'])[:40]!r} is not a date, dropped",
                )
            fields = {
                "full_name": v.clean_text(item.get("full_name"))[:500],
                "homepage": v.http_url(item.get("homepage")),
                "description": item["description"]
                if isinstance(item.get("description"), str)
                else "",
                "introduced_date": date,
                "warning": item["warning"] if isinstance(item.get("warning"), str) else "",
                "modalities": v.string_list(item.get("modalities")),
                "languages": v.string_list(item.get("languages")),
                "variants": v.string_list(item.get("variants")),
                "num_papers": max(v.as_int(item.get("num_papers")) or 0, 0),
                "data_loaders": _loaders(item.get("data_loaders"), where, ctx),
                "paper_id": paper_for(paper, ctx, prefix="") if isinstance(paper, dict) else None,
                "pwc_url": v.http_url(item.get("url")),
            }
            if item.get("homepage") and not fields["homepage"]:
                report.warn(
                    where, f"homepage {str(item['homepage'])[:80]!r} is not an http(s) URL, dropped"
                )
            tasks = []
            for j, t in enumerate(v.as_list(item.get("tasks"))):
                tname = v.clean_text(t.get("task") if isinstance(t, dict) else t)[:200]
                if not tname:
                    report.warn(f"{where}.tasks[{j}]", "no task name, dropped")
                    continue
                tasks.append(ctx.task(tname))
            pk = by_url.get(fields["pwc_url"]) if fields["pwc_url"] else None
            if pk is None:
                pk = ctx.datasets.by_name.get(name.casefold())
                if pk is not None and fields["pwc_url"]:
                    other = Dataset.objects.filter(pk=pk).values_list("pwc_url", flat=True)[0]
                    if other and other != fields["pwc_url"]:  # another dataset of that name
                        name = f"{name} ({fields['pwc_url'].rstrip('/').rsplit('/', 1)[-1]})"
                        report.warn(where, f"a different dataset is named so; stored as {name!r}")
                        pk = ctx.datasets.by_name.get(name.casefold())
            if pk is None:
                pk, _ = ctx.datasets.get(name, **fields)
                report.count(KIND, "created")
                created, changed = True, False
            else:
                created, dataset = False, Dataset.objects.get(pk=pk)
                dirty = [
                    f
                    for f in FIELDS
                    if fields[f] not in ("", None, []) and getattr(dataset, f) != fields[f]
                ]
                for f in dirty:
                    setattr(dataset, f, fields[f])
                if dirty:
                    dataset.save(update_fields=dirty)
                changed = bool(dirty)
            through = Dataset.tasks.through
            have = set(through.objects.filter(dataset_id=pk).values_list("task_id", flat=True))
            new = [t for t in dict.fromkeys(tasks) if t not in have]
            through.objects.bulk_create([through(dataset_id=pk, task_id=t) for t in new])
            if fields["pwc_url"]:
                by_url[fields["pwc_url"]] = pk
            if not created:
                report.count(KIND, "updated" if changed or new else "unchanged")
