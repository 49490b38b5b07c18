"""fuse_conv_bn_eval / fuse_conv_bn_weights (torch.nn.utils.fusion's semantics) and
fastdl.optimize_for_inference, against the unfused modules (and torch when installed)."""
import numpy as np
import pytest

import fastdl
import fastdl.nn as nn
from fastdl.nn.utils import fuse_conv_bn_eval, fuse_conv_bn_weights
from fastdl.testing import assert_close


def _bn(k, rng, dt=np.float32, affine=True):
    bn = nn.BatchNorm2d(k, affine=affine, dtype=dt)
    bn.running_mean.data[...] = rng.standard_normal(k)
    bn.running_var.data[...] = rng.uniform(0.5, 2.0, k)
    if affine:
        bn.weight.data[...] = rng.standard_normal(k)
        bn.bias.data[...] = rng.standard_normal(k)
    return bn.eval()


@pytest.mark.parametrize("dt", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_fuse_conv_bn_eval_matches_unfused(dt, bias, affine, rng):
    conv = nn.Conv2d(4, 6, 3, stride=2, padding=1, bias=bias, dtype=dt).eval()
    bn = _bn(6, rng, dt, affine)
    x = fastdl.tensor(rng.standard_normal((3, 4, 9, 8)).astype(dt))
    fused = fuse_conv_bn_eval(conv, bn)
    assert fused is not conv and fused.weight.dtype == dt and fused.bias.dtype == dt
    with fastdl.no_grad():
        want = bn(conv(x)).numpy()
        got = fused(x).numpy()
    tol = dict(rtol=1e-5, atol=1e-5) if dt == np.float32 else dict(rtol=1e-12, atol=1e-12)
    assert_close(got, want, **tol)
    # the originals are untouched
    assert conv.bias is None or conv.bias.shape == (6,)
    assert (conv.bias is None) == (not bias)


def test_fuse_matches_torch(rng):
    torch = pytest.importorskip("torch")
    from torch.nn.utils.fusion import fuse_conv_bn_weights as tfuse
    conv = nn.Conv2d(3, 5, 3, bias=True, dtype=np.float64)
    bn = _bn(5, rng, np.float64)
    w, b = fuse_conv_bn_weights(conv.weight, conv.bias, bn.running_mean, bn.running_var,
                                bn.eps, bn.weight, bn.bias)
    t = lambda a: torch.tensor(a.detach().numpy())  # noqa: E731
    tw, tb = tfuse(t(conv.weight), t(conv.bias), t(bn.running_mean), t(bn.running_var),
                   bn.eps, t(bn.weight), t(bn.bias))
    assert_close(w.detach().numpy(), tw.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert_close(b.detach().numpy(), tb.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert isinstance(w, nn.Parameter) and w.requires_grad


def test_fuse_transposed_conv(rng):
    conv = nn.ConvTranspose2d(4, 6, 3, stride=2, dtype=np.float64).eval()
    bn = _bn(6, rng, np.float64)
    fused = fuse_conv_bn_eval(conv, bn, transpose=True)
    x = fastdl.tensor(rng.standard_normal((2, 4, 5, 5)))
    with fastdl.no_grad():
        assert_close(fused(x).numpy(), bn(conv(x)).numpy(), rtol=1e-12, atol=1e-12)


def test_fuse_errors(rng):
    conv = nn.Conv2d(2, 3, 3)
    bn = nn.BatchNorm2d(3)
    with pytest.raises(AssertionError, match="Fusion only for eval"):
        fuse_conv_bn_eval(conv, bn)
    conv.eval()
    with pytest.raises(ValueError, match="running statistics"):
        fuse_conv_bn_eval(conv, nn.BatchNorm2d(3, track_running_stats=False).eval())
    with pytest.raises(ValueError, match="running_mean"):
        fuse_conv_bn_eval(conv, _bn(4, rng))


def _seq_model(rng):
    fastdl.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(),
                      nn.Conv2d(8, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8),
                      nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 4))
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.data[...] = rng.standard_normal(8)
            mod.running_var.data[...] = rng.uniform(0.5, 2.0, 8)
            mod.weight.data[...] = rng.standard_normal(8)
    return m


def test_optimize_for_inference_sequential(rng):
    m = _seq_model(rng)
    x = fastdl.tensor(rng.standard_normal((2, 3, 8, 8)).astype(np.float32))
    m.eval()
    with fastdl.no_grad():
        want = m(x).numpy()
    fast = fastdl.optimize_for_inference(m)
    kinds = [type(c).__name__ for c in fast.children()]
    assert kinds.count("BatchNorm2d") == 0 and kinds.count("ReLU") == 0
    assert kinds.count("Identity") == 3
    assert [type(c).__name__ for c in m.children()].count("BatchNorm2d") == 2  # original kept
    with fastdl.no_grad():
        assert_close(fast(x).numpy(), want, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("act", [lambda: nn.ReLU6(), lambda: nn.Hardtanh(-0.5, 0.7),
                                 lambda: nn.ReLU(inplace=True)])
def test_optimize_for_inference_folds_clamp_activations(act, rng):
    fastdl.manual_seed(0)
    m = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), act(),
                      nn.Conv2d(8, 8, 1), nn.BatchNorm2d(8), act())
    for mod in m.modules():
        if isinstance(mod, nn.BatchNorm2d):
            mod.running_mean.data[...] = rng.standard_normal(8)
            mod.running_var.data[...] = rng.uniform(0.5, 2.0, 8)
    x = fastdl.tensor(rng.standard_normal((2, 3, 6, 6)).astype(np.float32))
    m.eval()
    with fastdl.no_grad():
        want = m(x).numpy()
    fast = fastdl.optimize_for_inference(m)
    kinds = [type(c).__name__ for c in fast.children()]
    assert kinds.count("Identity") == 4 and kinds.count(type(m[2]).__name__) == 0
    with fastdl.no_grad():
        got = fast(x).numpy()
    assert_close(got, want, rtol=1e-4, atol=1e-5)
    assert got.min() >= float(want.min()) - 1e-6 and got.max() <= float(want.max()) + 1e-6


def test_optimize_for_inference_leaves_hooked_activation(rng):
    m = _seq_model(rng)
    seen = []
    m[2].register_forward_hook(lambda mod, a, out: seen.append(out.shape))
    fast = fastdl.optimize_for_inference(m)
    kinds = [type(c).__name__ for c in fast.children()]
    assert kinds.count("ReLU") == 1 and kinds.count("BatchNorm2d") == 0
    with fastdl.no_grad():
        fast(fastdl.zeros(1, 3, 8, 8))
    assert seen == [(1, 8, 8, 8)]


class _Block(nn.Module):
    """conv → bn → relu, plus a shortcut conv → bn, called from forward (not a Sequential);
    `leak` also adds the raw conv1 output, so folding bn1 would change the result."""

    def __init__(self, leak=False):
        super().__init__()
        self.conv1 = nn.Conv2d(4, 4, 3, padding=1, bias=False)
        self.bn1 = nn.BatchNorm2d(4)
        self.conv2 = nn.Conv2d(4, 4, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(4)
        self.leak = leak

    def forward(self, x):
        c = self.conv1(x)
        out = fastdl.nn.functional.relu(self.bn1(c)) + self.bn2(self.conv2(x))
        return out + c if self.leak else out


@pytest.mark.parametrize("leak", [False, True])
def test_optimize_for_inference_traced(leak, rng):
    m = _Block(leak)
    for bn in (m.bn1, m.bn2):
        bn.running_mean.data[...] = rng.standard_normal(4)
        bn.running_var.data[...] = rng.uniform(0.5, 2.0, 4)
    x = fastdl.tensor(rng.standard_normal((2, 4, 6, 6)).astype(np.float32))
    m.eval()
    with fastdl.no_grad():
        want = m(x).numpy()
    # without example inputs nothing outside a Sequential is fused
    plain = fastdl.optimize_for_inference(m)
    assert isinstance(plain.bn1, nn.BatchNorm2d)
    fast = fastdl.optimize_for_inference(m, (x,))
    assert isinstance(fast.bn2, nn.Identity)
    assert isinstance(fast.bn1, nn.BatchNorm2d if leak else nn.Identity)
    with fastdl.no_grad():
        assert_close(fast(x).numpy(), want, rtol=1e-4, atol=1e-5)
    assert "forward" not in vars(fast.conv1)  # the tracing wrappers are gone
