"""evaluation-tables.json (sota-extractor's format): tasks, their dataset tables and rows.

Identity: a row is a digest of every field it has (``Result.archive_key``), so two rows of one
table that differ anywhere are two results and a second import finds each one unchanged. A
table joins an existing benchmark of its dataset name only where one of that benchmark's tasks
is its task or an ancestor or descendant of it, or where one of its rows is already there;
otherwise it is a new benchmark (its name suffixed with the task), whose metrics never mix with
the other's. A ``subdataset`` keeps its parent (``Benchmark.parent``).

Cost: the tasks, benchmarks (with their tasks) and metric links are read once per import, a
benchmark's row keys once when first met; new results, new models, rows' paper dates and code
links are written in bulk once per top-level task (or every ``FLUSH`` results).
"""

import hashlib
import json
from collections import defaultdict
from types import SimpleNamespace

from leaderboard.archive import values as v
from leaderboard.archive.code_links import paper_for
from leaderboard.archive.common import UNNAMED, Context, Slugs, int_field
from leaderboard.catalogue import dataset_name_from_benchmark, ways_shots
from leaderboard.direction_guess import TABLE, guess_higher_is_better, guess_in_table
from leaderboard.models import (
    Benchmark,
    BenchmarkMetric,
    CodeLink,
    DirectionSource,
    Paper,
    Result,
    Task,
)

KIND = "results"
FLUSH = 2000


def row_key(row: dict) -> str:
    canon = {k: row.get(k) for k in sorted(row) if k != "verified"}
    text = json.dumps(canon, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha1(text.encode()).hexdigest()


def _links(raw) -> list:
    out = []
    for link in v.as_list(raw):
        if isinstance(link, dict) and v.http_url(link.get("url")):
            entry = {"title": v.clean_text(link.get("title")), "url": v.http_url(link["url"])}
            if "official" in link:  # VeriSOTA's extended export
                entry["official"] = v.as_bool(link["official"])
            out.append(entry)
    return out


class TableImporter:
    def __init__(self, ctx: Context):
        self.ctx = ctx
        self.slugs = Slugs(Benchmark, 300)
        self.by_archive_name = {}
        for pk, name, archive_name in Benchmark.objects.values_list("pk", "name", "archive_name"):
            self.by_archive_name.setdefault((archive_name or name).casefold(), []).append(pk)
        self.names = {n.casefold() for n in Benchmark.objects.values_list("name", flat=True)}
        # (benchmark, metric) -> [higher_is_better, direction_source] of each link
        self.links = {
            (b, m): [hib, source]
            for b, m, hib, source in BenchmarkMetric.objects.values_list(
                "benchmark_id", "metric_id", "higher_is_better", "direction_source"
            )
        }
        self.metric_hib = dict(ctx.metrics.model_cls.objects.values_list("pk", "higher_is_better"))
        rows = Benchmark.objects.values_list("pk", "parent_id", "dataset_id")
        self.benchmarks = {
            pk: SimpleNamespace(pk=pk, parent_id=parent, dataset_id=dataset)
            for pk, parent, dataset in rows
        }
        self.bench_tasks = defaultdict(set)
        for bench, task in Benchmark.tasks.through.objects.values_list("benchmark_id", "task_id"):
            self.bench_tasks[bench].add(task)
        self.task_rows = {
            t["pk"]: t
            for t in Task.objects.values(
                "pk", "description", "categories", "synonyms", "source_link", "area_id"
            )
        }
        self.keys = {}  # benchmark pk -> {(row key, metric pk)} of its archive results
        self.pending = []  # (Result, model name) to write
        self.dates = {}  # paper pk -> the first date a row gave it
        self.code_links = {}  # (paper pk, url) -> official

    def flush(self) -> None:
        """Write what the rows read so far asked for: models, results, paper dates, links."""
        ctx = self.ctx
        if self.pending:
            created = ctx.models.ensure(name for _, name in self.pending)
            if created:
                ctx.report.count("models", "created", created)
            results = []
            for result, name in self.pending:
                result.model_id = ctx.models.by_name[ctx.models.key(name)]
                results.append(result)
            Result.objects.bulk_create(results, batch_size=500)
            self.pending = []
        if self.dates:
            undated = set(
                Paper.objects.filter(pk__in=self.dates, date__isnull=True).values_list(
                    "pk", flat=True
                )
            )
            papers = [Paper(pk=pk, date=self.dates[pk]) for pk in sorted(undated)]
            Paper.objects.bulk_update(papers, ["date"], batch_size=500)
            self.dates = {}
        if self.code_links:
            wanted = self.code_links
            there = set(
                CodeLink.objects.filter(
                    paper_id__in={p for p, _ in wanted}, url__in={u for _, u in wanted}
                ).values_list("paper_id", "url")
            )
            links = [
                CodeLink(paper_id=p, url=u, official=official)
                for (p, u), official in wanted.items()
                if (p, u) not in there
            ]
            CodeLink.objects.bulk_create(links, batch_size=500, ignore_conflicts=True)
            self.code_links = {}

    def task(self, item, where: str, parent: int | None) -> None:
        ctx = self.ctx
        if not isinstance(item, dict) or not v.clean_text(item.get("task")):
            ctx.report.count("tasks", "skipped")
            ctx.report.warn(where, "no task name, task skipped")
            return
        pk = ctx.task(v.clean_text(item["task"])[:200])
        row = self.task_rows.setdefault(
            pk,
            {"description": "", "categories": [], "synonyms": [], "source_link": None},
        )
        row.setdefault("area_id", None)
        task = SimpleNamespace(parent_id=ctx.task_parent.get(pk), **row)
        updates = {}
        if (
            parent
            and task.parent_id is None
            and parent != pk
            and not ctx.is_related_task(parent, pk)
        ):
            updates["parent_id"] = parent
            ctx.task_parent[pk] = parent
        link = item.get("source_link")
        link = (
            {"title": v.clean_text(link.get("title")), "url": v.http_url(link.get("url"))}
            if isinstance(link, dict) and (link.get("title") or link.get("url"))
            else None
        )
        # A task named twice (in two files, or twice in one) keeps what it was first given: a
        # field is filled when empty, never replaced by another occurrence's (a warning says so).
        for field, value in (
            (
                "description",
                item.get("description") if isinstance(item.get("description"), str) else "",
            ),
            ("categories", v.string_list(item.get("categories"))),
            ("synonyms", v.string_list(item.get("synonyms"))),
            ("source_link", link),
        ):
            have = getattr(task, field)
            if not value or have == value:
                continue
            if have:
                ctx.report.warn(
                    where,
                    f"task {item['task'][:80]!r} already has another {field.replace('_', ' ')}"
                    " (from where it was first named); kept",
                )
            else:
                updates[field] = value
        cats = v.string_list(item.get("categories"))
        if cats and task.area_id is None:
            updates["area_id"] = ctx.area(cats[0])
        if updates:
            Task.objects.filter(pk=pk).update(**updates)
            row.update({k: val for k, val in updates.items() if k != "parent_id"})
        for i, entry in enumerate(v.as_list(item.get("datasets"))):
            self.table(entry, f"{where}.datasets[{i}]", pk, None)
        for i, sub in enumerate(v.as_list(item.get("subtasks"))):
            self.task(sub, f"{where}.subtasks[{i}]", pk)

    def _benchmark(self, name: str, entry: dict, task: int, parent: Benchmark | None, keys):
        ctx = self.ctx
        for pk in self.by_archive_name.get(name.casefold(), []):
            b = self.benchmarks[pk]
            if parent is not None and b.parent_id != parent.pk:
                continue
            tasks = self.bench_tasks[pk]
            if not tasks or any(ctx.is_related_task(t, task) for t in tasks):
                return b, False
            if keys and {k for k, _ in self._keys(pk)} & set(keys):
                return b, False
        shown = name
        if shown.casefold() in self.names:
            shown = f"{name} ({Task.objects.get(pk=task).name})"[:300]
            n = 1
            while shown.casefold() in self.names:
                n += 1
                shown = f"{name} ({Task.objects.get(pk=task).name}, {n})"[:300]
        if parent is not None:
            dataset = parent.dataset_id
        else:
            dname = entry.get("parent_dataset")
            dname = v.clean_text(dname) if isinstance(dname, str) and dname.strip() else None
            dataset, created = ctx.datasets.get((dname or dataset_name_from_benchmark(name))[:200])
            if created:
                ctx.report.count("datasets", "created")
        report = ctx.report
        ways = int_field(entry, "ways", 1, 32767, self.where, report)
        shots = int_field(entry, "shots", 0, 32767, self.where, report)
        if ways is None and shots is None:
            ways, shots = ways_shots(name)
        b = Benchmark.objects.create(
            name=shown,
            slug=self.slugs.new(shown),
            archive_name=name if shown != name else "",
            dataset_id=dataset,
            parent=parent,
            ways=ways,
            shots=shots,
            description=entry.get("description")
            if isinstance(entry.get("description"), str)
            else "",
            links=_links(entry.get("dataset_links")),
            citations=_links(entry.get("dataset_citations")),
        )
        self.names.add(shown.casefold())
        self.by_archive_name.setdefault(name.casefold(), []).append(b.pk)
        self.benchmarks[b.pk] = b
        self.keys[b.pk] = set()
        ctx.report.count("benchmarks", "created")
        return b, True

    def table(self, entry, where: str, task: int, parent: Benchmark | None) -> None:
        ctx = self.ctx
        if not isinstance(entry, dict):
            ctx.report.count("benchmarks", "skipped")
            ctx.report.warn(where, "not an object, table skipped")
            return
        name = v.clean_text(entry.get("dataset") or entry.get("subdataset"))[:300]
        if not name:
            ctx.report.count("benchmarks", "skipped")
            ctx.report.warn(where, "no dataset name, table skipped")
            return
        sota = entry.get("sota") if isinstance(entry.get("sota"), dict) else {}
        rows = v.as_list(sota.get("rows"))
        keys = [row_key(r) for r in rows if isinstance(r, dict)]
        self.where = where
        benchmark, _ = self._benchmark(name, entry, task, parent, keys)
        if task not in self.bench_tasks[benchmark.pk]:
            Benchmark.tasks.through.objects.create(benchmark_id=benchmark.pk, task_id=task)
            self.bench_tasks[benchmark.pk].add(task)
        directions = (
            sota.get("metric_directions") if isinstance(sota.get("metric_directions"), dict) else {}
        )
        metrics = {}
        # Every metric the table names (its list and its rows' keys): a metric named only
        # "Test" takes the direction its neighbours share (direction_guess.guess_in_table).
        names = {m[:200] for m in v.string_list(sota.get("metrics"))}
        for r in rows:
            if isinstance(r, dict) and isinstance(r.get("metrics"), dict):
                names.update(v.clean_text(k)[:200] for k in r["metrics"])

        def metric(mname: str) -> int:
            if mname not in metrics:
                metrics[mname] = self.metric(benchmark.pk, mname, directions.get(mname), names)
            return metrics[mname]

        for mname in v.string_list(sota.get("metrics")):
            metric(mname[:200])
        have = self._keys(benchmark.pk)
        before = len(self.pending)
        for i, row in enumerate(rows):
            self.row(row, f"{where}.sota.rows[{i}]", benchmark, metric, have)
        ctx.report.count(KIND, "created", len(self.pending) - before)
        if len(self.pending) >= FLUSH:
            self.flush()
        for i, sub in enumerate(v.as_list(entry.get("subdatasets"))):
            self.table(sub, f"{where}.subdatasets[{i}]", task, benchmark)

    def metric(self, benchmark: int, name: str, spec, table_names) -> int:
        """The metric ``name`` of a table, linked to its benchmark with its direction there: as
        the file gives it (VeriSOTA's extended export), else guessed (``direction_guess``); a
        link a curator corrected keeps its correction."""
        ctx = self.ctx
        hib = spec.get("higher_is_better") if isinstance(spec, dict) else None
        from_file = isinstance(hib, bool)
        pk, created = ctx.metrics.get(
            name,
            higher_is_better=hib if from_file else guess_higher_is_better(name),
            direction_source=DirectionSource.ARCHIVE if from_file else DirectionSource.NAME,
        )
        if created:
            ctx.report.count("metrics", "created")
            self.metric_hib[pk] = hib if from_file else guess_higher_is_better(name)
        if from_file:
            wanted = [hib, DirectionSource.ARCHIVE]
        else:
            guess, why = guess_in_table(name, table_names)
            own = self.metric_hib.get(pk, True)
            wanted = [guess, DirectionSource.TABLE] if why == TABLE and guess != own else None
        link = self.links.get((benchmark, pk))
        if link is None:
            hib_value, source = wanted or [None, DirectionSource.UNKNOWN]
            BenchmarkMetric.objects.create(
                benchmark_id=benchmark,
                metric_id=pk,
                higher_is_better=hib_value,
                direction_source=source,
            )
            self.links[(benchmark, pk)] = [hib_value, source]
        elif wanted is not None and link[0] != wanted[0]:
            # The file's direction replaces anything; a table guess fills an uncorrected link.
            if from_file or link[0] is None:
                BenchmarkMetric.objects.filter(benchmark_id=benchmark, metric_id=pk).update(
                    higher_is_better=wanted[0], direction_source=wanted[1]
                )
                self.links[(benchmark, pk)] = list(wanted)
        return pk

    def _keys(self, benchmark: int) -> set:
        """(row key, metric) of the benchmark's archive results, read when first asked for."""
        if benchmark not in self.keys:
            self.keys[benchmark] = set(
                Result.objects.archive()
                .filter(benchmark_id=benchmark)
                .exclude(archive_key="")
                .values_list("archive_key", "metric_id")
            )
        return self.keys[benchmark]

    def row(self, row, where, benchmark, metric, have) -> None:
        report = self.ctx.report
        if not isinstance(row, dict):
            report.count(KIND, "skipped")
            report.warn(where, "not an object, row skipped")
            return
        model_name = v.clean_text(row.get("model_name"))[:300]
        values = row.get("metrics") if isinstance(row.get("metrics"), dict) else {}
        if not values:
            report.count(KIND, "skipped")
            report.warn(where, "no metric values, row skipped")
            return
        if not model_name:
            model_name = UNNAMED
            report.warn(where, f"no model_name: its values are kept as {UNNAMED!r}")
        key = row_key(row)
        paper = self.paper(row, where)
        date = v.parse_date(row.get("paper_date"))
        extra = {
            "paper_title": row.get("paper_title")
            if isinstance(row.get("paper_title"), str)
            else "",
            "paper_url": v.http_url(row.get("paper_url")),
            "paper_date": date.isoformat() if date else None,
            "code_links": _links(row.get("code_links")),
            "model_links": _links(row.get("model_links")),
        }
        for mname, raw in values.items():
            mname = v.clean_text(mname)[:200]
            if not mname:
                report.count(KIND, "skipped")
                report.warn(where, "a metric without a name, value skipped")
                continue
            mpk = metric(mname)
            if (key, mpk) in have:
                report.count(KIND, "unchanged")
                continue
            have.add((key, mpk))
            parsed = v.parse_value(raw)
            raw_text = raw if isinstance(raw, str) else json.dumps(raw)
            if parsed is None:
                if raw is None or not v.clean_text(raw_text):
                    report.count(KIND, "skipped")
                    report.warn(f"{where}.metrics.{mname}", "empty value, skipped")
                    continue
                report.warn(
                    f"{where}.metrics.{mname}", f"{raw_text[:60]!r} is not a number, kept as text"
                )
            result = Result(
                benchmark_id=benchmark.pk,
                metric_id=mpk,
                paper_id=paper,
                value=parsed[0] if parsed else None,
                ci95=parsed[1] if parsed else None,
                raw_value=raw_text[:100],
                date=date,
                uses_additional_data=v.as_bool(row.get("uses_additional_data")),
                archive_key=key,
                archive_row=extra,
                source=Result.Source.ARCHIVE,
            )
            self.pending.append((result, model_name))

    def paper(self, row: dict, where: str) -> int | None:
        report = self.ctx.report
        raw_url = row.get("paper_url")
        url = v.http_url(raw_url)
        if raw_url and not url:
            report.warn(where, f"paper_url {str(raw_url)[:80]!r} is not an http(s) URL, dropped")
        for i, link in enumerate(v.as_list(row.get("code_links"))):
            link_url = link.get("url") if isinstance(link, dict) else None
            if link_url and not v.http_url(link_url):
                report.warn(
                    f"{where}.code_links[{i}]",
                    f"code link {str(link_url)[:80]!r} is not an http(s) URL, dropped",
                )
        title = v.clean_text(row.get("paper_title"))
        date = v.parse_date(row.get("paper_date"))
        if row.get("paper_date") and date is None:
            report.warn(where, f"paper_date {str(row['paper_date'])[:40]!r} is not a date, dropped")
        links = _links(row.get("code_links"))
        item = {"paper_title": title, ("paper_url" if v.is_pwc_url(url) else "paper_url_abs"): url}
        pk = paper_for(item, self.ctx) if title or url else None
        if pk is None:
            if links:  # kept with the row (archive_row), exported back with it
                report.warn(where, "no paper to attach its code links to: kept on the row only")
            return None
        if date:
            self.dates.setdefault(pk, date)
        for link in links:
            self.code_links.setdefault((pk, link["url"]), v.as_bool(link.get("official")))
        return pk


def import_tables(items, ctx: Context) -> None:
    importer = TableImporter(ctx)
    for i, item, error in items:
        if error:
            ctx.report.count("tasks", "skipped")
            ctx.report.warn(f"tasks[{i}]", f"{error}, task skipped")
            continue
        importer.task(item, f"tasks[{i}]", None)
        importer.flush()
