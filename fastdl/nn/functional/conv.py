"""fastdl.nn.functional: convolution (``conv2d``, ``conv1d``) and its output-size rule.

Python entry of ``csrc/bindings/bind_conv.cpp`` → ``csrc/kernels/conv/``.
"""
from __future__ import annotations

import weakref

import numpy as np

from ... import _C
from ...autograd.function import _Op
from ...autograd.grad_mode import _state
from ...tensor import Tensor, _cl_only, _from_rows, _nchw, _nhwc, _rows, _to_cl
from ._args import _tuple, _float as _check_tensor

__all__ = ["conv_output_size", "conv2d", "conv1d", "conv_transpose2d", "conv_transpose1d"]
# Not re-exported into ``F`` (torch has no such names); reach them as
# ``fastdl.nn.functional.conv.<name>``: conv2d_algorithm, set_conv_algorithm,
# get_conv_algorithm, conv_algorithm, clear_weight_cache.

import contextlib

_ALGOS = ("auto", "direct", "gemm", "winograd")


def set_conv_algorithm(name):
    """Force the algorithm every convolution runs (process-wide), or ``"auto"`` (the default)
    to let fastdl choose per shape. ``FASTDL_CONV_ALGO`` sets the initial value.

    * ``"direct"``: direct kernels (AVX-512 float32, stride 1), else im2col + GEMM per image;
    * ``"gemm"``: batched im2col + GEMM — the im2col matrices of a chunk of images side by
      side, one GEMM per chunk (any stride, dilation, groups);
    * ``"winograd"``: Winograd F(2×2, 3×3) or F(4×4, 3×3) (the tile: ``FASTDL_WINOGRAD_TILE``,
      see ``conv_algorithm``) for 3×3, stride 1, dilation 1 (forward, input gradient and
      weight gradient), and the stride-2 tile for the forward and the weight gradient of
      3×3, stride 2, dilation 1 (other shapes and passes take the automatic choice);
    * ``"auto"``: a per-shape rule measured on this machine (``conv2d_algorithm`` shows it):
      Winograd for float32 3×3 stride-1 layers with at least 32 input and output channels
      and enough output pixels in the batch (all three passes), the stride-2 tile for the
      forward of 3×3 stride-2 layers of 32 to 256 channels (and their weight gradient from
      C·K = 128·256), else direct or batched GEMM.

    Depthwise convolutions always run their own kernels. Results of different algorithms
    agree to rounding (float32 within 1e-4 of the float64 reference on unit-scale data).

    Example: ``from fastdl.nn.functional import conv``; ``conv.set_conv_algorithm("gemm")``;
    ``conv.get_conv_algorithm() == "gemm"``
    """
    if name not in _ALGOS:
        raise ValueError(f"set_conv_algorithm: name must be one of {', '.join(_ALGOS)}, "
                         f"got {name!r}")
    _C.conv2d_set_algorithm(name)


def get_conv_algorithm():
    """The forced convolution algorithm, ``"auto"`` when none is forced
    (see ``set_conv_algorithm``).

    Example: ``fastdl.nn.functional.conv.get_conv_algorithm()`` → ``'auto'``
    """
    return _C.conv2d_get_algorithm()


@contextlib.contextmanager
def conv_algorithm(name):
    """Context manager: force convolution algorithm ``name`` inside the block (see
    ``set_conv_algorithm``), restoring the previous setting after.

    The automatic rule (``"auto"``), per float32 pass: Winograd for a 3×3, stride-1,
    dilation-1 layer with at least 32 input and output channels (per group, in a grouped
    layer; depthwise layers keep their own kernels) and at least 128 output pixels in the
    batch (N·OH·OW) for the forward and the weight gradient, 96 (N·H·W) for the input
    gradient; a grouped layer from 32 pixels in the forward and the input gradient, and in
    the weight gradient too when it has 8 or more groups; never for float64. Otherwise the
    direct kernel or the batched GEMM. A grouped layer runs group by group, each group on
    its own channels' planes (with two or more groups per thread, the groups shared out
    among the threads), bitwise the same layer run on that group's channels alone. The
    inference path's prepacked weights (graph-free
    float32 forwards of ungrouped layers, and ``fastdl.optimize_for_inference``) hold
    Winograd's transformed filters from 16 output pixels on, since the filter transform is
    then done once, at packing (batch 1: 512→512 on 7×7 maps 2.6 → 1.6 ms on one thread).

    The forward of a 3×3 stride-2 layer (groups 1) with 32 to 256 input and output channels
    and at least 256 output pixels in the batch takes the stride-2 tile: per 5×5 window
    (windows 4 apart) the 2×2 outputs of the strided correlation, whose even taps (w0, w2) on
    the window's even values are F(2, 2) and whose odd tap w1 is two plain products, in each
    direction: 25 multiplications for 4 outputs instead of 36 (1.44×), with transforms of
    additions only (Bᵀ d = (d0 − d2, d2, d4 − d2, d1, d3), G g = (g0, g0 + g2, g2, g1, g1),
    Aᵀ m = (m0 + m1 + m3, m1 + m2 + m4)); its float32 error is below the direct kernel's
    (forward of a (2, C, 16, 16) input with 16 filters: 2.8e-7, 3.4e-7, 5.1e-7, 7.0e-7,
    9.8e-7 of max |y| at C = 32, 64, 128, 256, 512, against 5.7e-7 to 2.0e-6). On
    ResNet-18's and ResNet-50's stride-2 layers of up to 256 channels it runs the forward
    1.05–1.16× faster than the strided direct kernel. The weight gradient takes the same
    tile's adjoint (dM = A dY Aᵀ with A dY = (y0, y0 + y1, y1, y0, y1); dW = Gᵀ dU G with
    Gᵀ u = (u0 + u1, u3 + u4, u1 + u2)) when C·K is at least 128·256 (fewer channels: its
    transforms outweigh the saving): 1.15–1.35× the direct kernel on ResNet-18's 128→256
    16² and ResNet-50's 256→256 28² layers; its float32 error is the direct kernel's
    (weight gradient of a (N, 16, H, H) input with 16 filters: 2.9e-7, 7.8e-7, 8.4e-7 of
    max |dW| at N × H² = 2 × 16², 8 × 64², 32 × 64², against 2.1e-7, 7.7e-7, 6.4e-7). The
    input gradient keeps the strided direct kernel (1.1–1.4× torch's on these layers).

    The weight gradient by Winograd is the adjoint of the forward's algorithm: per tile of
    the batch, the transformed input V = Bᵀ d B and the transformed output gradient
    dM = A dY Aᵀ; dU = Σ over the batch's tiles of V ⊙ dM (as 16 or 36 GEMMs, channels ×
    tiles × channels, summed in blocks of tiles in a fixed order: bitwise the same for any
    thread count); dW = Gᵀ dU G.

    Winograd's tile, ``FASTDL_WINOGRAD_TILE`` (read on every call): ``2`` (F(2×2, 3×3)),
    ``4`` (F(4×4, 3×3), interpolation points 0, ±2/3, ±3/2, ∞), or ``auto`` (the default):
    F(4×4) when the pass sums over at most 256 channels (the forward over the input channels,
    the input gradient over the output channels; the weight gradient when both counts are at
    most 256), else F(2×2). Any other value is a ValueError naming the variable. F(4×4) does
    4× fewer multiplications than the direct sum, F(2×2) 2.25×, but F(4×4)'s float32 error
    grows faster with the number of summed channels, and is 2–4× F(2×2)'s in the weight
    gradient; up to 256 channels it stays within 2.3e-6 of the largest output, about the
    direct kernel's error at 512 channels.

    Measured float32 accuracy against the float64 reference, max |error| / max |y|, on
    unit-normal x and w: forward of a (2, C, 8, 8) input with 16 filters, padding 1; input
    gradient of 16 input channels with C filters (a C-channel sum), unit-normal grad_output:

    ====  =======  =======  =======  =======  =============
    C     pass     F(2×2)   F(4×4)   gemm     direct kernel
    ====  =======  =======  =======  =======  =============
    32    forward  2.5e-7   7.6e-7   2.8e-7   4.7e-7
    32    input    2.3e-7   7.7e-7   1.6e-7   7.5e-7
    64    forward  3.2e-7   1.4e-6   3.7e-7   6.4e-7
    64    input    3.3e-7   1.2e-6   2.2e-7   6.9e-7
    128   forward  4.7e-7   1.7e-6   3.3e-7   1.2e-6
    128   input    3.4e-7   1.4e-6   2.5e-7   8.2e-7
    256   forward  4.9e-7   1.7e-6   2.8e-7   1.4e-6
    256   input    5.3e-7   2.3e-6   3.4e-7   1.1e-6
    512   forward  7.4e-7   2.9e-6   2.7e-7   1.6e-6
    512   input    6.6e-7   2.7e-6   2.8e-7   1.6e-6
    ====  =======  =======  =======  =======  =============

    Weight gradient, max |error| / max |dW|, of a (N, 16, H, H) input with 16 filters,
    padding 1, unit-normal x and grad_output (a sum over the N·H·H output pixels; the
    channel counts do not enter):

    ========  =======  =======  =======  =============
    N × H²    F(2×2)   F(4×4)   gemm     direct kernel
    ========  =======  =======  =======  =============
    2 × 8²    2.6e-7   1.0e-6   4.0e-7   2.3e-7
    8 × 32²   5.2e-7   1.3e-6   2.7e-7   5.9e-7
    32 × 32²  8.7e-7   1.7e-6   4.8e-7   7.0e-7
    ========  =======  =======  =======  =============

    (the direct kernel: AVX-512 float32; ``tests/test_conv_winograd.py`` holds the
    Winograd rows to these figures.)

    Example::

        with fastdl.nn.functional.conv.conv_algorithm("winograd"):
            y = F.conv2d(x, w, padding=1)
    """
    prev = get_conv_algorithm()
    set_conv_algorithm(name)
    try:
        yield
    finally:
        _C.conv2d_set_algorithm(prev)


def conv2d_algorithm(input_shape, weight_shape, stride=1, padding=0, dilation=1, groups=1,
                     dtype=np.float32):
    """The algorithms ``conv2d`` runs for this geometry under the current setting, as a tuple
    ``(forward, input_gradient, weight_gradient)`` of names (``"direct"``, ``"gemm"``,
    ``"winograd"``). ``input_shape`` (N, C, H, W), ``weight_shape`` (K, C/groups, kH, kW);
    ``padding`` an int or pair (symmetric).

    Examples with the automatic choice (float32, one thread or more):
    ``conv.conv2d_algorithm((32, 512, 4, 4), (512, 512, 3, 3), padding=1)`` →
    ``('winograd', 'winograd', 'winograd')``;
    ``conv.conv2d_algorithm((4, 512, 4, 4), (512, 512, 3, 3), padding=1)`` (64 output
    pixels: the transforms are not amortised) → ``('gemm', 'gemm', 'gemm')``;
    ``conv.conv2d_algorithm((32, 3, 32, 32), (64, 3, 3, 3), padding=1)`` →
    ``('direct', 'gemm', 'gemm')``.
    """
    fn = "conv2d_algorithm"
    N, C, H, W = (int(v) for v in input_shape)
    K, cg, kh, kw = (int(v) for v in weight_shape)
    if cg * groups != C:
        raise ValueError(f"{fn}: weight {tuple(weight_shape)} does not match input "
                         f"{tuple(input_shape)} with groups={groups}")
    sh, sw = _tuple(stride, 2, fn, "stride")
    ph, pw = _tuple(padding, 2, fn, "padding")
    dh, dw = _tuple(dilation, 2, fn, "dilation")
    return tuple(_C.conv2d_algorithm(N, C, H, W, K, kh, kw, sh, sw, ph, ph, pw, pw, dh, dw,
                                     int(groups), np.dtype(dtype).itemsize))


def _conv_out_1(size, k, s, p, d):
    if s < 1:
        raise ValueError(f"conv_output_size: stride must be >= 1, got {s}")
    if d < 1:
        raise ValueError(f"conv_output_size: dilation must be >= 1, got {d}")
    if p < 0:
        raise ValueError(f"conv_output_size: padding must be >= 0, got {p}")
    if k < 1:
        raise ValueError(f"conv_output_size: kernel_size must be >= 1, got {k}")
    num = size + 2 * p - d * (k - 1) - 1
    out = num // s + 1
    if out < 1:
        raise ValueError(
            f"conv_output_size: output size would be {out} < 1: floor((size + 2·padding − "
            f"dilation·(kernel_size − 1) − 1) / stride) + 1 = floor(({size} + 2·{p} − "
            f"{d}·({k} − 1) − 1) / {s}) + 1 = {out} (the kernel is larger than the padded "
            f"input)")
    return out


def conv_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    """Output length of a convolution along each spatial dimension:

        out = floor((size + 2·padding − dilation·(kernel_size − 1) − 1) / stride) + 1

    Every argument is an int or a tuple (one entry per spatial dimension); ints broadcast.
    Returns an int when every argument is an int, else a tuple. An output smaller than 1 is a
    ValueError that shows the formula with the numbers filled in.

    Example: ``conv_output_size(28, 5) == 24``; ``conv_output_size((56, 56), 3, stride=2,
    padding=1) == (28, 28)``
    """
    args = (size, kernel_size, stride, padding, dilation)
    n = max((len(a) for a in args if not isinstance(a, (int, np.integer))), default=0)
    if n == 0:
        return _conv_out_1(*(int(_tuple(a, 1, "conv_output_size", nm)[0]) for a, nm in
                             zip(args, ("size", "kernel_size", "stride", "padding",
                                        "dilation"))))
    names = ("size", "kernel_size", "stride", "padding", "dilation")
    cols = [_tuple(a, n, "conv_output_size", nm) for a, nm in zip(args, names)]
    return tuple(_conv_out_1(*(c[i] for c in cols)) for i in range(n))


_PW_GEOMETRY = (1, 1, 0, 0, 0, 0, 1, 1, 1)  # stride 1, no padding, dilation 1, one group


def _cl_kernel_operands(x, w, b):
    """x a channels-last (not C-contiguous) 4-D float32/float64 array, w of its dtype, b None
    or its dtype of shape (K,): the operands the channels-last kernels take (others take the
    NCHW path and its errors)."""
    return x.ndim == 4 and not x.flags.c_contiguous and x.dtype == w.dtype and \
        x.dtype.kind == "f" and x.dtype.itemsize >= 4 and \
        (b is None or (b.dtype == x.dtype and b.shape == (w.shape[0],))) and _cl_only(x)


def _nhwc_pointwise(x, w, b, cfg):
    """A 1×1 convolution (stride 1, no padding, one group) of a channels-last float input:
    on the NHWC storage it is the plain product Y (N·H·W × K) = X (N·H·W × C) · Wᵀ, so it runs
    as fastdl's GEMM on the rows, with no layout copy (the backward likewise: dX = dY·W,
    dW = dYᵀ·X). Operands the kernel path would refuse (dtypes, bias shape) take that path
    and its errors."""
    return cfg[3:] == _PW_GEOMETRY and cfg[1][2:] == (1, 1) and _cl_kernel_operands(x, w, b)


def _nhwc_pointwise_forward(x, w, b):
    """(output in channels-last layout, the input rows, the (K, C) weight): ``_nhwc_pointwise``."""
    n, _, h, wd = x.shape
    xr = _rows(x)
    w2 = np.ascontiguousarray(w.reshape(w.shape[0], w.shape[1]))
    yr = _C.linear(xr, w2, None if b is None else np.ascontiguousarray(b))
    return _from_rows(yr, (n, w.shape[0], h, wd)), xr, w2


def _nhwc_depthwise(x, w, b, cfg):
    """A depthwise convolution (groups = C = K, weight (C, 1, kh, kw)) of a channels-last
    float input: the channel-blocked kernels run on its NHWC storage with no layout copy
    (``_C.conv2d_depthwise_nhwc_forward``, which returns None where the ISA or shape has no
    such kernel: then the NCHW path). Operands the kernel path would refuse take that path
    and its errors."""
    g = cfg[-1]
    return g > 1 and x.ndim == 4 and x.shape[1] == g and w.shape[0] == g and \
        w.shape[1] == 1 and w.flags.c_contiguous and _cl_kernel_operands(x, w, b)


def _nhwc_depthwise_forward(x, w, b, cfg, act=None):
    """(``_nhwc_depthwise``) the channels-last output (N, K, OH, OW), or None."""
    lo, hi = (-np.inf, np.inf) if act is None else act
    y = _C.conv2d_depthwise_nhwc_forward(_nhwc(x), w, None if b is None else
                                         np.ascontiguousarray(b), *cfg[3:11], lo, hi)
    return None if y is None else y.transpose(0, 3, 1, 2)


class _ConvOp(_Op):
    """Conv on 4-D arrays; 3-D (1-D conv / unbatched) inputs are viewed as 4-D in place."""

    _double = True
    _fresh_grads = True  # each gradient a new array of _C

    @staticmethod
    def forward(ctx, x, w, b, cfg):
        if _nhwc_pointwise(x, w, b, cfg):
            y, xr, w2 = _nhwc_pointwise_forward(x, w, b)
            ctx.save_for_backward(xr, w2)
            ctx.nhwc, ctx.cfg, ctx.y4 = True, cfg, y.shape
            ctx.shapes, ctx.has_bias = (x.shape, w.shape), b is not None
            return y
        ctx.nhwc = False
        if _nhwc_depthwise(x, w, b, cfg):
            y = _nhwc_depthwise_forward(x, w, b, cfg)
            if y is not None:
                ctx.save_for_backward(x, w)
                ctx.cfg, ctx.shapes, ctx.has_bias, ctx.y4 = cfg, (x.shape, w.shape), \
                    b is not None, y.shape
                ctx.dwcl = True
                return y
        ctx.dwcl = False
        # cfg: (x_view_shape, w_view_shape, out_squeeze, stride_h, stride_w, pt, pb, pl, pr,
        #       dil_h, dil_w, groups)
        # channels last (torch's rule: a 4-D input or weight in channels-last layout): the
        # kernel runs on NCHW copies and the output (and input gradient) come back
        # channels-last. The test is at run time, outside the cached geometry cfg.
        wcl = not w.flags.c_contiguous and x.ndim == 4 and _cl_only(w)
        cl = wcl or (not x.flags.c_contiguous and _cl_only(x))
        x4 = _nchw(x).reshape(cfg[0])
        w4 = _nchw(w).reshape(cfg[1])
        if b is not None:
            b = np.ascontiguousarray(b)
        y = _C.conv2d_forward(x4, w4, b, *cfg[3:])
        ctx.save_for_backward(x4, w4)
        ctx.cfg = cfg
        ctx.shapes = (x.shape, w.shape)
        ctx.has_bias = b is not None
        ctx.y4 = y.shape
        ctx.cl, ctx.wcl = cl, wcl
        return _to_cl(y) if cl else y.reshape(cfg[2])

    @staticmethod
    def backward(ctx, g):
        x4, w4 = ctx.saved_tensors
        cfg = ctx.cfg
        n = ctx.needs_input_grad
        if ctx.nhwc:  # x4, w4: the input rows (N·H·W, C) and the (K, C) weight
            xs, ws = ctx.shapes
            if isinstance(g, Tensor):  # (x4/w4 are read only when x/w are not recorded)
                xa, wa = (a._array if isinstance(a, Tensor) else a for a in (x4, w4))
                return _conv_backward_graph(ctx, _from_rows(xa, xs), wa.reshape(ws), g, n)
            gr = _rows(_to_cl(g))
            gx = _from_rows(_C.matmul(gr, w4), xs) if n[0] else None
            gw = _C.matmul(gr, x4, trans_a=True).reshape(ws) if n[1] else None
            gb = gr.sum(axis=0) if n[2] and ctx.has_bias else None
            return gx, gw, gb, None
        if isinstance(g, Tensor):  # create_graph: the backward as a differentiable op
            return _conv_backward_graph(ctx, x4, w4, g, n)
        if ctx.dwcl:  # x4: the channels-last input; the gradients channels-last too
            r = _C.conv2d_depthwise_nhwc_backward(_nhwc(x4), w4, _nhwc(_to_cl(g)), *cfg[3:11],
                                                  bool(n[0]), bool(n[1]),
                                                  bool(n[2]) and ctx.has_bias)
            if r is not None:
                return (None if r[0] is None else r[0].transpose(0, 3, 1, 2)), r[1], r[2], None
            x4, ctx.cl, ctx.wcl = _nchw(x4), True, False
        g4 = _nchw(g).reshape(ctx.y4)
        gx, gw, gb = _C.conv2d_backward(x4, w4, g4, *cfg[3:], bool(n[0]), bool(n[1]),
                                        bool(n[2]) and ctx.has_bias)
        if gx is not None:
            gx = _to_cl(gx) if ctx.cl else gx.reshape(ctx.shapes[0])
        if gw is not None:
            gw = _to_cl(gw) if ctx.wcl else gw.reshape(ctx.shapes[1])
        return gx, gw, gb, None


# ---- inference: the weight transform cached per weight version ---------------------------
# id(weight Tensor) -> (weak reference to it, {geometry: (weight array, weight version,
# packed array or None, the weight as a C-contiguous 4-D array: a view, or the NCHW copy of
# a channels-last weight)}); the entry goes when the weight is collected. A
# forward that records no graph (grad mode off, or nothing requiring grad) runs on the weight
# packed once by ``_C.conv2d_pack_weight`` for its geometry, re-packed when the weight's
# version changes (optimizer steps, in-place ops, ``load_state_dict``) or its array is
# replaced. Writes that bypass the version counter (into the array of ``w.numpy()``) are not
# seen: call ``clear_weight_cache()`` after them.
_PACKS = {}
_MAX_GEOMETRIES = 4  # per weight; more distinct input shapes reset that weight's entries


def clear_weight_cache():
    """Drop every cached packed convolution weight (the inference path packs each weight
    once per weight version and input geometry; writes into a weight's array that bypass
    fastdl's version counter, e.g. through ``w.numpy()``, need this call).

    Example: ``fastdl.nn.functional.conv.clear_weight_cache()``
    """
    _PACKS.clear()


def _forward_packed(x, w, b, cfg, act=None):
    """The graph-free float32 forward on the cached packed weight (the plain forward where
    the shape has no packed plan), or None for other dtypes (the caller runs the op).
    ``act``: None, or the (lo, hi) clamp of a fused activation, applied by the kernel."""
    wa = w._array
    if wa.dtype != np.float32 or x._array.dtype != np.float32:
        return None
    ba = None if b is None else b._array
    if not x._array.flags.c_contiguous:  # (the channels-last kernels' operands)
        if _nhwc_pointwise(x._array, wa, ba, cfg):
            return _act_(Tensor._make(_nhwc_pointwise_forward(x._array, wa, ba)[0]), act)
        if _nhwc_depthwise(x._array, wa, ba, cfg):
            y = _nhwc_depthwise_forward(x._array, wa, ba, cfg, act)
            if y is not None:
                return Tensor._make(y)
    key = cfg[:2] + cfg[3:]
    slot = _PACKS.get(id(w))
    if slot is None or slot[0]() is not w:
        i = id(w)
        slot = _PACKS[i] = (weakref.ref(w, lambda _, i=i: _PACKS.pop(i, None)), {})
    ent = slot[1]
    hit = ent.get(key)
    x4 = _nchw(x._array).reshape(cfg[0])
    if hit is None or hit[0] is not wa or hit[1] != w._vc[0]:
        if len(ent) >= _MAX_GEOMETRIES:
            ent.clear()
        w4 = _nchw(wa).reshape(cfg[1])  # (a channels-last weight: a copy)
        hit = ent[key] = (wa, w._vc[0], _C.conv2d_pack_weight(x4, w4, *cfg[3:]), w4)
    ba = None if b is None else np.ascontiguousarray(b._array)
    lo, hi = (-np.inf, np.inf) if act is None else act
    if hit[2] is None:  # no packed plan for this shape: the plain forward, still graph-free
        y = _C.conv2d_forward(x4, hit[3], ba, *cfg[3:], lo, hi)
    else:
        y = _C.conv2d_forward_packed(x4, hit[3], hit[2], ba, *cfg[3:], lo, hi)
    xa = x._array
    if (not xa.flags.c_contiguous and _cl_only(xa)) or \
            (not wa.flags.c_contiguous and xa.ndim == 4 and _cl_only(wa)):
        return Tensor._make(_to_cl(y))  # channels last in, channels last out (as _ConvOp)
    return Tensor._make(y.reshape(cfg[2]))


def _operands(fn, nd, input, weight, bias, groups, weight_layout):
    """(x, w, b, groups) checked: float tensors, x (N, C, ...) or unbatched, w of rank nd+2,
    groups a positive int. Shared by the convolutions and the transposed ones."""
    x = _check_tensor(input, fn, "input")
    w = _check_tensor(weight, fn, "weight")
    b = None if bias is None else _check_tensor(bias, fn, "bias")
    if x.ndim not in (nd + 1, nd + 2):
        raise ValueError(f"{fn}: expected {nd + 1}-D (unbatched) or {nd + 2}-D (batched) "
                         f"input, got shape {tuple(x.shape)}")
    if w.ndim != nd + 2:
        raise ValueError(f"{fn}: weight must be {nd + 2}-D{weight_layout}, got shape "
                         f"{tuple(w.shape)}")
    if isinstance(groups, bool) or not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{fn}: groups must be a positive int, got {groups!r}")
    return x, w, b, int(groups)


# The checked geometry of a convolution call, keyed by everything it is a function of:
# (fn, input, weight and bias shapes and dtypes, stride, padding, dilation, groups) → cfg.
# A call whose arguments are plain (Tensors; ints, tuples of ints or a padding string) and
# seen before skips the argument checks; any other call takes the checking path.
_GEOMETRY = {}
_MAX_GEOMETRY = 4096


def _plain(v):
    c = v.__class__
    if c is int or c is str:
        return True
    if c is not tuple:
        return False
    for e in v:  # (a loop: all() over a generator costs more than the rest of the check)
        if e.__class__ is not int:
            return False
    return True


def _conv(fn, nd, input, weight, bias, stride, padding, dilation, groups, act=None):
    key = None
    if isinstance(input, Tensor) and isinstance(weight, Tensor) and groups.__class__ is int \
            and _plain(stride) and _plain(padding) and _plain(dilation):
        xa, wa = input._array, weight._array
        if bias is None:
            key = (fn, xa.shape, xa.dtype, wa.shape, wa.dtype, None, stride, padding,
                   dilation, groups)
        elif isinstance(bias, Tensor):
            ba = bias._array
            key = (fn, xa.shape, xa.dtype, wa.shape, wa.dtype, ba.shape, ba.dtype, stride,
                   padding, dilation, groups)
        cfg = _GEOMETRY.get(key) if key is not None else None
        if cfg is not None:
            return _run_conv(input, weight, bias, cfg, act)
    cfg = _conv_geometry(fn, nd, input, weight, bias, stride, padding, dilation, groups)
    x, w, b = cfg[-1]
    cfg = cfg[:-1]
    if key is not None:
        if len(_GEOMETRY) >= _MAX_GEOMETRY:
            _GEOMETRY.clear()
        _GEOMETRY[key] = cfg
    return _run_conv(x, w, b, cfg, act)


def _act_(y, act):
    """The activation clamp ``act`` = (lo, hi) applied in place on a fresh conv output y
    (ReLU when (0, inf), else Hardtanh(lo, hi)); y itself when act is None."""
    if act is None:
        return y
    from .activation import hardtanh, relu
    if act[0] == 0.0 and act[1] == np.inf:
        return relu(y, inplace=True)
    return hardtanh(y, act[0], act[1], inplace=True)


def _run_conv(x, w, b, cfg, act=None):
    """The checked convolution: graph-free on the packed weight where nothing needs a
    gradient and the packed path exists, else the recorded op; then the activation clamp
    ``act`` (None or (lo, hi)), fused into the kernel on the graph-free path."""
    if not (_state.grad and (x.requires_grad or w.requires_grad or
                             (b is not None and b.requires_grad))):
        y = _forward_packed(x, w, b, cfg, act)
        if y is not None:
            return y
    return _act_(_ConvOp.apply(x, w, b, cfg), act)


def _conv_geometry(fn, nd, input, weight, bias, stride, padding, dilation, groups):
    """The checked call (ValueError/TypeError naming ``fn`` on a bad argument) as the cfg
    tuple of ``_ConvOp`` followed by the (x, w, b) tensors."""
    x, w, b, groups = _operands(fn, nd, input, weight, bias, groups, "")
    stride = _tuple(stride, nd, fn, "stride")
    dilation = _tuple(dilation, nd, fn, "dilation")
    if min(stride) < 1:
        raise ValueError(f"{fn}: stride must be >= 1, got {stride}")
    if min(dilation) < 1:
        raise ValueError(f"{fn}: dilation must be >= 1, got {dilation}")
    unbatched = x.ndim == nd + 1
    xs = (1,) + tuple(x.shape) if unbatched else tuple(x.shape)
    N, C = xs[0], xs[1]
    ks = tuple(w.shape[2:])
    if C % groups:
        raise ValueError(f"{fn}: input channels {C} (input shape {tuple(x.shape)}) are not "
                         f"divisible by groups={groups}")
    if w.shape[0] % groups:
        raise ValueError(f"{fn}: out channels {w.shape[0]} (weight shape {tuple(w.shape)}) "
                         f"are not divisible by groups={groups}")
    if w.shape[1] * groups != C:
        raise ValueError(f"{fn}: weight {tuple(w.shape)} expects {w.shape[1] * groups} input "
                         f"channels ({w.shape[1]} per group x {groups} groups), input "
                         f"{tuple(x.shape)} has {C}")
    if b is not None and tuple(b.shape) != (w.shape[0],):
        raise ValueError(f"{fn}: bias must have shape ({w.shape[0]},), got {tuple(b.shape)}")
    if isinstance(padding, str):
        if padding == "valid":
            before = after = (0,) * nd
        elif padding == "same":
            if any(s != 1 for s in stride):
                raise ValueError(f"{fn}: padding='same' is not supported for strided "
                                 f"convolutions (stride={stride})")
            tot = tuple(d * (k - 1) for d, k in zip(dilation, ks))
            before = tuple(t // 2 for t in tot)
            after = tuple(t - t // 2 for t in tot)
        else:
            raise ValueError(f"{fn}: padding must be 'valid', 'same', an int or a tuple, "
                             f"got {padding!r}")
    else:
        before = after = _tuple(padding, nd, fn, "padding")
        if min(before) < 0:
            raise ValueError(f"{fn}: padding must be >= 0, got {before}")
    spatial = xs[2:]
    try:  # sizes the output (and checks it is >= 1) through the one rule
        out = tuple(conv_output_size(sz + a - b_, k, s, b_, d) for sz, k, s, b_, a, d in
                    zip(spatial, ks, stride, before, after, dilation))
    except ValueError as e:
        raise ValueError(f"{fn}: input {tuple(x.shape)}, weight {tuple(w.shape)}: {e}") \
            from None
    if nd == 1:
        x4s = (N, C, 1, spatial[0])
        w4s = (w.shape[0], w.shape[1], 1, ks[0])
        geo = (1, stride[0], 0, 0, before[0], after[0], 1, dilation[0])
    else:
        x4s = (N, C) + spatial
        w4s = tuple(w.shape)
        geo = (stride[0], stride[1], before[0], after[0], before[1], after[1],
               dilation[0], dilation[1])
    yshape = ((w.shape[0],) if unbatched else (N, w.shape[0])) + out
    return (x4s, w4s, yshape) + geo + (groups, (x, w, b))


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """2-D convolution (cross-correlation, as in PyTorch) over an NCHW input:

        y[n, k, i, j] = bias[k] + Σ_{c ∈ group(k), r, s} weight[k, c, r, s] ·
                        x[n, g·C/groups + c, i·sh − ph + r·dh, j·sw − pw + s·dw]

    with zero padding. ``input``: (N, C, H, W) or unbatched (C, H, W); ``weight``:
    (out_channels, C/groups, kH, kW); ``bias``: (out_channels,) or None. ``stride``,
    ``dilation``: int or pair; ``padding``: int, pair, ``'valid'`` (0) or ``'same'``
    (output size = input size, stride 1 only; an odd total padding puts the extra row/column
    at the bottom/right, as PyTorch does). Output size: ``conv_output_size``. float32/float64;
    differentiable in input, weight and bias.

    Example: ``F.conv2d(fastdl.randn(8, 3, 32, 32), fastdl.randn(16, 3, 3, 3), padding=1)``
    has shape (8, 16, 32, 32).
    """
    return _conv("conv2d", 2, input, weight, bias, stride, padding, dilation, groups)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution over an NCL input (``conv2d`` with height 1):

        y[n, k, i] = bias[k] + Σ_{c ∈ group(k), s} weight[k, c, s] · x[n, c', i·stride −
        padding + s·dilation]

    ``input``: (N, C, L) or unbatched (C, L); ``weight``: (out_channels, C/groups, kL);
    ``padding``: int, ``'valid'`` or ``'same'``.

    Example: ``F.conv1d(fastdl.randn(4, 2, 50), fastdl.randn(8, 2, 5)).shape == (4, 8, 46)``
    """
    return _conv("conv1d", 1, input, weight, bias, stride, padding, dilation, groups)


# ---- transposed convolution: the adjoint of conv2d in its input, on the same kernels ------------
class _ConvTransposeOp(_Op):
    """y = conv2d's input gradient for "grad_output" x (one conv2d_backward call); its own
    backward is a conv2d forward (input) and a conv2d weight gradient (weight)."""

    @staticmethod
    def forward(ctx, x, w, b, cfg):
        # cfg: (x4 shape, w4 shape, y4 shape, y shape, geometry..., groups)
        x4 = _nchw(x).reshape(cfg[0])
        w4 = np.ascontiguousarray(w).reshape(cfg[1])
        shell = _C.empty(cfg[2], x4.dtype)  # only its shape is read (no weight gradient)
        y, _, _ = _C.conv2d_backward(shell, w4, x4, *cfg[4:], True, False, False)
        if b is not None:
            y += np.asarray(b, y.dtype).reshape(1, -1, 1, 1)
        ctx.save_for_backward(x4, w4)
        ctx.cfg, ctx.shapes, ctx.has_bias = cfg, (x.shape, w.shape), b is not None
        return y.reshape(cfg[3])

    @staticmethod
    def backward(ctx, g):
        x4, w4 = ctx.saved_tensors
        cfg = ctx.cfg
        n = ctx.needs_input_grad
        g4 = _nchw(g).reshape(cfg[2])
        gx = gw = gb = None
        if n[0]:
            gx = _C.conv2d_forward(g4, w4, None, *cfg[4:]).reshape(ctx.shapes[0])
        if n[1]:
            _, gw, _ = _C.conv2d_backward(g4, w4, x4, *cfg[4:], False, True, False)
            gw = gw.reshape(ctx.shapes[1])
        if n[2] and ctx.has_bias:
            gb = g4.sum(axis=(0, 2, 3))
        return gx, gw, gb, None


def _conv_transpose(fn, nd, input, weight, bias, stride, padding, output_padding, groups,
                    dilation):
    x, w, b, groups = _operands(fn, nd, input, weight, bias, groups,
                                " (in_channels, out_channels/groups, kernel...)")
    stride = _tuple(stride, nd, fn, "stride")
    dilation = _tuple(dilation, nd, fn, "dilation")
    pad = _tuple(padding, nd, fn, "padding")
    opad = _tuple(output_padding, nd, fn, "output_padding")
    if min(stride) < 1 or min(dilation) < 1:
        raise ValueError(f"{fn}: stride and dilation must be >= 1, got {stride}, {dilation}")
    if min(pad) < 0 or min(opad) < 0:
        raise ValueError(f"{fn}: padding and output_padding must be >= 0, got {pad}, {opad}")
    for o, s, d in zip(opad, stride, dilation):
        if o >= max(s, d):
            raise ValueError(f"{fn}: output padding must be smaller than either stride or "
                             f"dilation, got output_padding={opad}, stride={stride}, "
                             f"dilation={dilation}")
    unbatched = x.ndim == nd + 1
    xs = (1,) + tuple(x.shape) if unbatched else tuple(x.shape)
    N, C = xs[0], xs[1]
    if w.shape[0] != C:
        raise ValueError(f"{fn}: weight {tuple(w.shape)} expects {w.shape[0]} input channels, "
                         f"input {tuple(x.shape)} has {C}")
    if C % groups:
        raise ValueError(f"{fn}: input channels {C} are not divisible by groups={groups}")
    K = w.shape[1] * groups
    if b is not None and tuple(b.shape) != (K,):
        raise ValueError(f"{fn}: bias must have shape ({K},), got {tuple(b.shape)}")
    ks = tuple(w.shape[2:])
    out = tuple((i - 1) * s - 2 * p + d * (k - 1) + o + 1 for i, s, p, d, k, o in
                zip(xs[2:], stride, pad, dilation, ks, opad))
    if min(out) < 1:
        raise ValueError(f"{fn}: input {tuple(x.shape)} and weight {tuple(w.shape)} give an "
                         f"output of size {out}")
    if nd == 1:
        x4s, w4s, y4s = (N, C, 1, xs[2]), (C, w.shape[1], 1, ks[0]), (N, K, 1, out[0])
        geo = (1, stride[0], 0, 0, pad[0], pad[0], 1, dilation[0])
    else:
        x4s, w4s, y4s = xs, tuple(w.shape), (N, K) + out
        geo = (stride[0], stride[1], pad[0], pad[0], pad[1], pad[1], dilation[0], dilation[1])
    yshape = ((K,) if unbatched else (N, K)) + out
    return _ConvTransposeOp.apply(x, w, b, (x4s, w4s, y4s, yshape) + geo + (groups,))


def conv_transpose2d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """2-D transposed convolution (the adjoint of ``conv2d`` in its input, "deconvolution"),
    PyTorch's argument order and semantics. ``weight``: (in_channels, out_channels/groups, kH,
    kW); output size per dim ``(in − 1)·stride − 2·padding + dilation·(k − 1) +
    output_padding + 1``. Runs on the convolution kernels (forward = conv2d's input
    gradient); differentiable in input, weight and bias.

    Example: ``F.conv_transpose2d(fastdl.randn(1, 8, 7, 7), fastdl.randn(8, 4, 4, 4),
    stride=2, padding=1).shape == (1, 4, 14, 14)``
    """
    return _conv_transpose("conv_transpose2d", 2, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


def conv_transpose1d(input, weight, bias=None, stride=1, padding=0, output_padding=0, groups=1,
                     dilation=1):
    """1-D transposed convolution (``conv_transpose2d`` with height 1).

    Example: ``F.conv_transpose1d(fastdl.randn(2, 4, 10), fastdl.randn(4, 3, 3),
    stride=2).shape == (2, 3, 21)``
    """
    return _conv_transpose("conv_transpose1d", 1, input, weight, bias, stride, padding,
                           output_padding, groups, dilation)


# ---- double backward (create_graph=True) ----------------------------------------------------
def _conv_backward_graph(ctx, x4, w4, g, n):
    """``_ConvOp``'s backward on recorded Tensors: (dx, dw) through ``_ConvBackward`` (whose
    own backward is again convolutions), db = Σ g over batch and space."""
    cfg = ctx.cfg
    px, pw = ctx.parents[0], ctx.parents[1]
    xt = px.reshape(cfg[0]) if px is not None else Tensor._make(np.asarray(x4._array if
                                                                           isinstance(x4, Tensor) else x4))
    wt = pw.reshape(cfg[1]) if pw is not None else Tensor._make(np.asarray(w4._array if
                                                                           isinstance(w4, Tensor) else w4))
    g4 = g.reshape(ctx.y4)
    dx, dw = _ConvBackward.apply(g4, xt, wt, tuple(cfg[3:]))
    gb = g4.sum((0, 2, 3)) if (n[2] and ctx.has_bias) else None
    return (dx.reshape(ctx.shapes[0]) if n[0] else None,
            dw.reshape(ctx.shapes[1]) if n[1] else None, gb, None)


def _conv_fwd(a, b, p, yshape):
    """y = conv2d(a, b) without bias (p: stride_h, stride_w, pads, dilations, groups), on
    arrays (kernel) or recorded Tensors (``_ConvOp``)."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        a = a if isinstance(a, Tensor) else Tensor._make(a)
        b = b if isinstance(b, Tensor) else Tensor._make(b)
        return _ConvOp.apply(a, b, None, (a._array.shape, b._array.shape, tuple(yshape)) + p)
    return _C.conv2d_forward(np.ascontiguousarray(a), np.ascontiguousarray(b), None, *p)


class _ConvBackward(_Op):
    """The two gradients of y = conv2d(x, w) as one op of (g, x, w): dx = convᵀ(g, w),
    dw = corr(x, g); both bilinear, so its own backward (for gg_x, gg_w) is
    dg = conv(gg_x, w) + conv(x, gg_w), dx' = convᵀ(g, gg_w), dw' = corr(gg_x, g) — again
    this op and a convolution: convolutions differentiate any number of times."""

    _double = True

    @staticmethod
    def forward(ctx, g4, x4, w4, p):
        ctx.p = p
        ctx.save_for_backward(g4, x4, w4)
        gx, gw, _ = _C.conv2d_backward(np.ascontiguousarray(x4), np.ascontiguousarray(w4),
                                       np.ascontiguousarray(g4), *p, True, True, False)
        return gx, gw

    @staticmethod
    def backward(ctx, ggx, ggw):
        g4, x4, w4 = ctx.saved_tensors
        p = ctx.p
        n = ctx.needs_input_grad
        t = isinstance(g4, Tensor)
        ysh = tuple(g4._array.shape if t else g4.shape)
        dg = dx = dw = None
        if n[0]:
            if ggx is not None:
                dg = _conv_fwd(ggx, w4, p, ysh)
            if ggw is not None:
                c = _conv_fwd(x4, ggw, p, ysh)
                dg = c if dg is None else dg + c
        if n[1] and ggw is not None:
            dx = _ConvBackward.apply(g4, x4, ggw, p)[0] if t else _C.conv2d_backward(
                np.ascontiguousarray(x4), np.ascontiguousarray(ggw), np.ascontiguousarray(g4),
                *p, True, False, False)[0]
        if n[2] and ggx is not None:
            dw = _ConvBackward.apply(g4, ggx, w4, p)[1] if t else _C.conv2d_backward(
                np.ascontiguousarray(ggx), np.ascontiguousarray(w4), np.ascontiguousarray(g4),
                *p, False, True, False)[1]
        return dg, dx, dw, None
