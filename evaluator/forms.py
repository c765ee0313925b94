"""The web forms: sign-up and submission. Checks shared with the API live in validation.py."""

import json

from django import forms
from django.contrib.auth import get_user_model
from django.contrib.auth.forms import UserCreationForm
from django.core.exceptions import ValidationError

from evaluator.models import Submission
from evaluator.validation import (
    CHECKPOINT_SUFFIX,
    MAX_CONFIG_BYTES,
    UploadTooLarge,
    check_model_index,
    check_submission,
    human_size,
    max_checkpoint_bytes,
    paper_fields,
    read_model_index,
)
from leaderboard.core.links import validate_http_url
from leaderboard.core.model_index import MAX_BYTES as MODEL_INDEX_BYTES
from leaderboard.core.model_index import MAX_ENTRIES as MODEL_INDEX_ENTRIES
from leaderboard.models import Benchmark, Metric, Paper


class SignUpForm(UserCreationForm):
    email = forms.EmailField(required=True, help_text="Where we can reach you about a claim.")

    class Meta(UserCreationForm.Meta):
        model = get_user_model()
        fields = ("username", "email")

    def clean_email(self):
        email = self.cleaned_data["email"].strip()
        if get_user_model().objects.filter(email__iexact=email).exists():
            raise ValidationError("An account with this email address exists already.")
        return email


# The benchmark menu's groups, in this order: what can be re-run now comes first.
VERIFIABLE = "Verifiable now: re-run by the reference implementation"
NO_DATA = "Not verifiable now: no data on the verification workers (refused)"
NO_RUNNER = "No reference runner: stored as unverifiable, not published"


def benchmark_groups(benchmarks) -> list[tuple[str, list]]:
    """The benchmarks by what the evaluator can do with them now (evaluator.protocols: a
    protocol, and its data present on the workers), verifiable first; empty groups left out."""
    from evaluator.protocols import data_problem, protocol_for_benchmark

    groups: dict[str, list] = {VERIFIABLE: [], NO_DATA: [], NO_RUNNER: []}
    for benchmark in benchmarks:
        protocol = protocol_for_benchmark(benchmark)
        if protocol is None:
            groups[NO_RUNNER].append(benchmark)
        elif data_problem(protocol):
            groups[NO_DATA].append(benchmark)
        else:
            groups[VERIFIABLE].append(benchmark)
    return [(label, items) for label, items in groups.items() if items]


def benchmark_metrics(benchmarks) -> dict[str, list[str]]:
    """Each benchmark's metric ids (as strings, like the menu's option values)."""
    metrics: dict[str, list[str]] = {str(b.pk): [] for b in benchmarks}
    pairs = Benchmark.metrics.through.objects.values_list("benchmark_id", "metric_id")
    for benchmark_id, metric_id in pairs.order_by("metric_id"):
        if str(benchmark_id) in metrics:
            metrics[str(benchmark_id)].append(str(metric_id))
    return metrics


class SubmissionForm(forms.Form):
    MODE_CHOICES = [
        ("transductive", "Transductive batch norm (statistics of the query batch)"),
        ("non-transductive", "Non-transductive"),
    ]

    benchmark = forms.ModelChoiceField(
        queryset=Benchmark.objects.order_by("name"), empty_label="Choose a benchmark"
    )
    metric = forms.ModelChoiceField(
        queryset=Metric.objects.order_by("name"), empty_label="Choose a metric"
    )
    claimed_value = forms.FloatField(
        label="Claimed value",
        error_messages={"invalid": "Enter a finite number."},
        widget=forms.NumberInput(attrs={"step": "any"}),
    )
    model_name = forms.CharField(max_length=300, label="Model name", help_text='e.g. "MAML"')
    evaluation_mode = forms.ChoiceField(
        choices=MODE_CHOICES, initial="transductive", widget=forms.RadioSelect
    )
    uses_additional_data = forms.BooleanField(required=False, label="Uses extra training data")
    checkpoint_public = forms.BooleanField(
        required=False,
        initial=True,
        label="Checkpoint public",
        help_text="Anyone may download the checkpoint from the result's evidence page, to re-run "
        "it. Unticked, only the figures are public.",
    )

    paper = forms.ModelChoiceField(
        queryset=Paper.objects.order_by("title"),
        required=False,
        empty_label="A new paper (give its details below)",
        label="Paper",
    )
    paper_title = forms.CharField(max_length=500, required=False, label="New paper: title")
    paper_arxiv_id = forms.CharField(
        max_length=200, required=False, label="arXiv id or URL", help_text="e.g. 1703.03400"
    )
    paper_url = forms.URLField(
        max_length=500,
        required=False,
        label="Paper URL",
        assume_scheme="https",
        validators=[validate_http_url],
    )
    paper_authors = forms.CharField(
        required=False,
        max_length=5000,
        label="Authors",
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="One per line, or separated by commas",
    )
    paper_date = forms.DateField(
        required=False, label="Date", widget=forms.DateInput(attrs={"type": "date"})
    )

    kind = forms.ChoiceField(
        choices=Submission.Kind.choices, initial=Submission.Kind.EVALUATE, widget=forms.RadioSelect
    )
    checkpoint = forms.FileField(
        required=False,
        help_text=f"A {CHECKPOINT_SUFFIX} file of the meta-learned initialisation, "
        f"at most {human_size(max_checkpoint_bytes())}. Pickled (.pt, .pth) files are refused.",
        widget=forms.ClearableFileInput(attrs={"accept": CHECKPOINT_SUFFIX}),
    )
    config = forms.CharField(
        required=False,
        max_length=MAX_CONFIG_BYTES,
        label="Training configuration (JSON)",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
    )
    config_file = forms.FileField(
        required=False,
        label="…or a configuration file",
        widget=forms.ClearableFileInput(attrs={"accept": ".json,application/json"}),
    )

    model_index = forms.CharField(
        required=False,
        max_length=MODEL_INDEX_BYTES,
        label="…or the claims as a model-index block (YAML)",
        widget=forms.Textarea(attrs={"rows": 6, "spellcheck": "false"}),
        help_text="A model card's model-index metadata (paperswithcode/model-index): one claim "
        f"per metric of each result, at most {MODEL_INDEX_ENTRIES}, in place of the benchmark, "
        "metric, value and model name above; each is checked on the artefact below.",
    )
    model_index_file = forms.FileField(
        required=False,
        label="…or a model-index file",
        widget=forms.ClearableFileInput(attrs={"accept": ".yaml,.yml,.md,text/yaml"}),
    )

    #: The claim's own fields: required unless a model-index block gives the claims.
    CLAIM_FIELDS = ("benchmark", "metric", "claimed_value", "model_name")

    def __init__(self, *args, upload_too_large: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.upload_too_large = upload_too_large
        self.submission_kwargs: dict | None = None
        self.claims: list[dict] = []
        for name in self.CLAIM_FIELDS:
            self.fields[name].required = False
        field = self.fields["benchmark"]
        benchmarks = list(field.queryset)
        # Grouped, verifiable first; the group headings mark them. Validation still goes by the
        # queryset (and check_submission refuses a benchmark without its data).
        field.choices = [("", field.empty_label)] + [
            (label, [(b.pk, field.label_from_instance(b)) for b in items])
            for label, items in benchmark_groups(benchmarks)
        ]
        field.help_text = (
            "Grouped by what the reference implementation can check now: verifiable ones first."
        )
        # Read by evaluator/static/evaluator/submit.js to offer only the benchmark's metrics.
        field.widget.attrs["data-metrics"] = json.dumps(benchmark_metrics(benchmarks))

    def clean(self):
        data = super().clean()
        if self.upload_too_large:
            field = self.upload_too_large if self.upload_too_large in self.fields else "checkpoint"
            self.add_error(field, UploadTooLarge(max_checkpoint_bytes()))
            return data
        try:
            block = read_model_index(data.get("model_index"), data.get("model_index_file"))
        except ValidationError as exc:
            self.add_error("model_index", exc)
            return data
        if block is None:
            for name in self.CLAIM_FIELDS:
                if name not in self.errors and data.get(name) in (None, ""):
                    self.add_error(name, self.fields[name].error_messages["required"])
        elif data.get("claimed_value") is not None:
            self.add_error("model_index", "Give the claim by its fields or by a block, not both.")
            return data
        if any(f in self.errors for f in ("benchmark", "metric", "claimed_value")):
            return data
        config = data.get("config") or data.get("config_file")
        if data.get("config") and data.get("config_file"):
            self.add_error("config", "Paste the configuration or upload it, not both.")
            return data
        if block is not None:
            self._clean_model_index(block, data, config)
            return data
        try:
            self.submission_kwargs = check_submission(
                benchmark=data.get("benchmark"),
                metric=data.get("metric"),
                claimed_value=data.get("claimed_value"),
                kind=data.get("kind"),
                checkpoint=data.get("checkpoint") or None,
                config=config or None,
                paper=data.get("paper"),
                paper_fields=paper_fields(data),
            )
        except UploadTooLarge as exc:
            self.add_error("checkpoint", exc)
        except ValidationError as exc:
            for field, errors in exc.error_dict.items():
                self.add_error(field if field in self.fields else None, errors)
        return data

    def _clean_model_index(self, block: str, data: dict, config) -> None:
        try:
            self.claims = check_model_index(
                block,
                kind=data.get("kind"),
                checkpoint=data.get("checkpoint") or None,
                config=config or None,
                paper=data.get("paper"),
                paper_fields=paper_fields(data),
            )
        except UploadTooLarge as exc:
            self.add_error("checkpoint", exc)
        except ValidationError as exc:
            for field, errors in exc.error_dict.items():
                self.add_error(field if field in self.fields else None, errors)

    def create_kwargs_list(self) -> list[dict]:
        """What ``create_submission`` takes for each claim, once the form is valid: one, or
        one per claim of the model-index block."""
        if not self.claims:
            return [self.create_kwargs()]
        shared = {
            "transductive": self.cleaned_data["evaluation_mode"] == "transductive",
            "uses_additional_data": self.cleaned_data["uses_additional_data"],
            "checkpoint_public": self.cleaned_data["checkpoint_public"],
        }
        return [{**claim, **shared} for claim in self.claims]

    def create_kwargs(self) -> dict:
        """What ``create_submission`` takes, once the form is valid."""
        assert self.submission_kwargs is not None
        return {
            **self.submission_kwargs,
            "model_name": self.cleaned_data["model_name"].strip(),
            "transductive": self.cleaned_data["evaluation_mode"] == "transductive",
            "uses_additional_data": self.cleaned_data["uses_additional_data"],
            "checkpoint_public": self.cleaned_data["checkpoint_public"],
        }
