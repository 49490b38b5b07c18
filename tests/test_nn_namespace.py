"""fastdl.nn against torch.nn's namespace: what is missing is only what the README lists as
not applicable; torch.nn's submodules parameter, grad and common_types."""
import re

import numpy as np
import pytest

import fastdl
import fastdl.nn as nn
import fastdl.nn.functional as F
from nn_twin import torch_or_skip


def _readme_not_there():
    import pathlib
    text = (pathlib.Path(__file__).resolve().parents[1] / "README.md").read_text()
    part = text[text.index("Not there"):]
    part = part[:part.index("\n- ")]
    return set(re.findall(r"`(?:nn\.)?(\w+)`", part))


def test_missing_torch_nn_names_are_listed_in_readme():
    torch = torch_or_skip()
    listed = _readme_not_there()
    missing = {n for n in set(dir(torch.nn)) - set(dir(nn)) if not n.startswith("_")}
    assert missing <= listed, f"not in fastdl.nn and not listed in the README: {missing - listed}"
    missing_f = {n for n in set(dir(torch.nn.functional)) - set(dir(F))
                 if not n.startswith("_") and callable(getattr(torch.nn.functional, n))
                 and getattr(getattr(torch.nn.functional, n), "__module__", "") and
                 getattr(torch.nn.functional, n).__module__.startswith("torch.nn")}
    assert missing_f <= listed, f"not in fastdl.nn.functional, not listed: {missing_f - listed}"


@pytest.mark.parametrize("dims", [1, 2, 3])
def test_nn_grad_matches_torch(dims, rng):
    torch = torch_or_skip()
    shape_x, shape_w = (2, 4) + (6,) * dims, (6, 2) + (3,) * dims
    x, w = rng.standard_normal(shape_x), rng.standard_normal(shape_w)
    kw = dict(stride=2, padding=1, groups=2)
    y = getattr(torch.nn.functional, f"conv{dims}d")(torch.tensor(x), torch.tensor(w), **kw)
    gy = rng.standard_normal(tuple(y.shape))
    tg = torch.nn.grad
    want_x = getattr(tg, f"conv{dims}d_input")(shape_x, torch.tensor(w), torch.tensor(gy), **kw)
    want_w = getattr(tg, f"conv{dims}d_weight")(torch.tensor(x), shape_w, torch.tensor(gy), **kw)
    got_x = getattr(nn.grad, f"conv{dims}d_input")(shape_x, fastdl.tensor(w), fastdl.tensor(gy),
                                                    **kw)
    got_w = getattr(nn.grad, f"conv{dims}d_weight")(fastdl.tensor(x), shape_w,
                                                     fastdl.tensor(gy), **kw)
    np.testing.assert_allclose(got_x.numpy(), want_x.numpy(), rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(got_w.numpy(), want_w.numpy(), rtol=1e-9, atol=1e-10)
    with pytest.raises(ValueError, match="grad_output"):
        getattr(nn.grad, f"conv{dims}d_input")(shape_x, fastdl.tensor(w),
                                               fastdl.tensor(gy[:1]), **kw)


def test_parameter_module():
    from fastdl.nn.parameter import Buffer, Parameter, UninitializedParameter, is_lazy
    assert isinstance(Parameter(fastdl.zeros(2)), fastdl.Tensor)
    assert isinstance(Buffer(fastdl.zeros(2)), fastdl.Tensor)
    lin = nn.LazyLinear(3)
    assert is_lazy(lin.weight) and isinstance(lin.weight, UninitializedParameter)
    lin(fastdl.randn(2, 4))
    assert not is_lazy(lin.weight)
    from fastdl.nn.common_types import _size_2_t  # noqa: F401
