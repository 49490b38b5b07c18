"""create_graph=True (double backward): second derivatives of every op that supports it,
checked by finite differences (gradgradcheck, float64); the create_graph path's first-order
gradients equal the fast path's; the engine's semantics (retain_graph default, ``.grad`` with a
graph, plain arrays without create_graph); the error of an op without double backward; and
three uses compared with PyTorch: a WGAN-GP gradient penalty, a MAML inner step, a third
derivative through a convolution."""
import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl.autograd import gradgradcheck
from fastdl.testing import use_threads

_R = np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _one_thread():
    # thousands of tiny kernel calls: one thread avoids fork/join cost on a shared machine
    with use_threads(1):
        yield


def _t(*shape, lo=None, hi=None):
    a = _R.standard_normal(shape) if lo is None else _R.uniform(lo, hi, shape)
    return fastdl.tensor(a, dtype=fastdl.float64, requires_grad=True)


def _c(a):
    return fastdl.tensor(np.asarray(a, np.float64))


def _drop(fn, p):
    def f(x):
        fastdl.manual_seed(7)  # the same mask on every evaluation
        return fn(x * x, p, training=True)
    return f


_IDX = fastdl.tensor([[0, 2, 1], [2, 2, 4]])
_GIDX = fastdl.tensor([[0, 1, 1, 3], [2, 0, 1, 1], [3, 3, 0, 2]])
_TGT = fastdl.tensor([1, 0, 3, 2])
_TGT2 = fastdl.tensor([[1, 0, 2], [2, 2, -100]])
_W4 = _c([0.5, 1.0, 2.0, 1.5])
_RM, _RV = _c([0.1, -0.2, 0.3]), _c([1.0, 0.5, 2.0])
_BW = _c(_R.uniform(0.2, 1.0, (3, 4)))

# name -> (function, input shapes / domain) ; inputs are drawn fresh per test
CASES = {
    # elementwise arithmetic (broadcasting included)
    "mul": (lambda a, b: a * b * a, [(3, 4), (3, 4)]),
    "div": (lambda a, b: a / (b * b + 1), [(3, 4), (4,)]),
    "add_sub_scalar": (lambda a, b: (a + b - 2 * a + 1.5) * a, [(3, 4), (1, 4)]),
    "neg": (lambda a: -a * a, [(5,)]),
    "pow_scalar": (lambda a: a ** 3 + a ** 2, [(5,)]),
    "pow_tensor": (lambda a, b: a ** b, [("pos", 5), (5,)]),
    "rpow": (lambda a: 2.0 ** a, [(5,)]),
    "exp": (lambda a: a.exp() * a, [(5,)]),
    "log": (lambda a: a.log() * a, [("pos", 5)]),
    "sqrt": (lambda a: a.sqrt() * a, [("pos", 5)]),
    "abs": (lambda a: a.abs() * a, [(5,)]),
    "clamp": (lambda a: a.clamp(-0.5, 0.5) * a, [(6,)]),
    "maximum": (lambda a, b: fastdl.maximum(a, b) * a, [(5,), (5,)]),
    "minimum": (lambda a, b: fastdl.minimum(a, b) * b, [(5,), (5,)]),
    "remainder": (lambda a, b: fastdl.remainder(a, b) * a, [(5,), ("pos", 5)]),
    # math ops
    **{f"math_{n}": ((lambda n: lambda a: getattr(fastdl, n)(a) * a)(n), [(dom, 5)])
       for n, dom in [("sin", None), ("cos", None), ("tan", "small"), ("asin", "small"),
                      ("acos", "small"), ("atan", None), ("sinh", None), ("cosh", None),
                      ("asinh", None), ("acosh", "gt1"), ("atanh", "small"), ("log2", "pos"),
                      ("log10", "pos"), ("log1p", "pos"), ("expm1", None), ("exp2", None),
                      ("erf", None), ("erfc", None), ("erfinv", "small"),
                      ("reciprocal", "pos"), ("rsqrt", "pos"), ("square", None),
                      ("frac", None), ("tanh", None), ("sigmoid", None)]},
    # reductions
    "sum": (lambda a: a.sum(1) * a.sum(), [(3, 4)]),
    "mean": (lambda a: a.mean(0, keepdim=True) ** 2, [(3, 4)]),
    "amax": (lambda a: a.amax(1) ** 2, [(3, 4)]),
    "max_dim": (lambda a: a.max(1).values ** 2, [(3, 4)]),
    "logsumexp": (lambda a: fastdl.logsumexp(a, 1) ** 2, [(3, 4)]),
    "norm2_dim": (lambda a: fastdl.linalg.vector_norm(a, 2, dim=1) ** 3, [(3, 4)]),
    "norm1": (lambda a: fastdl.linalg.vector_norm(a, 1) * a, [(3, 4)]),
    "var_std": (lambda a: a.var(1) * a.std(), [(3, 4)]),
    # 0-d intermediates (NumPy hands back scalars there)
    "scalar_chain": (lambda a: a.sum().sqrt().exp().tanh() * F.sigmoid(a.mean()) * a,
                     [("pos", 3, 4)]),
    # matmul / linear / shapes / indexing
    "matmul": (lambda a, b: (a @ b.t()) ** 2, [(3, 4), (2, 4)]),
    "matmul_vec": (lambda a, b: (a @ b) ** 2, [(3, 4), (4,)]),
    "matmul_batched": (lambda a, b: (a @ b) ** 2, [(2, 2, 3), (3, 2)]),
    "linear": (lambda a, w, b: F.linear(a, w, b) ** 2, [(3, 4), (5, 4), (5,)]),
    "reshape_permute": (lambda a: a.reshape(4, 3).t() * a, [(3, 4)]),
    "getitem": (lambda a: a[1:, ::2] * a[:2, 1::2], [(3, 4)]),
    "where": (lambda a, b: fastdl.where(a > 0, a * a, b * a), [(3, 4), (3, 4)]),
    "cat_stack": (lambda a, b: fastdl.cat([a * a, b], 0) * fastdl.stack([b, a], 0).reshape(6, 4),
                  [(3, 4), (3, 4)]),
    "expand": (lambda a: a[0:1].expand(3, 4) * a, [(3, 4)]),
    "repeat_squeeze": (lambda a: a.repeat(2, 1).unsqueeze(1).squeeze(1) ** 2, [(3, 4)]),
    "gather": (lambda a: fastdl.gather(a * a, 1, _GIDX) * a, [(3, 4)]),
    "take_along_dim": (lambda a: fastdl.take_along_dim(a * a, _GIDX, 1) * a, [(3, 4)]),
    "min_dim_amin": (lambda a: a.min(1).values ** 2 + a.amin(0).sum(), [(3, 4)]),
    "mm_bmm": (lambda a, b: fastdl.mm(a, b) ** 2 + fastdl.bmm(a[None], b[None])[0],
               [(3, 4), (4, 2)]),
    "floor_divide": (lambda a: (a * a) // 0.7 * a, [(3, 4)]),
    # activations, softmax
    **{f"act_{n}": ((lambda n: lambda a: getattr(F, n)(a) * a)(n), [("wide", 3, 4)])
       for n in ["relu", "relu6", "leaky_relu", "elu", "selu", "celu", "gelu", "silu", "mish",
                 "sigmoid", "tanh", "softplus", "softsign", "hardtanh", "hardsigmoid",
                 "hardswish", "logsigmoid", "tanhshrink", "softshrink", "hardshrink"]},
    "act_gelu_tanh": (lambda a: F.gelu(a, approximate="tanh") * a, [(3, 4)]),
    "prelu": (lambda a, w: F.prelu(a, w) * a, [(2, 3, 4), (3,)]),
    "softmax": (lambda a: F.softmax(a, dim=1) * a, [(3, 4)]),
    "softmin": (lambda a: F.softmin(a, dim=1) * a, [(3, 4)]),
    "threshold": (lambda a: F.threshold(a, 0.1, -2.0) * a, [("wide", 3, 4)]),
    "log_softmax": (lambda a: F.log_softmax(a, dim=0) * a, [(3, 4)]),
    # losses
    "mse": (lambda x, y: F.mse_loss(x * x, y), [(3, 4), (3, 4)]),
    "mse_none": (lambda x, y: F.mse_loss(x * x, y, reduction="none"), [(3, 4), (3, 4)]),
    "cross_entropy": (lambda x: F.cross_entropy(x, _TGT), [(4, 4)]),
    "cross_entropy_w_ls": (lambda x: F.cross_entropy(x, _TGT, weight=_W4, label_smoothing=0.2),
                           [(4, 4)]),
    "cross_entropy_none": (lambda x: F.cross_entropy(x, _TGT, reduction="none"), [(4, 4)]),
    "cross_entropy_spatial": (lambda x: F.cross_entropy(x, _TGT2, label_smoothing=0.1),
                              [(2, 3, 3)]),
    "nll": (lambda x: F.nll_loss(x * x, _TGT, weight=_W4), [(4, 4)]),
    "bce": (lambda x, y: F.binary_cross_entropy(x, y, weight=_BW), [("prob", 3, 4), ("unit", 3, 4)]),
    "bce_with_logits": (lambda x, y: F.binary_cross_entropy_with_logits(
        x, y, pos_weight=_c([1.0, 2.0, 0.5, 3.0])), [(3, 4), ("unit", 3, 4)]),
    "smooth_l1": (lambda x, y: F.smooth_l1_loss(x * x, y, beta=0.7), [(3, 4), (3, 4)]),
    "kl_div": (lambda x, y: F.kl_div(x, y, reduction="batchmean"), [(3, 4), ("pos", 3, 4)]),
    # convolution, pooling
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, padding=1), [(1, 2, 4, 4), (3, 2, 3, 3), (3,)]),
    "conv2d_stride_groups": (lambda x, w: F.conv2d(x, w, stride=2, padding=1, groups=2),
                             [(2, 4, 5, 5), (4, 2, 3, 3)]),
    "conv2d_dilation_sq": (lambda x, w: F.conv2d(x, w, padding=2, dilation=2) ** 2,
                           [(1, 2, 5, 5), (2, 2, 3, 3)]),
    "conv1d": (lambda x, w, b: F.conv1d(x, w, b, stride=2, padding=1), [(2, 2, 7), (3, 2, 3), (3,)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 3, stride=2, padding=1) ** 2, [(2, 2, 5, 5)]),
    "max_pool1d": (lambda x: F.max_pool1d(x, 2) ** 2, [(2, 3, 6)]),
    "avg_pool2d": (lambda x: F.avg_pool2d(x, 3, stride=2, padding=1,
                                          count_include_pad=False) ** 2, [(1, 2, 5, 5)]),
    "avg_pool1d": (lambda x: F.avg_pool1d(x, 2) ** 2, [(2, 3, 6)]),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, (2, 3)) ** 2, [(1, 2, 5, 5)]),
    "adaptive_max_pool2d": (lambda x: F.adaptive_max_pool2d(x, (2, 2)) ** 2, [(1, 2, 5, 5)]),
    # normalisation, embedding, dropout
    "layer_norm": (lambda x, w, b: F.layer_norm(x, (4,), w, b), [(3, 4), (4,), (4,)]),
    "layer_norm_2d_sq": (lambda x: F.layer_norm(x, (2, 3)) ** 2, [(2, 2, 3)]),
    "batch_norm_train": (lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True) ** 2,
                         [(2, 3, 2, 2), (3,), (3,)]),
    "batch_norm_eval": (lambda x, w, b: F.batch_norm(x, _RM, _RV, w, b, training=False) ** 2,
                        [(2, 3, 2), (3,), (3,)]),
    "embedding": (lambda w: F.embedding(_IDX, w) ** 2, [(5, 3)]),
    "embedding_padding": (lambda w: F.embedding(_IDX, w, padding_idx=2) ** 2, [(5, 3)]),
    "dropout": (_drop(F.dropout, 0.4), [(4, 5)]),
    "dropout2d": (_drop(F.dropout2d, 0.4), [(2, 3, 2, 2)]),
}

_DOMAINS = {"pos": (0.5, 2.0), "small": (-0.8, 0.8), "gt1": (1.5, 3.0), "prob": (0.1, 0.9),
            "unit": (0.0, 1.0)}


def _inputs(spec):
    out = []
    for s in spec:
        if isinstance(s[0], str) or s[0] is None:
            dom, shape = s[0], s[1:]
            if dom == "wide":
                a = _R.standard_normal(shape) * 2
                a[np.abs(a) < 0.05] = 0.3  # keep away from kinks
                out.append(fastdl.tensor(a, dtype=fastdl.float64, requires_grad=True))
                continue
            lo, hi = _DOMAINS.get(dom, (None, None))
            out.append(_t(*shape, lo=lo, hi=hi))
        else:
            out.append(_t(*s))
    return out


@pytest.mark.parametrize("name", sorted(CASES))
def test_gradgradcheck(name):
    fn, spec = CASES[name]
    inputs = _inputs(spec)
    assert gradgradcheck(fn, inputs)


@pytest.mark.parametrize("name", sorted(CASES))
def test_create_graph_first_order_equals_fast_path(name):
    fn, spec = CASES[name]
    inputs = _inputs(spec)
    out = fn(*inputs)
    go = fastdl.tensor(_R.standard_normal(tuple(out.shape)))
    slow = fastdl.autograd.grad(out, inputs, go, create_graph=True, allow_unused=True)
    fast = fastdl.autograd.grad(fn(*inputs), inputs, go, allow_unused=True)
    for s, f in zip(slow, fast):
        assert (s is None) == (f is None)
        if f is not None:
            assert not f.requires_grad and f.grad_fn is None
            np.testing.assert_allclose(s.detach().numpy(), f.numpy(), rtol=1e-9, atol=1e-12)


def test_third_derivative_through_conv():
    w = _t(2, 2, 2, 2)

    def grad_of(x):
        y = (F.conv2d(x, w) ** 2).sum()
        return fastdl.autograd.grad(y, [x], create_graph=True)[0] ** 2

    # second derivatives of grad_of = third derivatives of the convolution
    assert gradgradcheck(grad_of, [_t(1, 2, 4, 4)])


def test_third_and_fourth_derivative_of_pow():
    x = fastdl.tensor([0.5, -1.5, 2.0], dtype=fastdl.float64, requires_grad=True)
    g = x
    y = (x ** 4).sum()
    derivs = []
    for _ in range(4):
        (g,) = fastdl.autograd.grad(y, [x], create_graph=True)
        derivs.append(g.detach().numpy())
        y = g.sum()
    a = x.detach().numpy()
    for got, want in zip(derivs, [4 * a ** 3, 12 * a ** 2, 24 * a, np.full(3, 24.0)]):
        np.testing.assert_allclose(got, want, rtol=1e-12)


# ---- engine semantics ---------------------------------------------------------------------

def test_without_create_graph_gradients_are_plain():
    x = _t(3)
    (g,) = fastdl.autograd.grad((x ** 3).sum(), [x])
    assert not g.requires_grad and g.grad_fn is None
    (x ** 3).sum().backward()
    assert not x.grad.requires_grad and x.grad.grad_fn is None
    (x * x).sum().backward()  # accumulates in place, still plain
    np.testing.assert_allclose(x.grad.numpy(), 3 * x.detach().numpy() ** 2 +
                               2 * x.detach().numpy())
    assert x.grad.grad_fn is None


def test_backward_create_graph_leaves_a_differentiable_grad():
    x = _t(3)
    a = x.detach().numpy()
    (x ** 3).sum().backward(create_graph=True)
    assert x.grad.requires_grad and x.grad.grad_fn is not None
    (x * x).sum().backward(create_graph=True)  # accumulates out of place, with graph
    np.testing.assert_allclose(x.grad.detach().numpy(), 3 * a ** 2 + 2 * a)
    (h,) = fastdl.autograd.grad(x.grad.sum(), [x])
    np.testing.assert_allclose(h.numpy(), 6 * a + 2)


def test_retain_graph_defaults_to_create_graph():
    x = _t(3)
    y = (x.exp() * x).sum()
    fastdl.autograd.grad(y, [x], create_graph=True)
    fastdl.autograd.grad(y, [x])  # the graph was kept: a second pass works
    with pytest.raises(RuntimeError, match="second time"):
        fastdl.autograd.grad(y, [x])


def test_grad_outputs_that_require_grad_are_part_of_the_graph():
    x = _t(3)
    v = _t(3)
    (g,) = fastdl.autograd.grad(x * x, [x], v, create_graph=True)  # 2 x v
    (dv,) = fastdl.autograd.grad(g.sum(), [v])
    np.testing.assert_allclose(dv.numpy(), 2 * x.detach().numpy())


def test_hooks_see_recorded_gradients():
    x = _t(3)
    seen = []
    x.register_hook(lambda g: seen.append(g.requires_grad) or g * 2)
    (g,) = fastdl.autograd.grad((x ** 2).sum(), [x], create_graph=True)
    assert seen == [True]
    np.testing.assert_allclose(g.detach().numpy(), 4 * x.detach().numpy())
    (h,) = fastdl.autograd.grad(g.sum(), [x])  # the hook doubles this pass too (as torch)
    np.testing.assert_allclose(h.numpy(), np.full(3, 8.0))


def test_unsupported_op_names_itself():
    x = _t(4)
    y = fastdl.cumsum(x * 2, 0).sum()
    with pytest.raises(RuntimeError, match=r"CumSum does not support double backward "
                                           r"\(create_graph=True\)"):
        fastdl.autograd.grad(y, [x], create_graph=True)
    (g,) = fastdl.autograd.grad(fastdl.cumsum(x * 2, 0).sum(), [x])  # first order still works
    np.testing.assert_allclose(g.numpy(), [8.0, 6.0, 4.0, 2.0])


def test_user_function_backward_is_recorded():
    class Cube(fastdl.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x ** 3

        @staticmethod
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 3 * x * x * g

    x = _t(3)
    (g,) = fastdl.autograd.grad(Cube.apply(x).sum(), [x], create_graph=True)
    (h,) = fastdl.autograd.grad(g.sum(), [x])
    np.testing.assert_allclose(h.numpy(), 6 * x.detach().numpy())


# ---- against PyTorch ------------------------------------------------------------------------

def _wgan_gp(lib, fn, dtype, w):
    T = lambda a, g=False: lib.tensor(a, dtype=dtype, requires_grad=g)  # noqa: E731
    w1, c1, w2, c2 = (T(w[k], True) for k in ("w1", "b1", "w2", "b2"))

    def critic(x):
        h = fn.leaky_relu(fn.conv2d(x, w1, c1, stride=2, padding=1), 0.2)
        h = fn.avg_pool2d(h, 1)
        return fn.linear(h.reshape(h.shape[0], -1), w2, c2)

    real, fake, alpha = T(w["real"]), T(w["fake"]), T(w["alpha"])
    xh = (alpha * real + (1 - alpha) * fake).detach().requires_grad_(True)
    d = critic(xh)
    (g,) = lib.autograd.grad(d, xh, lib.ones_like(d), create_graph=True)
    gp = ((g.reshape(g.shape[0], -1).norm(2, dim=1) - 1) ** 2).mean()
    loss = critic(fake).mean() - critic(real).mean() + 10 * gp
    loss.backward()
    return [loss.detach().numpy()] + [p.grad.numpy() for p in (w1, c1, w2, c2)]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_wgan_gp_gradient_penalty_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(5)
    w = {"w1": r.standard_normal((4, 3, 3, 3)) * 0.3, "b1": r.standard_normal(4) * 0.1,
         "w2": r.standard_normal((1, 36)) * 0.3, "b2": r.standard_normal(1) * 0.1,
         "real": r.standard_normal((2, 3, 6, 6)), "fake": r.standard_normal((2, 3, 6, 6)),
         "alpha": r.uniform(size=(2, 1, 1, 1))}
    ours = _wgan_gp(fastdl, F, getattr(fastdl, dtype), w)
    theirs = _wgan_gp(torch, torch.nn.functional, getattr(torch, dtype), w)
    tol = dict(rtol=1e-9, atol=1e-12) if dtype == "float64" else dict(rtol=3e-4, atol=2e-5)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, **tol)


def _maml(lib, fn, dtype, w, inner_lr=0.1):
    T = lambda a, g=False: lib.tensor(a, dtype=dtype, requires_grad=g)  # noqa: E731
    params = [T(w[k], True) for k in ("w1", "b1", "w2", "b2")]

    def mlp(x, p):
        return fn.linear(fn.tanh(fn.linear(x, p[0], p[1])), p[2], p[3])

    xs, ys = T(w["xs"]), lib.tensor(w["ys"])
    xq, yq = T(w["xq"]), lib.tensor(w["yq"])
    inner = fn.cross_entropy(mlp(xs, params), ys)
    grads = lib.autograd.grad(inner, params, create_graph=True)
    fast = [p - inner_lr * g for p, g in zip(params, grads)]
    outer = fn.cross_entropy(mlp(xq, fast), yq) + fn.mse_loss(mlp(xq, fast), 0 * mlp(xq, fast))
    outer.backward()
    return [outer.detach().numpy()] + [p.grad.numpy() for p in params]


@pytest.mark.parametrize("dtype", ["float64", "float32"])
def test_maml_inner_step_matches_torch(dtype):
    torch = pytest.importorskip("torch")
    r = np.random.default_rng(6)
    w = {"w1": r.standard_normal((8, 5)) * 0.5, "b1": r.standard_normal(8) * 0.1,
         "w2": r.standard_normal((3, 8)) * 0.5, "b2": r.standard_normal(3) * 0.1,
         "xs": r.standard_normal((6, 5)), "ys": r.integers(0, 3, 6),
         "xq": r.standard_normal((4, 5)), "yq": r.integers(0, 3, 4)}
    ours = _maml(fastdl, F, getattr(fastdl, dtype), w)
    theirs = _maml(torch, torch.nn.functional, getattr(torch, dtype), w)
    tol = dict(rtol=1e-9, atol=1e-12) if dtype == "float64" else dict(rtol=3e-4, atol=2e-6)
    for a, b in zip(ours, theirs):
        np.testing.assert_allclose(a, b, **tol)


def test_once_differentiable_refuses_a_second_derivative():
    class Square(fastdl.autograd.Function):
        @staticmethod
        def forward(ctx, x):
            ctx.save_for_backward(x)
            return x * x

        @staticmethod
        @fastdl.autograd.once_differentiable
        def backward(ctx, g):
            (x,) = ctx.saved_tensors
            return 2 * x * g

    x = _t(3)
    (g,) = fastdl.autograd.grad(Square.apply(x).sum(), [x], create_graph=True)
    np.testing.assert_allclose(g.detach().numpy(), 2 * x.detach().numpy())
    with pytest.raises(RuntimeError, match="differentiate twice"):
        fastdl.autograd.grad(g.sum(), [x])
    (g,) = fastdl.autograd.grad(Square.apply(x).sum(), [x])
    assert g.grad_fn is None
