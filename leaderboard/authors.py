"""Authors, as the v1 API lists them: the names of papers' ``authors`` lists, indexed.

``Paper.authors`` (a JSON list of names, in order) stays the one record; ``PaperAuthor`` holds
one row per (paper, position) so that an author's papers are an index lookup. An author's id is
the slug of the name ("chelsea-finn"): two spellings that slugify alike are one author, as on
Papers With Code. The rows follow every write of a paper: the archive importer writes those of
its batches (``insert`` for new papers, ``sync`` for changed lists), and a ``post_save`` signal
those of any other save (admin, seed, the evaluator, a merge); a deleted paper's rows go with it
(cascade). On PostgreSQL the importer's rows go by ``COPY`` as plain tuples (no model instance,
each name slugified once per run): the index costs the import as little as it can.
"""

import functools

from django.db import connection
from django.utils.text import slugify

MAX_NAME = 300


@functools.lru_cache(maxsize=200_000)
def _slug(name: str) -> str:
    return slugify(name)[:MAX_NAME]


def tuples_of(paper_id: int, names) -> list[tuple]:
    """(paper id, position, name, slug) of each name of a paper's list."""
    rows = []
    for position, name in enumerate(names if isinstance(names, list) else []):
        if not isinstance(name, str) or position > 32767:
            continue
        name = " ".join(name.split())[:MAX_NAME]
        slug = _slug(name)
        if slug:
            rows.append((paper_id, position, name, slug))
    return rows


def insert(rows: list[tuple]) -> None:
    """Write author rows (``tuples_of``): one COPY on PostgreSQL."""
    from leaderboard.models import PaperAuthor

    if not rows:
        return
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(PaperAuthor._meta.db_table)
        sql = f"COPY {table} (paper_id, position, name, slug) FROM STDIN"
        with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)
        return
    PaperAuthor.objects.bulk_create(
        [PaperAuthor(paper_id=p, position=i, name=n, slug=s) for p, i, n, s in rows],
        batch_size=500,
    )


def sync(papers: dict) -> None:
    """Make the author rows of ``{paper id: authors list}`` match those lists."""
    from leaderboard.archive.common import where_in
    from leaderboard.models import PaperAuthor

    if not papers:
        return
    where_in(PaperAuthor.objects, "paper", papers).delete()
    insert([row for pk, names in papers.items() for row in tuples_of(pk, names)])


def on_paper_saved(sender, instance, created=False, update_fields=None, raw=False, **kwargs):
    if raw or (update_fields is not None and "authors" not in update_fields):
        return
    if created:
        insert(tuples_of(instance.pk, instance.authors))
        return
    sync({instance.pk: instance.authors})
