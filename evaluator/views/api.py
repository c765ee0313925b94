"""``/api/submissions/``: create (token, multipart), list the caller's own, show one."""

from drf_spectacular.utils import extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import APIException, Throttled
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from evaluator.limits import (
    ActiveRunLimit,
    SubmissionAttemptThrottle,
    SubmissionRateLimit,
    rate_message,
    submission_wait,
)
from evaluator.permissions import IsOwnerOrStaff, own_submissions, visible_submissions
from evaluator.serializers import (
    PayloadTooLarge,
    SubmissionCreateJSONSerializer,
    SubmissionCreateSerializer,
    SubmissionDetailSerializer,
    SubmissionSerializer,
)
from evaluator.services import cancel_by_owner, create_submissions
from evaluator.validation import (
    MAX_CONFIG_BYTES,
    UploadTooLarge,
    declared_body_too_large,
    install_upload_bound,
    max_checkpoint_bytes,
)
from leaderboard.api.pagination import ApiPagination
from leaderboard.core.parsers import BoundedJSONParser

JSON_LIMIT = MAX_CONFIG_BYTES + 64 * 1024


def _length(request) -> int:
    try:
        return int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return 0


class ActiveRunsRefused(APIException):
    status_code = status.HTTP_429_TOO_MANY_REQUESTS
    default_detail = "Too many active runs."
    default_code = "active_runs"


class SubmissionPagination(ApiPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class SubmissionViewSet(
    mixins.CreateModelMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    viewsets.GenericViewSet,
):
    """Submit a claim with its checkpoint or training configuration; follow its verification.

    The list holds the caller's own submissions; a submission of someone else is not found.
    """

    permission_classes = [IsAuthenticated, IsOwnerOrStaff]
    parser_classes = [MultiPartParser, FormParser, BoundedJSONParser]
    filter_backends: list = []
    pagination_class = SubmissionPagination

    def initialize_request(self, request, *args, **kwargs):
        # Before anything parses the body: the checkpoint is read up to its limit, no further.
        install_upload_bound(request)
        return super().initialize_request(request, *args, **kwargs)

    def get_throttles(self):
        # Submitting is limited per user (evaluator/limits.py): every attempt counted here,
        # stored submissions in the transaction that stores one; reading is not limited.
        return [SubmissionAttemptThrottle()] if self.action == "create" else []

    def get_queryset(self):
        user = self.request.user
        qs = own_submissions(user) if self.action == "list" else visible_submissions(user)
        return qs.prefetch_related("runs")

    def get_serializer_class(self):
        if self.action == "create":
            return SubmissionCreateSerializer
        if self.action == "retrieve":
            return SubmissionDetailSerializer
        return SubmissionSerializer

    @extend_schema(
        request={
            "multipart/form-data": SubmissionCreateSerializer,
            "application/json": SubmissionCreateJSONSerializer,
            "application/x-www-form-urlencoded": SubmissionCreateJSONSerializer,
        },
        responses={201: SubmissionDetailSerializer},
    )
    def create(self, request, *args, **kwargs):
        wait = submission_wait(request.user)  # before the body is read
        if wait is not None:
            raise Throttled(wait, rate_message(wait))
        too_large = UploadTooLarge(max_checkpoint_bytes()).messages
        if declared_body_too_large(request._request):
            raise PayloadTooLarge({"checkpoint": too_large})
        if request.content_type.startswith("application/json") and _length(request) > JSON_LIMIT:
            # A JSON body is read whole: it only carries a claim and a configuration.
            raise PayloadTooLarge({"detail": f"A JSON body is limited to {JSON_LIMIT} bytes."})
        data = request.data  # parses the body, bounded by the upload handler
        if getattr(request._request, "upload_too_large", None):
            raise PayloadTooLarge({request._request.upload_too_large: too_large})
        serializer = self.get_serializer(data=data)
        serializer.is_valid(raise_exception=True)
        claims = serializer.validated_data.get("claims") or [serializer.validated_data]
        try:
            created = create_submissions(request.user, claims)
        except SubmissionRateLimit as exc:
            raise Throttled(exc.wait, str(exc)) from None
        except ActiveRunLimit as exc:
            raise ActiveRunsRefused(str(exc)) from None
        submission = self.get_queryset().get(pk=created[0].pk)
        context = {**self.get_serializer_context(), "batch": [s.pk for s in created]}
        body = SubmissionDetailSerializer(submission, context=context).data
        return Response(body, status=status.HTTP_201_CREATED)

    @extend_schema(request=None, responses={200: SubmissionDetailSerializer})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        """Cancel the submission's queued or running run (the owner or staff; 404 for others).
        409 when it has already ended."""
        submission = self.get_object()
        if not cancel_by_owner(submission, request.user):
            return Response(
                {"detail": "Nothing to cancel: the run has already ended."},
                status=status.HTTP_409_CONFLICT,
            )
        submission = self.get_queryset().get(pk=submission.pk)
        body = SubmissionDetailSerializer(submission, context=self.get_serializer_context()).data
        return Response(body)
