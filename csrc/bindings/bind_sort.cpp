// Bindings of the sorting kernel family (csrc/kernels/sort/): sort/argsort along the last
// dimension, unique (with inverse and counts), searchsorted.
// Dtypes (float32, float64, int32, int64), contiguity and shapes are validated here; the GIL
// is released around every kernel.
#include <cstring>
#include <string>

#include "bindings/util.h"
#include "kernels/sort/sort.h"

namespace fastdl {
namespace {

std::string P(const char* fn) { return std::string(fn) + ": "; }

inline bool is_i32(const py::array& a) { return same_dtype(a.dtype(), py::dtype::of<int32_t>()); }

// TypeError unless float32/float64/int32/int64, ValueError unless C-contiguous and aligned
void require_sortable(const py::array& a, const char* fn, const char* name) {
  if (!is_f32(a) && !is_f64(a) && !is_i32(a) && !is_i64(a))
    throw py::type_error(P(fn) + name + " must be float32, float64, int32 or int64, got " +
                         std::string(py::str(a.dtype())));
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(P(fn) + name + " with shape " + shape_str(a) +
                          " must be C-contiguous");
  if (!(a.flags() & 0x0100))  // NPY_ARRAY_ALIGNED
    throw py::value_error(P(fn) + name + " with shape " + shape_str(a) +
                          " is not aligned to its element size");
}

// calls f(T{}) with T the element type of a (already checked by require_sortable)
template <class F>
auto by_type(const py::array& a, F&& f) {
  if (is_f32(a)) return f(float{});
  if (is_f64(a)) return f(double{});
  if (is_i32(a)) return f(int32_t{});
  return f(int64_t{});
}

template <class T>
py::tuple sort_t(const py::array& x, bool descending, bool values, bool indices) {
  const int64_t n = x.shape(x.ndim() - 1);
  const int64_t rows = n ? x.size() / n : 0;
  py::object vals = py::none(), idx = py::none();
  T* vp = nullptr;
  int64_t* ip = nullptr;
  if (values) {
    py::array v = pool_array(shape_of(x), x.dtype());
    vp = ptr<T>(v);
    vals = v;
  }
  if (indices) {
    py::array i = pool_array(shape_of(x), py::dtype::of<int64_t>());
    ip = ptr<int64_t>(i);
    idx = i;
  }
  {
    py::gil_scoped_release nogil;
    sort::sort_rows<T>(cptr<T>(x), rows, n, descending, vp, ip);
  }
  return py::make_tuple(vals, idx);
}

template <class T>
py::tuple unique_t(const py::array& x, bool return_inverse, bool return_counts) {
  const int64_t n = x.size();
  // the kernel writes up to n distinct values and counts; the results are cut to size
  PoolBuf vbuf(sizeof(T) * static_cast<size_t>(n));
  PoolBuf cbuf(return_counts ? sizeof(int64_t) * static_cast<size_t>(n) : 0);
  py::object inv = py::none(), cnt = py::none();
  int64_t* invp = nullptr;
  if (return_inverse) {
    py::array i = pool_array(shape_of(x), py::dtype::of<int64_t>());
    invp = ptr<int64_t>(i);
    inv = i;
  }
  int64_t u;
  {
    py::gil_scoped_release nogil;
    u = sort::unique<T>(cptr<T>(x), n, vbuf.as<T>(), invp,
                        return_counts ? cbuf.as<int64_t>() : nullptr);
  }
  py::array vals = pool_array({u}, x.dtype());
  if (u) std::memcpy(ptr<T>(vals), vbuf.as<T>(), sizeof(T) * static_cast<size_t>(u));
  if (return_counts) {
    py::array c = pool_array({u}, py::dtype::of<int64_t>());
    if (u)
      std::memcpy(ptr<int64_t>(c), cbuf.as<int64_t>(), sizeof(int64_t) * static_cast<size_t>(u));
    cnt = c;
  }
  return py::make_tuple(vals, inv, cnt);
}

template <class T>
py::array searchsorted_t(const py::array& seq, const py::array& v, bool right, bool out_int32) {
  const int64_t m = seq.shape(seq.ndim() - 1);
  int64_t seq_rows = 1, rows = 1, k = v.size();
  if (seq.ndim() > 1) {
    for (int64_t d = 0; d + 1 < seq.ndim(); ++d) seq_rows *= seq.shape(d);
    rows = seq_rows;
    k = v.shape(v.ndim() - 1);
  }
  py::array out = pool_array(shape_of(v), out_int32 ? py::dtype::of<int32_t>()
                                                    : py::dtype::of<int64_t>());
  {
    py::gil_scoped_release nogil;
    sort::searchsorted<T>(cptr<T>(seq), seq_rows, m, cptr<T>(v), rows, k, right,
                          out_int32 ? nullptr : ptr<int64_t>(out),
                          out_int32 ? ptr<int32_t>(out) : nullptr);
  }
  return out;
}

}  // namespace

void bind_sort(py::module_& m) {
  m.def(
      "sort_rows",
      [](const py::array& x, bool descending, bool values, bool indices) {
        const char* fn = "sort";
        require_sortable(x, fn, "input");
        if (x.ndim() < 1)
          throw py::value_error(P(fn) + "input must have at least one dimension, got " +
                                shape_str(x));
        return by_type(x, [&](auto t) {
          return sort_t<decltype(t)>(x, descending, values, indices);
        });
      },
      py::arg("input"), py::arg("descending") = false, py::arg("values") = true,
      py::arg("indices") = true,
      "(values, indices) of input sorted along its last dimension, stably (equal elements "
      "keep their order, also descending); NaN the largest, -0.0 equal to 0.0. values / "
      "indices: None when not asked for. float32, float64, int32, int64.");
  m.def(
      "sort_unique",
      [](const py::array& x, bool return_inverse, bool return_counts) {
        require_sortable(x, "unique", "input");
        return by_type(x, [&](auto t) {
          return unique_t<decltype(t)>(x, return_inverse, return_counts);
        });
      },
      py::arg("input"), py::arg("return_inverse") = false, py::arg("return_counts") = false,
      "(values, inverse, counts): the distinct elements of the flattened input in ascending "
      "order (each NaN distinct, last, in input order; -0.0 and 0.0 one element, the first "
      "occurrence), each element's place in values (input's shape) and each value's count; "
      "inverse / counts None when not asked for.");
  m.def(
      "sort_searchsorted",
      [](const py::array& seq, const py::array& v, bool right, bool out_int32) {
        const char* fn = "searchsorted";
        require_sortable(seq, fn, "sorted_sequence");
        require_sortable(v, fn, "input");
        require_same_dtype(seq, v, fn, "sorted_sequence", "input");
        if (seq.ndim() < 1)
          throw py::value_error(P(fn) + "sorted_sequence must have at least one dimension");
        if (seq.ndim() > 1) {
          bool ok = v.ndim() == seq.ndim();
          for (int64_t d = 0; ok && d + 1 < seq.ndim(); ++d) ok = v.shape(d) == seq.shape(d);
          if (!ok)
            throw py::value_error(P(fn) + "sorted_sequence " + shape_str(seq) + " and input " +
                                  shape_str(v) + " must match in all but the last dimension");
        }
        if (out_int32 && (seq.shape(seq.ndim() - 1) > INT32_MAX))
          throw py::value_error(P(fn) + "out_int32 with a sequence of " +
                                std::to_string(seq.shape(seq.ndim() - 1)) + " elements");
        return by_type(seq, [&](auto t) {
          return searchsorted_t<decltype(t)>(seq, v, right, out_int32);
        });
      },
      py::arg("sorted_sequence"), py::arg("input"), py::arg("right") = false,
      py::arg("out_int32") = false,
      "int64 (int32 with out_int32), input's shape: each value's insertion point into the "
      "ascending sorted_sequence (1-D, or matching input in all but the last dimension), as "
      "torch.searchsorted (left: after the elements s with !(s >= v); right: !(s > v)).");
}

}  // namespace fastdl
