"""The one guess of a metric's direction, where nothing says which way is better.

The archive's files carry no direction, and neither does a metric named through the catalogue's
find-or-create: the direction is then guessed here, from the metric's name, and for a name that
says nothing but the split it was measured on ("Dev", "Test") from its table's other metrics (a
table of losses reporting its cross-entropy as "Dev" and "Test"). Every guess is stored as such
(``Metric.direction_source`` / ``BenchmarkMetric.direction_source``), shown on the benchmark
page, and correctable by a curator (the admin, or the v1 API's ``is_loss``).

Pure functions, no database. How the stored direction is read (the curator's correction, else
the metric's own) is not decided here.
"""

import re

# Names of metrics for which less is better.
LOWER_IS_BETTER = re.compile(
    r"(?<![a-z])("
    r"error|errors|err|wer|cer|ter|per|eer|ece|bpc|bpb|bpd|bits?[ -]per[ -](?:char(?:acter)?|byte|"
    r"dim|dimension|pixel|sub-?pixel)|bits?/dim|nll|neg(?:ative)?[ -]?log[- ]?likelihood|"
    r"log[- ]?loss|logloss|cross[- ]?entropy|x-?ent|entropy|kl(?:[- ]divergence)?|divergence|"
    r"perplexity|ppl|mae|mse|rmse|rmsle|msle|mape|smape|medae|brier(?: score)?|"
    r"fid|kid|lpips|params|parameters|#?\s?params|flops|gflops|macs|"
    r"latency|inference time|runtime|run time|time|seconds|ms|"
    r"rank|mean rank|median rank|loss|losses|distance|regret|far|frr|miss rate|"
    r"abs ?rel|sq ?rel|chamfer|emd|hausdorff|epe|ade|fde|model size|memory|"
    r"log[- ]?likelihood loss"
    r")(?![a-z])",
    re.I,
)
# ... unless the name says it is a rate of something good ("Error reduction", "1 - error").
HIGHER_DESPITE = re.compile(
    r"reduction|accuracy|recall@|hits@|improvement|speed ?up|information gain|ssim|psnr", re.I
)
# Names that say only which split or what kind of figure was measured: their direction is the
# one their table's other metrics share ("Dev" and "Test" beside "Train Loss").
GENERIC = re.compile(
    r"^\s*(?:dev(?:elopment)?|test(?:ing)?|val(?:id(?:ation)?)?|train(?:ing)?|eval(?:uation)?|"
    r"held[- ]?out|in[- ]domain|out[- ]of[- ]domain|score|value|result|metric|overall|"
    r"average|avg|mean|public|private|leaderboard)"
    r"(?:\s*(?:set|split|score|result|value|\(\w+\)))?\s*$",
    re.I,
)

NAME = "name"  # guessed from the metric's own name
TABLE = "table"  # guessed from the table's other metrics


def name_says(metric_name: str) -> bool | None:
    """True (higher is better) or False (lower) where the name says so; None for a name that
    says nothing but the split ("Test")."""
    name = metric_name or ""
    if GENERIC.match(name):
        return None
    return bool(HIGHER_DESPITE.search(name)) or not LOWER_IS_BETTER.search(name)


def guess_higher_is_better(metric_name: str) -> bool:
    """The guess from the name alone (higher is better unless the name says otherwise)."""
    said = name_says(metric_name)
    return True if said is None else said


def guess_in_table(metric_name: str, others) -> tuple[bool, str]:
    """(higher_is_better, ``NAME`` or ``TABLE``): the name's guess, or, for a name that says
    nothing, the direction every other metric of the table shares by its name."""
    said = name_says(metric_name)
    if said is not None:
        return said, NAME
    theirs = {name_says(o) for o in others if o != metric_name} - {None}
    if len(theirs) == 1:
        return theirs.pop(), TABLE
    return True, NAME
