"""``fastdl.device``: where a tensor lives. fastdl runs on the CPU only, so the one device is
``cpu``; the names of accelerators ("cuda", "mps", "xpu", ...) are understood and refused
with a RuntimeError that says so, wherever a device is accepted (factories, ``Tensor.to``,
``Module.to``, layer constructors).

Example::

    dev = fastdl.device("cuda" if fastdl.cuda.is_available() else "cpu")
    x = fastdl.zeros(3, device=dev)      # device(type='cpu')
"""
from __future__ import annotations

_ACCELERATORS = ("cuda", "mps", "xpu", "xla", "hip", "meta", "vulkan", "ipu", "hpu", "mtia",
                 "privateuseone", "opengl", "opencl", "ideep", "mkldnn", "fpga", "ve",
                 "lazy", "ort", "maia")


def _refuse(kind, where):
    raise RuntimeError(f"{where}: fastdl runs on the CPU only; device '{kind}' is not "
                       f"available (use 'cpu', or pick the device with "
                       f"fastdl.cuda.is_available())")


class device:
    """A device, as ``torch.device``: ``device("cpu")``, ``device("cpu", 0)``,
    ``device("cpu:0")``, ``device(other_device)``; attributes ``type`` and ``index``.
    Any device but the CPU is a RuntimeError, since fastdl runs on the CPU only.
    Example: ``fastdl.device("cpu").type == "cpu"``"""

    __slots__ = ("type", "index")

    def __init__(self, type, index=None):  # noqa: A002
        if isinstance(type, device):
            if index is not None:
                raise ValueError("device: pass an index only with a device type string")
            self.type, self.index = type.type, type.index
            return
        if isinstance(type, int) and not isinstance(type, bool):
            _refuse(f"cuda:{type}", "device")  # torch reads a bare ordinal as an accelerator
        if not isinstance(type, str):
            raise TypeError(f"device: expected a string or a device, got "
                            f"{type.__class__.__name__}")
        kind, _, idx = type.partition(":")
        if idx:
            if index is not None:
                raise RuntimeError(f"device: type '{type}' already has an index")
            if not idx.isdigit():
                raise RuntimeError(f"Invalid device string: '{type}'")
            index = int(idx)
        if kind != "cpu":
            if kind in _ACCELERATORS:
                _refuse(kind, "device")
            raise RuntimeError(f"Expected one of cpu, cuda, mps, xpu, ... device type at start "
                               f"of device string: {type}")
        if index is not None and (not isinstance(index, int) or index < 0):
            raise RuntimeError(f"device: index must be a non-negative int, got {index!r}")
        self.type, self.index = "cpu", index

    def __repr__(self):
        if self.index is None:
            return f"device(type='{self.type}')"
        return f"device(type='{self.type}', index={self.index})"

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __eq__(self, other):
        if isinstance(other, str):
            try:
                other = device(other)
            except RuntimeError:
                return False
        if not isinstance(other, device):
            return NotImplemented
        return self.type == other.type and self.index == other.index

    def __hash__(self):
        return hash((self.type, self.index))

    def __reduce__(self):
        return (device, (self.type, self.index))

    def __enter__(self):  # ``with fastdl.device("cpu"):`` is accepted and changes nothing
        return self

    def __exit__(self, *exc):
        return False


CPU = device("cpu")


def check(dev, where):
    """Accept ``dev`` (None, "cpu", "cpu:0", a cpu ``device``) or raise the CPU-only
    RuntimeError naming ``where``. Returns the ``device``."""
    if dev is None or dev is CPU or dev == "cpu":
        return CPU
    if isinstance(dev, device):
        return dev
    try:
        return device(dev)
    except RuntimeError as e:
        raise RuntimeError(f"{where}: {e}") from None


def is_device_like(x):
    """True for a device or a string/int naming one (used by ``Tensor.to``'s overloads)."""
    if isinstance(x, device):
        return True
    if isinstance(x, str):
        kind = x.partition(":")[0]
        return kind == "cpu" or kind in _ACCELERATORS
    return False
