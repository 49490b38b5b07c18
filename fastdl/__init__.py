"""fastdl: a deep-learning layer library for the CPU with PyTorch's API and C++ kernels.

Example::

    import fastdl
    x = fastdl.randn(4, 3, requires_grad=True)
    w = fastdl.randn(3, 2, requires_grad=True)
    loss = (x @ w).sum()
    loss.backward()
"""
from __future__ import annotations

import builtins as _builtins
import os as _os

from . import _C
from .autograd import Function, enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .autograd import inference_mode, is_inference_mode_enabled
from .linalg import bmm, matmul, mm
from .random import manual_seed
from .io import load, save
from ._device import device
from ._legacy import (BFloat16Tensor, BoolTensor, ByteTensor, CharTensor, DoubleTensor,
                      FloatTensor, HalfTensor, IntTensor, LongTensor, ShortTensor)
from ._print import set_printoptions
from ._size import Size
from ._dtype import (bfloat16, bool, can_cast, double, dtype, finfo, float, float16, float32,
                     float64, get_default_dtype, half, iinfo, int, int8, int16, int32, int64,
                     long, promote_types, result_type, set_default_dtype, short, uint8)
from .tensor import (Tensor, cat, channels_last, channels_last_3d, concatenate,
                     contiguous_format, memory_format, preserve_format, stack, where)
from .tensor import layout, sparse_coo, strided
from .ops.factories import (arange, as_tensor, empty, empty_like, eye, from_numpy, full,
                            full_like, linspace, logspace, ones, ones_like, rand, rand_like,
                            randint, randn, randn_like, randperm, tensor, zeros, zeros_like)

__version__ = "0.1.0"

get_num_threads = _C.get_num_threads


def set_num_threads(n: int) -> None:
    """Number of threads every kernel uses (default: the machine's cores, or
    FASTDL_NUM_THREADS). ``n < 1`` is a ValueError. Example: ``fastdl.set_num_threads(1)``"""
    if isinstance(n, _builtins.bool) or not isinstance(n, _builtins.int):
        raise TypeError(f"set_num_threads: n must be an int, got {type(n).__name__}")
    _C.set_num_threads(n)


def memory_stats() -> dict:
    """Caching allocator statistics in bytes: ``in_use``, ``cached``, ``peak``, ``limit``,
    and counts ``n_alloc``, ``n_reused``, ``n_system``.
    Example: ``fastdl.memory_stats()['cached']``"""
    return dict(_C.memory_stats())


def empty_cache() -> None:
    """Return every cached (free) buffer of the allocator to the system."""
    _C.empty_cache()


def set_cache_limit(nbytes: int) -> None:
    """Bound the bytes the allocator keeps cached (also env FASTDL_CACHE_LIMIT)."""
    _C.set_cache_limit(_builtins.int(nbytes))


def get_isa() -> str:
    """The instruction-set path the kernels use: 'generic', 'avx2' or 'avx512'."""
    return _C.get_isa()


def supported_isas() -> list:
    """The ISA paths this machine and build can run."""
    return list(_C.supported_isas())


def set_isa(name: str) -> None:
    """Force an ISA path at run time (as FASTDL_ISA does at import); an unsupported or
    unknown name is a ValueError. Example: ``fastdl.set_isa('generic')``"""
    _C.set_isa(name)


def show_config() -> str:
    """Print (and return) the version, ISA path, thread count and compiler."""
    lines = [
        f"fastdl {__version__}",
        f"  isa: {_C.get_isa()} (detected: {_C.detect_isa()}, "
        f"supported: {', '.join(_C.supported_isas())})",
        f"  threads: {_C.get_num_threads()}",
        f"  compiler: {_C.compiler}",
        f"  cache limit: {_C.memory_stats()['limit']} bytes",
    ]
    text = "\n".join(lines)
    print(text)
    return text


from . import accelerator, backends, cuda, return_types  # noqa: E402,F401
from . import autograd, nn, optim, data, testing, utils  # noqa: E402,F401
from . import func  # noqa: E402,F401
from . import ops as _ops  # noqa: E402
from .optimize import optimize_for_inference  # noqa: E402,F401

_ops.table.install(Tensor, globals())

del _os
