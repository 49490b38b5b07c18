"""nn.init.dirac_/sparse_, nn.utils.parametrize, parametrizations.weight_norm/spectral_norm,
the legacy weight_norm/spectral_norm, parameters_to_vector, functional_call: PyTorch twins
with PyTorch's state dicts (both ways), gradients, bad arguments."""
import numpy as np
import pytest

import fastdl
import fastdl.func  # noqa: F401
import fastdl.nn as nn
from fastdl.nn.utils import parametrize
from fastdl.testing import assert_close
from nn_twin import load_torch_weights, np_state, torch_or_skip, twin


def test_dirac_and_sparse_init(rng):
    torch = torch_or_skip()
    for shape, groups in [((4, 2, 3), 1), ((6, 3, 3, 3), 2), ((2, 4, 1, 3, 3), 1)]:
        f = fastdl.empty(*shape)
        t = torch.empty(*shape)
        nn.init.dirac_(f, groups)
        torch.nn.init.dirac_(t, groups)
        assert np.array_equal(f.numpy(), t.numpy())
    x = fastdl.tensor(rng.standard_normal((1, 3, 5, 5)).astype(np.float32))
    conv = nn.Conv2d(3, 3, 3, padding=1, bias=False)
    nn.init.dirac_(conv.weight)
    assert_close(conv(x).detach().numpy(), x.numpy())               # identity convolution
    w = fastdl.empty(10, 6)
    nn.init.sparse_(w, 0.3, std=0.5)
    zeros = (w.numpy() == 0).sum(0)
    assert np.all(zeros == 3)
    with pytest.raises(ValueError, match="2 dimensions"):
        nn.init.sparse_(fastdl.empty(3), 0.1)
    with pytest.raises(ValueError, match="3, 4, or 5"):
        nn.init.dirac_(fastdl.empty(3, 3))


class _Symmetric(nn.Module):
    def forward(self, X):
        return (X + X.transpose(0, 1)) * 0.5


def test_register_and_remove_parametrization(rng):
    lin = nn.Linear(3, 3, dtype=fastdl.float64)
    w0 = lin.weight.detach().numpy().copy()
    p = lin.weight
    parametrize.register_parametrization(lin, "weight", _Symmetric())
    assert parametrize.is_parametrized(lin, "weight") and not parametrize.is_parametrized(lin, "bias")
    assert lin.parametrizations.weight.original is p                 # same Parameter object
    assert sorted(lin.state_dict()) == ["bias", "parametrizations.weight.original"]
    W = lin.weight.detach().numpy()
    assert_close(W, (w0 + w0.T) / 2)
    x = fastdl.tensor(rng.standard_normal((2, 3)))
    lin(x).sum().backward()
    g = p.grad.numpy()
    assert_close(g, g.T)                                            # grad through the symmetrisation
    assert parametrize.type_before_parametrizations(lin) is nn.Linear
    with parametrize.cached():
        assert lin.weight is lin.weight
    parametrize.remove_parametrizations(lin, "weight")
    assert type(lin) is nn.Linear and isinstance(lin.weight, nn.Parameter)
    assert_close(lin.weight.detach().numpy(), (w0 + w0.T) / 2)
    with pytest.raises(ValueError, match="does not have a parameter"):
        parametrize.register_parametrization(lin, "nope", _Symmetric())


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_parametrizations_weight_norm_matches_torch(rng, seed):
    torch = torch_or_skip()
    torch.manual_seed(seed)
    tm = torch.nn.utils.parametrizations.weight_norm(torch.nn.Conv2d(2, 4, 3).double())
    fm = nn.utils.parametrizations.weight_norm(nn.Conv2d(2, 4, 3, dtype=fastdl.float64))
    assert sorted(fm.state_dict()) == sorted(tm.state_dict())
    load_torch_weights(fm, tm)
    twin(fm, tm, [rng.standard_normal((2, 2, 5, 5))],
         f_params=list(fm.named_parameters()), t_params=list(tm.named_parameters()))
    tm.load_state_dict({k: torch.tensor(v) for k, v in np_state(fm).items()})
    # legacy
    import warnings
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)        # torch deprecates the legacy one
        tl = torch.nn.utils.weight_norm(torch.nn.Linear(3, 4).double(), dim=None)
    fl = nn.utils.weight_norm(nn.Linear(3, 4, dtype=fastdl.float64), dim=None)
    assert sorted(fl.state_dict()) == sorted(tl.state_dict())
    load_torch_weights(fl, tl)
    twin(fl, tl, [rng.standard_normal((2, 3))],
         f_params=list(fl.named_parameters()), t_params=list(tl.named_parameters()))
    nn.utils.remove_weight_norm(fl)
    assert type(fl) is nn.Linear and sorted(fl.state_dict()) == ["bias", "weight"]


@pytest.mark.parametrize("legacy", [False, True])
def test_spectral_norm_matches_torch(legacy, rng):
    torch = torch_or_skip()
    tsn = torch.nn.utils.spectral_norm if legacy else torch.nn.utils.parametrizations.spectral_norm
    fsn = nn.utils.spectral_norm if legacy else nn.utils.parametrizations.spectral_norm
    for tmod, fmod, shape in [(torch.nn.Linear(5, 4), nn.Linear(5, 4, dtype=fastdl.float64), (3, 5)),
                              (torch.nn.Conv2d(2, 3, 3), nn.Conv2d(2, 3, 3, dtype=fastdl.float64),
                               (2, 2, 5, 5)),
                              (torch.nn.ConvTranspose2d(2, 3, 3),
                               nn.ConvTranspose2d(2, 3, 3, dtype=fastdl.float64), (2, 2, 4, 4))]:
        tm, fm = tsn(tmod.double()), fsn(fmod)
        assert sorted(fm.state_dict()) == sorted(tm.state_dict())
        load_torch_weights(fm, tm)
        x = rng.standard_normal(shape)
        twin(fm, tm, [x], f_params=list(fm.named_parameters()),
             t_params=list(tm.named_parameters()), rtol=1e-6)
        for k, v in np_state(tm).items():                            # u, v updated alike
            assert_close(np_state(fm)[k], v, rtol=1e-6, msg=k)
        fm.eval()
        tm.eval()
        twin(fm, tm, [x], grad=False, rtol=1e-6)
    if not legacy:                          # 15 power steps at registration: σ(W / σ) ≈ 1
        w = fm.weight.detach().numpy()
        mat = np.moveaxis(w, 1, 0).reshape(w.shape[1], -1)
        assert abs(np.linalg.svd(mat, compute_uv=False)[0] - 1) < 0.2


def test_functional_call_and_parameter_vectors(rng):
    torch = torch_or_skip()
    tm = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.BatchNorm1d(4), torch.nn.Linear(4, 2)).double()
    fm = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 2)).double()
    load_torch_weights(fm, tm)
    new = {k: rng.standard_normal(v.shape) for k, v in np_state(tm).items()
           if "num_batches" not in k}
    fp = {k: fastdl.tensor(v, requires_grad="running" not in k) for k, v in new.items()}
    tp = {k: torch.tensor(v, requires_grad="running" not in k) for k, v in new.items()}
    x = rng.standard_normal((5, 3))
    fo = fastdl.func.functional_call(fm, fp, (fastdl.tensor(x),))
    to = torch.func.functional_call(tm, tp, (torch.tensor(x),))
    assert_close(fo.detach().numpy(), to.detach().numpy())
    fo.sum().backward()
    to.sum().backward()
    for k in fp:
        if fp[k].requires_grad:
            assert_close(fp[k].grad.numpy(), tp[k].grad.numpy(), msg=k)
    assert_close(fm[0].weight.detach().numpy(), tm[0].weight.detach().numpy())  # unchanged
    fo2 = nn.utils.stateless.functional_call(fm, {"0.weight": fp["0.weight"]}, fastdl.tensor(x))
    assert fo2.shape == (5, 2)
    with pytest.raises(RuntimeError, match="missing keys"):
        fastdl.func.functional_call(fm, {"0.weight": fp["0.weight"]}, (fastdl.tensor(x),),
                                    strict=True)
    v = nn.utils.parameters_to_vector(fm.parameters())
    tv = torch.nn.utils.parameters_to_vector(tm.parameters())
    assert_close(v.detach().numpy(), tv.detach().numpy())


def test_deprecated_init_spellings_warn():
    with pytest.warns(FutureWarning, match="dirac_"):
        nn.init.dirac(fastdl.empty(2, 2, 3))
    with pytest.warns(FutureWarning, match="normal_"):
        nn.init.normal(fastdl.empty(3))


@pytest.mark.parametrize("shape", [(4, 4), (5, 3), (3, 5)])
def test_orthogonal_matches_torch(shape, rng):
    torch = torch_or_skip()
    tm = torch.nn.utils.parametrizations.orthogonal(torch.nn.Linear(shape[1], shape[0]).double())
    fm = nn.utils.parametrizations.orthogonal(nn.Linear(shape[1], shape[0], dtype=fastdl.float64))
    assert sorted(fm.state_dict()) == sorted(tm.state_dict())
    w = fm.weight.detach().numpy()
    small = min(shape)
    gram = w.T @ w if shape[0] >= shape[1] else w @ w.T
    assert_close(gram, np.eye(small), atol=1e-10)                 # orthonormal at registration
    # move the unconstrained original away from -I (same values on both sides)
    sd = np_state(tm)
    sd["parametrizations.weight.original"] = sd["parametrizations.weight.original"] + \
        0.3 * rng.standard_normal(shape)
    tm.load_state_dict({k: torch.tensor(v) for k, v in sd.items()})
    fm.load_state_dict(sd)
    twin(fm, tm, [rng.standard_normal((2, shape[1]))], f_params=list(fm.named_parameters()),
         t_params=list(tm.named_parameters()), rtol=1e-6, atol=1e-9)
    if shape[0] == shape[1]:     # (householder truncates X's diagonal to ints, as PyTorch)
        w = fm.weight.detach().numpy()
        assert_close(w.T @ w, np.eye(small), atol=1e-10)
