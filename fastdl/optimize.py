"""``fastdl.optimize_for_inference``: fold what can be folded in a model for inference."""
from __future__ import annotations

import copy

import numpy as np

from . import _C, nn
from .nn.functional.conv import _act_, _conv
from .nn.modules.normalization import _hooked
from .nn.utils.fusion import fuse_conv_bn_eval
from .ops._support import recording
from .tensor import Tensor, _cl_only, _nhwc
from .utils import hooks as _hooks

__all__ = ["optimize_for_inference"]


class _ConvAct(nn.Module):
    """A convolution followed by its activation (ReLU, ReLU6 or Hardtanh: a clamp to
    [lo, hi]): one module call, the clamp fused into the convolution kernel's output where
    nothing records a graph (``F.conv2d``'s inference path), else applied in place on the
    convolution's fresh output."""

    def __init__(self, conv, act):
        super().__init__()
        self.conv = conv
        self.act = act
        if type(act) is nn.ReLU:
            self._bounds = (0.0, float("inf"))
        elif type(act) is nn.ReLU6:
            self._bounds = (0.0, 6.0)
        else:
            self._bounds = (float(act.min_val), float(act.max_val))

    def forward(self, x):
        c = self.conv
        if type(c) is nn.Conv2d and c.padding_mode == "zeros" and \
                not (c._has_hooks or _hooks._any_global[0]):  # (hooks: the module call)
            return _conv("conv2d", 2, x, c.weight, c.bias, c.stride, c.padding, c.dilation,
                         c.groups, self._bounds)
        return _act_(c(x), self._bounds)


_NO_ACT = (-float("inf"), float("inf"))


def _conv_and_bounds(m):
    """(Conv2d, (lo, hi)) of a module that is a plain Conv2d, a _ConvAct, or a Sequential
    holding exactly one of those among Identity modules; else None."""
    if isinstance(m, nn.Sequential) and not m._has_hooks:
        rest = [c for c in m._modules.values() if type(c) is not nn.Identity]
        if len(rest) != 1:
            return None
        m = rest[0]
    if m._has_hooks:
        return None
    if type(m) is _ConvAct and type(m.conv) is nn.Conv2d and not m.conv._has_hooks:
        return m.conv, m._bounds
    if type(m) is nn.Conv2d:
        return m, _NO_ACT
    return None


class _PwDw(nn.Module):
    """A 1×1 expansion (Conv2d, then its activation clamp) followed by a depthwise Conv2d
    (then its clamp), as in MobileNet's inverted residual block, run by one kernel where
    nothing records a graph (``_C.conv2d_pw_dw_forward``: the expanded tensor is never
    written to memory; NCHW or channels-last input, the output in the same layout), else as
    the two modules."""

    def __init__(self, first, second):
        super().__init__()
        self.first = first
        self.second = second
        (pw, self._b1), (dw, self._b2) = _conv_and_bounds(first), _conv_and_bounds(second)
        self._geo = (dw.stride[0], dw.stride[1], dw.padding[0], dw.padding[0], dw.padding[1],
                     dw.padding[1], dw.dilation[0], dw.dilation[1])
        self._pw, self._dw = pw, dw

    def forward(self, x):
        pw, dw = self._pw, self._dw
        if isinstance(x, Tensor) and x.ndim == 4 and not _hooks._any_global[0]:
            xa = x._array
            w1, w2 = pw.weight, dw.weight
            b1, b2 = pw.bias, dw.bias
            cl = _cl_only(xa)  # channels last: on the NHWC storage, the output likewise
            if xa.dtype == np.float32 and (xa.flags.c_contiguous or cl) and \
                    w1._array.flags.c_contiguous and w2._array.flags.c_contiguous and \
                    not recording(x, w1, w2, b1, b2):
                y = _C.conv2d_pw_dw_forward(
                    _nhwc(xa) if cl else xa, w1._array, None if b1 is None else b1._array,
                    w2._array, None if b2 is None else b2._array, *self._geo, *self._b1,
                    *self._b2, cl)
                if y is not None:
                    return Tensor._make(y.transpose(0, 3, 1, 2) if cl else y)
        return self.second(self.first(x))


def _pw_dw_pair(a, b):
    """Whether modules a, b are a 1×1 expansion and the depthwise convolution of its output
    that _PwDw runs (zero padding given as ints, float32 or not: checked per call)."""
    pa, pb = _conv_and_bounds(a), _conv_and_bounds(b)
    if pa is None or pb is None:
        return False
    pw, dw = pa[0], pb[0]
    return (pw.kernel_size == (1, 1) and pw.stride == (1, 1) and pw.padding == (0, 0) and
            pw.dilation == (1, 1) and pw.groups == 1 and pw.padding_mode == "zeros" and
            dw.groups == dw.in_channels == dw.out_channels == pw.out_channels and
            dw.padding_mode == "zeros" and not isinstance(dw.padding, str))


def _fuse_pw_dw(seq):
    """Replace each 1×1-then-depthwise pair among a Sequential's direct children (Identity
    children between them skipped) by one _PwDw."""
    mods = [(n, m) for n, m in seq._modules.items() if type(m) is not nn.Identity]
    i = 0
    while i < len(mods) - 1:
        (na, a), (nb, b) = mods[i], mods[i + 1]
        if _pw_dw_pair(a, b):
            seq._modules[na] = _PwDw(a, b)
            seq._modules[nb] = nn.Identity()
            i += 1
        i += 1


def _fuse_sequential(seq):
    """Fuse Conv2d → BatchNorm2d (→ ReLU) runs among the direct children of one Sequential;
    returns the number of fusions."""
    mods = list(seq._modules.items())
    n = 0
    i = 0
    while i < len(mods) - 1:
        name, m = mods[i]
        nxt = mods[i + 1][1]
        if isinstance(m, nn.Conv2d) and isinstance(nxt, nn.BatchNorm2d) and \
                nxt.running_mean is not None and nxt.num_features == m.out_channels:
            fused = fuse_conv_bn_eval(m, nxt)
            seq._modules[mods[i + 1][0]] = nn.Identity()
            n += 1
            if i + 2 < len(mods) and type(mods[i + 2][1]) in (nn.ReLU, nn.ReLU6, nn.Hardtanh) \
                    and not (mods[i + 2][1]._has_hooks and _hooked(mods[i + 2][1])):
                fused = _ConvAct(fused, mods[i + 2][1])
                seq._modules[mods[i + 2][0]] = nn.Identity()
                i += 1
            seq._modules[name] = fused
            i += 1
        i += 1
    return n


def optimize_for_inference(model, example_inputs=None):
    """A copy of ``model`` in eval mode with every Conv2d → BatchNorm2d folded into one
    convolution (``fastdl.nn.utils.fuse_conv_bn_eval``): the batch norm's running statistics
    and affine parameters go into the conv's weight and bias and the BatchNorm becomes an
    ``Identity``. What it fuses:

    * inside an ``nn.Sequential``: a Conv2d directly followed by a BatchNorm2d, and a ReLU,
      ReLU6 or Hardtanh right after that pair is clamped by the convolution kernel itself
      (one module call, no activation pass);
    * then, inside an ``nn.Sequential``, a 1×1 convolution (with its folded activation)
      followed by a depthwise convolution of its output (MobileNet's inverted residual
      block) runs as one kernel in float32 inference, the expanded tensor never written to
      memory (``_C.conv2d_pw_dw_forward``; two modules where it does not apply);
    * anywhere else (e.g. a ResNet block calling ``self.bn1(self.conv1(x))`` in its
      ``forward``) only when ``example_inputs`` (a tuple of inputs) is given: the model runs
      once on them, each BatchNorm2d whose input is exactly a Conv2d's output is folded,
      and the result is checked against the unfused model on the same inputs (a fold that
      changes the output, e.g. because the conv's output is also used elsewhere, is undone).

    BatchNorms without running statistics are left alone. The input model is not changed.
    The result is for inference only (its parameters are plain copies; training it trains
    the fused weights).

    Example::

        fast = fastdl.optimize_for_inference(model, (fastdl.randn(1, 3, 32, 32),))
        with fastdl.no_grad():
            y = fast(x)          # ≈ model.eval()(x)
    """
    m = copy.deepcopy(model)
    m.eval()
    for mod in list(m.modules()):
        if isinstance(mod, nn.Sequential):
            _fuse_sequential(mod)
    for mod in list(m.modules()):
        if isinstance(mod, nn.Sequential):
            _fuse_pw_dw(mod)
    if example_inputs is not None:
        if not isinstance(example_inputs, (tuple, list)):
            example_inputs = (example_inputs,)
        from . import no_grad
        with no_grad():
            want = m(*example_inputs)
        for (cown, cname), conv, (bown, bname), bn in _fuse_traced_safe(m, example_inputs):
            fused = fuse_conv_bn_eval(conv, bn)
            cown._modules[cname] = fused
            bown._modules[bname] = nn.Identity()
            with no_grad():
                got = m(*example_inputs)
            if not _close(got, want):
                cown._modules[cname] = conv
                bown._modules[bname] = bn
    return m


def _fuse_traced_safe(model, example_inputs):
    from . import no_grad
    with no_grad():
        return _trace_pairs(model, example_inputs)


def _trace_pairs(model, example_inputs):
    owners = {}
    for _, parent in model.named_modules():
        for cname, child in parent._modules.items():
            if child is not None:
                owners.setdefault(id(child), (parent, cname))
    produced = {}
    pairs = []
    wrapped = []

    def wrap(mod, is_conv):
        inner = mod.forward

        def forward(*args, **kwargs):
            out = inner(*args, **kwargs)
            if is_conv:
                produced[id(out)] = (mod, out)
            elif args and id(args[0]) in produced and produced[id(args[0])][1] is args[0]:
                pairs.append((produced[id(args[0])][0], mod))
            return out
        object.__setattr__(mod, "forward", forward)
        wrapped.append(mod)

    for mod in model.modules():
        if type(mod) is nn.Conv2d:
            wrap(mod, True)
        elif type(mod) is nn.BatchNorm2d and mod.running_mean is not None:
            wrap(mod, False)
    try:
        model(*example_inputs)
    finally:
        for mod in wrapped:
            object.__delattr__(mod, "forward")
    seen, out = set(), []
    for c, b in pairs:
        if id(c) in owners and id(b) in owners and (id(c), id(b)) not in seen:
            seen.add((id(c), id(b)))
            out.append((owners[id(c)], c, owners[id(b)], b))
    return out


def _close(a, b):
    from .tensor import Tensor
    if isinstance(a, Tensor):
        x, y = a.numpy(), b.numpy()
        scale = max(1.0, float(np.max(np.abs(y))) if y.size else 1.0)
        return x.shape == y.shape and bool(np.allclose(x, y, rtol=1e-3, atol=1e-4 * scale))
    if isinstance(a, (tuple, list)):
        return len(a) == len(b) and all(_close(p, q) for p, q in zip(a, b))
    return True
