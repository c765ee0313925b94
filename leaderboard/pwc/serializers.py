"""Serializers in the client's shapes. Each builds its dict directly (``to_representation``);
the declared fields document it for the OpenAPI schema. Nullable fields are ``None``, not "",
where the client's model says ``Optional``; required strings are "" when unknown."""

import re
from urllib.parse import urlsplit

from django.urls import reverse
from rest_framework import serializers

from leaderboard.api.serializers import MarkedListSerializer
from leaderboard.core.links import http_url_or_empty
from leaderboard.results import contested

_YEAR = re.compile(r"\s*'?(\d{4}|\d{2})\s*$")


def _none(value):
    return value or None


def conference_of(venue: str) -> tuple[str, int | None]:
    """ "ICML 2017" -> ("ICML", 2017); "NeurIPS" -> ("NeurIPS", None)."""
    venue = (venue or "").strip()
    match = _YEAR.search(venue)
    if match and match.start() > 0:
        year = int(match.group(1))
        return venue[: match.start()].strip(), (year + 2000 if year < 100 else year)
    return venue, None


def repository_parts(url: str) -> tuple[str, str]:
    """(owner, name) of a code link: the first two parts of its path (GitHub, GitLab...)."""
    parts = [p for p in urlsplit(url).path.split("/") if p]
    owner = parts[0] if parts else urlsplit(url).netloc
    name = parts[1] if len(parts) > 1 else ""
    if name.endswith(".git"):
        name = name[:-4]
    return owner, name


class PwcPaperSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The paper's slug")
    arxiv_id = serializers.CharField(allow_null=True)
    nips_id = serializers.CharField(allow_null=True)
    url_abs = serializers.CharField()
    url_pdf = serializers.CharField()
    title = serializers.CharField()
    abstract = serializers.CharField()
    authors = serializers.ListField(child=serializers.CharField())
    published = serializers.DateField(allow_null=True)
    conference = serializers.CharField(allow_null=True)
    conference_url_abs = serializers.CharField(allow_null=True)
    conference_url_pdf = serializers.CharField(allow_null=True)
    proceeding = serializers.CharField(allow_null=True)
    venue = serializers.CharField(help_text="VeriSOTA: the venue as recorded")
    page_url = serializers.CharField(help_text="VeriSOTA: the paper's page")

    def to_representation(self, p):
        conference, _ = conference_of(p.venue)
        proceeding = getattr(p, "proceeding", "") or (p.venue if p.venue else "")
        return {
            "id": p.slug,
            "arxiv_id": _none(p.arxiv_id),
            "nips_id": None,
            "url_abs": p.url or "",
            "url_pdf": p.pdf_url or "",
            "title": p.title,
            "abstract": p.abstract or "",
            "authors": [str(a) for a in (p.authors or [])],
            "published": p.date.isoformat() if p.date else None,
            "conference": _slug(conference) or None,
            "conference_url_abs": None,
            "conference_url_pdf": None,
            "proceeding": _slug(proceeding) or None,
            "venue": p.venue,
            "page_url": p.get_absolute_url(),
        }


def _slug(text: str) -> str:
    from django.utils.text import slugify

    return slugify(text or "")


class PwcRepositorySerializer(serializers.Serializer):
    """A code link as a repository. VeriSOTA records no star counts: ``stars`` is 0."""

    url = serializers.CharField()
    owner = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    stars = serializers.IntegerField(help_text="Not recorded: always 0")
    framework = serializers.CharField(help_text='"none" when not recorded')
    is_official = serializers.BooleanField(allow_null=True)
    mentioned_in_paper = serializers.BooleanField(allow_null=True, help_text="VeriSOTA")
    mentioned_in_github = serializers.BooleanField(allow_null=True, help_text="VeriSOTA")

    def to_representation(self, c):
        if isinstance(c, dict):  # a row of the repository list: one per address
            url, framework, official, paper_flag, github_flag = (
                c["url"],
                c.get("framework"),
                None,
                None,
                None,
            )
        else:
            url, framework, official = c.url, c.framework, c.official
            paper_flag = getattr(c, "mentioned_in_paper", None)
            github_flag = getattr(c, "mentioned_in_github", None)
        owner, name = repository_parts(url)
        return {
            "url": url,
            "owner": owner,
            "name": name,
            "description": "",
            "stars": 0,
            "framework": framework or "none",
            "is_official": official,
            "mentioned_in_paper": paper_flag,
            "mentioned_in_github": github_flag,
        }


class PwcPaperRepoSerializer(serializers.Serializer):
    paper = PwcPaperSerializer()
    repository = PwcRepositorySerializer(allow_null=True)
    is_official = serializers.BooleanField()

    def to_representation(self, p):
        links = list(p.code_links.all())  # prefetched, official first
        link = links[0] if links else None
        return {
            "paper": PwcPaperSerializer().to_representation(p),
            "repository": PwcRepositorySerializer().to_representation(link) if link else None,
            "is_official": bool(link and link.official),
        }


class PwcTaskSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    parent = serializers.CharField(allow_null=True, help_text="VeriSOTA: the parent task's id")
    area = serializers.CharField(allow_null=True, help_text="VeriSOTA: the area's id")
    page_url = serializers.CharField()

    def to_representation(self, t):
        area = getattr(t, "area", None) if hasattr(t, "area_id") else None
        return {
            "id": t.slug,
            "name": t.name,
            "description": t.description or "",
            "parent": t.parent.slug if t.parent_id else None,
            "area": area.slug if area else None,
            "page_url": t.get_absolute_url(),
        }


class PwcDatasetSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    full_name = serializers.CharField(allow_null=True)
    url = serializers.CharField(allow_null=True)
    description = serializers.CharField(help_text="VeriSOTA")
    num_papers = serializers.IntegerField(help_text="VeriSOTA: as Papers With Code counted")
    pwc_url = serializers.CharField(allow_null=True, help_text="VeriSOTA: its PWC page")
    page_url = serializers.CharField()

    def to_representation(self, d):
        return {
            "id": d.slug,
            "name": d.name,
            "full_name": _none(getattr(d, "full_name", "")),
            "url": _none(getattr(d, "homepage", "") or d.url),
            "description": d.description or "",
            "num_papers": getattr(d, "num_papers", 0),
            "pwc_url": _none(http_url_or_empty(getattr(d, "pwc_url", ""))),
            "page_url": d.get_absolute_url(),
        }


class PwcEvaluationSerializer(serializers.Serializer):
    """A benchmark as an evaluation table: its first task (by name) and its dataset."""

    id = serializers.CharField()
    task = serializers.CharField()
    dataset = serializers.CharField()
    description = serializers.CharField()
    mirror_url = serializers.CharField(allow_null=True)
    name = serializers.CharField(help_text="VeriSOTA: the benchmark's name")
    tasks = serializers.ListField(child=serializers.CharField(), help_text="VeriSOTA: every task")
    page_url = serializers.CharField()

    def to_representation(self, b):
        tasks = sorted(b.tasks.all(), key=lambda t: t.name)  # prefetched
        return {
            "id": b.slug,
            "task": tasks[0].slug if tasks else "",
            "dataset": b.dataset.slug,
            "description": b.description or "",
            "mirror_url": None,
            "name": b.name,
            "tasks": [t.slug for t in tasks],
            "page_url": b.get_absolute_url(),
        }


class PwcMetricSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    description = serializers.CharField()
    is_loss = serializers.BooleanField(
        help_text="Lower is better, in this evaluation table (its curator's correction, else the "
        "metric's own direction)"
    )
    unit = serializers.CharField(help_text="VeriSOTA")

    def to_representation(self, m):
        return {
            "id": m.slug,
            "name": m.name,
            "description": "",
            "is_loss": not m.direction,
            "unit": m.unit,
        }


class PwcResultSerializer(serializers.Serializer):
    """One result: a row of a table as the archive has it (``leaderboard/results/rows.py``'s
    ``TableRow``), ``metrics`` all its values, ``id`` its first result's id. ``best_metric`` is
    that first result's metric, and ``best_rank``, ``value`` and ``ci95`` are its (for a
    verified row, a row of one, the reproduced mean, with the claim in ``claimed_value``)."""

    id = serializers.CharField()
    best_rank = serializers.IntegerField(allow_null=True)
    metrics = serializers.DictField(child=serializers.CharField())
    methodology = serializers.CharField()
    uses_additional_data = serializers.BooleanField()
    paper = serializers.CharField(allow_null=True)
    best_metric = serializers.CharField(allow_null=True)
    evaluated_on = serializers.CharField(allow_null=True)
    external_source_url = serializers.CharField(allow_null=True)
    external_id = serializers.CharField(
        help_text="VeriSOTA: the id a client's evaluation_synchronize gave the row (or empty)"
    )
    evaluation = serializers.CharField(help_text="VeriSOTA: the evaluation table's id")
    value = serializers.FloatField(
        allow_null=True,
        help_text="VeriSOTA: the number of best_metric (a verified row's reproduced mean)",
    )
    source = serializers.CharField(help_text="VeriSOTA: archive (not re-run) or verified")
    verified = serializers.BooleanField(help_text="VeriSOTA")
    claimed_value = serializers.FloatField(
        allow_null=True, help_text="VeriSOTA: a verified row's claim (null: archive row)"
    )
    reproduced_value = serializers.FloatField(
        allow_null=True, help_text="VeriSOTA, compatibility: value of a verified row"
    )
    reproduced_ci95 = serializers.FloatField(
        allow_null=True, help_text="VeriSOTA, compatibility: ci95 of a verified row"
    )
    ci95 = serializers.FloatField(
        allow_null=True, help_text="VeriSOTA: the 95% half-width of value (run's or archive's)"
    )
    evidence_url = serializers.CharField(allow_null=True, help_text="VeriSOTA: the run")
    contested = serializers.BooleanField(
        help_text="VeriSOTA: an archive row that other papers' figures for the same model "
        "contradict (docs/contested.md)"
    )
    contested_url = serializers.CharField(
        allow_null=True, help_text="VeriSOTA: the contested group's page (every paper's figure)"
    )
    contested_side = serializers.ChoiceField(
        choices=["above", "higher", "middle", "lower", "below"],
        allow_null=True,
        help_text="VeriSOTA: a verified row in a contested group: where its measurement falls",
    )

    class Meta:
        list_serializer_class = MarkedListSerializer

    def to_representation(self, row):
        r = row.lead  # the row's first result, annotated ``best_rank``
        if not hasattr(r, "contested"):
            contested.mark([r])
        claims = r.contested
        date = r.row_date
        extra = r.archive_row if isinstance(r.archive_row, dict) else {}
        return {
            "id": str(row.id),
            "best_rank": getattr(r, "best_rank", None),
            "metrics": row.metrics(exact=False),
            "methodology": r.model.name,
            "uses_additional_data": r.uses_additional_data,
            "paper": r.paper.slug if r.paper_id else None,
            "best_metric": r.metric.name,
            "evaluated_on": date.isoformat() if date else None,
            "external_source_url": extra.get("external_source_url") or None,
            "external_id": extra.get("external_id") or "",
            "evaluation": r.benchmark.slug,
            "value": r.value,
            "source": r.source,
            "verified": r.is_verified,
            "claimed_value": r.claimed_value,
            "reproduced_value": r.reproduced_value,
            "reproduced_ci95": r.reproduced_ci95,
            "ci95": r.ci95,
            "evidence_url": r.verification_url or None,
            "contested": claims.contested,
            "contested_url": claims.url,
            "contested_side": claims.side,
        }


class PwcMethodSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    full_name = serializers.CharField()
    description = serializers.CharField()
    paper = serializers.CharField(allow_null=True)
    introduced_year = serializers.IntegerField(allow_null=True, help_text="VeriSOTA")
    num_papers = serializers.IntegerField(help_text="VeriSOTA: as Papers With Code counted")
    pwc_url = serializers.CharField(allow_null=True, help_text="VeriSOTA: its PWC page")
    page_url = serializers.CharField()

    def to_representation(self, m):
        return {
            "id": m.slug,
            "name": m.name,
            "full_name": m.full_name or m.name,
            "description": m.description or "",
            "paper": m.paper.slug if m.paper_id else None,
            "introduced_year": m.introduced_year,
            "num_papers": m.num_papers,
            "pwc_url": _none(http_url_or_empty(m.pwc_url)),
            "page_url": reverse("leaderboard:method", args=[m.slug]),
        }


class PwcAreaSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()

    def to_representation(self, a):
        return {"id": a.slug, "name": a.name}


class PwcConferenceSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()

    def to_representation(self, c):
        return {"id": c["id"], "name": c["name"]}


class PwcProceedingSerializer(serializers.Serializer):
    id = serializers.CharField()
    year = serializers.IntegerField(allow_null=True)
    month = serializers.IntegerField(allow_null=True)
    venue = serializers.CharField(help_text="VeriSOTA")

    def to_representation(self, p):
        return {"id": p["id"], "year": p["year"], "month": None, "venue": p["venue"]}
