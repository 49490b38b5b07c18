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


def test_nn_utils_namespace_and_small_utils(rng):
    torch = torch_or_skip()
    missing = {n for n in set(dir(torch.nn.utils)) - set(dir(nn.utils)) if not n.startswith("_")}
    assert not missing, f"not in fastdl.nn.utils: {missing}"
    # clip_grads_with_norm_ and the deprecated clip_grad_norm against torch
    g = [rng.standard_normal((3, 4)), rng.standard_normal(5)]
    for max_norm in (0.5, 100.0):
        tp = [torch.nn.Parameter(torch.zeros(a.shape, dtype=torch.float64)) for a in g]
        fp = [nn.Parameter(fastdl.zeros(a.shape, dtype=fastdl.float64)) for a in g]
        for t, f, a in zip(tp, fp, g):
            t.grad, f.grad = torch.tensor(a), fastdl.tensor(a)
        tn = torch.nn.utils.get_total_norm([t.grad for t in tp])
        fn = nn.utils.get_total_norm([f.grad for f in fp])
        torch.nn.utils.clip_grads_with_norm_(tp, max_norm, tn)
        assert nn.utils.clip_grads_with_norm_(fp, max_norm, fn) is None
        for t, f in zip(tp, fp):
            np.testing.assert_allclose(f.grad.numpy(), t.grad.numpy(), rtol=1e-12)
        with pytest.warns(FutureWarning, match="clip_grad_norm_"):
            got = nn.utils.clip_grad_norm(fp, max_norm)
        want = torch.nn.utils.clip_grad_norm_(tp, max_norm)
        np.testing.assert_allclose(got.item(), want.item(), rtol=1e-12)
    # skip_init builds the module (values unspecified, as in torch); errors as torch's
    m = nn.utils.skip_init(nn.Linear, 5, out_features=2)
    assert isinstance(m, nn.Linear) and tuple(m.weight.shape) == (2, 5)
    with pytest.raises(RuntimeError, match="Expected a Module"):
        nn.utils.skip_init(int)
    # the memory-format converters leave fastdl's module as it is
    net = nn.Sequential(nn.Conv2d(2, 3, 3), nn.Conv3d(3, 2, 1))
    assert nn.utils.convert_conv2d_weight_memory_format(net, fastdl.channels_last) is net
    assert nn.utils.convert_conv3d_weight_memory_format(net, fastdl.channels_last_3d) is net
    with pytest.raises(TypeError, match="memory_format"):
        nn.utils.convert_conv2d_weight_memory_format(net, "channels_last")
