"""Folding batch normalisation into the convolution before it, for inference
(``torch.nn.utils.fusion``'s names and semantics).

In eval mode a BatchNorm is an affine map per channel with fixed statistics,

    bn(z)[k] = γ[k] · (z[k] − μ[k]) / sqrt(σ²[k] + ε) + β[k],

so ``bn(conv(x, W, b))`` is one convolution with

    W'[k] = W[k] · γ[k] / sqrt(σ²[k] + ε),   b'[k] = (b[k] − μ[k]) · γ[k] / sqrt(σ²[k] + ε) + β[k]

(for a transposed convolution the scale runs over the weight's second axis instead).
"""
from __future__ import annotations

import copy

import numpy as np

from ...tensor import Tensor
from ..modules.module import Parameter

__all__ = ["fuse_conv_bn_eval", "fuse_conv_bn_weights", "fuse_linear_bn_eval",
           "fuse_linear_bn_weights"]


def _arr(t):
    return None if t is None else (t.detach().numpy() if isinstance(t, Tensor) else
                                   np.asarray(t))


def fuse_conv_bn_weights(conv_w, conv_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b, transpose=False):
    """The weight and bias of the convolution equal to ``conv`` followed by an eval-mode
    batch norm (see the module docstring for the formula):

        W' = W · γ / sqrt(σ² + ε)  (per output channel),  b' = (b − μ) · γ / sqrt(σ² + ε) + β

    ``conv_b``, ``bn_w`` and ``bn_b`` may be None (0, 1 and 0). ``transpose=True``: the
    weight is a transposed convolution's (in, out/groups, ...), scaled along axis 1.
    Returns ``(Parameter W', Parameter b')`` in the dtypes of ``conv_w`` and ``conv_b`` (the
    weight's dtype when there is no bias), with ``conv_w``'s / ``conv_b``'s requires_grad.

    Example::

        w, b = fuse_conv_bn_weights(conv.weight, conv.bias, bn.running_mean,
                                    bn.running_var, bn.eps, bn.weight, bn.bias)
    """
    w = _arr(conv_w)
    rm, rv = _arr(bn_rm), _arr(bn_rv)
    if rm is None or rv is None:
        raise ValueError("fuse_conv_bn_weights: the batch norm has no running statistics "
                         "(track_running_stats=False); nothing to fold")
    kdim = 1 if transpose else 0
    if rm.shape != (w.shape[kdim],) or rv.shape != rm.shape:
        raise ValueError(f"fuse_conv_bn_weights: running_mean {rm.shape} / running_var "
                         f"{rv.shape} do not match the weight {w.shape} (axis {kdim})")
    wdt = w.dtype
    bdt = wdt if conv_b is None else _arr(conv_b).dtype
    b = np.zeros_like(rm) if conv_b is None else _arr(conv_b)
    g = np.ones_like(rm) if bn_w is None else _arr(bn_w)
    beta = np.zeros_like(rm) if bn_b is None else _arr(bn_b)
    rsq = 1.0 / np.sqrt(rv + bn_eps)
    shape = [1] * w.ndim
    shape[kdim] = -1
    fw = (w * (g * rsq).reshape(shape)).astype(wdt)
    fb = ((b - rm) * rsq * g + beta).astype(bdt)
    w_rg = conv_w.requires_grad if isinstance(conv_w, Tensor) else True
    b_rg = conv_b.requires_grad if isinstance(conv_b, Tensor) else w_rg
    return Parameter(fw, requires_grad=w_rg), Parameter(fb, requires_grad=b_rg)


def fuse_conv_bn_eval(conv, bn, transpose=False):
    """A copy of ``conv`` whose output equals ``bn(conv(x))`` with both in eval mode: the
    batch norm's running statistics and affine parameters folded into the weight and bias
    (``fuse_conv_bn_weights``). Both modules must be in eval mode (``AssertionError``
    otherwise, as in PyTorch); ``transpose=True`` for a ConvTranspose.

    Example::

        conv.eval(); bn.eval()
        fused = fastdl.nn.utils.fuse_conv_bn_eval(conv, bn)   # fused(x) ≈ bn(conv(x))
    """
    assert not (conv.training or bn.training), "Fusion only for eval!"
    fused = copy.deepcopy(conv)
    if bn.running_mean is None or bn.running_var is None:
        raise ValueError("fuse_conv_bn_eval: the batch norm has no running statistics "
                         "(track_running_stats=False); nothing to fold")
    fused.weight, fused.bias = fuse_conv_bn_weights(
        fused.weight, fused.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight,
        bn.bias, transpose)
    return fused


def fuse_linear_bn_weights(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b):
    """``fuse_conv_bn_weights`` for a Linear followed by a BatchNorm1d over its outputs:
    W' = W · γ / sqrt(σ² + ε) (per output row), b' = (b − μ) · γ / sqrt(σ² + ε) + β.

    Example: ``w, b = fuse_linear_bn_weights(lin.weight, lin.bias, bn.running_mean,
    bn.running_var, bn.eps, bn.weight, bn.bias)``
    """
    return fuse_conv_bn_weights(linear_w, linear_b, bn_rm, bn_rv, bn_eps, bn_w, bn_b)


def fuse_linear_bn_eval(linear, bn):
    """A copy of ``linear`` equal to ``bn(linear(x))`` with both in eval mode.

    Example: ``fused = fuse_linear_bn_eval(lin.eval(), bn.eval())``
    """
    assert not (linear.training or bn.training), "Fusion only for eval!"
    fused = copy.deepcopy(linear)
    fused.weight, fused.bias = fuse_linear_bn_weights(
        fused.weight, fused.bias, bn.running_mean, bn.running_var, bn.eps, bn.weight, bn.bias)
    return fused
