// Helpers every bind_<family>.cpp uses: argument checks with messages that name the argument
// and its shape, and output arrays drawn from the caching allocator.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common/allocator.h"

namespace fastdl {
namespace py = pybind11;

using Shape = std::vector<int64_t>;

inline std::string shape_str(const py::array& a) {
  std::string s = "(";
  for (py::ssize_t i = 0; i < a.ndim(); ++i) {
    if (i) s += ", ";
    s += std::to_string(a.shape(i));
  }
  if (a.ndim() == 1) s += ",";
  return s + ")";
}

inline std::string shape_str(const Shape& sh) {
  std::string s = "(";
  for (size_t i = 0; i < sh.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(sh[i]);
  }
  if (sh.size() == 1) s += ",";
  return s + ")";
}

inline Shape shape_of(const py::array& a) {
  return Shape(a.shape(), a.shape() + a.ndim());
}

// dtypes compare by value, never by identity: an array that went through pickle, a file
// loader or `np.dtype('<f4')` carries an equal but distinct descriptor object. Equivalence is
// NumPy's (PyArray_EquivTypes): same kind, size and byte order, so a big-endian float32 is
// not float32 here (the Python layer converts it to native order on entry).
inline bool same_dtype(const py::dtype& a, const py::dtype& b) {
  return a.is(b) || py::detail::npy_api::get().PyArray_EquivTypes_(a.ptr(), b.ptr());
}
inline bool is_f32(const py::array& a) { return same_dtype(a.dtype(), py::dtype::of<float>()); }
inline bool is_f64(const py::array& a) { return same_dtype(a.dtype(), py::dtype::of<double>()); }
inline bool is_i64(const py::array& a) { return same_dtype(a.dtype(), py::dtype::of<int64_t>()); }

// ValueError unless `a` is C-contiguous; TypeError unless float32/float64.
inline void require_float(const py::array& a, const char* fn, const char* name) {
  if (!is_f32(a) && !is_f64(a))
    throw py::type_error(std::string(fn) + ": " + name + " must be float32 or float64, got " +
                         std::string(py::str(a.dtype())));
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(std::string(fn) + ": " + name + " with shape " + shape_str(a) +
                          " must be C-contiguous");
  if (!(a.flags() & 0x0100))  // NPY_ARRAY_ALIGNED
    throw py::value_error(std::string(fn) + ": " + name + " with shape " + shape_str(a) +
                          " is not aligned to its element size");
}

inline void require_same_dtype(const py::array& a, const py::array& b, const char* fn,
                               const char* na, const char* nb) {
  if (!same_dtype(a.dtype(), b.dtype()))
    throw py::type_error(std::string(fn) + ": " + na + " is " + std::string(py::str(a.dtype())) +
                         " but " + nb + " is " + std::string(py::str(b.dtype())));
}

inline void require_writeable(const py::array& a, const char* fn, const char* name) {
  if (!a.writeable())
    throw py::value_error(std::string(fn) + ": " + name + " is read-only");
}

// A new C-contiguous array of `shape` and `dt`, its memory from the caching allocator; the
// array's base gives the buffer back to the pool when the array dies.
inline py::array pool_array(const Shape& shape, const py::dtype& dt) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0) throw py::value_error("negative dimension in shape " + shape_str(shape));
    if (__builtin_mul_overflow(n, d, &n))
      throw py::value_error("shape " + shape_str(shape) + " overflows int64");
  }
  int64_t bytes;
  if (__builtin_mul_overflow(n, static_cast<int64_t>(dt.itemsize()), &bytes))
    throw py::value_error("shape " + shape_str(shape) + " overflows int64 bytes");
  void* p = pool_alloc(static_cast<size_t>(bytes > 0 ? bytes : 1));
  py::capsule base(p, [](void* q) { pool_free(q); });
  std::vector<py::ssize_t> sh(shape.begin(), shape.end());
  return py::array(dt, sh, p, base);
}

template <class T>
inline py::array_t<T> pool_array_t(const Shape& shape) {
  return py::array_t<T>(pool_array(shape, py::dtype::of<T>()));
}

template <class T>
inline T* ptr(py::array& a) { return static_cast<T*>(a.mutable_data()); }
template <class T>
inline const T* cptr(const py::array& a) { return static_cast<const T*>(a.data()); }

}  // namespace fastdl
