// Bindings of the embedding_bag kernel family (csrc/kernels/embag/). Indices, bag ranges,
// per-sample weights and the gradient's shape are validated here before a kernel runs.
#include <string>

#include "bindings/util.h"
#include "common/checks.h"
#include "kernels/embag/embag.h"

namespace fastdl {
namespace {

std::string P(const char* fn) { return std::string(fn) + ": "; }

const int64_t* i64(const py::array& a, const char* fn, const char* name) {
  if (!a.dtype().is(py::dtype::of<int64_t>()) || a.ndim() != 1 ||
      !(a.flags() & py::array::c_style))
    throw py::type_error(P(fn) + name + " must be a contiguous 1-D int64 array, got " +
                         std::string(py::str(a.dtype())) + " " + shape_str(a));
  return cptr<int64_t>(a);
}

struct Bags {
  int64_t n, D, E, B;
};

Bags check(const py::array& weight, const py::array& idx, const py::array& start,
           const py::array& count, const py::object& psw, int mode, const char* fn) {
  require_float(weight, fn, "weight");
  if (weight.ndim() != 2)
    throw py::value_error(P(fn) + "weight must be 2-D, got " + shape_str(weight));
  Bags g{weight.shape(0), weight.shape(1), 0, 0};
  const int64_t* ix = i64(idx, fn, "indices");
  const int64_t* st = i64(start, fn, "bag starts");
  const int64_t* ct = i64(count, fn, "bag counts");
  g.E = idx.shape(0);
  g.B = start.shape(0);
  if (count.shape(0) != g.B)
    throw py::value_error(P(fn) + "bag starts and counts differ in length");
  if (mode < 0 || mode > 2) throw py::value_error(P(fn) + "invalid mode code");
  for (int64_t e = 0; e < g.E; ++e)
    if (ix[e] < 0 || ix[e] >= g.n)
      throw py::index_error(P(fn) + "index " + std::to_string(ix[e]) + " is out of range for " +
                            std::to_string(g.n) + " embeddings");
  for (int64_t b = 0; b < g.B; ++b)
    if (st[b] < 0 || ct[b] < 0 || st[b] > g.E || ct[b] > g.E - st[b])
      throw py::value_error(P(fn) + "bag " + std::to_string(b) + " runs outside the " +
                            std::to_string(g.E) + " entries");
  if (!psw.is_none()) {
    py::array p = psw.cast<py::array>();
    require_float(p, fn, "per_sample_weights");
    require_same_dtype(weight, p, fn, "weight", "per_sample_weights");
    if (p.ndim() != 1 || p.shape(0) != g.E)
      throw py::value_error(P(fn) + "per_sample_weights must have shape (" +
                            std::to_string(g.E) + ",), got " + shape_str(p));
  }
  checked_mul(g.B, g.D, fn);
  return g;
}

template <class T>
const T* opt(const py::object& o) {
  return o.is_none() ? nullptr : cptr<T>(o.cast<py::array>());
}

template <class T>
py::tuple fwd(const py::array& w, const py::array& idx, const py::array& st,
              const py::array& ct, const py::object& psw, int mode, const Bags& g) {
  py::array out = pool_array({g.B, g.D}, w.dtype());
  py::object arg = py::none();
  int64_t* pa = nullptr;
  if (mode == embag::kMax) {
    py::array a = pool_array({g.B, g.D}, py::dtype::of<int64_t>());
    pa = ptr<int64_t>(a);
    arg = a;
  }
  const T* pp = opt<T>(psw);
  {
    py::gil_scoped_release nogil;
    embag::forward<T>(cptr<T>(w), g.D, cptr<int64_t>(idx), g.E, cptr<int64_t>(st),
                      cptr<int64_t>(ct),
                      g.B, pp, mode, ptr<T>(out), pa);
  }
  return py::make_tuple(out, arg);
}

template <class T>
py::tuple bwd(const py::array& grad, const py::array& w, const py::array& idx,
              const py::array& st, const py::array& ct, const py::object& psw, int mode,
              const py::object& arg, bool need_w, bool need_psw, const Bags& g) {
  py::object gw = py::none(), gp = py::none();
  const T* pp = opt<T>(psw);
  const int64_t* pa = arg.is_none() ? nullptr : cptr<int64_t>(arg.cast<py::array>());
  T* pgw = nullptr;
  T* pgp = nullptr;
  if (need_w) {
    py::array a = pool_array({g.n, g.D}, w.dtype());
    pgw = ptr<T>(a);
    gw = a;
  }
  if (need_psw) {
    py::array a = pool_array({g.E}, w.dtype());
    pgp = ptr<T>(a);
    gp = a;
  }
  {
    py::gil_scoped_release nogil;
    if (pgw)
      embag::backward_weight<T>(cptr<T>(grad), g.D, cptr<int64_t>(idx), cptr<int64_t>(st),
                                cptr<int64_t>(ct), g.B, pp, mode, pa, g.n, pgw);
    if (pgp)
      embag::backward_psw<T>(cptr<T>(grad), cptr<T>(w), g.D, cptr<int64_t>(idx), g.E,
                             cptr<int64_t>(st), cptr<int64_t>(ct), g.B, pgp);
  }
  return py::make_tuple(gw, gp);
}

}  // namespace

void bind_embag(py::module_& m) {
  m.def(
      "embedding_bag",
      [](const py::array& w, const py::array& idx, const py::array& st, const py::array& ct,
         const py::object& psw, int mode) {
        Bags g = check(w, idx, st, ct, psw, mode, "embedding_bag");
        return is_f32(w) ? fwd<float>(w, idx, st, ct, psw, mode, g)
                         : fwd<double>(w, idx, st, ct, psw, mode, g);
      },
      py::arg("weight"), py::arg("indices"), py::arg("starts"), py::arg("counts"),
      py::arg("per_sample_weights"), py::arg("mode"),
      "(out (B, D), argmax (B, D) int64 for mode 2 else None).");
  m.def(
      "embedding_bag_backward",
      [](const py::array& grad, const py::array& w, const py::array& idx, const py::array& st,
         const py::array& ct, const py::object& psw, int mode, const py::object& arg,
         bool need_w, bool need_psw) {
        const char* fn = "embedding_bag backward";
        Bags g = check(w, idx, st, ct, psw, mode, fn);
        require_float(grad, fn, "grad");
        require_same_dtype(w, grad, fn, "weight", "grad");
        if (shape_of(grad) != Shape{g.B, g.D})
          throw py::value_error(P(fn) + "grad has shape " + shape_str(grad) + ", expected " +
                                shape_str(Shape{g.B, g.D}));
        if (mode == embag::kMax) {
          if (arg.is_none()) throw py::value_error(P(fn) + "max mode needs the argmax");
          py::array a = arg.cast<py::array>();
          if (!a.dtype().is(py::dtype::of<int64_t>()) || shape_of(a) != Shape{g.B, g.D} ||
              !(a.flags() & py::array::c_style))
            throw py::value_error(P(fn) + "argmax must be int64 of shape (B, D)");
          const int64_t* pa = cptr<int64_t>(a);
          for (int64_t i = 0; i < g.B * g.D; ++i)
            if (pa[i] < -1 || pa[i] >= g.E) throw py::value_error(P(fn) + "argmax out of range");
        }
        if (need_psw && psw.is_none())
          throw py::value_error(P(fn) + "no per_sample_weights to differentiate");
        return is_f32(w) ? bwd<float>(grad, w, idx, st, ct, psw, mode, arg, need_w, need_psw, g)
                         : bwd<double>(grad, w, idx, st, ct, psw, mode, arg, need_w, need_psw, g);
      },
      py::arg("grad"), py::arg("weight"), py::arg("indices"), py::arg("starts"),
      py::arg("counts"), py::arg("per_sample_weights"), py::arg("mode"), py::arg("argmax"),
      py::arg("need_weight"), py::arg("need_per_sample_weights"),
      "(grad_weight (n, D) or None, grad_per_sample_weights (E,) or None).");
}

}  // namespace fastdl
