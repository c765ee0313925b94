"""Papers and what hangs on them: the search vector, the authors index, code links; the methods
(methods.json) and the models (the names results rows give their methods)."""

from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import F
from django.db.models.functions import Upper
from django.urls import reverse

from leaderboard.models.catalogue import Collection, Task


class Paper(models.Model):
    title = models.CharField(max_length=500)
    slug = models.SlugField(max_length=200, unique=True)
    authors = models.JSONField(default=list, blank=True, help_text="A list of names, in order")
    date = models.DateField(null=True, blank=True)
    venue = models.CharField(max_length=200, blank=True)
    arxiv_id = models.CharField(max_length=50, blank=True, db_index=True)
    url = models.URLField(max_length=500, blank=True)
    pdf_url = models.URLField(max_length=500, blank=True)
    abstract = models.TextField(blank=True)
    tasks = models.ManyToManyField(Task, related_name="papers", blank=True)
    methods = models.ManyToManyField("Method", related_name="papers", blank=True)
    pwc_url = models.CharField(
        max_length=500, blank=True, db_index=True, help_text="Papers With Code's paper_url"
    )
    proceeding = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-date", "title"]
        indexes = [
            models.Index(Upper("slug"), name="paper_slug_upper_idx"),
            models.Index(Upper("title"), name="paper_title_upper_idx"),
            # The papers list's order: a page is an index scan, not a sort of every paper.
            models.Index(F("date").desc(), "title", "id", name="paper_list_idx"),
            # paper_newest_idx (date DESC NULLS LAST, id DESC): PostgreSQL only, made by
            # migration 0002 (SQLite cannot index NULLS LAST); the papers list and search.
        ]

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("leaderboard:paper", args=[self.slug])


class PaperSearch(models.Model):
    """A paper's stored full-text search vector (PostgreSQL): title (weight A), authors (B) and
    abstract (C), English stemming, GIN-indexed. Written only by a database trigger on every
    insert and update of the paper (migration ``0003_database_triggers``), so that no write path can
    leave it stale; a table of its own so that no listing of papers ever loads it. SQLite keeps
    it empty and searches an FTS5 table instead."""

    paper = models.OneToOneField(
        Paper, primary_key=True, on_delete=models.CASCADE, related_name="search"
    )
    vector = SearchVectorField(null=True)

    def __str__(self) -> str:
        return f"search vector of paper {self.paper_id}"


class PaperAuthor(models.Model):
    """One name of a paper's ``authors`` list, indexed: the v1 API's authors (an author's id is
    the slug of the name). Kept in step with ``Paper.authors`` by ``leaderboard/authors.py``
    (the archive importer writes its batches, a signal every other save)."""

    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="author_rows")
    position = models.PositiveSmallIntegerField()
    name = models.CharField(max_length=300)
    slug = models.SlugField(max_length=300, db_index=False)  # indexed with the paper, below

    class Meta:
        # (paper, position) is unique by construction (a paper's rows are rewritten whole): no
        # constraint to maintain on every row an import writes.
        indexes = [models.Index(fields=["slug", "paper"], name="paperauthor_slug_idx")]

    def __str__(self) -> str:
        return self.name


class CodeLink(models.Model):
    paper = models.ForeignKey(Paper, on_delete=models.CASCADE, related_name="code_links")
    url = models.URLField(max_length=500)
    official = models.BooleanField(default=False)
    framework = models.CharField(max_length=50, blank=True)
    mentioned_in_paper = models.BooleanField(default=False)
    mentioned_in_github = models.BooleanField(default=False)

    class Meta:
        ordering = ["-official", "url"]
        constraints = [
            models.UniqueConstraint(fields=["paper", "url"], name="unique_code_link_per_paper")
        ]
        indexes = [
            # The PWC API's repositories: one per address, in address order (GROUP BY url);
            # by framework without regard to case. Parts of an address: a trigram index
            # (PostgreSQL, migration 0002).
            models.Index(fields=["url"], name="codelink_url_idx"),
            models.Index(Upper("framework"), name="codelink_framework_upper_idx"),
        ]

    def __str__(self) -> str:
        return self.url


class Method(models.Model):
    """A method of the archive's methods.json ("Dropout"), in zero or more collections."""

    name = models.CharField(max_length=300)
    slug = models.SlugField(max_length=300, unique=True)
    full_name = models.CharField(max_length=500, blank=True)
    description = models.TextField(blank=True)
    introduced_year = models.PositiveSmallIntegerField(null=True, blank=True)
    paper = models.ForeignKey(
        Paper,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="introduced_methods",
    )
    source_url = models.URLField(max_length=500, blank=True)
    source_title = models.CharField(max_length=500, blank=True)
    code_snippet_url = models.URLField(max_length=500, blank=True)
    num_papers = models.PositiveIntegerField(default=0)
    pwc_url = models.CharField(max_length=500, blank=True, db_index=True)
    collections = models.ManyToManyField(Collection, related_name="methods", blank=True)

    class Meta:
        ordering = ["name"]
        indexes = [
            models.Index(Upper("name"), name="method_name_upper_idx"),
            models.Index(Upper("full_name"), name="method_full_name_upper_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class MLModel(models.Model):
    """The name a results row gives its method: "MAML", "MAML + Transduction", "fo-MAML".

    Called a model everywhere outside Python (its table, ``Result.model``, the APIs' fields)."""

    name = models.CharField(max_length=300, unique=True)
    slug = models.SlugField(max_length=300, unique=True)

    class Meta:
        db_table = "leaderboard_model"
        verbose_name = "model"
        ordering = ["name"]
        # The API matches a model by slug or name without regard to case.
        indexes = [
            models.Index(Upper("name"), name="model_name_upper_idx"),
            models.Index(Upper("slug"), name="model_slug_upper_idx"),
        ]

    def __str__(self) -> str:
        return self.name
