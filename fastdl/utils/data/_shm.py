"""How a DataLoader worker hands a batch to the main process without pickling its arrays.

In a worker, ``default_collate`` stacks every batch array straight into a fresh POSIX
shared-memory segment (a file in ``/dev/shm``, space reserved with ``posix_fallocate`` so a
full ``/dev/shm`` is an error, not a SIGBUS). The batch is then pickled with ``dumps``,
whose pickler replaces every large array (and the array of every Tensor) by a small handle:
the segment's name, dtype, shape and offset; an array that is not already in a segment is
copied into a new one. The main process unpickles with ``loads``: each handle maps its
segment, unlinks its name at once (the mapping lives until the last array using it is
freed) and becomes a NumPy array over the mapping, so the big data is written once, by the
worker, and never copied through the pipe.

Segment names carry a per-iterator prefix (``fdl<pid>_<token>_<worker>_<n>``), so the main
process can remove everything a crashed worker left behind (``unlink_prefix``). Where
``/dev/shm`` does not exist, arrays are pickled as usual.
"""
from __future__ import annotations

import glob
import io
import mmap
import os
import pickle

import numpy as np

from ...tensor import Tensor

_DIR = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
MIN_BYTES = 1 << 14  # smaller arrays are cheaper to pickle than to map
# map every page at once (one syscall) instead of one page fault per 4 KiB page
_FLAGS = mmap.MAP_SHARED | getattr(mmap, "MAP_POPULATE", 0)


class SegmentAllocator:
    """Worker side: ``alloc(shape, dtype)`` returns an array living in a new segment."""

    def __init__(self, prefix):
        self.prefix = prefix
        self.count = 0
        self.owned = {}  # id(mmap) -> (name, mmap)
        self.exported = set()

    def alloc(self, shape, dtype):
        dtype = np.dtype(dtype)
        n = 1
        for s in shape:
            n *= int(s)
        nbytes = n * dtype.itemsize
        if _DIR is None or nbytes < MIN_BYTES:
            return np.empty(shape, dtype)
        mm, name = self._segment(nbytes)
        return np.frombuffer(mm, dtype=dtype, count=n).reshape(shape)

    def _segment(self, nbytes):
        name = f"{self.prefix}_{self.count}"
        self.count += 1
        path = os.path.join(_DIR, name)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            try:
                os.posix_fallocate(fd, 0, nbytes)
            except OSError as e:
                os.unlink(path)
                raise RuntimeError(f"DataLoader worker: cannot reserve {nbytes} bytes of "
                                   f"shared memory in {_DIR} for a batch ({e}); free space "
                                   f"there or lower batch_size / prefetch_factor") from None
            mm = mmap.mmap(fd, nbytes, flags=_FLAGS)
        finally:
            os.close(fd)
        self.owned[id(mm)] = (name, mm)
        return mm, name

    def handle(self, arr):
        """(name, offset) of ``arr`` when it lives in one of this worker's segments and is
        C-contiguous, else None."""
        if not arr.flags.c_contiguous:
            return None
        base = arr
        while isinstance(base, np.ndarray) and base.base is not None:
            base = base.base
        if isinstance(base, memoryview):
            base = base.obj
        entry = self.owned.get(id(base))
        if entry is None or entry[1] is not base:
            return None
        root = np.frombuffer(base, dtype=np.uint8, count=0)
        return entry[0], arr.__array_interface__["data"][0] - root.__array_interface__["data"][0]

    def export(self, arr):
        """A handle tuple for ``arr`` (copied into a new segment when it is not in one)."""
        h = self.handle(arr)
        if h is None:
            a = np.ascontiguousarray(arr)
            mm, name = self._segment(max(a.nbytes, 1))
            np.frombuffer(mm, dtype=a.dtype, count=a.size)[:] = a.reshape(-1)
            h = (name, 0)
        name, offset = h
        self.exported.add(name)
        return (name, offset, arr.dtype.str, tuple(arr.shape))

    def settle(self):
        """After a batch is pickled: unlink the segments that were not handed over (a
        custom collate_fn may have dropped them) and forget all."""
        for name, _ in self.owned.values():
            if name not in self.exported:
                try:
                    os.unlink(os.path.join(_DIR, name))
                except OSError:
                    pass
        self.owned.clear()
        self.exported.clear()


def _open_array(name, offset, dtype, shape):
    path = os.path.join(_DIR, name)
    fd = os.open(path, os.O_RDWR)
    try:
        size = os.fstat(fd).st_size
        mm = mmap.mmap(fd, size, flags=_FLAGS)
    finally:
        os.close(fd)
        try:
            os.unlink(path)
        except FileNotFoundError:
            pass
    dt = np.dtype(dtype)
    n = 1
    for s in shape:
        n *= s
    return np.frombuffer(mm, dtype=dt, count=n, offset=offset).reshape(shape)


def _rebuild_array(handle):
    return _open_array(*handle)


def _rebuild_tensor(handle, requires_grad):
    return Tensor._make(_open_array(*handle), requires_grad=requires_grad)


class _Pickler(pickle.Pickler):
    def __init__(self, file, allocator):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self.allocator = allocator

    def reducer_override(self, obj):
        if type(obj) is Tensor and obj._array.nbytes >= MIN_BYTES:
            return _rebuild_tensor, (self.allocator.export(obj._array), bool(obj.requires_grad))
        if type(obj) is np.ndarray and obj.nbytes >= MIN_BYTES and obj.dtype.kind in "biuf":
            return _rebuild_array, (self.allocator.export(obj),)
        return NotImplemented


def dumps(obj, allocator):
    """Pickle ``obj`` with its large arrays moved to (or left in) shared memory."""
    if _DIR is None or allocator is None:
        return pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
    buf = io.BytesIO()
    try:
        _Pickler(buf, allocator).dump(obj)
    finally:
        allocator.settle()  # handed over: the main process unlinks them
    return buf.getvalue()


def loads(data):
    """Unpickle a ``dumps`` payload (mapping and unlinking its segments)."""
    return pickle.loads(data)


def unlink_prefix(prefix):
    """Remove every segment whose name starts with ``prefix`` (after a worker died)."""
    if _DIR is None:
        return
    for path in glob.glob(os.path.join(_DIR, glob.escape(prefix) + "_*")):
        try:
            os.unlink(path)
        except OSError:
            pass
