// embedding_bag: the generic path and the dispatch table (see embag.h; the loops are in
// embag_impl.inc).
#include "kernels/embag/embag.h"

#include <cstring>

#include "common/dispatch.h"
#include "common/parallel.h"

namespace fastdl {
namespace embag {
namespace generic {
namespace {
#include "kernels/embag/embag_impl.inc"
}  // namespace
const EmbagOps ops = {FASTDL_EMBAG_OPS_T(float), FASTDL_EMBAG_OPS_T(double)};
}  // namespace generic

namespace {
const EmbagOps* const table[kNumIsa] = {
    &generic::ops,
#ifdef FASTDL_X86
    &avx2::ops, &avx512::ops,
#else
    nullptr, nullptr,
#endif
};
template <class T>
const EmbagOpsT<T>& ops_t();
template <>
const EmbagOpsT<float>& ops_t<float>() { return pick(table)->f; }
template <>
const EmbagOpsT<double>& ops_t<double>() { return pick(table)->d; }
}  // namespace

template <class T>
void forward(const T* weight, int64_t D, const int64_t* idx, int64_t E, const int64_t* start,
             const int64_t* count, int64_t B, const T* psw, int mode, T* out, int64_t* arg) {
  ops_t<T>().forward(weight, D, idx, E, start, count, B, psw, mode, out, arg);
}

template <class T>
void backward_weight(const T* g, int64_t D, const int64_t* idx, const int64_t* start,
                     const int64_t* count, int64_t B, const T* psw, int mode,
                     const int64_t* arg, int64_t n, T* gw) {
  ops_t<T>().backward_weight(g, D, idx, start, count, B, psw, mode, arg, n, gw);
}

template <class T>
void backward_psw(const T* g, const T* weight, int64_t D, const int64_t* idx, int64_t E,
                  const int64_t* start, const int64_t* count, int64_t B, T* gpsw) {
  ops_t<T>().backward_psw(g, weight, D, idx, E, start, count, B, gpsw);
}

#define FASTDL_EMBAG_INST(T)                                                                  \
  template void forward<T>(const T*, int64_t, const int64_t*, int64_t, const int64_t*,         \
                           const int64_t*, int64_t, const T*, int, T*, int64_t*);              \
  template void backward_weight<T>(const T*, int64_t, const int64_t*, const int64_t*,          \
                                   const int64_t*, int64_t, const T*, int, const int64_t*,     \
                                   int64_t, T*);                                               \
  template void backward_psw<T>(const T*, const T*, int64_t, const int64_t*, int64_t,          \
                                const int64_t*, const int64_t*, int64_t, T*);
FASTDL_EMBAG_INST(float)
FASTDL_EMBAG_INST(double)
#undef FASTDL_EMBAG_INST

}  // namespace embag
}  // namespace fastdl
