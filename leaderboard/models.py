"""The catalogue and its published results.

Every Result row is published: an archive row (imported, "archive, not re-run") or a verified
row (created by the evaluator when a reference run supported the claim). This app imports
nothing of ``evaluator``: a verified row carries its own badge fields (reproduced value,
interval, evaluation mode, link to the run).
"""

from django.conf import settings
from django.contrib.postgres.search import SearchVectorField
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.urls import reverse
from django.utils.text import slugify

from leaderboard.querysets import ResultQuerySet


def unique_slug(model_cls: type[models.Model], text: str, max_length: int = 200) -> str:
    """A slug for ``text`` not yet used by ``model_cls`` (suffixing -2, -3, ...)."""
    base = slugify(text)[: max_length - 8] or "item"
    slug, n = base, 1
    while model_cls.objects.filter(slug=slug).exists():
        n += 1
        slug = f"{base}-{n}"
    return slug


class Area(models.Model):
    """A research area of Papers With Code ("Computer Vision")."""

    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Collection(models.Model):
    """A family of methods ("Convolutional Neural Networks"), possibly inside another."""

    name = models.CharField(max_length=300, unique=True)
    slug = models.SlugField(max_length=300, unique=True)
    description = models.TextField(blank=True)
    area = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.SET_NULL, related_name="collections"
    )
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="children"
    )

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Task(models.Model):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="subtasks"
    )
    area = models.ForeignKey(
        Area, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    # As the archive's evaluation tables have them (exported back unchanged).
    categories = models.JSONField(default=list, blank=True)
    synonyms = models.JSONField(default=list, blank=True)
    source_link = models.JSONField(
        null=True, blank=True, help_text='{"title": ..., "url": ...} or empty'
    )

    class Meta:
        ordering = ["name"]
        # The API's filters by name without regard to case (iexact: UPPER(column) =).
        indexes = [
            models.Index(Upper("name"), name="task_name_upper_idx"),
            models.Index(Upper("slug"), name="task_slug_upper_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("leaderboard:task", args=[self.slug])


class Dataset(models.Model):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True)
    description = models.TextField(blank=True)
    url = models.URLField(max_length=500, blank=True)
    full_name = models.CharField(max_length=500, blank=True)
    homepage = models.URLField(max_length=500, blank=True)
    introduced_date = models.DateField(null=True, blank=True)
    warning = models.TextField(blank=True)
    modalities = models.JSONField(default=list, blank=True)
    languages = models.JSONField(default=list, blank=True)
    variants = models.JSONField(default=list, blank=True)
    num_papers = models.PositiveIntegerField(default=0)
    data_loaders = models.JSONField(
        default=list, blank=True, help_text='A list of {"url", "repo", "frameworks": [...]}'
    )
    paper = models.ForeignKey(
        "Paper",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="introduced_datasets",
    )
    pwc_url = models.CharField(max_length=500, blank=True, db_index=True)
    tasks = models.ManyToManyField("Task", related_name="datasets", blank=True)

    class Meta:
        ordering = ["name"]
        # The API's filters by name without regard to case (iexact: UPPER(column) =).
        indexes = [
            models.Index(Upper("name"), name="dataset_name_upper_idx"),
            models.Index(Upper("slug"), name="dataset_slug_upper_idx"),
            models.Index(Upper("full_name"), name="dataset_full_name_upper_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("leaderboard:dataset", args=[self.slug])


class DirectionSource(models.TextChoices):
    """Where a stored direction came from (``leaderboard/direction_guess.py``)."""

    UNKNOWN = "", "not recorded"
    NAME = "name", "guessed from the metric's name"
    TABLE = "table", "guessed from the table's other metrics"
    ARCHIVE = "archive", "as the imported file gave it"
    CURATOR = "curator", "set by a curator"


class Metric(models.Model):
    name = models.CharField(max_length=200, unique=True)
    slug = models.SlugField(max_length=200, unique=True)
    unit = models.CharField(max_length=20, blank=True, help_text='e.g. "%"; blank for none')
    higher_is_better = models.BooleanField(default=True)
    direction_source = models.CharField(
        max_length=10, choices=DirectionSource.choices, blank=True, default=""
    )

    class Meta:
        ordering = ["name"]
        # The API's filters by name without regard to case (iexact: UPPER(column) =).
        indexes = [
            models.Index(Upper("name"), name="metric_name_upper_idx"),
            models.Index(Upper("slug"), name="metric_slug_upper_idx"),
        ]

    def __str__(self) -> str:
        return self.name


class Benchmark(models.Model):
    """A dataset variant ("OMNIGLOT - 1-Shot, 5-way") listed under one or more tasks."""

    name = models.CharField(max_length=300, unique=True)
    slug = models.SlugField(max_length=300, unique=True)
    dataset = models.ForeignKey(Dataset, on_delete=models.PROTECT, related_name="benchmarks")
    tasks = models.ManyToManyField(Task, related_name="benchmarks", blank=True)
    metrics = models.ManyToManyField(
        Metric, related_name="benchmarks", blank=True, through="BenchmarkMetric"
    )
    # The dataset name as the archive wrote it ("Penn Treebank"): ``name`` is unique, so a
    # same-named table under an unrelated task gets a suffixed name but keeps this one.
    archive_name = models.CharField(max_length=300, blank=True, db_index=True)
    parent = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="subdatasets",
        help_text="The table this one is a subdataset of in the archive",
    )
    links = models.JSONField(default=list, blank=True, help_text="The archive's dataset_links")
    citations = models.JSONField(
        default=list, blank=True, help_text="The archive's dataset_citations"
    )
    # The v1 API's evaluation tables: a client's own id (``evaluation_synchronize`` upserts by
    # it) and the table this one mirrors.
    external_id = models.CharField(max_length=200, blank=True, db_index=True)
    mirror_url = models.URLField(max_length=500, blank=True)
    ways = models.PositiveSmallIntegerField(null=True, blank=True)
    shots = models.PositiveSmallIntegerField(null=True, blank=True)
    description = models.TextField(blank=True)

    class Meta:
        ordering = ["name"]
        # The API's filters by name without regard to case (iexact: UPPER(column) =).
        indexes = [
            models.Index(Upper("name"), name="benchmark_name_upper_idx"),
            models.Index(Upper("slug"), name="benchmark_slug_upper_idx"),
        ]

    def __str__(self) -> str:
        return self.name

    def get_absolute_url(self) -> str:
        return reverse("leaderboard:benchmark", args=[self.slug])


class BenchmarkMetric(models.Model):
    """A metric as one benchmark uses it; its direction may differ from the metric's own."""

    benchmark = models.ForeignKey(Benchmark, on_delete=models.CASCADE)
    metric = models.ForeignKey(Metric, on_delete=models.CASCADE)
    higher_is_better = models.BooleanField(
        null=True, blank=True, help_text="Empty: the metric's own direction"
    )
    direction_source = models.CharField(
        max_length=10,
        choices=DirectionSource.choices,
        blank=True,
        default="",
        help_text="Where higher_is_better came from (when it is set)",
    )
    description = models.TextField(blank=True, help_text="What the metric means in this table")

    class Meta:
        # The table's name from when this was a plain many-to-many field.
        db_table = "leaderboard_benchmark_metrics"
        unique_together = [("benchmark", "metric")]

    def __str__(self) -> str:
        return f"{self.metric} on {self.benchmark}"


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
    insert and update of the paper (``leaderboard/db/search_sql.py``), so that no write path can
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


class Result(models.Model):
    """One published row: an archive row or a verified one.

    The number of every row is ``value`` ± ``ci95``, and ranking, tables, the chart, the ledger,
    the export and both APIs read only these. For an **archive** row they are the figure the
    archive printed (``raw_value`` as written; not re-run). For a **verified** row they are what
    the site measured: the reference run's mean over the fixed test episodes and the half-width
    of its 95% interval; the submitter's claim is ``claimed_value``, shown beside it, never
    ranked. A verified row is written only by the evaluator (``evaluator.publishing.publish``),
    one per checkpoint (SHA-256), benchmark and evaluation mode.
    """

    class Source(models.TextChoices):
        ARCHIVE = "archive", "archive, not re-run"
        VERIFIED = "verified", "verified by a reference run"

    class VerificationLevel(models.TextChoices):
        NONE = "", "archive, not re-run"
        EVALUATED = "evaluated", "evaluated: the checkpoint re-scored"
        REPRODUCED = "reproduced", "reproduced: re-trained from the configuration"

    class EvaluationMode(models.TextChoices):
        UNKNOWN = "", "not recorded"
        TRANSDUCTIVE = "transductive", "transductive batch norm"
        NON_TRANSDUCTIVE = "non-transductive", "non-transductive"

    #: What only a reference run writes: read-only in the admin, never set by hand.
    VERIFICATION_FIELDS = (
        "source",
        "claimed_value",
        "checkpoint_sha256",
        "evaluation_mode",
        "verification_url",
        "verified_at",
        "verification_level",
        "verification_note",
        "episodes_fingerprint",
    )

    benchmark = models.ForeignKey(Benchmark, on_delete=models.PROTECT, related_name="results")
    metric = models.ForeignKey(Metric, on_delete=models.PROTECT, related_name="results")
    value = models.FloatField(
        null=True,
        blank=True,
        help_text="The row's number: the reproduced mean of a verified row, the archive's "
        "figure otherwise (empty: raw_value is not a number)",
    )
    raw_value = models.CharField(
        max_length=100, blank=True, help_text="As the archive wrote it (empty for a verified row)"
    )
    ci95 = models.FloatField(
        null=True,
        blank=True,
        help_text="Half-width of the 95% interval of value: the reference run's for a verified "
        "row, the archive's own (0.84 ± 0.01) for an archive row",
    )
    claimed_value = models.FloatField(
        null=True, blank=True, help_text="A verified row's claim, as submitted (never ranked)"
    )
    # The row's own date (an archive row's ``paper_date``, the v1 API's ``evaluated_on``), which
    # may differ from its paper's; empty: the paper's date, if any.
    date = models.DateField(null=True, blank=True)
    # Identity of an archive row: a digest of every field of the row it came from, so that two
    # rows of one table that differ in any field stay two results (see leaderboard/archive/).
    archive_key = models.CharField(max_length=40, blank=True, db_index=True)
    # What else the archive row held, exported back unchanged: {"code_links": [...],
    # "model_links": [...]} as {"title", "url"} lists.
    archive_row = models.JSONField(default=dict, blank=True)
    model = models.ForeignKey(MLModel, on_delete=models.PROTECT, related_name="results")
    paper = models.ForeignKey(
        Paper, null=True, blank=True, on_delete=models.PROTECT, related_name="results"
    )
    uses_additional_data = models.BooleanField(default=False)
    source = models.CharField(max_length=20, choices=Source.choices, default=Source.ARCHIVE)
    evaluation_mode = models.CharField(
        max_length=20, choices=EvaluationMode.choices, blank=True, default=""
    )
    # Badge of a verified row, written by the evaluator when it publishes.
    checkpoint_sha256 = models.CharField(
        max_length=64, blank=True, help_text="The evaluated checkpoint of a verified row"
    )
    verification_url = models.CharField(max_length=500, blank=True)
    verified_at = models.DateTimeField(null=True, blank=True)
    verification_note = models.CharField(
        max_length=500,
        blank=True,
        help_text="How the verdict was reached when not by the decision rule alone "
        "(a curator's override, with the reason); shown on the ledger",
    )
    # The verification summary the evaluator writes when it publishes (this app never reads the
    # evaluator's tables): the level, the per-episode scores on the fixed episodes (what paired
    # comparisons use) and the fingerprint of those episodes (equal means the same episodes).
    verification_level = models.CharField(
        max_length=20, choices=VerificationLevel.choices, blank=True, default="", db_index=True
    )
    episode_scores = models.JSONField(default=list, blank=True)
    episodes_fingerprint = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = ResultQuerySet.as_manager()

    class Meta:
        ordering = ["benchmark", "metric", "-value", "id"]
        indexes = [
            models.Index(fields=["benchmark", "metric", "value"]),
            models.Index(fields=["source", "-verified_at"], name="result_source_verified_idx"),
            # The home page's notable benchmarks: results and verified results per benchmark
            # by an index-only scan, not a scan of the table.
            models.Index(fields=["benchmark", "source"], name="result_benchmark_source_idx"),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["benchmark", "metric", "archive_key"],
                condition=Q(source="archive") & ~Q(archive_key=""),
                name="unique_archive_row_metric",
            ),
            # One checkpoint, one row: two runs of the same file (concurrent ones included)
            # never both publish on one benchmark and evaluation mode.
            models.UniqueConstraint(
                fields=["benchmark", "evaluation_mode", "checkpoint_sha256"],
                condition=Q(source="verified") & ~Q(checkpoint_sha256=""),
                name="unique_verified_checkpoint",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.model} on {self.benchmark}: {self.metric} {self.value}"

    @property
    def is_verified(self) -> bool:
        return self.source == self.Source.VERIFIED

    @property
    def row_date(self):
        """The row's own date, else its paper's; None when neither is known (such a row is
        listed, never charted on some other day)."""
        if self.date is not None:
            return self.date
        return self.paper.date if self.paper_id is not None else None

    @property
    def level_name(self) -> str:
        """``archive``, ``evaluated`` or ``reproduced`` (the API's ``verification_level``)."""
        return self.verification_level or "archive" if self.is_verified else "archive"

    @property
    def evidence_url(self) -> str | None:
        """The public evidence page of a verified row (written by the evaluator)."""
        return (self.verification_url or None) if self.is_verified else None

    @property
    def is_reproduced(self) -> bool:
        return self.verification_level == self.VerificationLevel.REPRODUCED

    @property
    def reproduced_value(self) -> float | None:
        """Compatibility name: ``value`` of a verified row, None for an archive row."""
        return self.value if self.is_verified else None

    @property
    def reproduced_ci95(self) -> float | None:
        """Compatibility name: ``ci95`` of a verified row, None for an archive row."""
        return self.ci95 if self.is_verified else None


class CatalogueVersion(models.Model):
    """One row that changes, in the same transaction, with every write to a catalogue table.

    Database triggers (PostgreSQL and SQLite, ``leaderboard/db/triggers.py``) bump ``counter``
    and draw a new random ``stamp`` on every insert, update and delete of every other table of
    this app (the many-to-many ones included), so no write path can skip it: ``save()``,
    ``QuerySet.update()``, ``bulk_create()``, raw SQL alike. The read API keys its response
    cache on the pair (see ``leaderboard/core/cache.py``); the random stamp keeps a rolled-back
    transaction's counter values from ever naming other data.
    """

    counter = models.BigIntegerField(default=0)
    stamp = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"catalogue version {self.counter}"

    @classmethod
    def lock(cls) -> None:
        """Serialize catalogue writers until the current transaction ends.

        A writer that looks before it creates (is this paper already there?) takes this lock
        first, so that two such writers never both decide to create. Every catalogue write takes
        the row's lock through the triggers anyway; this takes it before the looking. On SQLite,
        transactions already begin IMMEDIATE (one writer at a time) and this is a no-op.
        """
        list(cls.objects.select_for_update().filter(pk=1).values_list("pk", flat=True))


class RowCount(models.Model):
    """Maintained row counts of the catalogue's tables (``leaderboard/db/counters.py``): a table's
    count is the sum of ``n`` over its rows (``name``: the table's name; ``<table>:verified``:
    the verified results). Database triggers add a row per write statement on PostgreSQL (the
    change; no shared row is updated, so a long import stays linear) and update the one row per
    name on SQLite; on PostgreSQL the writers fold the rows back into one per name now and then
    (reads only read)."""

    name = models.CharField(max_length=100)
    n = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.name}: {self.n:+d}"


class PaperDayCount(models.Model):
    """The number of papers of each day (``date``; null: undated), kept by database triggers on
    PostgreSQL as change rows (``leaderboard/db/paper_days.py``): deep pages of the papers list
    start from the right day instead of walking every row before them."""

    day = models.DateField(null=True)
    n = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.day}: {self.n:+d}"


class CatalogueEdit(models.Model):
    """A change a curator made through the v1 API's write calls, as the public ledger shows it
    (``/log``): who, when, what (the kind, the action, the object's name) and on which table."""

    class Action(models.TextChoices):
        ADD = "add", "added"
        UPDATE = "update", "updated"
        DELETE = "delete", "deleted"
        SYNC = "sync", "synchronised"

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    username = models.CharField(max_length=150, blank=True, help_text="As it was at the time")
    action = models.CharField(max_length=10, choices=Action.choices)
    kind = models.CharField(max_length=20, help_text="task, dataset, evaluation, metric, result")
    label = models.CharField(max_length=500, help_text="The object's name at the time")
    benchmark = models.ForeignKey(
        Benchmark, null=True, blank=True, on_delete=models.SET_NULL, related_name="edits"
    )
    detail = models.JSONField(default=dict, blank=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.label} {self.get_action_display()}"


class LedgerEntry(models.Model):
    """One entry of the public ledger's hash chain (``leaderboard/results/ledger_chain.py``, and
    docs/ledger.md): a publication, correction, override or withdrawal of a result, appended in
    the transaction of the change it records, never updated or deleted (database triggers
    refuse both).

    ``content`` is the canonical JSON text that was hashed, stored as it was hashed; ``hash`` is
    SHA-256 over the previous entry's hash and that text (``leaderboard/results/ledger_hash.py``).
    The
    result and benchmark columns only index the entries: a withdrawn result is deleted while
    its entries stay, so they hold no database constraint and nothing is done on delete.
    """

    class Kind(models.TextChoices):
        PUBLICATION = "publication", "publication"
        CORRECTION = "correction", "correction"
        OVERRIDE = "override", "curator's override"
        WITHDRAWAL = "withdrawal", "withdrawal"

    seq = models.PositiveBigIntegerField(primary_key=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    at = models.DateTimeField()
    result = models.ForeignKey(
        Result,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="ledger_entries",
    )
    benchmark = models.ForeignKey(
        Benchmark,
        null=True,
        blank=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="ledger_entries",
    )
    content = models.TextField(help_text="Canonical JSON, exactly as hashed")
    # Unique: two entries naming the same previous one would be a fork of the chain.
    prev_hash = models.CharField(max_length=64, unique=True)
    hash = models.CharField(max_length=64, unique=True)

    class Meta:
        ordering = ["seq"]
        verbose_name_plural = "ledger entries"

    def __str__(self) -> str:
        return f"ledger entry {self.seq}: {self.kind} of result {self.result_id}"
