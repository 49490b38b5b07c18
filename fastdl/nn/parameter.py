"""``fastdl.nn.parameter``: PyTorch's module path for the parameter classes —
``Parameter``, ``Buffer``, the lazy modules' ``UninitializedParameter`` /
``UninitializedBuffer``, and ``is_lazy``.

Example: ``from fastdl.nn.parameter import Parameter; p = Parameter(fastdl.zeros(3))``
"""
from .modules.lazy import UninitializedBuffer, UninitializedParameter
from .modules.module import Buffer, Parameter

__all__ = ["Parameter", "Buffer", "UninitializedParameter", "UninitializedBuffer", "is_lazy"]


def is_lazy(param):
    """True when ``param`` is an ``UninitializedParameter`` or ``UninitializedBuffer`` (a lazy
    module's placeholder, shaped on the first forward).

    Example: ``is_lazy(nn.LazyLinear(3).weight) is True``
    """
    return isinstance(param, (UninitializedParameter, UninitializedBuffer))
