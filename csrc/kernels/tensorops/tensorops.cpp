// Tensor-ops kernels: the generic (scalar-lane) instantiation of tensorops_impl.h and the
// dispatch to the active ISA's table.
#include "kernels/tensorops/tensorops.h"

#include <algorithm>
#include <cmath>
#include <type_traits>

#include "common/dispatch.h"
#include "kernels/tensorops/tensorops_impl.h"  // the generic build and its TensorOps table

namespace fastdl {
namespace tensorops {

FASTDL_DEFINE_OPS(TensorOps)

// ---- baseline helpers (this file has no ISA flags) ------------------------------------------

template <class T>
void sort_values(T* v, int64_t n) {
  if constexpr (std::is_floating_point_v<T>) {
    T* end = std::partition(v, v + n, [](T a) { return !std::isnan(a); });
    std::sort(v, end);
  } else {
    std::sort(v, v + n);
  }
}

template <class T>
void select_k(const T* x, int64_t n, int64_t k, bool largest, int64_t* order) {
  for (int64_t j = 0; j < n; ++j) order[j] = j;
  // "a before b": the better value (NaN the largest), ties by lower index
  auto before = [x, largest](int64_t a, int64_t b) {
    const T va = x[a], vb = x[b];
    const bool na = std::isnan(va), nb = std::isnan(vb);
    if (na || nb) {
      if (na && nb) return a < b;
      return largest ? na : nb;
    }
    if (va != vb) return largest ? va > vb : va < vb;
    return a < b;
  };
  if (k < n) std::nth_element(order, order + (k - 1), order + n, before);
  std::sort(order, order + k, before);
}

template void sort_values<float>(float*, int64_t);
template void sort_values<double>(double*, int64_t);
template void sort_values<int64_t>(int64_t*, int64_t);
template void select_k<float>(const float*, int64_t, int64_t, bool, int64_t*);
template void select_k<double>(const double*, int64_t, int64_t, bool, int64_t*);

// ---- the API: the active ISA's table ---------------------------------------------------------

namespace {
template <class T>
inline const TensorOpsT<T>& table() { return by_dtype<T>(ops()); }
}  // namespace

template <class T>
int64_t gather(const T* x, int64_t outer, int64_t n, int64_t inner, const int64_t* idx,
               int64_t m, T* out) {
  return table<T>().gather(x, outer, n, inner, idx, m, out);
}
template <class T>
void cumext(const T* x, int64_t outer, int64_t n, int64_t inner, bool is_max, T* vals,
            int64_t* idx) {
  table<T>().cumext(x, outer, n, inner, is_max, vals, idx);
}
template <class T>
void fmod(const T* a, const T* b, int64_t n, bool b_scalar, bool python_mod, T* out) {
  table<T>().fmod(a, b, n, b_scalar, python_mod, out);
}
template <class T>
int multinomial_replacement(const T* w, int64_t rows, int64_t n, const double* u, int64_t k,
                            int64_t* out) {
  return table<T>().multinomial_replacement(w, rows, n, u, k, out);
}
template <class T>
int multinomial_noreplace(const T* w, int64_t rows, int64_t n, const T* u, int64_t k,
                          int64_t* out) {
  return table<T>().multinomial_noreplace(w, rows, n, u, k, out);
}
template <class T>
void topk(const T* x, int64_t outer, int64_t n, int64_t inner, int64_t k, bool largest,
          int64_t* idx) {
  table<T>().topk(x, outer, n, inner, k, largest, idx);
}
template <class T>
void mode(const T* x, int64_t rows, int64_t n, T* vals, int64_t* idx) {
  if constexpr (std::is_same_v<T, int64_t>)
    ops().mode_i64(x, rows, n, vals, idx);
  else
    table<T>().mode(x, rows, n, vals, idx);
}
template <class T>
bool spmm_coo(const int64_t* rows, const int64_t* cols, const T* vals, int64_t nnz, int64_t m,
              const T* x, int64_t k, int64_t n, T* out) {
  return table<T>().spmm_coo(rows, cols, vals, nnz, m, x, k, n, out);
}

template <class T>
int64_t scatter_add(T* out, int64_t outer, int64_t n, int64_t inner, const int64_t* idx,
                    const T* src, int64_t m) {
  return table<T>().scatter_add(out, outer, n, inner, idx, src, m);
}
template <class T>
void nan_to_num(const T* x, int64_t n, T nan, T posinf, T neginf, T* out) {
  table<T>().nan_to_num(x, n, nan, posinf, neginf, out);
}
template <class T>
void hypot(const T* a, const T* b, int64_t n, T* out) {
  table<T>().hypot(a, b, n, out);
}
template <class T>
void cumop(const T* x, int64_t outer, int64_t n, int64_t inner, bool prod, T* out) {
  table<T>().cumop(x, outer, n, inner, prod, out);
}
template <class T>
int64_t index_add(T* out, int64_t outer, int64_t n, int64_t inner, const int64_t* idx,
                  const T* src, int64_t m) {
  return table<T>().index_add(out, outer, n, inner, idx, src, m);
}
void erfinv_f32(const float* x, int64_t n, float* out) { ops().erfinv_f32(x, n, out); }
template <class T>
void unary(const T* x, int64_t n, int code, T* out) {
  table<T>().unary(x, n, code, out);
}
template <class T>
void lerp(const T* a, const T* b, T w, int64_t n, T* out) {
  table<T>().lerp(a, b, w, n, out);
}
template <class T>
void logaddexp(const T* a, const T* b, int64_t n, T* out) {
  table<T>().logaddexp(a, b, n, out);
}
template <class T>
void outer(const T* a, int64_t m, const T* b, int64_t n, T* out) {
  table<T>().outer(a, m, b, n, out);
}
template <class T>
double nansum(const T* x, int64_t n) {
  return table<T>().nansum(x, n);
}
void flip_bytes(const void* x, int ndim, const int64_t* shape, const unsigned char* flipped,
                int64_t size, void* out) {
  ops().flip_bytes(x, ndim, shape, flipped, size, out);
}
void transpose_bytes(const void* x, int64_t batch, int64_t r, int64_t c, int64_t size,
                     void* out) {
  ops().transpose_bytes(x, batch, r, c, size, out);
}
void tri_bytes(const void* x, int64_t batch, int64_t r, int64_t c, int64_t k, bool upper,
               int64_t size, void* out) {
  ops().tri_bytes(x, batch, r, c, k, upper, size, out);
}
void diag_embed_bytes(const void* x, int64_t batch, int64_t m, int64_t offset, int64_t size,
                      void* out) {
  ops().diag_embed_bytes(x, batch, m, offset, size, out);
}

#define FASTDL_TENSOROPS(T)                                                                   \
  template int64_t gather<T>(const T*, int64_t, int64_t, int64_t, const int64_t*, int64_t, T*); \
  template void cumext<T>(const T*, int64_t, int64_t, int64_t, bool, T*, int64_t*);            \
  template void fmod<T>(const T*, const T*, int64_t, bool, bool, T*);                          \
  template int multinomial_replacement<T>(const T*, int64_t, int64_t, const double*, int64_t,  \
                                          int64_t*);                                           \
  template int multinomial_noreplace<T>(const T*, int64_t, int64_t, const T*, int64_t,         \
                                        int64_t*);                                             \
  template void topk<T>(const T*, int64_t, int64_t, int64_t, int64_t, bool, int64_t*);         \
  template void mode<T>(const T*, int64_t, int64_t, T*, int64_t*);                             \
  template bool spmm_coo<T>(const int64_t*, const int64_t*, const T*, int64_t, int64_t, const T*, \
                            int64_t, int64_t, T*);                               \
  template int64_t scatter_add<T>(T*, int64_t, int64_t, int64_t, const int64_t*, const T*,     \
                                  int64_t);                                                    \
  template void nan_to_num<T>(const T*, int64_t, T, T, T, T*);                                 \
  template void hypot<T>(const T*, const T*, int64_t, T*);                                     \
  template void cumop<T>(const T*, int64_t, int64_t, int64_t, bool, T*);                      \
  template int64_t index_add<T>(T*, int64_t, int64_t, int64_t, const int64_t*, const T*,       \
                                int64_t);                                                      \
  template void unary<T>(const T*, int64_t, int, T*);                                          \
  template void lerp<T>(const T*, const T*, T, int64_t, T*);                                   \
  template void logaddexp<T>(const T*, const T*, int64_t, T*);                                 \
  template void outer<T>(const T*, int64_t, const T*, int64_t, T*);                            \
  template double nansum<T>(const T*, int64_t);
FASTDL_TENSOROPS(float)
FASTDL_TENSOROPS(double)
#undef FASTDL_TENSOROPS
template void mode<int64_t>(const int64_t*, int64_t, int64_t, int64_t*, int64_t*);

}  // namespace tensorops
}  // namespace fastdl
