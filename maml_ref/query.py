"""The query pass of one task by hand: loss and gradients without the autograd tape.

The meta-gradient needs, for every task, the gradient of its query loss with respect to its
adapted weights (the second-order term then comes from the support graph alone). With 15 queries
per class that pass is most of the work of an iteration, so it is written out here with ATen's
forward and backward kernels called directly:

- the first block (one input channel: a 3x3 patch is 9 numbers) is a matrix product over the
  patches, and its batch norm is folded into that product: the batch mean and variance of a
  linear function of the patches follow from the patches' mean and 10x10 covariance, so the
  largest activation map is written once and read once in each direction (its gradient likewise
  reduces to one product, ``g^T @ patches``, and 64x10 algebra);
- the other conv blocks run in channels-last layout (oneDNN's fastest on the CPU here);
- the backward is done in the same call as the forward, while the activations are still in
  cache, and asks each kernel for only what is needed (no input gradient for the images);
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
    first = _FirstBlock(x, params["conv1.weight"], params["conv1.bias"], params["bn1.bias"], arch)
    a = first.a  # (B, O, H', W') channels-last
    saved: dict[int, tuple[Tensor, ...]] = {}  # block -> what its backward needs
    pool_idx: dict[int, Tensor] = {}  # block -> argmax of its 2x2 max-pool
    for i in range(1, arch.blocks + 1):
        if arch.max_pool:
            a, pool_idx[i] = _aten.max_pool2d_with_indices(a, [2, 2], [2, 2])
        if i == arch.blocks:
            break
        w = params[f"conv{i + 1}.weight"].contiguous(memory_format=_CL)  # (O, I, 3, 3)
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
            g_z = _aten.threshold_backward(g_a, out, 0)  # ReLU: out > 0 where its input was
            g_z, _, g_shift = _aten.native_batch_norm_backward(
                g_z, z, None, None, None, mean, rstd, True, arch.bn_eps, [True, False, True]
            )
            g_a, g_w, g_b = _aten.convolution_backward(
                g_z, a_in, w, [w.shape[0]], stride, pad, dil, False, [0, 0], 1, [True] * 3
            )
            grads[f"bn{i}.bias"] = g_shift  # (O,)
            grads[f"conv{i}.weight"] = g_w.contiguous()  # (O, I, 3, 3)
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

    With P the patches plus a column of ones (N = B*H'*W' rows, K = C*9 + 1 columns) and
    W = [conv1.weight | conv1.bias] (O x K), the pre-activation is z = P W^T; its batch mean is
    m = W p_mean and its batch variance v_o = w_o . (S w_o), S the covariance of the rows of P.
    The normalised, shifted output is then P (W * r)^T + (shift - m r), r = (v + eps)^-1/2: one
    product. Backward, for the gradient g of the output (after the ReLU mask) and
    Q = g^T P (O x K): the shift's gradient is Q's ones column, and the weights' gradient
    r (Q - mu p_sum - nu r N (S w)), mu = mean(g), nu = mean(g * zhat) = r (Q.w - m g_sum) / N,
    which is batch norm's backward written out through z = P W^T.
    """

    def __init__(self, x: Tensor, weight: Tensor, bias: Tensor, shift: Tensor, arch: Arch):
        b = x.shape[0]
        self.size = _out_size(x, arch.stride)
        self.cols = _im2col(x, arch.stride)  # (N, K)
        n = self.cols.shape[0]
        self.w = torch.cat([weight.reshape(weight.shape[0], -1), bias[:, None]], dim=1)  # (O, K)
        self.weight_shape = weight.shape
        col_mean = self.cols.mean(dim=0)  # (K,)
        centred = self.cols - col_mean  # (N, K)
        self.cov = centred.t() @ centred / n  # (K, K)
        self.mean = self.w @ col_mean  # (O,)
        var = ((self.w @ self.cov) * self.w).sum(dim=1)  # (O,)
        self.rstd = (var + arch.bn_eps).rsqrt()  # (O,)
        w_eff = self.w * self.rstd[:, None]  # (O, K)
        w_eff[:, -1] += shift - self.mean * self.rstd
        out = (self.cols @ w_eff.t()).clamp_min_(0.0)  # (N, O)
        self.a = out.view(b, *self.size, -1).permute(0, 3, 1, 2)  # (B, O, H', W') channels-last

    def backward(self, g_a: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Gradients of conv1.weight, conv1.bias and bn1.bias from that of the block's output."""
        g = _aten.threshold_backward(g_a, self.a, 0)  # (B, O, H', W')
        g = g.permute(0, 2, 3, 1).reshape(-1, g.shape[1])  # (N, O); a view when channels-last
        n = g.shape[0]
        q = g.t() @ self.cols  # (O, K)
        g_sum = q[:, -1]  # (O,): the ones column
        mu = g_sum / n
        nu = self.rstd * ((q * self.w).sum(dim=1) - self.mean * g_sum) / n  # (O,)
        col_sum = self.cols.sum(dim=0)  # (K,)
        cov_w = self.w @ self.cov  # (O, K): rows S w_o (S is symmetric)
        g_w = self.rstd[:, None] * (
            q - mu[:, None] * col_sum - (nu * self.rstd * n)[:, None] * cov_w
        )  # (O, K)
        return g_w[:, :-1].reshape(self.weight_shape), g_w[:, -1].contiguous(), g_sum.clone()


def _out_size(x: Tensor, stride: int) -> tuple[int, int]:
    """Output height and width of a 3x3 convolution with padding 1."""
    return (x.shape[2] - 1) // stride + 1, (x.shape[3] - 1) // stride + 1


def _im2col(x: Tensor, stride: int) -> Tensor:
    """x (B, C, H, W) -> (B*H'*W', C*9 + 1): the 3x3 patches (padding 1) in the order of
    ``weight.reshape(O, C*9)``, then a column of ones (for the bias)."""
    b, c = x.shape[:2]
    ho, wo = _out_size(x, stride)
    xp = torch.nn.functional.pad(x, (1, 1, 1, 1))  # (B, C, H+2, W+2)
    sb, sc, sh, sw = xp.stride()
    patches = xp.as_strided((b, ho, wo, c, 3, 3), (sb, stride * sh, stride * sw, sc, sh, sw))
    cols = x.new_ones(b * ho * wo, c * 9 + 1)  # (B*H'*W', C*9 + 1)
    cols[:, :-1].view(b, ho, wo, c, 3, 3).copy_(patches)
    return cols
