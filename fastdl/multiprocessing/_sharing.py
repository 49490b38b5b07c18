"""Shared-memory storage for Tensors, and how Tensors pickle.

``Tensor.share_memory_()`` moves a tensor's data into a shared mapping: an anonymous
memory file (``memfd_create`` on Linux; a file in the temp folder, unlinked at once,
elsewhere) mapped ``MAP_SHARED``. A child started by ``fork`` shares the mapping; to any
other process the tensor travels as a duplicated file descriptor
(``multiprocessing.reduction.DupFd``) when sent through ``fastdl.multiprocessing`` queues,
pipes or process arguments, and the receiver maps the same pages: writes on either side are
seen by the other (Hogwild-style training).

Plain pickling (``pickle.dumps``, ``copy.deepcopy``) copies the data: a Tensor (any subclass;
``Tensor.__reduce_ex__`` is registered in the op table) pickles as
its array's bytes, dtype string, shape and ``requires_grad`` and is rebuilt with NumPy's
canonical dtype objects, so the kernels accept it.
"""
from __future__ import annotations

import mmap
import os
import tempfile
import weakref

import numpy as np

from ..ops.table import register
from ..tensor import Tensor

_FDS = {}  # id(mmap) -> fd of a shared mapping this process holds


def _new_shared(nbytes):
    size = max(int(nbytes), 1)
    if hasattr(os, "memfd_create"):
        fd = os.memfd_create("fastdl-tensor", getattr(os, "MFD_CLOEXEC", 0))
    else:  # pragma: no cover - non-Linux
        fd, path = tempfile.mkstemp(prefix="fastdl-tensor-")
        os.unlink(path)
    try:
        os.ftruncate(fd, size)
        mm = mmap.mmap(fd, size)
    except BaseException:
        os.close(fd)
        raise
    _track(mm, fd)
    return mm


def _track(mm, fd):
    _FDS[id(mm)] = fd
    weakref.finalize(mm, _forget, id(mm), fd)


def _forget(key, fd):
    _FDS.pop(key, None)
    try:
        os.close(fd)
    except OSError:
        pass


def _root(arr):
    base = arr
    while isinstance(base, np.ndarray) and base.base is not None:
        base = base.base
    if isinstance(base, memoryview):
        base = base.obj
    return base


def shared_fd(arr):
    """(fd, byte offset) when ``arr`` lives in a shared mapping of this process, else None."""
    base = _root(arr)
    if not isinstance(base, mmap.mmap) or id(base) not in _FDS:
        return None
    start = np.frombuffer(base, np.uint8, count=0).__array_interface__["data"][0]
    return _FDS[id(base)], arr.__array_interface__["data"][0] - start


@register(function=False)
def share_memory_(self):
    """Move this tensor's data into shared memory (in place; a no-op when it is already
    there) and return it. Processes that receive the tensor through
    ``fastdl.multiprocessing`` (or are forked after this call) see the same memory.

    Example: ``w = fastdl.zeros(10).share_memory_()``
    """
    from . import _init_reductions
    _init_reductions()  # subclasses defined after import (nn.Parameter) travel shared too
    if shared_fd(self._array) is not None:
        return self
    a = self._array
    mm = _new_shared(a.nbytes)
    new = np.frombuffer(mm, dtype=a.dtype, count=a.size).reshape(a.shape)
    new[...] = a
    self._array = new
    if self.grad is not None and shared_fd(self.grad._array) is None:
        self.grad.share_memory_()
    return self


@register(function=False)
def is_shared(self):
    """Whether this tensor's data lives in shared memory (``share_memory_``).
    Example: ``fastdl.zeros(2).share_memory_().is_shared()  # True``"""
    return shared_fd(self._array) is not None


# ---- plain pickling (copies) -------------------------------------------------------------
def _rebuild_tensor(cls, data, dtype, shape, requires_grad):
    arr = np.frombuffer(data, dtype=np.dtype(dtype)).reshape(shape).copy()
    return _make(cls, arr, requires_grad)


def _make(cls, arr, requires_grad):
    if cls is Tensor:
        return Tensor._make(arr, requires_grad=requires_grad)
    t = cls.__new__(cls)
    t._array, t.grad, t._node, t._out_idx, t._vc = arr, None, None, 0, [0]
    t.requires_grad = requires_grad
    return t


@register(name="__reduce_ex__", function=False)
def _reduce_ex(self, protocol=2):
    """Pickle support (any Tensor subclass): the array's bytes, dtype string, shape and
    requires_grad; rebuilt with NumPy's canonical dtype objects."""
    a = np.asarray(self._array, order="C")  # (ascontiguousarray makes a 0-d array 1-d)
    return _rebuild_tensor, (type(self), a.tobytes(), a.dtype.str, a.shape,
                             bool(self.requires_grad))


# ---- pickling across processes (shared) ---------------------------------------------------
def _rebuild_shared(cls, dupfd, nbytes, offset, dtype, shape, requires_grad):
    fd = dupfd.detach()
    try:
        mm = mmap.mmap(fd, max(nbytes, 1))
    except BaseException:
        os.close(fd)
        raise
    _track(mm, fd)
    dt = np.dtype(dtype)
    n = 1
    for s in shape:
        n *= s
    arr = np.frombuffer(mm, dtype=dt, count=n, offset=offset).reshape(shape)
    return _make(cls, arr, requires_grad)


def reduce_tensor_shared(t):
    """ForkingPickler reducer: share the tensor's memory, send a duplicated descriptor."""
    from multiprocessing.reduction import DupFd
    if not t._array.flags.c_contiguous:
        t._array = np.ascontiguousarray(t._array)
    t.share_memory_()
    fd, offset = shared_fd(t._array)
    base = _root(t._array)
    return _rebuild_shared, (type(t), DupFd(fd), len(base), offset, t._array.dtype.str,
                             t._array.shape, bool(t.requires_grad))
