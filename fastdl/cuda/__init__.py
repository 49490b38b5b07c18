"""``fastdl.cuda``: what portable scripts ask before choosing a device. fastdl runs on the
CPU only: ``is_available()`` is False, ``device_count()`` is 0, the seeding functions do
nothing, and anything that would need a GPU is a RuntimeError saying so.

Example::

    device = "cuda" if fastdl.cuda.is_available() else "cpu"   # "cpu"
"""
from __future__ import annotations


def _no_gpu(what):
    raise RuntimeError(f"fastdl.cuda.{what}: fastdl runs on the CPU only; no CUDA device is "
                       f"available")


def is_available() -> bool:
    """False: fastdl has no CUDA backend."""
    return False


def device_count() -> int:
    """0: there are no CUDA devices for fastdl."""
    return 0


def is_initialized() -> bool:
    return False


def manual_seed(seed) -> None:
    """No-op (there is no CUDA generator); seed with ``fastdl.manual_seed``."""


def manual_seed_all(seed) -> None:
    """No-op (there is no CUDA generator); seed with ``fastdl.manual_seed``."""


def synchronize(device=None) -> None:
    """No-op: CPU work is synchronous."""


def empty_cache() -> None:
    """No-op (no CUDA memory); ``fastdl.empty_cache`` frees the CPU allocator's cache."""


def is_bf16_supported(including_emulation: bool = True) -> bool:
    return False


def current_device():
    _no_gpu("current_device")


def set_device(device):
    _no_gpu("set_device")


def get_device_name(device=None):
    _no_gpu("get_device_name")


def get_device_properties(device=None):
    _no_gpu("get_device_properties")


def memory_allocated(device=None) -> int:
    return 0


def max_memory_allocated(device=None) -> int:
    return 0


def reset_peak_memory_stats(device=None) -> None:
    """No-op."""
