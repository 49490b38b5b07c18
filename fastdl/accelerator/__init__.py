"""``fastdl.accelerator``: torch's device-agnostic accelerator queries. fastdl runs on the
CPU only, so there is no accelerator: ``is_available()`` is False, ``current_accelerator()``
is None, ``device_count()`` is 0.

Example::

    dev = fastdl.accelerator.current_accelerator() if fastdl.accelerator.is_available() \\
        else "cpu"
"""
from __future__ import annotations


def is_available() -> bool:
    """False: fastdl has no accelerator backend."""
    return False


def current_accelerator(check_available: bool = False):
    """None: there is no accelerator."""
    return None


def device_count() -> int:
    """0."""
    return 0


def synchronize(device=None) -> None:
    """No-op."""
