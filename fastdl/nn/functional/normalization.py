"""fastdl.nn.functional: normalisation ops (batch, layer, group and instance norm).

Each op is one ``fastdl._C`` call forward (``csrc/bindings/bind_norm.cpp``) and one fused
backward call; statistics are computed blockwise in a fixed order, so results are bitwise the
same for any thread count.
"""
from __future__ import annotations

import numbers

import numpy as np

from ... import _C, _deferred
from ...autograd import function as _fn
from ...autograd.function import _Op
from ...autograd.grad_mode import _state
from ...tensor import Tensor, _cl_only, _from_rows, _rows
from ._args import _contig as _c, _float, _tensor as _t
from ...ops.arith import _Add
from .activation import _Act

__all__ = ["batch_norm", "layer_norm", "group_norm", "instance_norm"]


# ---- batch norm fused with the activation after it ------------------------------------------
# Three fusions, each bitwise the same as running batch norm and the activation apart:
#
# * backward: when the autograd engine meets a ReLU / ReLU6 / Hardtanh node whose input is the
#   output of a training batch norm and nothing else consumes that output (no other node, no
#   hook, not asked for by ``autograd.grad``), it hands the activation's gradient to the
#   batch norm (an ``_ActGrad``) instead of running the activation's backward; the batch-norm
#   kernel then masks the gradient as it reads it, the activation's input recomputed from x
#   with the forward's scale and shift (``_C.batch_norm_backward_act``): neither the
#   activation's backward pass nor its output is read.
# * forward: ``nn.Sequential`` runs BatchNorm followed by ReLU / ReLU6 / Hardtanh as one
#   kernel pass (``_C.batch_norm_train(..., activation=...)``) when the batch norm's own output
#   cannot be observed: no forward hooks on either module, neither subclassed.
# * deferral: elsewhere, a training batch norm whose input requires grad returns its output
#   uncomputed (``fastdl/_deferred.py``); a residual added to it and a ReLU / ReLU6 / Hardtanh
#   after it join it, and the first op that reads it computes all of them in one pass.
#
# ``set_norm_act_fusion`` turns either off (for tests and comparisons).
_FUSE_FORWARD = [True]
_ACT_CODES = dict(_C.eltwise_acts)
_RELU, _HARDTANH = _ACT_CODES["relu"], _ACT_CODES["hardtanh"]


def set_norm_act_fusion(forward=None, backward=None):
    """Turn the fusion of batch norm with a following ReLU / ReLU6 / Hardtanh on or off:
    ``forward`` (one kernel pass in ``nn.Sequential``, and the deferred outputs of training
    batch norms, ``fastdl/_deferred.py``), ``backward`` (the activation's
    gradient mask applied inside the batch-norm backward by the autograd engine, and the two
    gradients of a residual junction summed inside the activation's backward). None leaves
    a switch as it is; returns the previous ``(forward, backward)``. Both are on by default,
    and results are bitwise the same either way.

    Example: ``prev = set_norm_act_fusion(False, False)`` ... ``set_norm_act_fusion(*prev)``
    """
    prev = (_FUSE_FORWARD[0], _fn._fuse_backward[0])
    if forward is not None:
        _FUSE_FORWARD[0] = bool(forward)
    if backward is not None:
        _fn._fuse_backward[0] = bool(backward)
    return prev


def _act_kind(code, params):
    """("relu" | "clamp", min, max) for the batch-norm kernels, or None: the activation with
    eltwise kernel ``code`` and ``params`` can be fused with a batch norm."""
    if code == _RELU:
        return ("relu", 0.0, 0.0)
    if code == _HARDTANH:
        return ("clamp", float(params[0]), float(params[1]))
    return None


class _ActGrad:
    """The gradient of an activation's output, its saved output and its kind, handed by the
    engine to the batch norm before it in place of the activation's backward result."""

    __slots__ = ("g", "out", "kind", "code", "params")

    def __init__(self, g, out, kind, code, params):
        self.g, self.out, self.kind, self.code, self.params = g, out, kind, code, params

    def unfused(self):
        """The activation's backward result itself (the plain path)."""
        g = _c(self.g, dtype=self.out.dtype)
        return _C.eltwise_backward(self.code, True, self.out, g, self.params)


def _fuse_act_backward(node, g):
    """The engine's question to an activation node about to run its backward with output
    gradient ``g`` (``_Op._fuse_up``): an ``_ActGrad`` for its input's producer when that is a
    training batch norm and the activation is ReLU / ReLU6 / Hardtanh; else None."""
    p = node.parents[0]
    if p is None or p._out_idx != 0:
        return None
    bn = p._node
    if bn is None or type(bn) is not _BatchNorm or not bn.__dict__.get("training") \
            or bn._saved is None or not node.from_output:
        return None
    kind = _act_kind(node.code, node.params)
    if kind is None or g.__class__ is not np.ndarray:
        return None
    (out,) = node.saved_tensors
    pa = _fn._meta(p)  # (a deferred batch-norm output stays uncomputed)
    if out.shape != pa.shape or out.dtype != pa.dtype:
        return None
    return _ActGrad(g, out, kind, node.code, node.params)


# The sums of a residual block's batch norms taken in its end activation's backward
# (_act_sum_bn); a switch for tests and A/B runs, results are bitwise the same either way.
_RES_SUMS = [True]


def _act_sum_bn(node, s, a, b):
    """``_Act._sum_bn``: at a residual block's end ``act(bn(x1) + r)`` (ReLU, ReLU6 or
    Hardtanh; r another training batch norm's output or any tensor), the activation's backward
    for the gradient ``a + b`` of its output read twice, with the sums each batch norm's
    backward would take of that gradient (Σg, Σg·(x − mean) per channel) from the same sweep
    (``_C.activation_backward_bn_sums``): the batch norm's backward then only applies them,
    and g and x are not read a second time. Each batch norm node keeps its sums with the
    gradient array they were taken from and uses them only when its backward is handed that
    very array (the add passes it on unchanged); anything else (a hook, another consumer
    of the sum) gives the batch norm another array and it sums as usual. The gradient array,
    or None when the graph or the arrays are not of that shape (C-contiguous (N, C, ...)
    with more than one value per plane, one dtype)."""
    if not _RES_SUMS[0] or s.ndim < 3 or s.size <= s.shape[0] * s.shape[1] or \
            not s.flags.c_contiguous:  # (an (N, C) batch norm sums rows: no sweep to share)
        return None
    kind = _act_kind(node.code, node.params)
    p = node.parents[0]
    if kind is None or p is None or p._out_idx != 0:
        return None
    add = p._node
    if type(add) is not _Add or add._saved is None or _fn._grad_observed(add):
        return None
    bns = []
    for q in add.parents:
        bn = None if q is None or q._out_idx != 0 else q._node
        if type(bn) is not _BatchNorm or bn._saved is None or not bn.__dict__.get("training") \
                or bn.act is not None or bn.cl is not None or _fn._grad_observed(bn):
            continue
        x = bn.saved_tensors[0]
        if x.__class__ is np.ndarray and x.shape == s.shape and x.dtype == s.dtype and \
                x.flags.c_contiguous:
            bns.append(bn)
    if not bns:
        return None
    x1, m1 = bns[0]._saved[0], bns[0]._saved[2]
    x2, m2 = (bns[1]._saved[0], bns[1]._saved[2]) if len(bns) > 1 else (None, None)
    g, sg, s1, s2 = _C.activation_backward_bn_sums(s, a, b, *kind, x1, m1, x2, m2)
    bns[0]._pre_sums = (g, sg, s1)
    if x2 is not None:
        bns[1]._pre_sums = (g, sg, s2)
    return g


_Act._sum_bn = staticmethod(_act_sum_bn)


def _bn_eval(x, running_mean, running_var, weight, bias, eps, kind, copy_mean):
    """Batch norm with given statistics on the array x (channels-last: on its NHWC rows, the
    result channels-last): (y, the mean as a ``x.dtype`` array, invstd). ``copy_mean``: the
    mean is a copy (the op saves it; the running buffer may change in place later)."""
    shape = x.shape
    cl = not x.flags.c_contiguous and _cl_only(x)
    xk = _rows(x) if cl else np.ascontiguousarray(x)
    mean = np.array(running_mean, dtype=xk.dtype, copy=True) if copy_mean else \
        np.ascontiguousarray(running_mean, xk.dtype)
    y, invstd = _C.batch_norm_eval(xk, mean, np.ascontiguousarray(running_var, xk.dtype),
                                   weight, bias, eps, *kind)
    return (_from_rows(y, shape) if cl else y), mean, invstd


class _BatchNorm(_Op):
    _double = True
    _fresh_grads = True  # each gradient a new array of _C
    # create_graph: with a fused activation the saved output (index 4) is the op's output
    _saved_out = staticmethod(lambda ctx: {4: 0} if ctx.act else None)

    @staticmethod
    def forward(ctx, x, weight, bias, running_mean, running_var, training, momentum, eps, stats,
                act=None, defer=None):
        # channels last: the kernels run on the NHWC storage as the (N·H·W, C) matrix (a
        # batch norm of an (N, C) input: the same per-channel statistics), no copy; the
        # output and the input gradient come back channels last
        shape = x.shape
        cl = not x.flags.c_contiguous and _cl_only(x)
        x = _rows(x) if cl else np.ascontiguousarray(x)
        weight, bias = _c(weight), _c(bias)
        kind = ("none", 0.0, 0.0) if act is None else act[0]
        if defer is not None:  # training, no activation: the statistics now, y when read
            _, mean, var, invstd, ctx.ss = _C.batch_norm_train(x, weight, bias, eps, "none",
                                                               0.0, 0.0, False)
            stats["mean"], stats["var"] = mean, var
            ctx.training = True
            ctx.act = None
            ctx.cl = shape if cl else None
            ctx.save_for_backward(x, weight, mean, invstd)
            return _deferred.defer_batch_norm(x, ctx.ss, ctx.cl, shape, defer)
        if training:
            y, mean, var, invstd, ctx.ss = _C.batch_norm_train(x, weight, bias, eps, *kind)
            stats["mean"], stats["var"] = mean, var
        else:
            y, mean, invstd = _bn_eval(x, running_mean, running_var, weight, bias, eps, kind,
                                       True)
        ctx.training = training
        ctx.act = act
        if act is None:
            ctx.save_for_backward(x, weight, mean, invstd)
        else:  # the activation's backward needs its output
            ctx.save_for_backward(x, weight, mean, invstd, y)
        if cl:
            ctx.cl = shape
            return _from_rows(y, shape)
        ctx.cl = None
        return y

    @staticmethod
    def backward(ctx, g):
        shape = ctx.cl
        if shape is None or isinstance(g, Tensor):
            return _BatchNorm._backward(ctx, g) + (None,)
        # channels last: the gradients as (N·H·W, C) matrices like the saved x
        if g.__class__ is _ActGrad:
            g = _ActGrad(_rows(g.g), _rows(g.out), g.kind, g.code, g.params)
        else:
            g = _rows(g)
        res = _BatchNorm._backward(ctx, g) + (None,)  # (none for `defer`)
        if res[0] is None:
            return res
        return (_from_rows(res[0], shape),) + res[1:]

    @staticmethod
    def _backward(ctx, g):
        saved = ctx.saved_tensors
        x, weight, mean, invstd = saved[:4]
        n = ctx.needs_input_grad
        act = ctx.act
        if isinstance(g, Tensor):  # create_graph: the formula from recorded ops
            if act is not None:
                from .activation import _act_grad_graph
                out = saved[4] if ctx.cl is None else _from_rows(_arr(saved[4]), ctx.cl)
                g = g * _act_grad_graph(act[1], act[2], True, out)
            return _batch_norm_backward_graph(ctx, g, mean, invstd, n) + (None,) * 7
        pre = ctx.__dict__.pop("_pre_sums", None)
        if pre is not None and pre[0] is g and act is None and ctx.training:
            # the sums taken in the block's end activation's backward (_act_sum_bn)
            gx, gw, gb = _C.batch_norm_backward_sums(g, x, mean, invstd, weight, pre[1], pre[2],
                                                     n[0], n[1] and weight is not None, n[2])
            return gx, gw, gb, None, None, None, None, None, None, None
        if g.__class__ is _ActGrad:  # an activation's gradient, handed over by the engine
            if not ctx.training:
                g = g.unfused()
            else:
                gx, gw, gb = _C.batch_norm_backward_act(
                    np.ascontiguousarray(g.g, x.dtype), x, mean, invstd, weight, ctx.ss, *g.kind,
                    n[0], n[1] and weight is not None, n[2])
                return gx, gw, gb, None, None, None, None, None, None, None
        if act is not None:
            if ctx.training:
                gx, gw, gb = _C.batch_norm_backward_act(
                    np.ascontiguousarray(g, x.dtype), x, mean, invstd, weight, ctx.ss, *act[0],
                    n[0], n[1] and weight is not None, n[2])
                return gx, gw, gb, None, None, None, None, None, None, None
            g = _ActGrad(g, saved[4], act[0], act[1], act[2]).unfused()
        gx, gw, gb = _C.batch_norm_backward(np.ascontiguousarray(g, x.dtype), x, mean, invstd,
                                            weight, ctx.training, n[0], n[1] and weight is not None,
                                            n[2])
        return gx, gw, gb, None, None, None, None, None, None, None


_F32 = np.dtype(np.float32)
_NO_ACT = ("none", 0.0, 0.0)


def _f32_vector(t, n):
    """Tensor t holds a C-contiguous float32 array of shape (n,)."""
    a = t._array
    return a.__class__ is np.ndarray and a.dtype == _F32 and a.shape == (n,) and \
        a.flags.c_contiguous


def _eval_plain(x, C, rm, rv, weight, bias, eps, act=None):
    """A batch-norm module's inference forward on the commonest operands, straight to the
    kernel: x a Tensor of a C-contiguous float32 (N, C, H, W) array, the running statistics,
    weight and bias (each None or) float32 (C,) vectors, nothing to record. It is the call
    ``_batch_norm`` makes once its checks pass (bitwise the same result), without them: a
    ResNet-50 at batch 1 has 53 batch norms. ``act``: None or ``_batch_norm``'s fused
    activation. None for any other operands (the caller then takes ``_batch_norm``, with its
    checks and errors)."""
    if x.__class__ is not Tensor or rm is None or rv is None:
        return None
    xa = x._array
    if xa.__class__ is not np.ndarray or xa.dtype != _F32 or xa.ndim != 4 or \
            not xa.flags.c_contiguous:
        return None
    if xa.shape[1] != C:
        return None
    if not (_f32_vector(rm, C) and _f32_vector(rv, C) and
            (weight is None or _f32_vector(weight, C)) and (bias is None or _f32_vector(bias, C))):
        return None
    if _state.grad and (x.requires_grad or (weight is not None and weight.requires_grad) or
                        (bias is not None and bias.requires_grad)):
        return None
    y, _ = _C.batch_norm_eval(xa, rm._array, rv._array,
                              None if weight is None else weight._array,
                              None if bias is None else bias._array, float(eps),
                              *(_NO_ACT if act is None else act[0]))
    return Tensor._make(y)


def _check_running(fn, x, rm, rv):
    """running_mean / running_var (None or Tensors) must be (C,) for x (N, C, ...)."""
    C = x.shape[1]
    for name, t in (("running_mean", rm), ("running_var", rv)):
        if t is not None and tuple(t.shape) != (C,):
            raise ValueError(f"{fn}: {name} must have shape ({C},) for input of shape "
                             f"{tuple(x.shape)}, got {tuple(t.shape)}")


def _update_running(buf, momentum, stat):
    """In place: buf = (1 − momentum)·buf + momentum·stat (a running statistic)."""
    buf._array *= (1.0 - momentum)
    buf._array += (momentum * stat).astype(buf.dtype, copy=False)
    buf._vc[0] += 1


def batch_norm(input, running_mean, running_var, weight=None, bias=None,  # noqa: A002
               training=False, momentum=0.1, eps=1e-5):
    """Batch normalisation over the channel dimension 1 of an (N, C, ...) input:
    ``y = (x − E[x]) / sqrt(Var[x] + eps) · weight + bias``, statistics per channel over N and
    the spatial dimensions.

    With ``training=True`` the batch statistics are used (biased variance) and, when given,
    ``running_mean``/``running_var`` are updated in place:
    ``running = (1 − momentum)·running + momentum·batch_stat`` with the *unbiased* batch
    variance, as PyTorch does. With ``training=False`` the running statistics are used.

    Example::

        x = fastdl.randn(8, 3, 4, 4)
        rm, rv = fastdl.zeros(3), fastdl.ones(3)
        y = F.batch_norm(x, rm, rv, training=True)   # rm, rv updated
    """
    return _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)


def _batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps,  # noqa: A002
                act=None):
    """``batch_norm``; with ``act`` = (kernel kind, eltwise code, params) of a ReLU / ReLU6 /
    Hardtanh, that activation of it in the same kernel pass (bitwise the same)."""
    fn = "batch_norm"
    x = _float(input, fn)
    if x.ndim < 2:
        raise ValueError(f"{fn}: input must have at least 2 dimensions (N, C, ...), got shape "
                         f"{tuple(x.shape)}")
    rm, rv = _t(running_mean), _t(running_var)
    if not training and (rm is None or rv is None):
        raise ValueError(f"{fn}: running_mean and running_var are required when "
                         f"training=False")
    C = x.shape[1]
    _check_running(fn, x, rm, rv)
    if training and momentum is not None and not isinstance(momentum, numbers.Real):
        raise TypeError(f"{fn}: momentum must be a number, got {type(momentum).__name__}")
    w, b = _t(weight), _t(bias)
    if not training and not (_state.grad and (x.requires_grad or (w is not None and
                                                                 w.requires_grad) or
                                               (b is not None and b.requires_grad))):
        # inference: nothing to record, the kernel straight away
        kind = ("none", 0.0, 0.0) if act is None else act[0]
        return Tensor._make(_bn_eval(x._array, rm._array, rv._array,
                                     None if w is None else _c(w._array),
                                     None if b is None else _c(b._array), float(eps), kind,
                                     False)[0])
    stats = {}
    defer = (x._vc, x._vc[0]) if training and act is None and _deferred.can_defer(x) else None
    y = _BatchNorm.apply(x, _t(weight), _t(bias), None if rm is None else rm._array,
                         None if rv is None else rv._array, bool(training), momentum, float(eps),
                         stats, act, defer)
    if training and (rm is not None or rv is not None):
        m = 0.0 if momentum is None else float(momentum)
        count = x._array.size // C if C else 0
        if rm is not None:
            _update_running(rm, m, stats["mean"])
        if rv is not None:
            _update_running(rv, m, stats["var"].astype(np.float64) * (count / max(count - 1, 1)))
    return y


class _LayerNorm(_Op):
    _double = True

    @staticmethod
    def forward(ctx, x, weight, bias, K, eps):
        shape = x.shape
        x2 = np.ascontiguousarray(x).reshape(-1, K)
        w = None if weight is None else np.ascontiguousarray(weight).reshape(K)
        b = None if bias is None else np.ascontiguousarray(bias).reshape(K)
        y, mean, rstd = _C.layer_norm_forward(x2, w, b, eps)
        ctx.save_for_backward(x2, w, mean, rstd)
        ctx.shapes = (shape, None if weight is None else weight.shape,
                      None if bias is None else bias.shape)
        return y.reshape(shape)

    @staticmethod
    def backward(ctx, g):
        x2, w, mean, rstd = ctx.saved_tensors
        shape, wshape, bshape = ctx.shapes
        n = ctx.needs_input_grad
        if isinstance(g, Tensor):  # create_graph: the formula from recorded ops
            return _layer_norm_backward_graph(ctx, g, rstd, n) + (None, None)
        g2 = np.ascontiguousarray(g, x2.dtype).reshape(x2.shape)
        gx, gw, gb = _C.layer_norm_backward(g2, x2, w, mean, rstd, n[0],
                                            n[1] and w is not None, n[2] and bshape is not None)
        return (None if gx is None else gx.reshape(shape),
                None if gw is None else gw.reshape(wshape),
                None if gb is None else gb.reshape(bshape), None, None)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-5):  # noqa: A002
    """Layer normalisation over the trailing ``normalized_shape`` dimensions:
    ``y = (x − E[x]) / sqrt(Var[x] + eps) · weight + bias`` (biased variance), with
    ``weight``/``bias`` of shape ``normalized_shape`` (or None).

    Example::

        y = F.layer_norm(fastdl.randn(4, 10, 32), (32,))
    """
    fn = "layer_norm"
    x = _float(input, fn)
    if isinstance(normalized_shape, numbers.Integral):
        normalized_shape = (int(normalized_shape),)
    ns = tuple(int(s) for s in normalized_shape)
    if len(ns) == 0 or len(ns) > x.ndim or tuple(x.shape[x.ndim - len(ns):]) != ns:
        raise ValueError(f"{fn}: input of shape {tuple(x.shape)} does not end with "
                         f"normalized_shape {ns}")
    w, b = _t(weight), _t(bias)
    for name, t in (("weight", w), ("bias", b)):
        if t is not None and tuple(t.shape) != ns:
            raise ValueError(f"{fn}: {name} must have shape {ns}, got {tuple(t.shape)}")
    K = int(np.prod(ns))
    return _LayerNorm.apply(x, w, b, K, float(eps))


class _GroupNorm(_Op):
    @staticmethod
    def forward(ctx, x, weight, bias, G, eps):
        x = np.ascontiguousarray(x)
        weight, bias = _c(weight), _c(bias)
        y, mean, rstd = _C.group_norm_forward(x, G, weight, bias, eps)
        ctx.G = G
        ctx.has_bias = bias is not None
        ctx.save_for_backward(x, weight, mean, rstd)
        return y

    @staticmethod
    def backward(ctx, g):
        x, w, mean, rstd = ctx.saved_tensors
        n = ctx.needs_input_grad
        gx, gw, gb = _C.group_norm_backward(np.ascontiguousarray(g, x.dtype), x, ctx.G, w, mean,
                                            rstd, n[0], n[1] and w is not None,
                                            n[2] and ctx.has_bias)
        return gx, gw, gb, None, None


def group_norm(input, num_groups, weight=None, bias=None, eps=1e-5):  # noqa: A002
    """Group normalisation: the C channels of an (N, C, ...) input split into ``num_groups``
    groups; each (sample, group) is normalised with its own mean and biased variance, then
    scaled and shifted per channel: ``y = (x − E[x]) / sqrt(Var[x] + eps) · weight[c] + bias[c]``.

    Example::

        y = F.group_norm(fastdl.randn(2, 6, 5, 5), 3)
    """
    fn = "group_norm"
    x = _float(input, fn)
    if x.ndim < 2:
        raise ValueError(f"{fn}: input must have at least 2 dimensions (N, C, ...), got shape "
                         f"{tuple(x.shape)}")
    if isinstance(num_groups, bool) or not isinstance(num_groups, numbers.Integral):
        raise TypeError(f"{fn}: num_groups must be an int, got {type(num_groups).__name__}")
    G = int(num_groups)
    C = x.shape[1]
    if G <= 0 or C % G:
        raise ValueError(f"{fn}: num_channels {C} must be divisible by num_groups {G} "
                         f"(input shape {tuple(x.shape)})")
    w, b = _t(weight), _t(bias)
    for name, t in (("weight", w), ("bias", b)):
        if t is not None and tuple(t.shape) != (C,):
            raise ValueError(f"{fn}: {name} must have shape ({C},), got {tuple(t.shape)}")
    return _GroupNorm.apply(x, w, b, G, float(eps))


def instance_norm(input, running_mean=None, running_var=None, weight=None, bias=None,  # noqa: A002
                  use_input_stats=True, momentum=0.1, eps=1e-5):
    """Instance normalisation of an (N, C, ...) input: each (sample, channel) plane is
    normalised with its own mean and biased variance, then scaled and shifted per channel,
    ``y = (x − E[x]) / sqrt(Var[x] + eps) · weight[c] + bias[c]`` (the group norm with one
    channel per group, and its kernel). When ``running_mean``/``running_var`` are given and
    ``use_input_stats``, they are updated in place with the batch average of the per-instance
    mean and unbiased variance (``running = (1 − momentum)·running + momentum·stat``), as
    PyTorch does; ``use_input_stats=False`` normalises with the running statistics instead.

    Example::

        y = F.instance_norm(fastdl.randn(4, 3, 8, 8))
    """
    fn = "instance_norm"
    x = _float(input, fn)
    if x.ndim < 3:
        raise ValueError(f"{fn}: input must have at least 3 dimensions (N, C, ...), got shape "
                         f"{tuple(x.shape)}")
    if not use_input_stats:
        if running_mean is None or running_var is None:
            raise ValueError(f"{fn}: running_mean and running_var are required when "
                             "use_input_stats=False")
        return batch_norm(x, running_mean, running_var, weight, bias, False, momentum, eps)
    N, C = x.shape[0], x.shape[1]
    rm, rv = _t(running_mean), _t(running_var)
    _check_running(fn, x, rm, rv)
    y = group_norm(x, C, weight, bias, eps)
    if (rm is not None or rv is not None) and N > 0:
        m = float(momentum)
        planes = np.asarray(x._array, dtype=np.float64).reshape(N, C, -1)
        cnt = planes.shape[2]
        if rm is not None:
            _update_running(rm, m, planes.mean(axis=2).mean(axis=0))
        if rv is not None:
            _update_running(rv, m, (planes.var(axis=2) * (cnt / max(cnt - 1, 1))).mean(axis=0))
    return y


# ---- double backward (create_graph=True) ----------------------------------------------------
def _arr(t):
    return t._array if isinstance(t, Tensor) else np.asarray(t)


def _input_t(ctx, k, saved):
    """The graph-connected Tensor of forward argument k (a constant when it needs no grad)."""
    p = ctx.parents[k]
    return p if p is not None else Tensor._make(_arr(saved))


def _eps_of(x, axes, rstd):
    """The eps the forward used, recovered from its saved 1/sqrt(var + eps) (eps is not kept
    on the node): mean over the groups of 1/rstd² − var, in float64."""
    xa = np.asarray(x, np.float64)
    var = xa.var(axis=axes)
    r = np.asarray(rstd, np.float64).reshape(var.shape)
    return float(np.mean(1.0 / (r * r) - var))


def _norm_grads(x, g, w, axes, eps):
    """dx, dw·, db· of y = w·x̂ + b, x̂ = (x − mean)·(var + eps)^−½ over `axes`, as recorded
    ops: dx = rstd·(ĝ − mean(ĝ) − x̂·mean(ĝ·x̂)), ĝ = g·w."""
    mean = x.mean(axes, keepdim=True)
    xc = x - mean
    var = (xc * xc).mean(axes, keepdim=True)
    rstd = (var + eps) ** -0.5
    xhat = xc * rstd
    gh = g if w is None else g * w
    gx = rstd * (gh - gh.mean(axes, keepdim=True) - xhat * (gh * xhat).mean(axes, keepdim=True))
    return gx, xhat


def _layer_norm_backward_graph(ctx, g, rstd, n):
    shape, wshape, bshape = ctx.shapes
    x = _input_t(ctx, 0, ctx.saved_tensors[0])
    K = _arr(ctx.saved_tensors[0]).shape[1]  # the forward's (rows, K) view of x
    x2 = x.reshape(-1, K)
    g2 = g.reshape(-1, K)
    w = None
    if wshape is not None:
        w = _input_t(ctx, 1, ctx.saved_tensors[1]).reshape(1, K)
    eps = _eps_of(x2._array, (1,), _arr(rstd))
    gx, xhat = _norm_grads(x2, g2, w, (1,), eps)
    gw = (g2 * xhat).sum(0).reshape(wshape) if (n[1] and wshape is not None) else None
    gb = g2.sum(0).reshape(bshape) if (n[2] and bshape is not None) else None
    return (gx.reshape(shape) if n[0] else None), gw, gb


def _batch_norm_backward_graph(ctx, g, mean, invstd, n):
    xs = ctx.saved_tensors[0]
    x = _input_t(ctx, 0, xs if ctx.cl is None else _from_rows(_arr(xs), ctx.cl))
    xa = x._array
    c = xa.shape[1]
    bshape = (1, c) + (1,) * (xa.ndim - 2)
    axes = (0,) + tuple(range(2, xa.ndim))
    weight = ctx.saved_tensors[1]
    w = None if weight is None else _input_t(ctx, 1, weight).reshape(bshape)
    if ctx.training:
        eps = _eps_of(np.moveaxis(xa, 1, 0).reshape(c, -1), (1,), _arr(invstd))
        gx, xhat = _norm_grads(x, g, w, axes, eps)
    else:  # running statistics: an affine map of x
        m = Tensor._make(_arr(mean).reshape(bshape).astype(xa.dtype))
        r = Tensor._make(_arr(invstd).reshape(bshape).astype(xa.dtype))
        xhat = (x - m) * r
        gx = (g if w is None else g * w) * r
    gw = (g * xhat).sum(axes) if (n[1] and weight is not None) else None
    gb = g.sum(axes) if n[2] else None
    return (gx if n[0] else None), gw, gb


# the activation op asks here whether its backward can be finished by the batch norm before it
_Act._fuse_up = staticmethod(_fuse_act_backward)
