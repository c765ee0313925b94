"""The protocols registry: data, and the validation of training configurations."""

import pytest
from django.core.exceptions import ValidationError

from evaluator.protocols import (
    EVALUATE,
    MAX_HARD_TIME_LIMIT,
    PROTOCOLS,
    REPRODUCE,
    protocol_by_maml_name,
    protocol_for_benchmark,
    to_train_config,
    unverifiable_reason,
    validate_training_config,
)

BENCHMARKS = {
    "OMNIGLOT - 1-Shot, 5-way": "omniglot-5w1s",
    "OMNIGLOT - 5-Shot, 5-way": "omniglot-5w5s",
    "OMNIGLOT - 1-Shot, 20-way": "omniglot-20w1s",
    "OMNIGLOT - 5-Shot, 20-way": "omniglot-20w5s",
    "Sinusoid Regression (10-shot)": "sinusoid-10shot",
}


@pytest.mark.parametrize(("benchmark", "maml_name"), BENCHMARKS.items())
def test_each_benchmark_maps_to_a_maml_ref_protocol(benchmark, maml_name):
    from maml_ref.protocols import get_protocol

    protocol = protocol_for_benchmark(benchmark)
    assert protocol.maml_protocol == maml_name
    assert protocol_by_maml_name(maml_name) is protocol
    reference = get_protocol(maml_name)
    # The direction of the metric agrees with the reference implementation's.
    assert protocol.higher_is_better == reference.higher_is_better
    assert protocol.supports(EVALUATE) and protocol.supports(REPRODUCE)
    assert protocol.queue_for(EVALUATE) == "cpu"
    assert protocol.queue_for(REPRODUCE) == "gpu"
    for kind in (EVALUATE, REPRODUCE):
        limits = protocol.limits_for(kind)
        assert 0 < limits.soft < limits.hard <= MAX_HARD_TIME_LIMIT


def test_sinusoid_is_mse_lower_is_better_and_omniglot_accuracy():
    assert protocol_for_benchmark("Sinusoid Regression (10-shot)").metric_name == "MSE"
    assert not protocol_for_benchmark("Sinusoid Regression (10-shot)").higher_is_better
    assert protocol_for_benchmark("OMNIGLOT - 1-Shot, 5-way").metric_name == "Accuracy"


def test_a_benchmark_without_runner_has_no_protocol():
    assert protocol_for_benchmark("Mini-ImageNet - 1-Shot Learning") is None
    assert "No reference runner" in unverifiable_reason(None, EVALUATE, "Accuracy")


def test_a_claim_in_another_metric_is_unverifiable():
    protocol = PROTOCOLS["OMNIGLOT - 1-Shot, 5-way"]
    assert unverifiable_reason(protocol, EVALUATE, "Accuracy") is None
    assert "reports Accuracy, not Top-5" in unverifiable_reason(protocol, EVALUATE, "Top-5")


def test_the_redis_visibility_timeout_exceeds_every_hard_limit(settings):
    # settings.py cannot import the registry; this keeps its default honest.
    from config import settings as project_settings

    assert 25 * 3600 > MAX_HARD_TIME_LIMIT
    assert project_settings.EVALUATOR_STALE_AFTER_SECONDS > (
        2 * project_settings.EVALUATOR_HEARTBEAT_SECONDS
    )


def test_a_valid_config_gets_the_papers_recipe_for_absent_keys():
    protocol = PROTOCOLS["OMNIGLOT - 1-Shot, 20-way"]
    clean = validate_training_config(protocol, {"meta_iterations": 100, "seed": 3})
    assert clean["meta_iterations"] == 100
    assert clean["seed"] == 3
    assert set(clean) == set(protocol.config_schema)
    # 20-way Omniglot: 5 inner steps of 0.1, 16 tasks per update (the paper's appendix A.1).
    assert (clean["inner_steps"], clean["inner_lr"], clean["meta_batch_size"]) == (5, 0.1, 16)


def test_a_config_maps_onto_maml_refs_train_config():
    from maml_ref.protocols import get_protocol
    from maml_ref.train import TrainConfig

    protocol = PROTOCOLS["Sinusoid Regression (10-shot)"]
    clean = validate_training_config(protocol, {"meta_iterations": 7, "first_order": True})
    config = TrainConfig.from_dict(
        to_train_config(protocol, clean), get_protocol("sinusoid-10shot")
    )
    assert (config.iterations, config.first_order, config.meta_batch) == (7, True, 25)


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"learning_rate": 0.1}, "Unknown key(s): learning_rate"),
        ({"meta_iterations": "100"}, "meta_iterations: expected an integer"),
        ({"meta_iterations": 2.5}, "meta_iterations: expected an integer"),
        ({"meta_iterations": True}, "meta_iterations: expected a number"),
        ({"first_order": 1}, "first_order: expected true or false"),
        ({"meta_iterations": 10**9}, "over the budget limit"),
        ({"meta_batch_size": 0}, "below the minimum"),
        ({"inner_steps": 50}, "inner_steps: 50 is over the budget limit 10"),
        ({"meta_lr": float("nan")}, "meta_lr: expected a finite number"),
        ({"inner_lr": float("inf")}, "inner_lr: expected a finite number"),
    ],
)
def test_it_refuses_a_bad_config_with_a_readable_message(config, message):
    protocol = PROTOCOLS["OMNIGLOT - 1-Shot, 5-way"]
    with pytest.raises(ValidationError) as excinfo:
        validate_training_config(protocol, config)
    assert any(message in m for m in excinfo.value.messages), excinfo.value.messages


def test_it_refuses_a_total_budget_over_the_limit():
    protocol = PROTOCOLS["OMNIGLOT - 1-Shot, 20-way"]
    with pytest.raises(ValidationError, match="Budget"):
        validate_training_config(protocol, {"meta_iterations": 60000, "meta_batch_size": 32})


def test_it_refuses_a_config_that_is_not_an_object():
    with pytest.raises(ValidationError, match="JSON object"):
        validate_training_config(PROTOCOLS["OMNIGLOT - 1-Shot, 5-way"], [1, 2])


def test_it_reports_every_problem_at_once():
    protocol = PROTOCOLS["OMNIGLOT - 1-Shot, 5-way"]
    with pytest.raises(ValidationError) as excinfo:
        validate_training_config(protocol, {"bogus": 1, "inner_steps": 0, "seed": -1})
    assert len(excinfo.value.messages) == 3


def test_omniglot_configs_may_ask_for_the_official_fixed_task_pool():
    from maml_ref.protocols import get_protocol
    from maml_ref.train import TrainConfig

    omniglot = PROTOCOLS["OMNIGLOT - 1-Shot, 5-way"]
    assert validate_training_config(omniglot, {})["task_pool"] == 0  # fresh tasks by default
    clean = validate_training_config(omniglot, {"task_pool": 200000})
    config = TrainConfig.from_dict(to_train_config(omniglot, clean), get_protocol("omniglot-5w1s"))
    assert config.task_pool == 200000
    with pytest.raises(ValidationError, match="task_pool: 2000000 is over the budget limit"):
        validate_training_config(omniglot, {"task_pool": 2_000_000})
    sinusoid = PROTOCOLS["Sinusoid Regression (10-shot)"]
    with pytest.raises(ValidationError, match="Unknown key"):
        validate_training_config(sinusoid, {"task_pool": 100})
