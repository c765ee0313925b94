"""Merge duplicate papers (a curator's action in the admin).

Everything that points at a duplicate is moved to the paper kept, whatever app it belongs to
(found through the model's relations, so this app imports nothing of the others); then the
duplicates are deleted. One transaction: a conflict leaves everything as it was.
"""

from django.db import transaction
from django.db.models import Q

from leaderboard.models import CodeLink, Paper, PaperAuthor, PaperSearch, Result
from leaderboard.results.ledger_chain import withdraw_known


class MergeConflict(ValueError):
    pass


@transaction.atomic
def merge_papers(keep: Paper, duplicates: list[Paper]) -> int:
    """Move every result, code link, task and reference of ``duplicates`` to ``keep``."""
    duplicates = [p for p in duplicates if p.pk != keep.pk]
    for dup in duplicates:
        for link in CodeLink.objects.filter(paper=dup):
            kept = CodeLink.objects.filter(paper=keep, url=link.url).first()
            if kept is None:
                link.paper = keep
                link.save(update_fields=["paper"])
            else:
                if link.official and not kept.official:
                    kept.official = True
                    kept.save(update_fields=["official"])
                link.delete()
        for row in Result.objects.archive().filter(paper=dup):
            twin = Result.objects.archive().filter(
                paper=keep, benchmark=row.benchmark_id, metric=row.metric_id, model=row.model_id
            )
            twin = twin.first()
            if twin is None:
                continue
            if twin.value != row.value:
                raise MergeConflict(
                    f"{row.model} on {row.benchmark}: {row.metric} is {twin.value} in "
                    f"“{keep}” but {row.value} in “{dup}”; correct one of them first."
                )
            # The same archive row, listed under both papers: withdrawn, if the ledger knows it.
            withdraw_known(
                Result.objects.filter(pk=row.pk), f"merged into the same row of paper “{keep}”"
            )
            row.delete()
        for rel in Paper._meta.related_objects:
            if rel.related_model in (PaperSearch, PaperAuthor):  # derived from the paper
                continue
            if rel.one_to_many or rel.one_to_one:
                rel.related_model._base_manager.filter(**{rel.field.name: dup}).update(
                    **{rel.field.name: keep}
                )
        keep.tasks.add(*dup.tasks.all())
        for field in ("abstract", "venue", "arxiv_id", "url", "pdf_url", "date", "authors"):
            if not getattr(keep, field) and getattr(dup, field):
                setattr(keep, field, getattr(dup, field))
    keep.save()
    Paper.objects.filter(Q(pk__in=[d.pk for d in duplicates])).delete()
    return len(duplicates)
