// Bindings of the norm kernel family (csrc/kernels/norm/): batch, layer and group norm,
// forward and fused backward. Everything is validated here; the kernels trust their inputs.
#include <cmath>
#include <string>
#include <vector>

#include "bindings/util.h"
#include "common/checks.h"
#include "kernels/norm/norm.h"

namespace fastdl {
namespace {

std::string S(const char* fn) { return std::string(fn) + ": "; }

// A float array of the same dtype as `like`, C-contiguous, with exactly `n` elements and
// (when ndim_1) 1-D: a parameter vector.
void require_vec(const py::array& a, const py::array& like, int64_t n, const char* fn,
                 const char* name) {
  require_float(a, fn, name);
  require_same_dtype(like, a, fn, "input", name);
  if (a.ndim() != 1 || a.shape(0) != n)
    throw py::value_error(S(fn) + name + " must have shape (" + std::to_string(n) + ",), got " +
                          shape_str(a));
}

// A per-channel (scale, shift) pair as batch_norm_train returns it: (2, C), C-contiguous, of
// x's dtype.
void require_scale_shift(const py::array& a, const py::array& x, int64_t C, const char* fn,
                         const char* name) {
  require_float(a, fn, name);
  require_same_dtype(x, a, fn, "input", name);
  if (a.ndim() != 2 || a.shape(0) != 2 || a.shape(1) != C || !(a.flags() & py::array::c_style))
    throw py::value_error(S(fn) + name + " must be a C-contiguous array of shape (2, " +
                          std::to_string(C) + "), got " + shape_str(a));
}

void require_same_shape(const py::array& a, const py::array& b, const char* fn, const char* na,
                        const char* nb) {
  if (shape_of(a) != shape_of(b))
    throw py::value_error(S(fn) + na + " has shape " + shape_str(a) + " but " + nb +
                          " has shape " + shape_str(b));
}

// N, C, S of an (N, C, *) input
void ncs(const py::array& x, const char* fn, int64_t& N, int64_t& C, int64_t& Sp) {
  if (x.ndim() < 2)
    throw py::value_error(S(fn) + "input must have at least 2 dimensions (N, C, ...), got " +
                          shape_str(x));
  N = x.shape(0);
  C = x.shape(1);
  Sp = 1;
  for (py::ssize_t i = 2; i < x.ndim(); ++i) Sp = checked_mul(Sp, x.shape(i), fn);
}

template <class T>
std::vector<T> vec_or(const py::object& o, int64_t n, T fill) {
  if (o.is_none()) return std::vector<T>(static_cast<size_t>(n), fill);
  const T* p = cptr<T>(o.cast<py::array>());
  return std::vector<T>(p, p + n);
}

void check_opt_vec(const py::object& o, const py::array& like, int64_t n, const char* fn,
                   const char* name) {
  if (!o.is_none()) require_vec(o.cast<py::array>(), like, n, fn, name);
}

// The forward's optional affine weight and bias (n values each, x's dtype) and eps >= 0.
void check_affine_eps(const py::object& w, const py::object& b, const py::array& x, int64_t n,
                      double eps, const char* fn) {
  check_opt_vec(w, x, n, fn, "weight");
  check_opt_vec(b, x, n, fn, "bias");
  if (!(eps >= 0)) throw py::value_error(S(fn) + "eps must be >= 0, got " + std::to_string(eps));
}

py::object none() { return py::none(); }

// A norm backward's input and grad_output: float, one dtype, one shape.
void check_grad_output(const py::array& g, const py::array& x, const char* fn) {
  require_float(x, fn, "input");
  require_float(g, fn, "grad_output");
  require_same_dtype(x, g, fn, "input", "grad_output");
  require_same_shape(g, x, fn, "grad_output", "input");
}

// The gradients a norm's backward returns: gx shaped like x, gw and gb of n elements, each
// allocated only when wanted; x_/w_/b_ptr are nullptr and the tuple holds None otherwise.
struct NormGrads {
  bool need_gx, need_gw, need_gb;
  py::array gx, gw, gb;
  NormGrads(const py::array& x, int64_t n, bool nx, bool nw, bool nb)
      : need_gx(nx), need_gw(nw), need_gb(nb) {
    if (nx) gx = pool_array(shape_of(x), x.dtype());
    if (nw) gw = pool_array({n}, x.dtype());
    if (nb) gb = pool_array({n}, x.dtype());
  }
  template <class T> T* x_ptr() { return need_gx ? ptr<T>(gx) : nullptr; }
  template <class T> T* w_ptr() { return need_gw ? ptr<T>(gw) : nullptr; }
  template <class T> T* b_ptr() { return need_gb ? ptr<T>(gb) : nullptr; }
  // a batch norm's gw = Σg·(x − mean)·invstd, gb = Σg from the channel sums (when wanted)
  template <class T>
  void param_grads(int64_t n, const double* sum_g, const double* sum_gxc, const T* invstd) {
    T* w = w_ptr<T>();
    T* b = b_ptr<T>();
    for (int64_t c = 0; w && c < n; ++c)
      w[c] = static_cast<T>(sum_gxc[c] * static_cast<double>(invstd[c]));
    for (int64_t c = 0; b && c < n; ++c) b[c] = static_cast<T>(sum_g[c]);
  }
  py::tuple result() const {
    return py::make_tuple(need_gx ? py::object(gx) : none(), need_gw ? py::object(gw) : none(),
                          need_gb ? py::object(gb) : none());
  }
};

// ---------------------------------------------------------------------------------------
// batch norm

// The activation fused with a batch norm: "none", "relu" or "clamp" (to [min_val, max_val]:
// ReLU6, Hardtanh), as norm::kAct*.
int act_code(const std::string& a, double lo, double hi, const char* fn) {
  if (a == "none") return norm::kActNone;
  if (a == "relu") return norm::kActRelu;
  if (a == "clamp") {
    if (!(lo <= hi))
      throw py::value_error(S(fn) + "min_val must be <= max_val, got " + std::to_string(lo) +
                            " and " + std::to_string(hi));
    return norm::kActClamp;
  }
  throw py::value_error(S(fn) + "activation must be 'none', 'relu' or 'clamp', got '" + a + "'");
}

template <class T>
py::tuple bn_train_t(const py::array& x, const py::object& w, const py::object& b, double eps,
                     int act, double lo, double hi, bool output) {
  int64_t N, C, Sp;
  ncs(x, "batch_norm", N, C, Sp);
  py::array ya = output ? pool_array(shape_of(x), x.dtype()) : py::array();
  T* yp = output ? ptr<T>(ya) : nullptr;
  py::object y = output ? py::object(ya) : py::none();
  py::array mean = pool_array({C}, x.dtype()), var = pool_array({C}, x.dtype());
  py::array invstd = pool_array({C}, x.dtype()), ss = pool_array({2, C}, x.dtype());
  std::vector<T> wv = vec_or<T>(w, C, T(1)), bv = vec_or<T>(b, C, T(0));
  {
    py::gil_scoped_release nogil;
    norm::bn_train_forward<T>(cptr<T>(x), N, C, Sp, wv.data(), bv.data(), eps, yp,
                              ptr<T>(mean), ptr<T>(var), ptr<T>(invstd), ptr<T>(ss), act,
                              static_cast<T>(lo), static_cast<T>(hi));
  }
  return py::make_tuple(y, mean, var, invstd, ss);
}

py::tuple bn_train(const py::array& x, const py::object& w, const py::object& b, double eps,
                   const std::string& activation, double lo, double hi, bool output) {
  const char* fn = "batch_norm";
  const int act = act_code(activation, lo, hi, fn);
  require_float(x, fn, "input");
  int64_t N, C, Sp;
  ncs(x, fn, N, C, Sp);
  if (checked_mul(N, Sp, fn) <= 1)
    throw py::value_error(S(fn) + "expected more than 1 value per channel when training, got "
                          "input of shape " + shape_str(x));
  check_affine_eps(w, b, x, C, eps, fn);
  return is_f32(x) ? bn_train_t<float>(x, w, b, eps, act, lo, hi, output)
                   : bn_train_t<double>(x, w, b, eps, act, lo, hi, output);
}

template <class T>
py::array bn_apply_t(const py::array& x, const py::array& ss, const py::object& r, int act,
                     double lo, double hi, const py::object& rss) {
  int64_t N, C, Sp;
  ncs(x, "batch_norm_apply", N, C, Sp);
  py::array y = pool_array(shape_of(x), x.dtype());
  const T* rp = r.is_none() ? nullptr : cptr<T>(r.cast<py::array>());
  const T* rsp = rss.is_none() ? nullptr : cptr<T>(rss.cast<py::array>());
  {
    py::gil_scoped_release nogil;
    const T* sc = cptr<T>(ss);
    if (rp)
      norm::bn_affine_res<T>(cptr<T>(x), N, C, Sp, sc, sc + C, rp, rsp, ptr<T>(y), act,
                             static_cast<T>(lo), static_cast<T>(hi));
    else
      norm::bn_affine<T>(cptr<T>(x), N, C, Sp, sc, sc + C, ptr<T>(y), act, static_cast<T>(lo),
                         static_cast<T>(hi));
  }
  return y;
}

// y = act(x·scale + shift [+ residual]) with batch_norm_train's scale_shift: the output of a
// training batch norm computed after its statistics (fastdl/_deferred.py).
py::array bn_apply(const py::array& x, const py::array& ss, const py::object& residual,
                   const std::string& activation, double lo, double hi,
                   const py::object& residual_ss) {
  const char* fn = "batch_norm_apply";
  const int act = act_code(activation, lo, hi, fn);
  require_float(x, fn, "input");
  if (!(x.flags() & py::array::c_style))
    throw py::value_error(S(fn) + "input must be C-contiguous, got shape " + shape_str(x));
  int64_t N, C, Sp;
  ncs(x, fn, N, C, Sp);
  require_scale_shift(ss, x, C, fn, "scale_shift");
  if (!residual.is_none()) {
    if (!py::isinstance<py::array>(residual))
      throw py::type_error(S(fn) + "residual must be an array or None");
    py::array r = residual.cast<py::array>();
    require_float(r, fn, "residual");
    require_same_dtype(x, r, fn, "input", "residual");
    require_same_shape(x, r, fn, "input", "residual");
    if (!(r.flags() & py::array::c_style))
      throw py::value_error(S(fn) + "residual must be C-contiguous, got shape " + shape_str(r));
  }
  if (!residual_ss.is_none()) {
    if (residual.is_none())
      throw py::value_error(S(fn) + "residual_scale_shift needs a residual");
    if (!py::isinstance<py::array>(residual_ss))
      throw py::type_error(S(fn) + "residual_scale_shift must be an array or None");
    require_scale_shift(residual_ss.cast<py::array>(), x, C, fn, "residual_scale_shift");
  }
  return is_f32(x) ? bn_apply_t<float>(x, ss, residual, act, lo, hi, residual_ss)
                   : bn_apply_t<double>(x, ss, residual, act, lo, hi, residual_ss);
}

template <class T>
py::tuple bn_eval_t(const py::array& x, const py::array& rm, const py::array& rv,
                    const py::object& w, const py::object& b, double eps, int act, double lo,
                    double hi) {
  int64_t N, C, Sp;
  ncs(x, "batch_norm", N, C, Sp);
  py::array y = pool_array(shape_of(x), x.dtype());
  py::array invstd = pool_array({C}, x.dtype());
  std::vector<T> wv = vec_or<T>(w, C, T(1)), bv = vec_or<T>(b, C, T(0));
  std::vector<T> scale(C), shift(C);
  const T* m = cptr<T>(rm);
  const T* v = cptr<T>(rv);
  {
    py::gil_scoped_release nogil;
    T* is = ptr<T>(invstd);
    for (int64_t c = 0; c < C; ++c) {
      const double r = 1.0 / std::sqrt(static_cast<double>(v[c]) + eps);
      is[c] = static_cast<T>(r);
      scale[c] = static_cast<T>(static_cast<double>(wv[c]) * r);
      shift[c] = static_cast<T>(static_cast<double>(bv[c]) -
                                static_cast<double>(m[c]) * static_cast<double>(wv[c]) * r);
    }
    norm::bn_affine<T>(cptr<T>(x), N, C, Sp, scale.data(), shift.data(), ptr<T>(y), act,
                       static_cast<T>(lo), static_cast<T>(hi));
  }
  return py::make_tuple(y, invstd);
}

py::tuple bn_eval(const py::array& x, const py::array& rm, const py::array& rv,
                  const py::object& w, const py::object& b, double eps,
                  const std::string& activation, double lo, double hi) {
  const char* fn = "batch_norm";
  const int act = act_code(activation, lo, hi, fn);
  require_float(x, fn, "input");
  int64_t N, C, Sp;
  ncs(x, fn, N, C, Sp);
  require_vec(rm, x, C, fn, "running_mean");
  require_vec(rv, x, C, fn, "running_var");
  check_affine_eps(w, b, x, C, eps, fn);
  return is_f32(x) ? bn_eval_t<float>(x, rm, rv, w, b, eps, act, lo, hi)
                   : bn_eval_t<double>(x, rm, rv, w, b, eps, act, lo, hi);
}

// Backward of y = (x − mean)·invstd·w + b. training: mean/invstd are the batch statistics
// (they depend on x); eval: the running ones (constants).
template <class T>
py::tuple bn_backward_t(const py::array& g, const py::array& x, const py::array& mean,
                        const py::array& invstd, const py::object& w, bool training, bool need_gx,
                        bool need_gw, bool need_gb) {
  int64_t N, C, Sp;
  ncs(x, "batch_norm_backward", N, C, Sp);
  std::vector<T> wv = vec_or<T>(w, C, T(1));
  NormGrads out(x, C, need_gx, need_gw, need_gb);
  const T* m = cptr<T>(mean);
  const T* is = cptr<T>(invstd);
  {
    py::gil_scoped_release nogil;
    std::vector<double> sg(C, 0.0), sgx(C, 0.0);
    if (training) {
      if (need_gx || need_gw || need_gb)
        norm::bn_train_backward<T>(cptr<T>(g), cptr<T>(x), N, C, Sp, m, is, wv.data(),
                                   out.x_ptr<T>(), sg.data(), sgx.data());
    } else {
      if (need_gw || need_gb)
        norm::bn_backward_reduce<T>(cptr<T>(g), cptr<T>(x), N, C, Sp, m, sg.data(), sgx.data());
      if (need_gx) {  // running statistics are constants: gx = g·w·invstd
        std::vector<T> k1(C), zero(C, T(0));
        for (int64_t c = 0; c < C; ++c)
          k1[c] = static_cast<T>(static_cast<double>(wv[c]) * static_cast<double>(is[c]));
        norm::bn_affine<T>(cptr<T>(g), N, C, Sp, k1.data(), zero.data(), out.x_ptr<T>());
      }
    }
    out.param_grads<T>(C, sg.data(), sgx.data(), is);
  }
  return out.result();
}

// A batch-norm backward's operands (grad_output and input of one shape and float dtype; mean,
// invstd and the optional weight (C,) vectors of that dtype): C.
int64_t check_bn_backward(const py::array& g, const py::array& x, const py::array& mean,
                          const py::array& invstd, const py::object& w, const char* fn) {
  check_grad_output(g, x, fn);
  int64_t N, C, Sp;
  ncs(x, fn, N, C, Sp);
  require_vec(mean, x, C, fn, "mean");
  require_vec(invstd, x, C, fn, "invstd");
  check_opt_vec(w, x, C, fn, "weight");
  return C;
}

py::tuple bn_backward(const py::array& g, const py::array& x, const py::array& mean,
                      const py::array& invstd, const py::object& w, bool training, bool need_gx,
                      bool need_gw, bool need_gb) {
  check_bn_backward(g, x, mean, invstd, w, "batch_norm_backward");
  return is_f32(x) ? bn_backward_t<float>(g, x, mean, invstd, w, training, need_gx, need_gw, need_gb)
                   : bn_backward_t<double>(g, x, mean, invstd, w, training, need_gx, need_gw, need_gb);
}

// The training backward of act(batch_norm(x)): g is the gradient of the activation's output,
// masked inside the batch-norm kernel where the activation's input x·scale + shift (ss, the
// forward's (2, C) scale_shift) is recomputed (bitwise the two backwards in turn, without
// their extra sweep or the activation's output).
template <class T>
py::tuple bn_backward_act_t(const py::array& g, const py::array& x, const py::array& mean,
                            const py::array& invstd, const py::object& w, const py::array& ss,
                            int act, double lo, double hi, bool need_gx, bool need_gw,
                            bool need_gb) {
  int64_t N, C, Sp;
  ncs(x, "batch_norm_backward_act", N, C, Sp);
  std::vector<T> wv = vec_or<T>(w, C, T(1));
  NormGrads res(x, C, need_gx, need_gw, need_gb);
  const T* is = cptr<T>(invstd);
  {
    py::gil_scoped_release nogil;
    std::vector<double> sg(C, 0.0), sgx(C, 0.0);
    if (need_gx || need_gw || need_gb)
      norm::bn_train_backward<T>(cptr<T>(g), cptr<T>(x), N, C, Sp, cptr<T>(mean), is, wv.data(),
                                 res.x_ptr<T>(), sg.data(), sgx.data(), act, cptr<T>(ss),
                                 static_cast<T>(lo), static_cast<T>(hi));
    res.param_grads<T>(C, sg.data(), sgx.data(), is);
  }
  return res.result();
}

py::tuple bn_backward_act(const py::array& g, const py::array& x, const py::array& mean,
                          const py::array& invstd, const py::object& w, const py::array& ss,
                          const std::string& activation, double lo, double hi, bool need_gx,
                          bool need_gw, bool need_gb) {
  const char* fn = "batch_norm_backward_act";
  const int act = act_code(activation, lo, hi, fn);
  const int64_t C = check_bn_backward(g, x, mean, invstd, w, fn);
  require_scale_shift(ss, x, C, fn, "scale_shift");
  return is_f32(x) ? bn_backward_act_t<float>(g, x, mean, invstd, w, ss, act, lo, hi, need_gx,
                                              need_gw, need_gb)
                   : bn_backward_act_t<double>(g, x, mean, invstd, w, ss, act, lo, hi, need_gx,
                                               need_gw, need_gb);
}

// The training backward from the channels' sums act_grad_bn_sums took (sum_g, sum_gxc:
// float64 (C,)): (grad_input, grad_weight, grad_bias), bitwise batch_norm_backward's.
template <class T>
py::tuple bn_backward_sums_t(const py::array& g, const py::array& x, const py::array& mean,
                             const py::array& invstd, const py::object& w, const py::array& sg,
                             const py::array& sgx, bool need_gx, bool need_gw, bool need_gb) {
  int64_t N, C, Sp;
  ncs(x, "batch_norm_backward_sums", N, C, Sp);
  std::vector<T> wv = vec_or<T>(w, C, T(1));
  NormGrads out(x, C, need_gx, need_gw, need_gb);
  const T* is = cptr<T>(invstd);
  const double* sgp = cptr<double>(sg);
  const double* sgxp = cptr<double>(sgx);
  {
    py::gil_scoped_release nogil;
    if (need_gx)
      norm::bn_train_backward_sums<T>(cptr<T>(g), cptr<T>(x), N, C, Sp, cptr<T>(mean), is,
                                      wv.data(), out.x_ptr<T>(), sgp, sgxp);
    out.param_grads<T>(C, sgp, sgxp, is);
  }
  return out.result();
}

// A float64 (C,) vector of channel sums.
void require_sums(const py::array& a, int64_t C, const char* fn, const char* name) {
  if (!is_f64(a) || a.ndim() != 1 || a.shape(0) != C || !(a.flags() & py::array::c_style))
    throw py::value_error(S(fn) + name + " must be a C-contiguous float64 array of shape (" +
                          std::to_string(C) + ",), got " + std::string(py::str(a.dtype())) +
                          " " + shape_str(a));
}

py::tuple bn_backward_sums(const py::array& g, const py::array& x, const py::array& mean,
                           const py::array& invstd, const py::object& w, const py::array& sg,
                           const py::array& sgx, bool need_gx, bool need_gw, bool need_gb) {
  const char* fn = "batch_norm_backward_sums";
  const int64_t C = check_bn_backward(g, x, mean, invstd, w, fn);
  require_sums(sg, C, fn, "sum_g");
  require_sums(sgx, C, fn, "sum_gxc");
  return is_f32(x) ? bn_backward_sums_t<float>(g, x, mean, invstd, w, sg, sgx, need_gx, need_gw,
                                               need_gb)
                   : bn_backward_sums_t<double>(g, x, mean, invstd, w, sg, sgx, need_gx,
                                                need_gw, need_gb);
}

template <class T>
py::tuple act_grad_bn_sums_t(const py::array& y, const py::array& a, const py::array& b, int act,
                             double lo, double hi, const py::array& x1, const py::array& m1,
                             const py::object& x2, const py::object& m2) {
  int64_t N, C, Sp;
  ncs(y, "activation_backward_bn_sums", N, C, Sp);
  py::array g = pool_array(shape_of(y), y.dtype());
  py::array sg = pool_array({C}, py::dtype::of<double>());
  py::array s1 = pool_array({C}, py::dtype::of<double>());
  py::array s2v;
  if (!x2.is_none()) s2v = pool_array({C}, py::dtype::of<double>());
  const T* x2p = x2.is_none() ? nullptr : cptr<T>(x2.cast<py::array>());
  const T* m2p = x2.is_none() ? nullptr : cptr<T>(m2.cast<py::array>());
  double* s2p = x2.is_none() ? nullptr : ptr<double>(s2v);
  py::object s2 = x2.is_none() ? none() : py::object(s2v);
  {
    py::gil_scoped_release nogil;
    norm::act_grad_bn_sums<T>(cptr<T>(y), cptr<T>(a), cptr<T>(b), N, C, Sp, act,
                              static_cast<T>(lo), static_cast<T>(hi), cptr<T>(x1), cptr<T>(m1),
                              x2p, m2p, ptr<T>(g), ptr<double>(sg), ptr<double>(s1), s2p);
  }
  return py::make_tuple(g, sg, s1, s2);
}

py::tuple act_grad_bn_sums(const py::array& y, const py::array& a, const py::array& b,
                           const std::string& activation, double lo, double hi,
                           const py::array& x1, const py::array& m1, const py::object& x2,
                           const py::object& m2) {
  const char* fn = "activation_backward_bn_sums";
  const int act = act_code(activation, lo, hi, fn);
  if (act == norm::kActNone)
    throw py::value_error(S(fn) + "activation must be 'relu' or 'clamp', got 'none'");
  check_grad_output(a, y, fn);
  check_grad_output(b, y, fn);
  check_grad_output(x1, y, fn);
  int64_t N, C, Sp;
  ncs(y, fn, N, C, Sp);
  require_vec(m1, y, C, fn, "mean1");
  if (x2.is_none() != m2.is_none())
    throw py::value_error(S(fn) + "input2 and mean2 must both be given or both be None");
  if (!x2.is_none()) {
    check_grad_output(x2.cast<py::array>(), y, fn);
    require_vec(m2.cast<py::array>(), y, C, fn, "mean2");
  }
  return is_f32(y) ? act_grad_bn_sums_t<float>(y, a, b, act, lo, hi, x1, m1, x2, m2)
                   : act_grad_bn_sums_t<double>(y, a, b, act, lo, hi, x1, m1, x2, m2);
}

// ---------------------------------------------------------------------------------------
// layer norm: x is (M, K) (the caller flattens)

void mk(const py::array& x, const char* fn, int64_t& M, int64_t& K) {
  if (x.ndim() != 2)
    throw py::value_error(S(fn) + "input must be 2-D (rows, normalized size), got " + shape_str(x));
  M = x.shape(0);
  K = x.shape(1);
}

template <class T>
py::tuple ln_fwd_t(const py::array& x, const py::object& w, const py::object& b, double eps) {
  int64_t M, K;
  mk(x, "layer_norm", M, K);
  py::array y = pool_array(shape_of(x), x.dtype());
  py::array mean = pool_array({M}, x.dtype()), rstd = pool_array({M}, x.dtype());
  std::vector<T> wv = vec_or<T>(w, K, T(1)), bv = vec_or<T>(b, K, T(0));
  {
    py::gil_scoped_release nogil;
    norm::ln_forward<T>(cptr<T>(x), M, K, wv.data(), bv.data(), eps, ptr<T>(y), ptr<T>(mean),
                        ptr<T>(rstd));
  }
  return py::make_tuple(y, mean, rstd);
}

py::tuple ln_fwd(const py::array& x, const py::object& w, const py::object& b, double eps) {
  const char* fn = "layer_norm";
  require_float(x, fn, "input");
  int64_t M, K;
  mk(x, fn, M, K);
  if (K == 0) throw py::value_error(S(fn) + "normalized size must be > 0");
  check_affine_eps(w, b, x, K, eps, fn);
  return is_f32(x) ? ln_fwd_t<float>(x, w, b, eps) : ln_fwd_t<double>(x, w, b, eps);
}

template <class T>
py::tuple ln_bwd_t(const py::array& g, const py::array& x, const py::object& w,
                   const py::array& mean, const py::array& rstd, bool need_gx, bool need_gw,
                   bool need_gb) {
  int64_t M, K;
  mk(x, "layer_norm_backward", M, K);
  std::vector<T> wv = vec_or<T>(w, K, T(1));
  NormGrads out(x, K, need_gx, need_gw, need_gb);
  {
    py::gil_scoped_release nogil;
    norm::ln_backward<T>(cptr<T>(g), cptr<T>(x), M, K, wv.data(), cptr<T>(mean), cptr<T>(rstd),
                         out.x_ptr<T>(), out.w_ptr<T>(), out.b_ptr<T>());
  }
  return out.result();
}

py::tuple ln_bwd(const py::array& g, const py::array& x, const py::object& w,
                 const py::array& mean, const py::array& rstd, bool need_gx, bool need_gw,
                 bool need_gb) {
  const char* fn = "layer_norm_backward";
  check_grad_output(g, x, fn);
  int64_t M, K;
  mk(x, fn, M, K);
  check_opt_vec(w, x, K, fn, "weight");
  require_vec(mean, x, M, fn, "mean");
  require_vec(rstd, x, M, fn, "rstd");
  return is_f32(x) ? ln_bwd_t<float>(g, x, w, mean, rstd, need_gx, need_gw, need_gb)
                   : ln_bwd_t<double>(g, x, w, mean, rstd, need_gx, need_gw, need_gb);
}

// ---------------------------------------------------------------------------------------
// group norm

void check_groups(const py::array& x, int64_t G, const char* fn, int64_t C) {
  if (G <= 0) throw py::value_error(S(fn) + "num_groups must be > 0, got " + std::to_string(G));
  if (C % G != 0)
    throw py::value_error(S(fn) + "num_channels " + std::to_string(C) +
                          " must be divisible by num_groups " + std::to_string(G) +
                          " (input shape " + shape_str(x) + ")");
}

template <class T>
py::tuple gn_fwd_t(const py::array& x, int64_t G, const py::object& w, const py::object& b,
                   double eps) {
  int64_t N, C, Sp;
  ncs(x, "group_norm", N, C, Sp);
  py::array y = pool_array(shape_of(x), x.dtype());
  py::array mean = pool_array({N * G}, x.dtype()), rstd = pool_array({N * G}, x.dtype());
  std::vector<T> wv = vec_or<T>(w, C, T(1)), bv = vec_or<T>(b, C, T(0));
  {
    py::gil_scoped_release nogil;
    norm::gn_forward<T>(cptr<T>(x), N, C, Sp, G, wv.data(), bv.data(), eps, ptr<T>(y),
                        ptr<T>(mean), ptr<T>(rstd));
  }
  return py::make_tuple(y, mean, rstd);
}

py::tuple gn_fwd(const py::array& x, int64_t G, const py::object& w, const py::object& b,
                 double eps) {
  const char* fn = "group_norm";
  require_float(x, fn, "input");
  int64_t N, C, Sp;
  ncs(x, fn, N, C, Sp);
  check_groups(x, G, fn, C);
  if (Sp * (C / G) == 0 && N > 0)
    throw py::value_error(S(fn) + "each group must hold at least one value, input shape " +
                          shape_str(x));
  check_affine_eps(w, b, x, C, eps, fn);
  return is_f32(x) ? gn_fwd_t<float>(x, G, w, b, eps) : gn_fwd_t<double>(x, G, w, b, eps);
}

template <class T>
py::tuple gn_bwd_t(const py::array& g, const py::array& x, int64_t G, const py::object& w,
                   const py::array& mean, const py::array& rstd, bool need_gx, bool need_gw,
                   bool need_gb) {
  int64_t N, C, Sp;
  ncs(x, "group_norm_backward", N, C, Sp);
  std::vector<T> wv = vec_or<T>(w, C, T(1));
  NormGrads out(x, C, need_gx, need_gw, need_gb);
  {
    py::gil_scoped_release nogil;
    norm::gn_backward<T>(cptr<T>(g), cptr<T>(x), N, C, Sp, G, wv.data(), cptr<T>(mean),
                         cptr<T>(rstd), out.x_ptr<T>(), out.w_ptr<T>(), out.b_ptr<T>());
  }
  return out.result();
}

py::tuple gn_bwd(const py::array& g, const py::array& x, int64_t G, const py::object& w,
                 const py::array& mean, const py::array& rstd, bool need_gx, bool need_gw,
                 bool need_gb) {
  const char* fn = "group_norm_backward";
  check_grad_output(g, x, fn);
  int64_t N, C, Sp;
  ncs(x, fn, N, C, Sp);
  check_groups(x, G, fn, C);
  check_opt_vec(w, x, C, fn, "weight");
  require_vec(mean, x, N * G, fn, "mean");
  require_vec(rstd, x, N * G, fn, "rstd");
  return is_f32(x) ? gn_bwd_t<float>(g, x, G, w, mean, rstd, need_gx, need_gw, need_gb)
                   : gn_bwd_t<double>(g, x, G, w, mean, rstd, need_gx, need_gw, need_gb);
}

}  // namespace

void bind_norm(py::module_& m) {
  using py::arg;
  m.def("batch_norm_train", &bn_train, arg("input"), arg("weight"), arg("bias"), arg("eps"),
        arg("activation") = "none", arg("min_val") = 0.0, arg("max_val") = 0.0,
        arg("output") = true,
        "Batch norm with batch statistics: returns (y, mean, biased var, invstd, scale_shift); "
        "y is act(x·scale + shift) per channel, scale = weight·invstd, shift = bias − "
        "mean·scale (scale_shift: (2, C)), activation 'relu' or 'clamp' (to [min_val, "
        "max_val]); output=False: y is None (the statistics alone, one pass over x).");
  m.def("batch_norm_apply", &bn_apply, arg("input"), arg("scale_shift"),
        arg("residual") = py::none(), arg("activation") = "none", arg("min_val") = 0.0,
        arg("max_val") = 0.0, arg("residual_scale_shift") = py::none(),
        "y = act(x·scale + shift + residual) per channel (residual optional, of x's shape), "
        "scale_shift as batch_norm_train returns it: bitwise batch_norm_train's y, the eltwise "
        "add of the residual and the eltwise activation run in turn; with "
        "residual_scale_shift the residual is another batch norm's output, "
        "residual·scale' + shift'.");
  m.def("batch_norm_eval", &bn_eval, arg("input"), arg("running_mean"), arg("running_var"),
        arg("weight"), arg("bias"), arg("eps"), arg("activation") = "none",
        arg("min_val") = 0.0, arg("max_val") = 0.0,
        "Batch norm with given statistics: returns (y, invstd); activation as batch_norm_train.");
  m.def("batch_norm_backward", &bn_backward, arg("grad_output"), arg("input"), arg("mean"),
        arg("invstd"), arg("weight"), arg("training"), arg("need_input"), arg("need_weight"),
        arg("need_bias"), "Fused batch-norm backward: (grad_input, grad_weight, grad_bias).");
  m.def("batch_norm_backward_act", &bn_backward_act, arg("grad_output"), arg("input"),
        arg("mean"), arg("invstd"), arg("weight"), arg("scale_shift"), arg("activation"),
        arg("min_val"), arg("max_val"), arg("need_input"), arg("need_weight"), arg("need_bias"),
        "Training backward of act(batch_norm(x)) from the gradient of the activation's output "
        "('relu' or 'clamp' to [min_val, max_val]), the activation's input recomputed from x "
        "and batch_norm_train's scale_shift: (grad_input, grad_weight, grad_bias), bitwise the "
        "activation's backward followed by batch_norm_backward.");
  m.def("batch_norm_backward_sums", &bn_backward_sums, arg("grad_output"), arg("input"),
        arg("mean"), arg("invstd"), arg("weight"), arg("sum_g"), arg("sum_gxc"),
        arg("need_input"), arg("need_weight"), arg("need_bias"),
        "Training batch-norm backward from the channel sums Σg and Σg·(x − mean) (float64, as "
        "activation_backward_bn_sums returns them): (grad_input, grad_weight, grad_bias), "
        "bitwise batch_norm_backward(training=True).");
  m.def("activation_backward_bn_sums", &act_grad_bn_sums, arg("output"), arg("grad_a"),
        arg("grad_b"), arg("activation"), arg("min_val"), arg("max_val"), arg("input1"),
        arg("mean1"), arg("input2") = py::none(), arg("mean2") = py::none(),
        "Backward of y = act(bn1(input1) + r) ('relu' or 'clamp') for the gradient grad_a + "
        "grad_b of y (read twice): (g, sum_g, sum_gxc1, sum_gxc2), g = act'(y)·(grad_a + "
        "grad_b) bitwise eltwise_backward's, with the batch-norm backward's channel sums of g "
        "against input1 (and input2, another batch norm's input added into r) from the same "
        "sweep.");
  m.def("layer_norm_forward", &ln_fwd, arg("input"), arg("weight"), arg("bias"), arg("eps"),
        "Layer norm of a 2-D (rows, K) input: (y, mean, rstd).");
  m.def("layer_norm_backward", &ln_bwd, arg("grad_output"), arg("input"), arg("weight"),
        arg("mean"), arg("rstd"), arg("need_input"), arg("need_weight"), arg("need_bias"));
  m.def("group_norm_forward", &gn_fwd, arg("input"), arg("num_groups"), arg("weight"),
        arg("bias"), arg("eps"), "Group norm: (y, mean, rstd) with mean/rstd of shape (N·G,).");
  m.def("group_norm_backward", &gn_bwd, arg("grad_output"), arg("input"), arg("num_groups"),
        arg("weight"), arg("mean"), arg("rstd"), arg("need_input"), arg("need_weight"),
        arg("need_bias"));
}

}  // namespace fastdl
