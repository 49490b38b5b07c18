"""Conv3d / ConvTranspose3d (sums over depth taps of the 2-D kernels), 3-D padding layers,
and the Lazy* modules: PyTorch twins with PyTorch's weights (float64 outputs and gradients),
gradcheck, state dicts, bad arguments."""
import numpy as np
import pytest

import fastdl
import fastdl.nn as nn
import fastdl.nn.functional as F
from fastdl.testing import assert_close, gradcheck
from nn_twin import load_torch_weights, state_dict_round_trip, torch_or_skip, twin, twin_module


def _r(rng, *shape):
    return rng.standard_normal(shape)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1), dict(dilation=(2, 1, 1),
                                padding=(2, 0, 1)), dict(groups=2, bias=False),
                                dict(padding="same")])
@pytest.mark.filterwarnings("ignore:Using padding='same'")
def test_conv3d_matches_torch(kw, rng):
    torch = torch_or_skip()
    torch.manual_seed(0)
    tm = torch.nn.Conv3d(4, 6, (3, 2, 3), **kw).double()
    fm = nn.Conv3d(4, 6, (3, 2, 3), dtype=fastdl.float64, **kw)
    twin_module(fm, tm, [_r(rng, 2, 4, 5, 6, 5)], rtol=1e-6, atol=1e-9)
    state_dict_round_trip(fm, tm)


@pytest.mark.parametrize("kw", [dict(), dict(stride=2, padding=1, output_padding=1),
                                dict(stride=(2, 1, 2), dilation=(1, 2, 1)),
                                dict(groups=2, bias=False)])
def test_conv_transpose3d_matches_torch(kw, rng):
    torch = torch_or_skip()
    torch.manual_seed(0)
    tm = torch.nn.ConvTranspose3d(4, 6, (3, 2, 3), **kw).double()
    fm = nn.ConvTranspose3d(4, 6, (3, 2, 3), dtype=fastdl.float64, **kw)
    twin_module(fm, tm, [_r(rng, 2, 4, 3, 4, 3)], rtol=1e-6, atol=1e-9)


def test_conv3d_gradcheck_and_errors(rng):
    x = fastdl.tensor(_r(rng, 1, 2, 3, 2, 3), requires_grad=True)
    w = fastdl.tensor(_r(rng, 1, 2, 2, 2, 2), requires_grad=True)
    b = fastdl.tensor(_r(rng, 1), requires_grad=True)
    gradcheck(lambda a, c, e: F.conv3d(a, c, e, padding=1, stride=(2, 1, 1)), [x, w, b])
    xt = fastdl.tensor(_r(rng, 1, 1, 2, 2, 2), requires_grad=True)
    wt = fastdl.tensor(_r(rng, 1, 2, 2, 1, 2), requires_grad=True)
    gradcheck(lambda a, c: F.conv_transpose3d(a, c, stride=2, padding=(1, 0, 0)), [xt, wt])
    with pytest.raises(ValueError, match="channels"):
        F.conv3d(fastdl.randn(1, 3, 4, 4, 4), fastdl.randn(2, 2, 2, 2, 2))
    with pytest.raises(ValueError, match="depth"):
        F.conv3d(fastdl.randn(1, 2, 1, 4, 4), fastdl.randn(2, 2, 2, 2, 2))


def test_padding3d_match_torch(rng):
    torch = torch_or_skip()
    x = _r(rng, 1, 2, 3, 4, 3)
    for name, args in [("ConstantPad3d", ((1, 0, 2, 1, 0, 1), 0.5)), ("ZeroPad3d", (1,)),
                       ("ReflectionPad3d", ((1, 1, 2, 0, 1, 1),)), ("ReplicationPad3d", (2,)),
                       ("CircularPad3d", (1,))]:
        twin(getattr(nn, name)(*args), getattr(torch.nn, name)(*args), [x])


def test_lazy_modules_match_torch(rng):
    torch = torch_or_skip()
    torch.manual_seed(0)
    cases = [("LazyLinear", (5,), (3, 7)), ("LazyConv1d", (4, 3), (2, 3, 8)),
             ("LazyConv2d", (4, 3), (2, 3, 6, 6)), ("LazyConvTranspose2d", (4, 3), (2, 3, 5, 5)),
             ("LazyConv3d", (4, 2), (1, 3, 4, 4, 4)), ("LazyBatchNorm1d", (), (4, 3)),
             ("LazyBatchNorm2d", (), (2, 3, 4, 4)), ("LazyInstanceNorm1d", (), (2, 3, 5))]
    for name, args, shape in cases:
        fm = getattr(nn, name)(*args)
        tm = getattr(torch.nn, name)(*args).double()
        assert fm.has_uninitialized_params()
        x = _r(rng, *shape)
        tm(torch.tensor(x))                       # materialise torch's, then copy its weights
        fm(fastdl.tensor(x.astype(np.float32)))
        assert type(fm).__name__ == name[4:], name
        assert type(tm).__name__ == name[4:]
        fm.double()
        twin_module(fm, tm, [x], rtol=1e-6, atol=1e-9)
    # a lazy module materialises from a state dict too
    t = torch.nn.Linear(6, 2).double()
    f = nn.LazyLinear(2, dtype=fastdl.float64)
    f.load_state_dict({k: v.numpy() for k, v in t.state_dict().items()})
    assert isinstance(f, nn.Linear) and f.in_features == 6
    assert_close(f(fastdl.tensor(np.ones((1, 6)))).detach().numpy(),
                 t(torch.ones(1, 6, dtype=torch.float64)).detach().numpy())
    seq = nn.Sequential(nn.LazyConv2d(4, 3), nn.ReLU(), nn.Flatten(), nn.LazyLinear(2))
    assert seq(fastdl.randn(2, 3, 6, 6)).shape == (2, 2)
    assert seq[3].in_features == 64
