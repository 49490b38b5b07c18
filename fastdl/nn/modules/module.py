"""``Module`` and ``Parameter``: the base of every layer, with PyTorch's API."""
from __future__ import annotations

import functools
import inspect
from collections import OrderedDict, namedtuple

import numpy as np

from ... import _device as _devmod
from ... import _dtype as _dt
from ...tensor import Tensor, _as_array, _canon_dtype, _check_memory_format
from ...utils import hooks as _hooks
from ...utils.hooks import (register_module_forward_hook,  # noqa: F401  (torch's place)
                            register_module_forward_pre_hook, register_module_full_backward_hook,
                            register_module_full_backward_pre_hook)

__all__ = ["Module", "Parameter", "Buffer", "Sequential", "ModuleList", "ModuleDict",
           "ParameterList", "ParameterDict"]


class _IncompatibleKeys(namedtuple("IncompatibleKeys", ["missing_keys", "unexpected_keys"])):
    """What ``load_state_dict`` returns: ``missing_keys`` and ``unexpected_keys`` lists."""

    def __repr__(self):
        if not self.missing_keys and not self.unexpected_keys:
            return "<All keys matched successfully>"
        return super().__repr__()

    __str__ = __repr__


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



class Buffer(Tensor):
    """A tensor that, assigned as a module attribute, registers itself as a buffer
    (``persistent=False`` keeps it out of the state dict), as ``torch.nn.Buffer``.
    Example: ``self.mean = fastdl.nn.Buffer(fastdl.zeros(3))``"""

    __slots__ = ("persistent",)

    def __init__(self, data=None, *, persistent=True):
        if data is None:
            data = np.empty((0,), np.float32)
        Tensor.__init__(self, data._array if isinstance(data, Tensor) else data)
        if isinstance(data, Tensor):
            self._array = data._array  # share the storage
        self.persistent = bool(persistent)


_FLOAT_NP = frozenset(d._np for d in _dt.ALL if d.is_floating_point)
_FLOAT32 = np.dtype(np.float32)


def _check_device(dev, name):
    _devmod.check(dev, name)
    return None


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

    def __init_subclass__(cls, **kwargs):
        """Layers whose constructor takes ``device=`` (torch's factory kwargs) get it checked
        here, once for all: the CPU passes (as None), anything else is the CPU-only
        RuntimeError."""
        super().__init_subclass__(**kwargs)
        init = cls.__dict__.get("__init__")
        if init is None or getattr(init, "_fastdl_device_checked", False):
            return
        try:
            params = inspect.signature(init).parameters
        except (TypeError, ValueError):  # pragma: no cover
            return
        if "device" not in params:
            return
        pos = list(params).index("device")
        name = cls.__name__

        @functools.wraps(init)
        def __init__(self, *args, **kw):
            if "device" in kw:
                kw["device"] = _check_device(kw["device"], name)
            elif len(args) >= pos:  # passed positionally (self is not in args)
                args = args[:pos - 1] + (_check_device(args[pos - 1], name),) + args[pos:]
            init(self, *args, **kw)

        __init__._fastdl_device_checked = True
        cls.__init__ = __init__

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
        if isinstance(value, Buffer):
            params.pop(name, None)
            mods.pop(name, None)
            d.pop(name, None)
            self.register_buffer(name, value, value.persistent)
        elif isinstance(value, Parameter):
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

    def _check_new_name(self, kind, name, store):
        # torch's rules for register_parameter/register_buffer names
        if not isinstance(name, str):
            raise TypeError(f"{kind} name should be a string. Got {type(name).__name__}")
        if "." in name:
            raise KeyError(f'{kind} name can\'t contain ".", got: {name}')
        if name == "":
            raise KeyError(f'{kind} name can\'t be empty string ""')
        if hasattr(self, name) and name not in store:
            raise KeyError(f"attribute '{name}' already exists")

    def register_parameter(self, name, param):
        """Register ``param`` (a Parameter or None) under ``name``: a string without "." that
        is no other attribute's name (KeyError otherwise, as in torch).
        Example: ``self.register_parameter('scale', nn.Parameter(fastdl.ones(3)))``"""
        if "_parameters" not in self.__dict__:
            raise AttributeError("cannot assign parameter before Module.__init__() call")
        self._check_new_name("parameter", name, self._parameters)
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: '{name}' must be a Parameter or None, got "
                            f"{type(param).__name__}")
        self._parameters[name] = param

    def register_buffer(self, name, tensor, persistent=True):
        """Register a non-learnable tensor (e.g. running statistics) kept in the state dict
        unless ``persistent=False``. ``name`` is a string without "." that is no other
        attribute's name (KeyError otherwise, as in torch).
        Example: ``self.register_buffer('mean', fastdl.zeros(3))``"""
        if "_buffers" not in self.__dict__:
            raise AttributeError("cannot assign buffer before Module.__init__() call")
        self._check_new_name("buffer", name, self._buffers)
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"register_buffer: '{name}' must be a Tensor or None, got "
                            f"{type(tensor).__name__}")
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name, module):
        """Register ``module`` (a Module or None) as the child ``name``, as
        ``self.<name> = module`` does. Example: ``net.add_module('fc', nn.Linear(2, 2))``"""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"{type(module).__name__} is not a Module subclass")
        if not isinstance(name, str):
            raise TypeError(f"module name should be a string. Got {type(name).__name__}")
        if "." in name or name == "":
            raise KeyError(f'module name can\'t contain ".", got: {name}' if name else
                           "module name can't be empty string \"\"")
        if hasattr(self, name) and name not in self._modules:
            raise KeyError(f"attribute '{name}' already exists")
        self._modules[name] = module

    def register_module(self, name, module):
        """Alias of ``add_module``."""
        self.add_module(name, module)

    def get_submodule(self, target):
        """The submodule at the dotted path ``target`` ('' is self); an unknown name is an
        AttributeError naming it. Example: ``net.get_submodule('encoder.0')``"""
        if target == "":
            return self
        mod = self
        for item in target.split("."):
            if not isinstance(mod, Module) or item not in mod._modules or \
                    mod._modules[item] is None:
                raise AttributeError(f"{type(mod).__name__} has no attribute `{item}`")
            mod = mod._modules[item]
        return mod

    def get_parameter(self, target):
        """The parameter at the dotted path ``target``. ``net.get_parameter('fc.weight')``"""
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._parameters:
            raise AttributeError(f"{type(mod).__name__} has no parameter `{name}`")
        return mod._parameters[name]

    def get_buffer(self, target):
        """The buffer at the dotted path ``target``. ``net.get_buffer('bn.running_mean')``"""
        mod_path, _, name = target.rpartition(".")
        mod = self.get_submodule(mod_path)
        if name not in mod._buffers:
            raise AttributeError(f"{type(mod).__name__} has no buffer `{name}`")
        return mod._buffers[name]

    # ---- calling --------------------------------------------------------------------------
    def forward(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    _has_hooks = False  # set on the instance once a forward/backward hook is registered

    def __call__(self, *args, **kwargs):
        if self._has_hooks or _hooks._any_global[0]:
            return _hooks.call_module(self, args, kwargs)
        return self.forward(*args, **kwargs)

    # ---- hooks (each returns a fastdl.utils.hooks.RemovableHandle) --------------------------
    def _hooks_for(self, name):
        object.__setattr__(self, "_has_hooks", True)
        return _hooks._hook_dict(self, name)

    def register_forward_pre_hook(self, hook, *, prepend=False, with_kwargs=False):
        """Run ``hook(module, args) -> None or new args`` before every ``forward`` (with
        ``with_kwargs``: ``hook(module, args, kwargs) -> None or (new_args, new_kwargs)``);
        a non-tuple return is wrapped into a 1-tuple. ``prepend`` puts it before the hooks
        already registered. Example: ``m.register_forward_pre_hook(lambda m, a: (a[0] * 2,))``
        """
        hooks = self._hooks_for("_forward_pre_hooks")
        kw = self._hooks_for("_forward_pre_hooks_with_kwargs")
        h = _hooks._add(hooks, hook, prepend, extra=(kw,))
        if with_kwargs:
            kw[h.id] = True
        return h

    def register_forward_hook(self, hook, *, prepend=False, with_kwargs=False,
                              always_call=False):
        """Run ``hook(module, args, output) -> None or new output`` after every ``forward``
        (with ``with_kwargs``: ``hook(module, args, kwargs, output)``); ``always_call`` runs it
        even if forward raised. Global hooks (``register_module_forward_hook``) run first.
        Example: ``m.register_forward_hook(lambda m, args, out: out.relu())``"""
        hooks = self._hooks_for("_forward_hooks")
        kw = self._hooks_for("_forward_hooks_with_kwargs")
        always = self._hooks_for("_forward_hooks_always_called")
        h = _hooks._add(hooks, hook, prepend, extra=(kw, always))
        if with_kwargs:
            kw[h.id] = True
        if always_call:
            always[h.id] = True
        return h

    def register_full_backward_pre_hook(self, hook, prepend=False):
        """Run ``hook(module, grad_output) -> None or new grad_output`` when the gradients of
        the module's outputs are ready (before those of its inputs are computed); a returned
        tuple replaces grad_output. Example:
        ``m.register_full_backward_pre_hook(lambda m, go: (go[0] * 0.5,))``"""
        return _hooks._add(self._hooks_for("_backward_pre_hooks"), hook, prepend)

    def register_full_backward_hook(self, hook, prepend=False):
        """Run ``hook(module, grad_input, grad_output) -> None or new grad_input`` once the
        gradients of the module's positional inputs are computed (one entry per positional
        argument, None for those that are not Tensors requiring grad); a returned tuple
        replaces grad_input. If no input requires grad it runs with grad_input all None when
        grad_output is ready (and warns, as PyTorch does).
        Example: ``m.register_full_backward_hook(lambda m, gi, go: print(go[0].shape))``"""
        return _hooks._add(self._hooks_for("_backward_hooks"), hook, prepend)

    def register_state_dict_pre_hook(self, hook):
        """Run ``hook(module, prefix, keep_vars)`` before ``state_dict`` reads this module.
        Example: ``m.register_state_dict_pre_hook(lambda m, prefix, keep: sync(m))``"""
        return _hooks._add(_hooks._hook_dict(self, "_state_dict_pre_hooks"), hook)

    def register_load_state_dict_post_hook(self, hook):
        """Run ``hook(module, incompatible_keys)`` after ``load_state_dict`` (on this module and
        each submodule that registered one); ``incompatible_keys`` has ``missing_keys`` and
        ``unexpected_keys`` lists the hook may edit in place before the strict check.
        Example: ``m.register_load_state_dict_post_hook(lambda m, k: k.missing_keys.clear())``
        """
        return _hooks._add(_hooks._hook_dict(self, "_load_state_dict_post_hooks"), hook)

    # ---- traversal ------------------------------------------------------------------------
    def named_modules(self, memo=None, prefix="", remove_duplicate=True):
        """``(dotted name, module)`` for self (named ``prefix``) and every submodule, depth
        first, each module once unless ``remove_duplicate=False``.
        Example: ``dict(net.named_modules())``"""
        if not remove_duplicate:
            yield from self._named_modules_all(prefix)
            return
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

    def _named_modules_all(self, prefix):
        yield prefix, self
        for n, c in self._modules.items():
            if c is not None:
                yield from c._named_modules_all(prefix + ("." if prefix else "") + n)

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

    def to(self, *args, **kwargs):
        """Move and/or cast the parameters and buffers in place, as ``torch.nn.Module.to``:
        ``to(device)``, ``to(dtype)``, ``to(device, dtype)``, ``to(tensor)``, keywords
        ``device=``, ``dtype=``, ``non_blocking=``, ``memory_format=`` (4-D and 5-D
        parameters and buffers laid out in that format, e.g. ``fastdl.channels_last``). Only floating
        parameters and buffers take ``dtype`` (which must be floating); the device must be
        the CPU (anything else is a RuntimeError). Example: ``model.to("cpu", fastdl.float64)``
        """
        dtype = kwargs.pop("dtype", None)
        dev = kwargs.pop("device", None)
        kwargs.pop("non_blocking", None)
        mf = kwargs.pop("memory_format", None)
        _check_memory_format(mf, "Module.to")
        if kwargs:
            raise TypeError(f"to() got an unexpected keyword argument '{next(iter(kwargs))}'")
        for a in args:
            if isinstance(a, Tensor):
                dtype = a.dtype
            elif isinstance(a, bool):
                continue  # non_blocking
            elif _devmod.is_device_like(a) or isinstance(a, int):
                dev = a
            elif a is not None:
                dtype = a
        if dev is not None:
            _devmod.check(dev, "Module.to")
        if mf is not None:
            self._to_memory_format(mf)
        if dtype is None:
            return self
        dt = _canon_dtype(dtype, "Module.to")
        if dt not in _FLOAT_NP:
            raise TypeError(f"nn.Module.to only accepts floating point or complex dtypes, but "
                            f"got desired dtype={_dt.FROM_NP[dt]!r}")
        return self._cast_floating(dt)

    def _to_memory_format(self, mf):
        """Lay out every 4-D and 5-D parameter and buffer in memory format ``mf`` in place
        (as torch's ``Module.to(memory_format=...)``: a rank that the format does not fit is
        torch's RuntimeError; other ranks stay as they are)."""
        from ...tensor import _in_format
        for m in self.modules():
            for store in (m._parameters, m._buffers):
                for p in store.values():
                    if p is not None and p._array.ndim in (4, 5):
                        arr = _in_format(p._array, mf)
                        if arr is not p._array:
                            p._array = arr
                            p._vc[0] += 1
        return self

    def _cast_floating(self, dt):
        for m in self.modules():
            for n, p in m._parameters.items():
                if p is not None and p._array.dtype in _FLOAT_NP and p._array.dtype != dt:
                    p._array = p._array.astype(dt)
                    p._vc[0] += 1
                    if p.grad is not None:
                        p.grad = Tensor._make(p.grad._array.astype(dt))
            for n, b in m._buffers.items():
                if b is not None and b._array.dtype in _FLOAT_NP and b._array.dtype != dt:
                    b._array = b._array.astype(dt)
                    b._vc[0] += 1
        return self

    def cpu(self):
        """Self (fastdl runs on the CPU)."""
        return self

    def cuda(self, device=None):
        """Always a RuntimeError: fastdl runs on the CPU only."""
        _devmod._refuse("cuda", "Module.cuda")

    def type(self, dst_type):
        """Cast floating parameters and buffers to ``dst_type``."""
        return self._cast_floating(_canon_dtype(dst_type, "Module.type"))

    def float(self):
        """Floating parameters and buffers to float32."""
        return self._cast_floating(_FLOAT32)

    def double(self):
        """Floating parameters and buffers to float64."""
        return self._cast_floating(np.dtype(np.float64))

    def half(self):
        """Floating parameters and buffers to float16 (storage; kernel-backed layers need
        float32/float64 to run, see ``fastdl.dtype``)."""
        return self._cast_floating(np.dtype(np.float16))

    def bfloat16(self):
        """Floating parameters and buffers to bfloat16 (storage, as ``half``)."""
        return self._cast_floating(_dt.bfloat16._np)

    # ---- state ----------------------------------------------------------------------------
    def state_dict(self, destination=None, prefix="", keep_vars=False):
        """Parameters and persistent buffers by dotted name, as PyTorch names them.
        Values are detached Tensors sharing the module's storage."""
        out = OrderedDict() if destination is None else destination
        for p, m in self.named_modules(prefix=prefix.rstrip(".")):
            pre = p + "." if p else ""
            for hook in tuple(m.__dict__.get("_state_dict_pre_hooks", {}).values()):
                hook(m, pre, keep_vars)
            for n, t in m._parameters.items():
                if t is not None:
                    out[pre + n] = t if keep_vars else t.detach()
            for n, t in m._buffers.items():
                if t is not None and n not in m._non_persistent:
                    out[pre + n] = t if keep_vars else t.detach()
        return out

    def load_state_dict(self, state_dict, strict=True, assign=False):
        """Copy values into parameters and buffers, as torch: returns the named tuple
        ``(missing_keys, unexpected_keys)``; with ``strict`` a missing or unexpected key is a
        RuntimeError listing them, and a shape mismatch always is (naming the key and both
        shapes), raised before anything is copied. ``assign=True`` takes the given tensors'
        storage instead of copying. Example: ``model.load_state_dict(fastdl.load(path))``"""
        own = self.state_dict(keep_vars=True)
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        post = [(m, h) for m in self.modules()
                for h in m.__dict__.get("_load_state_dict_post_hooks", {}).values()]

        def key_errors(missing, unexpected):
            errs = []
            if unexpected:
                errs.append("Unexpected key(s) in state_dict: " +
                            ", ".join(f'"{k}"' for k in unexpected) + ". ")
            if missing:
                errs.append("Missing key(s) in state_dict: " +
                            ", ".join(f'"{k}"' for k in missing) + ". ")
            return errs

        errors = key_errors(missing, unexpected) if strict and not post else []
        arrays = {}
        for k, t in own.items():
            if k not in state_dict:
                continue
            v = state_dict[k]
            arr = v._array if isinstance(v, Tensor) else np.asarray(v)
            if tuple(arr.shape) != tuple(t._array.shape):
                errors.append(f"size mismatch for {k}: copying a param with shape "
                              f"fastdl.Size({list(arr.shape)}) from checkpoint, the shape in "
                              f"current model is fastdl.Size({list(t._array.shape)}).")
            arrays[k] = arr
        if errors:
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:"
                               f"\n\t" + "\n\t".join(errors))
        for k, arr in arrays.items():
            t = own[k]
            if assign:
                same = arr.dtype == t._array.dtype and arr.flags.c_contiguous
                t._array = arr if same else np.array(arr, dtype=t._array.dtype, order="C")
            else:
                np.copyto(t._array, arr, casting="unsafe")
            t._vc[0] += 1
        keys = _IncompatibleKeys(missing, unexpected)
        for m, hook in post:  # may edit keys.missing_keys / unexpected_keys in place
            hook(m, keys)
        if strict and post and (keys.missing_keys or keys.unexpected_keys):
            raise RuntimeError(f"Error(s) in loading state_dict for {type(self).__name__}:"
                               f"\n\t" + "\n\t".join(key_errors(keys.missing_keys,
                                                                  keys.unexpected_keys)))
        return keys

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
        """Each module on the output of the one before. A module whose class has
        ``_fuse_next(self, nxt, x)`` (BatchNorm before ReLU / ReLU6 / Hardtanh) may compute
        itself and the next module in one pass; it returns None when it does not."""
        mods = tuple(self._modules.values())
        i, n = 0, len(mods)
        while i < n:
            m = mods[i]
            if i + 1 < n:
                f = getattr(type(m), "_fuse_next", None)
                if f is not None:
                    y = f(m, mods[i + 1], x)
                    if y is not None:
                        x = y
                        i += 2
                        continue
            x = m(x)
            i += 1
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
