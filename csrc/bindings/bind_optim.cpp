// Bindings of the optim kernel family (csrc/kernels/optim/): fused multi-tensor optimizer
// steps, gradient-norm clipping, list scale/clamp. Every array of every list is validated
// (dtype, C-contiguity, native byte order, shape, writeability) before any is touched; the
// kernels then run with the GIL released.
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "bindings/util.h"
#include "kernels/optim/optim.h"

namespace fastdl {
namespace {

using optim::Algo;
using optim::Coef;
using optim::Hyper;

constexpr int kF32 = py::detail::npy_api::NPY_FLOAT_;
constexpr int kF64 = py::detail::npy_api::NPY_DOUBLE_;
constexpr int kContig = py::detail::npy_api::NPY_ARRAY_C_CONTIGUOUS_;
constexpr int kWriteable = py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
constexpr int kAligned = py::detail::npy_api::NPY_ARRAY_ALIGNED_;

// A validated view of one list of arrays.
struct ListView {
  std::vector<void*> data;
  std::vector<int64_t> numel;
  std::vector<py::object> refs;  // keeps every array alive while the GIL is released
};

std::string where(const char* fn, const char* name, size_t i) {
  return std::string(fn) + ": " + name + "[" + std::to_string(i) + "]";
}

std::string shape_of_proxy(const py::detail::PyArray_Proxy* ap) {
  std::string s = "(";
  for (int d = 0; d < ap->nd; ++d) {
    if (d) s += ", ";
    s += std::to_string(ap->dimensions[d]);
  }
  if (ap->nd == 1) s += ",";
  return s + ")";
}

// Type number (kF32/kF64) of a float array in native byte order, else a TypeError.
int float_type(py::handle h, const char* fn, const char* name, size_t i) {
  if (!py::isinstance<py::array>(h))
    throw py::type_error(where(fn, name, i) + " must be a NumPy array, got " +
                         std::string(py::str(py::type::handle_of(h).attr("__name__"))));
  auto* ap = py::detail::array_proxy(h.ptr());
  auto* dp = py::detail::array_descriptor_proxy(ap->descr);
  const int t = dp->type_num;
  const bool little = [] { const uint16_t one = 1; uint8_t b; std::memcpy(&b, &one, 1); return b == 1; }();
  const char nonnative = little ? '>' : '<';
  if ((t != kF32 && t != kF64) || dp->byteorder == nonnative)
    throw py::type_error(where(fn, name, i) + " must be float32 or float64 (native byte order), "
                         "got " + std::string(py::str(py::reinterpret_borrow<py::array>(h).dtype())));
  return t;
}

// Checks list `lst` (len n) of arrays: float type `type`, C-contiguous, aligned, writeable
// when asked, and each shaped like ref[i] (when ref is given).
ListView check_list(py::handle obj, const char* fn, const char* name, size_t n, int type,
                    bool writeable, const std::vector<py::handle>* ref,
                    std::vector<py::handle>* keep = nullptr) {
  if (!py::isinstance<py::list>(obj))
    throw py::type_error(std::string(fn) + ": " + name + " must be a list of arrays");
  py::list lst = py::reinterpret_borrow<py::list>(obj);
  if (static_cast<size_t>(lst.size()) != n)
    throw py::value_error(std::string(fn) + ": " + name + " has " + std::to_string(lst.size()) +
                          " arrays, expected " + std::to_string(n));
  ListView v;
  v.data.resize(n);
  v.numel.resize(n);
  v.refs.resize(n);
  if (keep) keep->resize(n);
  for (size_t i = 0; i < n; ++i) {
    py::handle h = PyList_GET_ITEM(lst.ptr(), static_cast<py::ssize_t>(i));
    const int t = float_type(h, fn, name, i);
    auto* ap = py::detail::array_proxy(h.ptr());
    if (t != type)
      throw py::type_error(where(fn, name, i) + " is " + (t == kF32 ? "float32" : "float64") +
                           " but the parameters are " + (type == kF32 ? "float32" : "float64"));
    if (!(ap->flags & kContig) || !(ap->flags & kAligned))
      throw py::value_error(where(fn, name, i) + " with shape " + shape_of_proxy(ap) +
                            " must be C-contiguous and aligned");
    if (writeable && !(ap->flags & kWriteable))
      throw py::value_error(where(fn, name, i) + " is read-only");
    int64_t numel = 1;
    for (int d = 0; d < ap->nd; ++d) numel *= ap->dimensions[d];
    if (ref) {
      auto* rp = py::detail::array_proxy((*ref)[i].ptr());
      bool same = rp->nd == ap->nd;
      for (int d = 0; same && d < ap->nd; ++d) same = rp->dimensions[d] == ap->dimensions[d];
      if (!same)
        throw py::value_error(where(fn, name, i) + " has shape " + shape_of_proxy(ap) +
                              " but params[" + std::to_string(i) + "] has shape " +
                              shape_of_proxy(rp));
    }
    v.data[i] = ap->data;
    v.numel[i] = numel;
    v.refs[i] = py::reinterpret_borrow<py::object>(h);
    if (keep) (*keep)[i] = h;
  }
  return v;
}

// A list (len n) of writeable 0-d / one-element float64 arrays (step counts, mu products).
std::vector<double*> check_scalars(py::handle obj, const char* fn, const char* name, size_t n) {
  if (!py::isinstance<py::list>(obj))
    throw py::type_error(std::string(fn) + ": " + name + " must be a list of float64 arrays");
  py::list lst = py::reinterpret_borrow<py::list>(obj);
  if (static_cast<size_t>(lst.size()) != n)
    throw py::value_error(std::string(fn) + ": " + name + " has " + std::to_string(lst.size()) +
                          " entries, expected " + std::to_string(n));
  std::vector<double*> out(n);
  for (size_t i = 0; i < n; ++i) {
    py::handle h = PyList_GET_ITEM(lst.ptr(), static_cast<py::ssize_t>(i));
    const int t = float_type(h, fn, name, i);
    auto* ap = py::detail::array_proxy(h.ptr());
    int64_t numel = 1;
    for (int d = 0; d < ap->nd; ++d) numel *= ap->dimensions[d];
    if (t != kF64 || numel != 1 || !(ap->flags & kWriteable) || !(ap->flags & kAligned))
      throw py::value_error(where(fn, name, i) + " must be a writeable float64 array of one element");
    out[i] = reinterpret_cast<double*>(ap->data);
  }
  return out;
}

Algo algo_from(const std::string& s) {
  for (int i = 0; i < optim::kNumAlgo; ++i)  // the optimizer table (optim.h)
    if (s == optim::kAlgoNames[i]) return static_cast<Algo>(i);
  throw py::value_error("optim_step: unknown algorithm '" + s + "'");
}

// Which state slots an algorithm needs for the given options.
void needed_slots(Algo a, const Hyper& h, bool need[optim::kMaxState]) {
  need[0] = need[1] = need[2] = false;
  switch (a) {
    case Algo::sgd: need[0] = h.momentum != 0; break;
    case Algo::adam: need[0] = need[1] = true; need[2] = h.amsgrad; break;
    case Algo::adagrad:
    case Algo::asgd: need[0] = true; break;
    case Algo::rmsprop: need[0] = true; need[1] = h.momentum > 0; need[2] = h.centered; break;
    case Algo::adadelta:
    case Algo::adamax:
    case Algo::nadam:
    case Algo::radam:
    case Algo::rprop: need[0] = need[1] = true; break;
  }
}

void optim_step(const std::string& algo_name, py::handle params, py::handle grads,
                py::handle states, py::handle steps, py::handle mu_products, py::handle first,
                double lr, double beta1, double beta2, double eps, double weight_decay,
                double momentum, double dampening, double lr_decay, double momentum_decay,
                bool maximize, bool nesterov, bool amsgrad, bool centered, bool decoupled,
                double eta_minus, double eta_plus, double step_min, double step_max,
                double lambd, double asgd_alpha, double t0) {
  const char* fn = "optim_step";
  const Algo algo = algo_from(algo_name);
  Hyper h;
  h.lr = lr; h.beta1 = beta1; h.beta2 = beta2; h.eps = eps; h.weight_decay = weight_decay;
  h.momentum = momentum; h.dampening = dampening; h.lr_decay = lr_decay;
  h.momentum_decay = momentum_decay; h.maximize = maximize; h.nesterov = nesterov;
  h.amsgrad = amsgrad; h.centered = centered; h.decoupled = decoupled;
  h.eta_minus = eta_minus; h.eta_plus = eta_plus; h.step_min = step_min; h.step_max = step_max;
  h.lambd = lambd; h.asgd_alpha = asgd_alpha; h.t0 = t0;
  for (double v : {lr, beta1, beta2, eps, weight_decay, momentum, dampening, lr_decay,
                   momentum_decay, eta_minus, eta_plus, step_min, step_max, lambd, asgd_alpha,
                   t0})
    if (!std::isfinite(v)) throw py::value_error("optim_step: hyperparameters must be finite");

  if (!py::isinstance<py::list>(params)) throw py::type_error("optim_step: params must be a list of arrays");
  const size_t n = static_cast<size_t>(py::reinterpret_borrow<py::list>(params).size());
  if (n == 0) return;
  const int type = float_type(PyList_GET_ITEM(params.ptr(), 0), fn, "params", 0);
  std::vector<py::handle> pref;
  ListView P = check_list(params, fn, "params", n, type, true, nullptr, &pref);
  ListView G = check_list(grads, fn, "grads", n, type, false, &pref);

  if (!py::isinstance<py::list>(states) || py::len(states) != optim::kMaxState)
    throw py::type_error("optim_step: states must be a list of 3 entries (lists or None)");
  bool need[optim::kMaxState];
  needed_slots(algo, h, need);
  ListView S[optim::kMaxState];
  const char* snames[optim::kMaxState] = {"states[0]", "states[1]", "states[2]"};
  for (int s = 0; s < optim::kMaxState; ++s) {
    py::handle e = PyList_GET_ITEM(states.ptr(), s);
    if (!need[s]) continue;
    if (e.is_none())
      throw py::value_error(std::string("optim_step: ") + algo_name + " needs " + snames[s]);
    S[s] = check_list(e, fn, snames[s], n, type, true, &pref);
  }

  const bool stepped = algo != Algo::sgd;
  std::vector<double*> step_ptr, mu_ptr;
  if (stepped) step_ptr = check_scalars(steps, fn, "steps", n);
  if (algo == Algo::nadam) mu_ptr = check_scalars(mu_products, fn, "mu_products", n);
  std::vector<char> first_flag(n, 0);
  if (algo == Algo::sgd && !first.is_none()) {
    if (!py::isinstance<py::list>(first) || static_cast<size_t>(py::len(first)) != n)
      throw py::value_error("optim_step: first must be a list of n bools");
    for (size_t i = 0; i < n; ++i)
      first_flag[i] = PyObject_IsTrue(PyList_GET_ITEM(first.ptr(), static_cast<py::ssize_t>(i))) == 1;
  }

  // All checked: from here on nothing can fail. Advance the steps, derive the per-tensor
  // scalars, run the kernel without the GIL.
  std::vector<Coef> coef(n);
  for (size_t i = 0; i < n; ++i) {
    double step = 0;
    if (stepped) step = (*step_ptr[i] += 1.0);
    coef[i] = optim::coefficients(algo, h, step, algo == Algo::nadam ? mu_ptr[i] : nullptr,
                                  first_flag[i] != 0);
  }
  py::gil_scoped_release nogil;
  if (type == kF32) {
    float* const* st[optim::kMaxState];
    for (int s = 0; s < optim::kMaxState; ++s)
      st[s] = need[s] ? reinterpret_cast<float* const*>(S[s].data.data()) : nullptr;
    optim::multi_tensor_step(algo, h, static_cast<int64_t>(n), P.numel.data(),
                             reinterpret_cast<float* const*>(P.data.data()),
                             reinterpret_cast<const float* const*>(G.data.data()), st, coef.data());
  } else {
    double* const* st[optim::kMaxState];
    for (int s = 0; s < optim::kMaxState; ++s)
      st[s] = need[s] ? reinterpret_cast<double* const*>(S[s].data.data()) : nullptr;
    optim::multi_tensor_step(algo, h, static_cast<int64_t>(n), P.numel.data(),
                             reinterpret_cast<double* const*>(P.data.data()),
                             reinterpret_cast<const double* const*>(G.data.data()), st, coef.data());
  }
}

double norm_of(int type, const ListView& v, double p) {
  py::gil_scoped_release nogil;
  const int64_t n = static_cast<int64_t>(v.data.size());
  if (type == kF32)
    return optim::multi_tensor_norm(n, v.numel.data(), reinterpret_cast<const float* const*>(v.data.data()), p);
  return optim::multi_tensor_norm(n, v.numel.data(), reinterpret_cast<const double* const*>(v.data.data()), p);
}

void scale_of(int type, const ListView& v, double c) {
  py::gil_scoped_release nogil;
  const int64_t n = static_cast<int64_t>(v.data.size());
  if (type == kF32)
    optim::multi_tensor_scale(n, v.numel.data(), reinterpret_cast<float* const*>(v.data.data()), c);
  else
    optim::multi_tensor_scale(n, v.numel.data(), reinterpret_cast<double* const*>(v.data.data()), c);
}

void check_norm_type(const char* fn, double p) {
  if (std::isnan(p) || p <= 0 || (std::isinf(p) && p < 0))
    throw py::value_error(std::string(fn) + ": norm_type must be > 0 or inf, got " + std::to_string(p));
}

}  // namespace

void bind_optim(py::module_& m) {
  {
    py::list algos;  // the optimizer table's names, in code order (optim.h)
    for (int i = 0; i < optim::kNumAlgo; ++i) algos.append(optim::kAlgoNames[i]);
    m.attr("optim_algos") = py::tuple(algos);
  }
  m.def("optim_step", &optim_step, py::arg("algo"), py::arg("params"), py::arg("grads"),
        py::arg("states"), py::arg("steps") = py::none(), py::arg("mu_products") = py::none(),
        py::arg("first") = py::none(), py::arg("lr") = 1e-3, py::arg("beta1") = 0.9,
        py::arg("beta2") = 0.999, py::arg("eps") = 1e-8, py::arg("weight_decay") = 0.0,
        py::arg("momentum") = 0.0, py::arg("dampening") = 0.0, py::arg("lr_decay") = 0.0,
        py::arg("momentum_decay") = 4e-3, py::arg("maximize") = false,
        py::arg("nesterov") = false, py::arg("amsgrad") = false, py::arg("centered") = false,
        py::arg("decoupled") = false, py::arg("eta_minus") = 0.5, py::arg("eta_plus") = 1.2,
        py::arg("step_min") = 1e-6, py::arg("step_max") = 50.0, py::arg("lambd") = 1e-4,
        py::arg("asgd_alpha") = 0.75, py::arg("t0") = 1e6,
        "One fused update of every parameter in `params` (a list of arrays, one dtype) by "
        "algorithm `algo` (sgd, adam, adagrad, rmsprop, adadelta, adamax, nadam, radam, rprop, "
        "asgd), "
        "using `grads` and the state lists `states` (3 entries, list or None; see "
        "kernels/optim/optim.h). `steps` (and NAdam's `mu_products`) are lists of float64 "
        "one-element arrays, incremented/updated in place; SGD's `first` flags a momentum "
        "buffer's first step. RMSprop's alpha and Adadelta's rho go in beta2.");

  m.def("multi_tensor_norm", [](py::handle tensors, double p) {
    const char* fn = "multi_tensor_norm";
    check_norm_type(fn, p);
    if (!py::isinstance<py::list>(tensors)) throw py::type_error("multi_tensor_norm: tensors must be a list");
    const size_t n = static_cast<size_t>(py::len(tensors));
    if (n == 0) return 0.0;
    const int type = float_type(PyList_GET_ITEM(tensors.ptr(), 0), fn, "tensors", 0);
    ListView v = check_list(tensors, fn, "tensors", n, type, false, nullptr);
    return norm_of(type, v, p);
  }, py::arg("tensors"), py::arg("norm_type") = 2.0,
  "The p-norm of all arrays together, as if concatenated (inf: max |x|), in double.");

  m.def("clip_grad_norm_", [](py::handle grads, double max_norm, double p, bool error_if_nonfinite) {
    const char* fn = "clip_grad_norm_";
    check_norm_type(fn, p);
    if (!std::isfinite(max_norm) && !std::isinf(max_norm))
      throw py::value_error("clip_grad_norm_: max_norm must be a number, got nan");
    if (!py::isinstance<py::list>(grads)) throw py::type_error("clip_grad_norm_: grads must be a list");
    const size_t n = static_cast<size_t>(py::len(grads));
    if (n == 0) return 0.0;
    const int type = float_type(PyList_GET_ITEM(grads.ptr(), 0), fn, "grads", 0);
    ListView v = check_list(grads, fn, "grads", n, type, true, nullptr);
    const double total = norm_of(type, v, p);
    if (error_if_nonfinite && !std::isfinite(total))
      throw py::value_error("clip_grad_norm_: the total norm of order " + std::to_string(p) +
                            " of the gradients is non-finite, so it cannot be clipped. To "
                            "disable this error and scale the gradients by the non-finite "
                            "norm anyway, set error_if_nonfinite=False");
    // torch: coef = max_norm / (total + 1e-6), clamped to 1 (scaling by 1 changes nothing).
    const double coef = max_norm / (total + 1e-6);
    if (!(coef >= 1.0)) scale_of(type, v, coef);
    return total;
  }, py::arg("grads"), py::arg("max_norm"), py::arg("norm_type") = 2.0,
  py::arg("error_if_nonfinite") = false,
  "Scale all `grads` in place by min(1, max_norm / (norm + 1e-6)) where norm is their total "
  "p-norm; returns the norm.");

  m.def("multi_tensor_scale_", [](py::handle tensors, double c) {
    const char* fn = "multi_tensor_scale_";
    if (!py::isinstance<py::list>(tensors)) throw py::type_error("multi_tensor_scale_: tensors must be a list");
    const size_t n = static_cast<size_t>(py::len(tensors));
    if (n == 0) return;
    const int type = float_type(PyList_GET_ITEM(tensors.ptr(), 0), fn, "tensors", 0);
    ListView v = check_list(tensors, fn, "tensors", n, type, true, nullptr);
    scale_of(type, v, c);
  }, py::arg("tensors"), py::arg("c"), "x *= c for every array of the list, in place.");

  m.def("multi_tensor_clamp_", [](py::handle tensors, double lo, double hi) {
    const char* fn = "multi_tensor_clamp_";
    if (std::isnan(lo) || std::isnan(hi)) throw py::value_error("multi_tensor_clamp_: bounds must not be NaN");
    if (!py::isinstance<py::list>(tensors)) throw py::type_error("multi_tensor_clamp_: tensors must be a list");
    const size_t n = static_cast<size_t>(py::len(tensors));
    if (n == 0) return;
    const int type = float_type(PyList_GET_ITEM(tensors.ptr(), 0), fn, "tensors", 0);
    ListView v = check_list(tensors, fn, "tensors", n, type, true, nullptr);
    py::gil_scoped_release nogil;
    if (type == kF32)
      optim::multi_tensor_clamp(static_cast<int64_t>(n), v.numel.data(), reinterpret_cast<float* const*>(v.data.data()), lo, hi);
    else
      optim::multi_tensor_clamp(static_cast<int64_t>(n), v.numel.data(), reinterpret_cast<double* const*>(v.data.data()), lo, hi);
  }, py::arg("tensors"), py::arg("lo"), py::arg("hi"),
  "x = min(max(x, lo), hi) for every array of the list, in place (NaN stays NaN).");
}

}  // namespace fastdl
