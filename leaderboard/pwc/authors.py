"""``/api/v1/authors/``: the names of papers' author lists (``leaderboard/authors.py``), an
author's id being the slug of the name. ``q`` and ``full_name`` find the authors whose name holds
every word given, among the papers the site's search finds for those words (so a filter reads
the search indexes, never every author row)."""

from django.db.models import Min
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from leaderboard import search
from leaderboard.models import Paper, PaperAuthor
from leaderboard.pwc import serializers as s
from leaderboard.pwc.views import PAGE_PARAMS, V1ViewSet, _param, _q

CANDIDATE_PAPERS = 2000


class PwcAuthorSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The slug of the name")
    full_name = serializers.CharField()

    def to_representation(self, a):
        return {"id": a["slug"], "full_name": a["full_name"]}


def authors(*texts):
    rows = PaperAuthor.objects.all()
    for text in texts:
        if not text:
            continue
        papers = search.papers(text).values_list("pk", flat=True)[:CANDIDATE_PAPERS]
        rows = rows.filter(paper_id__in=list(papers))
        for word in search.words(search.clean(text)):
            rows = rows.filter(name__icontains=word)
    return rows.values("slug").annotate(full_name=Min("name")).order_by("slug")


@extend_schema(tags=["pwc v1"])
@extend_schema_view(
    list=extend_schema(
        parameters=[
            *PAGE_PARAMS,
            _param("q", "Words of the name"),
            _param("full_name", "Words of the name"),
        ]
    )
)
class AuthorViewSet(V1ViewSet):
    """Authors of the catalogue's papers; ``papers`` lists an author's, newest first."""

    serializer_class = PwcAuthorSerializer
    lookup_field = "slug"

    def get_queryset(self):
        if self.action == "list":
            return authors(_q(self.request, "q"), _q(self.request, "full_name"))
        return PaperAuthor.objects.all()

    def get_object(self):
        found = authors().filter(slug=self.kwargs["id"]).first()
        if found is None:
            from django.http import Http404

            raise Http404("Not found.")
        return found

    @extend_schema(responses=PwcAuthorSerializer)
    def retrieve(self, request, *args, **kwargs):
        return Response(PwcAuthorSerializer(self.get_object()).data)

    @extend_schema(parameters=PAGE_PARAMS, responses=s.PwcPaperSerializer(many=True))
    @action(detail=True)
    def papers(self, request, id=None):
        self.get_object()
        ids = PaperAuthor.objects.filter(slug=id).values("paper_id")
        papers = Paper.objects.filter(pk__in=ids).order_by("-date", "title", "pk")
        return self.page_of(papers, s.PwcPaperSerializer)
