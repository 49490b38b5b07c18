"""Helpers for the tests/test_nn_*.py files: run a fastdl module or function and its
PyTorch twin on the same float64 inputs and weights, and compare outputs, input gradients
and parameter gradients."""
import numpy as np
import pytest

import fastdl
from fastdl.testing import assert_close


def torch_or_skip():
    torch = pytest.importorskip("torch")
    return torch


def np_state(m):
    return {k: v.detach().numpy().copy() for k, v in m.state_dict().items()}


def load_torch_weights(fm, tm):
    """Copy a torch module's state dict into the fastdl module (keys must agree)."""
    fm.load_state_dict(np_state(tm))


class Const:
    """Wrap an input array of ``twin`` that must not require grad (a float mask)."""

    def __init__(self, a):
        self.a = a


def twin(f_fn, t_fn, arrays, rtol=1e-7, atol=1e-9, grad=True, f_params=(), t_params=(),
         seed=0):
    """Run f_fn(*fastdl tensors) and t_fn(*torch tensors) on the float arrays in ``arrays``
    (non-float arrays go through unchanged, as tensors); compare outputs and, with grad,
    the gradients of Σ v·out w.r.t. every float input and the given parameter lists."""
    torch = torch_or_skip()
    f_in, t_in = [], []
    for a in arrays:
        if isinstance(a, Const):
            f_in.append(fastdl.tensor(a.a.copy()))
            t_in.append(torch.tensor(a.a.copy()))
        elif isinstance(a, np.ndarray) and a.dtype.kind == "f":
            f_in.append(fastdl.tensor(a.copy(), requires_grad=grad))
            t_in.append(torch.tensor(a.copy(), requires_grad=grad))
        elif isinstance(a, np.ndarray):
            f_in.append(fastdl.tensor(a.copy()))
            t_in.append(torch.tensor(a.copy()))
        else:
            f_in.append(a)
            t_in.append(a)
    fo = f_fn(*f_in)
    to = t_fn(*t_in)
    fo = fo if isinstance(fo, (tuple, list)) else (fo,)
    to = to if isinstance(to, (tuple, list)) else (to,)
    rng = np.random.default_rng(seed)
    f_loss = t_loss = None
    for a, b in zip(fo, to):
        if a is None or b is None:
            continue
        bn = b.detach().numpy()
        assert_close(a.detach().numpy() if hasattr(a, "detach") else a, bn, rtol=rtol,
                     atol=atol, msg="output: ")
        if grad and bn.dtype.kind == "f" and b.requires_grad:
            w = rng.standard_normal(bn.shape)
            fl = (a * fastdl.tensor(w.astype(bn.dtype))).sum()
            tl = (b * torch.tensor(w.astype(bn.dtype))).sum()
            f_loss = fl if f_loss is None else f_loss + fl
            t_loss = tl if t_loss is None else t_loss + tl
    if not grad or f_loss is None:
        return fo, to
    f_loss.backward()
    t_loss.backward()
    for i, (a, b) in enumerate(zip(f_in, t_in)):
        if isinstance(b, torch.Tensor) and b.requires_grad:
            if b.grad is None:
                assert a.grad is None or np.all(a.grad.numpy() == 0)
                continue
            assert a.grad is not None, f"input {i}: fastdl has no gradient"
            assert_close(a.grad.numpy(), b.grad.numpy(), rtol=rtol, atol=atol,
                         msg=f"grad of input {i}: ")
    f_named = dict(f_params)
    assert set(f_named) == {n for n, _ in t_params}
    for n, tp in t_params:
        p = f_named[n]
        if tp.grad is None:
            assert p.grad is None or np.all(p.grad.numpy() == 0), n
            continue
        assert p.grad is not None, f"parameter {n}: fastdl has no gradient"
        assert_close(p.grad.numpy(), tp.grad.numpy(), rtol=rtol, atol=atol,
                     msg=f"grad of {n}: ")
    return fo, to


def twin_module(fm, tm, arrays, **kw):
    """``twin`` for modules: load tm's weights into fm, compare outputs and gradients of
    inputs and of every parameter (by name)."""
    load_torch_weights(fm, tm)
    return twin(fm, tm, arrays, f_params=list(fm.named_parameters()),
                t_params=list(tm.named_parameters()), **kw)


def state_dict_round_trip(fm, tm):
    """fastdl -> torch and torch -> fastdl state dicts load with the same keys and values."""
    torch = torch_or_skip()
    f_sd = np_state(fm)
    t_sd = np_state(tm)
    assert list(f_sd) == list(t_sd) or set(f_sd) == set(t_sd)
    for k in t_sd:
        assert f_sd[k].shape == t_sd[k].shape, k
    tm.load_state_dict({k: torch.tensor(v) for k, v in f_sd.items()})
    fm.load_state_dict(t_sd)
    for k, v in np_state(fm).items():
        assert_close(v, t_sd[k], rtol=0, atol=0)
