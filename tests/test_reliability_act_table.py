"""The activation table (``fastdl.nn.functional.activation.ACT_TABLE``) drives ``F.<name>``,
``nn.<Module>`` and the NumPy reference: each row's three faces agree with each other, with
the kernel list and with torch's names, signatures and reprs."""
from __future__ import annotations

import inspect

import numpy as np
import pytest

import fastdl
import fastdl.nn as nn
import fastdl.nn.functional as F
from fastdl import _C
from fastdl.nn.functional.activation import ACT_TABLE
from fastdl.testing import assert_close
from fastdl.testing import reference as R

ROWS = {r.name: r for r in ACT_TABLE}
# arguments tried besides the defaults (every kernel variant and from-output rule is reached)
ARGS = {
    "hardtanh": [(-2.0, 0.5)],
    "leaky_relu": [(0.2,), (-0.5,)],
    "elu": [(1.3,)],
    "celu": [(0.7,)],
    "gelu": [("tanh",)],
    "softplus": [(2.0, 15.0)],
}
CASES = [(n, a) for n in ROWS for a in [()] + ARGS.get(n, [])]
TORCH_INPLACE_FUNCTIONS = {"relu_", "hardtanh_", "leaky_relu_", "elu_", "selu_", "celu_"}


def _x(dtype):
    rng = np.random.default_rng(7)
    x = np.concatenate([rng.standard_normal(509) * 4, [0.0, -3.0, 3.0, 6.0, 25.0, -25.0]])
    return x.astype(dtype)


def test_rows_name_every_kernel_and_reference():
    kernels = set()
    for name, args in CASES:
        k = ROWS[name].kernel
        kernels.add(k if isinstance(k, str) else k(*args))
    assert kernels == set(dict(_C.eltwise_acts))
    assert set(R.ACTIVATIONS) == set(ROWS) | {"gelu_tanh"}
    assert len({r.module for r in ACT_TABLE}) == len(ACT_TABLE)


@pytest.mark.parametrize("name,args", CASES, ids=[f"{n}{a}" for n, a in CASES])
def test_functional_equals_reference(name, args):
    fwd, grad = R.ACTIVATIONS[name]
    for dt, tol in ((np.float64, dict(rtol=1e-12, atol=1e-14)),
                    (np.float32, dict(rtol=2e-6, atol=1e-6))):
        x = _x(dt)
        t = fastdl.tensor(x, requires_grad=True)
        y = getattr(F, name)(t, *args)
        assert_close(y.detach().numpy(), fwd(x, *args).astype(dt), **tol, msg=f"{name}{args}: ")
        g = np.linspace(-1, 1, x.size).astype(dt)
        y.backward(fastdl.tensor(g))
        assert_close(t.grad.numpy(), grad(x, g, *args).astype(dt), **tol,
                     msg=f"{name}{args} grad: ")


@pytest.mark.parametrize("name,args", CASES, ids=[f"{n}{a}" for n, a in CASES])
def test_layer_and_inplace_forms_equal_functional(name, args):
    row = ROWS[name]
    x = _x(np.float32)
    y = getattr(F, name)(fastdl.tensor(x), *args).numpy()
    layer = getattr(nn, row.module)(*args)
    np.testing.assert_array_equal(layer(fastdl.tensor(x)).numpy(), y)
    assert [getattr(layer, p) for p, _ in row.params] == list(args) + \
        [d for _, d in row.params[len(args):]]
    if row.inplace:
        t = fastdl.tensor(x.copy())
        assert getattr(nn, row.module)(*args, inplace=True)(t) is t
        np.testing.assert_array_equal(t.numpy(), y)
        t = fastdl.tensor(x.copy())
        getattr(F, name)(t, *args, inplace=True)
        np.testing.assert_array_equal(t.numpy(), y)
    assert hasattr(F, name + "_") == (name + "_" in TORCH_INPLACE_FUNCTIONS)
    if hasattr(F, name + "_"):
        t = fastdl.tensor(x.copy())
        assert getattr(F, name + "_")(t, *args) is t
        np.testing.assert_array_equal(t.numpy(), y)


def test_bad_arguments_are_refused_by_both_forms():
    x = fastdl.ones(3)
    for call in (lambda: F.hardtanh(x, 2.0, 1.0), lambda: nn.Hardtanh(2.0, 1.0),
                 lambda: F.celu(x, 0.0), lambda: nn.CELU(0.0),
                 lambda: F.gelu(x, approximate="erf"), lambda: nn.GELU("erf"),
                 lambda: F.softplus(x, 0.0), lambda: nn.Softplus(0.0)):
        with pytest.raises(ValueError):
            call()
    with pytest.raises(TypeError, match="relu"):
        F.relu(fastdl.tensor([1, 2]))
    with pytest.raises(TypeError):
        F.elu(x, 1.0, False, 3)
    with pytest.raises(TypeError):
        nn.ReLU(bogus=1)


def test_names_signatures_and_reprs_match_torch():
    torch = pytest.importorskip("torch")
    for name, args in CASES:
        row = ROWS[name]
        tf, tm = getattr(torch.nn.functional, name), getattr(torch.nn, row.module)
        try:
            ts = list(inspect.signature(tf).parameters.values())
        except ValueError:  # a builtin without a Python signature
            ts = None
        ours = list(inspect.signature(getattr(F, name)).parameters.values())
        if ts is not None:
            assert [(p.name, p.default) for p in ours] == [(p.name, p.default) for p in ts], name
        tsm = list(inspect.signature(tm.__init__).parameters.values())[1:]
        om = list(inspect.signature(getattr(nn, row.module)).parameters.values())
        # torch's Hardtanh keeps two deprecated spellings after these
        assert [(p.name, p.default) for p in om] == \
            [(p.name, p.default) for p in tsm[:len(om)]], row.module
        assert repr(getattr(nn, row.module)(*args)) == repr(tm(*args))
        if row.inplace:
            assert repr(getattr(nn, row.module)(*args, inplace=True)) == \
                repr(tm(*args, inplace=True))
