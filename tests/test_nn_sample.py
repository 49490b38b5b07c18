"""grid_sample (C++ kernel family sample/) against its NumPy reference and PyTorch (values,
input and grid gradients, every mode / padding / align_corners), affine_grid, bicubic
interpolate; gradcheck; bad arguments."""
import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl.testing import assert_close, gradcheck, use_threads
from fastdl.testing.reference.sample import grid_sample_ref
from nn_twin import torch_or_skip, twin


def _case(rng, N=2, C=3, H=5, W=6, Ho=4, Wo=7):
    x = rng.standard_normal((N, C, H, W))
    grid = rng.uniform(-1.4, 1.4, (N, Ho, Wo, 2))           # some points outside
    return x, grid


@pytest.mark.parametrize("mode", ["bilinear", "nearest"])
@pytest.mark.parametrize("padding", ["zeros", "border", "reflection"])
@pytest.mark.parametrize("ac", [False, True])
def test_grid_sample_matches_reference_and_torch(mode, padding, ac, rng):
    x, grid = _case(rng)
    out = F.grid_sample(fastdl.tensor(x), fastdl.tensor(grid), mode, padding, ac)
    assert_close(out.numpy(), grid_sample_ref(x, grid, mode, padding, ac))
    out32 = F.grid_sample(fastdl.tensor(x.astype(np.float32)),
                          fastdl.tensor(grid.astype(np.float32)), mode, padding, ac)
    assert_close(out32.numpy(), out.numpy(), rtol=1e-4, atol=1e-5)
    torch = torch_or_skip()
    twin(lambda a, g: F.grid_sample(a, g, mode, padding, ac),
         lambda a, g: torch.nn.functional.grid_sample(a, g, mode, padding, ac),
         [x, grid], rtol=1e-6, atol=1e-9)


def test_grid_sample_gradcheck_threads_and_errors(rng):
    x, grid = _case(rng, N=1, C=2, H=3, W=4, Ho=2, Wo=3)
    for padding in ("zeros", "border", "reflection"):
        gradcheck(lambda a, g: F.grid_sample(a, g, padding_mode=padding, align_corners=False),
                  [fastdl.tensor(x, requires_grad=True),
                   fastdl.tensor(grid * 0.9, requires_grad=True)])
    big_x, big_g = _case(rng, N=2, C=4, H=20, W=20, Ho=30, Wo=30)
    with use_threads(1):
        one = F.grid_sample(fastdl.tensor(big_x), fastdl.tensor(big_g)).numpy()
    with use_threads(2):
        two = F.grid_sample(fastdl.tensor(big_x), fastdl.tensor(big_g)).numpy()
    assert np.array_equal(one, two)
    X, G = fastdl.tensor(x), fastdl.tensor(grid)
    with pytest.raises(ValueError, match="padding_mode"):
        F.grid_sample(X, G, padding_mode="wrap")
    with pytest.raises(ValueError, match="mode"):
        F.grid_sample(X, G, mode="area")
    with pytest.raises(ValueError, match="batch size"):
        F.grid_sample(X, fastdl.tensor(np.concatenate([grid, grid])))
    with pytest.raises(ValueError, match="grid must be"):
        F.grid_sample(X, fastdl.tensor(grid[..., :1]))
    with pytest.raises(TypeError, match="grid is float32"):
        F.grid_sample(X, fastdl.tensor(grid.astype(np.float32)))


@pytest.mark.parametrize("ac", [False, True])
def test_affine_grid_matches_torch(ac, rng):
    torch = torch_or_skip()
    theta = rng.standard_normal((2, 2, 3))
    twin(lambda t: F.affine_grid(t, (2, 3, 4, 5), ac),
         lambda t: torch.nn.functional.affine_grid(t, (2, 3, 4, 5), ac), [theta])
    theta3 = rng.standard_normal((2, 3, 4))
    twin(lambda t: F.affine_grid(t, (2, 1, 3, 4, 5), ac),
         lambda t: torch.nn.functional.affine_grid(t, (2, 1, 3, 4, 5), ac), [theta3])
    # the identity warp returns the image
    x = rng.standard_normal((2, 3, 4, 5))
    eye = np.tile(np.array([[1.0, 0, 0], [0, 1, 0]]), (2, 1, 1))
    g = F.affine_grid(fastdl.tensor(eye), (2, 3, 4, 5), ac)
    assert_close(F.grid_sample(fastdl.tensor(x), g, align_corners=ac).numpy(), x, atol=1e-12)
    with pytest.raises(ValueError, match="Nx2x3"):
        F.affine_grid(fastdl.tensor(theta3), (2, 3, 4, 5))


@pytest.mark.parametrize("kw", [dict(size=(7, 9)), dict(scale_factor=2), dict(size=(3, 4)),
                                dict(scale_factor=1.7), dict(size=(7, 9), align_corners=True),
                                dict(size=(1, 1), align_corners=True)])
def test_bicubic_matches_torch(kw, rng):
    torch = torch_or_skip()
    x = rng.standard_normal((2, 3, 5, 6))
    twin(lambda a: F.interpolate(a, mode="bicubic", **kw),
         lambda a: torch.nn.functional.interpolate(a, mode="bicubic", **kw), [x])


def test_bicubic_gradcheck(rng):
    x = fastdl.tensor(rng.standard_normal((1, 2, 3, 4)), requires_grad=True)
    gradcheck(lambda a: F.interpolate(a, size=(5, 6), mode="bicubic"), [x])
