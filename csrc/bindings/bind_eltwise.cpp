// Bindings of the eltwise kernel family (csrc/kernels/eltwise/): activations, softmax,
// PReLU, dropout, plus private probes (vectorised math on arrays, memory bandwidth).
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "bindings/util.h"
#include "kernels/eltwise/eltwise.h"

namespace fastdl {
namespace {

namespace el = ::fastdl::eltwise;

using el::kActNames;  // from the activation table (eltwise.h)

std::string S(const char* a) { return std::string(a); }

// Output array: `out` when given (validated: same shape and dtype, C-contiguous, writeable),
// else a fresh one from the caching allocator.
py::array output_like(const py::array& x, const std::optional<py::array>& out, const char* fn) {
  if (!out) return pool_array(shape_of(x), x.dtype());
  const py::array& o = *out;
  require_float(o, fn, "out");
  require_same_dtype(x, o, fn, "input", "out");
  require_writeable(o, fn, "out");
  if (shape_of(o) != shape_of(x))
    throw py::value_error(S(fn) + ": out has shape " + shape_str(o) + " but input has shape " +
                          shape_str(x));
  return o;
}

void require_same_shape(const py::array& a, const py::array& b, const char* fn, const char* na,
                        const char* nb) {
  if (shape_of(a) != shape_of(b))
    throw py::value_error(S(fn) + ": " + na + " has shape " + shape_str(a) + " but " + nb +
                          " has shape " + shape_str(b));
}

std::vector<double> act_params(int act, const std::vector<double>& prm, const char* fn) {
  if (act < 0 || act >= el::kNumAct)
    throw py::value_error(S(fn) + ": unknown activation code " + std::to_string(act));
  std::vector<double> p(prm);
  if (p.size() > 3)
    throw py::value_error(S(fn) + ": at most 3 parameters, got " + std::to_string(p.size()));
  p.resize(3, 0.0);
  if (act == el::kSoftplus && p[0] == 0.0)
    throw py::value_error(S(fn) + ": softplus beta must be nonzero");
  if (act == el::kHardtanh && !(p[0] <= p[1]))
    throw py::value_error(S(fn) + ": hardtanh min_val must be <= max_val, got " +
                          std::to_string(p[0]) + " > " + std::to_string(p[1]));
  return p;
}

// (outer, dim, inner) of `a` around axis `dim` (negative counts from the end).
void split_axis(const py::array& a, int64_t dim, const char* fn, int64_t& outer, int64_t& d,
                int64_t& inner) {
  const int64_t nd = a.ndim();
  const int64_t lo = nd == 0 ? -1 : -nd, hi = nd == 0 ? 0 : nd - 1;
  if (dim < lo || dim > hi)
    throw py::index_error(S(fn) + ": dim " + std::to_string(dim) + " is out of range for a " +
                          std::to_string(nd) + "-d input of shape " + shape_str(a) +
                          " (expected in [" + std::to_string(lo) + ", " + std::to_string(hi) +
                          "])");
  if (nd == 0) {
    outer = d = inner = 1;
    return;
  }
  if (dim < 0) dim += nd;
  outer = 1;
  inner = 1;
  for (int64_t i = 0; i < dim; ++i) outer *= a.shape(i);
  for (int64_t i = dim + 1; i < nd; ++i) inner *= a.shape(i);
  d = a.shape(dim);
}

}  // namespace

void bind_eltwise(py::module_& m) {
  py::dict ids;
  for (int i = 0; i < el::kNumAct; ++i) ids[kActNames[i]] = i;
  m.attr("eltwise_acts") = ids;

  m.def("eltwise_forward", [](int act, const py::array& x, const std::vector<double>& prm,
                              std::optional<py::array> out) {
    const char* fn = act >= 0 && act < el::kNumAct ? kActNames[act] : "eltwise_forward";
    require_float(x, fn, "input");
    auto p = act_params(act, prm, fn);
    py::array y = output_like(x, out, fn);
    const int64_t n = x.size();
    {
      py::gil_scoped_release nogil;
      if (is_f32(x)) el::act_forward(act, cptr<float>(x), ptr<float>(y), n, p.data());
      else el::act_forward(act, cptr<double>(x), ptr<double>(y), n, p.data());
    }
    return y;
  }, py::arg("act"), py::arg("x"), py::arg("params"), py::arg("out") = py::none(),
     "y = act(x) (codes in eltwise_acts); out may be x for in place.");

  m.def("eltwise_backward", [](int act, bool from_output, const py::array& s, const py::array& g,
                               const std::vector<double>& prm, std::optional<py::array> out,
                               std::optional<py::array> g2) {
    const char* fn = act >= 0 && act < el::kNumAct ? kActNames[act] : "eltwise_backward";
    require_float(s, fn, "saved");
    require_float(g, fn, "grad_output");
    require_same_dtype(s, g, fn, "saved", "grad_output");
    require_same_shape(s, g, fn, "saved", "grad_output");
    if (g2) {
      require_float(*g2, fn, "grad2");
      require_same_dtype(s, *g2, fn, "saved", "grad2");
      require_same_shape(s, *g2, fn, "saved", "grad2");
    }
    auto p = act_params(act, prm, fn);
    if (!el::act_backward_supported(act, from_output, p.data()))
      throw py::value_error(S(fn) + ": backward from the " + (from_output ? "output" : "input") +
                            " is not available for these parameters");
    py::array gx = output_like(g, out, fn);
    const int64_t n = g.size();
    {
      py::gil_scoped_release nogil;
      if (is_f32(g))
        el::act_backward(act, from_output, cptr<float>(s), cptr<float>(g), ptr<float>(gx), n,
                         p.data(), g2 ? cptr<float>(*g2) : nullptr);
      else
        el::act_backward(act, from_output, cptr<double>(s), cptr<double>(g), ptr<double>(gx), n,
                         p.data(), g2 ? cptr<double>(*g2) : nullptr);
    }
    return gx;
  }, py::arg("act"), py::arg("from_output"), py::arg("saved"), py::arg("grad"), py::arg("params"),
     py::arg("out") = py::none(), py::arg("grad2") = py::none(),
     "gx = act'(saved)·grad, or act'(saved)·(grad + grad2) with grad2 (the two gradients summed "
     "in the same pass, bitwise the separate add); saved is the input, or the output when "
     "from_output.");

  m.def("softmax_forward", [](const py::array& x, int64_t dim, bool log, std::optional<py::array> out) {
    const char* fn = log ? "log_softmax" : "softmax";
    require_float(x, fn, "input");
    int64_t outer, d, inner;
    split_axis(x, dim, fn, outer, d, inner);
    py::array y = output_like(x, out, fn);
    {
      py::gil_scoped_release nogil;
      if (is_f32(x)) el::softmax_forward(log, cptr<float>(x), ptr<float>(y), outer, d, inner);
      else el::softmax_forward(log, cptr<double>(x), ptr<double>(y), outer, d, inner);
    }
    return y;
  }, py::arg("x"), py::arg("dim"), py::arg("log"), py::arg("out") = py::none());

  m.def("softmax_backward", [](const py::array& y, const py::array& g, int64_t dim, bool log,
                               std::optional<py::array> out) {
    const char* fn = log ? "log_softmax_backward" : "softmax_backward";
    require_float(y, fn, "output");
    require_float(g, fn, "grad_output");
    require_same_dtype(y, g, fn, "output", "grad_output");
    require_same_shape(y, g, fn, "output", "grad_output");
    int64_t outer, d, inner;
    split_axis(y, dim, fn, outer, d, inner);
    py::array gx = output_like(g, out, fn);
    {
      py::gil_scoped_release nogil;
      if (is_f32(y))
        el::softmax_backward(log, cptr<float>(y), cptr<float>(g), ptr<float>(gx), outer, d, inner);
      else
        el::softmax_backward(log, cptr<double>(y), cptr<double>(g), ptr<double>(gx), outer, d, inner);
    }
    return gx;
  }, py::arg("y"), py::arg("grad"), py::arg("dim"), py::arg("log"), py::arg("out") = py::none());

  // PReLU: channel axis 1 (inputs with fewer than 2 dims have one channel).
  auto prelu_dims = [](const py::array& x, const py::array& w, const char* fn, int64_t& outer,
                       int64_t& C, int64_t& inner) {
    require_float(x, fn, "input");
    require_float(w, fn, "weight");
    require_same_dtype(x, w, fn, "input", "weight");
    if (w.ndim() != 1 && !(w.ndim() == 0))
      throw py::value_error(S(fn) + ": weight must be 1-d, got shape " + shape_str(w));
    const int64_t nw = w.size();
    const int64_t ch = x.ndim() >= 2 ? x.shape(1) : 1;
    if (nw != 1 && nw != ch)
      throw py::value_error(S(fn) + ": weight has " + std::to_string(nw) +
                            " elements but input of shape " + shape_str(x) + " has " +
                            std::to_string(ch) + " channels (expected 1 or " +
                            std::to_string(ch) + ")");
    if (nw == 1) {
      outer = 1;
      C = 1;
      inner = x.size();
    } else {
      outer = x.shape(0);
      C = ch;
      inner = 1;
      for (int64_t i = 2; i < x.ndim(); ++i) inner *= x.shape(i);
    }
  };
  m.def("prelu_forward", [prelu_dims](const py::array& x, const py::array& w) {
    int64_t outer, C, inner;
    prelu_dims(x, w, "prelu", outer, C, inner);
    py::array y = pool_array(shape_of(x), x.dtype());
    {
      py::gil_scoped_release nogil;
      if (is_f32(x)) el::prelu_forward(cptr<float>(x), cptr<float>(w), ptr<float>(y), outer, C, inner);
      else el::prelu_forward(cptr<double>(x), cptr<double>(w), ptr<double>(y), outer, C, inner);
    }
    return y;
  }, py::arg("x"), py::arg("weight"));
  m.def("prelu_backward", [prelu_dims](const py::array& x, const py::array& w, const py::array& g,
                                       bool need_x, bool need_w) {
    int64_t outer, C, inner;
    prelu_dims(x, w, "prelu_backward", outer, C, inner);
    require_float(g, "prelu_backward", "grad_output");
    require_same_dtype(x, g, "prelu_backward", "input", "grad_output");
    require_same_shape(x, g, "prelu_backward", "input", "grad_output");
    py::object gx = py::none(), gw = py::none();
    py::array gxa, gwa;
    if (need_x) gxa = pool_array(shape_of(x), x.dtype());
    if (need_w) gwa = pool_array(shape_of(w), w.dtype());
    std::vector<double> work(need_w ? static_cast<size_t>(el::prelu_work_size(outer, C, inner)) : 0);
    {
      py::gil_scoped_release nogil;
      if (is_f32(x))
        el::prelu_backward(cptr<float>(x), cptr<float>(w), cptr<float>(g),
                           need_x ? ptr<float>(gxa) : nullptr, need_w ? ptr<float>(gwa) : nullptr,
                           work.data(), outer, C, inner);
      else
        el::prelu_backward(cptr<double>(x), cptr<double>(w), cptr<double>(g),
                           need_x ? ptr<double>(gxa) : nullptr, need_w ? ptr<double>(gwa) : nullptr,
                           work.data(), outer, C, inner);
    }
    if (need_x) gx = gxa;
    if (need_w) gw = gwa;
    return py::make_tuple(gx, gw);
  }, py::arg("x"), py::arg("weight"), py::arg("grad"), py::arg("need_input"), py::arg("need_weight"));

  m.def("dropout", [](const py::array& x, double p, uint64_t seed, int64_t group,
                      std::optional<py::array> out) {
    require_float(x, "dropout", "input");
    if (!(p >= 0.0 && p <= 1.0))
      throw py::value_error("dropout: p must be in [0, 1], got " + std::to_string(p));
    if (group < 1) throw py::value_error("dropout: group must be >= 1");
    if (x.size() % group != 0)
      throw py::value_error("dropout: group " + std::to_string(group) +
                            " does not divide the input size " + std::to_string(x.size()));
    py::array y = output_like(x, out, "dropout");
    {
      py::gil_scoped_release nogil;
      if (is_f32(x)) el::dropout(cptr<float>(x), ptr<float>(y), x.size(), group, seed, p);
      else el::dropout(cptr<double>(x), ptr<double>(y), x.size(), group, seed, p);
    }
    return y;
  }, py::arg("x"), py::arg("p"), py::arg("seed"), py::arg("group") = 1, py::arg("out") = py::none(),
     "y = x * keep / (1 - p) with Philox4x32-10 keep bits; backward is the same call on the grad.");
  m.def("dropout_words", [](int64_t n, uint64_t seed) {
    if (n < 0) throw py::value_error("dropout_words: n must be >= 0");
    py::array_t<uint32_t> out(n);
    {
      py::gil_scoped_release nogil;
      el::dropout_words(out.mutable_data(), n, seed);
    }
    return out;
  }, py::arg("n"), py::arg("seed"));
  m.def("philox_word", &el::philox_word, py::arg("seed"), py::arg("k"));

  m.def("_vm_eval", [](int fn, const py::array& x) {
    require_float(x, "_vm_eval", "x");
    if (fn < 0 || fn > 10) throw py::value_error("_vm_eval: fn must be in [0, 10]");
    py::array y = pool_array(shape_of(x), x.dtype());
    {
      py::gil_scoped_release nogil;
      if (is_f32(x)) el::vm_eval(fn, cptr<float>(x), ptr<float>(y), x.size());
      else el::vm_eval(fn, cptr<double>(x), ptr<double>(y), x.size());
    }
    return y;
  }, py::arg("fn"), py::arg("x"), "common/simd.h function fn (0 exp, 1 expm1, 2 log, 3 log1p, 4 tanh, "
     "5 erf, 6 erfc, 7 sigmoid, 8 softplus, 9 log_sigmoid, 10 normcdf) on an array (tests).");

  m.def("eltwise_add", [](const py::array& a, const py::array& b, py::array out) {
    const char* fn = "eltwise_add";
    require_float(a, fn, "a");
    require_same_dtype(a, b, fn, "a", "b");
    require_same_dtype(a, out, fn, "a", "out");
    require_writeable(out, fn, "out");
    for (const py::array* p : {&a, &b, &static_cast<const py::array&>(out)})
      if (p->ndim() != 1 || !(p->flags() & py::array::c_style))
        throw py::value_error(S(fn) + ": a, b and out must be 1-D and contiguous, got " +
                              shape_str(*p));
    require_same_shape(a, b, fn, "a", "b");
    require_same_shape(a, out, fn, "a", "out");
    py::gil_scoped_release nogil;
    if (is_f32(a)) el::add(cptr<float>(a), cptr<float>(b), ptr<float>(out), a.size());
    else el::add(cptr<double>(a), cptr<double>(b), ptr<double>(out), a.size());
  }, py::arg("a"), py::arg("b"), py::arg("out"),
     "out = a + b on all threads (1-D contiguous float32/float64 of one length; out may be a "
     "or b): bitwise NumPy's add.");

  auto f32 = [](const py::array& a, const char* fn, const char* name) {
    require_float(a, fn, name);
    if (!is_f32(a)) throw py::type_error(S(fn) + ": " + name + " must be float32");
  };
  m.def("_bw_copy", [f32](const py::array& src, py::array dst) {
    f32(src, "_bw_copy", "src");
    f32(dst, "_bw_copy", "dst");
    require_writeable(dst, "_bw_copy", "dst");
    require_same_shape(src, dst, "_bw_copy", "src", "dst");
    py::gil_scoped_release nogil;
    el::bw_copy(cptr<float>(src), ptr<float>(dst), src.size());
  }, py::arg("src"), py::arg("dst"), "dst = src on all threads (bandwidth probe).");
  m.def("_bw_triad", [f32](py::array a, const py::array& b, const py::array& c, float s) {
    f32(a, "_bw_triad", "a");
    f32(b, "_bw_triad", "b");
    f32(c, "_bw_triad", "c");
    require_writeable(a, "_bw_triad", "a");
    require_same_shape(a, b, "_bw_triad", "a", "b");
    require_same_shape(a, c, "_bw_triad", "a", "c");
    py::gil_scoped_release nogil;
    el::bw_triad(ptr<float>(a), cptr<float>(b), cptr<float>(c), s, a.size());
  }, py::arg("a"), py::arg("b"), py::arg("c"), py::arg("s"), "a = b + s c on all threads.");
}

}  // namespace fastdl
