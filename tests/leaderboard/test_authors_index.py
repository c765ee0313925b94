"""The authors index (``PaperAuthor``) follows ``Paper.authors`` through every write path: a
save, an archive import (new papers and changed lists), a merge, a delete."""

import json

import pytest
from django.core.management import call_command

from leaderboard.merging import merge_papers
from leaderboard.models import Paper, PaperAuthor

pytestmark = pytest.mark.django_db


def names(paper) -> list:
    return list(
        PaperAuthor.objects.filter(paper=paper).order_by("position").values_list("name", "slug")
    )


def test_a_save_rewrites_the_papers_author_rows():
    paper = Paper.objects.create(title="T", slug="t", authors=["Chelsea Finn", "Pieter Abbeel"])
    assert names(paper) == [("Chelsea Finn", "chelsea-finn"), ("Pieter Abbeel", "pieter-abbeel")]
    paper.authors = ["Sergey  Levine", "", 7]
    paper.save()
    assert names(paper) == [("Sergey Levine", "sergey-levine")]
    paper.delete()
    assert not PaperAuthor.objects.exists()


def test_an_import_writes_new_papers_and_rewrites_changed_lists(tmp_path):
    def write(authors):
        path = tmp_path / "papers.json"
        item = {"paper_url": "https://paperswithcode.com/paper/maml", "title": "MAML",
                "abstract": "", "authors": authors}  # fmt: skip
        path.write_text(json.dumps([item]))
        return path

    call_command("import_archive", str(write(["Chelsea Finn", "José García"])))
    paper = Paper.objects.get()
    assert names(paper) == [("Chelsea Finn", "chelsea-finn"), ("José García", "jose-garcia")]
    call_command("import_archive", str(write(["Chelsea Finn", "Sergey Levine"])))
    assert names(paper) == [("Chelsea Finn", "chelsea-finn"), ("Sergey Levine", "sergey-levine")]


def test_a_merge_keeps_the_kept_papers_authors_only():
    keep = Paper.objects.create(title="MAML", slug="maml", authors=["Chelsea Finn"])
    dup = Paper.objects.create(title="MAML (v2)", slug="maml-2", authors=["C. Finn", "P. Abbeel"])
    merge_papers(keep, [dup])
    assert names(keep) == [("Chelsea Finn", "chelsea-finn")]
    assert PaperAuthor.objects.count() == 1
