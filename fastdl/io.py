"""Checkpoints and weight files: ``fastdl.save(obj, f)`` / ``fastdl.load(f)``. Nothing is
ever unpickled, so loading a file never runs code.

What ``save`` writes (by the file name's extension):

* ``.npz``: NumPy's zip of ``.npy`` arrays (read back with ``np.load(path)`` too).
* anything else (``.safetensors`` by convention, also ``.pt``): the safetensors format,
  written and parsed here: an 8-byte little-endian header length N; N bytes of UTF-8 JSON
  ``{"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
  "__metadata__": {"key": "value"}}`` padded with spaces to a multiple of 8; then the raw
  little-endian tensor bytes, tiling the data area exactly. Readable by
  ``safetensors.torch.load_file``.

``obj`` may be any nesting of dicts (str or int keys; OrderedDict kept), lists, tuples,
numbers, strings, ``None``, Tensors and NumPy arrays: a whole training state such as
``{"epoch": 3, "model": model.state_dict(), "optimizer": opt.state_dict()}``. A flat
``{name: Tensor}`` is stored as plain safetensors (one entry per name); anything else
stores its tensors under path names (``model.fc.weight``) and the structure as JSON in the
metadata entry ``fastdl.structure`` (grammar in ``_encode``). Files written by older fastdl
versions (flat dicts) load as before.

What ``load`` reads: those two formats, and PyTorch's own ``torch.save`` zip checkpoints
(``.pt``/``.pth``), whose pickle is read by a restricted unpickler that knows only tensors,
storages, ``OrderedDict``, ``torch.Size``, dtypes and plain containers (PyTorch's
``weights_only=True`` rule) and imports nothing: any other global is an
``UnsafeCheckpointError`` (an ``UnpicklingError`` and a ``ValueError``).

Hostile files: every size a file declares is checked against the file before anything is
allocated (header length, number of JSON items, nesting depth, tensor spans, npz members'
uncompressed sizes against a budget), so a corrupt or crafted file is a ``ValueError``
naming the file, after bounded time and memory.
"""
from __future__ import annotations

import collections
import io as _io
import json
import math
import numbers
import os
import pickle
import re
import struct
import zipfile
import zlib

import numpy as np

from .tensor import Tensor, _as_array

__all__ = ["save", "load", "load_metadata", "save_bytes", "load_bytes",
           "UnsafeCheckpointError"]

# safetensors dtype name <-> little-endian NumPy dtype
_ST_TO_NP = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4",
             "I16": "<i2", "I8": "|i1", "U8": "|u1", "U16": "<u2", "U32": "<u4", "U64": "<u8",
             "BOOL": "|b1"}
_NP_TO_ST = {np.dtype(v).newbyteorder("=") if np.dtype(v).itemsize > 1 else np.dtype(v): k
             for k, v in _ST_TO_NP.items()}

# Bounds on what a file may ask for (module attributes, so a caller may raise them).
MAX_HEADER_BYTES = 100_000_000   # safetensors header (as the reference implementation)
MAX_JSON_ITEMS = 1 << 20         # JSON object members + integers in one header
MAX_TENSORS = 1 << 18            # entries in one file
MAX_DEPTH = 200                  # nesting of a saved structure
NPZ_MIN_BUDGET = 1 << 28         # an npz may inflate to max(this, NPZ_RATIO * file size)
NPZ_RATIO = 64
_STRUCT_KEY = "fastdl.structure"


# What the standard library's zipfile raises on a damaged archive.
_ZIP_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError,
               KeyError, ValueError, NotImplementedError, RuntimeError, UnicodeDecodeError,
               struct.error, OverflowError, IndexError, TypeError, AttributeError)


class UnsafeCheckpointError(pickle.UnpicklingError, ValueError):
    """A PyTorch checkpoint asks for something the restricted unpickler does not allow
    (any global other than tensors, storages, OrderedDict, torch.Size and dtypes)."""


# ---- saving --------------------------------------------------------------------------------
def _tensor_dtype(dt):
    """The dtype a fastdl Tensor made from an array of dtype ``dt`` has."""
    return _as_array(np.empty(0, dt), copy=False).dtype


def _to_tensor(a, where="", name=""):
    """Wrap a loaded array as a Tensor (native byte order; dtypes a Tensor cannot hold widen
    to the nearest one, uint64 only while its values fit int64)."""
    if not a.dtype.isnative:
        a = a.astype(a.dtype.newbyteorder("="))
    if a.dtype == np.uint64 and a.size and int(a.max()) > np.iinfo(np.int64).max:
        raise ValueError(f"load: {where}: '{name}' is uint64 with values above int64's "
                         f"maximum, which a fastdl Tensor cannot hold")
    dt = _tensor_dtype(a.dtype)
    if dt != a.dtype:
        a = a.astype(dt)
    return Tensor._make(_canonical(a))


def _canonical(a):
    """``a`` viewed with NumPy's canonical dtype object (the one ``np.dtype(name)`` returns),
    so code that compares dtypes by identity accepts it."""
    dt = np.dtype(a.dtype.str)
    return a if a.dtype is dt else a.view(dt)


def _array_of(v, who, where):
    a = v._array if isinstance(v, Tensor) else np.asarray(v)
    if a.dtype.kind not in "biuf":
        raise TypeError(f"{who}: '{where}' has dtype {a.dtype}, which cannot be saved")
    dt = a.dtype.newbyteorder("=") if a.dtype.itemsize > 1 else a.dtype
    if dt not in _NP_TO_ST:
        raise TypeError(f"{who}: '{where}' has dtype {a.dtype}, which safetensors cannot hold")
    return np.asarray(a, dtype=np.dtype(_ST_TO_NP[_NP_TO_ST[dt]]), order="C")


def _is_flat(obj):
    return (type(obj) in (dict, collections.OrderedDict) and obj and
            all(isinstance(k, str) for k in obj) and
            all(isinstance(v, (Tensor, np.ndarray)) or
                (isinstance(v, np.generic) and v.dtype.kind in "biuf") for v in obj.values()))


class _Encoder:
    """Turns a nested object into (JSON-able structure, {name: array}).

    Grammar of a node: ``null``/``true``/``false``/a finite number/a string are themselves;
    a list is a JSON array; anything else is an object with a tag ``"@"``:
    ``{"@": "tuple", "v": [...]}``, ``{"@": "dict" | "odict", "k": [keys], "v": [values]}``
    (keys str or int), ``{"@": "float", "v": "nan" | "inf" | "-inf"}``,
    ``{"@": "np", "dtype": "<f4", "v": number}`` (a NumPy scalar),
    ``{"@": "tensor" | "param" | "ndarray", "k": name, "rg": requires_grad}``.
    """

    def __init__(self, who):
        self.who = who
        self.arrays = {}
        self.names = {}  # id(tensor) -> name (a tensor saved twice is stored once)
        self.keep = []

    def name_for(self, obj, path):
        if id(obj) in self.names:
            return self.names[id(obj)]
        name = path or "tensor"
        k = 1
        while name in self.arrays:
            name = f"{path}#{k}"
            k += 1
        self.arrays[name] = _array_of(obj, self.who, name)
        self.names[id(obj)] = name
        self.keep.append(obj)
        return name

    def encode(self, obj, path="", depth=0):
        if depth > MAX_DEPTH:
            raise ValueError(f"{self.who}: structure nested deeper than {MAX_DEPTH} levels")
        if obj is None or isinstance(obj, (bool, str)):
            return obj
        if isinstance(obj, Tensor):
            from .nn import Parameter
            tag = "param" if isinstance(obj, Parameter) else "tensor"
            return {"@": tag, "k": self.name_for(obj, path), "rg": bool(obj.requires_grad)}
        if isinstance(obj, np.ndarray):
            return {"@": "ndarray", "k": self.name_for(obj, path)}
        if isinstance(obj, np.generic):
            if obj.dtype.kind not in "biuf":
                raise TypeError(f"{self.who}: '{path}' is a NumPy {obj.dtype} scalar, which "
                                f"cannot be saved")
            v = obj.item()
            if isinstance(v, float) and not math.isfinite(v):
                v = repr(v)
            return {"@": "np", "dtype": obj.dtype.str, "v": v}
        if isinstance(obj, numbers.Integral):
            return int(obj)
        if isinstance(obj, float):
            return obj if math.isfinite(obj) else {"@": "float", "v": repr(obj)}
        if isinstance(obj, dict):
            keys = []
            for k in obj:
                if isinstance(k, bool) or not isinstance(k, (str, int)):
                    raise TypeError(f"{self.who}: dict keys must be str or int, got "
                                    f"{type(k).__name__} ({k!r}) at '{path}'")
                keys.append(k if isinstance(k, str) else int(k))
            tag = "odict" if isinstance(obj, collections.OrderedDict) else "dict"
            vals = [self.encode(v, f"{path}.{k}" if path else str(k), depth + 1)
                    for k, v in obj.items()]
            return {"@": tag, "k": keys, "v": vals}
        if isinstance(obj, (list, tuple)) and not hasattr(obj, "_fields"):
            vals = [self.encode(v, f"{path}.{i}" if path else str(i), depth + 1)
                    for i, v in enumerate(obj)]
            return vals if isinstance(obj, list) else {"@": "tuple", "v": vals}
        if hasattr(obj, "state_dict") and callable(obj.state_dict):
            raise TypeError(f"{self.who}: cannot save a {type(obj).__name__} object (no "
                            f"pickling); pass its .state_dict()")
        raise TypeError(f"{self.who}: cannot save a {type(obj).__name__} at '{path}' (no "
                        f"pickling): only dicts, lists, tuples, numbers, strings, None, "
                        f"Tensors and NumPy arrays")


def _check_metadata(metadata, who):
    if metadata is None:
        return None
    if not hasattr(metadata, "items") or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()):
        raise TypeError(f"{who}: metadata must be a dict of str -> str")
    if _STRUCT_KEY in metadata:
        raise ValueError(f"{who}: metadata key '{_STRUCT_KEY}' is reserved")
    return dict(metadata)


def _flatten(obj, metadata, who):
    """(ordered [(name, array)], metadata dict or None) for ``obj``."""
    metadata = _check_metadata(metadata, who)
    if _is_flat(obj):
        if "__metadata__" in obj:
            raise ValueError(f"{who}: '__metadata__' is a reserved name; pass metadata=")
        return [(k, _array_of(v, who, k)) for k, v in obj.items()], metadata
    enc = _Encoder(who)
    structure = enc.encode(obj)
    meta = dict(metadata or {})
    meta[_STRUCT_KEY] = json.dumps(structure, separators=(",", ":"), ensure_ascii=False,
                                   allow_nan=False)
    return list(enc.arrays.items()), meta


def _safetensors_bytes(items, metadata):
    # Data laid out by decreasing item size (stable): every tensor starts at a multiple of
    # its own item size. The header keeps the caller's order.
    order = sorted(range(len(items)), key=lambda i: -items[i][1].dtype.itemsize)
    offsets, pos = {}, 0
    for i in order:
        nb = items[i][1].nbytes
        offsets[i] = (pos, pos + nb)
        pos += nb
    header = {}
    if metadata is not None:
        header["__metadata__"] = metadata
    for i, (k, a) in enumerate(items):
        dt = a.dtype.newbyteorder("=") if a.dtype.itemsize > 1 else a.dtype
        header[k] = {"dtype": _NP_TO_ST[dt], "shape": list(a.shape),
                     "data_offsets": list(offsets[i])}
    hb = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    hb += b" " * (-(8 + len(hb)) % 8)
    buf = bytearray(8 + len(hb) + pos)
    buf[:8] = struct.pack("<Q", len(hb))
    buf[8:8 + len(hb)] = hb
    base = 8 + len(hb)
    for i in order:
        b, e = offsets[i]
        if e > b:
            buf[base + b:base + e] = items[i][1].reshape(-1).view(np.uint8).data
    return bytes(buf)


def save_bytes(obj, metadata=None) -> bytes:
    """The safetensors encoding of ``obj`` (a flat ``{name: Tensor}`` or any nesting, see
    the module docstring) as bytes. ``metadata``: optional dict of str -> str.

    Example: ``blob = fastdl.io.save_bytes({'w': fastdl.ones(2, 3)})``
    """
    items, meta = _flatten(obj, metadata, "save")
    return _safetensors_bytes(items, meta)


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-+#=,:@]*\Z")


def _npz_member(name, who):
    if not _PLAIN_NAME.match(name) or ".." in name:
        raise ValueError(f"{who}: key {name!r} is not a plain name and cannot be an npz member "
                         f"path (letters, digits and _ . - + # = , : @; no '/', '\\' or '..')")
    return name + ".npy"


def _npz_bytes(obj, metadata):
    items, meta = _flatten(obj, metadata, "save")
    nested = meta is not None and _STRUCT_KEY in meta
    buf = _io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for i, (k, a) in enumerate(items):
            member = f"t{i}.npy" if nested else _npz_member(k, "save")
            with z.open(member, "w", force_zip64=True) as m:
                np.lib.format.write_array(m, a, allow_pickle=False)
        if nested:
            meta = dict(meta)
            meta["fastdl.names"] = json.dumps([k for k, _ in items])
        if meta is not None:
            z.writestr("__metadata__.json", json.dumps(meta))
    return buf.getvalue()


def _is_npz(path):
    return os.fspath(path).lower().endswith(".npz")


def _write_atomic(path, blob):
    path = os.fspath(path)
    tmp = f"{path}.tmp-{os.getpid()}"
    try:
        with open(tmp, "wb") as f:
            f.write(blob)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def save(obj, f, pickle_module=None, pickle_protocol=None, *, metadata=None) -> None:
    """Write ``obj`` to ``f`` (a path, or a binary file object with ``write``): a flat
    ``{name: Tensor}`` (``model.state_dict()``) or any nesting of dicts (str/int keys),
    lists, tuples, numbers, strings, None, Tensors and NumPy arrays. The format is
    safetensors (``.npz`` by that extension); see the module docstring. Nothing is pickled
    (``pickle_module``/``pickle_protocol`` exist for PyTorch's signature and must be left
    out). ``metadata`` (dict str -> str) goes into the safetensors ``__metadata__``. A path
    is written to a temporary name and renamed, so a crash never leaves a half-written file.

    Example::

        fastdl.save({"epoch": 3, "model": model.state_dict(),
                     "optimizer": opt.state_dict()}, "ckpt.safetensors")
        state = fastdl.load("ckpt.safetensors")
        model.load_state_dict(state["model"])
    """
    if pickle_module is not None or pickle_protocol is not None:
        raise TypeError("save: fastdl never pickles; pickle_module/pickle_protocol are not "
                        "supported")
    if hasattr(f, "write"):
        f.write(save_bytes(obj, metadata))
        return
    blob = _npz_bytes(obj, metadata) if _is_npz(f) else save_bytes(obj, metadata)
    _write_atomic(f, blob)


# ---- bounded parsing -------------------------------------------------------------------
class _TooMany(Exception):
    pass


def _bounded_json(text, where, what):
    """json.loads with a bound on object members + integers and on nesting depth."""
    count = [0]

    def pairs(items):
        count[0] += len(items) + 1
        if count[0] > MAX_JSON_ITEMS:
            raise _TooMany
        d = dict(items)
        if len(d) != len(items):
            raise ValueError("duplicate key")
        return d

    def integer(s):
        count[0] += 1
        if count[0] > MAX_JSON_ITEMS or len(s) > 40:
            raise _TooMany
        return int(s)

    def constant(s):
        raise ValueError(f"{s} is not allowed")

    try:
        return json.loads(text, object_pairs_hook=pairs, parse_int=integer,
                          parse_constant=constant)
    except _TooMany:
        raise ValueError(f"load: {where}: {what} has more than {MAX_JSON_ITEMS} items or an "
                         f"absurd integer (corrupt or hostile file)") from None
    except RecursionError:
        raise ValueError(f"load: {where}: {what} is nested too deeply (corrupt or hostile "
                         f"file)") from None
    except (UnicodeDecodeError, ValueError) as e:
        raise ValueError(f"load: {where}: corrupt {what} (not valid UTF-8 JSON: {e})") from None


def _parse_header(data, where):
    n = len(data)
    if n < 8:
        raise ValueError(f"load: {where}: truncated file ({n} bytes; a safetensors file starts "
                         f"with an 8-byte header length)")
    (hlen,) = struct.unpack("<Q", bytes(data[:8]))
    if hlen > MAX_HEADER_BYTES:
        raise ValueError(f"load: {where}: corrupt header length {hlen} (not a safetensors "
                         f"file?)")
    if 8 + hlen > n:
        raise ValueError(f"load: {where}: truncated file: the header claims {hlen} bytes, only "
                         f"{n - 8} follow")
    try:
        text = bytes(data[8:8 + hlen]).decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"load: {where}: corrupt header (not valid UTF-8 JSON: {e})") from None
    header = _bounded_json(text, where, "header")
    if not isinstance(header, dict):
        raise ValueError(f"load: {where}: corrupt header (JSON is not an object)")
    return header, 8 + hlen


def _is_count(s):
    return isinstance(s, int) and not isinstance(s, bool) and s >= 0


def _decode_safetensors(data, where):
    """{name: array (as stored, native byte order)} and the metadata dict."""
    header, base = _parse_header(data, where)
    meta = header.pop("__metadata__", None)
    if meta is not None and (not isinstance(meta, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in meta.items())):
        raise ValueError(f"load: {where}: corrupt __metadata__ (must map str to str)")
    if len(header) > MAX_TENSORS:
        raise ValueError(f"load: {where}: {len(header)} tensors (more than {MAX_TENSORS})")
    size = len(data) - base
    entries = []
    for k, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise ValueError(f"load: {where}: corrupt entry for '{k}' (needs dtype, shape, "
                             f"data_offsets)")
        st, shape, offs = info["dtype"], info["shape"], info["data_offsets"]
        if st not in _ST_TO_NP and st != "BF16":
            raise ValueError(f"load: {where}: '{k}' has unsupported dtype {st!r}")
        if not isinstance(shape, list) or len(shape) > 64 or not all(map(_is_count, shape)):
            raise ValueError(f"load: {where}: '{k}' has a bad shape {shape!r}")
        if not isinstance(offs, list) or len(offs) != 2 or not all(map(_is_count, offs)) or \
                not offs[0] <= offs[1]:
            raise ValueError(f"load: {where}: '{k}' has bad data_offsets {offs!r}")
        item = 2 if st == "BF16" else np.dtype(_ST_TO_NP[st]).itemsize
        count = math.prod(shape)
        if offs[1] - offs[0] != count * item:
            raise ValueError(f"load: {where}: '{k}' of shape {shape} and dtype {st} needs "
                             f"{count * item} bytes, its data_offsets {offs} span "
                             f"{offs[1] - offs[0]}")
        if offs[1] > size:
            raise ValueError(f"load: {where}: truncated file: '{k}' ends at byte {offs[1]} of "
                             f"the data, which has only {size}")
        entries.append((k, st, shape, offs, count))
    # The spans must tile the data area before anything is allocated, so the total that
    # the entries declare is exactly the file's data size.
    pos = 0
    for b, e, k in sorted((x[3][0], x[3][1], x[0]) for x in entries):
        if b != pos:
            raise ValueError(f"load: {where}: corrupt layout: '{k}' starts at {b}, expected "
                             f"{pos} (gap or overlap between tensors)")
        pos = e
    if pos != size:
        raise ValueError(f"load: {where}: corrupt file: {size - pos} trailing bytes after the "
                         f"last tensor")
    out = {}
    for k, st, shape, offs, count in entries:
        if st == "BF16":
            raw = np.frombuffer(data, dtype="<u2", count=count, offset=base + offs[0])
            arr = (raw.astype(np.uint32) << 16).view(np.float32).reshape(shape)
        else:
            arr = np.frombuffer(data, dtype=_ST_TO_NP[st], count=count,
                                offset=base + offs[0]).reshape(shape)
            arr = arr.astype(arr.dtype.newbyteorder("="), copy=True)  # aligned, writable
        out[k] = _canonical(arr)
    return out, (meta or {})


_BAD_NPY_KINDS = {"c": "complex", "U": "string", "S": "bytes", "O": "object",
                  "M": "datetime", "m": "timedelta", "V": "structured/void"}


def _decode_npz(data, where):
    file_size = len(data)
    budget = max(NPZ_MIN_BUDGET, NPZ_RATIO * file_size)
    out, meta = {}, {}
    try:
        with zipfile.ZipFile(_io.BytesIO(data)) as z:
            infos = z.infolist()
            if len(infos) > MAX_TENSORS:
                raise ValueError(f"{len(infos)} members (more than {MAX_TENSORS})")
            total = sum(i.file_size for i in infos)
            if total > budget:
                raise ValueError(f"members declare {total} uncompressed bytes, more than "
                                 f"{budget} (max({NPZ_MIN_BUDGET}, {NPZ_RATIO} x the file "
                                 f"size); raise fastdl.io.NPZ_MIN_BUDGET for a larger file)")
            for info in infos:
                name = info.filename
                if name == "__metadata__.json":
                    if info.file_size > MAX_HEADER_BYTES:
                        raise ValueError("__metadata__.json is too large")
                    meta = _bounded_json(z.read(name).decode("utf-8"), where, "metadata")
                    if not isinstance(meta, dict) or not all(
                            isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
                        raise ValueError("__metadata__.json must map str to str")
                    continue
                if not name.endswith(".npy"):
                    raise ValueError(f"unexpected member {name!r}")
                with z.open(info) as m:
                    version = np.lib.format.read_magic(m)
                    if version not in ((1, 0), (2, 0), (3, 0)):
                        raise ValueError(f"member {name!r}: unknown .npy version {version}")
                    reader = np.lib.format.read_array_header_1_0 if version == (1, 0) \
                        else np.lib.format.read_array_header_2_0
                    shape, fortran, dtype = reader(m)
                    if dtype.kind in _BAD_NPY_KINDS or dtype.hasobject or dtype.fields:
                        raise ValueError(f"member {name!r} holds "
                                         f"{_BAD_NPY_KINDS.get(dtype.kind, 'structured')} data "
                                         f"({dtype}), which fastdl does not support")
                    if dtype.kind not in "biuf":
                        raise ValueError(f"member {name!r} has dtype {dtype}")
                    count = math.prod(shape)
                    nbytes = count * dtype.itemsize
                    if m.tell() + nbytes != info.file_size:
                        raise ValueError(f"member {name!r}: shape {shape} of {dtype} needs "
                                         f"{nbytes} bytes after its header, the member has "
                                         f"{info.file_size - m.tell()}")
                    raw = m.read(nbytes)
                    if len(raw) != nbytes:
                        raise ValueError(f"member {name!r} is truncated")
                arr = np.frombuffer(raw, dtype=dtype, count=count)
                arr = arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)
                out[name[:-4]] = _canonical(np.array(arr, dtype=dtype.newbyteorder("="),
                                                     order="C"))
    except _ZIP_ERRORS + (SyntaxError, MemoryError) as e:
        if isinstance(e, FileNotFoundError):
            raise
        msg = str(e)
        if msg.startswith("load: "):
            raise ValueError(msg) from None
        raise ValueError(f"load: {where}: corrupt, truncated or unsupported .npz file "
                         f"({type(e).__name__}: {msg[:300]})") from None
    return out, meta


# ---- the structure ------------------------------------------------------------------------
class _Decoder:
    def __init__(self, arrays, where, as_numpy, locate):
        self.arrays = arrays
        self.where = where
        self.as_numpy = as_numpy
        self.locate = locate
        self.made = {}

    def bad(self, msg):
        return ValueError(f"load: {self.where}: corrupt structure: {msg}")

    def array(self, node):
        k = node.get("k")
        if not isinstance(k, str) or k not in self.arrays:
            raise self.bad(f"reference to a missing tensor {k!r}")
        return k, self.arrays[k]

    def decode(self, node, depth=0):
        if depth > MAX_DEPTH:
            raise self.bad(f"nested deeper than {MAX_DEPTH} levels")
        if node is None or isinstance(node, (bool, str, int, float)):
            return node
        if isinstance(node, list):
            return [self.decode(v, depth + 1) for v in node]
        if not isinstance(node, dict):
            raise self.bad(f"unexpected {type(node).__name__}")
        tag = node.get("@")
        if tag == "tuple":
            return tuple(self.decode(v, depth + 1) for v in self._list(node, "v"))
        if tag in ("dict", "odict"):
            keys, vals = self._list(node, "k"), self._list(node, "v")
            if len(keys) != len(vals) or not all(isinstance(k, (str, int)) and
                                                 not isinstance(k, bool) for k in keys):
                raise self.bad("dict keys and values do not match")
            d = collections.OrderedDict() if tag == "odict" else {}
            for k, v in zip(keys, vals):
                d[k] = self.decode(v, depth + 1)
            return d
        if tag == "float":
            v = node.get("v")
            if v not in ("nan", "inf", "-inf"):
                raise self.bad(f"bad float {v!r}")
            return float(v)
        if tag == "np":
            try:
                dt = np.dtype(node.get("dtype"))
            except (TypeError, ValueError):
                raise self.bad(f"bad dtype {node.get('dtype')!r}") from None
            v = node.get("v")
            if dt.kind not in "biuf" or isinstance(v, (list, dict)) or v is None:
                raise self.bad(f"bad NumPy scalar {node!r}"[:200])
            try:
                return dt.type(float(v) if isinstance(v, str) else v)
            except (OverflowError, ValueError, TypeError):
                raise self.bad(f"bad NumPy scalar {node!r}"[:200]) from None
        if tag in ("tensor", "param", "ndarray"):
            k, a = self.array(node)
            key = (k, tag)
            if key in self.made:
                return self.made[key]
            if tag == "ndarray" or self.as_numpy:
                out = a
            else:
                t = self.locate(_to_tensor(a, self.where, k))
                rg = bool(node.get("rg", False)) and t.dtype.kind == "f"
                if tag == "param":
                    from .nn import Parameter
                    p = Parameter(t, requires_grad=rg)
                    out = p
                else:
                    t.requires_grad = False
                    if rg:
                        t.requires_grad_(True)
                    out = t
            self.made[key] = out
            return out
        raise self.bad(f"unknown tag {tag!r}")

    def _list(self, node, key):
        v = node.get(key)
        if not isinstance(v, list):
            raise self.bad(f"'{key}' of a {node.get('@')} is not a list")
        return v


def _assemble(arrays, meta, where, as_numpy, locate):
    if _STRUCT_KEY not in meta:
        if as_numpy:
            return arrays
        return {k: locate(_to_tensor(a, where, k)) for k, a in arrays.items()}
    structure = _bounded_json(meta[_STRUCT_KEY], where, "structure")
    return _Decoder(arrays, where, as_numpy, locate).decode(structure)


def _user_meta(meta):
    return {k: v for k, v in meta.items() if k not in (_STRUCT_KEY, "fastdl.names")}


# ---- map_location ------------------------------------------------------------------------
def _cpu_like(dev):
    s = str(dev)
    return s == "cpu" or s.startswith("cpu:") or s == "device(type='cpu')"


def _locator(map_location):
    if map_location is None:
        return lambda t: t
    if callable(map_location) and not isinstance(map_location, (str, dict)) and \
            not hasattr(map_location, "type"):
        def call(t):
            r = map_location(t, "cpu")
            if r is None:
                return t
            if not isinstance(r, Tensor):
                raise TypeError(f"load: map_location returned a {type(r).__name__}, expected "
                                f"a Tensor or None")
            return r
        return call
    if isinstance(map_location, dict):
        target = map_location.get("cpu", "cpu")
    else:
        target = map_location
    if not _cpu_like(target):
        raise RuntimeError(f"load: map_location={map_location!r} asks for a device fastdl "
                           f"does not have; fastdl runs on the CPU only (use 'cpu')")
    return lambda t: t


# ---- PyTorch's zip checkpoints -------------------------------------------------------------
_TORCH_STORAGES = {"FloatStorage": "<f4", "DoubleStorage": "<f8", "HalfStorage": "<f2",
                   "BFloat16Storage": "bf16", "LongStorage": "<i8", "IntStorage": "<i4",
                   "ShortStorage": "<i2", "CharStorage": "|i1", "ByteStorage": "|u1",
                   "BoolStorage": "|b1"}
_TORCH_DTYPES = {"float32": "<f4", "float": "<f4", "float64": "<f8", "double": "<f8",
                 "float16": "<f2", "half": "<f2", "bfloat16": "bf16", "int64": "<i8",
                 "long": "<i8", "int32": "<i4", "int": "<i4", "int16": "<i2", "int8": "|i1",
                 "uint8": "|u1", "bool": "|b1"}


class _StorageType:
    def __init__(self, dtype):
        self.dtype = dtype


class _TorchDtype:
    def __init__(self, name):
        self.name = name

    def __repr__(self):
        return f"torch.{self.name}"


class _TensorMarker:
    pass


def _as_int(x):
    return isinstance(x, int) and not isinstance(x, bool)


def _rebuild_tensor(storage, storage_offset, size, stride, *rest):
    if not isinstance(storage, np.ndarray):
        raise UnsafeCheckpointError("_rebuild_tensor: the storage is not a storage")
    if not (_as_int(storage_offset) and isinstance(size, tuple) and isinstance(stride, tuple)
            and len(size) == len(stride) and len(size) <= 64 and all(map(_as_int, size))
            and all(map(_as_int, stride)) and storage_offset >= 0 and
            all(s >= 0 for s in size) and all(s >= 0 for s in stride)):
        raise ValueError("load: a tensor has a bad offset, size or stride")
    n = storage.shape[0]
    if math.prod(size) == 0:
        arr = np.empty(size, storage.dtype)
    else:
        last = storage_offset + sum((s - 1) * st for s, st in zip(size, stride))
        if last >= n:
            raise ValueError(f"load: a tensor of size {size} and stride {stride} at offset "
                             f"{storage_offset} reads past its storage of {n} elements")
        item = storage.dtype.itemsize
        view = np.lib.stride_tricks.as_strided(storage[storage_offset:], shape=size,
                                               strides=tuple(s * item for s in stride),
                                               writeable=False)
        arr = np.array(view, order="C")
    t = _to_tensor(arr, "<torch checkpoint>")
    requires_grad = rest[0] if rest else False
    if requires_grad is True and t.dtype.kind == "f":
        t.requires_grad_(True)
    return t


def _rebuild_parameter(data, requires_grad=True, backward_hooks=None, *rest):
    from .nn import Parameter
    if not isinstance(data, Tensor):
        raise UnsafeCheckpointError("_rebuild_parameter: data is not a tensor")
    return Parameter(data, requires_grad=bool(requires_grad) and data.dtype.kind == "f")


def _rebuild_from_type_v2(func, new_type, args, state):
    if func not in (_rebuild_tensor, _rebuild_parameter) or \
            new_type not in (_TensorMarker, "Parameter"):
        raise UnsafeCheckpointError("_rebuild_from_type_v2: only plain tensors are allowed")
    return func(*args)


def _size(*args):
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        return tuple(args[0])
    return tuple(args)


def _encode_bytes(s, encoding="latin1"):
    if not isinstance(s, str) or encoding != "latin1":
        raise UnsafeCheckpointError("_codecs.encode: only latin1 strings are allowed")
    return s.encode("latin1")


def _torch_globals():
    g = {("collections", "OrderedDict"): collections.OrderedDict,
         ("torch._utils", "_rebuild_tensor"): _rebuild_tensor,
         ("torch._utils", "_rebuild_tensor_v2"): _rebuild_tensor,
         ("torch._utils", "_rebuild_tensor_v3"): _rebuild_tensor,
         ("torch._utils", "_rebuild_parameter"): _rebuild_parameter,
         ("torch._utils", "_rebuild_parameter_with_state"): _rebuild_parameter,
         ("torch._tensor", "_rebuild_from_type_v2"): _rebuild_from_type_v2,
         ("torch", "Tensor"): _TensorMarker,
         ("torch.nn.parameter", "Parameter"): "Parameter",
         ("torch", "Size"): _size,
         ("builtins", "set"): set, ("builtins", "frozenset"): frozenset,
         ("builtins", "slice"): slice, ("__builtin__", "set"): set,
         ("_codecs", "encode"): _encode_bytes,
         ("torch", "device"): lambda *a: "cpu"}
    for k, v in _TORCH_STORAGES.items():
        g[("torch", k)] = _StorageType(v)
    for k in _TORCH_DTYPES:
        g[("torch", k)] = _TorchDtype(k)
    return g


_ALLOWED = _torch_globals()


class _RestrictedUnpickler(pickle.Unpickler):
    """Only the globals in ``_ALLOWED`` (our own stand-ins; nothing is imported)."""

    def __init__(self, file, load_storage):
        super().__init__(file, encoding="utf-8")
        self._load_storage = load_storage

    def find_class(self, module, name):
        obj = _ALLOWED.get((module, name))
        if obj is None:
            raise UnsafeCheckpointError(
                f"load: the checkpoint asks for the global '{module}.{name}', which is not "
                f"allowed (only tensors, storages, OrderedDict, torch.Size, dtypes and plain "
                f"containers are, as PyTorch's weights_only=True); it was not imported")
        return obj

    def persistent_load(self, pid):
        if not isinstance(pid, tuple) or len(pid) < 5 or pid[0] != "storage" or \
                not isinstance(pid[1], (_StorageType, _TorchDtype)):
            raise UnsafeCheckpointError(f"load: unexpected persistent id {str(pid)[:100]}")
        stype, key, numel = pid[1], pid[2], pid[4]
        dtype = stype.dtype if isinstance(stype, _StorageType) else _TORCH_DTYPES[stype.name]
        if not isinstance(key, str) or not _as_int(numel) or numel < 0:
            raise ValueError(f"load: bad storage reference {str(pid)[:100]}")
        return self._load_storage(key, dtype, numel)


def _is_torch_zip(names):
    return any(n.endswith("/data.pkl") or n == "data.pkl" for n in names)


def _load_torch_zip_unchecked(data, where, as_numpy, locate):
    try:
        z = zipfile.ZipFile(_io.BytesIO(data))
        infos = {i.filename: i for i in z.infolist()}
    except _ZIP_ERRORS as e:
        raise ValueError(f"load: {where}: corrupt zip file ({e})") from None
    pkl = [n for n in infos if n.endswith("/data.pkl") or n == "data.pkl"][0]
    prefix = pkl[:-len("data.pkl")]
    if len(infos) > MAX_TENSORS + 16:
        raise ValueError(f"load: {where}: {len(infos)} members (more than {MAX_TENSORS})")
    if sum(i.file_size for i in infos.values()) > max(NPZ_MIN_BUDGET, NPZ_RATIO * len(data)):
        raise ValueError(f"load: {where}: the members declare more bytes than the budget")
    big = False
    bo = prefix + "byteorder"
    if bo in infos:
        order = z.read(bo)[:16].strip()
        if order not in (b"little", b"big"):
            raise ValueError(f"load: {where}: bad byteorder record {order!r}")
        big = order == b"big"
    cache = {}

    def load_storage(key, dtype, numel):
        if key in cache:
            return cache[key]
        member = f"{prefix}data/{key}"
        info = infos.get(member)
        if info is None:
            raise ValueError(f"load: {where}: storage {key!r} is missing")
        item = 2 if dtype == "bf16" else np.dtype(dtype).itemsize
        if info.file_size != numel * item:
            raise ValueError(f"load: {where}: storage {key!r} holds {info.file_size} bytes, "
                             f"{numel} elements of {dtype} need {numel * item}")
        raw = z.read(member)
        if dtype == "bf16":
            u = np.frombuffer(raw, ">u2" if big else "<u2", count=numel)
            arr = (u.astype(np.uint32) << 16).view(np.float32)
        else:
            dt = np.dtype(dtype)
            if big and dt.itemsize > 1:
                dt = dt.newbyteorder(">")
            arr = np.frombuffer(raw, dt, count=numel)
            arr = arr.astype(dt.newbyteorder("="))
        cache[key] = arr
        return arr

    if infos[pkl].file_size > MAX_HEADER_BYTES:
        raise ValueError(f"load: {where}: data.pkl is larger than {MAX_HEADER_BYTES} bytes")
    try:
        obj = _RestrictedUnpickler(_io.BytesIO(z.read(pkl)), load_storage).load()
    except UnsafeCheckpointError as e:
        raise UnsafeCheckpointError(str(e).replace("load:", f"load: {where}:", 1)) from None
    except RecursionError:
        raise ValueError(f"load: {where}: the pickle is nested too deeply") from None
    except _ZIP_ERRORS + (pickle.UnpicklingError,) as e:
        if isinstance(e, ValueError) and str(e).startswith("load: "):
            raise
        raise ValueError(f"load: {where}: corrupt PyTorch checkpoint ({type(e).__name__}: "
                         f"{str(e)[:200]})") from None
    return _map_tensors(obj, as_numpy, locate, 0)


def _load_torch_zip(data, where, as_numpy, locate):
    try:
        return _load_torch_zip_unchecked(data, where, as_numpy, locate)
    except UnsafeCheckpointError:
        raise
    except _ZIP_ERRORS as e:
        if isinstance(e, ValueError) and str(e).startswith("load: "):
            raise
        raise ValueError(f"load: {where}: corrupt PyTorch checkpoint ({type(e).__name__}: "
                         f"{str(e)[:200]})") from None


def _map_tensors(obj, as_numpy, locate, depth):
    if depth > MAX_DEPTH:
        raise ValueError(f"load: structure nested deeper than {MAX_DEPTH} levels")
    if isinstance(obj, Tensor):
        return obj._array if as_numpy else locate(obj)
    if isinstance(obj, dict):
        out = type(obj)()
        for k, v in obj.items():
            out[k] = _map_tensors(v, as_numpy, locate, depth + 1)
        return out
    if isinstance(obj, list):
        return [_map_tensors(v, as_numpy, locate, depth + 1) for v in obj]
    if isinstance(obj, tuple):
        return tuple(_map_tensors(v, as_numpy, locate, depth + 1) for v in obj)
    if isinstance(obj, (_TorchDtype, _StorageType)):
        return str(obj)
    return obj


# ---- loading -------------------------------------------------------------------------------
def _read(f):
    if hasattr(f, "read"):
        data = f.read()
        if not isinstance(data, (bytes, bytearray)):
            raise TypeError("load: the file object must be opened in binary mode")
        return bytes(data), getattr(f, "name", "<file object>")
    where = os.fspath(f)
    with open(where, "rb") as fh:
        return fh.read(), where


def _load_any(f, as_numpy, map_location):
    data, where = _read(f)
    where = str(where)
    locate = _locator(map_location)
    if data[:4] == b"PK\x03\x04" or (data[:4] == b"PK\x05\x06"):
        try:
            names = zipfile.ZipFile(_io.BytesIO(data)).namelist()
        except _ZIP_ERRORS as e:
            if isinstance(e, FileNotFoundError):
                raise
            raise ValueError(f"load: {where}: corrupt or truncated .npz/zip file ({e})") \
                from None
        if _is_torch_zip(names):
            return _load_torch_zip(data, where, as_numpy, locate), {}
        arrays, meta = _decode_npz(data, where)
        if _STRUCT_KEY in meta:
            try:
                names_json = _bounded_json(meta.get("fastdl.names", "[]"), where, "names")
                arrays = {names_json[int(k[1:])]: v for k, v in arrays.items()}
            except (IndexError, ValueError, TypeError):
                raise ValueError(f"load: {where}: corrupt npz structure") from None
        return _assemble(arrays, meta, where, as_numpy, locate), _user_meta(meta)
    if _is_npz(where):
        raise ValueError(f"load: {where}: corrupt or truncated .npz file (no zip signature)")
    if data[8:9] != b"{" and data[:1] == b"\x80" and len(data) > 1 and 2 <= data[1] <= 5:
        raise ValueError(f"load: {where}: a pickle (PyTorch's legacy format, or torch.save with "
                         f"_use_new_zipfile_serialization=False) is not read; re-save it with "
                         f"torch.save's default zip format")
    arrays, meta = _decode_safetensors(data, where)
    return _assemble(arrays, meta, where, as_numpy, locate), _user_meta(meta)


def load(f, map_location=None, weights_only=True, *, as_numpy=False, mmap=None,
         **pickle_load_args):
    """Read what ``save`` wrote (or a safetensors file from elsewhere, an ``np.savez``
    file, or a ``torch.save`` zip checkpoint) from ``f``, a path or a binary file object.

    Returns the saved object: nested structures as saved (dicts, OrderedDicts, lists,
    tuples, numbers, strings, None, Tensors, NumPy arrays); a flat weights file as a dict
    name -> Tensor in the file's order. Dtypes a Tensor cannot hold become the nearest one
    (float16/bfloat16 -> float32, other integers -> int64; uint64 above int64's range is
    an error); ``as_numpy=True`` returns the arrays as stored.

    ``map_location``: as PyTorch's (``"cpu"``, a device, a dict such as ``{"cuda:0":
    "cpu"}``, or ``fn(tensor, location)`` returning a tensor or None); fastdl is CPU-only,
    so any other target device is a RuntimeError. ``weights_only``: accepted; fastdl never
    runs a full unpickler, so both values read only data (a PyTorch checkpoint through the
    restricted unpickler described in the module docstring).

    Example::

        state = fastdl.load("ckpt.safetensors", map_location="cpu")
        model.load_state_dict(state["model"]); opt.load_state_dict(state["optimizer"])
    """
    if mmap:
        raise ValueError("load: mmap=True is not supported")
    if pickle_load_args:
        raise TypeError(f"load: unexpected arguments {sorted(pickle_load_args)} (fastdl "
                        f"does not unpickle)")
    return _load_any(f, as_numpy, map_location)[0]


def load_bytes(data, as_numpy=False, map_location=None):
    """Decode bytes written by ``save_bytes`` (or any file ``load`` reads).
    Example: ``fastdl.io.load_bytes(blob)['w']``"""
    return _load_any(_io.BytesIO(bytes(data)), as_numpy, map_location)[0]


def load_metadata(f) -> dict:
    """The user ``__metadata__`` dict (str -> str) of a weights file ({} when it has none).
    Example: ``fastdl.io.load_metadata('lenet.safetensors')['epochs']``"""
    return _load_any(f, True, None)[1]
