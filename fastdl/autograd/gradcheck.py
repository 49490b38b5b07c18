"""Finite-difference checks of first and second derivatives, with PyTorch's signatures:
``gradcheck`` and ``gradgradcheck``.

Both reduce the function's floating outputs to the scalar ``s = Σ vᵢ·outᵢ`` with fixed random
weights ``v`` and compare the analytic gradient of ``s`` (one backward) with central
differences ``(s(x + eps·eᵢ) − s(x − eps·eᵢ)) / 2eps`` for every element of every input that
requires grad (float64). ``gradgradcheck`` applies this to the function
``(inputs, grad_outputs) ↦ autograd.grad(func(inputs), inputs, grad_outputs,
create_graph=True)``, i.e. it checks the derivatives of the backward pass.
"""
from __future__ import annotations

import numpy as np

from . import function as _fn
from .grad_mode import enable_grad, no_grad


def _tensors(res):
    T = _fn._Tensor
    res = res if isinstance(res, (tuple, list)) else (res,)
    return [r for r in res if isinstance(r, T) and r._array.dtype.kind == "f"]


def _central_difference(arr, scalar, eps):
    """d scalar() / d arr by central differences, (f(x + eps) - f(x - eps)) / (2 eps), one
    element at a time, perturbing ``arr`` in place (any layout; each element restored)."""
    numeric = np.zeros(arr.shape)
    for i in np.ndindex(arr.shape):
        old = arr[i]
        arr[i] = old + eps
        fp = scalar()
        arr[i] = old - eps
        fm = scalar()
        arr[i] = old
        numeric[i] = (fp - fm) / (2 * eps)
    return numeric


def _fail(msg, raise_exception):
    if raise_exception:
        raise RuntimeError(msg)
    return False


def _check(fn, inputs, eps, atol, rtol, raise_exception, seed, what):
    T = _fn._Tensor
    check = [(k, t) for k, t in enumerate(inputs) if isinstance(t, T) and t.requires_grad]
    if not check:
        raise ValueError(f"{what}: at least one input tensor must require gradient")
    for k, t in check:
        if t._array.dtype != np.float64:
            raise TypeError(f"{what}: input {k} must be float64 (finite differences in "
                            f"float32 are too coarse), got {t._array.dtype} of shape "
                            f"{tuple(t._array.shape)}")
        if not t._array.flags.c_contiguous:
            raise ValueError(f"{what}: input {k} must be contiguous")
    rng = np.random.default_rng(seed)
    with enable_grad():
        outs = _tensors(fn(*inputs))
    weights = [rng.standard_normal(o._array.shape) for o in outs]

    def scalar():
        with enable_grad():  # fn may itself differentiate (gradgradcheck)
            res = _tensors(fn(*inputs))
        return sum(float((o._array.astype(np.float64) * w).sum()) for o, w in zip(res, weights))

    total = None
    with enable_grad():
        for o, w in zip(outs, weights):
            if o.requires_grad:
                s = (o * T._make(w)).sum()
                total = s if total is None else total + s
    diff = [t for _, t in check]
    if total is None:
        analytic = [np.zeros(t._array.shape) for t in diff]
    else:
        gs = _fn.grad([total], diff, allow_unused=True)
        analytic = [np.zeros(t._array.shape) if g is None else g._array.astype(np.float64)
                    for g, t in zip(gs, diff)]
    for (k, t), an in zip(check, analytic):
        numeric = _central_difference(t._array, scalar, eps)
        err = np.abs(an - numeric)
        tol = atol + rtol * np.abs(numeric)
        if (err > tol).any():
            i = np.unravel_index(np.argmax(err - tol), t._array.shape)
            return _fail(f"{what}: Jacobian mismatch for input {k} (shape "
                         f"{tuple(t._array.shape)}): analytic {an[i]:.8g} vs numeric "
                         f"{numeric[i]:.8g} at {i} (|diff| {err[i]:.3g}, "
                         f"{int((err > tol).sum())} of {t._array.size} elements off)",
                         raise_exception)
    return True


def gradcheck(func, inputs, *, eps=1e-6, atol=1e-5, rtol=1e-3, raise_exception=True,
              nondet_tol=0.0, check_undefined_grad=True, check_grad_dtypes=False,
              check_batched_grad=False, check_batched_forward_grad=False,
              check_forward_ad=False, check_backward_ad=True, fast_mode=False, masked=None,
              seed=0):
    """Check ``func``'s backward against central finite differences (float64 inputs).

    ``inputs`` is a Tensor or a tuple; those requiring grad are checked. Returns True, or on
    a mismatch raises RuntimeError (``raise_exception=False``: returns False). fastdl checks
    the gradient of a random projection of the outputs (see the module docstring); the
    ``check_*``/``fast_mode`` flags of PyTorch are accepted and ignored.

    Example: ``gradcheck(lambda x: (x * x).sum(), (fastdl.randn(3, dtype=fastdl.float64,
    requires_grad=True),))``
    """
    T = _fn._Tensor
    inputs = (inputs,) if isinstance(inputs, T) else tuple(inputs)
    return _check(func, inputs, eps, atol, rtol, raise_exception, seed, "gradcheck")


def gradgradcheck(func, inputs, grad_outputs=None, *, eps=1e-6, atol=1e-5, rtol=1e-3,
                  gen_non_contig_grad_outputs=False, raise_exception=True, nondet_tol=0.0,
                  check_undefined_grad=True, check_grad_dtypes=False,
                  check_batched_grad=False, check_fwd_over_rev=False, check_rev_over_rev=True,
                  fast_mode=False, masked=False, seed=0):
    """Check second derivatives: the gradients of ``func``'s backward pass (recorded with
    ``create_graph=True``) with respect to the inputs and to the output gradients, against
    central finite differences of that backward pass (float64).

    ``grad_outputs`` (one per floating output) default to random float64 tensors that require
    grad. Returns True, or raises RuntimeError naming the input and element
    (``raise_exception=False``: returns False).

    Example::

        x = fastdl.randn(3, dtype=fastdl.float64, requires_grad=True)
        fastdl.autograd.gradgradcheck(lambda x: (x ** 3).sum(), (x,))
    """
    T = _fn._Tensor
    inputs = (inputs,) if isinstance(inputs, T) else tuple(inputs)
    with enable_grad():
        outs = _tensors(func(*inputs))
    rng = np.random.default_rng(seed + 1)
    if grad_outputs is None:
        grad_outputs = [T._make(rng.standard_normal(o._array.shape).astype(o._array.dtype),
                                requires_grad=True) for o in outs]
    else:
        grad_outputs = [grad_outputs] if isinstance(grad_outputs, T) else list(grad_outputs)
        if len(grad_outputs) != len(outs):
            raise ValueError(f"gradgradcheck: got {len(grad_outputs)} grad_outputs for "
                             f"{len(outs)} floating outputs")
    n_in = len(inputs)
    diff_idx = [k for k, t in enumerate(inputs) if isinstance(t, T) and t.requires_grad]

    def backward_fn(*args):
        xs, gos = args[:n_in], args[n_in:]
        ys = _tensors(func(*xs))
        pairs = [(y, g) for y, g in zip(ys, gos) if y.requires_grad]
        if not pairs:
            return ()
        return _fn.grad([y for y, _ in pairs], [xs[k] for k in diff_idx],
                        [g for _, g in pairs], create_graph=True, allow_unused=True)

    return _check(backward_fn, tuple(inputs) + tuple(grad_outputs), eps, atol, rtol,
                  raise_exception, seed, "gradgradcheck")
