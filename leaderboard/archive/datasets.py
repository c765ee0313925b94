"""datasets.json: one dataset per item, with its details, tasks and data loaders."""

from leaderboard.archive import values as v
from leaderboard.archive.code_links import paper_for
from leaderboard.archive.common import Context, chunks, int_field, valid_items
from leaderboard.models import Dataset

KIND = "datasets"
MAX_COUNT = 2_147_483_647  # PositiveIntegerField
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


def read_dataset(item: dict, where: str, ctx: Context):
    """(name, fields, task ids) of one item, or None if it has no name."""
    report = ctx.report
    name = v.clean_text(item.get("name"))[:200]
    if not name:
        report.count(KIND, "skipped")
        report.warn(where, "empty name, dataset skipped")
        return None
    paper = item.get("paper")
    date = v.parse_date(item.get("introduced_date"))
    if item.get("introduced_date") and date is None:
        report.warn(
            where, f"introduced_date {str(item['introduced_date'])[:40]!r} is not a date, dropped"
        )
    fields = {
        "full_name": v.clean_text(item.get("full_name"))[:500],
        "homepage": v.http_url(item.get("homepage")),
        "description": item["description"] if isinstance(item.get("description"), str) else "",
        "introduced_date": date,
        "warning": item["warning"] if isinstance(item.get("warning"), str) else "",
        "modalities": v.string_list(item.get("modalities")),
        "languages": v.string_list(item.get("languages")),
        "variants": v.string_list(item.get("variants")),
        "num_papers": int_field(item, "num_papers", 0, MAX_COUNT, where, report) or 0,
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
    return where, name, fields, tasks


class _Batch:
    """The datasets one batch names, read in one query, and those it creates (by name and URL
    until they have a pk)."""

    def __init__(self, ctx: Context, by_url: dict, parsed):
        self.ctx, self.by_url = ctx, by_url
        names = ctx.datasets.by_name
        wanted = set()
        for _, name, fields, _ in parsed:
            wanted.add(by_url.get(fields["pwc_url"]))
            wanted.add(names.get(name.casefold()))
            url = fields["pwc_url"]
            if url:
                wanted.add(names.get(f"{name} ({url.rstrip('/').rsplit('/', 1)[-1]})".casefold()))
        wanted.discard(None)
        self.objs = {d.pk: d for d in Dataset.objects.filter(pk__in=wanted)}
        self.new, self.new_by_name, self.new_by_url = [], {}, {}

    def by_name(self, name: str):
        pk = self.ctx.datasets.by_name.get(name.casefold())
        return self.objs.get(pk) if pk is not None else self.new_by_name.get(name.casefold())

    def find(self, name: str, url: str, where: str):
        """The dataset an item names (by URL, then by name unless that name is another
        dataset's) and the name it is stored under."""
        if url:
            pk = self.by_url.get(url)
            if pk is not None:
                return self.objs[pk], name
            if url in self.new_by_url:
                return self.new_by_url[url], name
        dataset = self.by_name(name)
        if dataset is not None and url:
            other = dataset.pwc_url
            if other and other != url:  # another dataset of that name
                name = f"{name} ({url.rstrip('/').rsplit('/', 1)[-1]})"
                self.ctx.report.warn(where, f"a different dataset is named so; stored as {name!r}")
                dataset = self.by_name(name)
        return dataset, name

    def create(self, name: str, fields: dict):
        named = self.ctx.datasets
        dataset = Dataset(name=name[: named.max_length], slug=named.slugs.new(name), **fields)
        self.new.append(dataset)
        self.new_by_name[name.casefold()] = dataset
        return dataset


def import_datasets(items, ctx: Context) -> None:
    by_url = {u: pk for pk, u in Dataset.objects.values_list("pk", "pwc_url") if u}
    for batch in chunks(items):
        parsed = []
        for where, item in valid_items(batch, ctx.report, KIND):
            read = read_dataset(item, where, ctx)
            if read is not None:
                parsed.append(read)
        _write_batch(parsed, ctx, by_url)


def _write_batch(parsed, ctx: Context, by_url: dict) -> None:
    report = ctx.report
    b = _Batch(ctx, by_url, parsed)
    through = Dataset.tasks.through
    there = set(through.objects.filter(dataset_id__in=b.objs).values_list("dataset_id", "task_id"))
    tasks_of = {id(d): set() for d in b.objs.values()}
    for dataset_id, task in there:
        tasks_of[id(b.objs[dataset_id])].add(task)
    dirty = {}
    for where, name, fields, tasks in parsed:
        dataset, name = b.find(name, fields["pwc_url"], where)
        if dataset is None:
            dataset = b.create(name, fields)
            tasks_of[id(dataset)] = set()
            report.count(KIND, "created")
            created, changed = True, []
        else:
            created = False
            changed = [
                f
                for f in FIELDS
                if fields[f] not in ("", None, []) and getattr(dataset, f) != fields[f]
            ]
            for f in changed:
                setattr(dataset, f, fields[f])
            if changed and dataset.pk is not None:
                dirty.setdefault(dataset.pk, (dataset, set()))[1].update(changed)
        new_tasks = set(tasks) - tasks_of[id(dataset)]
        tasks_of[id(dataset)].update(tasks)
        if fields["pwc_url"]:
            if dataset.pk is not None:
                by_url[fields["pwc_url"]] = dataset.pk
            else:
                b.new_by_url[fields["pwc_url"]] = dataset
        if not created:
            report.count(KIND, "updated" if changed or new_tasks else "unchanged")
    Dataset.objects.bulk_create(b.new, batch_size=500)
    for key, dataset in b.new_by_name.items():
        ctx.datasets.by_name[key] = dataset.pk
    for url, dataset in b.new_by_url.items():
        by_url[url] = dataset.pk
    if dirty:
        changed = sorted(set().union(*(f for _, f in dirty.values())))
        Dataset.objects.bulk_update([d for d, _ in dirty.values()], changed, batch_size=500)
    objs = [*b.objs.values(), *b.new]
    rows = [
        through(dataset_id=d.pk, task_id=t)
        for d in objs
        for t in sorted(tasks_of[id(d)])
        if (d.pk, t) not in there
    ]
    through.objects.bulk_create(rows, batch_size=1000)
