"""The paper's networks as pure functions over a dict of parameter tensors.

Conv net (official ``construct_conv_weights`` / ``conv_block``): ``blocks`` times
[3x3 conv (+ bias), batch norm, ReLU] with stride 2 (Omniglot) or stride 1 and a 2x2 max-pool
(miniImageNet); then the spatial mean (Omniglot) or a flatten (miniImageNet), and a linear head.
Batch norm is the official ``tf.contrib.layers.batch_norm`` in training mode: statistics of the
current batch, always (also at test); no scale, a learned shift ``bnI.bias`` that the inner loop
does not adapt; epsilon 1e-3. MLP (sinusoid): linear layers with ReLU, no normalisation.

Two forms of the same network:
- ``forward``: one task, parameters as stored (the per-task reference path).
- ``forward_tasks``: T tasks at once, every adapted parameter with a leading task dimension; conv
  layers run as one grouped convolution over a (batch, tasks*channels, H, W) layout, in which
  per-task batch statistics are exactly ``F.batch_norm``'s per-channel statistics.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor

from .protocols import Arch

Params = dict[str, Tensor]


def param_shapes(arch: Arch) -> dict[str, tuple[int, ...]]:
    """Name -> shape of every parameter of ``arch``, in a fixed order."""
    shapes: dict[str, tuple[int, ...]] = {}
    if arch.kind == "conv":
        c_in = arch.in_channels
        size = arch.image_size
        for i in range(1, arch.blocks + 1):
            shapes[f"conv{i}.weight"] = (arch.filters, c_in, 3, 3)
            shapes[f"conv{i}.bias"] = (arch.filters,)
            shapes[f"bn{i}.bias"] = (arch.filters,)
            c_in = arch.filters
            size = size // 2 if arch.max_pool else math.ceil(size / arch.stride)
        features = arch.filters * size * size if arch.max_pool else arch.filters
        shapes["head.weight"] = (arch.out_features, features)
        shapes["head.bias"] = (arch.out_features,)
    elif arch.kind == "mlp":
        widths = (arch.in_channels, *arch.hidden, arch.out_features)
        for i in range(1, len(widths)):
            shapes[f"fc{i}.weight"] = (widths[i], widths[i - 1])
            shapes[f"fc{i}.bias"] = (widths[i],)
    else:
        raise ValueError(f"unknown architecture kind {arch.kind!r}")
    return shapes


def adapted_names(arch: Arch) -> tuple[str, ...]:
    """Parameters the inner loop adapts: all but the batch-norm shifts (as in the official code)."""
    return tuple(n for n in param_shapes(arch) if not n.startswith("bn"))


def init_params(arch: Arch, generator: torch.Generator) -> Params:
    """The official initialisation: Xavier-uniform convs, zero biases; Omniglot's head N(0, 1),
    miniImageNet's head Xavier-uniform; MLP weights truncated N(0, 0.01^2)."""
    params: Params = {}
    for name, shape in param_shapes(arch).items():
        t = torch.zeros(shape)
        if name.endswith("weight"):
            if arch.kind == "mlp":
                torch.nn.init.trunc_normal_(t, std=0.01, a=-0.02, b=0.02, generator=generator)
            elif name == "head.weight" and not arch.max_pool:
                t.normal_(0.0, 1.0, generator=generator)
            else:
                receptive = t[0, 0].numel() if t.dim() == 4 else 1
                fan_in, fan_out = shape[1] * receptive, shape[0] * receptive
                bound = math.sqrt(6.0 / (fan_in + fan_out))
                t.uniform_(-bound, bound, generator=generator)
        params[name] = t
    return params


def _group_norm_stats(h: Tensor, groups: int) -> tuple[Tensor, Tensor]:
    """Mean and biased variance per channel within each of ``groups`` equal slices of the batch."""
    b, c = h.shape[:2]
    g = h.reshape(groups, b // groups, c, -1)  # (G, n, C, HW)
    mean = g.mean(dim=(1, 3), keepdim=True)  # (G, 1, C, 1)
    var = g.var(dim=(1, 3), unbiased=False, keepdim=True)  # (G, 1, C, 1)
    return mean, var


def batch_norm(h: Tensor, shift: Tensor, eps: float, groups: int = 1) -> Tensor:
    """Training-mode batch norm without scale: per-channel statistics of the batch (or of each of
    ``groups`` equal slices of it, for non-transductive evaluation); h (B, C, H, W)."""
    if groups == 1:
        return F.batch_norm(h, None, None, None, shift, True, 0.0, eps)
    b, c = h.shape[:2]
    if b % groups:
        raise ValueError(f"batch of {b} does not split into {groups} batch-norm groups")
    mean, var = _group_norm_stats(h, groups)
    g = h.reshape(groups, b // groups, c, -1)  # (G, n, C, HW)
    out = (g - mean) * torch.rsqrt(var + eps) + shift.view(1, 1, c, 1)
    return out.reshape(h.shape)


def _act(arch: Arch) -> Callable[[Tensor], Tensor]:
    if arch.activation not in ("relu", "tanh"):
        raise ValueError(f"unknown activation {arch.activation!r}")
    return torch.tanh if arch.activation == "tanh" else F.relu


def forward(params: Params, x: Tensor, arch: Arch, bn_groups: int = 1) -> Tensor:
    """One task. x (B, C, H, W) images or (B, F) features -> (B, out_features)."""
    act = _act(arch)
    if arch.kind == "mlp":
        h = x
        n = len(arch.hidden) + 1
        for i in range(1, n + 1):
            h = F.linear(h, params[f"fc{i}.weight"], params[f"fc{i}.bias"])  # (B, width)
            if i < n:
                h = act(h)
        return h
    h = x
    for i in range(1, arch.blocks + 1):
        h = F.conv2d(h, params[f"conv{i}.weight"], params[f"conv{i}.bias"], arch.stride, 1)
        h = act(batch_norm(h, params[f"bn{i}.bias"], arch.bn_eps, bn_groups))  # (B, C, H', W')
        if arch.max_pool:
            h = F.max_pool2d(h, 2)
    feats = h.flatten(1) if arch.max_pool else h.mean(dim=(2, 3))  # (B, F)
    return F.linear(feats, params["head.weight"], params["head.bias"])  # (B, out)


def forward_tasks(params: Params, x: Tensor, arch: Arch, bn_groups: int = 1) -> Tensor:
    """T tasks in one pass. Every parameter except the batch-norm shifts carries a leading task
    dimension T. x (T, B, C, H, W) or (T, B, F) -> (T, B, out_features)."""
    act = _act(arch)
    if arch.kind == "mlp":
        h = x  # (T, B, F)
        n = len(arch.hidden) + 1
        for i in range(1, n + 1):
            w, b = params[f"fc{i}.weight"], params[f"fc{i}.bias"]  # (T, O, I), (T, O)
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))  # (T, B, O)
            if i < n:
                h = act(h)
        return h
    t, b = x.shape[:2]
    if bn_groups == 1:
        h = _first_block_tasks(params, x, arch)  # (B, T*O, H', W')
        first = 2
    else:
        h = x.transpose(0, 1).reshape(b, t * x.shape[2], *x.shape[3:])  # (B, T*C, H, W)
        first = 1
    for i in range(first, arch.blocks + 1):
        w = params[f"conv{i}.weight"]  # (T, O, I, 3, 3)
        bias = params[f"conv{i}.bias"].reshape(-1)  # (T*O,)
        h = F.conv2d(h, w.reshape(-1, *w.shape[2:]), bias, arch.stride, 1, 1, t)  # (B, T*O, ...)
        shift = params[f"bn{i}.bias"]
        shift = shift.repeat(t) if shift.dim() == 1 else shift.reshape(-1)  # (T*O,)
        h = act(batch_norm(h, shift, arch.bn_eps, bn_groups))
        if arch.max_pool:
            h = F.max_pool2d(h, 2)
    h = h.reshape(b, t, arch.filters, *h.shape[2:])  # (B, T, C, H', W')
    feats = h.flatten(2) if arch.max_pool else h.mean(dim=(3, 4))  # (B, T, F)
    w, bias = params["head.weight"], params["head.bias"]  # (T, O, F), (T, O)
    return torch.einsum("btf,tof->tbo", feats, w) + bias.unsqueeze(1)  # (T, B, O)


def _first_block_tasks(params: Params, x: Tensor, arch: Arch) -> Tensor:
    """The first block (conv, batch norm with each task's statistics, activation, pool) of T
    tasks as one batched matrix product over 3x3 patches, batch norm folded in: with Pc a task's
    patches minus their batch mean and W its conv weights, the pre-activation minus its batch
    mean is Pc W^T (conv bias and patch mean cancel exactly), its batch variance
    w_o . (S w_o), S = Pc^T Pc / N, so the block is act(Pc (W * r)^T + shift). Same values as
    the conv / batch-norm layers to float round-off (everything centred: nothing cancels); much
    less work for autograd's double backward. x (T, B, C, H, W) -> (B, T*O, H', W')."""
    t, b, c, height, width = x.shape
    ho, wo = (height - 1) // arch.stride + 1, (width - 1) // arch.stride + 1
    patches = F.unfold(x.reshape(t * b, c, height, width), 3, padding=1, stride=arch.stride)
    cols = patches.view(t, b, c * 9, ho * wo).transpose(2, 3).reshape(t, b * ho * wo, c * 9)
    cols = cols - cols.mean(dim=1, keepdim=True)  # (T, N, K) centred
    w = params["conv1.weight"].flatten(2)  # (T, O, K)
    rstd = first_block_rstd(cols.transpose(1, 2), w, arch.bn_eps)  # (T, O)
    # The conv bias cancels in batch norm: it enters with weight zero, so that its gradient is
    # the exact zero it is (and autograd still sees it used).
    shift = params["bn1.bias"] + 0.0 * params["conv1.bias"]  # (T, O)
    h = _act(arch)(torch.baddbmm(shift.unsqueeze(1), cols, (w * rstd.unsqueeze(2)).transpose(1, 2)))
    o = h.shape[2]  # h (T, N, O)
    h = h.view(t, b, ho, wo, o).permute(1, 0, 4, 2, 3).reshape(b, t * o, ho, wo)
    return F.max_pool2d(h, 2) if arch.max_pool else h  # (B, T*O, H', W')


def first_block_rstd(centred: Tensor, w: Tensor, eps: float) -> Tensor:
    """(v + eps)^-1/2 for the batch variances v_o = w_o . (S w_o), S = Pc^T Pc / N, of the
    pre-activations Pc w_o of a folded first block; centred (..., K, N) holds Pc^T, w (..., O, K).

    S is a sum over the N = B*H'*W' patch positions (thousands) of a matrix product, which does
    not sum in a tree: in float32 its round-off grows like N * 2^-24 (5e-5 relative on 1-shot
    Omniglot support sets, 100x what ``F.batch_norm``'s two-pass variance makes; through
    adaptation, 1e-1 on the logits). So S and the quadratic form are computed in float64 (N * K^2
    multiply-adds, K = 9 for Omniglot: a small fraction of the block's product) and the result
    rounded once to the working precision. Differentiable (autograd follows the casts)."""
    c = centred.double()
    cov = c @ c.transpose(-1, -2) / c.shape[-1]  # (..., K, K)
    w64 = w.double()
    var = ((w64 @ cov) * w64).sum(dim=-1)  # (..., O)
    return torch.rsqrt(var + eps).to(w.dtype)


def forward_tasks_loop(params: Params, x: Tensor, arch: Arch, bn_groups: int = 1) -> Tensor:
    """Same as ``forward_tasks`` as a loop of ``forward`` (faster on CPU for large batches)."""
    t = x.shape[0]
    batched = _task_dim(params, arch)
    per_task = {k: (v.unbind(0) if k in batched else (v,) * t) for k, v in params.items()}
    outs = [
        forward({k: v[i] for k, v in per_task.items()}, x[i], arch, bn_groups) for i in range(t)
    ]
    return torch.stack(outs)  # (T, B, out)


def _task_dim(params: Params, arch: Arch) -> set[str]:
    shapes = param_shapes(arch)
    return {k for k, v in params.items() if v.dim() == len(shapes[k]) + 1}
