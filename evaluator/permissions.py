"""Who may see a submission: its owner, and staff (curators). Nobody else learns it exists."""

from rest_framework import permissions

from evaluator.models import Submission


def visible_submissions(user):
    """Submissions ``user`` may open: their own, or every one for staff."""
    qs = Submission.objects.select_related("benchmark", "metric", "paper", "owner")
    if not user.is_authenticated:
        return qs.none()
    return qs if user.is_staff else qs.filter(owner=user)


def own_submissions(user):
    """The user's own submissions, newest first (what the lists show, staff included)."""
    return (
        visible_submissions(user).filter(owner=user)
        if user.is_authenticated
        else (Submission.objects.none())
    )


class IsOwnerOrStaff(permissions.BasePermission):
    message = "This submission is not yours."

    def has_object_permission(self, request, view, obj):
        return request.user.is_staff or obj.owner_id == request.user.id
