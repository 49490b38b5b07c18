"""``fastdl.nn.utils.parametrize``: express a module's tensor as a function of other tensors.

``register_parametrization(module, "weight", P)`` moves the Parameter ``module.weight`` to
``module.parametrizations.weight.original`` (to ``original0``, ``original1``, … when
``P.right_inverse`` returns a tuple) and turns ``module.weight`` into a property that
evaluates ``P(original)`` on every access (chained parametrizations compose left to
right). Assigning ``module.weight = X`` stores ``P.right_inverse(X)``. The state-dict keys
are PyTorch's (``parametrizations.weight.original``, ``parametrizations.weight.0.<buffer>``),
so checkpoints move both ways. ``cached()`` evaluates each parametrized tensor once inside
its block.

Example::

    class Symmetric(nn.Module):
        def forward(self, X):
            return X.triu() + X.triu(1).transpose(-1, -2)

    parametrize.register_parametrization(layer, "weight", Symmetric())
"""
from __future__ import annotations

import contextlib

from ...autograd.function import no_grad
from ...tensor import Tensor
from ..modules.module import Module, ModuleDict, ModuleList, Parameter

__all__ = ["register_parametrization", "remove_parametrizations", "is_parametrized", "cached",
           "ParametrizationList", "type_before_parametrizations"]

_cache_depth = 0
_cache: dict = {}


@contextlib.contextmanager
def cached():
    """Inside this block each parametrized tensor is computed once, at its first access,
    and reused (e.g. a recurrent layer reading its weight at every step).
    Example: ``with parametrize.cached(): out = rnn(x)``"""
    global _cache_depth
    _cache_depth += 1
    try:
        yield
    finally:
        _cache_depth -= 1
        if not _cache_depth:
            _cache.clear()


def _set_data(param, value):
    """Give ``param`` the values (and shape, dtype) of ``value`` in place, keeping the object
    (optimizers hold it)."""
    arr = value._array if isinstance(value, Tensor) else value
    param._array = arr.copy()
    param._vc[0] += 1


class ParametrizationList(ModuleList):
    """The parametrizations of one tensor, applied in order, and the unconstrained
    ``original`` (or ``original0``, ``original1``, …) they map from.

    Example: ``layer.parametrizations.weight.original`` is the stored Parameter.
    """

    def __init__(self, modules, original, unsafe=False):
        super().__init__(modules)
        self.unsafe = unsafe
        first = modules[0]
        with no_grad():
            new = first.right_inverse(original) if hasattr(first, "right_inverse") else original
        if isinstance(new, Tensor):
            self.is_tensor = True
            self.ntensors = 1
            if not unsafe and (tuple(new.shape) != tuple(original.shape) or
                               new.dtype != original.dtype):
                raise ValueError(f"When `right_inverse` outputs one tensor, it may not change "
                                 f"the dtype or shape; got {tuple(new.shape)} {new.dtype} for "
                                 f"{tuple(original.shape)} {original.dtype}")
            if isinstance(original, Parameter):
                if new is not original:
                    _set_data(original, new)
                self.original = original
            else:
                self.original = Parameter(new.detach()._array.copy(), requires_grad=False)
        else:
            self.is_tensor = False
            self.ntensors = len(new)
            for i, t in enumerate(new):
                p = Parameter(t.detach()._array.copy(),
                              requires_grad=bool(getattr(original, "requires_grad", True)))
                setattr(self, f"original{i}", p)

    def right_inverse(self, value):
        """Store ``value``: run the right inverses in reverse order into the originals."""
        with no_grad():
            for m in reversed(list(self)[1:] if len(self) > 1 else []):
                if hasattr(m, "right_inverse"):
                    value = m.right_inverse(value)
            m0 = self[0]
            new = m0.right_inverse(value) if hasattr(m0, "right_inverse") else value
            if self.is_tensor:
                if not isinstance(new, Tensor):
                    raise ValueError(f"`right_inverse` should return a tensor, got "
                                     f"{type(new).__name__}")
                _set_data(self.original, new)
            else:
                if len(new) != self.ntensors:
                    raise ValueError(f"`right_inverse` must return a sequence of "
                                     f"{self.ntensors} tensors, got {len(new)}")
                for i, t in enumerate(new):
                    _set_data(getattr(self, f"original{i}"), t)

    def forward(self):
        if self.is_tensor:
            x = self[0](self.original)
        else:
            x = self[0](*(getattr(self, f"original{i}") for i in range(self.ntensors)))
        for m in list(self)[1:]:
            x = m(x)
        return x


def _compute(module, name):
    if _cache_depth:
        key = (id(module), name)
        if key not in _cache:
            _cache[key] = module.parametrizations[name]()
        return _cache[key]
    return module.parametrizations[name]()


def _inject_class(module):
    """Swap the module's class for a subclass that can carry properties (once)."""
    cls = type(module)
    if getattr(cls, "_is_parametrized_class", False):
        return

    def __setattr__(self, name, value):
        pz = self.__dict__["_modules"].get("parametrizations")
        if pz is not None and name in pz._modules:
            pz[name].right_inverse(value)
            return
        cls.__setattr__(self, name, value)

    def __getstate__(self):
        raise RuntimeError("Serialization of parametrized modules is only supported through "
                           "state_dict().")

    new = type(f"Parametrized{cls.__name__}", (cls,),
               {"_is_parametrized_class": True, "_original_class": cls,
                "__setattr__": __setattr__, "__getstate__": __getstate__})
    object.__setattr__(module, "__class__", new)


def _inject_property(module, name):
    prop = property(lambda self: _compute(self, name),
                    lambda self, v: self.parametrizations[name].right_inverse(v))
    setattr(type(module), name, prop)


def register_parametrization(module, tensor_name, parametrization, *, unsafe=False):
    """Parametrize ``module.<tensor_name>`` by the Module ``parametrization`` (see the
    module docstring). A second registration on the same tensor appends to its chain.
    Returns ``module``. Example: ``register_parametrization(lin, "weight", Symmetric())``"""
    if not isinstance(parametrization, Module):
        raise TypeError(f"register_parametrization: parametrization must be a Module, got "
                        f"{type(parametrization).__name__}")
    if is_parametrized(module, tensor_name):
        plist = module.parametrizations[tensor_name]
        if not unsafe:
            Y = getattr(module, tensor_name)
            X = parametrization(Y)
            if not isinstance(X, Tensor):
                raise ValueError(f"A parametrization must return a tensor. Got "
                                 f"{type(X).__name__}.")
            if tuple(X.shape) != tuple(Y.shape) or X.dtype != Y.dtype:
                raise ValueError(f"Registering a parametrization may not change the shape or "
                                 f"dtype of the tensor: {tuple(Y.shape)} {Y.dtype} -> "
                                 f"{tuple(X.shape)} {X.dtype}")
        plist.append(parametrization)
        return module
    if tensor_name in module._buffers or tensor_name in module._parameters:
        original = getattr(module, tensor_name)
    else:
        raise ValueError(f"Module '{type(module).__name__}' does not have a parameter, a "
                         f"buffer, or a parametrized element with name '{tensor_name}'")
    if original is None:
        raise ValueError(f"register_parametrization: '{tensor_name}' is None")
    plist = ParametrizationList([parametrization], original, unsafe=unsafe)
    if not unsafe:
        Z = plist()
        if tuple(Z.shape) != tuple(original.shape) or Z.dtype != original.dtype:
            raise ValueError(f"Registering a parametrization may not change the shape or dtype "
                             f"of the tensor: {tuple(original.shape)} {original.dtype} -> "
                             f"{tuple(Z.shape)} {Z.dtype}")
    module._parameters.pop(tensor_name, None)
    module._buffers.pop(tensor_name, None)
    if not is_parametrized(module):
        _inject_class(module)
        module._modules["parametrizations"] = ModuleDict()
    module.parametrizations._modules[tensor_name] = plist
    _inject_property(module, tensor_name)
    return module


def is_parametrized(module, tensor_name=None):
    """True if ``module`` has parametrizations (on ``tensor_name``, when given).
    Example: ``parametrize.is_parametrized(layer, "weight")``"""
    pz = module.__dict__.get("_modules", {}).get("parametrizations")
    if pz is None or not isinstance(pz, ModuleDict):
        return False
    return len(pz) > 0 if tensor_name is None else tensor_name in pz._modules


def remove_parametrizations(module, tensor_name, leave_parametrized=True):
    """Undo ``register_parametrization`` on ``tensor_name``: the tensor becomes a plain
    Parameter again holding its current parametrized value (``leave_parametrized=True``)
    or the stored original. Returns ``module``.
    Example: ``parametrize.remove_parametrizations(layer, "weight")``"""
    if not is_parametrized(module, tensor_name):
        raise ValueError(f"Module {type(module).__name__} does not have a parametrization on "
                         f"{tensor_name}")
    plist = module.parametrizations[tensor_name]
    if plist.is_tensor:
        original = plist.original
        if leave_parametrized:
            with no_grad():
                t = getattr(module, tensor_name)
            _set_data(original, t)
    else:
        if not leave_parametrized:
            raise ValueError("Cannot leave unparametrized (`leave_parametrized=False`) a tensor "
                             "that is parametrized in terms of a sequence of tensors.")
        with no_grad():
            t = getattr(module, tensor_name)
        original = Parameter(t.detach()._array.copy())
    del module.parametrizations._modules[tensor_name]
    delattr(type(module), tensor_name)
    module._parameters[tensor_name] = original if isinstance(original, Parameter) else \
        Parameter(original._array)
    if not is_parametrized(module):
        del module._modules["parametrizations"]
        object.__setattr__(module, "__class__", type(module)._original_class)
    return module


def type_before_parametrizations(module):
    """The module's class before parametrizations swapped it.
    Example: ``type_before_parametrizations(layer) is nn.Linear``"""
    cls = type(module)
    return cls._original_class if getattr(cls, "_is_parametrized_class", False) else cls
