"""The query pass of one task by hand: loss and gradients without the autograd tape.

The meta-gradient needs, for every task, the gradient of its query loss with respect to its
adapted weights (the second-order term then comes from the support graph alone). With 15 queries
per class that pass is most of the work of an iteration, so it is written out here with ATen's
forward and backward kernels called directly:

- the first block (Omniglot: one input channel, so a 3x3 patch is 9 numbers) is a matrix
  product over the patches with its batch norm folded in: the batch mean and variance of a
  linear function of the patches follow from the patches' mean and 9x9 covariance, so the
  largest activation map is written once and read once in each direction (its gradient likewise
  reduces to one product, ``g^T @ patches``, and 64x9 algebra); see ``_FirstBlock``;
- the other conv blocks run in channels-last layout (oneDNN's fastest on the CPU here);
- the backward is done in the same call as the forward, one task at a time, and asks each
  kernel for only what is needed (no input gradient for the images); the largest ReLU
  backward is done in place;
- nothing is recorded on the autograd tape (the caller feeds the result to ``autograd.grad`` as
  the ``grad_outputs`` of the adapted weights).

It computes exactly what ``autograd.grad(task_loss(forward(params, x), y), params)`` computes, to
float round-off (the tests compare the two in float64). Conv networks with a classification head
only (Omniglot and miniImageNet); the MLP keeps the autograd path.
"""

from __future__ import annotations

import torch
from torch import Tensor

from .model import Params
from .protocols import Arch

_aten = torch.ops.aten
_CL = torch.channels_last


def supports(arch: Arch) -> bool:
    """Whether ``query_loss_and_grads`` handles this network."""
    return arch.kind == "conv" and arch.activation == "relu"


def query_loss_and_grads(
    params: Params, x: Tensor, y: Tensor, arch: Arch, per_class: int
) -> tuple[Tensor, Params]:
    """Official classification loss of one task's query set and its gradient for every parameter.

    params: one task's parameters as stored (no task dimension), detached.
    x (B, C, H, W) images; y (B,) labels. Returns (loss (), {name: gradient}).
    """
    if not supports(arch):
        raise ValueError(f"the hand-written query pass does not handle {arch}")
    stride, pad, dil = [arch.stride] * 2, [1, 1], [1, 1]
    first = _FirstBlock(x, params["conv1.weight"], params["bn1.bias"], arch)
    a = first.a  # (B, O, H', W') channels-last
    saved: dict[int, tuple[Tensor, ...]] = {}  # block -> what its backward needs
    pool_idx: dict[int, Tensor] = {}  # block -> argmax of its 2x2 max-pool
    for i in range(1, arch.blocks + 1):
        if arch.max_pool:
            a, pool_idx[i] = _aten.max_pool2d_with_indices(a, [2, 2], [2, 2])
        if i == arch.blocks:
            break
        w = params[f"conv{i + 1}.weight"]  # (O, I, 3, 3); the activations set the layout
        z = _aten.convolution(a, w, params[f"conv{i + 1}.bias"], stride, pad, dil, False, [0, 0], 1)
        out, mean, rstd = _aten.native_batch_norm(
            z, None, params[f"bn{i + 1}.bias"], None, None, True, 0.0, arch.bn_eps
        )  # z, out (B, O, H', W') channels-last
        saved[i + 1] = (a, w, z, out.relu_(), mean, rstd)
        a = out

    b = a.shape[0]
    feats = a.flatten(1) if arch.max_pool else a.mean(dim=(2, 3))  # (B, F)
    head_w = params["head.weight"]  # (O, F)
    logits = torch.addmm(params["head.bias"], feats, head_w.t())  # (B, O)
    logp = logits.log_softmax(dim=1)  # (B, O)
    loss = -logp.gather(1, y.unsqueeze(1)).sum() / per_class

    grads: Params = {}
    g_logits = logp.exp()  # softmax - onehot, over per_class: d loss / d logits
    g_logits[torch.arange(b, device=y.device), y] -= 1.0
    g_logits /= per_class
    grads["head.weight"] = g_logits.t() @ feats  # (O, F)
    grads["head.bias"] = g_logits.sum(dim=0)  # (O,)
    g_feats = g_logits @ head_w  # (B, F)
    if arch.max_pool:
        g_a = g_feats.view(a.shape)  # (B, C, H, W)
    else:
        g_a = (g_feats / (a.shape[2] * a.shape[3]))[:, :, None, None].expand(a.shape)

    for i in range(arch.blocks, 0, -1):
        if i > 1:
            a_in, w, z, out, mean, rstd = saved[i]
            if arch.max_pool:
                g_a = _aten.max_pool2d_with_indices_backward(
                    g_a, out, [2, 2], [2, 2], [0, 0], [1, 1], False, pool_idx[i]
                )
            g_z = _relu_backward(g_a, out, in_place=i < arch.blocks)
            g_z, _, g_shift = _aten.native_batch_norm_backward(
                g_z, z, None, None, None, mean, rstd, True, arch.bn_eps, [True, False, True]
            )
            g_a, g_w, g_b = _aten.convolution_backward(
                g_z, a_in, w, [w.shape[0]], stride, pad, dil, False, [0, 0], 1, [True] * 3
            )
            grads[f"bn{i}.bias"] = g_shift  # (O,)
            grads[f"conv{i}.weight"] = g_w  # (O, I, 3, 3)
            grads[f"conv{i}.bias"] = g_b  # (O,)
        else:
            if arch.max_pool:
                g_a = _aten.max_pool2d_with_indices_backward(
                    g_a, first.a, [2, 2], [2, 2], [0, 0], [1, 1], False, pool_idx[1]
                )
            g_w, g_b, g_shift = first.backward(g_a)
            grads["conv1.weight"], grads["conv1.bias"], grads["bn1.bias"] = g_w, g_b, g_shift
    return loss, grads


class _FirstBlock:
    """conv1 -> batch norm -> ReLU as one matrix product over the 3x3 patches of the images.

    With Pc the patches minus their batch mean (N = B*H'*W' rows, K = C*9 columns) and W the
    conv weights (O x K), the pre-activation minus its batch mean is Pc W^T (the conv bias and
    the patches' mean cancel exactly in batch norm), its batch variance is v_o = w_o . (S w_o),
    S = Pc^T Pc / N, and the block's output is relu(Pc (W * r)^T + shift), r = (v + eps)^-1/2:
    one product (a row of ones carries the shift). Backward, for the gradient g of the output
    after the ReLU mask and Q = g^T Pc (O x K): the shift's gradient is sum(g), the weights'
    r (Q - r^2 (Q . w) S w) (batch norm's backward written out through Pc W^T; everything
    centred, so nothing cancels in float), and the conv bias's is exactly zero.
    """

    def __init__(self, x: Tensor, weight: Tensor, shift: Tensor, arch: Arch):
        self.cols = _im2col(x, arch.stride)  # (K + 1, N): patches, then a row of ones
        patches = self.cols[:-1]  # (K, N)
        patches -= patches.mean(dim=1, keepdim=True)  # centred in place
        self.w = weight.reshape(weight.shape[0], -1)  # (O, K)
        self.weight_shape = weight.shape
        # S and v in float64: a float32 product over the N patch positions rounds like N * u
        # (see model.first_block_rstd); S w is then rounded once to the working precision.
        p64 = patches.double()
        cov_w = self.w.double() @ (p64 @ p64.t() / p64.shape[1])  # (O, K): rows S w_o
        var = (cov_w * self.w.double()).sum(dim=1)  # (O,)
        self.cov_w = cov_w.to(weight.dtype)
        self.rstd = (var + arch.bn_eps).rsqrt().to(weight.dtype)  # (O,)
        w_eff = torch.cat([self.w * self.rstd[:, None], shift[:, None]], dim=1)  # (O, K + 1)
        out = (self.cols.t() @ w_eff.t()).clamp_min_(0.0)  # (N, O)
        size = (x.shape[0], *_out_size(x, arch.stride), -1)
        self.a = out.view(size).permute(0, 3, 1, 2)  # (B, O, H', W') channels-last

    def backward(self, g_a: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Gradients of conv1.weight, conv1.bias and bn1.bias from that of the block's output."""
        g = _relu_backward(g_a, self.a, in_place=g_a.is_contiguous(memory_format=_CL))
        g = g.permute(0, 2, 3, 1).reshape(-1, g.shape[1])  # (N, O); a view when channels-last
        q = (self.cols @ g).t()  # (O, K + 1): Q, then sum(g)
        q_c, g_sum = q[:, :-1], q[:, -1]
        r = self.rstd
        g_w = r[:, None] * (q_c - (r * r * (q_c * self.w).sum(dim=1))[:, None] * self.cov_w)
        g_bias = g_sum.new_zeros(g_sum.shape)  # batch norm cancels the conv bias exactly
        return g_w.reshape(self.weight_shape), g_bias, g_sum.clone()


def _relu_backward(g: Tensor, out: Tensor, in_place: bool) -> Tensor:
    """The gradient through a ReLU whose output is ``out`` (> 0 where its input was). In place
    when ``g`` is a fresh gradient of its own (a convolution's input gradient): one buffer less
    to allocate and fill on the largest maps."""
    if in_place:
        return _aten.threshold_backward.grad_input(g, out, 0, grad_input=g)
    return _aten.threshold_backward(g, out, 0)


def _out_size(x: Tensor, stride: int) -> tuple[int, int]:
    """Output height and width of a 3x3 convolution with padding 1."""
    return (x.shape[2] - 1) // stride + 1, (x.shape[3] - 1) // stride + 1


def _im2col(x: Tensor, stride: int) -> Tensor:
    """x (B, C, H, W) -> (C*9 + 1, B*H'*W'): row c*9 + 3*i + j holds pixel (i, j) of every 3x3
    patch (padding 1) of channel c, in the order of ``weight.reshape(O, C*9)``; the last row is
    ones (for the bias). Rows are filled by C*9 strided copies (faster than one 6-d gather)."""
    b, c = x.shape[:2]
    ho, wo = _out_size(x, stride)
    xp = torch.nn.functional.pad(x, (1, 1, 1, 1))  # (B, C, H+2, W+2)
    cols = x.new_empty(c * 9 + 1, b, ho, wo)  # (K, B, H', W')
    cols[-1] = 1.0
    for ch in range(c):
        for i in range(3):
            for j in range(3):
                cols[ch * 9 + 3 * i + j] = xp[
                    :, ch, i : i + stride * ho : stride, j : j + stride * wo : stride
                ]
    return cols.view(c * 9 + 1, -1)
