"""The catalogue's names: areas, tasks, datasets, metrics, benchmarks (tables) and the direction
of a metric in each table."""

from django.db import models
from django.db.models.functions import Upper
from django.urls import reverse
from django.utils.text import slugify


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
