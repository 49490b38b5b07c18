"""Helpers for holding fastdl to references: ``gradcheck``, ``assert_close``, ``reference``."""
from __future__ import annotations

import contextlib

import numpy as np

from .. import _C
from ..autograd.gradcheck import _central_difference
from ..tensor import Tensor

__all__ = ["gradcheck", "gradgradcheck", "assert_close", "isa_paths", "use_isa", "use_threads",
           "assert_thread_invariant"]


def _np(x):
    if isinstance(x, Tensor):
        return x._array
    return np.asarray(x)


def assert_close(actual, expected, rtol=None, atol=None, equal_nan=True, msg=""):
    """Assert ``|actual - expected| <= atol + rtol·|expected|`` elementwise, with matching
    shapes and NaN/inf positions; the error names the worst element. Defaults by dtype:
    float32 rtol 1.3e-6, atol 1e-5; float64 rtol 1e-7, atol 1e-7.

    Example: ``assert_close(F.relu(x), np.maximum(x.numpy(), 0))``
    """
    a, e = _np(actual), _np(expected)
    if a.shape != e.shape:
        raise AssertionError(f"{msg}shape mismatch: actual {a.shape}, expected {e.shape}")
    if rtol is None or atol is None:
        lowp = a.dtype == np.float32 or e.dtype == np.float32
        rtol = (1.3e-6 if lowp else 1e-7) if rtol is None else rtol
        atol = (1e-5 if lowp else 1e-7) if atol is None else atol
    if a.dtype.kind in "biu" and e.dtype.kind in "biu":
        bad = a != e
        if bad.any():
            i = np.unravel_index(np.argmax(bad), a.shape)
            raise AssertionError(f"{msg}{int(bad.sum())} of {a.size} elements differ; first "
                                 f"at {i}: {a[i]} vs {e[i]}")
        return
    a64, e64 = a.astype(np.float64), e.astype(np.float64)
    nan_a, nan_e = np.isnan(a64), np.isnan(e64)
    if equal_nan and (nan_a != nan_e).any():
        i = np.unravel_index(np.argmax(nan_a != nan_e), a.shape)
        raise AssertionError(f"{msg}NaN mismatch at {i}: actual {a[i]}, expected {e[i]}")
    inf = np.isinf(e64) | np.isinf(a64)
    if (inf & (a64 != e64) & ~nan_e).any():
        i = np.unravel_index(np.argmax(inf & (a64 != e64) & ~nan_e), a.shape)
        raise AssertionError(f"{msg}inf mismatch at {i}: actual {a[i]}, expected {e[i]}")
    ok = nan_e | inf
    with np.errstate(invalid="ignore"):
        err = np.where(ok, 0.0, np.abs(a64 - e64))
        tol = np.where(ok, 1.0, atol + rtol * np.abs(e64))
    bad = err > tol
    if bad.any():
        i = np.unravel_index(np.argmax(np.where(bad, err / tol, 0)), a.shape)
        raise AssertionError(
            f"{msg}{int(bad.sum())} of {a.size} elements differ beyond atol={atol}, "
            f"rtol={rtol}; worst at {i}: actual {a[i]!r}, expected {e[i]!r} "
            f"(|diff| {err[i]:.3g}, allowed {tol[i]:.3g})")


def gradcheck(fn, inputs, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Check ``fn``'s backward against central finite differences, in float64.

    ``inputs`` is a Tensor or a sequence; those that require grad are checked (they must be
    float64). The outputs (a Tensor or tuple) are reduced to the scalar Σ vᵢ·outᵢ with fixed
    random weights v, whose analytic gradient (one backward) is compared with
    (s(x + eps·eᵢ) − s(x − eps·eᵢ)) / 2eps for every element i. Returns True or raises
    AssertionError naming the worst element.

    Example: ``gradcheck(lambda x: (x * x).sum(), [fastdl.randn(3, dtype=fastdl.float64,
    requires_grad=True)])``
    """
    if isinstance(inputs, Tensor):
        inputs = [inputs]
    inputs = list(inputs)
    check = [t for t in inputs if isinstance(t, Tensor) and t.requires_grad]
    if not check:
        raise ValueError("gradcheck: no input requires grad")
    for t in check:
        if t.dtype != np.float64:
            raise TypeError(f"gradcheck: inputs must be float64, got {t.dtype} "
                            f"(shape {t.shape})")
    rng = np.random.default_rng(seed)

    def outs_of(res):
        res = res if isinstance(res, (tuple, list)) else (res,)
        return [r for r in res if isinstance(r, Tensor) and r.dtype.kind == "f"]

    outs = outs_of(fn(*inputs))
    weights = [rng.standard_normal(o.shape) for o in outs]

    def scalar():
        from .. import no_grad
        with no_grad():
            res = outs_of(fn(*inputs))
        return sum(float((o._array.astype(np.float64) * w).sum()) for o, w in zip(res, weights))

    for t in check:
        t.grad = None
    total = None
    for o, w in zip(outs, weights):
        if not o.requires_grad:
            continue
        s = (o * Tensor._make(w)).sum()
        total = s if total is None else total + s
    if total is None:
        raise AssertionError("gradcheck: no output depends differentiably on the inputs")
    total.backward()
    for k, t in enumerate(check):
        analytic = np.zeros(t.shape) if t.grad is None else t.grad._array.astype(np.float64)
        numeric = _central_difference(t._array, scalar, eps)
        err = np.abs(analytic - numeric)
        tol = atol + rtol * np.abs(numeric)
        if (err > tol).any():
            i = np.unravel_index(np.argmax(err - tol), t.shape)
            raise AssertionError(
                f"gradcheck: input {k} (shape {t.shape}): analytic {analytic[i]:.8g} vs "
                f"numeric {numeric[i]:.8g} at {i} (|diff| {err[i]:.3g}, "
                f"{int((err > tol).sum())} of {t._array.size} elements off)")
    return True


def gradgradcheck(fn, inputs, grad_outputs=None, eps=1e-6, atol=1e-5, rtol=1e-3, seed=0):
    """Check ``fn``'s second derivatives (its backward recorded with ``create_graph=True``)
    against central finite differences, in float64: ``fastdl.autograd.gradgradcheck``,
    raising AssertionError on a mismatch as ``gradcheck`` here does.

    Example: ``gradgradcheck(lambda x: (x ** 3).sum(), [fastdl.randn(3, dtype=fastdl.float64,
    requires_grad=True)])``
    """
    from ..autograd.gradcheck import gradgradcheck as _ggc
    if isinstance(inputs, Tensor):
        inputs = [inputs]
    try:
        return _ggc(fn, tuple(inputs), grad_outputs, eps=eps, atol=atol, rtol=rtol, seed=seed)
    except RuntimeError as e:
        if "Jacobian mismatch" in str(e):
            raise AssertionError(str(e)) from None
        raise


def isa_paths():
    """The ISA paths this machine supports, for parametrising tests."""
    return list(_C.supported_isas())


@contextlib.contextmanager
def use_isa(name):
    """Run the block on ISA path ``name``, then restore the previous one."""
    prev = _C.get_isa()
    _C.set_isa(name)
    try:
        yield
    finally:
        _C.set_isa(prev)


@contextlib.contextmanager
def use_threads(n):
    """Run the block with ``n`` kernel threads, then restore the previous count."""
    prev = _C.get_num_threads()
    _C.set_num_threads(n)
    try:
        yield
    finally:
        _C.set_num_threads(prev)


def assert_thread_invariant(run, isa=None):
    """Run ``run()`` (it returns a list of arrays) on 1 kernel thread, then on 2, on ISA path
    ``isa`` (the current one when None), and assert the results are equal bit for bit (NaN
    equal to NaN): fastdl's kernels split work so that results do not depend on the thread
    count.

    Example: ``assert_thread_invariant(lambda: [F.softmax(x, 1).numpy()], "avx2")``"""
    with (use_isa(isa) if isa is not None else contextlib.nullcontext()):
        with use_threads(1):
            one = run()
        with use_threads(2):
            two = run()
    assert len(one) == len(two)
    for k, (u, v) in enumerate(zip(one, two)):
        if not np.array_equal(u, v, equal_nan=True):
            raise AssertionError(f"result {k} differs between 1 and 2 threads (isa {isa})")
