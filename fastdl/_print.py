"""How a Tensor prints: torch's format (``tensor([0.1235, 1.0000])``, whole floats as
``1.``, scientific notation for wide ranges) with options set by ``fastdl.set_printoptions``.
"""
from __future__ import annotations

import numpy as np

_OPTS = {"precision": 4, "threshold": 1000, "edgeitems": 3, "linewidth": 80,
         "sci_mode": None}
_PROFILES = {"default": dict(precision=4, threshold=1000, edgeitems=3, linewidth=80),
             "short": dict(precision=2, threshold=1000, edgeitems=2, linewidth=80),
             "full": dict(precision=4, threshold=np.inf, edgeitems=3, linewidth=80)}


def set_printoptions(precision=None, threshold=None, edgeitems=None, linewidth=None,
                     profile=None, sci_mode=None):
    """Set how tensors print, as ``torch.set_printoptions``: ``precision`` (digits after the
    point, default 4), ``threshold`` (elements before summarising with ``...``, 1000),
    ``edgeitems`` (3), ``linewidth`` (80), ``profile`` ("default", "short", "full"),
    ``sci_mode`` (True/False forces scientific notation on/off; None decides).
    Example: ``fastdl.set_printoptions(precision=2)``"""
    if profile is not None:
        if profile not in _PROFILES:
            raise ValueError(f"set_printoptions: unknown profile {profile!r}")
        _OPTS.update(_PROFILES[profile])
    for k, v in (("precision", precision), ("threshold", threshold),
                 ("edgeitems", edgeitems), ("linewidth", linewidth)):
        if v is not None:
            _OPTS[k] = v
    _OPTS["sci_mode"] = sci_mode


def _float_formatter(a):
    p = _OPTS["precision"]
    finite = a[np.isfinite(a)].astype(np.float64) if a.size else a.astype(np.float64)
    if finite.size and np.all(finite == np.round(finite)) and _OPTS["sci_mode"] is not True \
            and np.abs(finite).max() < 1e8:
        fmt = lambda v: f"{v:.0f}." if np.isfinite(v) else str(v)  # noqa: E731
    else:
        sci = _OPTS["sci_mode"]
        if sci is None and finite.size:
            amax, amin = np.abs(finite).max(), np.abs(finite[finite != 0]).min() \
                if (finite != 0).any() else 0.0
            sci = amax >= 1e8 or (amin and (amax / amin > 1000 or amin < 1e-4))
        fmt = (lambda v: f"{v:.{p}e}") if sci else (lambda v: f"{v:.{p}f}")  # noqa: E731
    vals = [fmt(float(v)) for v in finite] or ["0"]
    width = max(len(v) for v in vals)
    nonfinite = {"nan": "nan", "inf": "inf", "-inf": "-inf"}

    def one(v):
        v = float(v)
        s = fmt(v) if np.isfinite(v) else nonfinite[str(v)]
        return s.rjust(width)

    return one


def format_body(a):
    """The text between ``tensor(`` and the dtype/grad suffix."""
    if a.size == 0:
        return "[]"
    if a.dtype.kind not in "biu" and a.dtype.kind != "f":  # bfloat16 (ml_dtypes)
        a = a.astype(np.float32)
    kw = dict(separator=", ", prefix="tensor(", threshold=_OPTS["threshold"],
              edgeitems=_OPTS["edgeitems"], max_line_width=_OPTS["linewidth"])
    if a.dtype.kind == "f":
        f = _float_formatter(a)
        return np.array2string(a, formatter={"float_kind": f}, **kw)
    if a.dtype.kind == "b":
        w = 5 if not a.all() else 4
        return np.array2string(a, formatter={"bool": lambda v: ("True" if v else "False")
                                             .rjust(w)}, **kw)
    return np.array2string(a, **kw)
