"""The CUDA path, checked against the CPU (marked `gpu`: where no CUDA device exists, as in CI,
every test here is skipped with a reason naming the marker; tests/conftest.py).

On the same batches from the same initialisation: the meta-gradient, a short meta-training
(second order, the paper's recipe but 8 tasks) and the evaluation on fixed test episodes agree
with the CPU's within float32 tolerance (never run: no GPU was lent to this work; the tolerances
are reasoned, not yet seen); a training stopped and resumed on the GPU agrees with one
run in one go; and a worker with no MAML_DEVICE set picks CUDA for its runs.
"""

import pytest
import torch

from maml_ref.api import pick_device
from maml_ref.evaluate import evaluate_params
from maml_ref.maml import InnerLoop, meta_gradient
from maml_ref.model import init_params
from maml_ref.protocols import get_protocol
from maml_ref.state import load_state
from maml_ref.train import EpisodeStream, TrainConfig, meta_train

pytestmark = pytest.mark.gpu

PROTOCOL = get_protocol("omniglot-5w1s")
#: Conv biases sit before a batch norm: their meta-gradient is zero up to round-off, and Adam
#: turns round-off of either sign into a step of its full size, so they are compared apart.
BEFORE_BATCH_NORM = {f"conv{i}.bias" for i in range(1, 5)}


def scaled_error(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest difference over the larger tensor's largest magnitude."""
    a, b = a.double().cpu(), b.double().cpu()
    return float((a - b).abs().max() / max(a.abs().max(), b.abs().max(), 1e-30))


def relative_norm(a: torch.Tensor, b: torch.Tensor) -> float:
    """||a - b|| / ||a||: after Adam steps, an element whose gradient is round-off on either
    device takes a step of the full learning rate either way, so the largest difference says
    little; the norm says whether the two trainings went the same way."""
    a, b = a.double().cpu(), b.double().cpu()
    return float((a - b).norm() / max(float(a.norm()), 1e-30))


def test_cuda_is_picked_by_default_and_runs_full_float32():
    assert pick_device().type == "cuda"
    assert not torch.backends.cudnn.allow_tf32  # TF32 would not be float32 (1e-3 relative)


def test_the_meta_gradient_on_cuda_equals_the_cpus(synthetic_pool):
    config = TrainConfig.from_dict({"meta_batch": 8}, PROTOCOL)
    batch = EpisodeStream(PROTOCOL, config, synthetic_pool).next()
    params = init_params(PROTOCOL.arch, torch.Generator().manual_seed(0))
    inner = InnerLoop(config.inner_steps, config.inner_lr)
    cpu_grads, cpu_loss = meta_gradient(
        {k: v.clone().requires_grad_() for k, v in params.items()}, batch, PROTOCOL.arch, inner
    )
    gpu = pick_device("cuda")
    gpu_grads, gpu_loss = meta_gradient(
        {k: v.to(gpu).requires_grad_() for k, v in params.items()},
        batch.to(gpu),
        PROTOCOL.arch,
        inner,
    )
    assert gpu_loss == pytest.approx(cpu_loss, rel=1e-5)
    for name, g in cpu_grads.items():
        assert gpu_grads[name].device.type == "cuda"
        if name in BEFORE_BATCH_NORM:  # zero up to round-off on both
            weight = cpu_grads[name.replace("bias", "weight")].abs().max()
            assert max(g.abs().max(), gpu_grads[name].abs().max().cpu()) < 1e-4 * weight, name
        else:
            assert scaled_error(g, gpu_grads[name]) < 1e-4, name


def test_training_and_evaluating_on_cuda_agree_with_the_cpu(synthetic_pool):
    config = TrainConfig.from_dict({"iterations": 20, "meta_batch": 8, "seed": 3}, PROTOCOL)
    on_cpu = meta_train(PROTOCOL, config, synthetic_pool, device="cpu")
    on_gpu = meta_train(PROTOCOL, config, synthetic_pool, device=pick_device("cuda"))
    assert all(v.device.type == "cuda" for v in on_gpu.values())
    for name, value in on_cpu.items():
        if name not in BEFORE_BATCH_NORM:
            assert relative_norm(value, on_gpu[name]) < 1e-2, name
    cpu_scores, fixed = evaluate_params(on_cpu, PROTOCOL, synthetic_pool, episodes=200)
    gpu_scores, fixed_gpu = evaluate_params(
        on_gpu, PROTOCOL, synthetic_pool, episodes=200, device=pick_device("cuda")
    )
    assert fixed.fingerprint == fixed_gpu.fingerprint  # the same episodes
    differ = sum(a != b for a, b in zip(cpu_scores, gpu_scores, strict=True))
    assert differ <= 5, f"{differ} of 200 episodes scored differently"
    assert sum(gpu_scores) / 200 == pytest.approx(sum(cpu_scores) / 200, abs=0.5)
    # The same CPU weights evaluated on either device: the float64 adaptation agrees.
    again, _ = evaluate_params(
        on_cpu, PROTOCOL, synthetic_pool, episodes=200, device=pick_device("cuda")
    )
    assert sum(a != b for a, b in zip(cpu_scores, again, strict=True)) <= 1


def test_a_training_resumed_on_cuda_agrees_with_one_in_one_go(
    synthetic_pool, tmp_path, monkeypatch
):
    # cuDNN may pick non-deterministic kernels (atomics): not bitwise, as on the CPU; close.
    monkeypatch.setattr(torch.backends.cudnn, "deterministic", True)
    monkeypatch.setattr(torch.backends.cudnn, "benchmark", False)
    config = TrainConfig.from_dict({"iterations": 10, "meta_batch": 4, "seed": 4}, PROTOCOL)
    gpu = pick_device("cuda")
    whole = meta_train(PROTOCOL, config, synthetic_pool, device=gpu)
    path = tmp_path / "gpu.state"

    class Stop(Exception):
        pass

    def stop_at_5(p):
        if p.iteration == 5:
            raise Stop()

    with pytest.raises(Stop):
        meta_train(
            PROTOCOL, config, synthetic_pool, device=gpu, state_path=path, on_progress=stop_at_5
        )
    state = load_state(path)
    assert state.iteration == 5 and state.cuda_rng  # the CUDA generators are saved too
    resumed = meta_train(PROTOCOL, config, synthetic_pool, device=gpu, resume=state)
    for name, value in whole.items():
        if name not in BEFORE_BATCH_NORM:
            assert relative_norm(value, resumed[name]) < 1e-3, name


def test_a_gpu_worker_picks_cuda_unless_told(settings):
    from evaluator.device import describe, worker_device

    settings.MAML_DEVICE = None
    assert worker_device() == "cuda"
    assert torch.cuda.get_device_name(0) in describe("cuda")
    settings.MAML_DEVICE = "cpu"
    assert worker_device() == "cpu"
