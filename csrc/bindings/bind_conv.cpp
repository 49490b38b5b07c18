// Bindings of the conv kernel family (csrc/kernels/conv/): argument validation, output
// arrays, GIL release. The Python layer (fastdl/nn/functional/conv.py) normalises arguments
// and computes output sizes with conv_output_size; this layer re-checks everything a kernel
// relies on, so no call can read or write out of bounds.
#include <cmath>
#include <limits>
#include <stdexcept>
#include <string>
#include <type_traits>

#include "bindings/util.h"
#include "common/checks.h"
#include "kernels/conv/conv.h"

namespace fastdl {
namespace {

using conv::Conv2dParams;

std::string S(int64_t v) { return std::to_string(v); }

constexpr double kInf = std::numeric_limits<double>::infinity();

[[noreturn]] void bad(const std::string& msg) { throw py::value_error("conv2d: " + msg); }

Conv2dParams make_params_dims(int64_t N, int64_t C, int64_t H, int64_t W,
                              const std::string& xs, const py::array& w, int64_t sh,
                              int64_t sw, int64_t pt, int64_t pb, int64_t pl, int64_t pr,
                              int64_t dh, int64_t dw, int64_t groups);

// Validates x (N,C,H,W), w (K,C/g,R,S) and the geometry; fills p (output size included).
Conv2dParams make_params(const py::array& x, const py::array& w, int64_t sh, int64_t sw,
                         int64_t pt, int64_t pb, int64_t pl, int64_t pr, int64_t dh,
                         int64_t dw, int64_t groups) {
  require_float(x, "conv2d", "input");
  require_float(w, "conv2d", "weight");
  require_same_dtype(x, w, "conv2d", "input", "weight");
  if (x.ndim() != 4) bad("input must be 4-D (N, C, H, W), got shape " + shape_str(x));
  return make_params_dims(x.shape(0), x.shape(1), x.shape(2), x.shape(3), shape_str(x), w, sh,
                          sw, pt, pb, pl, pr, dh, dw, groups);
}

// The same for an input of shape (N, C, H, W) (xs: that shape, for messages).
Conv2dParams make_params_dims(int64_t N, int64_t C, int64_t H, int64_t W,
                              const std::string& xs, const py::array& w, int64_t sh,
                              int64_t sw, int64_t pt, int64_t pb, int64_t pl, int64_t pr,
                              int64_t dh, int64_t dw, int64_t groups) {
  if (w.ndim() != 4) bad("weight must be 4-D (out, in/groups, kh, kw), got shape " + shape_str(w));
  if (sh < 1 || sw < 1) bad("stride must be >= 1, got (" + S(sh) + ", " + S(sw) + ")");
  if (dh < 1 || dw < 1) bad("dilation must be >= 1, got (" + S(dh) + ", " + S(dw) + ")");
  if (pt < 0 || pb < 0 || pl < 0 || pr < 0)
    bad("padding must be >= 0, got (" + S(pt) + ", " + S(pb) + ", " + S(pl) + ", " + S(pr) + ")");
  if (groups < 1) bad("groups must be >= 1, got " + S(groups));
  Conv2dParams p{};
  p.N = N; p.C = C; p.H = H; p.W = W;
  p.K = w.shape(0); p.R = w.shape(2); p.S = w.shape(3);
  if (p.C % groups) bad("input channels " + S(p.C) + " not divisible by groups " + S(groups));
  if (p.K % groups) bad("weight out channels " + S(p.K) + " not divisible by groups " + S(groups));
  if (w.shape(1) * groups != p.C)
    bad("weight " + shape_str(w) + " has " + S(w.shape(1)) + " input channels per group (x " +
        S(groups) + " groups), input " + xs + " has " + S(p.C));
  if (p.R < 1 || p.S < 1) bad("weight kernel size must be >= 1, got weight " + shape_str(w));
  const int64_t eh = dh * (p.R - 1) + 1, ew = dw * (p.S - 1) + 1;
  if (p.H + pt + pb < eh || p.W + pl + pr < ew)
    bad("kernel (" + S(eh) + ", " + S(ew) + ") (dilated) is larger than the padded input (" +
        S(p.H + pt + pb) + ", " + S(p.W + pl + pr) + ")");
  p.OH = (p.H + pt + pb - eh) / sh + 1;
  p.OW = (p.W + pl + pr - ew) / sw + 1;
  p.sh = sh; p.sw = sw; p.pt = pt; p.pl = pl; p.dh = dh; p.dw = dw; p.groups = groups;
  try {  // scratch sizes must not overflow
    checked_numel({p.C / groups, p.R, p.S, p.OH, p.OW, 8}, "conv2d: im2col buffer");
    checked_numel({p.N, p.K, p.OH, p.OW, 8}, "conv2d: output");
  } catch (const std::exception& e) {
    bad(e.what());
  }
  return p;
}

// The fused activation's bounds (in the dtype's precision: conv.h Act holds float32's),
// checked: act_lo <= act_hi, neither NaN.
struct ActBounds {
  double lo, hi;
  bool on() const { return lo > -kInf || hi < kInf; }
  conv::Act f32() const {
    conv::Act a;
    a.lo = static_cast<float>(lo);
    a.hi = static_cast<float>(hi);
    return a;
  }
};
// y[i] = min(max(y[i], lo), hi) over n float64 outputs: the activation as a plain pass (the
// kernels fuse it for float32 only).
void clamp_f64(double* y, int64_t n, ActBounds act) {
  if (!act.on()) return;
  for (int64_t i = 0; i < n; ++i) y[i] = y[i] < act.lo ? act.lo : y[i] > act.hi ? act.hi : y[i];
}

ActBounds make_act(double lo, double hi) {
  if (std::isnan(lo) || std::isnan(hi) || lo > hi)
    bad("act_lo must be <= act_hi (neither NaN), got act_lo=" + std::to_string(lo) +
        ", act_hi=" + std::to_string(hi));
  return {lo, hi};
}

template <class T>
py::object forward_t(const py::array& x, const py::array& w, const py::object& b,
                     const Conv2dParams& p, ActBounds act) {
  const T* bp = nullptr;
  py::array ba;
  if (!b.is_none()) {
    ba = py::reinterpret_borrow<py::array>(b);
    bp = cptr<T>(ba);
  }
  py::array y = pool_array({p.N, p.K, p.OH, p.OW}, x.dtype());
  const T* xp = cptr<T>(x);
  const T* wp = cptr<T>(w);
  T* yp = ptr<T>(y);
  {
    py::gil_scoped_release nogil;
    if constexpr (std::is_same_v<T, float>) {
      conv::conv2d_forward(p, xp, wp, bp, yp, act.f32());
    } else {
      conv::conv2d_forward(p, xp, wp, bp, yp);
      clamp_f64(yp, p.N * p.K * p.OH * p.OW, act);
    }
  }
  return std::move(y);
}

void check_bias(const py::array& x, const py::object& b, const Conv2dParams& p) {
  if (!b.is_none()) {
    if (!py::isinstance<py::array>(b)) throw py::type_error("conv2d: bias must be an array or None");
    py::array ba = py::reinterpret_borrow<py::array>(b);
    require_float(ba, "conv2d", "bias");
    require_same_dtype(x, ba, "conv2d", "input", "bias");
    if (ba.ndim() != 1 || ba.shape(0) != p.K)
      bad("bias must have shape (" + S(p.K) + ",), got " + shape_str(ba));
  }
}

py::object conv2d_forward(const py::array& x, const py::array& w, const py::object& b,
                          int64_t sh, int64_t sw, int64_t pt, int64_t pb, int64_t pl,
                          int64_t pr, int64_t dh, int64_t dw, int64_t groups, double act_lo,
                          double act_hi) {
  Conv2dParams p = make_params(x, w, sh, sw, pt, pb, pl, pr, dh, dw, groups);
  check_bias(x, b, p);
  const ActBounds act = make_act(act_lo, act_hi);
  if (is_f32(x)) return forward_t<float>(x, w, b, p, act);
  return forward_t<double>(x, w, b, p, act);
}

// The weight transform of the forward pass for this geometry (input x: its shape only), done
// once so an inference loop can cache it per weight version; None where there is no packed
// path (float64, depthwise, a forced algorithm or shape without one; without AVX-512 only
// the layers that run Winograd have one).
py::object conv2d_pack_weight(const py::array& x, const py::array& w, int64_t sh, int64_t sw,
                              int64_t pt, int64_t pb, int64_t pl, int64_t pr, int64_t dh,
                              int64_t dw, int64_t groups) {
  Conv2dParams p = make_params(x, w, sh, sw, pt, pb, pl, pr, dh, dw, groups);
  if (!is_f32(x)) return py::none();
  const int64_t n = conv::conv2d_packed_size(p);
  if (n <= 0) return py::none();
  py::array out = pool_array({n}, w.dtype());
  const float* wp = cptr<float>(w);
  float* op = ptr<float>(out);
  {
    py::gil_scoped_release nogil;
    conv::conv2d_pack_weight(p, wp, op);
  }
  return std::move(out);
}

// conv2d_forward with the packed weight from conv2d_pack_weight for the same geometry (the
// weight itself is passed too: the kernels fall back to it if the packed plan is stale).
py::object conv2d_forward_packed(const py::array& x, const py::array& w, const py::array& wpk,
                                 const py::object& b, int64_t sh, int64_t sw, int64_t pt,
                                 int64_t pb, int64_t pl, int64_t pr, int64_t dh, int64_t dw,
                                 int64_t groups, double act_lo, double act_hi) {
  Conv2dParams p = make_params(x, w, sh, sw, pt, pb, pl, pr, dh, dw, groups);
  check_bias(x, b, p);
  const ActBounds act = make_act(act_lo, act_hi);
  if (!is_f32(x)) return forward_t<double>(x, w, b, p, act);
  const int64_t n = conv::conv2d_packed_size(p);
  if (n <= 0 || !is_f32(wpk) || wpk.ndim() != 1 || wpk.shape(0) != n ||
      !(wpk.flags() & py::array::c_style))
    return forward_t<float>(x, w, b, p, act);
  const float* bp = b.is_none() ? nullptr : cptr<float>(py::reinterpret_borrow<py::array>(b));
  py::array y = pool_array({p.N, p.K, p.OH, p.OW}, x.dtype());
  const float* xp = cptr<float>(x);
  const float* wp = cptr<float>(w);
  const float* kp = cptr<float>(wpk);
  float* yp = ptr<float>(y);
  {
    py::gil_scoped_release nogil;
    conv::conv2d_forward_packed(p, xp, wp, kp, bp, yp, act.f32());
  }
  return std::move(y);
}

// A 1×1 expansion fused into a depthwise convolution (conv.h: conv2d_pw_dw_forward), float32:
// y = act2(dwconv(act1(conv1x1(x, w1) + b1), w2) + b2); None where this ISA or shape has no
// fused kernel (nothing computed: the caller runs the two convolutions). channels_last: x is
// the NHWC storage (N, H, W, Ci) and y comes back as (N, OH, OW, C).
py::object conv2d_pw_dw_forward(const py::array& x, const py::array& w1, const py::object& b1,
                                const py::array& w2, const py::object& b2, int64_t sh,
                                int64_t sw, int64_t pt, int64_t pb, int64_t pl, int64_t pr,
                                int64_t dh, int64_t dw, double lo1, double hi1, double lo2,
                                double hi2, bool channels_last) {
  require_float(x, "conv2d", "input");
  require_float(w1, "conv2d", "weight");
  require_same_dtype(x, w1, "conv2d", "input", "weight");
  if (x.ndim() != 4)
    bad(std::string("input must be 4-D ") + (channels_last ? "(N, H, W, C)" : "(N, C, H, W)") +
        ", got shape " + shape_str(x));
  // the input as (N, Ci, H, W) whatever its storage
  const int64_t Ci = x.shape(channels_last ? 3 : 1), H = x.shape(channels_last ? 1 : 2),
                Wd = x.shape(channels_last ? 2 : 3);
  if (w1.ndim() != 4 || w1.shape(1) != Ci || w1.shape(2) != 1 || w1.shape(3) != 1)
    bad("the 1x1 weight must be (C, " + S(Ci) + ", 1, 1) for input " + shape_str(x) +
        ", got " + shape_str(w1));
  const int64_t C = w1.shape(0);
  require_float(w2, "conv2d", "depthwise weight");
  if (w2.ndim() != 4 || w2.shape(0) != C || w2.shape(1) != 1)
    bad("the depthwise weight must be (" + S(C) + ", 1, kh, kw) for the 1x1 weight " +
        shape_str(w1) + ", got " + shape_str(w2));
  require_same_dtype(x, w2, "conv2d", "input", "depthwise weight");
  Conv2dParams p = make_params_dims(x.shape(0), C, H, Wd,
                                    "(" + S(x.shape(0)) + ", " + S(C) + ", " + S(H) + ", " +
                                        S(Wd) + ")",
                                    w2, sh, sw, pt, pb, pl, pr, dh, dw, C);
  Conv2dParams p1 = make_params_dims(x.shape(0), Ci, H, Wd, shape_str(x), w1, 1, 1, 0, 0, 0, 0,
                                     1, 1, 1);
  check_bias(x, b1, p1);
  check_bias(x, b2, p);
  const ActBounds a1 = make_act(lo1, hi1), a2 = make_act(lo2, hi2);
  if (!is_f32(x)) return py::none();
  auto bias = [](const py::object& b) {
    return b.is_none() ? nullptr : cptr<float>(py::reinterpret_borrow<py::array>(b));
  };
  const float *b1p = bias(b1), *b2p = bias(b2);
  py::array y = channels_last ? pool_array({p.N, p.OH, p.OW, p.K}, x.dtype())
                              : pool_array({p.N, p.K, p.OH, p.OW}, x.dtype());
  const float* xp = cptr<float>(x);
  const float* w1p = cptr<float>(w1);
  const float* w2p = cptr<float>(w2);
  float* yp = ptr<float>(y);
  bool done;
  {
    py::gil_scoped_release nogil;
    done = conv::conv2d_pw_dw_forward(p, Ci, xp, w1p, b1p, a1.f32(), w2p, b2p, a2.f32(), yp,
                                      channels_last);
  }
  if (!done) return py::none();
  return std::move(y);
}

// Depthwise convolution on channels-last operands (conv.h: conv2d_depthwise_nhwc_forward):
// x (N, H, W, C), the C-contiguous NHWC storage of a channels-last tensor, w (C, 1, kh, kw);
// y (N, OH, OW, C), or None where this ISA or shape has no such kernel (nothing computed:
// the caller runs the NCHW kernels on converted operands).
Conv2dParams nhwc_params(const py::array& x, const py::array& w, int64_t sh, int64_t sw,
                         int64_t pt, int64_t pb, int64_t pl, int64_t pr, int64_t dh,
                         int64_t dw) {
  require_float(x, "conv2d", "input");
  require_float(w, "conv2d", "weight");
  require_same_dtype(x, w, "conv2d", "input", "weight");
  if (x.ndim() != 4) bad("channels-last input must be 4-D (N, H, W, C), got shape " + shape_str(x));
  const int64_t C = x.shape(3);
  Conv2dParams p = make_params_dims(x.shape(0), C, x.shape(1), x.shape(2),
                                    "(N, H, W, C) " + shape_str(x), w, sh, sw, pt, pb, pl, pr,
                                    dh, dw, C < 1 ? 1 : C);
  if (p.K != p.C)
    bad("the depthwise weight must be (" + S(p.C) + ", 1, kh, kw) for input (N, H, W, C) " +
        shape_str(x) + ", got " + shape_str(w));
  return p;
}

py::object conv2d_depthwise_nhwc_forward(const py::array& x, const py::array& w,
                                         const py::object& b, int64_t sh, int64_t sw,
                                         int64_t pt, int64_t pb, int64_t pl, int64_t pr,
                                         int64_t dh, int64_t dw, double act_lo, double act_hi) {
  const Conv2dParams p = nhwc_params(x, w, sh, sw, pt, pb, pl, pr, dh, dw);
  check_bias(x, b, p);
  const ActBounds act = make_act(act_lo, act_hi);
  py::array y = pool_array({p.N, p.OH, p.OW, p.K}, x.dtype());
  const py::array ba = b.is_none() ? py::array() : py::reinterpret_borrow<py::array>(b);
  bool done;
  if (is_f32(x)) {
    const float *xp = cptr<float>(x), *wp = cptr<float>(w);
    const float* bp = b.is_none() ? nullptr : cptr<float>(ba);
    float* yp = ptr<float>(y);
    py::gil_scoped_release nogil;
    done = conv::conv2d_depthwise_nhwc_forward(p, xp, wp, bp, yp, act.f32());
  } else {
    const double *xp = cptr<double>(x), *wp = cptr<double>(w);
    const double* bp = b.is_none() ? nullptr : cptr<double>(ba);
    double* yp = ptr<double>(y);
    py::gil_scoped_release nogil;
    done = conv::conv2d_depthwise_nhwc_forward(p, xp, wp, bp, yp);
    if (done) clamp_f64(yp, p.N * p.OH * p.OW * p.K, act);
  }
  if (!done) return py::none();
  return std::move(y);
}

// Its gradients: dy (N, OH, OW, C); (dx (N, H, W, C) | None, dw | None, db | None), or None
// where there is no such kernel.
template <class T>
py::object dw_nhwc_backward_t(const py::array& x, const py::array& w, const py::array& dy,
                              const Conv2dParams& p, bool need_dx, bool need_dw, bool need_db) {
  py::object out[3] = {py::none(), py::none(), py::none()};
  T* ptrs[3] = {nullptr, nullptr, nullptr};
  const Shape shapes[3] = {shape_of(x), shape_of(w), Shape{p.K}};
  const bool need[3] = {need_dx, need_dw, need_db};
  for (int i = 0; i < 3; ++i)
    if (need[i]) {
      py::array a = pool_array(shapes[i], x.dtype());
      ptrs[i] = ptr<T>(a);
      out[i] = a;
    }
  const T *xp = cptr<T>(x), *wp = cptr<T>(w), *gp = cptr<T>(dy);
  bool done;
  {
    py::gil_scoped_release nogil;
    done = conv::conv2d_depthwise_nhwc_backward(p, xp, wp, gp, ptrs[0], ptrs[1], ptrs[2]);
  }
  if (!done) return py::none();
  return py::make_tuple(out[0], out[1], out[2]);
}

py::object conv2d_depthwise_nhwc_backward(const py::array& x, const py::array& w,
                                          const py::array& dy, int64_t sh, int64_t sw,
                                          int64_t pt, int64_t pb, int64_t pl, int64_t pr,
                                          int64_t dh, int64_t dw, bool need_dx, bool need_dw,
                                          bool need_db) {
  const Conv2dParams p = nhwc_params(x, w, sh, sw, pt, pb, pl, pr, dh, dw);
  require_float(dy, "conv2d_backward", "grad_output");
  require_same_dtype(x, dy, "conv2d_backward", "input", "grad_output");
  if (dy.ndim() != 4 || dy.shape(0) != p.N || dy.shape(1) != p.OH || dy.shape(2) != p.OW ||
      dy.shape(3) != p.K)
    throw py::value_error("conv2d_backward: channels-last grad_output (N, OH, OW, C) has shape " +
                          shape_str(dy) + ", expected " +
                          shape_str(Shape{p.N, p.OH, p.OW, p.K}));
  if (is_f32(x)) return dw_nhwc_backward_t<float>(x, w, dy, p, need_dx, need_dw, need_db);
  return dw_nhwc_backward_t<double>(x, w, dy, p, need_dx, need_dw, need_db);
}

template <class T>
py::tuple backward_t(const py::array& x, const py::array& w, const py::array& dy,
                     const Conv2dParams& p, bool need_dx, bool need_dw, bool need_db) {
  py::object dxo = py::none(), dwo = py::none(), dbo = py::none();
  T *dxp = nullptr, *dwp = nullptr, *dbp = nullptr;
  if (need_dx) {
    py::array a = pool_array(shape_of(x), x.dtype());
    dxp = ptr<T>(a);
    dxo = a;
  }
  if (need_dw) {
    py::array a = pool_array(shape_of(w), x.dtype());
    dwp = ptr<T>(a);
    dwo = a;
  }
  if (need_db) {
    py::array a = pool_array({p.K}, x.dtype());
    dbp = ptr<T>(a);
    dbo = a;
  }
  const T* xp = cptr<T>(x);
  const T* wp = cptr<T>(w);
  const T* gp = cptr<T>(dy);
  {
    py::gil_scoped_release nogil;
    conv::conv2d_backward(p, xp, wp, gp, dxp, dwp, dbp);
  }
  return py::make_tuple(dxo, dwo, dbo);
}

py::tuple conv2d_backward(const py::array& x, const py::array& w, const py::array& dy,
                          int64_t sh, int64_t sw, int64_t pt, int64_t pb, int64_t pl,
                          int64_t pr, int64_t dh, int64_t dw, int64_t groups, bool need_dx,
                          bool need_dw, bool need_db) {
  Conv2dParams p = make_params(x, w, sh, sw, pt, pb, pl, pr, dh, dw, groups);
  require_float(dy, "conv2d_backward", "grad_output");
  require_same_dtype(x, dy, "conv2d_backward", "input", "grad_output");
  if (dy.ndim() != 4 || dy.shape(0) != p.N || dy.shape(1) != p.K || dy.shape(2) != p.OH ||
      dy.shape(3) != p.OW)
    throw py::value_error("conv2d_backward: grad_output has shape " + shape_str(dy) +
                          ", expected " + shape_str(Shape{p.N, p.K, p.OH, p.OW}));
  if (is_f32(x)) return backward_t<float>(x, w, dy, p, need_dx, need_dw, need_db);
  return backward_t<double>(x, w, dy, p, need_dx, need_dw, need_db);
}

// The algorithms the kernels would run for this geometry: (forward, input grad, weight grad).
py::tuple conv2d_algorithm(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t R,
                           int64_t Sk, int64_t sh, int64_t sw, int64_t pt, int64_t pb, int64_t pl,
                           int64_t pr, int64_t dh, int64_t dw, int64_t groups, int itemsize) {
  if (itemsize != 4 && itemsize != 8) bad("itemsize must be 4 or 8, got " + S(itemsize));
  if (N < 0 || C < 1 || H < 1 || W < 1 || K < 1 || R < 1 || Sk < 1 || sh < 1 || sw < 1 ||
      dh < 1 || dw < 1 || pt < 0 || pb < 0 || pl < 0 || pr < 0 || groups < 1 || C % groups ||
      K % groups)
    bad("invalid geometry for conv2d_algorithm");
  Conv2dParams p{};
  p.N = N; p.C = C; p.H = H; p.W = W; p.K = K; p.R = R; p.S = Sk;
  p.sh = sh; p.sw = sw; p.pt = pt; p.pl = pl; p.dh = dh; p.dw = dw; p.groups = groups;
  p.OH = (H + pt + pb - dh * (R - 1) - 1) / sh + 1;
  p.OW = (W + pl + pr - dw * (Sk - 1) - 1) / sw + 1;
  if (p.OH < 1 || p.OW < 1) bad("the kernel is larger than the padded input");
  auto name = [&](conv::Pass pass) {
    return std::string(conv::algorithm_name(conv::algorithm_for(p, itemsize, pass)));
  };
  return py::make_tuple(name(conv::Pass::forward), name(conv::Pass::input_grad),
                        name(conv::Pass::weight_grad));
}

void set_algorithm(const std::string& name) {
  try {
    conv::set_forced_algorithm(conv::algorithm_from_name(name.c_str()));
  } catch (const std::invalid_argument& e) {
    throw py::value_error(std::string("conv2d: ") + e.what());
  }
}

}  // namespace

void bind_conv(py::module_& m) {
  conv::forced_algorithm();  // an invalid FASTDL_CONV_ALGO fails the import, as FASTDL_ISA does
  m.def("conv2d_set_algorithm", &set_algorithm, py::arg("name"),
        "Force the convolution algorithm: auto, direct, gemm or winograd.");
  m.def("conv2d_get_algorithm",
        [] { return std::string(conv::algorithm_name(conv::forced_algorithm())); },
        "The forced convolution algorithm ('auto': chosen per shape).");
  m.def("conv2d_algorithm", &conv2d_algorithm, py::arg("N"), py::arg("C"), py::arg("H"),
        py::arg("W"), py::arg("K"), py::arg("R"), py::arg("S"), py::arg("stride_h"),
        py::arg("stride_w"), py::arg("pad_top"), py::arg("pad_bottom"), py::arg("pad_left"),
        py::arg("pad_right"), py::arg("dil_h"), py::arg("dil_w"), py::arg("groups"),
        py::arg("itemsize"),
        "(forward, input-gradient, weight-gradient) algorithm names for this geometry.");
  m.def("conv2d_forward", &conv2d_forward, py::arg("input"), py::arg("weight"),
        py::arg("bias"), py::arg("stride_h"), py::arg("stride_w"), py::arg("pad_top"),
        py::arg("pad_bottom"), py::arg("pad_left"), py::arg("pad_right"), py::arg("dil_h"),
        py::arg("dil_w"), py::arg("groups"), py::arg("act_lo") = -kInf,
        py::arg("act_hi") = kInf,
        "y = min(max(conv2d(x, w) + b, act_lo), act_hi) on NCHW float32/float64, C-contiguous "
        "arrays (the default bounds: no activation; ReLU is act_lo=0).");
  m.def("conv2d_pack_weight", &conv2d_pack_weight, py::arg("input"), py::arg("weight"),
        py::arg("stride_h"), py::arg("stride_w"), py::arg("pad_top"), py::arg("pad_bottom"),
        py::arg("pad_left"), py::arg("pad_right"), py::arg("dil_h"), py::arg("dil_w"),
        py::arg("groups"),
        "The forward pass's packed weight for this geometry (1-D float32), or None.");
  m.def("conv2d_forward_packed", &conv2d_forward_packed, py::arg("input"), py::arg("weight"),
        py::arg("packed"), py::arg("bias"), py::arg("stride_h"), py::arg("stride_w"),
        py::arg("pad_top"), py::arg("pad_bottom"), py::arg("pad_left"), py::arg("pad_right"),
        py::arg("dil_h"), py::arg("dil_w"), py::arg("groups"), py::arg("act_lo") = -kInf,
        py::arg("act_hi") = kInf,
        "conv2d_forward with a weight packed by conv2d_pack_weight for the same geometry.");
  m.def("conv2d_pw_dw_forward", &conv2d_pw_dw_forward, py::arg("input"), py::arg("weight1"),
        py::arg("bias1"), py::arg("weight2"), py::arg("bias2"), py::arg("stride_h"),
        py::arg("stride_w"), py::arg("pad_top"), py::arg("pad_bottom"), py::arg("pad_left"),
        py::arg("pad_right"), py::arg("dil_h"), py::arg("dil_w"), py::arg("act1_lo") = -kInf,
        py::arg("act1_hi") = kInf, py::arg("act2_lo") = -kInf, py::arg("act2_hi") = kInf,
        py::arg("channels_last") = false,
        "A 1x1 expansion (weight1 (C, Ci, 1, 1)) fused into a depthwise convolution (weight2 "
        "(C, 1, kh, kw)), float32 inference: y = clamp2(dwconv(clamp1(conv1x1(x) + b1)) + b2), "
        "the expanded tensor never stored; None where there is no fused kernel. channels_last: "
        "x is (N, H, W, Ci) NHWC storage and y (N, OH, OW, C).");
  m.def("conv2d_depthwise_nhwc_forward", &conv2d_depthwise_nhwc_forward, py::arg("input"),
        py::arg("weight"), py::arg("bias"), py::arg("stride_h"), py::arg("stride_w"),
        py::arg("pad_top"), py::arg("pad_bottom"), py::arg("pad_left"), py::arg("pad_right"),
        py::arg("dil_h"), py::arg("dil_w"), py::arg("act_lo") = -kInf, py::arg("act_hi") = kInf,
        "Depthwise conv2d (groups = C, weight (C, 1, kh, kw)) on the NHWC storage of a "
        "channels-last input, (N, H, W, C) C-contiguous: y (N, OH, OW, C) = clamp(conv + b), "
        "or None where this ISA or shape has no channels-last kernel.");
  m.def("conv2d_depthwise_nhwc_backward", &conv2d_depthwise_nhwc_backward, py::arg("input"),
        py::arg("weight"), py::arg("grad_output"), py::arg("stride_h"), py::arg("stride_w"),
        py::arg("pad_top"), py::arg("pad_bottom"), py::arg("pad_left"), py::arg("pad_right"),
        py::arg("dil_h"), py::arg("dil_w"), py::arg("need_input"), py::arg("need_weight"),
        py::arg("need_bias"),
        "(grad_input (N, H, W, C) | None, grad_weight | None, grad_bias | None) of "
        "conv2d_depthwise_nhwc_forward, or None where it has no kernel.");
  m.def("conv2d_backward", &conv2d_backward, py::arg("input"), py::arg("weight"),
        py::arg("grad_output"), py::arg("stride_h"), py::arg("stride_w"), py::arg("pad_top"),
        py::arg("pad_bottom"), py::arg("pad_left"), py::arg("pad_right"), py::arg("dil_h"),
        py::arg("dil_w"), py::arg("groups"), py::arg("need_input"), py::arg("need_weight"),
        py::arg("need_bias"),
        "(grad_input | None, grad_weight | None, grad_bias | None) of conv2d.");
}

}  // namespace fastdl
