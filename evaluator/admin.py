"""Curators' admin: list, filter and search submissions and runs; re-queue, cancel, override.

Every act goes through ``evaluator.services`` and is recorded as a RunEvent with its actor.
Runs and their evidence are read-only here: the pipeline writes them, a curator only acts.
"""

from django import forms
from django.contrib import admin, messages
from django.template.response import TemplateResponse

from leaderboard.core.links import admin_formfield_overrides

from . import services
from .models import Run, RunEvent, Submission

# The admin's log-in has the site's lock-out (django-axes, configured in evaluator/limits.py).


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False
    show_change_link = True

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class RunInline(ReadOnlyInline):
    model = Run
    fields = (
        "status",
        "phase",
        "attempts",
        "reproduced_value",
        "ci95",
        "result",
        "same_checkpoint_as",
        "reason",
        "created_at",
    )
    readonly_fields = fields


class RunEventInline(ReadOnlyInline):
    model = RunEvent
    fields = ("at", "kind", "actor", "message")
    readonly_fields = fields
    show_change_link = False


@admin.register(Submission)
class SubmissionAdmin(admin.ModelAdmin):
    formfield_overrides = admin_formfield_overrides()
    list_display = (
        "id",
        "model_name",
        "benchmark",
        "claimed_value",
        "kind",
        "transductive",
        "owner",
        "status",
        "created_at",
    )
    list_filter = ("kind", "transductive", "benchmark", "runs__status")
    search_fields = ("model_name", "owner__username", "paper__title", "paper_title", "protocol")
    list_select_related = ("benchmark", "owner")
    # The claim and its artefact are evidence: read-only. A curator may relink the paper
    # (merging duplicates); verdicts change only through the actions, which are recorded.
    readonly_fields = (
        "owner",
        "benchmark",
        "metric",
        "claimed_value",
        "model_name",
        "transductive",
        "uses_additional_data",
        "kind",
        "checkpoint",
        "checkpoint_sha256",
        "config",
        "protocol",
        "created_at",
    )
    raw_id_fields = ("paper",)
    inlines = [RunInline]
    actions = ["requeue"]
    date_hierarchy = "created_at"

    @admin.display(description="status")
    def status(self, obj: Submission) -> str:
        run = obj.current_run
        return run.status if run else "-"

    def has_delete_permission(self, request, obj=None):
        return False  # nothing is deleted: a rejected claim stays with its evidence

    @admin.action(description="Re-queue: a new verification run", permissions=["change"])
    def requeue(self, request, queryset):
        _requeue(self, request, queryset)


def _requeue(modeladmin, request, submissions) -> None:
    done, skipped = 0, 0
    for submission in submissions:
        if services.requeue(submission, actor=request.user):
            done += 1
        else:
            skipped += 1
    modeladmin.message_user(request, f"Re-queued {done} submission(s).", messages.SUCCESS)
    if skipped:
        modeladmin.message_user(
            request,
            f"Skipped {skipped}: a run is already queued or running, or no runner can check it.",
            messages.WARNING,
        )


class OverrideForm(forms.Form):
    verdict = forms.ChoiceField(
        choices=[(Run.Status.VERIFIED, "verified (publish)"), (Run.Status.REJECTED, "rejected")]
    )
    reason = forms.CharField(widget=forms.Textarea(attrs={"rows": 3}), max_length=2000)


@admin.register(Run)
class RunAdmin(admin.ModelAdmin):
    list_display = (
        "id",
        "submission",
        "status",
        "phase",
        "progress_percent",
        "attempts",
        "reproduced_value",
        "ci95",
        "host",
        "created_at",
    )
    list_filter = ("status", "protocol", "evaluation_mode", "submission__kind")
    search_fields = (
        "submission__model_name",
        "submission__owner__username",
        "worker",
        "host",
        "reason",
    )
    list_select_related = ("submission__benchmark",)
    date_hierarchy = "created_at"
    inlines = [RunEventInline]
    actions = ["requeue", "cancel", "override"]
    exclude = ("episode_scores",)

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Run._meta.fields if f.name != "episode_scores"] + [
            "episodes_scored"
        ]

    @admin.display(description="per-episode scores")
    def episodes_scored(self, obj: Run) -> str:
        n = len(obj.episode_scores or [])
        return f"{n} episodes" if n else "-"

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Re-queue the submission: a new run", permissions=["change"])
    def requeue(self, request, queryset):
        submissions = Submission.objects.filter(runs__in=queryset).distinct()
        _requeue(self, request, submissions)

    @admin.action(description="Cancel (queued or running)", permissions=["change"])
    def cancel(self, request, queryset):
        done = sum(services.cancel(run, actor=request.user) for run in queryset)
        self.message_user(request, f"Cancelled {done} run(s).", messages.SUCCESS)
        if done < len(queryset):
            self.message_user(
                request,
                f"{len(queryset) - done} run(s) had already ended and were left as they are.",
                messages.WARNING,
            )

    @admin.action(description="Override the verdict (verify or reject)…", permissions=["change"])
    def override(self, request, queryset):
        form = OverrideForm(request.POST if "apply" in request.POST else None)
        if form.is_valid():
            done, busy = 0, 0
            for run in queryset:
                try:
                    ok = services.override(
                        run, form.cleaned_data["verdict"], form.cleaned_data["reason"], request.user
                    )
                except services.NothingMeasured as exc:
                    self.message_user(request, str(exc), messages.ERROR)
                    continue
                done += ok
                busy += not ok
            self.message_user(request, f"Overrode {done} run(s).", messages.SUCCESS)
            if busy:
                self.message_user(
                    request, f"{busy} running run(s) left alone: cancel first.", messages.WARNING
                )
            return None
        context = {
            **self.admin_site.each_context(request),
            "title": "Override the verdict",
            "opts": self.model._meta,
            "runs": queryset,
            "form": form,
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "admin/evaluator/run/override.html", context)


@admin.register(RunEvent)
class RunEventAdmin(admin.ModelAdmin):
    list_display = ("at", "run", "kind", "actor", "message")
    list_filter = ("kind",)
    search_fields = ("message", "actor__username")
    list_select_related = ("run", "actor")

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
