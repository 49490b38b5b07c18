// Sorting kernels: the generic (baseline x86-64) instantiation of sort_impl.h and the dispatch
// to the active ISA's table.
#include "kernels/sort/sort.h"

#include <cstdint>
#include <type_traits>

#include "common/dispatch.h"
#include "kernels/sort/sort_impl.h"  // the generic build and its SortOps table

namespace fastdl {
namespace sort {

FASTDL_DEFINE_OPS(SortOps)

namespace {
template <class T>
inline const SortOpsT<T>& table() {
  const SortOps& o = ops();
  if constexpr (std::is_same_v<T, float>)
    return o.f;
  else if constexpr (std::is_same_v<T, double>)
    return o.d;
  else if constexpr (std::is_same_v<T, int32_t>)
    return o.i32;
  else
    return o.i64;
}
}  // namespace

template <class T>
void sort_rows(const T* x, int64_t rows, int64_t n, bool descending, T* vals, int64_t* idx) {
  table<T>().sort_rows(x, rows, n, descending, vals, idx);
}
template <class T>
int64_t unique(const T* x, int64_t n, T* vals, int64_t* inverse, int64_t* counts) {
  return table<T>().unique(x, n, vals, inverse, counts);
}
template <class T>
void searchsorted(const T* seq, int64_t seq_rows, int64_t m, const T* v, int64_t rows,
                  int64_t k, bool right, int64_t* out, int32_t* out32) {
  table<T>().searchsorted(seq, seq_rows, m, v, rows, k, right, out, out32);
}

#define FASTDL_SORT(T)                                                                   \
  template void sort_rows<T>(const T*, int64_t, int64_t, bool, T*, int64_t*);           \
  template int64_t unique<T>(const T*, int64_t, T*, int64_t*, int64_t*);                \
  template void searchsorted<T>(const T*, int64_t, int64_t, const T*, int64_t, int64_t, \
                                bool, int64_t*, int32_t*);
FASTDL_SORT(float)
FASTDL_SORT(double)
FASTDL_SORT(int32_t)
FASTDL_SORT(int64_t)
#undef FASTDL_SORT

}  // namespace sort
}  // namespace fastdl
