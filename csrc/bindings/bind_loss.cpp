// Bindings of the loss kernel family (csrc/kernels/loss/): cross entropy (class indices and
// class probabilities), NLL and the pointwise losses, forward and backward, with reduction
// 'none' (0), 'mean' (1) or 'sum' (2). Everything is validated here, targets included, before
// any kernel reads the input.
#include <cmath>
#include <limits>
#include <string>

#include "bindings/util.h"
#include "common/checks.h"
#include "kernels/loss/loss.h"

namespace fastdl {
namespace {

std::string P(const char* fn) { return std::string(fn) + ": "; }

enum Red { kNone = 0, kMean = 1, kSum = 2 };

void check_reduction(int r, const char* fn) {
  if (r < 0 || r > 2) throw py::value_error(P(fn) + "invalid reduction code " + std::to_string(r));
}

// (N, C, S) of an (N, C, d1, ...) input and the required target shape (N, d1, ...)
void ncs(const py::array& x, const char* fn, int64_t& N, int64_t& C, int64_t& S, Shape& tshape) {
  if (x.ndim() < 2)
    throw py::value_error(P(fn) + "input must have shape (N, C, ...), got " + shape_str(x));
  N = x.shape(0);
  C = x.shape(1);
  S = 1;
  tshape = {N};
  for (py::ssize_t i = 2; i < x.ndim(); ++i) {
    S = checked_mul(S, x.shape(i), fn);
    tshape.push_back(x.shape(i));
  }
  checked_mul(checked_mul(N, C, fn), S, fn);
}

void require_weight(const py::object& w, const py::array& x, int64_t C, const char* fn) {
  if (w.is_none()) return;
  py::array a = w.cast<py::array>();
  require_float(a, fn, "weight");
  require_same_dtype(x, a, fn, "input", "weight");
  if (a.ndim() != 1 || a.shape(0) != C)
    throw py::value_error(P(fn) + "weight must have shape (" + std::to_string(C) +
                          ",) for input with " + std::to_string(C) + " classes, got " +
                          shape_str(a));
}

template <class T>
const T* opt_ptr(const py::object& o) {
  return o.is_none() ? nullptr : cptr<T>(o.cast<py::array>());
}

// Validate class-index targets (int64, shape, range) without touching the input; return the
// mean-reduction divisor Σ w[t] over non-ignored targets (or their count).
template <class T>
double check_targets(const py::array& target, const Shape& tshape, int64_t C, int64_t ignore,
                     const T* w, const char* fn) {
  if (!is_i64(target))
    throw py::type_error(P(fn) + "target must be int64 class indices, got " +
                         std::string(py::str(target.dtype())));
  if (!(target.flags() & py::array::c_style))
    throw py::value_error(P(fn) + "target must be C-contiguous");
  if (shape_of(target) != tshape)
    throw py::value_error(P(fn) + "target has shape " + shape_str(target) +
                          " but the input needs " + shape_str(tshape));
  const int64_t* t = cptr<int64_t>(target);
  const int64_t n = target.size();
  double denom = 0;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t v = t[i];
    if (v == ignore) continue;
    if (v < 0 || v >= C)
      throw py::index_error(P(fn) + "target " + std::to_string(v) + " at flat index " +
                            std::to_string(i) + " is out of bounds for " + std::to_string(C) +
                            " classes");
    denom += w ? static_cast<double>(w[v]) : 1.0;
  }
  return denom;
}

template <class T>
double sum_of(const T* a, int64_t n) {
  double s = 0;
  for (int64_t i = 0; i < n; ++i) s += static_cast<double>(a[i]);
  return s;
}

// per-sample array (reduction none) or a 0-d array holding the reduced value
template <class T>
py::array reduce_out(py::array per, int red, double denom, const py::dtype& dt) {
  if (red == kNone) return per;
  const int64_t n = per.size();
  const double s = sum_of<T>(cptr<T>(per), n);
  py::array out = pool_array({}, dt);
  ptr<T>(out)[0] = static_cast<T>(red == kSum ? s : s / denom);
  return out;
}

// grad pointer, stride and scale for a loss gradient g of the given reduction
template <class T>
void grad_args(const py::array& g, int red, const Shape& per_shape, double denom, const char* fn,
               int64_t& gstride, double& gscale) {
  require_float(g, fn, "grad_output");
  if (red == kNone) {
    if (shape_of(g) != per_shape)
      throw py::value_error(P(fn) + "grad_output has shape " + shape_str(g) + ", expected " +
                            shape_str(per_shape));
    gstride = 1;
    gscale = 1.0;
  } else {
    if (g.size() != 1)
      throw py::value_error(P(fn) + "grad_output of a reduced loss must have one element, got " +
                            shape_str(g));
    gstride = 0;
    gscale = red == kMean ? 1.0 / denom : 1.0;
  }
}

// ---------------------------------------------------------------------------------------
// cross entropy and NLL: the checks every entry (indices or probabilities, forward or backward)
// makes

// input is float (N, C, d1, ...), weight is None or (C,) of its dtype, reduction is known
void check_class_input(const py::array& x, const py::object& w, int red, const char* fn) {
  require_float(x, fn, "input");
  int64_t N, C, S;
  Shape ts;
  ncs(x, fn, N, C, S, ts);
  require_weight(w, x, C, fn);
  check_reduction(red, fn);
}

void check_label_smoothing(double eps, const char* fn) {
  if (!(eps >= 0 && eps <= 1))
    throw py::value_error(P(fn) + "label_smoothing must be in [0, 1], got " + std::to_string(eps));
}

// the log-sum-exp the forward returned: C-contiguous, input's dtype, the target's shape
void check_lse(const py::array& lse, const py::array& x, const Shape& ts, const char* fn) {
  if (shape_of(lse) != ts || !same_dtype(lse.dtype(), x.dtype()) || !(lse.flags() & py::array::c_style))
    throw py::value_error(P(fn) + "lse must be a C-contiguous " + std::string(py::str(x.dtype())) +
                          " array of shape " + shape_str(ts));
}

// ---------------------------------------------------------------------------------------
// cross entropy, class indices

template <class T>
py::tuple ce_fwd_t(const py::array& x, const py::array& target, const py::object& w,
                   int64_t ignore, double eps, int red) {
  const char* fn = "cross_entropy";
  int64_t N, C, S;
  Shape ts;
  ncs(x, fn, N, C, S, ts);
  const T* wp = opt_ptr<T>(w);
  const double denom = check_targets<T>(target, ts, C, ignore, wp, fn);
  py::array per = pool_array(ts, x.dtype()), lse = pool_array(ts, x.dtype());
  if (C == 0 && N * S > 0) throw py::value_error(P(fn) + "input has 0 classes");
  {
    py::gil_scoped_release nogil;
    loss::ce_forward<T>(cptr<T>(x), N, C, S, cptr<int64_t>(target), wp, ignore, eps, ptr<T>(per),
                        ptr<T>(lse));
  }
  return py::make_tuple(reduce_out<T>(per, red, denom, x.dtype()), lse, denom);
}

py::tuple ce_fwd(const py::array& x, const py::array& target, const py::object& w,
                 int64_t ignore, double eps, int red) {
  const char* fn = "cross_entropy";
  check_class_input(x, w, red, fn);
  check_label_smoothing(eps, fn);
  return is_f32(x) ? ce_fwd_t<float>(x, target, w, ignore, eps, red)
                   : ce_fwd_t<double>(x, target, w, ignore, eps, red);
}

// What the backwards of the class-index losses (cross entropy, NLL) check and prepare: the
// (N, C, S) view of x, the target shape ts, the class weights, grad_output's stride and
// scale for the reduction, and the gradient gx shaped like x.
template <class T>
struct ClassBackward {
  int64_t N, C, S, gs;
  double gscale;
  Shape ts;
  const T* wp;
  py::array gx;
  ClassBackward(const py::array& g, const py::array& x, const py::array& target,
                const py::object& w, int64_t ignore, int red, double denom, const char* fn) {
    ncs(x, fn, N, C, S, ts);
    wp = opt_ptr<T>(w);
    check_targets<T>(target, ts, C, ignore, wp, fn);
    grad_args<T>(g, red, ts, denom, fn, gs, gscale);
    require_same_dtype(x, g, fn, "input", "grad_output");
    gx = pool_array(shape_of(x), x.dtype());
  }
};

template <class T>
py::array ce_bwd_t(const py::array& g, const py::array& x, const py::array& target,
                   const py::object& w, int64_t ignore, double eps, int red, const py::array& lse,
                   double denom) {
  ClassBackward<T> b(g, x, target, w, ignore, red, denom, "cross_entropy_backward");
  check_lse(lse, x, b.ts, "cross_entropy_backward");
  {
    py::gil_scoped_release nogil;
    loss::ce_backward<T>(cptr<T>(x), b.N, b.C, b.S, cptr<int64_t>(target), b.wp, ignore, eps,
                         cptr<T>(lse), cptr<T>(g), b.gs, b.gscale, ptr<T>(b.gx));
  }
  return b.gx;
}

py::array ce_bwd(const py::array& g, const py::array& x, const py::array& target,
                 const py::object& w, int64_t ignore, double eps, int red, const py::array& lse,
                 double denom) {
  const char* fn = "cross_entropy_backward";
  check_class_input(x, w, red, fn);
  return is_f32(x) ? ce_bwd_t<float>(g, x, target, w, ignore, eps, red, lse, denom)
                   : ce_bwd_t<double>(g, x, target, w, ignore, eps, red, lse, denom);
}

// ---------------------------------------------------------------------------------------
// cross entropy, class probabilities

void check_prob_target(const py::array& x, const py::array& p, const char* fn) {
  require_float(p, fn, "target");
  require_same_dtype(x, p, fn, "input", "target");
  if (shape_of(p) != shape_of(x))
    throw py::value_error(P(fn) + "probability target has shape " + shape_str(p) +
                          " but input has shape " + shape_str(x));
}

template <class T>
py::tuple cep_fwd_t(const py::array& x, const py::array& p, const py::object& w, double eps,
                    int red) {
  int64_t N, C, S;
  Shape ts;
  ncs(x, "cross_entropy", N, C, S, ts);
  py::array per = pool_array(ts, x.dtype()), lse = pool_array(ts, x.dtype());
  {
    py::gil_scoped_release nogil;
    loss::ce_prob_forward<T>(cptr<T>(x), N, C, S, cptr<T>(p), opt_ptr<T>(w), eps, ptr<T>(per),
                             ptr<T>(lse));
  }
  const double denom = static_cast<double>(N) * static_cast<double>(S);
  return py::make_tuple(reduce_out<T>(per, red, denom, x.dtype()), lse, denom);
}

py::tuple cep_fwd(const py::array& x, const py::array& p, const py::object& w, double eps,
                  int red) {
  const char* fn = "cross_entropy";
  check_class_input(x, w, red, fn);
  check_prob_target(x, p, fn);
  check_label_smoothing(eps, fn);
  return is_f32(x) ? cep_fwd_t<float>(x, p, w, eps, red) : cep_fwd_t<double>(x, p, w, eps, red);
}

template <class T>
py::array cep_bwd_t(const py::array& g, const py::array& x, const py::array& p,
                    const py::object& w, double eps, int red, const py::array& lse) {
  const char* fn = "cross_entropy_backward";
  int64_t N, C, S;
  Shape ts;
  ncs(x, fn, N, C, S, ts);
  check_lse(lse, x, ts, fn);
  int64_t gs;
  double gscale;
  grad_args<T>(g, red, ts, static_cast<double>(N) * static_cast<double>(S), fn, gs, gscale);
  require_same_dtype(x, g, fn, "input", "grad_output");
  py::array gx = pool_array(shape_of(x), x.dtype());
  {
    py::gil_scoped_release nogil;
    loss::ce_prob_backward<T>(cptr<T>(x), N, C, S, cptr<T>(p), opt_ptr<T>(w), eps, cptr<T>(lse),
                              cptr<T>(g), gs, gscale, ptr<T>(gx));
  }
  return gx;
}

py::array cep_bwd(const py::array& g, const py::array& x, const py::array& p,
                  const py::object& w, double eps, int red, const py::array& lse) {
  const char* fn = "cross_entropy_backward";
  check_class_input(x, w, red, fn);
  check_prob_target(x, p, fn);
  return is_f32(x) ? cep_bwd_t<float>(g, x, p, w, eps, red, lse)
                   : cep_bwd_t<double>(g, x, p, w, eps, red, lse);
}

// ---------------------------------------------------------------------------------------
// NLL

template <class T>
py::tuple nll_fwd_t(const py::array& x, const py::array& target, const py::object& w,
                    int64_t ignore, int red) {
  const char* fn = "nll_loss";
  int64_t N, C, S;
  Shape ts;
  ncs(x, fn, N, C, S, ts);
  const T* wp = opt_ptr<T>(w);
  const double denom = check_targets<T>(target, ts, C, ignore, wp, fn);
  py::array per = pool_array(ts, x.dtype());
  {
    py::gil_scoped_release nogil;
    loss::nll_forward<T>(cptr<T>(x), N, C, S, cptr<int64_t>(target), wp, ignore, ptr<T>(per));
  }
  return py::make_tuple(reduce_out<T>(per, red, denom, x.dtype()), denom);
}

py::tuple nll_fwd(const py::array& x, const py::array& target, const py::object& w,
                  int64_t ignore, int red) {
  const char* fn = "nll_loss";
  check_class_input(x, w, red, fn);
  return is_f32(x) ? nll_fwd_t<float>(x, target, w, ignore, red)
                   : nll_fwd_t<double>(x, target, w, ignore, red);
}

template <class T>
py::array nll_bwd_t(const py::array& g, const py::array& x, const py::array& target,
                    const py::object& w, int64_t ignore, int red, double denom) {
  ClassBackward<T> b(g, x, target, w, ignore, red, denom, "nll_loss_backward");
  {
    py::gil_scoped_release nogil;
    loss::nll_backward<T>(b.N, b.C, b.S, cptr<int64_t>(target), b.wp, ignore, cptr<T>(g), b.gs,
                          b.gscale, ptr<T>(b.gx));
  }
  return b.gx;
}

py::array nll_bwd(const py::array& g, const py::array& x, const py::array& target,
                  const py::object& w, int64_t ignore, int red, double denom) {
  const char* fn = "nll_loss_backward";
  check_class_input(x, w, red, fn);
  return is_f32(x) ? nll_bwd_t<float>(g, x, target, w, ignore, red, denom)
                   : nll_bwd_t<double>(g, x, target, w, ignore, red, denom);
}

// ---------------------------------------------------------------------------------------
// pointwise losses

const char* kind_name(int k) {
  static const char* names[] = {"mse_loss", "l1_loss", "smooth_l1_loss", "huber_loss",
                                "binary_cross_entropy", "binary_cross_entropy_with_logits",
                                "kl_div", "kl_div"};
  return (k >= 0 && k < loss::kNumKinds) ? names[k] : "pointwise_loss";
}

void check_pw(int kind, const py::array& x, const py::array& y, const py::object& w,
              const py::object& pw, const char* fn) {
  if (kind < 0 || kind >= loss::kNumKinds)
    throw py::value_error(P(fn) + "unknown loss kind " + std::to_string(kind));
  require_float(x, fn, "input");
  require_float(y, fn, "target");
  require_same_dtype(x, y, fn, "input", "target");
  if (shape_of(x) != shape_of(y))
    throw py::value_error(P(fn) + "target has shape " + shape_str(y) + " but input has shape " +
                          shape_str(x));
  const char* names[2] = {"weight", "pos_weight"};
  const py::object* opts[2] = {&w, &pw};
  for (int i = 0; i < 2; ++i) {
    if (opts[i]->is_none()) continue;
    py::array a = opts[i]->cast<py::array>();
    require_float(a, fn, names[i]);
    require_same_dtype(x, a, fn, "input", names[i]);
    if (shape_of(a) != shape_of(x))
      throw py::value_error(P(fn) + names[i] + " has shape " + shape_str(a) +
                            " but input has shape " + shape_str(x) +
                            " (broadcast it first)");
  }
}

template <class T>
py::array pw_fwd_t(int kind, const py::array& x, const py::array& y, const py::object& w,
                   const py::object& pw, double param, int red) {
  const char* fn = kind_name(kind);
  const int64_t n = x.size();
  py::array out;
  T* op = nullptr;
  if (red == kNone) {
    out = pool_array(shape_of(x), x.dtype());
    op = ptr<T>(out);
  }
  double s;
  int64_t bad = 0;
  {
    py::gil_scoped_release nogil;
    s = loss::pw_forward<T>(kind, cptr<T>(x), cptr<T>(y), opt_ptr<T>(w), opt_ptr<T>(pw), n,
                            param, op, &bad);
  }
  if (bad)
    throw py::value_error(P(fn) + "all elements of input should be between 0 and 1 (" +
                          std::to_string(bad) + " of " + std::to_string(n) + " are not)");
  if (red == kNone) return out;
  py::array r = pool_array({}, x.dtype());
  ptr<T>(r)[0] = static_cast<T>(red == kSum ? s : s / static_cast<double>(n));
  return r;
}

py::array pw_fwd(int kind, const py::array& x, const py::array& y, const py::object& w,
                 const py::object& pw, double param, int red) {
  const char* fn = kind_name(kind);
  check_pw(kind, x, y, w, pw, fn);
  check_reduction(red, fn);
  return is_f32(x) ? pw_fwd_t<float>(kind, x, y, w, pw, param, red)
                   : pw_fwd_t<double>(kind, x, y, w, pw, param, red);
}

template <class T>
py::array pw_bwd_t(int kind, const py::array& g, const py::array& x, const py::array& y,
                   const py::object& w, const py::object& pw, double param, int red,
                   double denom) {
  const char* fn = kind_name(kind);
  int64_t gs;
  double gscale;
  grad_args<T>(g, red, shape_of(x), denom, fn, gs, gscale);
  require_same_dtype(x, g, fn, "input", "grad_output");
  py::array gx = pool_array(shape_of(x), x.dtype());
  {
    py::gil_scoped_release nogil;
    loss::pw_backward<T>(kind, cptr<T>(x), cptr<T>(y), opt_ptr<T>(w), opt_ptr<T>(pw), x.size(),
                         param, cptr<T>(g), gs, gscale, ptr<T>(gx));
  }
  return gx;
}

py::array pw_bwd(int kind, const py::array& g, const py::array& x, const py::array& y,
                 const py::object& w, const py::object& pw, double param, int red,
                 double denom) {
  const char* fn = kind_name(kind);
  check_pw(kind, x, y, w, pw, fn);
  check_reduction(red, fn);
  return is_f32(x) ? pw_bwd_t<float>(kind, g, x, y, w, pw, param, red, denom)
                   : pw_bwd_t<double>(kind, g, x, y, w, pw, param, red, denom);
}

}  // namespace

void bind_loss(py::module_& m) {
  using py::arg;
  m.def("cross_entropy_forward", &ce_fwd, arg("input"), arg("target"), arg("weight"),
        arg("ignore_index"), arg("label_smoothing"), arg("reduction"),
        "Fused log-softmax + NLL with class-index targets: (loss, lse, mean divisor).");
  m.def("cross_entropy_backward", &ce_bwd, arg("grad_output"), arg("input"), arg("target"),
        arg("weight"), arg("ignore_index"), arg("label_smoothing"), arg("reduction"), arg("lse"),
        arg("denom"));
  m.def("cross_entropy_prob_forward", &cep_fwd, arg("input"), arg("target"), arg("weight"),
        arg("label_smoothing"), arg("reduction"),
        "Cross entropy with class-probability targets: (loss, lse, mean divisor).");
  m.def("cross_entropy_prob_backward", &cep_bwd, arg("grad_output"), arg("input"), arg("target"),
        arg("weight"), arg("label_smoothing"), arg("reduction"), arg("lse"));
  m.def("nll_loss_forward", &nll_fwd, arg("input"), arg("target"), arg("weight"),
        arg("ignore_index"), arg("reduction"), "NLL on log-probabilities: (loss, mean divisor).");
  m.def("nll_loss_backward", &nll_bwd, arg("grad_output"), arg("input"), arg("target"),
        arg("weight"), arg("ignore_index"), arg("reduction"), arg("denom"));
  m.def("pointwise_loss_forward", &pw_fwd, arg("kind"), arg("input"), arg("target"),
        arg("weight"), arg("pos_weight"), arg("param"), arg("reduction"));
  m.def("pointwise_loss_backward", &pw_bwd, arg("kind"), arg("grad_output"), arg("input"),
        arg("target"), arg("weight"), arg("pos_weight"), arg("param"), arg("reduction"),
        arg("denom"));
}

}  // namespace fastdl
