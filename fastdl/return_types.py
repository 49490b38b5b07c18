"""Named-tuple return types of ops that return several tensors, as ``torch.return_types``:
``values, indices = x.max(1)`` and ``x.max(1).values`` both work. Every op that returns one
of these takes its type from here, so each name is defined once.

Example::

    r = fastdl.tensor([[1.0, 5.0], [7.0, 2.0]]).max(dim=1)
    r.values, r.indices      # tensor([5., 7.]), tensor([1, 0])
"""
from __future__ import annotations

from collections import namedtuple


def _make(name, fields):
    base = namedtuple(name, fields)

    def __repr__(self):
        body = ",\n".join(f"{f}={v!r}" for f, v in zip(self._fields, self))
        return f"fastdl.return_types.{name}(\n{body})"

    cls = type(name, (base,), {"__slots__": (), "__repr__": __repr__,
                               "__module__": __name__,
                               "__doc__": f"``fastdl.return_types.{name}``: "
                                          f"({', '.join(fields)})."})
    return cls


_VI = ("values", "indices")
max = _make("max", _VI)  # noqa: A001
min = _make("min", _VI)  # noqa: A001
sort = _make("sort", _VI)
topk = _make("topk", _VI)
kthvalue = _make("kthvalue", _VI)
median = _make("median", _VI)
nanmedian = _make("nanmedian", _VI)
mode = _make("mode", _VI)
cummax = _make("cummax", _VI)
cummin = _make("cummin", _VI)
aminmax = _make("aminmax", ("min", "max"))
frexp = _make("frexp", ("mantissa", "exponent"))
histogram = _make("histogram", ("hist", "bin_edges"))
slogdet = _make("slogdet", ("sign", "logabsdet"))
linalg_slogdet = _make("linalg_slogdet", ("sign", "logabsdet"))
qr = _make("qr", ("Q", "R"))
linalg_qr = _make("linalg_qr", ("Q", "R"))
svd = _make("svd", ("U", "S", "V"))
linalg_svd = _make("linalg_svd", ("U", "S", "Vh"))
linalg_eigh = _make("linalg_eigh", ("eigenvalues", "eigenvectors"))
linalg_eig = _make("linalg_eig", ("eigenvalues", "eigenvectors"))
linalg_lstsq = _make("linalg_lstsq", ("solution", "residuals", "rank", "singular_values"))
linalg_cholesky_ex = _make("linalg_cholesky_ex", ("L", "info"))
linalg_inv_ex = _make("linalg_inv_ex", ("inverse", "info"))
linalg_solve_ex = _make("linalg_solve_ex", ("result", "info"))
lu_unpack = _make("lu_unpack", ("P", "L", "U"))

__all__ = ["max", "min", "sort", "topk", "kthvalue", "median", "nanmedian", "mode", "cummax",
           "cummin", "aminmax", "frexp", "histogram", "slogdet", "linalg_slogdet", "qr",
           "linalg_qr", "svd", "linalg_svd", "linalg_eigh", "linalg_eig", "linalg_lstsq",
           "linalg_cholesky_ex", "linalg_inv_ex", "linalg_solve_ex", "lu_unpack"]
