"""The older ``nn.utils.weight_norm`` / ``nn.utils.spectral_norm`` (and their ``remove_*``),
with PyTorch's parameter and buffer names: ``weight_g``/``weight_v``; ``weight_orig`` and
the buffers ``weight_u``/``weight_v``. Before every forward the module's ``weight`` is
recomputed from them (the module's class is swapped for a subclass whose ``forward`` does
that first; ``remove_*`` swaps it back). New code should prefer
``nn.utils.parametrizations``.
"""
from __future__ import annotations

import numpy as np

from ...autograd.function import no_grad
from ...random import default_generator
from ...tensor import Tensor
from ..modules.module import Parameter
from .parametrizations import _norm_except_dim, _normalize, _weight_norm

__all__ = ["weight_norm", "remove_weight_norm", "spectral_norm", "remove_spectral_norm"]


def _hooked(module):
    """Give ``module`` a class whose forward first recomputes each registered weight."""
    cls = type(module)
    if getattr(cls, "_fastdl_norm_hooks", None) is not None:
        return
    orig_forward = cls.forward

    def forward(self, *args, **kwargs):
        for fn in self._norm_hooks.values():
            fn(self)
        return orig_forward(self, *args, **kwargs)

    new = type(cls.__name__, (cls,), {"forward": forward, "_fastdl_norm_hooks": True,
                                      "_fastdl_base": cls})
    object.__setattr__(module, "__class__", new)
    object.__setattr__(module, "_norm_hooks", {})


def _unhook(module, key):
    module._norm_hooks.pop(key)
    if not module._norm_hooks:
        object.__setattr__(module, "__class__", type(module)._fastdl_base)


def _set_plain(module, name, value):
    """``module.<name>`` as a plain attribute (not a parameter), as PyTorch's hooks set it."""
    module.__dict__[name] = value


def weight_norm(module, name="weight", dim=0):
    """Replace ``module.<name>`` by ``<name>_g`` (magnitude, norm over every dim but
    ``dim``) and ``<name>_v`` (direction); ``w = g · v / ‖v‖`` is recomputed before each
    forward. Returns ``module``. Example: ``m = nn.utils.weight_norm(nn.Linear(20, 40))``"""
    key = ("weight_norm", name)
    if getattr(module, "_norm_hooks", {}).get(key):
        raise RuntimeError(f"Cannot register two weight_norm hooks on the same parameter "
                           f"{name}")
    w = getattr(module, name)
    d = -1 if dim is None else dim
    del module._parameters[name]
    with no_grad():
        g = _norm_except_dim(w.detach(), d)
    module.register_parameter(name + "_g", Parameter(g._array.copy()))
    module.register_parameter(name + "_v", Parameter(w._array.copy()))
    _hooked(module)

    def compute(m):
        _set_plain(m, name, _weight_norm(getattr(m, name + "_v"), getattr(m, name + "_g"), d))

    module._norm_hooks[key] = compute
    compute(module)
    return module


def remove_weight_norm(module, name="weight"):
    """Undo ``weight_norm``: ``module.<name>`` is a Parameter again holding g · v / ‖v‖.
    Example: ``nn.utils.remove_weight_norm(m)``"""
    key = ("weight_norm", name)
    if key not in getattr(module, "_norm_hooks", {}):
        raise ValueError(f"weight_norm of '{name}' not found in {module}")
    with no_grad():
        module._norm_hooks[key](module)
        w = module.__dict__.pop(name)
    del module._parameters[name + "_g"]
    del module._parameters[name + "_v"]
    module.register_parameter(name, Parameter(w._array.copy()))
    _unhook(module, key)
    return module


def _matrix(w, dim):
    if dim != 0:
        perm = [dim] + [i for i in range(w.ndim) if i != dim]
        w = w.permute(*perm)
    return w.reshape(w.shape[0], -1)


def spectral_norm(module, name="weight", n_power_iterations=1, eps=1e-12, dim=None):
    """Replace ``module.<name>`` by ``<name>_orig`` and recompute ``W / σ(W)`` before each
    forward, σ estimated by ``n_power_iterations`` power-iteration steps per training
    forward on the buffers ``<name>_u``, ``<name>_v``. ``dim`` defaults to 1 for
    ConvTranspose, else 0. Returns ``module``.
    Example: ``d = nn.utils.spectral_norm(nn.Linear(20, 1))``"""
    key = ("spectral_norm", name)
    if getattr(module, "_norm_hooks", {}).get(key):
        raise RuntimeError(f"Cannot register two spectral_norm hooks on the same parameter "
                           f"{name}")
    if n_power_iterations <= 0:
        raise ValueError(f"Expected n_power_iterations to be positive, but got "
                         f"n_power_iterations={n_power_iterations}")
    if dim is None:
        from ..modules.conv import ConvTranspose1d, ConvTranspose2d
        dim = 1 if isinstance(module, (ConvTranspose1d, ConvTranspose2d)) or \
            type(module).__name__ == "ConvTranspose3d" else 0
    w = getattr(module, name)
    wm = _matrix(w.detach(), dim)._array
    h, wd = wm.shape
    gen = default_generator()
    u = _normalize(gen.standard_normal(h), eps).astype(w._array.dtype)
    v = _normalize(gen.standard_normal(wd), eps).astype(w._array.dtype)
    del module._parameters[name]
    module.register_parameter(name + "_orig", w)
    module.register_buffer(name + "_u", Tensor._make(u))
    module.register_buffer(name + "_v", Tensor._make(v))
    _hooked(module)

    def compute(m):
        weight = getattr(m, name + "_orig")
        ub, vb = getattr(m, name + "_u"), getattr(m, name + "_v")
        if m.training:
            wmat = _matrix(weight.detach(), dim)._array
            for _ in range(n_power_iterations):   # v first, as PyTorch's legacy hook
                vb._array[...] = _normalize(wmat.T @ ub._array, eps)
                ub._array[...] = _normalize(wmat @ vb._array, eps)
            ub._vc[0] += 1
            vb._vc[0] += 1
        uu, vv = Tensor._make(ub._array.copy()), Tensor._make(vb._array.copy())
        sigma = (uu * (_matrix(weight, dim) @ vv)).sum()
        _set_plain(m, name, weight / sigma)

    module._norm_hooks[key] = compute
    with no_grad():
        _set_plain(module, name, Tensor._make(w._array.copy()))
    return module


def remove_spectral_norm(module, name="weight"):
    """Undo ``spectral_norm``: ``module.<name>`` is a Parameter again holding W / σ
    (with the current u, v). Example: ``nn.utils.remove_spectral_norm(d)``"""
    key = ("spectral_norm", name)
    if key not in getattr(module, "_norm_hooks", {}):
        raise ValueError(f"spectral_norm of '{name}' not found in {module}")
    training = module.training
    with no_grad():
        object.__setattr__(module, "training", False)
        module._norm_hooks[key](module)
        object.__setattr__(module, "training", training)
        w = module.__dict__.pop(name)
    orig = module._parameters.pop(name + "_orig")
    del module._buffers[name + "_u"]
    del module._buffers[name + "_v"]
    orig._array = np.array(w._array)
    orig._vc[0] += 1
    module.register_parameter(name, orig)
    _unhook(module, key)
    return module
