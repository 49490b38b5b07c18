// Bindings of the embedding_bag kernel family (csrc/kernels/embag/). The bags are given as
// they come from the user: bag starts (offsets) or a fixed bag size, plus the padding index;
// offsets, per-sample weights and the gradient's shape are validated here, the indices by
// the forward kernel as it reads them (one pass over memory instead of two).
#include <string>

#include "bindings/util.h"
#include "common/checks.h"
#include "kernels/embag/embag.h"

namespace fastdl {
namespace {

using embag::Bags;

std::string P(const char* fn) { return std::string(fn) + ": "; }

const int64_t* i64(const py::array& a, const char* fn, const char* name) {
  if (!is_i64(a) || a.ndim() != 1 || !(a.flags() & py::array::c_style))
    throw py::type_error(P(fn) + name + " must be a contiguous 1-D int64 array, got " +
                         std::string(py::str(a.dtype())) + " " + shape_str(a));
  return cptr<int64_t>(a);
}

// weight (n, D); indices (E,); offsets (B,) or None with bag_size L (B = E / L); padding_idx
// in [0, n) or -1; per_sample_weights (E,) or None.
Bags check(const py::array& weight, const py::array& idx, const py::object& offsets,
           int64_t bag_size, const py::object& psw, int mode, int64_t pad, const char* fn) {
  require_float(weight, fn, "weight");
  if (weight.ndim() != 2)
    throw py::value_error(P(fn) + "weight must be 2-D, got " + shape_str(weight));
  Bags g{};
  g.idx = i64(idx, fn, "indices");
  g.E = idx.shape(0);
  g.n = weight.shape(0);
  g.pad = pad;
  if (mode < 0 || mode > 2) throw py::value_error(P(fn) + "invalid mode code");
  if (pad < -1 || pad >= g.n)
    throw py::value_error(P(fn) + "padding_idx " + std::to_string(pad) + " is outside [0, " +
                          std::to_string(g.n) + ")");
  if (offsets.is_none()) {
    if (bag_size < 1 || g.E % bag_size)
      throw py::value_error(P(fn) + "bag size " + std::to_string(bag_size) +
                            " must be >= 1 and divide the " + std::to_string(g.E) +
                            " entries");
    g.L = bag_size;
    g.B = g.E / bag_size;
  } else {
    py::array o = offsets.cast<py::array>();
    g.offs = i64(o, fn, "offsets");
    g.B = o.shape(0);
    if (g.B > 0 && g.offs[0] != 0)
      throw std::runtime_error(
          "offsets[0] has to be 0, i.e., the first sequence in the mini-batch has to start "
          "from position 0. However, got " + std::to_string(g.offs[0]));
    for (int64_t b = 1; b < g.B; ++b)
      if (g.offs[b] < g.offs[b - 1])
        throw std::runtime_error(P(fn) + "offsets must be non-decreasing, got offsets[" +
                                 std::to_string(b) + "] = " + std::to_string(g.offs[b]) +
                                 " after " + std::to_string(g.offs[b - 1]));
    if (g.B > 0 && g.offs[g.B - 1] > g.E)
      throw std::runtime_error(P(fn) + "offsets[-1] can not be greater than input's length " +
                               std::to_string(g.E) + " but got offsets[-1] of " +
                               std::to_string(g.offs[g.B - 1]));
  }
  if (!psw.is_none()) {
    py::array p = psw.cast<py::array>();
    require_float(p, fn, "per_sample_weights");
    require_same_dtype(weight, p, fn, "weight", "per_sample_weights");
    if (p.ndim() != 1 || p.shape(0) != g.E)
      throw py::value_error(P(fn) + "per_sample_weights must have shape (" +
                            std::to_string(g.E) + ",), got " + shape_str(p));
    if (mode != embag::kSum)
      throw py::value_error(P(fn) + "per_sample_weights need mode sum");
  }
  checked_mul(g.B, weight.shape(1), fn);
  return g;
}

[[noreturn]] void bad_index(const Bags& g, int64_t e, const char* fn) {
  throw py::index_error(P(fn) + "index " + std::to_string(g.idx[e]) + " (entry " +
                        std::to_string(e) + " of input) is out of range for " +
                        std::to_string(g.n) + " embeddings");
}

template <class T>
const T* opt(const py::object& o) {
  return o.is_none() ? nullptr : cptr<T>(o.cast<py::array>());
}

template <class T>
py::tuple fwd(const py::array& w, const py::object& psw, int mode, const Bags& g) {
  const int64_t D = w.shape(1);
  py::array out = pool_array({g.B, D}, w.dtype());
  py::object arg = py::none();
  int64_t* pa = nullptr;
  if (mode == embag::kMax) {
    py::array a = pool_array({g.B, D}, py::dtype::of<int64_t>());
    pa = ptr<int64_t>(a);
    arg = a;
  }
  const T* pp = opt<T>(psw);
  int64_t bad;
  {
    py::gil_scoped_release nogil;
    bad = embag::forward<T>(g, cptr<T>(w), D, pp, mode, ptr<T>(out), pa);
  }
  if (bad >= 0) bad_index(g, bad, "embedding_bag");
  return py::make_tuple(out, arg);
}

template <class T>
py::tuple bwd(const py::array& grad, const py::array& w, const py::object& psw, int mode,
              const py::object& arg, bool need_w, bool need_psw, const Bags& g) {
  const int64_t D = w.shape(1);
  py::object gw = py::none(), gp = py::none();
  const T* pp = opt<T>(psw);
  const int64_t* pa = arg.is_none() ? nullptr : cptr<int64_t>(arg.cast<py::array>());
  T* pgw = nullptr;
  T* pgp = nullptr;
  if (need_w) {
    py::array a = pool_array({g.n, D}, w.dtype());
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
    if (pgw) embag::backward_weight<T>(g, cptr<T>(grad), D, pp, mode, pa, pgw);
    if (pgp) embag::backward_psw<T>(g, cptr<T>(grad), cptr<T>(w), D, pgp);
  }
  return py::make_tuple(gw, gp);
}

}  // namespace

void bind_embag(py::module_& m) {
  m.def(
      "embedding_bag",
      [](const py::array& w, const py::array& idx, const py::object& offsets, int64_t bag_size,
         const py::object& psw, int mode, int64_t padding_idx) {
        Bags g = check(w, idx, offsets, bag_size, psw, mode, padding_idx, "embedding_bag");
        return is_f32(w) ? fwd<float>(w, psw, mode, g) : fwd<double>(w, psw, mode, g);
      },
      py::arg("weight"), py::arg("indices"), py::arg("offsets"), py::arg("bag_size"),
      py::arg("per_sample_weights"), py::arg("mode"), py::arg("padding_idx"),
      "(out (B, D), argmax (B, D) int64 for mode 2 else None). Bags: offsets (B,) of bag "
      "starts (the last bag runs to the end), or None and bags of bag_size entries; entries "
      "equal to padding_idx (-1: none) are left out. Raises IndexError for an index outside "
      "[0, n), RuntimeError for bad offsets.");
  m.def(
      "embedding_bag_backward",
      [](const py::array& grad, const py::array& w, const py::array& idx,
         const py::object& offsets, int64_t bag_size, const py::object& psw, int mode,
         int64_t padding_idx, const py::object& arg, bool need_w, bool need_psw) {
        const char* fn = "embedding_bag backward";
        Bags g = check(w, idx, offsets, bag_size, psw, mode, padding_idx, fn);
        for (int64_t e = 0; e < g.E; ++e)
          if (static_cast<uint64_t>(g.idx[e]) >= static_cast<uint64_t>(g.n)) bad_index(g, e, fn);
        require_float(grad, fn, "grad");
        require_same_dtype(w, grad, fn, "weight", "grad");
        const Shape want{g.B, w.shape(1)};
        if (shape_of(grad) != want)
          throw py::value_error(P(fn) + "grad has shape " + shape_str(grad) + ", expected " +
                                shape_str(want));
        if (mode == embag::kMax) {
          if (arg.is_none()) throw py::value_error(P(fn) + "max mode needs the argmax");
          py::array a = arg.cast<py::array>();
          if (!is_i64(a) || shape_of(a) != want || !(a.flags() & py::array::c_style))
            throw py::value_error(P(fn) + "argmax must be int64 of shape (B, D)");
          const int64_t* pa = cptr<int64_t>(a);
          for (int64_t i = 0; i < g.B * want[1]; ++i)
            if (pa[i] < -1 || pa[i] >= g.E) throw py::value_error(P(fn) + "argmax out of range");
        }
        if (need_psw && psw.is_none())
          throw py::value_error(P(fn) + "no per_sample_weights to differentiate");
        return is_f32(w) ? bwd<float>(grad, w, psw, mode, arg, need_w, need_psw, g)
                         : bwd<double>(grad, w, psw, mode, arg, need_w, need_psw, g);
      },
      py::arg("grad"), py::arg("weight"), py::arg("indices"), py::arg("offsets"),
      py::arg("bag_size"), py::arg("per_sample_weights"), py::arg("mode"),
      py::arg("padding_idx"), py::arg("argmax"), py::arg("need_weight"),
      py::arg("need_per_sample_weights"),
      "(grad_weight (n, D) or None, grad_per_sample_weights (E,) or None).");
}

}  // namespace fastdl
