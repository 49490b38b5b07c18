// Bindings of the tensor-ops kernel family (csrc/kernels/tensorops/): gather, cummax/cummin,
// cumsum/cumprod,
// fmod/remainder, top-k, mode, multinomial with and without replacement, sparse × dense,
// scatter_add, nan_to_num, hypot, erfinv (float32), the fused elementwise passes (unary
// sign/rsqrt/reciprocal/frac, lerp, logaddexp, outer, nansum) and the byte-copying layout
// kernels of any dtype (flip, tril/triu, diag_embed).
// Dtypes, ranks, shapes and contiguity are validated here; the GIL is released around every
// kernel.
#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

#include "bindings/util.h"
#include "kernels/tensorops/tensorops.h"

namespace fastdl {
namespace {

std::string P(const char* fn) { return std::string(fn) + ": "; }

// Two float arrays of one dtype for an elementwise pass of `fn` (the second named `bn`): the
// same shape, or, with `scalar_ok`, a single element.
void require_float_pair(const py::array& a, const py::array& b, const char* fn, const char* bn,
                        bool scalar_ok = false) {
  require_float(a, fn, "input");
  require_float(b, fn, bn);
  require_same_dtype(a, b, fn, "input", bn);
  if (shape_of(a) != shape_of(b) && !(scalar_ok && b.size() == 1))
    throw py::value_error(P(fn) + bn + " " + shape_str(b) + " must have input's shape " +
                          shape_str(a) + (scalar_ok ? " or one element" : ""));
}

// (outer, n, inner) of `a` around dimension `dim` (already in [0, ndim))
void split(const py::array& a, int64_t dim, int64_t& outer, int64_t& n, int64_t& inner) {
  outer = 1;
  inner = 1;
  for (int64_t k = 0; k < dim; ++k) outer *= a.shape(k);
  n = a.shape(dim);
  for (int64_t k = dim + 1; k < a.ndim(); ++k) inner *= a.shape(k);
}

// torch's IndexError (in the words of the Python layer's check) for entry `bad` of int64
// `idx`, which the kernel found outside [-n, n)
[[noreturn]] void throw_index_out_of_bounds(const char* fn, const py::array& idx, int64_t bad,
                                            int64_t dim, int64_t n) {
  throw py::index_error(std::string(fn) + "(): index " +
                        std::to_string(cptr<int64_t>(idx)[bad]) +
                        " is out of range (out of bounds for dimension " + std::to_string(dim) +
                        " with size " + std::to_string(n) + ")");
}

void check_dim(const py::array& a, int64_t dim, const char* fn) {
  if (a.ndim() < 1 || dim < 0 || dim >= a.ndim())
    throw py::value_error(P(fn) + "dim " + std::to_string(dim) + " out of range for input " +
                          shape_str(a));
}

template <class T>
py::array gather_t(const py::array& x, const py::array& idx, int64_t dim) {
  int64_t outer, n, inner, o2, m, i2;
  split(x, dim, outer, n, inner);
  split(idx, dim, o2, m, i2);
  py::array out = pool_array(shape_of(idx), x.dtype());
  int64_t bad;
  {
    py::gil_scoped_release nogil;
    bad = tensorops::gather<T>(cptr<T>(x), outer, n, inner, cptr<int64_t>(idx), m,
                               ptr<T>(out));
  }
  if (bad >= 0) throw_index_out_of_bounds("gather", idx, bad, dim, n);
  return out;
}

template <class T>
py::tuple cumext_t(const py::array& x, int64_t dim, bool is_max) {
  int64_t outer, n, inner;
  split(x, dim, outer, n, inner);
  py::array vals = pool_array(shape_of(x), x.dtype());
  py::array idx = pool_array(shape_of(x), py::dtype::of<int64_t>());
  {
    py::gil_scoped_release nogil;
    tensorops::cumext<T>(cptr<T>(x), outer, n, inner, is_max, ptr<T>(vals),
                         ptr<int64_t>(idx));
  }
  return py::make_tuple(vals, idx);
}

template <class T>
py::array index_add_t(const py::array& x, const py::array& idx, const py::array& src,
                      int64_t dim) {
  int64_t outer, n, inner;
  split(x, dim, outer, n, inner);
  py::array out = pool_array(shape_of(x), x.dtype());
  int64_t bad;
  {
    py::gil_scoped_release nogil;
    std::memcpy(ptr<T>(out), cptr<T>(x), sizeof(T) * static_cast<size_t>(x.size()));
    bad = tensorops::index_add<T>(ptr<T>(out), outer, n, inner, cptr<int64_t>(idx),
                                  cptr<T>(src), idx.size());
  }
  if (bad >= 0)
    throw py::index_error("index_add(): index " + std::to_string(cptr<int64_t>(idx)[bad]) +
                          " is out of bounds for dimension " + std::to_string(dim) +
                          " with size " + std::to_string(n));
  return out;
}

template <class T>
py::array cumop_t(const py::array& x, int64_t dim, bool prod) {
  int64_t outer, n, inner;
  split(x, dim, outer, n, inner);
  py::array out = pool_array(shape_of(x), x.dtype());
  {
    py::gil_scoped_release nogil;
    tensorops::cumop<T>(cptr<T>(x), outer, n, inner, prod, ptr<T>(out));
  }
  return out;
}

template <class T>
py::array fmod_t(const py::array& a, const py::array& b, bool python_mod) {
  py::array out = pool_array(shape_of(a), a.dtype());
  const bool scalar = b.size() == 1 && a.size() != 1;
  {
    py::gil_scoped_release nogil;
    tensorops::fmod<T>(cptr<T>(a), cptr<T>(b), a.size(), scalar, python_mod, ptr<T>(out));
  }
  return out;
}

template <class T>
py::array scatter_add_t(const py::array& x, const py::array& idx, const py::array& src,
                        int64_t dim) {
  int64_t outer, n, inner, o2, m, i2;
  split(x, dim, outer, n, inner);
  split(idx, dim, o2, m, i2);
  py::array out = pool_array(shape_of(x), x.dtype());
  int64_t bad;
  {
    py::gil_scoped_release nogil;
    std::memcpy(ptr<T>(out), cptr<T>(x), sizeof(T) * static_cast<size_t>(x.size()));
    bad = tensorops::scatter_add<T>(ptr<T>(out), outer, n, inner, cptr<int64_t>(idx),
                                    cptr<T>(src), m);
  }
  if (bad >= 0) throw_index_out_of_bounds("scatter_add", idx, bad, dim, n);
  return out;
}

template <class T>
py::array nan_to_num_t(const py::array& x, double nan, double posinf, double neginf) {
  py::array out = pool_array(shape_of(x), x.dtype());
  {
    py::gil_scoped_release nogil;
    tensorops::nan_to_num<T>(cptr<T>(x), x.size(), static_cast<T>(nan), static_cast<T>(posinf),
                             static_cast<T>(neginf), ptr<T>(out));
  }
  return out;
}

template <class T>
py::array hypot_t(const py::array& a, const py::array& b) {
  py::array out = pool_array(shape_of(a), a.dtype());
  {
    py::gil_scoped_release nogil;
    tensorops::hypot<T>(cptr<T>(a), cptr<T>(b), a.size(), ptr<T>(out));
  }
  return out;
}

// The multinomial kernels' error codes (1: a weight is inf, NaN or negative; 2: a row sums to
// zero or less) as torch's messages.
static void check_multinomial(int err) {
  if (err == 1)
    throw std::runtime_error("multinomial(): probability tensor contains either `inf`, `nan` "
                             "or element < 0");
  if (err == 2)
    throw std::runtime_error("multinomial(): invalid multinomial distribution (sum of "
                             "probabilities <= 0)");
}

template <class T>
py::array multinomial_t(const py::array& w, const py::array& u) {
  const int64_t rows = w.shape(0), n = w.shape(1), k = u.shape(1);
  py::array out = pool_array({rows, k}, py::dtype::of<int64_t>());
  int err;
  {
    py::gil_scoped_release nogil;
    err = tensorops::multinomial_replacement<T>(cptr<T>(w), rows, n, cptr<double>(u), k,
                                                ptr<int64_t>(out));
  }
  check_multinomial(err);
  return out;
}

template <class T>
py::array topk_t(const py::array& x, int64_t k, int64_t dim, bool largest) {
  int64_t outer, n, inner;
  split(x, dim, outer, n, inner);
  Shape sh = shape_of(x);
  sh[dim] = k;
  py::array idx = pool_array(sh, py::dtype::of<int64_t>());
  {
    py::gil_scoped_release nogil;
    tensorops::topk<T>(cptr<T>(x), outer, n, inner, k, largest, ptr<int64_t>(idx));
  }
  return idx;
}

template <class T>
py::tuple mode_t(const py::array& x) {
  const int64_t rows = x.shape(0), n = x.shape(1);
  py::array vals = pool_array({rows}, x.dtype());
  py::array idx = pool_array({rows}, py::dtype::of<int64_t>());
  {
    py::gil_scoped_release nogil;
    tensorops::mode<T>(cptr<T>(x), rows, n, ptr<T>(vals), ptr<int64_t>(idx));
  }
  return py::make_tuple(vals, idx);
}

template <class T>
py::array multinomial_noreplace_t(const py::array& w, const py::array& u, int64_t k) {
  const int64_t rows = w.shape(0), n = w.shape(1);
  py::array out = pool_array({rows, k}, py::dtype::of<int64_t>());
  int err;
  {
    py::gil_scoped_release nogil;
    err = tensorops::multinomial_noreplace<T>(cptr<T>(w), rows, n, cptr<T>(u), k,
                                              ptr<int64_t>(out));
  }
  check_multinomial(err);
  return out;
}

template <class T>
py::array spmm_t(const py::array& rows, const py::array& cols, const py::array& vals, int64_t m,
                 const py::array& x) {
  const int64_t k = x.shape(0), n = x.shape(1), nnz = vals.size();
  py::array out = pool_array({m, n}, x.dtype());
  bool ok;
  {
    py::gil_scoped_release nogil;
    ok = tensorops::spmm_coo<T>(cptr<int64_t>(rows), cptr<int64_t>(cols), cptr<T>(vals), nnz, m,
                                cptr<T>(x), k, n, ptr<T>(out));
  }
  if (!ok)
    throw py::index_error("sparse.mm: an index of the sparse matrix is outside its size (" +
                          std::to_string(m) + ", " + std::to_string(k) + ")");
  return out;
}

template <class T>
py::array unary_t(const py::array& x, int code) {
  py::array out = pool_array(shape_of(x), x.dtype());
  {
    py::gil_scoped_release nogil;
    tensorops::unary<T>(cptr<T>(x), x.size(), code, ptr<T>(out));
  }
  return out;
}

template <class T>
py::array lerp_t(const py::array& a, const py::array& b, double w) {
  py::array out = pool_array(shape_of(a), a.dtype());
  {
    py::gil_scoped_release nogil;
    tensorops::lerp<T>(cptr<T>(a), cptr<T>(b), static_cast<T>(w), a.size(), ptr<T>(out));
  }
  return out;
}

template <class T>
py::array logaddexp_t(const py::array& a, const py::array& b) {
  py::array out = pool_array(shape_of(a), a.dtype());
  {
    py::gil_scoped_release nogil;
    tensorops::logaddexp<T>(cptr<T>(a), cptr<T>(b), a.size(), ptr<T>(out));
  }
  return out;
}

template <class T>
py::array outer_t(const py::array& a, const py::array& b) {
  const int64_t m = a.size(), n = b.size();
  py::array out = pool_array({m, n}, a.dtype());
  {
    py::gil_scoped_release nogil;
    tensorops::outer<T>(cptr<T>(a), m, cptr<T>(b), n, ptr<T>(out));
  }
  return out;
}

template <class T>
double nansum_t(const py::array& x) {
  py::gil_scoped_release nogil;
  return tensorops::nansum<T>(cptr<T>(x), x.size());
}

// ValueError unless `a` is C-contiguous and aligned; TypeError for object and structured
// dtypes (the byte-copying kernels copy plain values only)
void require_plain(const py::array& a, const char* fn, const char* name) {
  const char kind = a.dtype().kind();
  if (kind == 'O' || kind == 'V')
    throw py::type_error(P(fn) + name + " must have a numeric or bool dtype, got " +
                         std::string(py::str(a.dtype())));
  if (!(a.flags() & py::array::c_style) || !(a.flags() & 0x0100))  // NPY_ARRAY_ALIGNED
    throw py::value_error(P(fn) + name + " with shape " + shape_str(a) +
                          " must be C-contiguous and aligned");
}

}  // namespace

void bind_tensorops(py::module_& m) {
  m.def(
      "tensorops_unary",
      [](const py::array& x, int code) {
        const char* names[] = {"sign", "rsqrt", "reciprocal", "frac"};
        if (code < tensorops::kSign || code > tensorops::kFrac)
          throw py::value_error("tensorops_unary: code must be 0 (sign), 1 (rsqrt), "
                                "2 (reciprocal) or 3 (frac), got " + std::to_string(code));
        require_float(x, names[code], "input");
        return is_f32(x) ? unary_t<float>(x, code) : unary_t<double>(x, code);
      },
      py::arg("input"), py::arg("code"),
      "f(input) elementwise in one pass, for code 0: sign (+0 for ±0 and NaN), 1: rsqrt "
      "(1/sqrt, exact division), 2: reciprocal, 3: frac (x - trunc(x)).");
  m.def(
      "tensorops_lerp",
      [](const py::array& a, const py::array& b, double w) {
        const char* fn = "lerp";
        require_float_pair(a, b, fn, "end");
        return is_f32(a) ? lerp_t<float>(a, b, w) : lerp_t<double>(a, b, w);
      },
      py::arg("input"), py::arg("end"), py::arg("weight"),
      "input + weight·(end - input) for |weight| < 0.5, else end - (end - input)·(1 - weight) "
      "(torch's formula), elementwise, with multiply-adds.");
  m.def(
      "tensorops_logaddexp",
      [](const py::array& a, const py::array& b) {
        const char* fn = "logaddexp";
        require_float_pair(a, b, fn, "other");
        return is_f32(a) ? logaddexp_t<float>(a, b) : logaddexp_t<double>(a, b);
      },
      py::arg("input"), py::arg("other"),
      "log(exp(input) + exp(other)) elementwise, as max + log1p(exp(-|input - other|)).");
  m.def(
      "tensorops_outer",
      [](const py::array& a, const py::array& b) {
        const char* fn = "outer";
        require_float(a, fn, "input");
        require_float(b, fn, "vec2");
        require_same_dtype(a, b, fn, "input", "vec2");
        if (a.ndim() != 1 || b.ndim() != 1)
          throw py::value_error(P(fn) + "input " + shape_str(a) + " and vec2 " + shape_str(b) +
                                " must be 1-D");
        return is_f32(a) ? outer_t<float>(a, b) : outer_t<double>(a, b);
      },
      py::arg("input"), py::arg("vec2"), "(m, n) with out[i, j] = input[i]·vec2[j].");
  m.def(
      "tensorops_nansum",
      [](const py::array& x) {
        require_float(x, "nansum", "input");
        return is_f32(x) ? nansum_t<float>(x) : nansum_t<double>(x);
      },
      py::arg("input"),
      "The sum of the non-NaN elements of input (0 when there are none), accumulated per "
      "vector lane in the input's dtype for at most 32 terms, then in double.");
  m.def(
      "tensorops_flip",
      [](const py::array& x, const std::vector<int64_t>& dims) {
        const char* fn = "flip";
        require_plain(x, fn, "input");
        const int64_t nd = x.ndim();
        std::vector<unsigned char> fl(static_cast<size_t>(nd > 0 ? nd : 1), 0);
        for (int64_t d : dims) {
          if (d < 0 || d >= nd)
            throw py::value_error(P(fn) + "dim " + std::to_string(d) + " out of range for input " +
                                  shape_str(x));
          fl[static_cast<size_t>(d)] = 1;
        }
        py::array out = pool_array(shape_of(x), x.dtype());
        if (x.size() == 0) return out;
        // neighbouring dimensions with the same flag become one (two reversed dimensions of
        // a C-contiguous array are one reversed run); size-1 dimensions drop out
        Shape sh;
        std::vector<unsigned char> f;
        for (int64_t d = 0; d < nd; ++d) {
          if (x.shape(d) == 1) continue;
          if (!sh.empty() && f.back() == fl[static_cast<size_t>(d)]) {
            sh.back() *= x.shape(d);
          } else {
            sh.push_back(x.shape(d));
            f.push_back(fl[static_cast<size_t>(d)]);
          }
        }
        if (sh.empty()) {
          sh.push_back(1);
          f.push_back(0);
        }
        {
          py::gil_scoped_release nogil;
          tensorops::flip_bytes(x.data(), static_cast<int>(sh.size()), sh.data(), f.data(),
                                x.itemsize(), out.mutable_data());
        }
        return out;
      },
      py::arg("input"), py::arg("dims"),
      "A C-contiguous copy of input (any numeric dtype) reversed along dims (each in "
      "[0, ndim)).");
  m.def(
      "tensorops_transpose",
      [](const py::array& x, py::array out) {
        const char* fn = "transpose_copy";
        require_plain(x, fn, "input");
        require_plain(out, fn, "out");
        if (x.ndim() != 3 || out.ndim() != 3 || out.shape(0) != x.shape(0) ||
            out.shape(1) != x.shape(2) || out.shape(2) != x.shape(1))
          throw py::value_error(P(fn) + "input " + shape_str(x) + " (batch, r, c) needs out "
                                "(batch, c, r), got " + shape_str(out));
        if (!x.dtype().is(out.dtype()))
          throw py::type_error(P(fn) + "out has dtype " + std::string(py::str(out.dtype())) +
                               ", input " + std::string(py::str(x.dtype())));
        if (!out.writeable()) throw py::value_error(P(fn) + "out is read-only");
        {
          py::gil_scoped_release nogil;
          tensorops::transpose_bytes(x.data(), x.shape(0), x.shape(1), x.shape(2),
                                     x.itemsize(), out.mutable_data());
        }
      },
      py::arg("input"), py::arg("out"),
      "out[b, j, i] = input[b, i, j] for C-contiguous (batch, r, c) input and (batch, c, r) "
      "out of one dtype: the layout copy between NCHW and NHWC (r = C, c = H·W).");
  m.def(
      "tensorops_tri",
      [](const py::array& x, int64_t k, bool upper) {
        const char* fn = upper ? "triu" : "tril";
        require_plain(x, fn, "input");
        if (x.ndim() < 2)
          throw py::value_error(P(fn) + "input " + shape_str(x) + " must have at least 2 "
                                "dimensions");
        const int64_t r = x.shape(x.ndim() - 2), c = x.shape(x.ndim() - 1);
        int64_t batch = 1;
        for (int64_t d = 0; d + 2 < x.ndim(); ++d) batch *= x.shape(d);
        py::array out = pool_array(shape_of(x), x.dtype());
        {
          py::gil_scoped_release nogil;
          tensorops::tri_bytes(x.data(), batch, r, c, k, upper, x.itemsize(), out.mutable_data());
        }
        return out;
      },
      py::arg("input"), py::arg("diagonal"), py::arg("upper"),
      "The lower (upper=False: j - i <= diagonal) or upper (j - i >= diagonal) triangle of the "
      "last two dimensions of input (any numeric dtype), zeros elsewhere.");
  m.def(
      "tensorops_diag_embed",
      [](const py::array& x, int64_t offset) {
        const char* fn = "diag_embed";
        require_plain(x, fn, "input");
        if (x.ndim() < 1)
          throw py::value_error(P(fn) + "input must have at least 1 dimension");
        const int64_t mm = x.shape(x.ndim() - 1);
        int64_t batch = 1;
        for (int64_t d = 0; d + 1 < x.ndim(); ++d) batch *= x.shape(d);
        int64_t n;
        if (__builtin_add_overflow(mm, offset < 0 ? -offset : offset, &n))
          throw py::value_error(P(fn) + "offset " + std::to_string(offset) + " too large");
        Shape sh(x.shape(), x.shape() + x.ndim() - 1);
        sh.push_back(n);
        sh.push_back(n);
        py::array out = pool_array(sh, x.dtype());
        {
          py::gil_scoped_release nogil;
          tensorops::diag_embed_bytes(x.data(), batch, mm, offset, x.itemsize(),
                                      out.mutable_data());
        }
        return out;
      },
      py::arg("input"), py::arg("offset"),
      "input.shape[:-1] + (n, n), n = input.shape[-1] + |offset|: the last dimension of input "
      "(any numeric dtype) on the offset diagonal of each matrix, zeros elsewhere.");
  m.def(
      "tensorops_gather",
      [](const py::array& x, const py::array& idx, int64_t dim) {
        const char* fn = "gather";
        require_float(x, fn, "input");
        check_dim(x, dim, fn);
        if (!is_i64(idx) || !(idx.flags() & py::array::c_style))
          throw py::type_error(P(fn) + "index must be a C-contiguous int64 array");
        if (idx.ndim() != x.ndim())
          throw py::value_error(P(fn) + "index " + shape_str(idx) + " and input " +
                                shape_str(x) + " differ in rank");
        for (int64_t k = 0; k < x.ndim(); ++k)
          if (k != dim && idx.shape(k) != x.shape(k))
            throw py::value_error(P(fn) + "index " + shape_str(idx) + " must match input " +
                                  shape_str(x) + " outside dimension " + std::to_string(dim));
        if (x.shape(dim) == 0 && idx.size())
          throw py::index_error(P(fn) + "index into an empty dimension " + std::to_string(dim));
        return is_f32(x) ? gather_t<float>(x, idx, dim) : gather_t<double>(x, idx, dim);
      },
      py::arg("input"), py::arg("index"), py::arg("dim"),
      "out[..., j, ...] = input[..., index[..., j, ...], ...] along dim (index shaped as input "
      "outside dim; negative indices count from the end). IndexError for an index out of "
      "range.");
  m.def(
      "tensorops_cumext",
      [](const py::array& x, int64_t dim, bool is_max) {
        const char* fn = is_max ? "cummax" : "cummin";
        require_float(x, fn, "input");
        check_dim(x, dim, fn);
        return is_f32(x) ? cumext_t<float>(x, dim, is_max) : cumext_t<double>(x, dim, is_max);
      },
      py::arg("input"), py::arg("dim"), py::arg("is_max"),
      "(values, indices) of the running max (min) along dim, torch's NaN and tie rules.");
  m.def(
      "tensorops_index_add",
      [](const py::array& x, const py::array& idx, const py::array& src, int64_t dim) {
        const char* fn = "index_add";
        require_float(x, fn, "input");
        require_float(src, fn, "source");
        require_same_dtype(x, src, fn, "input", "source");
        check_dim(x, dim, fn);
        if (!is_i64(idx) || !(idx.flags() & py::array::c_style) || idx.ndim() != 1)
          throw py::type_error(P(fn) + "index must be a C-contiguous 1-D int64 array");
        if (src.ndim() != x.ndim())
          throw py::value_error(P(fn) + "source " + shape_str(src) + " and input " +
                                shape_str(x) + " differ in rank");
        for (int64_t k = 0; k < x.ndim(); ++k)
          if (src.shape(k) != (k == dim ? idx.shape(0) : x.shape(k)))
            throw py::value_error(P(fn) + "source " + shape_str(src) + " must be input " +
                                  shape_str(x) + " with dimension " + std::to_string(dim) +
                                  " of the index's length " + std::to_string(idx.shape(0)));
        return is_f32(x) ? index_add_t<float>(x, idx, src, dim)
                         : index_add_t<double>(x, idx, src, dim);
      },
      py::arg("input"), py::arg("index"), py::arg("source"), py::arg("dim"),
      "A copy of input with source's slice j added to input's slice index[j] along dim "
      "(negative indices count from the end). IndexError for an index out of range.");
  m.def(
      "tensorops_cumop",
      [](const py::array& x, int64_t dim, bool prod) {
        const char* fn = prod ? "cumprod" : "cumsum";
        require_float(x, fn, "input");
        check_dim(x, dim, fn);
        return is_f32(x) ? cumop_t<float>(x, dim, prod) : cumop_t<double>(x, dim, prod);
      },
      py::arg("input"), py::arg("dim"), py::arg("prod"),
      "The running sum (prod: product) along dim, accumulated in double as torch's CPU scan.");
  m.def(
      "tensorops_fmod",
      [](const py::array& a, const py::array& b, bool python_mod) {
        const char* fn = python_mod ? "remainder" : "fmod";
        require_float_pair(a, b, fn, "other", /*scalar_ok=*/true);
        return is_f32(a) ? fmod_t<float>(a, b, python_mod) : fmod_t<double>(a, b, python_mod);
      },
      py::arg("input"), py::arg("other"), py::arg("python_mod"),
      "fmod(input, other) (python_mod: the remainder with the divisor's sign), elementwise.");
  m.def(
      "tensorops_scatter_add",
      [](const py::array& x, const py::array& idx, const py::array& src, int64_t dim) {
        const char* fn = "scatter_add";
        require_float(x, fn, "input");
        require_float(src, fn, "src");
        require_same_dtype(x, src, fn, "input", "src");
        check_dim(x, dim, fn);
        if (!is_i64(idx) || !(idx.flags() & py::array::c_style))
          throw py::type_error(P(fn) + "index must be a C-contiguous int64 array");
        if (idx.ndim() != x.ndim() || shape_of(idx) != shape_of(src))
          throw py::value_error(P(fn) + "index " + shape_str(idx) + " and src " +
                                shape_str(src) + " must have input's rank " + shape_str(x) +
                                " and one shape");
        for (int64_t k = 0; k < x.ndim(); ++k)
          if (k != dim && idx.shape(k) != x.shape(k))
            throw py::value_error(P(fn) + "index " + shape_str(idx) + " must match input " +
                                  shape_str(x) + " outside dimension " + std::to_string(dim));
        if (x.shape(dim) == 0 && idx.size())
          throw py::index_error(P(fn) + "index into an empty dimension " + std::to_string(dim));
        return is_f32(x) ? scatter_add_t<float>(x, idx, src, dim)
                         : scatter_add_t<double>(x, idx, src, dim);
      },
      py::arg("input"), py::arg("index"), py::arg("src"), py::arg("dim"),
      "A copy of input with out[..., index[..., j, ...], ...] += src[..., j, ...] along dim "
      "(index and src one shape, matching input outside dim; negative indices count from the "
      "end). IndexError for an index out of range.");
  m.def(
      "tensorops_nan_to_num",
      [](const py::array& x, double nan, double posinf, double neginf) {
        require_float(x, "nan_to_num", "input");
        return is_f32(x) ? nan_to_num_t<float>(x, nan, posinf, neginf)
                         : nan_to_num_t<double>(x, nan, posinf, neginf);
      },
      py::arg("input"), py::arg("nan"), py::arg("posinf"), py::arg("neginf"),
      "input with NaN, +inf and -inf replaced by nan, posinf and neginf (cast to its dtype).");
  m.def(
      "tensorops_hypot",
      [](const py::array& a, const py::array& b) {
        const char* fn = "hypot";
        require_float_pair(a, b, fn, "other");
        return is_f32(a) ? hypot_t<float>(a, b) : hypot_t<double>(a, b);
      },
      py::arg("input"), py::arg("other"), "sqrt(input² + other²) elementwise, no overflow.");
  m.def(
      "tensorops_erfinv",
      [](const py::array& x) {
        if (!is_f32(x))
          throw py::type_error("erfinv: input must be float32, got " +
                               std::string(py::str(x.dtype())));
        require_float(x, "erfinv", "input");
        py::array out = pool_array(shape_of(x), x.dtype());
        {
          py::gil_scoped_release nogil;
          tensorops::erfinv_f32(cptr<float>(x), x.size(), ptr<float>(out));
        }
        return out;
      },
      py::arg("input"),
      "The inverse error function of float32 input (within 2.7e-7 relative; ±inf at ±1, NaN "
      "outside [-1, 1]).");
  m.def(
      "tensorops_multinomial",
      [](const py::array& w, const py::array& u) {
        const char* fn = "multinomial";
        require_float(w, fn, "input");
        if (w.ndim() != 2 || w.shape(1) < 1)
          throw py::value_error(P(fn) + "weights must be (rows, n) with n >= 1, got " +
                                shape_str(w));
        if (!is_f64(u) || u.ndim() != 2 || u.shape(0) != w.shape(0) ||
            !(u.flags() & py::array::c_style))
          throw py::value_error(P(fn) + "uniforms must be a C-contiguous float64 (rows, k) "
                                "array, got " + shape_str(u) + " for weights " + shape_str(w));
        return is_f32(w) ? multinomial_t<float>(w, u) : multinomial_t<double>(w, u);
      },
      py::arg("weights"), py::arg("uniforms"),
      "Categories drawn with replacement: per row, the first j whose cumulative weight exceeds "
      "u * total. RuntimeError for negative/non-finite weights or a zero row.");
  m.def(
      "tensorops_topk",
      [](const py::array& x, int64_t k, int64_t dim, bool largest) {
        const char* fn = "topk";
        require_float(x, fn, "input");
        check_dim(x, dim, fn);
        if (k < 0 || k > x.shape(dim))
          throw py::value_error(P(fn) + "k = " + std::to_string(k) + " out of range for "
                                "dimension " + std::to_string(dim) + " of input " +
                                shape_str(x));
        return is_f32(x) ? topk_t<float>(x, k, dim, largest)
                         : topk_t<double>(x, k, dim, largest);
      },
      py::arg("input"), py::arg("k"), py::arg("dim"), py::arg("largest"),
      "int64, input's shape with k along dim: the indices of the k largest (smallest) values "
      "along dim in order, NaN the largest, ties by lower index.");
  m.def(
      "tensorops_mode",
      [](const py::array& x) {
        const char* fn = "mode";
        if (!is_i64(x)) require_float(x, fn, "input");
        if (!(x.flags() & py::array::c_style))
          throw py::value_error(P(fn) + "input " + shape_str(x) + " must be C-contiguous");
        if (x.ndim() != 2 || x.shape(1) < 1)
          throw py::value_error(P(fn) + "input must be (rows, n) with n >= 1, got " +
                                shape_str(x));
        if (is_i64(x)) return mode_t<int64_t>(x);
        return is_f32(x) ? mode_t<float>(x) : mode_t<double>(x);
      },
      py::arg("input"),
      "(values, indices) per row: the most frequent value (the smallest of equally frequent "
      "ones, NaN the largest) and the index of its last occurrence. float32/float64/int64.");
  m.def(
      "tensorops_multinomial_noreplace",
      [](const py::array& w, const py::array& u, int64_t k) {
        const char* fn = "multinomial";
        require_float(w, fn, "input");
        if (w.ndim() != 2 || w.shape(1) < 1)
          throw py::value_error(P(fn) + "weights must be (rows, n) with n >= 1, got " +
                                shape_str(w));
        require_float(u, fn, "uniforms");
        require_same_dtype(w, u, fn, "weights", "uniforms");
        if (shape_of(u) != shape_of(w))
          throw py::value_error(P(fn) + "uniforms " + shape_str(u) + " must have the weights' "
                                "shape " + shape_str(w));
        if (k < 1 || k > w.shape(1))
          throw py::value_error(P(fn) + "cannot sample " + std::to_string(k) + " of " +
                                std::to_string(w.shape(1)) + " categories without replacement");
        return is_f32(w) ? multinomial_noreplace_t<float>(w, u, k)
                         : multinomial_noreplace_t<double>(w, u, k);
      },
      py::arg("weights"), py::arg("uniforms"), py::arg("k"),
      "int64 (rows, k): k distinct categories per row drawn without replacement (the "
      "exponential race on keys w / -log(u), largest first; zero weights last). RuntimeError "
      "for invalid weights or a row without a positive one.");
  m.def(
      "tensorops_spmm",
      [](const py::array& rows, const py::array& cols, const py::array& vals, int64_t m,
         const py::array& x) {
        const char* fn = "sparse.mm";
        require_float(x, fn, "mat2");
        require_float(vals, fn, "values");
        require_same_dtype(vals, x, fn, "values", "mat2");
        if (x.ndim() != 2) throw py::value_error(P(fn) + "mat2 must be 2-D, got " + shape_str(x));
        for (const py::array* a : {&rows, &cols})
          if (!is_i64(*a) || a->ndim() != 1 || !(a->flags() & py::array::c_style) ||
              a->size() != vals.size())
            throw py::value_error(P(fn) + "indices must be C-contiguous int64 of the values' "
                                  "length " + std::to_string(vals.size()) + ", got " +
                                  shape_str(*a));
        if (m < 0) throw py::value_error(P(fn) + "negative row count");
        return is_f32(x) ? spmm_t<float>(rows, cols, vals, m, x)
                         : spmm_t<double>(rows, cols, vals, m, x);
      },
      py::arg("rows"), py::arg("cols"), py::arg("values"), py::arg("m"), py::arg("mat2"),
      "Dense (m, n) = sparse COO (rows, cols, values) times mat2 (k, n); duplicates add.");
}

}  // namespace fastdl
