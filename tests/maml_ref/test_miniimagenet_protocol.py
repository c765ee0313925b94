"""miniImageNet as the official code (cbfinn/maml) runs it, on the tiny files test_data writes.

Official definitions checked here (main.py, maml.py, utils.py of github.com/cbfinn/maml):
- test episodes: ``DataGenerator(FLAGS.update_batch_size * 2, ...)``: 2K examples per class,
  K support and K query (1 for 1-shot, 5 for 5-shot); training: ``update_batch_size + 15``;
- loss: ``xent(pred, label) = softmax_cross_entropy_with_logits(...) / FLAGS.update_batch_size``
  per example, summed over the set (``tf.gradients`` and ``reduce_sum`` of the vector), and the
  meta-objective ``reduce_sum(lossesb) / meta_batch_size``: sum of the query cross-entropies
  divided by K, whatever the number of queries, averaged over tasks;
- ``clip_by_value(grad, -10, 10)`` on the gradient of that meta-objective.
"""

import dataclasses

import pytest
import torch
import torch.nn.functional as F

from maml_ref.api import run_evaluate
from maml_ref.checkpoint import metadata_for, save_checkpoint
from maml_ref.data.loading import load_pool
from maml_ref.maml import InnerLoop, meta_gradient, meta_gradient_per_task
from maml_ref.model import adapted_names, forward, init_params
from maml_ref.protocols import get_protocol
from maml_ref.train import EpisodeStream, TrainConfig, meta_train

from .test_data import write_miniimagenet_csv


@pytest.fixture
def mini_dir(tmp_path):
    write_miniimagenet_csv(tmp_path / "miniimagenet", classes=5, per_class=20)
    return tmp_path


@pytest.mark.parametrize(("name", "shots"), [("miniimagenet-5w1s", 1), ("miniimagenet-5w5s", 5)])
def test_official_protocol_tests_with_k_queries_per_class(mini_dir, name, shots):
    protocol = get_protocol(name)
    assert (protocol.shots, protocol.test_queries, protocol.train_queries) == (shots, shots, 15)
    assert protocol.grad_clip == 10.0 and protocol.paper_value in (48.70, 63.11)
    ckpt = mini_dir / "mini.safetensors"
    params = init_params(protocol.arch, torch.Generator().manual_seed(0))
    save_checkpoint(ckpt, params, metadata_for(protocol))
    result = run_evaluate(ckpt, name, data_dir=mini_dir, episodes=2)
    assert (result.protocol, result.queries, len(result.scores)) == (name, shots, 2)
    # A score is a fraction of the 5K queries: multiples of 100 / (5K).
    assert all(abs(s * 5 * shots / 100 - round(s * 5 * shots / 100)) < 1e-9 for s in result.scores)


def test_fifteen_query_variant_is_a_named_protocol_recorded_in_the_result(mini_dir):
    official, variant = get_protocol("miniimagenet-5w1s"), get_protocol("miniimagenet-5w1s-q15")
    assert variant.test_queries == 15 and variant.paper_value is None
    assert "Not the paper's protocol" in variant.notes
    assert dataclasses.replace(variant, name=official.name, test_queries=1, paper_value=48.70,
                               notes=official.notes) == official  # fmt: skip
    ckpt = mini_dir / "mini.safetensors"
    params = init_params(variant.arch, torch.Generator().manual_seed(0))
    save_checkpoint(ckpt, params, metadata_for(official))
    result = run_evaluate(ckpt, variant.name, data_dir=mini_dir, episodes=1)
    assert (result.protocol, result.queries) == ("miniimagenet-5w1s-q15", 15)


def official_meta_objective(params, batch, arch, inner_lr, inner_steps, k):
    """The official meta-objective written out with plain autograd: inner steps on
    sum(xent)/K of the support set, then sum(xent)/K of the query set, mean over tasks."""
    total = 0.0
    for t in range(batch.tasks):
        fast = dict(params)
        for _ in range(inner_steps):
            loss = F.cross_entropy(
                forward(fast, batch.support_x[t], arch), batch.support_y[t], reduction="sum"
            )
            names = adapted_names(arch)
            grads = torch.autograd.grad(loss / k, [fast[n] for n in names], create_graph=True)
            fast = {
                **fast,
                **{n: fast[n] - inner_lr * g for n, g in zip(names, grads, strict=True)},
            }
        out = forward(fast, batch.query_x[t], arch)
        total = total + F.cross_entropy(out, batch.query_y[t], reduction="sum") / k
    return total / batch.tasks


@pytest.mark.parametrize("query_mode", ["per_task", "auto"])
def test_training_query_loss_is_summed_and_divided_by_k(mini_dir, query_mode):
    protocol = get_protocol("miniimagenet-5w1s")
    config = TrainConfig.from_dict({"meta_batch": 2, "inner_steps": 1}, protocol)
    assert config.queries == 15 and config.shots == 1
    batch = EpisodeStream(protocol, config, load_pool(protocol, "train", mini_dir)).next()
    assert batch.query_x.shape[1] == 5 * 15  # K + 15 examples per class: 15 queries
    params = {
        k: v.double().requires_grad_()
        for k, v in init_params(protocol.arch, torch.Generator().manual_seed(3)).items()
    }
    batch = type(batch)(
        batch.support_x.double(), batch.support_y, batch.query_x.double(), batch.query_y
    )
    inner = InnerLoop(1, protocol.inner_lr_train)
    if query_mode == "per_task":
        grads, loss = meta_gradient_per_task(params, batch, protocol.arch, inner)
    else:
        grads, loss = meta_gradient(params, batch, protocol.arch, inner)
    ref = official_meta_objective(params, batch, protocol.arch, inner.lr, 1, k=1)
    assert loss == pytest.approx(ref.item(), rel=1e-10)
    # The mean cross-entropy would be 15x smaller: the scale the +-10 clipping sees.
    mean_ce = ref.item() / 75
    assert loss > 10 * mean_ce
    ref_grads = torch.autograd.grad(ref, list(params.values()), allow_unused=True)
    scale = max(r.abs().max().item() for r in ref_grads if r is not None)
    for (k, g), r in zip(grads.items(), ref_grads, strict=True):
        r = (
            torch.zeros_like(g) if r is None else r
        )  # conv biases before batch norm: 0 (+ round-off)
        assert (g - r).abs().max().item() <= 1e-8 * scale, k


def test_meta_gradient_is_clipped_at_ten_on_the_official_scale(mini_dir, monkeypatch):
    protocol = get_protocol("miniimagenet-5w1s")
    config = TrainConfig.from_dict({"meta_batch": 1, "inner_steps": 1, "iterations": 1}, protocol)
    seen = {}
    real_step = torch.optim.Adam.step

    def step(self, *a, **k):  # the gradients Adam is given, after clipping
        seen.update({i: p.grad.clone() for i, p in enumerate(self.param_groups[0]["params"])})
        return real_step(self, *a, **k)

    monkeypatch.setattr(torch.optim.Adam, "step", step)
    init = init_params(protocol.arch, torch.Generator().manual_seed(3))
    init["head.weight"] = init["head.weight"] * 200  # large logits: large raw meta-gradient
    batch = EpisodeStream(protocol, config, load_pool(protocol, "train", mini_dir)).next()
    params = {k: v.clone().requires_grad_() for k, v in init.items()}
    raw, _ = meta_gradient(params, batch, protocol.arch, InnerLoop(1, protocol.inner_lr_train))
    assert max(g.abs().max().item() for g in raw.values()) > 10  # something to clip
    meta_train(protocol, config, load_pool(protocol, "train", mini_dir), init=init)
    clipped = list(seen.values())
    assert max(g.abs().max().item() for g in clipped) == pytest.approx(10.0)
    for g, r in zip(clipped, raw.values(), strict=True):
        assert torch.allclose(g, r.clamp(-10, 10), rtol=1e-4, atol=1e-5)
