"""Named-tuple results, as ``torch.return_types``: ``values, indices = x.sort()`` and
``x.sort().values`` both work.

Example::

    r = fastdl.topk(fastdl.tensor([1.0, 3.0, 2.0]), 2)
    r.values, r.indices          # tensor([3., 2.]), tensor([1, 2])
"""
from __future__ import annotations

from collections import namedtuple


def _rt(name, fields):
    cls = namedtuple(name, fields)
    cls.__module__ = __name__
    cls.__qualname__ = name
    cls.__doc__ = f"``fastdl.return_types.{name}({', '.join(fields)})``: a named tuple."

    def __repr__(self):
        body = ",\n".join(f"{f}={getattr(self, f)!r}" for f in fields)
        return f"fastdl.return_types.{name}(\n{body})"

    cls.__repr__ = __repr__
    return cls


_VI = ("values", "indices")
max = _rt("max", _VI)  # noqa: A001
min = _rt("min", _VI)  # noqa: A001
sort = _rt("sort", _VI)
topk = _rt("topk", _VI)
kthvalue = _rt("kthvalue", _VI)
median = _rt("median", _VI)
nanmedian = _rt("nanmedian", _VI)
mode = _rt("mode", _VI)
cummax = _rt("cummax", _VI)
cummin = _rt("cummin", _VI)
aminmax = _rt("aminmax", ("min", "max"))
slogdet = _rt("slogdet", ("sign", "logabsdet"))
linalg_slogdet = _rt("linalg_slogdet", ("sign", "logabsdet"))
qr = _rt("qr", ("Q", "R"))
linalg_qr = _rt("linalg_qr", ("Q", "R"))
svd = _rt("svd", ("U", "S", "V"))
linalg_svd = _rt("linalg_svd", ("U", "S", "Vh"))
linalg_eigh = _rt("linalg_eigh", ("eigenvalues", "eigenvectors"))
linalg_lstsq = _rt("linalg_lstsq", ("solution", "residuals", "rank", "singular_values"))
linalg_inv_ex = _rt("linalg_inv_ex", ("inverse", "info"))
linalg_cholesky_ex = _rt("linalg_cholesky_ex", ("L", "info"))

__all__ = ["max", "min", "sort", "topk", "kthvalue", "median", "nanmedian", "mode", "cummax",
           "cummin", "aminmax", "slogdet", "linalg_slogdet", "qr", "linalg_qr", "svd",
           "linalg_svd", "linalg_eigh", "linalg_lstsq", "linalg_inv_ex", "linalg_cholesky_ex"]
