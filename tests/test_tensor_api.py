"""The torch surface of Tensor and Module that scripts use: Size, named-tuple returns,
new_*, stride/data_ptr/storage_offset, legacy constructors, format/repr, the generated
namespace (every registered op is both fastdl.<fn> and Tensor.<fn>), out=, Module
conveniences — against torch when installed."""
import numpy as np
import pytest

import fastdl
from fastdl import nn
from fastdl.ops import table


def test_size_type():
    s = fastdl.zeros(2, 3, 4).shape
    assert isinstance(s, fastdl.Size) and isinstance(s, tuple)
    assert s == (2, 3, 4) and s.numel() == 24 and fastdl.zeros(2, 3).size() == (2, 3)
    assert isinstance(s[1:], fastdl.Size) and s[1:] == (3, 4) and s[0] == 2
    assert repr(s) == "fastdl.Size([2, 3, 4])" and fastdl.zeros(2, 3).size(-1) == 3
    assert fastdl.Size([]).numel() == 1


def test_size_matches_torch():
    torch = pytest.importorskip("torch")
    assert repr(fastdl.zeros(2, 3).shape).replace("fastdl", "torch") == \
        repr(torch.zeros(2, 3).shape)
    assert fastdl.Size([2, 5]).numel() == torch.Size([2, 5]).numel()


def test_named_tuple_returns_match_torch():
    torch = pytest.importorskip("torch")
    a = np.array([[1.0, 5.0, 2.0], [7.0, 2.0, 7.0]], np.float32)
    x, t = fastdl.tensor(a), torch.tensor(a)
    for name in ("max", "min"):
        r, tr = getattr(x, name)(1), getattr(t, name)(1)
        assert type(r).__name__ == name and r._fields == ("values", "indices")
        np.testing.assert_array_equal(r.values.numpy(), tr.values.numpy())
        np.testing.assert_array_equal(r.indices.numpy(), tr.indices.numpy())
        v, i = getattr(fastdl, name)(x, dim=0, keepdim=True)
        assert v.shape == (1, 3) and i.dtype is fastdl.int64
    mm, tm = fastdl.aminmax(x), torch.aminmax(t)
    assert mm.min.item() == tm.min.item() and mm.max.item() == tm.max.item()
    np.testing.assert_array_equal(fastdl.max(x, fastdl.ones(3) * 4).numpy(),
                                  torch.max(t, torch.ones(3) * 4).numpy())


def test_new_factories_and_properties_match_torch():
    torch = pytest.importorskip("torch")
    x, t = fastdl.ones(4, 6, dtype=fastdl.float64), torch.ones(4, 6, dtype=torch.float64)
    for f in (lambda z: z.new_zeros(2, 3), lambda z: z.new_ones((2,)),
              lambda z: z.new_full((2, 2), 7), lambda z: z.new_tensor([1, 2]),
              lambda z: z.new_empty(3), lambda z: z.new_zeros(2, dtype=z.int().dtype)):
        r, tr = f(x), f(t)
        assert tuple(r.shape) == tuple(tr.shape) and str(r.dtype)[7:] == str(tr.dtype)[6:]
    for f in (lambda z: z.stride(), lambda z: z.t().stride(), lambda z: z[1:, 2:].stride(),
              lambda z: z[1:, 2:].storage_offset(), lambda z: z[::2].stride(),
              lambda z: z.element_size(), lambda z: z.nelement(), lambda z: z.dim(),
              lambda z: z.is_floating_point(), lambda z: z.int().is_floating_point(),
              lambda z: z.is_contiguous(), lambda z: z.t().is_contiguous(),
              lambda z: z.expand(3, 4, 6).stride(), lambda z: z.stride(1),
              lambda z: z.half().element_size(), lambda z: z[0, 0].tolist(),
              lambda z: z[:1, :2].tolist(), lambda z: z.type()):
        assert f(x) == f(t)
    assert x[1:].data_ptr() - x.data_ptr() == 6 * 8
    assert x.data_ptr() == x.view(24).data_ptr()


def test_legacy_constructors_match_torch():
    torch = pytest.importorskip("torch")
    for name in ("FloatTensor", "DoubleTensor", "LongTensor", "BoolTensor", "IntTensor",
                 "ByteTensor"):
        f, t = getattr(fastdl, name), getattr(torch, name)
        a, b = f([1, 0, 2]), t([1, 0, 2])
        assert str(a.dtype)[7:] == str(b.dtype)[6:] and a.tolist() == b.tolist()
        assert tuple(f(2, 3).shape) == (2, 3) and str(f(2).dtype)[7:] == str(t(2).dtype)[6:]
        assert isinstance(a, f) and not isinstance(a.to(fastdl.float16), f)
    assert fastdl.Tensor(2, 3).shape == (2, 3) and fastdl.Tensor(2, 3).dtype is fastdl.float32
    assert fastdl.Tensor([1, 2]).dtype is fastdl.float32 and fastdl.Tensor().shape == (0,)
    assert fastdl.ones(2).type(fastdl.LongTensor).dtype is fastdl.int64


def test_format_and_repr_match_torch():
    torch = pytest.importorskip("torch")
    for v in ([1.0, 2.0, 3.0], [0.12345, 1.0], [1e-5, 1.0, 3e3], [[1, 2], [3, 4]],
              [True, False], [1.5, float("nan")], [[0.1, -0.2], [3.0, -4.0]], 3.5, [],
              [1e9, 1.0]):
        assert repr(fastdl.tensor(v)) == repr(torch.tensor(v)), v
    assert repr(fastdl.zeros(0, 3)) == repr(torch.zeros(0, 3))
    assert repr(fastdl.tensor([1.0, 2.0], dtype=fastdl.float16)) == \
        repr(torch.tensor([1.0, 2.0], dtype=torch.float16)).replace("torch.", "fastdl.")
    assert repr(fastdl.tensor([1.0], requires_grad=True)) == \
        repr(torch.tensor([1.0], requires_grad=True))
    assert format(fastdl.tensor(2.345), ".2f") == format(torch.tensor(2.345), ".2f")
    assert format(fastdl.tensor([2.345]), ".1f") == "2.3"  # one element (torch: 0-d only)
    assert f"{fastdl.tensor(3)}" == f"{torch.tensor(3)}"
    with pytest.raises(TypeError):
        format(fastdl.ones(2), ".2f")


def test_set_printoptions():
    try:
        fastdl.set_printoptions(precision=2)
        assert repr(fastdl.tensor([0.12345])) == "tensor([0.12])"
        fastdl.set_printoptions(threshold=5, edgeitems=1)
        assert "..." in repr(fastdl.arange(100))
    finally:
        fastdl.set_printoptions(profile="default")
    assert repr(fastdl.tensor([0.12345])) == "tensor([0.1235])"


def test_chunk_and_randperm_errors_match_torch():
    torch = pytest.importorskip("torch")
    for bad in (0, -2):
        with pytest.raises(RuntimeError, match="greater than 0"):
            fastdl.arange(6).chunk(bad)
        with pytest.raises(RuntimeError):
            torch.arange(6).chunk(bad)
    with pytest.raises(RuntimeError):
        fastdl.randperm(-1)
    with pytest.raises(RuntimeError):
        torch.randperm(-1)
    for n, k in ((6, 4), (5, 2), (0, 3), (1, 5)):
        assert [tuple(c.shape) for c in fastdl.zeros(n).chunk(k)] == \
            [tuple(c.shape) for c in torch.zeros(n).chunk(k)]


def test_every_registered_op_is_a_function_and_a_method():
    """The op table generates both spellings from one function (not written twice)."""
    for row in table.ROWS.values():
        if row.function:
            assert getattr(fastdl, row.name) is row.fn, row.name
        if row.method:
            assert getattr(fastdl.Tensor, row.name) is row.fn, row.name
    x = fastdl.tensor([[1.0, -2.0], [3.0, 4.0]])
    for name in ("exp", "abs", "sum", "mean", "amax", "flatten", "transpose", "clamp", "sqrt",
                 "reshape", "squeeze", "unsqueeze", "permute", "neg", "max", "argmax"):
        assert name in table.ROWS
    assert fastdl.sum(x, dim=1).tolist() == x.sum(dim=1).tolist() == [-1.0, 7.0]
    assert fastdl.clamp(x, min=0).tolist() == [[1.0, 0.0], [3.0, 4.0]]


def test_namespace_signatures_match_torch():
    torch = pytest.importorskip("torch")
    a = np.array([[1.5, -2.0, 0.5], [3.0, 4.0, -1.0]], np.float32)
    x, t = fastdl.tensor(a), torch.tensor(a)
    calls = [
        lambda m, z: m.sum(z, dim=1, keepdim=True), lambda m, z: m.sum(z, (0, 1)),
        lambda m, z: m.sum(z, dim=0, dtype=m.float64), lambda m, z: m.mean(z, 0),
        lambda m, z: m.prod(z, 1), lambda m, z: m.amax(z, dim=1),
        lambda m, z: m.std(z, dim=1), lambda m, z: m.var(z, 1, keepdim=True),
        lambda m, z: m.norm(z), lambda m, z: m.norm(z, p=1, dim=1),
        lambda m, z: m.clamp(z, min=-1, max=2), lambda m, z: m.add(z, z, alpha=2),
        lambda m, z: m.sub(z, 1), lambda m, z: m.mul(z, 3), lambda m, z: m.div(z, 2),
        lambda m, z: m.div(z, 2, rounding_mode="floor"),
        lambda m, z: m.div(z, 2, rounding_mode="trunc"), lambda m, z: m.pow(z, 2),
        lambda m, z: m.pow(2, z), lambda m, z: m.exp(z), lambda m, z: m.abs(z),
        lambda m, z: m.sqrt(m.abs(z)), lambda m, z: m.flatten(z), lambda m, z: m.reshape(z, (3, 2)),
        lambda m, z: m.transpose(z, 0, 1), lambda m, z: m.permute(z, (1, 0)),
        lambda m, z: m.unsqueeze(z, 0), lambda m, z: m.squeeze(m.unsqueeze(z, 0)),
        lambda m, z: m.cat([z, z], dim=1), lambda m, z: m.stack([z, z], 1),
        lambda m, z: m.where(z > 0, z, m.zeros_like(z)), lambda m, z: m.eq(z, 0.5),
        lambda m, z: m.gt(z, 0), lambda m, z: m.maximum(z, m.zeros_like(z)),
        lambda m, z: m.argmax(z, dim=1), lambda m, z: m.all(z > -5, dim=1),
        lambda m, z: m.any(z > 3, 0), lambda m, z: m.t(z), lambda m, z: m.gather(
            z, 1, m.tensor([[0], [2]])), lambda m, z: m.index_select(z, 1, m.tensor([2, 0])),
        lambda m, z: m.masked_fill(z, z < 0, 0.0), lambda m, z: m.clone(z),
        lambda m, z: m.neg(z), lambda m, z: m.square(z), lambda m, z: m.sign(z),
        lambda m, z: m.reciprocal(z), lambda m, z: m.rsqrt(m.abs(z)),
        lambda m, z: m.logical_not(z > 0), lambda m, z: m.isnan(z),
        lambda m, z: m.split(z, 1, dim=0)[1], lambda m, z: m.chunk(z, 3, 1)[2],
        lambda m, z: m.unbind(z, 1)[0], lambda m, z: m.amin(z),
    ]
    for i, f in enumerate(calls):
        r, tr = f(fastdl, x), f(torch, t)
        assert str(r.dtype)[7:] == str(tr.dtype)[6:], i
        np.testing.assert_allclose(r.numpy().astype(np.float64),
                                   tr.numpy().astype(np.float64), rtol=1e-6, atol=1e-6,
                                   err_msg=str(i))


def test_out_argument():
    x = fastdl.tensor([1.0, 2.0])
    out = fastdl.empty(5)
    r = fastdl.add(x, 1, out=out)
    assert r is out and out.tolist() == [2.0, 3.0]
    fastdl.exp(fastdl.zeros(2), out=out)
    assert out.tolist() == [1.0, 1.0]
    with pytest.raises(RuntimeError, match="automatic differentiation"):
        fastdl.mul(fastdl.ones(2, requires_grad=True), 2, out=fastdl.empty(2))


def test_gradients_through_namespace_functions():
    from fastdl.testing import gradcheck
    a = fastdl.tensor(np.array([[0.5, -1.5, 2.0], [1.0, 3.0, -0.5]]), requires_grad=True)
    assert gradcheck(lambda z: fastdl.sum(fastdl.exp(z) * z, dim=1), [a])
    assert gradcheck(lambda z: fastdl.max(z, 1).values, [a])
    assert gradcheck(lambda z: fastdl.norm(z, dim=0), [a])
    assert gradcheck(lambda z: fastdl.clamp(z, -1, 1.5), [a])
    assert gradcheck(lambda z: fastdl.cat([z, z * 2], 0).sum(0), [a])
    assert gradcheck(lambda z: z % 0.7, [a])


# ---- Module conveniences -------------------------------------------------------------------

class _Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.enc = nn.Sequential(nn.Linear(3, 4), nn.ReLU())
        self.head = nn.Linear(4, 2)
        self.stat = nn.Buffer(fastdl.zeros(2))
        self.tmp = nn.Buffer(fastdl.ones(1), persistent=False)


def test_module_lookup_and_registration():
    net = _Net()
    assert net.get_submodule("enc.0") is net.enc[0] and net.get_submodule("") is net
    assert net.get_parameter("head.bias") is net.head.bias
    assert net.get_buffer("stat") is net.stat
    with pytest.raises(AttributeError, match="nope"):
        net.get_submodule("enc.nope")
    with pytest.raises(AttributeError, match="bias2"):
        net.get_parameter("head.bias2")
    assert [n for n, _ in net.named_modules(prefix="model")][:3] == \
        ["model", "model.enc", "model.enc.0"]
    assert "stat" in net.state_dict() and "tmp" not in net.state_dict()
    assert "tmp" in dict(net.named_buffers())
    net.register_module("extra", nn.Identity())
    net.add_module("extra2", nn.Identity())
    assert "extra" in dict(net.named_children()) and "extra2" in net._modules
    with pytest.raises(KeyError):
        net.add_module("a.b", nn.Identity())
    with pytest.raises(TypeError):
        net.add_module("x", 3)


def test_named_modules_matches_torch():
    torch = pytest.importorskip("torch")
    shared = nn.Linear(2, 2)
    f = nn.Sequential(shared, nn.ReLU(), shared)
    ts = torch.nn.Linear(2, 2)
    t = torch.nn.Sequential(ts, torch.nn.ReLU(), ts)
    assert [n for n, _ in f.named_modules()] == [n for n, _ in t.named_modules()]
    assert [n for n, _ in f.named_modules(remove_duplicate=False)] == \
        [n for n, _ in t.named_modules(remove_duplicate=False)]


def test_load_state_dict_named_tuple_and_errors_like_torch():
    torch = pytest.importorskip("torch")
    for lib in (fastdl, torch):
        m = lib.nn.Linear(3, 2)
        sd = dict(m.state_dict())
        r = m.load_state_dict(sd)
        assert r.missing_keys == [] and r.unexpected_keys == []
        sd2 = {"weight": sd["weight"], "junk": sd["bias"]}
        with pytest.raises(RuntimeError, match=r'Missing key\(s\) in state_dict: "bias"'):
            m.load_state_dict(sd2)
        r = m.load_state_dict(sd2, strict=False)
        assert r.missing_keys == ["bias"] and r.unexpected_keys == ["junk"]
        missing, unexpected = r
        with pytest.raises(RuntimeError, match="size mismatch for weight"):
            m.load_state_dict({"weight": lib.zeros(4, 3), "bias": sd["bias"]})


def test_parameter_behaves_as_torch():
    torch = pytest.importorskip("torch")
    p, tp = nn.Parameter(fastdl.tensor([1.0, 2.0])), torch.nn.Parameter(torch.tensor([1., 2.]))
    assert isinstance(p, fastdl.Tensor) and p.requires_grad and p.is_leaf
    assert repr(p).replace("fastdl", "torch") == repr(tp)
    import pickle
    q = pickle.loads(pickle.dumps(p))
    assert isinstance(q, nn.Parameter) and q.tolist() == [1.0, 2.0] and q.requires_grad


def test_extra_repr_used_in_repr():
    class M(nn.Module):
        def extra_repr(self):
            return "k=3"

    assert repr(M()) == "M(k=3)"


def test_numel_is_tensor_is_floating_point_functions():
    torch = pytest.importorskip("torch")
    for lib in (fastdl, torch):
        x = lib.zeros(2, 3)
        assert lib.numel(x) == x.numel() == x.nelement() == 6
        assert lib.is_tensor(x) and not lib.is_tensor([1])
        assert lib.is_floating_point(x) and not lib.is_floating_point(x.long())
        assert not x.is_contiguous(memory_format=lib.channels_last) if hasattr(
            lib, "channels_last") else True


def test_import_fastdl_does_not_import_scipy():
    """SciPy (erf/erfc/erfinv's fast forward) is imported at the first such call, not by
    ``import fastdl``; the first call gives SciPy's values (or the fallback's without it)."""
    import os
    import subprocess
    import sys
    code = ("import sys, fastdl, numpy as np; a = 'scipy' in sys.modules; "
            "x = fastdl.tensor([-1.5, 0.0, 0.3, 2.0]); "
            "import math; ref = [math.erf(v) for v in x.tolist()]; "
            "print(a, bool(np.allclose(fastdl.erf(x).numpy(), ref, atol=1e-6)))")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(fastdl.__file__)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["False", "True"]
