"""Gradient clipping: ``clip_grad_norm_``, ``clip_grad_value_``, ``get_total_norm``,
``clip_grads_with_norm_`` and the deprecated ``clip_grad_norm``."""
from __future__ import annotations

import math
import warnings

import numpy as np

from ... import _C
from ...tensor import Tensor

__all__ = ["clip_grad_norm_", "clip_grad_norm", "clip_grad_value_", "clip_grads_with_norm_",
           "get_total_norm"]


def _norm_type(norm_type, fn):
    if isinstance(norm_type, str):
        if norm_type.lower() != "inf":
            raise ValueError(f"{fn}: norm_type must be a number or 'inf', got {norm_type!r}")
        return math.inf
    p = float(norm_type)
    if not p > 0:
        raise ValueError(f"{fn}: norm_type must be > 0 or inf, got {norm_type}")
    return p


def _grads(parameters, fn):
    """The gradient arrays of ``parameters`` (those with a grad), made writeable and
    C-contiguous in place of the old ones where they are not (rare)."""
    if isinstance(parameters, Tensor):
        parameters = [parameters]
    out = []
    for p in parameters:
        if not isinstance(p, Tensor):
            raise TypeError(f"{fn}: parameters must be Tensors, got {type(p).__name__}")
        g = p.grad
        if g is None:
            continue
        a = g._array
        if a.dtype.kind != "f":
            raise TypeError(f"{fn}: gradients must be floating point, got {a.dtype}")
        if not (a.flags.c_contiguous and a.flags.writeable and a.flags.aligned) or \
                a.dtype not in (np.float32, np.float64):
            a = np.array(a, dtype=a.dtype if a.dtype in (np.float32, np.float64)
                         else np.float32, order="C")
            g._array = a
        out.append(a)
    return out


def _combine(norms, p):
    if math.isinf(p):
        return float("nan") if any(math.isnan(n) for n in norms) else max(norms)
    return math.fsum(n ** p for n in norms) ** (1.0 / p)


def _total(grads, p):
    by_dtype = {}
    for a in grads:
        by_dtype.setdefault(a.dtype, []).append(a)
    return _combine([_C.multi_tensor_norm(lst, p) for lst in by_dtype.values()], p), by_dtype


def get_total_norm(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    """The p-norm of all ``tensors`` together, as if concatenated into one vector:
    ``(Σ |x|^p)^(1/p)`` (``inf``: ``max |x|``), accumulated in float64 by one fused kernel.
    Returns a 0-d Tensor of the first tensor's dtype.

    Example: ``get_total_norm([p.grad for p in model.parameters()])``
    """
    p = _norm_type(norm_type, "get_total_norm")
    if isinstance(tensors, Tensor):
        tensors = [tensors]
    arrs = [np.ascontiguousarray(t._array if isinstance(t, Tensor) else t) for t in tensors
            if t is not None]
    if not arrs:
        return Tensor._make(np.array(0.0, np.float32))
    total, _ = _total(arrs, p)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"The total norm of order {p} for gradients is non-finite")
    return Tensor._make(np.array(total, dtype=arrs[0].dtype))


def clip_grad_norm_(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                    foreach=None):
    """Scale the gradients of ``parameters`` in place so their total norm is at most
    ``max_norm`` (PyTorch's rule):

        total = ‖(g₁, …, gₙ)‖_p,   g ← g · min(1, max_norm / (total + 1e-6))

    One fused C++ call reduces all gradients (fixed chunks summed in order, in float64: the
    result does not depend on the thread count) and then scales them. Parameters without a
    gradient are ignored. Returns the total norm (before clipping) as a 0-d Tensor of the
    gradients' dtype. ``error_if_nonfinite=True`` raises RuntimeError, leaving the gradients
    unchanged, when the norm is nan or inf. ``foreach`` is accepted and ignored.

    Example::

        loss.backward()
        fastdl.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
        opt.step()
    """
    p = _norm_type(norm_type, "clip_grad_norm_")
    max_norm = float(max_norm)
    grads = _grads(parameters, "clip_grad_norm_")
    if not grads:
        return Tensor._make(np.array(0.0, np.float32))
    dt = grads[0].dtype
    if all(a.dtype == dt for a in grads):
        try:
            total = _C.clip_grad_norm_(grads, max_norm, p, error_if_nonfinite)
        except ValueError as e:
            if "non-finite" in str(e):
                raise RuntimeError(str(e)) from None
            raise
        return Tensor._make(np.array(total, dtype=dt))
    total, by_dtype = _total(grads, p)
    if error_if_nonfinite and not math.isfinite(total):
        raise RuntimeError(f"clip_grad_norm_: the total norm of order {p} of the gradients "
                           "is non-finite, so it cannot be clipped")
    coef = max_norm / (total + 1e-6)
    if not coef >= 1.0:
        for lst in by_dtype.values():
            _C.multi_tensor_scale_(lst, coef)
    return Tensor._make(np.array(total, dtype=dt))


def clip_grad_value_(parameters, clip_value, foreach=None):
    """Clamp the gradients of ``parameters`` in place to ``[-clip_value, clip_value]``
    (one fused kernel per dtype; NaN stays NaN). ``foreach`` is accepted and ignored.

    Example: ``fastdl.nn.utils.clip_grad_value_(model.parameters(), clip_value=0.5)``
    """
    c = float(clip_value)
    if math.isnan(c):
        raise ValueError("clip_grad_value_: clip_value must not be NaN")
    grads = _grads(parameters, "clip_grad_value_")
    by_dtype = {}
    for a in grads:
        by_dtype.setdefault(a.dtype, []).append(a)
    for lst in by_dtype.values():
        _C.multi_tensor_clamp_(lst, -c, c)


def clip_grads_with_norm_(parameters, max_norm, total_norm, foreach=None):
    """Scale the gradients of ``parameters`` in place by ``min(1, max_norm / (total_norm +
    1e-6))``, with ``total_norm`` given (e.g. from ``get_total_norm``): the second half of
    ``clip_grad_norm_``, for when the norm is computed elsewhere. Returns None. ``foreach``
    is accepted and ignored.

    Example::

        norm = fastdl.nn.utils.get_total_norm([p.grad for p in model.parameters()])
        fastdl.nn.utils.clip_grads_with_norm_(model.parameters(), 1.0, norm)
    """
    grads = _grads(parameters, "clip_grads_with_norm_")
    if not grads:
        return None
    total = float(total_norm.item() if isinstance(total_norm, Tensor) else total_norm)
    coef = float(max_norm) / (total + 1e-6)
    if not coef >= 1.0:            # NaN scales too, as torch's clamp(max=1) keeps NaN
        by_dtype = {}
        for a in grads:
            by_dtype.setdefault(a.dtype, []).append(a)
        for lst in by_dtype.values():
            _C.multi_tensor_scale_(lst, coef)
    return None


def clip_grad_norm(parameters, max_norm, norm_type=2.0, error_if_nonfinite=False,
                   foreach=None):
    """Deprecated spelling of ``clip_grad_norm_`` (same arguments and result; emits a
    FutureWarning, as torch does).

    Example: ``fastdl.nn.utils.clip_grad_norm_(model.parameters(), 1.0)`` (use this one)
    """
    warnings.warn("`fastdl.nn.utils.clip_grad_norm` is now deprecated in favor of "
                  "`fastdl.nn.utils.clip_grad_norm_`.", FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)
