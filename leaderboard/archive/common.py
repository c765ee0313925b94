"""What every kind of archive file shares while importing: the report, and in-memory indexes
of the catalogue (names, slugs, paper identities) so that a batch costs a few queries whatever
the size of the catalogue already there."""

import threading
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from django.db import connection
from django.utils.text import slugify

from leaderboard.archive import values as v
from leaderboard.models import Area, Collection, Dataset, Method, Metric, MLModel, Paper, Task

BATCH = 1000
# The model of a row without a model_name: its value is kept, under a name that says so (and
# exported back without a name, as the archive had it).
UNNAMED = "(unnamed model)"
MAX_WARNINGS_KEPT = 10_000


@dataclass
class ImportReport:
    """created / updated / unchanged / skipped per kind, and the warnings (each names a path)."""

    counts: dict = field(default_factory=lambda: defaultdict(Counter))
    warnings: list[str] = field(default_factory=list)
    warning_count: int = 0
    # Papers are read by a thread while the batch before is written (papers.py).
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def count(self, kind: str, action: str, n: int = 1) -> None:
        with self.lock:
            self.counts[kind][action] += n

    def warn(self, where: str, what: str) -> None:
        with self.lock:
            self.warning_count += 1
            if len(self.warnings) < MAX_WARNINGS_KEPT:
                self.warnings.append(f"{where}: {what}")

    def line(self, kind: str) -> str:
        c = self.counts[kind]
        return (
            f"{kind}: {c['created']} created, {c['updated']} updated, "
            f"{c['unchanged']} unchanged, {c['skipped']} skipped"
        )

    def summary(self) -> str:
        return "; ".join(self.line(k) for k in self.counts)


class Slugs:
    """Unique slugs of one model, allocated in memory (the set is loaded once)."""

    def __init__(self, model_cls, max_length: int = 200):
        self.max_length = max_length
        self.taken = set(model_cls.objects.values_list("slug", flat=True).iterator(5000))

    def new(self, text: str) -> str:
        base = slugify(text)[: self.max_length - 8] or "item"
        slug, n = base, 1
        while slug in self.taken:
            n += 1
            slug = f"{base}-{n}"
        self.taken.add(slug)
        return slug


class Named:
    """Find-or-create by name for a small table: without regard to case (as catalogue.py
    matches), or with ``exact`` by the name as written (models: "BERT (single model)" is not
    "bert (single model)", as ``catalogue.get_model`` matches)."""

    def __init__(self, model_cls, max_length: int = 200, exact: bool = False):
        self.model_cls = model_cls
        self.max_length = max_length
        self.key = (lambda n: n) if exact else str.casefold
        self.by_name = {self.key(n): pk for pk, n in model_cls.objects.values_list("pk", "name")}
        self.slugs = Slugs(model_cls, max_length)

    def get(self, name: str, **fields) -> tuple[int, bool]:
        key = self.key(name)
        pk = self.by_name.get(key)
        if pk is not None:
            return pk, False
        obj = self.model_cls.objects.create(
            name=name[: self.max_length], slug=self.slugs.new(name), **fields
        )
        self.by_name[key] = obj.pk
        return obj.pk, True

    def ensure(self, names) -> int:
        """Create the names not there yet in one statement (the first spelling of each wins);
        returns how many were created."""
        new = {}
        for name in names:
            key = self.key(name)
            if key not in self.by_name and key not in new:
                new[key] = name
        if not new:
            return 0
        objs = [
            self.model_cls(name=n[: self.max_length], slug=self.slugs.new(n)) for n in new.values()
        ]
        self.model_cls.objects.bulk_create(objs, batch_size=1000)
        for key, obj in zip(new, objs, strict=True):
            self.by_name[key] = obj.pk
        return len(objs)


class PaperIndex:
    """Paper identities: PWC URL, then version-less arXiv id, then an exact normalised title
    that names one paper only (0 marks a title two papers share: never matched)."""

    def __init__(self):
        self.by_pwc, self.by_arxiv, self.by_url, self.by_title = {}, {}, {}, {}
        rows = Paper.objects.values_list("pk", "pwc_url", "arxiv_id", "url", "title")
        for pk, pwc, arxiv, url, title in rows.iterator(5000):
            self.add(pk, pwc, arxiv, url, title)
        self.slugs = Slugs(Paper)

    def add(self, pk, pwc, arxiv, url, title) -> None:
        if pwc:
            self.by_pwc.setdefault(pwc, pk)
        if arxiv:
            self.by_arxiv.setdefault(arxiv, pk)
        if url:
            self.by_url.setdefault(url, pk)
        t = v.normalised_title(title)
        if t:
            self.by_title[t] = pk if self.by_title.get(t, pk) == pk else 0

    def find(self, pwc="", arxiv="", url="", title="") -> int | None:
        for table, key in ((self.by_pwc, pwc), (self.by_arxiv, arxiv), (self.by_url, url)):
            if key and key in table:
                return table[key]
        pk = self.by_title.get(v.normalised_title(title)) if title else None
        return pk or None


class Context:
    """The indexes of one import run (shared by the files of ``--all``)."""

    def __init__(self, report: ImportReport):
        self.report = report
        self._papers = None
        self.areas = Named(Area)
        self.tasks = Named(Task)
        self.metrics = Named(Metric)
        self.models = Named(MLModel, 300, exact=True)
        self.datasets = Named(Dataset)
        self.collections = Named(Collection, 300)
        self._methods = None
        self._collection_state = None
        self.task_parent = dict(Task.objects.values_list("pk", "parent_id"))

    @property
    def papers(self) -> PaperIndex:
        if self._papers is None:
            self._papers = PaperIndex()
        return self._papers

    @property
    def methods(self) -> dict:
        if self._methods is None:
            self._methods = {
                "url": {u: pk for pk, u in Method.objects.values_list("pk", "pwc_url") if u},
                "name": {n.casefold(): pk for pk, n in Method.objects.values_list("pk", "name")},
                "slugs": Slugs(Method, 300),
            }
        return self._methods

    def task(self, name: str, kind: str = "tasks") -> int:
        pk, created = self.tasks.get(name)
        if created:
            self.task_parent[pk] = None
            self.report.count(kind, "created")
        return pk

    def area(self, name: str) -> int | None:
        name = v.clean_text(name)
        if not name:
            return None
        pk, created = self.areas.get(name)
        if created:
            self.report.count("areas", "created")
        return pk

    def collection(self, name, description="", area=None, parent=None) -> int | None:
        name = v.clean_text(name)
        if not name:
            return None
        pk, created = self.collections.get(name)
        if created:
            self.report.count("collections", "created")
        if self._collection_state is None:  # (description, area, parent) of each, in memory
            rows = Collection.objects.values_list("pk", "description", "area_id", "parent_id")
            self._collection_state = {pk: list(rest) for pk, *rest in rows}
        state = self._collection_state.setdefault(pk, ["", None, None])
        updates = {}
        if description and state[0] != description:
            updates["description"] = state[0] = description
        if area and state[1] != area:
            updates["area_id"] = state[1] = area
        if parent and parent != pk and state[2] != parent:
            updates["parent_id"] = state[2] = parent
        if updates:
            Collection.objects.filter(pk=pk).update(**updates)
        return pk

    def new_paper(self, *, title="", pwc="", arxiv="", url="", pdf_url="", date=None, **more):
        """Create a paper (title may be its URL when the archive gave none)."""
        shown = title or arxiv or url or pwc
        paper = Paper.objects.create(
            title=shown[:500],
            slug=self.papers.slugs.new(shown),
            pwc_url=pwc[:500],
            arxiv_id=arxiv,
            url=url,
            pdf_url=pdf_url,
            date=date,
            **more,
        )
        self.papers.add(paper.pk, pwc, arxiv, url, title)
        return paper.pk

    def is_related_task(self, a: int, b: int) -> bool:
        """Whether task ``a`` is ``b`` or one of its ancestors or descendants."""
        return a == b or b in self._ancestors(a) or a in self._ancestors(b)

    def _ancestors(self, pk: int) -> set:
        seen = set()
        while pk is not None and pk not in seen:
            seen.add(pk)
            pk = self.task_parent.get(pk)
        return seen - set()


def where_in(qs, field: str, ids):
    """``qs.filter(<field>__in=ids)``; on PostgreSQL as ``= ANY(array)``, one parameter for a
    batch of a thousand ids (a thousand placeholders cost more to build than the query)."""
    ids = list(ids)
    if connection.vendor != "postgresql":
        return qs.filter(**{f"{field}__in": ids})
    column = qs.model._meta.get_field(field).column
    table = connection.ops.quote_name(qs.model._meta.db_table)
    return qs.extra(where=[f"{table}.{connection.ops.quote_name(column)} = ANY(%s)"], params=[ids])


def bulk_insert(objs: list) -> None:
    """``bulk_create`` of new rows that no constraint refuses (the caller checked); on
    PostgreSQL by COPY, with ids taken from the table's sequence first. Row and statement
    triggers fire as for INSERT."""
    if not objs:
        return
    model = type(objs[0])
    if connection.vendor != "postgresql":
        model.objects.bulk_create(objs, batch_size=500)
        return
    meta = model._meta
    fields = [f for f in meta.concrete_fields if not f.primary_key]
    q = connection.ops.quote_name
    columns = ", ".join(q(c) for c in [meta.pk.column, *(f.column for f in fields)])
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT nextval(pg_get_serial_sequence(%s, %s)) FROM generate_series(1, %s)",
            [meta.db_table, meta.pk.column, len(objs)],
        )
        ids = [row[0] for row in cursor.fetchall()]
        with cursor.cursor.copy(f"COPY {q(meta.db_table)} ({columns}) FROM STDIN") as copy:
            for pk, obj in zip(ids, objs, strict=True):
                copy.write_row(
                    [pk, *(f.get_db_prep_save(f.pre_save(obj, True), connection) for f in fields)]
                )
    for pk, obj in zip(ids, objs, strict=True):
        obj.pk = pk
        obj._state.adding = False
        obj._state.db = connection.alias


def int_field(item: dict, key: str, lo: int, hi: int, where: str, report, what="") -> int | None:
    """``item[key]`` as an integer within [lo, hi], or None with a warning naming the path when
    the item gives something else (text, "²", 40000 as a year, 10^12 papers)."""
    raw = item.get(key)
    n = v.as_int(raw, lo, hi)
    if n is None and raw not in (None, ""):
        shown = raw if isinstance(raw, str) else str(raw)
        report.warn(
            f"{where}.{key}",
            f"{shown[:40]!r} is not {what or f'an integer from {lo} to {hi}'}, dropped",
        )
    return n


def valid_items(batch, report, kind: str):
    """A batch's readable objects as (path, item); an item that could not be read, or is not an
    object, is counted skipped with a warning naming its path."""
    for i, item, error in batch:
        where = f"[{i}]"
        if error or not isinstance(item, dict):
            report.count(kind, "skipped")
            report.warn(where, error or "not an object, skipped")
            continue
        yield where, item


def chunks(iterable, size: int = BATCH):
    batch = []
    for item in iterable:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
