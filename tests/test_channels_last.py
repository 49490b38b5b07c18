"""channels_last memory format through the layer ops, as PyTorch keeps it on the CPU.

For a 4-D channels-last input every op below must return torch's layout (``EXPECT``, which
``test_expectations_match_torch`` holds to torch when it is importable) with the values of
the same op on the NCHW-contiguous input, and its gradients must agree in value and in
layout (the raw input gradient, as ``autograd.grad`` returns it, for an NCHW and a
channels-last output gradient). A ResNet basic block and a MobileNetV2 inverted residual run
end to end in channels last against NCHW. Every ISA (the ``isa`` fixture), 1 and 2 threads.
"""
import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl import nn
from fastdl.testing import assert_close, gradcheck, gradgradcheck, use_threads

CL = fastdl.channels_last
SHAPE = (2, 8, 6, 6)


def _layout(t, fmt=CL):
    """'cl' (channels last only), 'c' (NCHW only), 'both' (either: C = 1 or H = W = 1),
    'other'; ``fmt``: the library's channels_last tag (torch's for a torch tensor)."""
    c, cl = t.is_contiguous(), t.is_contiguous(memory_format=fmt)
    return "both" if c and cl else "cl" if cl else "c" if c else "other"


def _params(rng):
    """The arrays the cases use (weights, biases, statistics), float64 NumPy."""
    r = rng.standard_normal
    return {
        "w1": r((16, 8, 1, 1)), "w3": r((16, 8, 3, 3)), "b16": r(16),
        "wdw": r((8, 1, 3, 3)), "wg": r((8, 4, 3, 3)), "b8": r(8),
        "bnw": r(8), "bnb": r(8), "rm": r(8) * 0.1, "rv": rng.uniform(0.5, 2.0, 8),
        "other": r(SHAPE), "chan": r((1, 8, 1, 1)),
    }


# name -> f(lib, F, x, p): the op on x with the parameters p (tensors of lib)
CASES = {
    "conv1x1": lambda L, F_, x, p: F_.conv2d(x, p["w1"], p["b16"]),
    "conv1x1_nobias": lambda L, F_, x, p: F_.conv2d(x, p["w1"]),
    "conv3x3": lambda L, F_, x, p: F_.conv2d(x, p["w3"], p["b16"], padding=1),
    "conv3x3_s2_nobias": lambda L, F_, x, p: F_.conv2d(x, p["w3"], None, stride=2, padding=1),
    "conv_depthwise": lambda L, F_, x, p: F_.conv2d(x, p["wdw"], None, padding=1, groups=8),
    "conv_depthwise_bias": lambda L, F_, x, p: F_.conv2d(x, p["wdw"], p["b8"], stride=2,
                                                         padding=1, groups=8),
    "conv_grouped": lambda L, F_, x, p: F_.conv2d(x, p["wg"], p["b8"], padding=1, groups=2),
    "bn_train": lambda L, F_, x, p: F_.batch_norm(x, p["rm"].clone(), p["rv"].clone(),
                                                  p["bnw"], p["bnb"], training=True),
    "bn_eval": lambda L, F_, x, p: F_.batch_norm(x, p["rm"], p["rv"], p["bnw"], p["bnb"],
                                                 training=False),
    "relu": lambda L, F_, x, p: F_.relu(x),
    "relu6": lambda L, F_, x, p: F_.relu6(x),
    "leaky_relu": lambda L, F_, x, p: F_.leaky_relu(x, 0.1),
    "silu": lambda L, F_, x, p: F_.silu(x),
    "gelu": lambda L, F_, x, p: F_.gelu(x),
    "hardswish": lambda L, F_, x, p: F_.hardswish(x),
    "sigmoid": lambda L, F_, x, p: F_.sigmoid(x),
    "max_pool": lambda L, F_, x, p: F_.max_pool2d(x, 3, 2, 1),
    "max_pool_2": lambda L, F_, x, p: F_.max_pool2d(x, 2),
    "avg_pool": lambda L, F_, x, p: F_.avg_pool2d(x, 3, 1, 1),
    "avg_pool_2": lambda L, F_, x, p: F_.avg_pool2d(x, 2),
    "adaptive_avg_1": lambda L, F_, x, p: F_.adaptive_avg_pool2d(x, 1),
    "adaptive_avg_3": lambda L, F_, x, p: F_.adaptive_avg_pool2d(x, 3),
    "adaptive_max_3": lambda L, F_, x, p: F_.adaptive_max_pool2d(x, 3),
    "add": lambda L, F_, x, p: x + x,
    "mul_scalar": lambda L, F_, x, p: x * 2,
    "mul": lambda L, F_, x, p: x * x,
    "add_channel_bias": lambda L, F_, x, p: x + p["chan"],
    "add_nchw": lambda L, F_, x, p: x + p["other"],         # the first operand's layout
    "nchw_add": lambda L, F_, x, p: p["other"] + x,
    "residual": lambda L, F_, x, p: F_.relu(x) + x,
    "dropout_eval": lambda L, F_, x, p: F_.dropout(x, 0.5, training=False),
    "cat_dim1": lambda L, F_, x, p: L.cat([x, x * 2], 1),
    "flatten": lambda L, F_, x, p: L.flatten(x, 1),
}

# torch 2.x on the CPU, for a channels-last x: (output, input gradient for an NCHW output
# gradient, input gradient for a channels-last output gradient)
_C3 = ("cl", "cl", "cl")
_ELT = ("cl", "c", "cl")       # elementwise: the gradient follows the output gradient
EXPECT = {
    **{k: _C3 for k in ("conv1x1", "conv1x1_nobias", "conv3x3", "conv3x3_s2_nobias",
                        "conv_depthwise", "conv_depthwise_bias", "conv_grouped", "bn_train",
                        "bn_eval", "relu", "leaky_relu", "max_pool", "max_pool_2",
                        "avg_pool", "avg_pool_2", "adaptive_avg_3", "adaptive_max_3")},
    **{k: _ELT for k in ("relu6", "silu", "gelu", "hardswish", "sigmoid", "add",
                         "mul_scalar", "mul", "add_channel_bias", "add_nchw", "dropout_eval",
                         "cat_dim1")},
    "adaptive_avg_1": ("both", "c", "c"),
    "residual": ("cl", "c", "cl"),
    "nchw_add": ("c", "c", "cl"),
    "flatten": ("c", "c", "c"),
}


def _fd_params(p, dtype=np.float32):
    return {k: fastdl.tensor(v.astype(dtype), requires_grad=k not in ("rm", "rv"))
            for k, v in p.items()}


def _grads(case, x_np, p_np, cl, g_cl, dtype=np.float32):
    """fastdl: (y, gx, {param: grad}) of CASES[case] on x (channels-last when ``cl``), with
    the output gradient laid out channels-last when ``g_cl`` (4-D outputs)."""
    x = fastdl.tensor(x_np.astype(dtype))
    if cl:
        x = x.to(memory_format=CL)
    x.requires_grad_()
    p = _fd_params(p_np, dtype)
    y = CASES[case](fastdl, F, x, p)
    rng = np.random.default_rng(7)
    g = fastdl.tensor(rng.standard_normal(tuple(y.shape)).astype(dtype))
    if g_cl and g.ndim == 4:
        g = g.to(memory_format=CL)
    used = [k for k, v in p.items() if k not in ("rm", "rv")]
    inputs = [x] + [p[k] for k in used]
    gs = fastdl.autograd.grad(y, inputs, g, allow_unused=True)
    return y, gs[0], {k: v for k, v in zip(used, gs[1:]) if v is not None}


@pytest.mark.parametrize("case", sorted(CASES))
def test_forward_layout_and_values(case, isa):
    rng = np.random.default_rng(0)
    x_np, p_np = rng.standard_normal(SHAPE), _params(rng)
    p = _fd_params(p_np)
    x = fastdl.tensor(x_np.astype(np.float32))
    xc = x.to(memory_format=CL)
    assert _layout(xc) == "cl"
    y_ref = CASES[case](fastdl, F, x, p)
    y = CASES[case](fastdl, F, xc, p)
    assert _layout(y) == EXPECT[case][0], (case, y.stride())
    assert_close(y.detach().numpy(), y_ref.detach().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("g_cl", [False, True], ids=["g_nchw", "g_cl"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_backward_layout_and_values(case, g_cl, isa):
    rng = np.random.default_rng(1)
    x_np, p_np = rng.standard_normal(SHAPE), _params(rng)
    _, gx0, gp0 = _grads(case, x_np, p_np, False, g_cl)
    _, gx, gp = _grads(case, x_np, p_np, True, g_cl)
    assert _layout(gx) == EXPECT[case][2 if g_cl else 1], (case, gx.stride())
    assert_close(gx.numpy(), gx0.numpy(), rtol=1e-5, atol=1e-5)
    assert gp.keys() == gp0.keys()
    for k in gp:
        assert_close(gp[k].numpy(), gp0[k].numpy(), rtol=1e-4, atol=1e-4, msg=f"{case}: {k}")


@pytest.mark.parametrize("case", sorted(CASES))
def test_float64_gradients_match_nchw_exactly_enough(case):
    rng = np.random.default_rng(2)
    x_np, p_np = rng.standard_normal(SHAPE), _params(rng)
    _, gx0, gp0 = _grads(case, x_np, p_np, False, True, np.float64)
    _, gx, gp = _grads(case, x_np, p_np, True, True, np.float64)
    assert_close(gx.numpy(), gx0.numpy(), rtol=1e-12, atol=1e-12)
    for k in gp:
        assert_close(gp[k].numpy(), gp0[k].numpy(), rtol=1e-11, atol=1e-11)


@pytest.mark.parametrize("case", sorted(CASES))
def test_expectations_match_torch(case):
    torch = pytest.importorskip("torch")
    tF = torch.nn.functional
    rng = np.random.default_rng(3)
    x_np, p_np = rng.standard_normal(SHAPE), _params(rng)
    p = {k: torch.tensor(v, dtype=torch.float32, requires_grad=k not in ("rm", "rv"))
         for k, v in p_np.items()}
    got = []
    for g_cl in (None, False, True):
        x = torch.tensor(x_np, dtype=torch.float32).to(memory_format=torch.channels_last)
        x.requires_grad_()
        y = CASES[case](torch, tF, x, p)
        if g_cl is None:
            got.append(_layout(y, torch.channels_last))
            continue
        g = torch.randn(y.shape)
        if g_cl and g.dim() == 4:
            g = g.contiguous(memory_format=torch.channels_last)
        (gx,) = torch.autograd.grad(y, x, g)
        got.append(_layout(gx, torch.channels_last))
    assert tuple(got) == EXPECT[case]
    # and the values: fastdl's channels-last result equals torch's
    y = CASES[case](torch, tF, torch.tensor(x_np, dtype=torch.float32).to(
        memory_format=torch.channels_last), p)
    yf = CASES[case](fastdl, F, fastdl.tensor(x_np.astype(np.float32)).to(memory_format=CL),
                     _fd_params(p_np))
    assert_close(yf.detach().numpy(), y.detach().numpy(), rtol=1e-4, atol=1e-4)


# ---- layers and their switches ---------------------------------------------------------------
@pytest.mark.parametrize("mod", [
    lambda: nn.Conv2d(8, 16, 3, padding=1), lambda: nn.Conv2d(8, 8, 3, padding=1, groups=8),
    lambda: nn.BatchNorm2d(8), lambda: nn.ReLU(), lambda: nn.ReLU6(), lambda: nn.SiLU(),
    lambda: nn.GELU(), lambda: nn.Hardswish(), lambda: nn.MaxPool2d(2),
    lambda: nn.AvgPool2d(2), lambda: nn.AdaptiveAvgPool2d(3)])
@pytest.mark.parametrize("train", [True, False])
def test_layers_keep_channels_last(mod, train):
    m = mod().train(train)
    x = fastdl.randn(*SHAPE)
    ref = m(x)
    y = m(x.to(memory_format=CL))
    assert _layout(y) == "cl"
    assert_close(y.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-5)


def test_conv_channels_last_weight_gives_channels_last_output():
    """torch's rule: a convolution is channels last when its input or its weight is."""
    m = nn.Conv2d(8, 16, 3, padding=1)
    x = fastdl.randn(*SHAPE, requires_grad=True)
    ref = m(x)
    m.to(memory_format=CL)
    assert m.weight.is_contiguous(memory_format=CL)
    y = m(x)
    assert _layout(y) == "cl"
    assert_close(y.detach().numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-5)
    gx, gw = fastdl.autograd.grad(y, [x, m.weight], fastdl.ones(*y.shape))
    assert _layout(gx) == "cl" and _layout(gw) == "cl"
    with fastdl.no_grad():  # the packed inference path
        assert _layout(m(x)) == "cl"
        assert_close(m(x).numpy(), ref.detach().numpy(), rtol=1e-5, atol=1e-5)


def test_inplace_relu_keeps_layout_and_gradient():
    x = fastdl.randn(*SHAPE).to(memory_format=CL).requires_grad_()
    x0 = fastdl.randn(*SHAPE).requires_grad_()
    with fastdl.no_grad():
        x0.copy_(x)
    outs = []
    for inp in (x, x0):
        h = inp * 1.5  # a non-leaf, so ReLU may write into it
        ptr = h.data_ptr()
        y = F.relu(h, inplace=True)
        assert y.data_ptr() == ptr
        y.sum().backward()
        outs.append((y.detach().numpy(), inp.grad.numpy(), _layout(y)))
    assert outs[0][2] == "cl"
    assert_close(outs[0][0], outs[1][0])
    assert_close(outs[0][1], outs[1][1])
    with fastdl.no_grad():
        z = x * 1.0
        F.relu_(z)
        assert _layout(z) == "cl"
        assert_close(z.numpy(), np.maximum(x.detach().numpy(), 0))


def test_max_pool_indices_layout_and_values():
    x = fastdl.randn(*SHAPE)
    y0, i0 = F.max_pool2d(x, 2, return_indices=True)
    y, i = F.max_pool2d(x.to(memory_format=CL), 2, return_indices=True)
    assert _layout(y) == "cl" and _layout(i) == "cl"
    assert (i.numpy() == i0.numpy()).all()
    assert_close(y.numpy(), y0.numpy(), rtol=0, atol=0)


def test_batch_norm_running_stats_match_nchw():
    bn0, bn1 = nn.BatchNorm2d(8), nn.BatchNorm2d(8)
    x = fastdl.randn(*SHAPE) * 3 + 1
    bn0(x)
    bn1(x.to(memory_format=CL))
    assert_close(bn1.running_mean.numpy(), bn0.running_mean.numpy(), rtol=1e-5, atol=1e-6)
    assert_close(bn1.running_var.numpy(), bn0.running_var.numpy(), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("fuse", [True, False])
@pytest.mark.parametrize("act", [nn.ReLU, nn.ReLU6])
def test_batch_norm_activation_fusion_channels_last(fuse, act):
    from fastdl.nn.functional.normalization import set_norm_act_fusion
    prev = set_norm_act_fusion(fuse, fuse)
    try:
        res = []
        for cl in (False, True):
            fastdl.manual_seed(0)
            m = nn.Sequential(nn.BatchNorm2d(8), act())
            x = fastdl.tensor(np.random.default_rng(4).standard_normal(SHAPE).astype(np.float32))
            if cl:
                x = x.to(memory_format=CL)
            x.requires_grad_()
            y = m(x)
            g = fastdl.tensor(np.random.default_rng(5).standard_normal(SHAPE).astype(np.float32))
            gx, gw = fastdl.autograd.grad(y, [x, m[0].weight], g.to(memory_format=CL))
            res.append((y.detach().numpy(), gx.numpy(), gw.numpy(), _layout(y), _layout(gx)))
        assert res[1][3:] == ("cl", "cl")
        for a, b in zip(res[0][:3], res[1][:3]):
            assert_close(a, b, rtol=1e-5, atol=1e-5)
    finally:
        set_norm_act_fusion(*prev)


# ---- blocks end to end ---------------------------------------------------------------------
class _Basic(nn.Module):
    """ResNet basic block with a strided 1x1 projection shortcut."""

    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.relu = nn.ReLU(inplace=True)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False),
                                  nn.BatchNorm2d(cout))

    def forward(self, x):
        y = self.relu(self.bn1(self.conv1(x)))
        y = self.bn2(self.conv2(y))
        return self.relu(y + self.down(x))


class _Inverted(nn.Module):
    """MobileNetV2 inverted residual (expand 1x1, depthwise 3x3, project 1x1, residual)."""

    def __init__(self, c, t=4):
        super().__init__()
        h = c * t
        self.body = nn.Sequential(
            nn.Conv2d(c, h, 1, bias=False), nn.BatchNorm2d(h), nn.ReLU6(inplace=True),
            nn.Conv2d(h, h, 3, 1, 1, groups=h, bias=False), nn.BatchNorm2d(h),
            nn.ReLU6(inplace=True), nn.Conv2d(h, c, 1, bias=False), nn.BatchNorm2d(c))

    def forward(self, x):
        return x + self.body(x)


def _net(kind):
    if kind == "resnet":
        return nn.Sequential(nn.Conv2d(3, 8, 3, 1, 1, bias=False), nn.BatchNorm2d(8),
                             nn.ReLU(inplace=True), nn.MaxPool2d(3, 2, 1), _Basic(8, 8, 1),
                             _Basic(8, 16, 2), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                             nn.Linear(16, 5))
    return nn.Sequential(nn.Conv2d(3, 8, 3, 2, 1, bias=False), nn.BatchNorm2d(8),
                         nn.ReLU6(inplace=True), _Inverted(8), _Inverted(8),
                         nn.Conv2d(8, 16, 1, bias=False), nn.BatchNorm2d(16), nn.SiLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(16, 5))


def _run_net(kind, cl, train, hooks=False):
    fastdl.manual_seed(0)
    m = _net(kind).train(train)
    x = fastdl.tensor(np.random.default_rng(6).standard_normal((4, 3, 16, 16)).astype(np.float32))
    if cl:
        m.to(memory_format=CL)
        x = x.to(memory_format=CL)
    x.requires_grad_()
    seen = []
    if hooks:
        for name, mod in m.named_modules():
            if not list(mod.children()) and not isinstance(mod, (nn.Linear, nn.Flatten)):
                mod.register_forward_hook(
                    lambda mod, i, o, name=name: seen.append((name, _layout(o))))
    y = m(x)
    y.sum().backward()
    grads = {n: p.grad.numpy() for n, p in m.named_parameters()}
    return y.detach().numpy(), x.grad.numpy(), grads, seen, m


@pytest.mark.parametrize("train", [True, False])
@pytest.mark.parametrize("kind", ["resnet", "mobilenet"])
def test_block_end_to_end(kind, train, isa):
    y0, gx0, gp0, _, _ = _run_net(kind, False, train)
    y1, gx1, gp1, _, m = _run_net(kind, True, train)
    assert_close(y1, y0, rtol=1e-4, atol=1e-4)
    assert_close(gx1, gx0, rtol=1e-4, atol=1e-4)
    for k in gp0:
        assert_close(gp1[k], gp0[k], rtol=1e-3, atol=1e-4, msg=k)
    if train:  # the running statistics saw the same batches
        for (k, b0), (_, b1) in zip(_run_net(kind, False, True)[4].named_buffers(),
                                    m.named_buffers()):
            assert_close(b1.numpy(), b0.numpy(), rtol=1e-4, atol=1e-5, msg=k)


@pytest.mark.parametrize("kind", ["resnet", "mobilenet"])
def test_block_every_layer_output_is_channels_last(kind):
    """With hooks on (which also turns off the Sequential BN+activation fusion) every 4-D
    layer output of a channels-last model on a channels-last input is channels last."""
    *_, seen, _ = _run_net(kind, True, True, hooks=True)
    four_d = [(n, lay) for n, lay in seen if lay != "other"]
    assert four_d and all(lay in ("cl", "both") for _, lay in four_d), four_d


@pytest.mark.parametrize("kind", ["resnet", "mobilenet"])
def test_block_inference_threads(kind):
    """The graph-free forward (packed conv weights) in channels last: same values as NCHW,
    bitwise the same on 1 and 2 threads."""
    fastdl.manual_seed(0)
    m = _net(kind).eval()
    x = fastdl.randn(2, 3, 16, 16)
    with fastdl.no_grad():
        ref = m(x).numpy()
        m.to(memory_format=CL)
        outs = []
        for n in (1, 2):
            with use_threads(n):
                outs.append(m(x.to(memory_format=CL)).numpy())
    assert_close(outs[0], ref, rtol=1e-4, atol=1e-4)
    assert (outs[0] == outs[1]).all()


def test_view_reshape_permute_as_torch():
    """A channels-last tensor cannot be viewed flat (torch's RuntimeError); reshape copies to
    NCHW order; permute(0, 2, 3, 1) is its C-contiguous NHWC storage."""
    x0 = fastdl.randn(*SHAPE)
    x = x0.to(memory_format=CL)
    with pytest.raises(RuntimeError):
        x.view(SHAPE[0], -1)
    r = x.reshape(SHAPE[0], -1)
    assert r.is_contiguous()
    assert_close(r.numpy(), x0.numpy().reshape(SHAPE[0], -1), rtol=0, atol=0)
    p = x.permute(0, 2, 3, 1)
    assert p.is_contiguous() and p.data_ptr() == x.data_ptr()


def test_leaf_gradient_takes_the_leaf_layout():
    # torch's layout contract: .grad of a channels-last leaf (a parameter after
    # module.to(memory_format=channels_last), or an input) is channels-last
    m = nn.Conv2d(3, 4, 3, padding=1).to(memory_format=CL)
    x = fastdl.randn(2, 3, 5, 5).to(memory_format=CL).requires_grad_()
    m(x).sum().backward()
    assert _layout(m.weight.grad) and _layout(x.grad)
    assert m.bias.grad.is_contiguous()
    m(x).sum().backward()  # accumulation keeps the layout
    assert _layout(m.weight.grad) and _layout(x.grad)


def _train(opt_name, cl, switch_at=None, steps=4):
    fastdl.manual_seed(0)
    m = _net("resnet")
    if cl and switch_at is None:
        m.to(memory_format=CL)
    kw = dict(lr=0.05, momentum=0.9) if opt_name == "SGD" else dict(lr=0.01)
    opt = getattr(fastdl.optim, opt_name)(m.parameters(), **kw)
    rng = np.random.default_rng(3)
    for i in range(steps):
        if switch_at is not None and i == switch_at:  # the optimizer's state exists already
            m.to(memory_format=CL)
        x = fastdl.tensor(rng.standard_normal((4, 3, 16, 16)).astype(np.float32))
        if cl:
            x = x.to(memory_format=CL)
        opt.zero_grad()
        m(x).sum().backward()
        opt.step()
    return {n: p.detach().numpy() for n, p in m.named_parameters()}, m


@pytest.mark.parametrize("opt_name", ["SGD", "Adam", "AdamW", "RMSprop"])
@pytest.mark.parametrize("switch_at", [None, 2])
def test_optimizers_train_channels_last_as_nchw(opt_name, switch_at):
    want, _ = _train(opt_name, False)
    got, m = _train(opt_name, True, switch_at)
    assert any(_layout(p) for p in m.parameters())
    for k in want:
        assert_close(got[k], want[k], rtol=1e-3, atol=1e-5, msg=k)


def test_dropout_training_keeps_channels_last_and_its_mask():
    x0 = fastdl.randn(2, 4, 3, 5)
    x = x0.to(memory_format=CL).requires_grad_()
    fastdl.manual_seed(7)
    y = F.dropout(x, 0.5, training=True)
    assert _layout(y)
    (g,) = fastdl.autograd.grad(y.sum(), x)
    keep = y.detach().numpy() != 0
    # the gradient is the same mask, scaled
    assert_close(g.numpy(), keep * 2.0, rtol=0, atol=0)
    assert_close(y.detach().numpy(), np.where(keep, x0.numpy() * 2.0, 0.0), rtol=1e-6,
                 atol=1e-6)
    # double backward (create_graph) uses the forward's mask
    fastdl.manual_seed(7)
    y = F.dropout(x, 0.5, training=True)
    (g2,) = fastdl.autograd.grad(y.sum(), x, create_graph=True)
    assert_close(g2.detach().numpy(), g.numpy(), rtol=0, atol=0)


@pytest.mark.parametrize("kw", [dict(scale_factor=2, mode="nearest"),
                                dict(scale_factor=2, mode="bilinear"),
                                dict(size=(3, 5), mode="bicubic", align_corners=True),
                                dict(size=(2, 2), mode="area")])
def test_interpolate_keeps_channels_last(kw):
    x0 = fastdl.randn(2, 3, 4, 4)
    x = x0.to(memory_format=CL).requires_grad_()
    y = F.interpolate(x, **kw)
    assert _layout(y)
    assert_close(y.detach().numpy(), F.interpolate(x0, **kw).numpy(), rtol=1e-6, atol=1e-6)
    (g,) = fastdl.autograd.grad(y.sum(), x)
    (g0,) = fastdl.autograd.grad(F.interpolate(x0.requires_grad_(), **kw).sum(), x0)
    assert_close(g.numpy(), g0.numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("shape,size", [((2, 3, 7), (3,)), ((2, 3, 7, 5), (3, 2)),
                                        ((1, 2, 4, 6, 5), (2, 3, 2))])
def test_interpolate_area_is_adaptive_average_pooling_as_torch(shape, size):
    torch = pytest.importorskip("torch")
    x = np.random.default_rng(0).standard_normal(shape)
    xt = torch.tensor(x, requires_grad=True)
    want = torch.nn.functional.interpolate(xt, size=size, mode="area")
    want.sum().backward()
    xf = fastdl.tensor(x, requires_grad=True)
    got = F.interpolate(xf, size=size, mode="area")
    got.sum().backward()
    assert_close(got.detach().numpy(), want.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert_close(xf.grad.numpy(), xt.grad.numpy(), rtol=1e-12, atol=1e-12)


def test_residual_junction_gradient_sum_keeps_layout():
    """Two gradients of one channels-last activation (a residual junction, large enough for
    the engine's pooled sum) add up in channels-last storage, with the NCHW values."""
    rng = np.random.default_rng(5)
    x0 = rng.standard_normal((2, 16, 32, 32)).astype(np.float32)
    w = fastdl.from_numpy((rng.standard_normal((16, 16, 3, 3)) * 0.1).astype(np.float32))
    got = []
    for cl in (True, False):
        x = fastdl.from_numpy(x0.copy())
        x = (x.to(memory_format=CL) if cl else x).requires_grad_()
        t = F.relu(x * 1.5)
        t.retain_grad()
        y = F.conv2d(t, w, padding=1) + t
        y.backward(fastdl.ones_like(y))
        got.append((t.grad, x.grad))
    assert _layout(got[0][0]) == "cl" and _layout(got[0][1]) == "cl"
    assert_close(got[0][0].numpy(), got[1][0].numpy())
    assert_close(got[0][1].numpy(), got[1][1].numpy())


def test_pointwise_conv_channels_last_runs_on_the_rows(monkeypatch):
    """A 1×1 stride-1 convolution of a channels-last input is a GEMM on the NHWC rows (no
    conv kernel, no layout copy): values and gradients against the NCHW kernel, gradcheck in
    float64 (also a second-order one through create_graph), the graph-free inference path,
    and the layout of every result."""
    from fastdl import _C
    from fastdl.nn.functional import conv as fconv
    rng = np.random.default_rng(7)
    x0 = rng.standard_normal((2, 12, 5, 7))
    w0 = rng.standard_normal((9, 12, 1, 1))
    b0 = rng.standard_normal(9)
    calls = []
    real = fconv._C
    monkeypatch.setattr(fconv, "_C", type("Spy", (), {
        "__getattr__": lambda self, k: (calls.append(k), getattr(real, k))[1]})())
    res = {}
    for cl in (True, False):
        x = fastdl.from_numpy(x0.astype(np.float32))
        x = (x.to(memory_format=CL) if cl else x).requires_grad_()
        w = fastdl.from_numpy(w0.astype(np.float32)).requires_grad_()
        b = fastdl.from_numpy(b0.astype(np.float32)).requires_grad_()
        calls.clear()
        y = F.conv2d(x, w, b)
        y.backward(fastdl.from_numpy(np.cos(np.arange(y.numel())).reshape(y.shape)
                                     .astype(np.float32)))
        with fastdl.no_grad():
            yi = F.conv2d(x.detach(), w.detach(), b.detach())
        res[cl] = (y, x.grad, w.grad, b.grad, yi, list(calls))
    y, gx, gw, gb, yi, used = res[True]
    assert not any(k.startswith("conv2d") for k in used), used
    assert _layout(y) == "cl" and _layout(gx) == "cl" and _layout(yi) == "cl"
    for a, r in zip((y, gx, gw, gb, yi), res[False][:5]):
        assert_close(a.detach().numpy(), r.detach().numpy(), rtol=1e-5, atol=1e-5)
    monkeypatch.undo()
    xd = fastdl.from_numpy(x0).to(memory_format=CL).requires_grad_()
    wd, bd = (fastdl.from_numpy(a).requires_grad_() for a in (w0, b0))
    assert gradcheck(lambda a, c, d: F.conv2d(a, c, d), [xd, wd, bd])
    xc = fastdl.from_numpy(x0).requires_grad_()
    def cl_conv(a, c, d):  # a channels-last view of a contiguous input, twice differentiable
        return F.conv2d(a.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2), c, d)

    assert gradgradcheck(cl_conv, [xc, wd, bd])


def test_pointwise_conv_channels_last_operand_errors():
    """The rows path refuses what the kernel path refuses, with its errors."""
    x = fastdl.randn(2, 3, 4, 4).to(memory_format=CL)
    w = fastdl.randn(5, 3, 1, 1)
    for grad in (False, True):
        xx = x.detach().requires_grad_(grad)
        with pytest.raises(TypeError, match="bias is float64"):
            F.conv2d(xx, w, fastdl.randn(5, dtype=fastdl.float64))
        with pytest.raises(ValueError, match="bias"):
            F.conv2d(xx, w, fastdl.randn(4))
        with pytest.raises((TypeError, ValueError), match="float64"):
            F.conv2d(xx, w.double())
