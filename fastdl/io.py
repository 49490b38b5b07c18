"""Weights files: ``fastdl.save(state_dict, path)`` / ``fastdl.load(path)``.

Two formats, chosen by the file name's extension:

* ``.npz``: NumPy's zip of ``.npy`` arrays (read back with ``np.load(path)`` too).
* anything else (``.safetensors`` by convention): the safetensors format, written and
  parsed here (no dependency), readable by ``safetensors.torch.load_file`` and so by
  PyTorch. Layout: an 8-byte little-endian unsigned header length N; N bytes of UTF-8 JSON
  ``{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
  "__metadata__": {"key": "value"}}`` padded with spaces to a multiple of 8; then the raw
  little-endian tensor bytes, offsets relative to the end of the header, tiling the data
  area exactly.

Neither format can hold code: nothing is unpickled, so loading a file never runs code. A
truncated or corrupt file is a ValueError naming the file and what is wrong.
"""
from __future__ import annotations

import io as _io
import json
import os
import struct
import zipfile

import numpy as np

from .tensor import Tensor

__all__ = ["save", "load", "load_metadata", "save_bytes", "load_bytes"]

# safetensors dtype name <-> little-endian NumPy dtype
_ST_TO_NP = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
             "I16": "<i2", "I8": "|i1", "U8": "|u1", "U16": "<u2", "U32": "<u4", "U64": "<u8",
             "BOOL": "|b1"}
_NP_TO_ST = {np.dtype(v).newbyteorder("=") if np.dtype(v).itemsize > 1 else np.dtype(v): k
             for k, v in _ST_TO_NP.items()}
_MAX_HEADER = 100_000_000  # as the safetensors reference implementation


def _to_tensor(a):
    """Wrap a loaded array as a Tensor, widening dtypes a Tensor cannot hold."""
    k = a.dtype.kind
    if k == "f" and a.dtype not in (np.float32, np.float64):
        a = a.astype(np.float32)
    elif k in "iu" and a.dtype != np.int64:
        a = a.astype(np.int64)
    return Tensor._make(a)


def _items(state_dict, who):
    if hasattr(state_dict, "state_dict") and callable(state_dict.state_dict) and \
            not hasattr(state_dict, "items"):
        raise TypeError(f"{who}: expected a dict of tensors; pass model.state_dict()")
    if not hasattr(state_dict, "items"):
        raise TypeError(f"{who}: expected a dict of name -> Tensor/ndarray, got "
                        f"{type(state_dict).__name__}")
    out = []
    for k, v in state_dict.items():
        if not isinstance(k, str):
            raise TypeError(f"{who}: keys must be str, got {type(k).__name__} ({k!r})")
        if k == "__metadata__":
            raise ValueError(f"{who}: '__metadata__' is a reserved name; pass metadata=")
        if isinstance(v, Tensor):
            a = v._array
        elif isinstance(v, (np.ndarray, np.generic)):
            a = np.asarray(v)
        else:
            raise TypeError(f"{who}: value of '{k}' is a {type(v).__name__}; only Tensors and "
                            f"NumPy arrays can be saved (no pickling)")
        if a.dtype.kind not in "biuf":
            raise TypeError(f"{who}: '{k}' has dtype {a.dtype}, which cannot be saved")
        out.append((k, a))
    return out


def _check_metadata(metadata, who):
    if metadata is None:
        return None
    if not hasattr(metadata, "items") or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError(f"{who}: metadata must be a dict of str -> str")
    return dict(metadata)


def save_bytes(state_dict, metadata=None) -> bytes:
    """The safetensors encoding of ``state_dict`` (name -> Tensor or ndarray) as bytes.
    ``metadata``: optional dict of str -> str stored under ``__metadata__``.

    Example: ``blob = fastdl.io.save_bytes({'w': fastdl.ones(2, 3)})``
    """
    items = _items(state_dict, "save")
    metadata = _check_metadata(metadata, "save")
    arrays = {}
    for k, a in items:
        dt = a.dtype.newbyteorder("=") if a.dtype.itemsize > 1 else a.dtype
        if dt not in _NP_TO_ST:
            raise TypeError(f"save: '{k}' has dtype {a.dtype}, which safetensors cannot hold")
        arrays[k] = (_NP_TO_ST[dt], np.asarray(a, dtype=np.dtype(_ST_TO_NP[_NP_TO_ST[dt]]),
                                               order="C"))
    # Data laid out by decreasing item size (stable): every tensor starts at a multiple of
    # its own item size. The header keeps the caller's order.
    order = sorted(arrays, key=lambda k: -arrays[k][1].dtype.itemsize)
    offsets, pos = {}, 0
    for k in order:
        nb = arrays[k][1].nbytes
        offsets[k] = (pos, pos + nb)
        pos += nb
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    for k, _ in items:
        st, a = arrays[k]
        header[k] = {"dtype": st, "shape": list(a.shape), "data_offsets": list(offsets[k])}
    hb = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hb += b" " * (-(8 + len(hb)) % 8)
    buf = bytearray(8 + len(hb) + pos)
    buf[:8] = struct.pack("<Q", len(hb))
    buf[8:8 + len(hb)] = hb
    base = 8 + len(hb)
    for k in order:
        b, e = offsets[k]
        if e > b:
            buf[base + b:base + e] = arrays[k][1].reshape(-1).view(np.uint8).data
    return bytes(buf)


def _parse_header(data, where):
    n = len(data)
    if n < 8:
        raise ValueError(f"load: {where}: truncated file ({n} bytes; a safetensors file starts "
                         f"with an 8-byte header length)")
    (hlen,) = struct.unpack("<Q", bytes(data[:8]))
    if hlen > _MAX_HEADER:
        raise ValueError(f"load: {where}: corrupt header length {hlen} (not a safetensors file?)")
    if 8 + hlen > n:
        raise ValueError(f"load: {where}: truncated file: the header claims {hlen} bytes, only "
                         f"{n - 8} follow")
    try:
        text = bytes(data[8:8 + hlen]).decode("utf-8")
        header = json.loads(text)
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise ValueError(f"load: {where}: corrupt header (not valid UTF-8 JSON: {e})") from None
    if not isinstance(header, dict):
        raise ValueError(f"load: {where}: corrupt header (JSON is not an object)")
    return header, 8 + hlen


def _decode(data, where, as_numpy):
    header, base = _parse_header(data, where)
    meta = header.pop("__metadata__", None)
    if meta is not None and (not isinstance(meta, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in meta.items())):
        raise ValueError(f"load: {where}: corrupt __metadata__ (must map str to str)")
    size = len(data) - base
    spans, out = [], {}
    for k, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"load: {where}: corrupt entry for '{k}' (needs dtype, shape, "
                             f"data_offsets)")
        st, shape, offs = info["dtype"], info["shape"], info["data_offsets"]
        if st not in _ST_TO_NP and st != "BF16":
            raise ValueError(f"load: {where}: '{k}' has unsupported dtype {st!r}")
        if not isinstance(shape, list) or not all(
                isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in shape):
            raise ValueError(f"load: {where}: '{k}' has a bad shape {shape!r}")
        if not isinstance(offs, list) or len(offs) != 2 or not all(
                isinstance(o, int) and not isinstance(o, bool) for o in offs) or \
                not 0 <= offs[0] <= offs[1]:
            raise ValueError(f"load: {where}: '{k}' has bad data_offsets {offs!r}")
        item = 2 if st == "BF16" else np.dtype(_ST_TO_NP[st]).itemsize
        count = 1
        for s in shape:
            count *= s
        if offs[1] - offs[0] != count * item:
            raise ValueError(f"load: {where}: '{k}' of shape {shape} and dtype {st} needs "
                             f"{count * item} bytes, its data_offsets {offs} span "
                             f"{offs[1] - offs[0]}")
        if offs[1] > size:
            raise ValueError(f"load: {where}: truncated file: '{k}' ends at byte {offs[1]} of "
                             f"the data, which has only {size}")
        spans.append((offs[0], offs[1], k))
        if st == "BF16":
            raw = np.frombuffer(data, dtype="<u2", count=count, offset=base + offs[0])
            arr = (raw.astype(np.uint32) << 16).view(np.float32).reshape(shape)
        else:
            arr = np.frombuffer(data, dtype=_ST_TO_NP[st], count=count,
                                offset=base + offs[0]).reshape(shape)
            arr = arr.astype(arr.dtype.newbyteorder("="), copy=True)  # aligned, writable
        out[k] = arr
    pos = 0
    for b, e, k in sorted(spans):
        if b != pos:
            raise ValueError(f"load: {where}: corrupt layout: '{k}' starts at {b}, expected "
                             f"{pos} (gap or overlap between tensors)")
        pos = e
    if pos != size:
        raise ValueError(f"load: {where}: corrupt file: {size - pos} trailing bytes after the "
                         f"last tensor")
    if not as_numpy:
        out = {k: _to_tensor(a) for k, a in out.items()}
    return out, (meta or {})


def load_bytes(data, as_numpy=False):
    """Decode safetensors bytes (see ``save_bytes``) into a dict name -> Tensor (or NumPy
    array with ``as_numpy=True``). Example: ``fastdl.io.load_bytes(blob)['w']``"""
    return _decode(memoryview(data).cast("B") if not isinstance(data, bytes) else data,
                   "<bytes>", as_numpy)[0]


def _is_npz(path):
    return os.fspath(path).lower().endswith(".npz")


def _write_atomic(path, payload_fn):
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            payload_fn(f)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save(state_dict, path, metadata=None) -> None:
    """Write ``state_dict`` (name -> Tensor or NumPy array, e.g. ``model.state_dict()``) to
    ``path``: ``.npz`` by that extension, otherwise safetensors (module docstring). Only
    numeric and bool arrays are stored, never pickled objects. ``metadata`` (dict str ->
    str) goes into the safetensors ``__metadata__`` (or a ``__metadata__.json`` member of
    the npz). The file is written to a temporary name and renamed, so a crash never leaves
    a half-written file under ``path``.

    Example::

        fastdl.save(model.state_dict(), 'lenet.safetensors')
        model.load_state_dict(fastdl.load('lenet.safetensors'))
    """
    if _is_npz(path):
        items = _items(state_dict, "save")
        metadata = _check_metadata(metadata, "save")

        def write(f):
            with zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
                for k, a in items:
                    with z.open(k + ".npy", "w", force_zip64=True) as m:
                        np.lib.format.write_array(m, np.asarray(a, order="C"),
                                                  allow_pickle=False)
                if metadata is not None:
                    z.writestr("__metadata__.json", json.dumps(metadata))
        _write_atomic(path, write)
        return
    blob = save_bytes(state_dict, metadata)
    _write_atomic(path, lambda f: f.write(blob))


def _load_npz(path, as_numpy):
    where = os.fspath(path)
    out, meta = {}, {}
    try:
        with zipfile.ZipFile(where) as z:
            for name in z.namelist():
                if name == "__metadata__.json":
                    meta = json.loads(z.read(name).decode("utf-8"))
                    continue
                if not name.endswith(".npy"):
                    raise ValueError(f"unexpected member {name!r}")
                with z.open(name) as m:
                    arr = np.lib.format.read_array(_io.BytesIO(m.read()), allow_pickle=False)
                out[name[:-4]] = arr
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, KeyError,
            UnicodeDecodeError, json.JSONDecodeError, ValueError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        raise ValueError(f"load: {where}: corrupt or truncated .npz file ({e})") from None
    if not as_numpy:
        out = {k: _to_tensor(a) for k, a in out.items()}
    return out, meta


def _load_any(path, as_numpy):
    if _is_npz(path):
        return _load_npz(path, as_numpy)
    with open(os.fspath(path), "rb") as f:
        data = f.read()
    return _decode(data, os.fspath(path), as_numpy)


def load(path, as_numpy=False) -> dict:
    """Read a weights file written by ``save`` (or by safetensors / PyTorch's
    ``safetensors.torch.save_file``, or ``np.savez``): a dict name -> Tensor in the file's
    order. Dtypes a Tensor cannot hold become the nearest one (float16/bfloat16 -> float32,
    other integers -> int64); ``as_numpy=True`` returns the NumPy arrays as stored (bfloat16
    widened to float32). A truncated or corrupt file is a ValueError naming the problem;
    nothing is unpickled.

    Example: ``model.load_state_dict(fastdl.load('lenet.safetensors'))``
    """
    return _load_any(path, as_numpy)[0]


def load_metadata(path) -> dict:
    """The ``__metadata__`` dict (str -> str) of a weights file ({} when it has none).
    Example: ``fastdl.io.load_metadata('lenet.safetensors')['epochs']``"""
    return _load_any(path, True)[1]
