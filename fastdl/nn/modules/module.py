"""``Module`` and ``Parameter``: the base of every layer, with PyTorch's API."""
from __future__ import annotations

from collections import OrderedDict

import numpy as np

from ...tensor import Tensor, _as_array, _canon_dtype

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "ModuleDict", "ParameterList",
           "ParameterDict"]


class Parameter(Tensor):
    """A Tensor that is a module's learnable parameter (``requires_grad=True`` by default).

    Example: ``w = fastdl.nn.Parameter(fastdl.randn(3, 4))``
    """

    __slots__ = ()

    def __init__(self, data=None, requires_grad=True):
        if data is None:
            data = np.empty((0,), np.float32)
        arr = data._array if isinstance(data, Tensor) else _as_array(data)
        Tensor.__init__(self, arr if isinstance(data, Tensor) else arr, requires_grad=False)
        if isinstance(data, Tensor):
            self._array = data._array  # share the storage, as torch.nn.Parameter does
        if requires_grad:
            self.requires_grad_(True)

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()


class Module:
    """Base class of layers and models.

    Assigning a ``Parameter``, a ``Module`` or (via ``register_buffer``) a buffer as an
    attribute registers it; ``parameters()``, ``state_dict()``, ``train()``/``eval()`` and
    ``to(dtype)`` then reach it.

    Example::

        class Net(fastdl.nn.Module):
            def __init__(self):
                super().__init__()
                self.fc = fastdl.nn.Linear(4, 2)

            def forward(self, x):
                return self.fc(x).relu()
    """

    def __init__(self):
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)

    # ---- attribute registration ---------------------------------------------------------
    def __setattr__(self, name, value):
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError("cannot assign attributes before Module.__init__() call")
        params, mods, bufs = d["_parameters"], d["_modules"], d["_buffers"]
        if isinstance(value, Parameter):
            mods.pop(name, None)
            bufs.pop(name, None)
            d.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            bufs.pop(name, None)
            d.pop(name, None)
            mods[name] = value
        elif name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as parameter '{name}' "
                                f"(fastdl.nn.Parameter or None expected)")
            params[name] = None
        elif name in bufs:
            if value is not None and not isinstance(value, Tensor):
                raise TypeError(f"cannot assign {type(value).__name__} as buffer '{name}' "
                                f"(Tensor or None expected)")
            bufs[name] = value
        elif name in mods:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} as child module "
                                f"'{name}' (Module or None expected)")
            mods[name] = None
        else:
            object.__setattr__(self, name, value)

    def __getattr__(self, name):
        d = self.__dict__
        for key in ("_parameters", "_buffers", "_modules"):
            store = d.get(key)
            if store is not None and name in store:
                return store[name]
        raise AttributeError(f"'{type(self).__name__}' object has no attribute '{name}'")

    def __delattr__(self, name):
        for key in ("_parameters", "_buffers", "_modules"):
            store = self.__dict__[key]
            if name in store:
                del store[name]
                self._non_persistent.discard(name)
                return
        object.__delattr__(self, name)

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter or None) under ``name``."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be a Parameter or None, got "
                            f"{type(param).__name__}")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Register a non-learnable tensor (e.g. running statistics) kept in the state dict
        unless ``persistent=False``. Example: ``self.register_buffer('mean', fastdl.zeros(3))``"""
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: '{name}' must be a Tensor or None, got "
                            f"{type(tensor).__name__}")
        if name in self._parameters or name in self._modules:
            raise KeyError(f"register_buffer: attribute '{name}' already exists")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {type(module).__name__} is not a Module")
        self._modules[name] = module

    register_module = add_module

    # ---- calling --------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args, **kwargs):
        return self.forward(*args, **kwargs)

    # ---- traversal ------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix=""):
        if memo is None:
            memo = set()
        stack = [(prefix, self)]
        while stack:
            p, m = stack.pop()
            if id(m) in memo:
                continue
            memo.add(id(m))
            yield p, m
            kids = [(p + ("." if p else "") + n, c) for n, c in m._modules.items()
                    if c is not None]
            stack.extend(reversed(kids))

    def modules(self):
        for _, m in self.named_modules():
            yield m

    def named_children(self):
        for n, m in self._modules.items():
            if m is not None:
                yield n, m

    def children(self):
        for _, m in self.named_children():
            yield m

    def named_parameters(self, prefix="", recurse=True):
        seen = set()
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for p, m in mods:
            for n, t in m._parameters.items():
                if t is None or id(t) in seen:
                    continue
                seen.add(id(t))
                yield (p + "." if p else "") + n, t

    def parameters(self, recurse=True):
        for _, t in self.named_parameters(recurse=recurse):
            yield t

    def named_buffers(self, prefix="", recurse=True):
        mods = self.named_modules(prefix=prefix) if recurse else [(prefix, self)]
        for p, m in mods:
            for n, t in m._buffers.items():
                if t is not None:
                    yield (p + "." if p else "") + n, t

    def share_memory(self):
        """Move every parameter and buffer into shared memory (``Tensor.share_memory_``), so
        processes that receive the module (``fastdl.multiprocessing``) or are forked after
        this call update the same weights. Returns the module. Example:
        ``model.share_memory()``"""
        for t in list(self.parameters()) + list(self.buffers()):
            t.share_memory_()
        return self

    def buffers(self, recurse=True):
        for _, t in self.named_buffers(recurse=recurse):
            yield t

    # ---- modes and conversions --------------------------------------------------------------
    def train(self, mode=True):
        """Set training mode (dropout active, batch norm uses batch statistics)."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self):
        """Set evaluation mode; same as ``train(False)``."""
        return self.train(False)

    def requires_grad_(self, requires_grad=True):
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def zero_grad(self, set_to_none=True):
        """Reset the gradients of all parameters (to None by default)."""
        for p in self.parameters():
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad._array[...] = 0

    def apply(self, fn):
        """Call ``fn(module)`` on every submodule (children first) and on self."""
        for m in self.children():
            m.apply(fn)
        fn(self)
        return self

    def to(self, dtype):
        """Convert floating-point parameters and buffers to ``dtype`` (``fastdl.float64``,
        ``np.float64`` or ``'float64'``), in place. Example: ``model.to('float64')``"""
        dt = _canon_dtype(dtype, "Module.to")
        if dt.kind != "f":
            raise TypeError(f"Module.to: only floating dtypes are allowed, got {dt}")
        for m in self.modules():
            for n, p in m._parameters.items():
                if p is not None and p._array.dtype.kind == "f":
                    p._array = p._array.astype(dt)
                    p._vc[0] += 1
                    if p.grad is not None:
                        p.grad = Tensor._make(p.grad._array.astype(dt))
            for n, b in m._buffers.items():
                if b is not None and b._array.dtype.kind == "f":
                    b._array = b._array.astype(dt)
                    b._vc[0] += 1
        return self

    def float(self):
        return self.to("float32")

    def double(self):
        return self.to("float64")

    # ---- state ----------------------------------------------------------------------------
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """Parameters and persistent buffers by dotted name, as PyTorch names them.
        Values are detached Tensors sharing the module's storage."""
        out = OrderedDict() if destination is None else destination
        for p, m in self.named_modules(prefix=prefix.rstrip(".")):
            pre = p + "." if p else ""
            for n, t in m._parameters.items():
                if t is not None:
                    out[pre + n] = t if keep_vars else t.detach()
            for n, t in m._buffers.items():
                if t is not None and n not in m._non_persistent:
                    out[pre + n] = t if keep_vars else t.detach()
        return out

    def load_state_dict(self, state_dict, strict=True):
        """Copy values into parameters and buffers. With ``strict``, a missing or unexpected
        key is a KeyError naming it; a shape mismatch is always a ValueError naming the key.
        Returns ``(missing_keys, unexpected_keys)``."""
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        if strict and (missing or unexpected):
            raise KeyError(f"load_state_dict: missing keys {missing}, unexpected keys "
                           f"{unexpected}")
        for k, t in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            arr = v._array if isinstance(v, Tensor) else np.asarray(v)
            if tuple(arr.shape) != tuple(t._array.shape):
                raise ValueError(f"load_state_dict: '{k}' has shape {tuple(arr.shape)} in the "
                                 f"state dict but {tuple(t._array.shape)} in the module")
            np.copyto(t._array, arr, casting="unsafe")
            t._vc[0] += 1
        return missing, unexpected

    # ---- printing -------------------------------------------------------------------------
    def extra_repr(self):
        return ""

    def __repr__(self):
        lines = []
        extra = self.extra_repr()
        if extra:
            lines = extra.split("\n")
        for n, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"({n}): {child}")
        name = type(self).__name__
        if not lines:
            return f"{name}()"
        if len(lines) == 1 and not self._modules:
            return f"{name}({lines[0]})"
        return name + "(\n  " + "\n  ".join(lines) + "\n)"

    def __dir__(self):
        return list(super().__dir__()) + list(self._parameters) + list(self._buffers) + \
            list(self._modules)


class Sequential(Module):
    """Modules applied in order. Example: ``nn.Sequential(nn.Linear(4, 8), nn.ReLU())``"""

    def __init__(self, *mods):
        super().__init__()
        if len(mods) == 1 and isinstance(mods[0], (dict, OrderedDict)):
            for n, m in mods[0].items():
                self.add_module(n, m)
        else:
            for i, m in enumerate(mods):
                self.add_module(str(i), m)

    def forward(self, x):
        for m in self._modules.values():
            x = m(x)
        return x

    def __getitem__(self, i):
        mods = list(self._modules.values())
        if isinstance(i, slice):
            return Sequential(*mods[i])
        return mods[i]

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())

    def append(self, m):
        self.add_module(str(len(self._modules)), m)
        return self


class ModuleList(Module):
    """A list of modules, registered. Example: ``nn.ModuleList([nn.Linear(2, 2)] * 3)``"""

    def __init__(self, mods=None):
        super().__init__()
        for m in mods or []:
            self.append(m)

    def append(self, m):
        self.add_module(str(len(self._modules)), m)
        return self

    def extend(self, mods):
        for m in mods:
            self.append(m)
        return self

    def __getitem__(self, i):
        mods = list(self._modules.values())
        if isinstance(i, slice):
            return ModuleList(mods[i])
        return mods[i]

    def __setitem__(self, i, m):
        key = list(self._modules)[i]
        self._modules[key] = m

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules.values())


class ModuleDict(Module):
    """A dict of modules, registered. Example: ``nn.ModuleDict({'a': nn.ReLU()})``"""

    def __init__(self, mods=None):
        super().__init__()
        for k, m in (mods or {}).items():
            self.add_module(k, m)

    def __getitem__(self, k):
        return self._modules[k]

    def __setitem__(self, k, m):
        self.add_module(k, m)

    def __delitem__(self, k):
        del self._modules[k]

    def __contains__(self, k):
        return k in self._modules

    def __len__(self):
        return len(self._modules)

    def __iter__(self):
        return iter(self._modules)

    def keys(self):
        return self._modules.keys()

    def values(self):
        return self._modules.values()

    def items(self):
        return self._modules.items()


def _as_parameter(p, where):
    if isinstance(p, Parameter):
        return p
    if isinstance(p, Tensor) or isinstance(p, np.ndarray):
        return Parameter(p._array if isinstance(p, Tensor) else p)
    raise TypeError(f"{where}: expected a Parameter, Tensor or array, got {type(p).__name__}")


class ParameterList(Module):
    """A list of parameters, registered under "0", "1", … (tensors and arrays are wrapped
    as Parameters), as PyTorch's. Example: ``nn.ParameterList([nn.Parameter(w) for w in ws])``
    """

    def __init__(self, values=None):
        super().__init__()
        for v in values or []:
            self.append(v)

    def append(self, value):
        self.register_parameter(str(len(self._parameters)),
                                _as_parameter(value, "ParameterList.append"))
        return self

    def extend(self, values):
        for v in values:
            self.append(v)
        return self

    def __getitem__(self, i):
        ps = list(self._parameters.values())
        if isinstance(i, slice):
            return ParameterList(ps[i])
        return ps[i]

    def __setitem__(self, i, value):
        key = list(self._parameters)[i]
        self._parameters[key] = _as_parameter(value, "ParameterList.__setitem__")

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters.values())

    def extra_repr(self):
        return "\n".join(f"({k}): Parameter of shape {tuple(p.shape)}"
                         for k, p in self._parameters.items())


class ParameterDict(Module):
    """A dict of parameters, registered under their keys (tensors and arrays are wrapped as
    Parameters). Example: ``nn.ParameterDict({'scale': nn.Parameter(np.ones(3))})``"""

    def __init__(self, values=None):
        super().__init__()
        for k, v in (values or {}).items():
            self[k] = v

    def __getitem__(self, k):
        return self._parameters[k]

    def __setitem__(self, k, value):
        self.register_parameter(str(k), _as_parameter(value, "ParameterDict.__setitem__"))

    def __delitem__(self, k):
        del self._parameters[k]

    def __contains__(self, k):
        return k in self._parameters

    def __len__(self):
        return len(self._parameters)

    def __iter__(self):
        return iter(self._parameters)

    def keys(self):
        return self._parameters.keys()

    def values(self):
        return self._parameters.values()

    def items(self):
        return self._parameters.items()

    def update(self, values):
        for k, v in dict(values).items():
            self[k] = v

    def extra_repr(self):
        return "\n".join(f"({k}): Parameter of shape {tuple(p.shape)}"
                         for k, p in self._parameters.items())
