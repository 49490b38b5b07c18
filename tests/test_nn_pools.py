"""1-D/3-D adaptive pools, 3-D max/avg pools, LP pools, max unpooling, fractional max
pooling and the *_with_indices spellings: PyTorch twins (values, indices, gradients, float64),
gradcheck, bad arguments."""
import numpy as np
import pytest

import fastdl
import fastdl.nn as nn
import fastdl.nn.functional as F
from fastdl.testing import assert_close, gradcheck
from nn_twin import torch_or_skip, twin


def _r(rng, *shape):
    return rng.standard_normal(shape)


def _idx_equal(f_out, t_out):
    assert np.array_equal(f_out[1].numpy(), t_out[1].numpy())


def test_adaptive_1d_3d_match_torch(rng):
    torch = torch_or_skip()
    tF = torch.nn.functional
    x1 = _r(rng, 2, 3, 11)
    for o in (1, 4, 11):
        twin(lambda x: F.adaptive_avg_pool1d(x, o), lambda x: tF.adaptive_avg_pool1d(x, o), [x1])
        f, t = twin(lambda x: F.adaptive_max_pool1d(x, o, True),
                    lambda x: tF.adaptive_max_pool1d(x, o, True), [x1])
        _idx_equal(f, t)
    x3 = _r(rng, 1, 2, 4, 5, 6)
    for o in (1, (2, 3, 4), (None, 2, 6)):
        twin(lambda x: F.adaptive_avg_pool3d(x, o), lambda x: tF.adaptive_avg_pool3d(x, o), [x3])
        f, t = twin(lambda x: F.adaptive_max_pool3d(x, o, True),
                    lambda x: tF.adaptive_max_pool3d(x, o, True), [x3])
        _idx_equal(f, t)
    twin(lambda x: nn.AdaptiveAvgPool3d(2)(x), lambda x: torch.nn.AdaptiveAvgPool3d(2)(x),
         [_r(rng, 2, 5, 6, 7)])                                   # unbatched
    f = F.adaptive_max_pool2d_with_indices(fastdl.tensor(_r(rng, 1, 2, 5, 5)), 2)
    assert isinstance(f, tuple) and f[1].dtype == np.int64


@pytest.mark.parametrize("args", [dict(kernel_size=2), dict(kernel_size=(2, 3, 2), stride=1),
                                  dict(kernel_size=3, stride=2, padding=1),
                                  dict(kernel_size=2, stride=2, ceil_mode=True),
                                  dict(kernel_size=2, stride=1, dilation=2)])
def test_pool3d_match_torch(args, rng):
    torch = torch_or_skip()
    tF = torch.nn.functional
    x = _r(rng, 2, 2, 5, 6, 7)
    f, t = twin(lambda a: F.max_pool3d(a, return_indices=True, **args),
                lambda a: tF.max_pool3d(a, return_indices=True, **args), [x])
    _idx_equal(f, t)
    avg = {k: v for k, v in args.items() if k != "dilation"}
    if "dilation" in args:
        return
    for cip in (True, False):
        twin(lambda a: F.avg_pool3d(a, count_include_pad=cip, **avg),
             lambda a: tF.avg_pool3d(a, count_include_pad=cip, **avg), [x])
    twin(lambda a: F.avg_pool3d(a, divisor_override=3, **avg),
         lambda a: tF.avg_pool3d(a, divisor_override=3, **avg), [x])


def test_lp_pools_match_torch(rng):
    torch = torch_or_skip()
    tF = torch.nn.functional
    x1, x2 = np.abs(_r(rng, 2, 3, 9)) + 0.1, np.abs(_r(rng, 2, 3, 6, 7)) + 0.1
    for p in (1.0, 2.0, 3.0):
        twin(lambda a: F.lp_pool1d(a, p, 3, 2), lambda a: tF.lp_pool1d(a, p, 3, 2), [x1])
        twin(lambda a: F.lp_pool2d(a, p, (2, 3)), lambda a: tF.lp_pool2d(a, p, (2, 3)), [x2])
    twin(lambda a: nn.LPPool3d(2, 2)(a), lambda a: torch.nn.LPPool3d(2, 2)(a),
         [np.abs(_r(rng, 1, 2, 4, 4, 4)) + 0.1])
    twin(lambda a: F.lp_pool2d(a, float("inf"), 2), lambda a: tF.lp_pool2d(a, float("inf"), 2),
         [x2])


def test_max_unpool_match_torch(rng):
    torch = torch_or_skip()
    tF = torch.nn.functional
    x2 = _r(rng, 2, 3, 6, 6)
    v, i = tF.max_pool2d(torch.tensor(x2), 2, return_indices=True)
    twin(lambda a, b: F.max_unpool2d(a, b, 2), lambda a, b: tF.max_unpool2d(a, b, 2),
         [v.numpy(), i.numpy()])
    v, i = tF.max_pool2d(torch.tensor(_r(rng, 2, 3, 7, 7)), 2, return_indices=True)
    twin(lambda a, b: F.max_unpool2d(a, b, 2, output_size=(7, 7)),
         lambda a, b: tF.max_unpool2d(a, b, 2, output_size=(7, 7)), [v.numpy(), i.numpy()])
    v1, i1 = tF.max_pool1d(torch.tensor(_r(rng, 3, 6, 7)), 3, 2, 1, return_indices=True)
    twin(lambda a, b: nn.MaxUnpool1d(3, 2, 1)(a, b), lambda a, b: torch.nn.MaxUnpool1d(3, 2, 1)(a, b),
         [v1.numpy(), i1.numpy()])
    x3 = _r(rng, 1, 2, 4, 4, 6)
    fv, fi = F.max_pool3d(fastdl.tensor(x3), 2, return_indices=True)
    twin(lambda a, b: F.max_unpool3d(a, b, 2), lambda a, b: tF.max_unpool3d(a, b, 2),
         [fv.numpy(), fi.numpy()])
    with pytest.raises(ValueError, match="shape of indices"):
        F.max_unpool2d(fastdl.tensor(v.numpy()), fastdl.tensor(i.numpy()[:, :1]), 2)
    with pytest.raises(ValueError, match="output_size"):
        F.max_unpool2d(fastdl.tensor(v.numpy()), fastdl.tensor(i.numpy()), 2, output_size=(2, 2))


@pytest.mark.parametrize("nd", [2, 3])
def test_fractional_max_pool_matches_torch(nd, rng):
    torch = torch_or_skip()
    tF = torch.nn.functional
    shape = (2, 3, 9, 10) if nd == 2 else (2, 2, 6, 7, 8)
    x = _r(rng, *shape)
    samples = rng.random((shape[0], shape[1], nd))
    ffn = F.fractional_max_pool2d if nd == 2 else F.fractional_max_pool3d
    tfn = tF.fractional_max_pool2d if nd == 2 else tF.fractional_max_pool3d
    for kw in (dict(output_size=4), dict(output_ratio=(0.5,) * nd), dict(output_size=1)):
        f, t = twin(lambda a, s: ffn(a, 2, return_indices=True, _random_samples=s, **kw),
                    lambda a, s: tfn(a, 2, return_indices=True, _random_samples=s, **kw),
                    [x, _Const(samples)])
        _idx_equal(f, t)
    m = (nn.FractionalMaxPool2d if nd == 2 else nn.FractionalMaxPool3d)(2, output_ratio=0.5)
    assert m(fastdl.tensor(x)).shape[2:] == tuple(s // 2 for s in shape[2:])
    with pytest.raises(ValueError, match="output_size or an output_ratio|output size"):
        ffn(fastdl.tensor(x), 2)


def _Const(a):
    from nn_twin import Const
    return Const(a)


def test_pools_gradcheck_and_errors(rng):
    x = fastdl.tensor(_r(rng, 1, 1, 3, 3, 4), requires_grad=True)
    gradcheck(lambda a: F.max_pool3d(a, 2, 1), [x])
    gradcheck(lambda a: F.avg_pool3d(a, 2, 1, padding=1, count_include_pad=False), [x])
    gradcheck(lambda a: F.adaptive_max_pool3d(a, (2, 3, 3)), [x])
    gradcheck(lambda a: F.fractional_max_pool3d(a, 2, output_size=2,
                                                _random_samples=np.full((1, 1, 3), 0.3)), [x])
    y = fastdl.tensor(np.abs(_r(rng, 1, 2, 6)) + 0.5, requires_grad=True)
    gradcheck(lambda a: F.lp_pool1d(a, 2, 2), [y])
    with pytest.raises(ValueError, match="5-D"):
        F.max_pool3d(fastdl.randn(2, 3, 4), 2)
    with pytest.raises(ValueError, match="divisor_override"):
        F.avg_pool3d(fastdl.randn(1, 1, 2, 2, 2), 2, divisor_override=0)
    with pytest.raises(ValueError, match="output_size"):
        F.adaptive_avg_pool1d(fastdl.randn(1, 2, 5), 0)
