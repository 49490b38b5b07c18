"""Activation layers (``nn.ReLU`` ...): thin wrappers over ``fastdl.nn.functional``, with
PyTorch's names, arguments and defaults. The pointwise ones are generated from the rows of
``ACT_TABLE`` (``fastdl/nn/functional/activation.py``); PReLU, the softmax family, the shrinks
and Threshold are written out below."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..functional.activation import ACT_TABLE
from .module import Module, Parameter

# the ACT_TABLE rows' layers are added to __all__ where they are generated
__all__ = ["PReLU", "Softmax", "LogSoftmax", "Softmin", "Hardshrink", "Softshrink",
           "Tanhshrink", "Threshold", "Softmax2d"]


_NO_INPLACE_REPR = ("Hardsigmoid", "Hardswish")


class _Activation(Module):
    """Base of the layers generated from ``ACT_TABLE`` (``nn/functional/activation.py``): the
    row's arguments are attributes, ``forward`` is ``F.<name>`` on them, the repr is torch's."""
    _row = None

    def extra_repr(self):
        parts = [f"{p}={getattr(self, p)!r}" if isinstance(getattr(self, p), str)
                 else f"{p}={getattr(self, p)}" for p, _ in self._row.params]
        # (torch's Hardsigmoid and Hardswish leave inplace out of their repr)
        if self._row.inplace and self.inplace and self._row.module not in _NO_INPLACE_REPR:
            parts.append("inplace=True")
        return ", ".join(parts)


def _make_layer(row):
    """``nn.<module>`` for one ``ACT_TABLE`` row, with torch's constructor signature (the F
    function's arguments after ``input``), written as source like the F functions."""
    names = [p for p, _ in row.params] + (["inplace"] if row.inplace else [])
    sig = "".join(f", {p}={d!r}" for p, d in row.params) + \
        (", inplace=False" if row.inplace else "")
    check = f"        _row.check({', '.join(p for p, _ in row.params)})\n" if row.check else ""
    src = (f"class {row.module}(_Activation):\n"
           f"    _row = _row\n"
           f"    def __init__(self{sig}):\n"
           f"        Module.__init__(self)\n" + check +
           "".join(f"        self.{p} = {p}\n" for p in names) +
           f"    def forward(self, input):\n"
           f"        return _fn(input{''.join(f', self.{p}' for p in names)})\n")
    ns = {"_Activation": _Activation, "Module": Module, "_row": row,
          "_fn": getattr(F, row.name), "__name__": __name__}
    exec(compile(src, f"<fastdl.nn.{row.module}>", "exec"), ns)
    cls = ns[row.module]
    cls.__doc__ = f"{row.doc} Example: ``nn.{row.module}()(x)``"
    return cls


for _row in ACT_TABLE:
    globals()[_row.module] = _make_layer(_row)
    __all__.append(_row.module)
del _row


class PReLU(Module):
    """x if x > 0 else a[c] * x with a learnable ``weight`` of ``num_parameters`` elements
    (1, or the number of channels, dim 1), initialised to ``init``.

    Example: ``nn.PReLU(16)(fastdl.randn(8, 16, 5, 5))``
    """

    def __init__(self, num_parameters=1, init=0.25, device=None, dtype=None):
        super().__init__()
        self.num_parameters = int(num_parameters)
        if self.num_parameters < 1:
            raise ValueError(f"PReLU: num_parameters must be >= 1, got {num_parameters}")
        self.init = init
        dt = np.float32 if dtype is None else np.dtype(dtype)
        self.weight = Parameter(np.full((self.num_parameters,), init, dtype=dt))

    def forward(self, input):
        return F.prelu(input, self.weight)

    def extra_repr(self):
        return f"num_parameters={self.num_parameters}"


class Softmax(Module):
    """softmax along ``dim``. Example: ``nn.Softmax(dim=1)(x)``"""

    def __init__(self, dim=None):
        super().__init__()
        self.dim = dim

    def forward(self, input):
        return F.softmax(input, self.dim)

    def extra_repr(self):
        return f"dim={self.dim}"


class LogSoftmax(Softmax):
    """log_softmax along ``dim``. Example: ``nn.LogSoftmax(dim=1)(x)``"""

    def forward(self, input):
        return F.log_softmax(input, self.dim)


class Softmin(Softmax):
    """softmin (softmax of −x) along ``dim``. Example: ``nn.Softmin(dim=1)(x)``"""

    def forward(self, input):
        return F.softmin(input, self.dim)


class Hardshrink(Module):
    """x where |x| > lambd, else 0. Example: ``nn.Hardshrink(0.5)(x)``"""

    def __init__(self, lambd=0.5):
        super().__init__()
        self.lambd = lambd

    def forward(self, input):
        return F.hardshrink(input, self.lambd)

    def extra_repr(self):
        return f"{self.lambd}"


class Softshrink(Hardshrink):
    """x ∓ lambd outside [−lambd, lambd], else 0. Example: ``nn.Softshrink(0.5)(x)``"""

    def forward(self, input):
        return F.softshrink(input, self.lambd)


class Tanhshrink(Module):
    """x − tanh(x). Example: ``nn.Tanhshrink()(x)``"""

    def forward(self, input):
        return F.tanhshrink(input)


class Threshold(Module):
    """x where x > threshold, else value. Example: ``nn.Threshold(0.1, 20.0)(x)``"""

    def __init__(self, threshold, value, inplace=False):
        super().__init__()
        self.threshold, self.value, self.inplace = threshold, value, inplace

    def forward(self, input):
        return F.threshold(input, self.threshold, self.value, self.inplace)

    def extra_repr(self):
        return f"threshold={self.threshold}, value={self.value}" + \
            (", inplace=True" if self.inplace else "")


class Softmax2d(Module):
    """softmax over the channels of an (N, C, H, W) or (C, H, W) input (dim −3).

    Example: ``nn.Softmax2d()(fastdl.randn(2, 3, 4, 4)).shape == (2, 3, 4, 4)``
    """

    def forward(self, input):
        x = input if hasattr(input, "ndim") else np.asarray(input)
        if x.ndim not in (3, 4):
            raise ValueError(f"Softmax2d: expected a 3-D or 4-D input, got shape "
                             f"{tuple(x.shape)}")
        return F.softmax(input, -3)
