"""fastdl.dtype objects, finfo/iinfo, default dtype, promotion of every binary op, and every
conversion — against torch (when installed) and NumPy, table-driven."""
import itertools
import pickle

import numpy as np
import pytest

import fastdl

NAMES = ["float16", "bfloat16", "float32", "float64", "int8", "uint8", "int16", "int32",
         "int64", "bool"]
ALIASES = {"half": "float16", "float": "float32", "double": "float64", "short": "int16",
           "int": "int32", "long": "int64"}
DTYPES = [getattr(fastdl, n) for n in NAMES]


def _torch():
    return pytest.importorskip("torch")


def _tdt(torch, d):
    return getattr(torch, d._name)


@pytest.fixture
def default_float32():
    yield
    fastdl.set_default_dtype(fastdl.float32)


# ---- the dtype objects -----------------------------------------------------------------

@pytest.mark.parametrize("name", NAMES)
def test_dtype_attributes_match_torch(name):
    torch = _torch()
    d, t = getattr(fastdl, name), getattr(torch, name)
    assert isinstance(d, fastdl.dtype)
    assert repr(d) == repr(t).replace("torch.", "fastdl.")
    for attr in ("is_floating_point", "is_complex", "is_signed", "itemsize"):
        assert getattr(d, attr) == getattr(t, attr), attr


def test_dtype_aliases_numpy_equality_and_pickle():
    for a, n in ALIASES.items():
        assert getattr(fastdl, a) is getattr(fastdl, n)
    for d in DTYPES:
        nd = np.dtype(d)  # NumPy accepts a fastdl dtype
        assert d == nd and nd == d and hash(d) == hash(nd)
        assert pickle.loads(pickle.dumps(d)) is d
        assert np.zeros(2, d).dtype == nd
    assert fastdl.float32 == np.float32 and fastdl.float32 != np.float64
    assert fastdl.float32 != fastdl.float64 and fastdl.float32 != "float32"
    assert fastdl.ones(2).dtype is fastdl.float32
    assert {fastdl.int64: 1}[fastdl.arange(3).dtype] == 1


@pytest.mark.parametrize("name", ["float16", "bfloat16", "float32", "float64"])
def test_finfo_matches_torch(name):
    torch = _torch()
    f, t = fastdl.finfo(getattr(fastdl, name)), torch.finfo(getattr(torch, name))
    for attr in ("bits", "eps", "max", "min", "tiny", "smallest_normal", "resolution"):
        assert getattr(f, attr) == pytest.approx(getattr(t, attr), rel=1e-6), attr


@pytest.mark.parametrize("name", ["int8", "uint8", "int16", "int32", "int64"])
def test_iinfo_matches_torch(name):
    torch = _torch()
    i, t = fastdl.iinfo(getattr(fastdl, name)), torch.iinfo(getattr(torch, name))
    assert (i.bits, i.min, i.max) == (t.bits, t.min, t.max)


def test_finfo_iinfo_errors_and_numpy():
    assert fastdl.finfo(fastdl.float16).max == float(np.finfo(np.float16).max)
    assert fastdl.iinfo(fastdl.uint8).max == 255
    assert fastdl.finfo().eps == float(np.finfo(np.float32).eps)
    with pytest.raises(TypeError, match="iinfo"):
        fastdl.finfo(fastdl.int32)
    with pytest.raises(TypeError, match="finfo"):
        fastdl.iinfo(fastdl.float32)


def test_default_dtype(default_float32):
    assert fastdl.get_default_dtype() is fastdl.float32
    fastdl.set_default_dtype(fastdl.float64)
    assert fastdl.get_default_dtype() is fastdl.float64
    assert fastdl.tensor([1.5]).dtype is fastdl.float64
    assert fastdl.zeros(2).dtype is fastdl.float64 and fastdl.rand(2).dtype is fastdl.float64
    assert fastdl.arange(0.0, 1.0, 0.5).dtype is fastdl.float64
    assert (fastdl.arange(3) / 2).dtype is fastdl.float64
    assert (fastdl.arange(3) * 0.5).dtype is fastdl.float64
    assert fastdl.full((2,), 1.0).dtype is fastdl.float64
    fastdl.set_default_dtype(fastdl.float32)
    assert fastdl.tensor([1.5]).dtype is fastdl.float32
    with pytest.raises(TypeError, match="floating"):
        fastdl.set_default_dtype(fastdl.int64)


# ---- promotion ---------------------------------------------------------------------------

def test_promote_types_and_can_cast_match_torch_on_every_pair():
    torch = _torch()
    for a, b in itertools.product(DTYPES, DTYPES):
        ta, tb = _tdt(torch, a), _tdt(torch, b)
        assert fastdl.promote_types(a, b) == getattr(fastdl, str(
            torch.promote_types(ta, tb)).split(".")[1]), (a, b)
        assert fastdl.can_cast(a, b) == torch.can_cast(ta, tb), (a, b)


def _fd(d, values, shape=(3,)):
    return fastdl.tensor(np.asarray(values).reshape(shape)).to(d)


def _tt(torch, d, values, shape=(3,)):
    return torch.tensor(np.asarray(values).reshape(shape)).to(_tdt(torch, d))


OPS = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "truediv": lambda a, b: a / b, "floordiv": lambda a, b: a // b,
    "mod": lambda a, b: a % b, "pow": lambda a, b: a ** b,
    "eq": lambda a, b: a == b, "lt": lambda a, b: a < b, "ge": lambda a, b: a >= b,
}
SCALARS = [2, 2.5, True]


def _check_same(r, t, what):
    torch_name = str(t.dtype).split(".")[1]
    assert r.dtype == getattr(fastdl, torch_name), what
    exp = t.to(torch_float(t)).numpy() if torch_name == "bfloat16" else t.numpy()
    got = r.float().numpy() if torch_name == "bfloat16" else r.numpy()
    rtol = {"float16": 1e-3, "bfloat16": 1e-2}.get(torch_name, 1e-6)
    np.testing.assert_allclose(got.astype(np.float64), exp.astype(np.float64), rtol=rtol,
                               atol=rtol, err_msg=what)


def torch_float(t):
    import torch
    return torch.float32


@pytest.mark.parametrize("op", sorted(OPS))
def test_binary_op_dtypes_and_values_match_torch(op):
    """Every pair of dtypes (tensor op tensor), tensor op Python scalar, and tensor op 0-d
    tensor: the result dtype and values equal torch's."""
    torch = _torch()
    f = OPS[op]
    va, vb = [1, 2, 3], [3, 1, 2]
    skip_bool = op in ("sub", "floordiv", "mod", "pow", "truediv")
    for a, b in itertools.product(DTYPES, DTYPES):
        if skip_bool and (a is fastdl.bool or b is fastdl.bool):
            continue
        what = f"{op}({a}, {b})"
        try:
            t = f(_tt(torch, a, va), _tt(torch, b, vb))
        except RuntimeError:
            continue  # torch refuses the pair (e.g. uint8 ** int8 is fine; bool-sub is not)
        _check_same(f(_fd(a, va), _fd(b, vb)), t, what)
        # 0-d second operand
        t0 = f(_tt(torch, a, va), _tt(torch, b, 2, ()))
        _check_same(f(_fd(a, va), _fd(b, 2, ())), t0, what + " 0-d")
    for a, s in itertools.product(DTYPES, SCALARS):
        if a is fastdl.bool and (skip_bool or isinstance(s, bool)):
            continue
        if isinstance(s, bool) and skip_bool:
            continue
        what = f"{op}({a}, {s!r})"
        t = f(_tt(torch, a, va), s)
        _check_same(f(_fd(a, va), s), t, what)


def test_promotion_rules_without_torch():
    x = fastdl.ones(3)
    assert (x * 2.5).dtype is fastdl.float32
    assert (x + np.float64(1)).dtype is fastdl.float32
    assert (fastdl.arange(3) * 2.5).dtype is fastdl.float32
    assert (fastdl.arange(3) + x.double()).dtype is fastdl.float64
    assert (fastdl.arange(3) / fastdl.arange(1, 4)).dtype is fastdl.float32
    assert (fastdl.arange(3) // 2).dtype is fastdl.int64
    assert (x < 2).dtype is fastdl.bool
    assert (x.int() + x.long()).dtype is fastdl.int64
    assert (x.half() + x.bfloat16()).dtype is fastdl.float32
    assert (x.byte() + x.char()).dtype is fastdl.int16
    assert fastdl.result_type(x, 2.5) is fastdl.float32
    assert fastdl.result_type(fastdl.arange(2), 2.5) is fastdl.float32


def test_low_precision_arithmetic_rounds_once_from_float32():
    """float16/bfloat16 arithmetic computes in float32 and rounds the result (as torch on
    the CPU): equal to NumPy's float32 computation rounded to the 16-bit type."""
    import ml_dtypes
    rng = np.random.default_rng(0)
    a = rng.standard_normal(100).astype(np.float32)
    b = rng.standard_normal(100).astype(np.float32)
    for d, nd in ((fastdl.float16, np.float16), (fastdl.bfloat16, ml_dtypes.bfloat16)):
        fa, fb = fastdl.tensor(a).to(d), fastdl.tensor(b).to(d)
        a16, b16 = a.astype(nd).astype(np.float32), b.astype(nd).astype(np.float32)
        for got, exp in ((fa * fb, a16 * b16), (fa / fb, a16 / b16), (fa + 1.5, a16 + 1.5),
                         (fa.exp(), np.exp(a16)), (fa.sum(), a16.sum())):
            assert got.dtype is d
            np.testing.assert_array_equal(got.numpy(), np.asarray(exp).astype(nd))


def test_low_precision_matches_torch():
    torch = _torch()
    rng = np.random.default_rng(1)
    a = rng.standard_normal(64).astype(np.float32)
    b = rng.standard_normal(64).astype(np.float32)
    for name in ("float16", "bfloat16"):
        fa, fb = fastdl.tensor(a).to(getattr(fastdl, name)), fastdl.tensor(b).to(
            getattr(fastdl, name))
        ta, tb = torch.tensor(a).to(getattr(torch, name)), torch.tensor(b).to(
            getattr(torch, name))
        for f in (lambda x, y: x * y, lambda x, y: x - y * 2, lambda x, y: x / y):
            np.testing.assert_array_equal(f(fa, fb).float().numpy(),
                                          f(ta, tb).float().numpy())


def test_low_precision_gradient_flows():
    x = fastdl.tensor([1.0, 2.0], dtype=fastdl.float16, requires_grad=True)
    (x * x).sum().backward()
    assert x.grad.dtype is fastdl.float16 and x.grad.tolist() == [2.0, 4.0]
    y = fastdl.tensor([1.0, 2.0], requires_grad=True)
    (y.to(fastdl.bfloat16) * 3).float().sum().backward()
    assert y.grad.dtype is fastdl.float32 and y.grad.tolist() == [3.0, 3.0]


def test_mixed_dtype_gradients_take_input_dtype():
    a = fastdl.ones(3, requires_grad=True)
    b = fastdl.ones(3, dtype=fastdl.float64, requires_grad=True)
    (a * b).sum().backward()
    assert a.grad.dtype is fastdl.float32 and b.grad.dtype is fastdl.float64


def test_kernel_layers_refuse_low_precision_with_a_clear_error():
    lin = fastdl.nn.Linear(3, 2)
    with pytest.raises(TypeError, match="float16"):
        lin(fastdl.ones(2, 3).half())


def test_integer_division_by_zero_is_an_error():
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        fastdl.arange(3) // 0
    with pytest.raises(RuntimeError, match="ZeroDivisionError"):
        fastdl.arange(3) % fastdl.tensor([1, 0, 1])


# ---- conversions -------------------------------------------------------------------------

CONVERSIONS = ["half", "bfloat16", "float", "double", "int", "long", "short", "char", "byte",
               "bool"]


@pytest.mark.parametrize("method", CONVERSIONS)
def test_conversion_methods_match_torch(method):
    torch = _torch()
    vals = np.array([-2.7, -0.5, 0.0, 0.4, 1.5, 3.9, 100.25], np.float32)
    for src in ("float32", "float64", "int64", "bool", "float16"):
        f = getattr(fastdl.tensor(vals).to(getattr(fastdl, src)), method)()
        t = getattr(torch.tensor(vals).to(getattr(torch, src)), method)()
        _check_same(f, t, f"{src}.{method}()")


def test_to_type_type_as_and_errors():
    torch = _torch()
    x = fastdl.tensor([1.5, -2.5])
    tx = torch.tensor([1.5, -2.5])
    for arg in ("int64", "float16", "bool", "uint8"):
        _check_same(x.to(getattr(fastdl, arg)), tx.to(getattr(torch, arg)), arg)
        _check_same(x.type(getattr(fastdl, arg)), tx.type(getattr(torch, arg)), arg)
    assert x.type() == tx.type() == "torch.FloatTensor"
    assert x.long().type() == tx.long().type()
    assert x.type("torch.LongTensor").dtype is fastdl.int64
    assert x.type_as(fastdl.arange(2)).dtype is fastdl.int64
    assert x.to(fastdl.arange(2)).dtype is fastdl.int64
    assert x.to(dtype=fastdl.float64, device="cpu").dtype is fastdl.float64
    assert x.to(fastdl.float32) is x and x.to(fastdl.float32, copy=True) is not x
    with pytest.raises(TypeError, match="complex64"):
        x.to(np.complex64)
    with pytest.raises(TypeError, match="not a dtype"):
        x.to(object())


def test_to_is_differentiable_between_floats():
    from fastdl.testing import gradcheck
    x = fastdl.tensor(np.linspace(-1, 1, 5), dtype=fastdl.float64, requires_grad=True)
    assert gradcheck(lambda t: (t.float() * 3).double(), [x], eps=1e-3, atol=1e-3)
    y = x.long()
    assert not y.requires_grad


def test_tensor_from_numpy_keeps_supported_dtypes():
    import ml_dtypes
    for nd in (np.float16, ml_dtypes.bfloat16, np.int8, np.uint8, np.int16, np.int32):
        a = np.zeros(3, nd)
        assert fastdl.tensor(a).dtype == np.dtype(nd)
        assert fastdl.from_numpy(a).dtype == np.dtype(nd)
    assert fastdl.tensor(np.zeros(2, np.uint32)).dtype is fastdl.int64
