# ruff: noqa: E501
"""A synthetic Papers With Code archive of the real one's size and shapes, for benchmarks.

Five gzipped files: tasks nested three deep with tables and subdatasets, long abstracts, a few
popular papers with many code links, and messy values (intervals, Unicode minus, marks, ``~``,
suffixes, text). ``--scale`` shrinks every count alike. Deterministic for a given ``--seed``.
"""

import gzip
import json
import random
from pathlib import Path

from django.core.management.base import BaseCommand

FULL = {
    "tasks": 4451,
    "datasets": 15008,
    "papers": 576261,
    "code_links": 300161,
    "rows": 59860,
    "methods": 8725,
}
WORDS = ("meta learning few shot network deep adaptive gradient model image language graph "
         "robust transformer convolutional sparse efficient optimal neural contrastive").split()  # fmt: skip
METRICS = ["Accuracy", "Top-1 Error Rate", "F1", "BLEU", "WER", "Perplexity", "Params", "FID",
           "MAE", "Test"]  # fmt: skip
MESSY = ["{v} ± 0.{d}", "−{v}", "\ufeff{v}", "{v}*", "~{v}M", "{v}m", "{v}k", "{v}%", "{v}"]


def _title(rng, n):
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(4, 10))).title() + f" {n}"


class Command(BaseCommand):
    help = "Write a synthetic archive (five .json.gz files) of the real archive's size."

    def add_arguments(self, parser):
        parser.add_argument("folder")
        parser.add_argument("--scale", type=float, default=1.0)
        parser.add_argument("--seed", type=int, default=9)

    def handle(self, *args, folder, scale, seed, **options):
        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        n = {k: max(1, int(v * scale)) for k, v in FULL.items()}
        rng = random.Random(seed)
        paper_url = "https://paperswithcode.com/paper/p{}".format
        arxiv = "{:04d}.{:05d}".format

        def write(name, items):
            with gzip.open(out / name, "wt", encoding="utf-8", compresslevel=3) as fh:
                fh.write("[")
                for i, item in enumerate(items):
                    fh.write(("," if i else "") + json.dumps(item, ensure_ascii=False))
                fh.write("]")
            self.stdout.write(f"wrote {out / name}")

        tasks = [f"Task {i} " + rng.choice(WORDS).title() for i in range(n["tasks"])]
        methods = [f"Method {i}" for i in range(n["methods"])]

        def paper(i):
            return {
                "paper_url": paper_url(i),
                "arxiv_id": arxiv(1000 + i % 2000, i) if i % 3 else None,
                "title": _title(rng, i) if i % 97 else "",
                "abstract": " ".join(rng.choice(WORDS) for _ in range(rng.randint(100, 300))),
                "url_abs": f"https://arxiv.org/abs/{arxiv(1000 + i % 2000, i)}v1"
                if i % 3
                else ("javascript:alert(1)" if i % 101 == 0 else ""),
                "url_pdf": "",
                "proceeding": "ICML 2019" if i % 5 == 0 else None,
                "authors": [f"Author {rng.randint(0, 99999)}" for _ in range(rng.randint(1, 8))],
                "tasks": rng.sample(tasks, k=min(len(tasks), rng.randint(0, 3))),
                "date": "2019-13-40" if i % 211 == 0 else f"20{10 + i % 15}-0{1 + i % 9}-1{i % 9}",
                "methods": [
                    {
                        "name": m,
                        "full_name": m + " full",
                        "description": "d",
                        "introduced_year": 2015,
                        "source_url": None,
                        "source_title": None,
                        "code_snippet_url": None,
                        "main_collection": {
                            "name": f"Collection {hash(m) % 300}",
                            "description": "",
                            "area": f"Area {hash(m) % 12}",
                            "parent": None,
                        },
                    }
                    for m in rng.sample(methods, k=min(len(methods), rng.randint(0, 3)))
                ],
            }

        write("papers-with-abstracts.json.gz", (paper(i) for i in range(n["papers"])))

        def link(i):
            # Popular papers: the first 1% get many links each.
            p = i % max(1, n["papers"] // 100) if i % 4 == 0 else rng.randrange(n["papers"])
            return {
                "paper_url": paper_url(p),
                "paper_title": "",
                "paper_arxiv_id": None,
                "paper_url_abs": "",
                "paper_url_pdf": "",
                "repo_url": f"https://github.com/u{i % 50000}/r{i}" if i % 500 else "javascript:x",
                "is_official": i % 3 == 0,
                "mentioned_in_paper": i % 2 == 0,
                "mentioned_in_github": i % 5 == 0,
                "framework": rng.choice(["pytorch", "tf", "jax", "none"]),
            }

        write("links-between-papers-and-code.json.gz", (link(i) for i in range(n["code_links"])))
        write(
            "methods.json.gz",
            (
                {
                    "url": f"https://paperswithcode.com/method/m{i}",
                    "name": m,
                    "full_name": m + " full",
                    "description": "A method. " * 20,
                    "paper": {"title": "", "url": paper_url(rng.randrange(n["papers"]))},
                    "introduced_year": 2000 + i % 25,
                    "source_url": "https://arxiv.org/abs/1703.03400",
                    "source_title": "",
                    "code_snippet_url": None,
                    "num_papers": rng.randint(0, 5000),
                    "collections": [
                        {
                            "collection": f"Collection {i % 300}",
                            "area_id": "a",
                            "area": f"Area {i % 12}",
                        }
                    ],
                }
                for i, m in enumerate(methods)
            ),
        )
        write(
            "datasets.json.gz",
            (
                {
                    "url": f"https://paperswithcode.com/dataset/d{i}",
                    "name": f"Dataset {i}" if i % 400 else "",
                    "full_name": f"The dataset {i}",
                    "homepage": f"https://example.org/d{i}" if i % 7 else "javascript:1",
                    "description": "A dataset. " * 30,
                    "paper": None,
                    "introduced_date": "2018-02-30" if i % 300 == 0 else "2018-02-03",
                    "warning": None,
                    "modalities": ["Images"],
                    "tasks": [{"task": rng.choice(tasks), "url": ""}],
                    "languages": [],
                    "variants": [f"Dataset {i}"],
                    "num_papers": i % 100,
                    "data_loaders": [
                        {"url": "https://pytorch.org", "repo": "", "frameworks": ["pytorch"]}
                    ],
                }
                for i in range(n["datasets"])
            ),
        )
        # Evaluation tables: rows spread over ~1/3 of the tasks, nested under parents.
        per_task = max(1, n["rows"] // max(1, n["tasks"] // 3))
        rows_left = n["rows"]

        def value(rng):
            form = rng.choice(MESSY) if rng.random() < 0.2 else "{v}"
            return form.format(v=round(rng.uniform(1, 99), 2), d=rng.randint(1, 9))

        def table(t, j, rows):
            metrics = rng.sample(METRICS, 2)
            return {
                "dataset": f"Dataset {(t * 7 + j) % n['datasets']}",
                "description": "",
                "sota": {
                    "metrics": metrics,
                    "rows": [
                        {
                            "model_name": f"Model {rng.randint(0, 20000)}" if r % 300 else "",
                            "metrics": {m: value(rng) for m in metrics},
                            "paper_title": "",
                            "paper_url": paper_url(rng.randrange(n["papers"])),
                            "paper_date": "2019-05-01",
                            "code_links": [],
                            "model_links": [],
                            "uses_additional_data": False,
                        }
                        for r in range(rows)
                    ],
                },
                "subdatasets": [],
                "dataset_links": [],
                "dataset_citations": [],
            }

        def task_items():
            nonlocal rows_left
            for i in range(0, n["tasks"], 3):
                entries = []
                for k, t in enumerate(range(i, min(i + 3, n["tasks"]))):
                    rows = min(rows_left, per_task) if k == 2 or t == n["tasks"] - 1 else 0
                    rows_left -= rows
                    datasets = [table(t, j, rows // 2) for j in range(2)] if rows else []
                    if datasets:
                        datasets[0]["subdatasets"] = [
                            {**table(t, 9, rows - 2 * (rows // 2)), "subdataset": f"Sub {t}"}
                        ]
                        del datasets[0]["subdatasets"][0]["dataset"]
                    entries.append({"task": tasks[t], "description": "", "categories": [],
                                    "datasets": datasets, "subtasks": [], "synonyms": [],
                                    "source_link": None})  # fmt: skip
                root = entries[0]
                cur = root
                for e in entries[1:]:
                    cur["subtasks"] = [e]
                    cur = e
                yield root

        write("evaluation-tables.json.gz", task_items())
