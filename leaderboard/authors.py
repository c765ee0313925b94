"""Authors, as the v1 API lists them: the names of papers' ``authors`` lists, indexed.

``Paper.authors`` (a JSON list of names, in order) stays the one record; ``PaperAuthor`` holds
one row per (paper, position) so that an author's papers are an index lookup. An author's id is
the slug of the name ("chelsea-finn"): two spellings that slugify alike are one author, as on
Papers With Code. The rows follow every write of a paper: the archive importer rewrites those of
its batches (``sync``), and a ``post_save`` signal those of any other save (admin, seed, the
evaluator, a merge); a deleted paper's rows go with it (cascade).
"""

from django.utils.text import slugify

MAX_NAME = 300


def rows_of(paper_id: int, names) -> list:
    from .models import PaperAuthor

    rows = []
    for position, name in enumerate(names or []):
        if not isinstance(name, str) or position > 32767:
            continue
        name = " ".join(name.split())[:MAX_NAME]
        slug = slugify(name)[:MAX_NAME]
        if slug:
            rows.append(PaperAuthor(paper_id=paper_id, position=position, name=name, slug=slug))
    return rows


def sync(papers: dict) -> None:
    """Make the author rows of ``{paper id: authors list}`` match those lists."""
    from .archive.common import bulk_insert, where_in
    from .models import PaperAuthor

    if not papers:
        return
    where_in(PaperAuthor.objects, "paper", papers).delete()
    bulk_insert([row for pk, names in papers.items() for row in rows_of(pk, names)])


def on_paper_saved(sender, instance, created=False, update_fields=None, raw=False, **kwargs):
    if raw or (update_fields is not None and "authors" not in update_fields):
        return
    if created:
        if instance.authors:
            from .archive.common import bulk_insert

            bulk_insert(rows_of(instance.pk, instance.authors))
        return
    sync({instance.pk: instance.authors})
