"""Search over papers, tasks, datasets, benchmarks, methods and model names: one module used by
the search page, the read API's ``search`` parameters and the PWC-compatible API's ``q``.

PostgreSQL: papers by full-text search over a stored ``search_vector`` (title weight A, authors
B, abstract C, English stemming; a GIN index; kept current by a database trigger on every insert
and update, so ``bulk_create`` and raw SQL are covered: migration 0003), ranked by
``ts_rank``; names (tasks, datasets, benchmarks, methods, models) by trigram word similarity
(``pg_trgm``, GIN trigram indexes) or a substring, ranked by similarity. A paper is also found
through the model names of its results and the methods it uses: "maml" finds the MAML paper
although neither its title nor its abstract says "MAML".

SQLite (the embedded default): papers by an FTS5 table (porter stemming) kept current by
triggers (migration 0003), ranked by bm25; names by a substring match of every word, shorter
names first. Where the SQLite library lacks FTS5, papers fall back to a substring match of
every word in the title, abstract or authors (documented best effort: no stemming, no ranking
beyond title hits).
"""

import re

from django.db import connection
from django.db.models import (
    BooleanField,
    Case,
    CharField,
    F,
    FloatField,
    Lookup,
    Q,
    QuerySet,
    TextField,
    Value,
    When,
)
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce, Greatest, Length
from django.utils.html import escape
from django.utils.safestring import SafeString, mark_safe

from leaderboard.models import Benchmark, Dataset, Method, MLModel, Paper, PaperSearch, Result, Task

MAX_QUERY = 200
WORD = re.compile(r"\w+", re.UNICODE)
# Extra rank of a paper found through a model or method name (ts_rank is in [0, 1]).
NAME_BONUS = 0.5
FTS_TABLE = "leaderboard_paper_fts"


def clean(q: str | None) -> str:
    """The query as searched: no NUL, trimmed, bounded."""
    return (q or "").replace("\x00", "").strip()[:MAX_QUERY]


def words(q: str) -> list[str]:
    return WORD.findall(q.lower())[:12]


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


# ---- names -------------------------------------------------------------------------------


@CharField.register_lookup
@TextField.register_lookup
class TrigramContains(Lookup):
    """``field__trgm_icontains=term``: ``field ILIKE '%term%'`` (PostgreSQL), which the pg_trgm
    GIN indexes on the names serve. Django's ``icontains`` compares ``UPPER(field)``, which no
    index of ``field`` serves: every name search scanned its whole table (datasets: 5-12 ms at
    full size, each count and page again)."""

    lookup_name = "trgm_icontains"
    prepare_rhs = False

    def get_db_prep_lookup(self, value, connection):
        return "%s", [f"%{connection.ops.prep_for_like_query(value)}%"]

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        rhs, rhs_params = self.process_rhs(compiler, connection)
        return f"{lhs} ILIKE {rhs}", [*lhs_params, *rhs_params]


@CharField.register_lookup
@TextField.register_lookup
class TrigramEndsWith(TrigramContains):
    """``field__trgm_iendswith=term``: ``field ILIKE '%term'``, served by a pg_trgm GIN index
    (the code links' addresses), where Django's ``iendswith`` compares ``UPPER(field)``."""

    lookup_name = "trgm_iendswith"

    def get_db_prep_lookup(self, value, connection):
        return "%s", [f"%{connection.ops.prep_for_like_query(value)}"]


def _contains() -> str:
    return "trgm_icontains" if is_postgres() else "icontains"


def substring(field: str, kind: str = "contains") -> str:
    """The lookup for a part of ``field`` without regard to case (``kind``: "contains" or
    "endswith") that its trigram index serves: ILIKE on PostgreSQL, Django's own on SQLite."""
    return f"{field}__{'trgm_i' if is_postgres() else 'i'}{kind}"


def _all_words(fields: list[str], terms: list[str]) -> Q:
    match = Q()
    for term in terms:
        any_field = Q()
        for f in fields:
            any_field |= Q(**{f"{f}__{_contains()}": term})
        match &= any_field
    return match


def text_matches(q: str) -> bool:
    """Whether any paper's text matches ``q`` (PostgreSQL; one query, quick for a common word
    and for a word in no paper alike: the GIN index answers)."""
    from django.contrib.postgres.search import SearchQuery

    query = SearchQuery(clean(q), search_type="websearch", config="english")
    return PaperSearch.objects.filter(vector=query).exists()


def names(
    queryset: QuerySet,
    q: str,
    field: str = "name",
    also: str = "",
    text_found: bool | None = None,
) -> QuerySet:
    """Rows of ``queryset`` whose ``field`` (or ``also``: a method's full name) matches ``q``,
    best first (annotated ``score``). ``text_found``: whether some paper's text matches ``q``,
    where the caller knows (else looked up when needed)."""
    q = clean(q)
    terms = words(q)
    if not terms:
        return queryset.none()
    fields = [field, also] if also else [field]
    if is_postgres():
        from django.contrib.postgres.search import TrigramWordSimilarity

        # A name that contains the query is a match (the trigram index serves ILIKE). The slower
        # similarity scan finds names with a typo ("mamal" -> "MAML"), but only where the query
        # is likely one: no paper's text matches it and no name contains it.
        match = Q()
        for f in fields:
            match |= Q(**{f"{f}__trgm_icontains": q})
        if len(terms) > 1:  # several words: each in the name, in any order
            match |= _all_words(fields, terms)
        elif not (text_matches(q) if text_found is None else text_found) and not (
            queryset.filter(match).exists()
        ):
            for f in fields:
                match |= Q(**{f"{f}__trigram_word_similar": q})
        score = TrigramWordSimilarity(q, field)
        if also:
            score = Greatest(score, TrigramWordSimilarity(q, also) * 0.9)
        return (
            queryset.filter(match)
            .annotate(score=score)
            .order_by("-score", Length(field), field, "pk")  # pk: names may repeat
        )
    return (
        queryset.filter(_all_words(fields, terms))
        .annotate(score=Value(1.0, output_field=FloatField()))
        .order_by(Length(field), field, "pk")
    )


def model_ids(q: str) -> QuerySet:
    """Ids of the models (results' row names) matching ``q``: a subquery."""
    return names(MLModel.objects.all(), q).values("pk")


def _papers_by_names(q: str) -> Q:
    """Papers with a result under a matching model name, or using a matching method."""
    by_model = Q(pk__in=Result.objects.filter(model__in=model_ids(q)).values("paper_id"))
    by_method = Q(methods__in=names(Method.objects.all(), q, also="full_name").values("pk"))
    return by_model | Q(pk__in=Paper.objects.filter(by_method).values("pk"))


# ---- papers ------------------------------------------------------------------------------


def _fts_available() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name = %s", [FTS_TABLE]
        )
        return cursor.fetchone() is not None


def _fts5_query(terms: list[str]) -> str:
    # Each word quoted (no FTS5 syntax from the user), implicit AND; the last one as a prefix.
    quoted = [f'"{t}"' for t in terms]
    quoted[-1] += "*"
    return " ".join(quoted)


def papers(q: str, queryset: QuerySet | None = None) -> QuerySet:
    """Papers matching ``q``, best first (annotated ``score``)."""
    q = clean(q)
    terms = words(q)
    queryset = Paper.objects.all() if queryset is None else queryset
    if not terms:
        return queryset.none()
    if is_postgres():
        return _papers_postgres(q, queryset)
    by_names = _papers_by_names(q) | Q(arxiv_id=q)
    bonus = Case(When(by_names, then=Value(NAME_BONUS)), default=Value(0.0))
    if _fts_available():
        match = _fts5_query(terms)
        ids = RawSQL(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s", [match])
        # bm25 is negative, lower is better: its negation, bounded, is the text score.
        rank = RawSQL(
            f"SELECT -bm25({FTS_TABLE}, 10.0, 5.0, 1.0) FROM {FTS_TABLE} "
            f"WHERE {FTS_TABLE} MATCH %s AND rowid = {Paper._meta.db_table}.id",
            [match],
            output_field=FloatField(),
        )
        text_score = Case(When(pk__in=ids, then=rank), default=Value(0.0))
        return (
            queryset.filter(Q(pk__in=ids) | by_names)
            .annotate(score=text_score + bonus)
            .order_by("-score", "-date", "pk")
        )
    match = Q()
    title_hits = Value(0.0)
    for term in terms:
        match &= Q(title__icontains=term) | Q(abstract__icontains=term) | Q(authors__icontains=term)
        hit = Case(When(title__icontains=term, then=Value(1.0)), default=Value(0.0))
        title_hits = title_hits + hit
    return (
        queryset.filter(match | by_names)
        .annotate(score=title_hits + bonus)
        .order_by("-score", "-date", "pk")
    )


# At full size a common word ("learning") matches nearly every paper: ranking, or even sorting,
# every match on each request took over a second. PostgreSQL ranks a bounded candidate set
# instead: the newest TEXT_CANDIDATES full-text matches plus the papers of the best NAME_MODELS
# matching model names and NAME_METHODS methods (at most NAME_CANDIDATES each). The planner
# finds a common word's newest matches by walking ``paper_newest_idx`` and testing each paper's
# vector until it has enough (a few hundred look-ups), a rare word's through the GIN index. The
# count is that of the candidates, so at most about 1,500; where more papers' text matches than
# were ranked, ``bound_of`` says so and the page and the APIs say what the count means.
TEXT_CANDIDATES = 500
NAME_MODELS = 50
NAME_METHODS = 20
NAME_CANDIDATES = 500


def note_of(queryset) -> str | None:
    """What the count of a bounded list means (``bound_note`` unless the list says)."""
    query = getattr(queryset, "query", None)
    bound = getattr(query, "search_bound", None)
    if not bound:
        return None
    return getattr(query, "bound_note", None) or f"the papers ranked, {bound_note(bound)}"


def bound_of(queryset) -> int | None:
    """``TEXT_CANDIDATES`` where ``queryset`` (from ``papers``) ranks only the newest
    ``TEXT_CANDIDATES`` of more papers whose text matches (its count is then that of the ranked
    candidates, not of every match); None where it ranks every match. Kept on the query, whose
    clones (slices, ``prefetch_related``, counts) carry it."""
    return getattr(getattr(queryset, "query", None), "search_bound", None)


def bound_note(bound: int) -> str:
    """What the count of a bounded paper search means, in words (the page and the APIs)."""
    return (
        f"the {bound:,} newest of the papers whose text matches (more papers match; a rarer "
        "word narrows the search) and those found through model or method names"
    )


def _name_candidates(q: str, found: bool) -> set[int]:
    """Ids of the papers with a result under one of the best ``NAME_MODELS`` model names matching
    ``q``, or using one of the best ``NAME_METHODS`` methods (at most ``NAME_CANDIDATES`` each):
    one query."""
    models = names(MLModel.objects.all(), q, text_found=found).values("pk")[:NAME_MODELS]
    methods = names(Method.objects.all(), q, also="full_name", text_found=found)
    by_model = (
        Result.objects.filter(model_id__in=models, paper__isnull=False)
        .order_by()
        .values_list("paper_id", flat=True)
        .distinct()[:NAME_CANDIDATES]
    )
    by_method = (
        Paper.methods.through.objects.filter(method_id__in=methods.values("pk")[:NAME_METHODS])
        .order_by()
        .values_list("paper_id", flat=True)
        .distinct()[:NAME_CANDIDATES]
    )
    return set(by_model.union(by_method, all=True))


def _papers_postgres(q: str, queryset: QuerySet) -> QuerySet:
    """Three queries: the newest text matches with their rank (one walk: each vector is read
    once), the name candidates, the rank of those not among the first; then the candidates are
    ordered here and the queryset lists them in that order (a page reads its own rows only)."""
    from django.contrib.postgres.search import SearchQuery, SearchRank

    query = SearchQuery(q, search_type="websearch", config="english")
    rank = Coalesce(SearchRank(F("search__vector"), query), 0.0)
    text = list(
        queryset.filter(search__vector=query)
        .order_by(F("date").desc(nulls_last=True), "-pk")
        .annotate(rank=rank)
        .values_list("pk", "rank", "date")[: TEXT_CANDIDATES + 1]
    )
    bounded = len(text) > TEXT_CANDIDATES  # more match than are ranked
    found = {pk: (r, date) for pk, r, date in text[:TEXT_CANDIDATES]}
    name_ids = _name_candidates(q, bool(found))  # text found: then a typo is unlikely
    others = queryset.filter(Q(pk__in=name_ids - found.keys()) | Q(arxiv_id=q)).annotate(rank=rank)
    found.update((pk, (r, date)) for pk, r, date in others.values_list("pk", "rank", "date"))

    def order(item):  # as ORDER BY score DESC, date DESC (nulls first), id
        pk, (r, date) = item
        score = r + (NAME_BONUS if pk in name_ids else 0.0)
        return (-score, date is not None, -(date.toordinal() if date else 0), pk)

    ids = [pk for pk, _ in sorted(found.items(), key=order)]
    # The ids as one array parameter (not one parameter each: cheaper to build and to send).
    column = f'"{Paper._meta.db_table}"."id"'
    listed = (
        queryset.filter(RawSQL(f"{column} = ANY(%s::bigint[])", [ids], BooleanField()))
        .annotate(position=RawSQL(f"array_position(%s::bigint[], {column})", [ids]))
        .order_by("position")
    )
    listed.query.search_bound = TEXT_CANDIDATES if bounded else None
    return listed


# ---- words of one field: the PWC API's ``title`` and ``abstract`` -------------------------

# A paper's title and abstract in the stored search vector (PostgreSQL) and the FTS5 table
# (SQLite): the weight, and the column.
FIELD_WEIGHTS = {"title": "A", "abstract": "C"}
FIELD_CANDIDATES = TEXT_CANDIDATES


def field_bound_note(bound: int, fields: list[str]) -> str:
    return (
        f"the papers listed, the {bound:,} newest of the papers whose {' and '.join(fields)} "
        "hold these words (more papers match; a rarer word narrows the list)"
    )


def papers_with_words(queryset: QuerySet, fields: dict[str, str]) -> QuerySet:
    """Papers of ``queryset`` whose title (or abstract, ...) holds every word of its value,
    stemmed as the search stems them, newest first then by title: the PWC API's ``title`` and
    ``abstract`` filters. Served by the search's indexes (the GIN index of the stored vector,
    each word restricted to the field's weight; SQLite's FTS5 table, by column), never by a
    scan of every abstract (Django's ``icontains`` was an unindexed 1.3-1.8 s ``UPPER() LIKE``
    at full size). Bounded as the search is: the newest ``FIELD_CANDIDATES`` matches are
    listed, found by walking the newest-papers index for a common word or through the GIN index
    for a rare one, and where more papers match, ``bound_of`` says so and the APIs say what the
    count means. A value with no word matches nothing."""
    terms = {field: words(clean(value)) for field, value in fields.items() if value}
    if not terms or not all(terms.values()):
        return queryset.none()
    if is_postgres():
        from django.contrib.postgres.search import SearchQuery

        raw = " & ".join(
            f"'{term}':{FIELD_WEIGHTS[field]}" for field, found in terms.items() for term in found
        )
        matches = queryset.filter(
            search__vector=SearchQuery(raw, search_type="raw", config="english")
        )
    elif _fts_available():
        match = " AND ".join(
            f"{field} : ({' AND '.join(f'{chr(34)}{t}{chr(34)}' for t in found)})"
            for field, found in terms.items()
        )
        ids = RawSQL(f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s", [match])
        matches = queryset.filter(pk__in=ids)
    else:
        match = Q()
        for field, found in terms.items():
            for term in found:
                match &= Q(**{f"{field}__icontains": term})
        matches = queryset.filter(match)
    newest = list(
        matches.order_by(F("date").desc(nulls_last=True), "-pk").values_list("pk", flat=True)[
            : FIELD_CANDIDATES + 1
        ]
    )
    listed = queryset.filter(pk__in=newest[:FIELD_CANDIDATES]).order_by(
        F("date").desc(nulls_last=True), "title", "pk"
    )
    if len(newest) > FIELD_CANDIDATES:
        listed.query.search_bound = FIELD_CANDIDATES
        listed.query.bound_note = field_bound_note(FIELD_CANDIDATES, list(terms))
    return listed


# ---- the other kinds ---------------------------------------------------------------------


def tasks(q: str, text_found: bool | None = None) -> QuerySet:
    return names(Task.objects.all(), q, text_found=text_found)


def datasets(q: str, text_found: bool | None = None) -> QuerySet:
    return names(Dataset.objects.all(), q, text_found=text_found)


def benchmarks(q: str, text_found: bool | None = None) -> QuerySet:
    return names(Benchmark.objects.select_related("dataset"), q, text_found=text_found)


def methods(q: str, text_found: bool | None = None) -> QuerySet:
    return names(Method.objects.all(), q, also="full_name", text_found=text_found)


def models(q: str, text_found: bool | None = None) -> QuerySet:
    return names(MLModel.objects.all(), q, text_found=text_found)


# ---- highlighting ------------------------------------------------------------------------


def _stem(term: str) -> str:
    """A crude stem for highlighting only: "learning" marks "learn", "learned", "learns"."""
    for suffix in ("ing", "ed", "es", "s"):
        if len(term) > len(suffix) + 3 and term.endswith(suffix):
            return term[: -len(suffix)]
    return term


def highlight(text: str, q: str) -> SafeString:
    """``text`` escaped, with the words of ``q`` (and their endings) wrapped in <mark>."""
    text = text or ""
    terms = sorted({_stem(t) for t in words(clean(q))}, key=len, reverse=True)
    if not terms:
        return escape(text)
    pattern = re.compile(r"\b(" + "|".join(re.escape(t) for t in terms) + r")\w*", re.I)
    out, last = [], 0
    for m in pattern.finditer(text):
        out.append(escape(text[last : m.start()]))
        out.append(f"<mark>{escape(m.group(0))}</mark>")
        last = m.end()
    out.append(escape(text[last:]))
    return mark_safe("".join(out))


def snippet(text: str, q: str, width: int = 240) -> SafeString:
    """Around the first matching word of ``text``, at most ``width`` characters, highlighted."""
    text = text or ""
    terms = [_stem(t) for t in words(clean(q))]
    start = 0
    lowered = text.lower()
    positions = [p for p in (lowered.find(t) for t in terms) if p >= 0]
    if positions:
        start = max(0, min(positions) - width // 3)
    piece = text[start : start + width]
    prefix = "… " if start > 0 else ""
    suffix = " …" if start + width < len(text) else ""
    return mark_safe(escape(prefix) + highlight(piece, q) + escape(suffix))
