// Pooling: the generic path and the dispatch table (see pool.h).
#include "kernels/pool/pool.h"

#include "common/dispatch.h"
#include "common/parallel.h"

namespace fastdl {
namespace pool {
namespace generic {
namespace {
#include "kernels/pool/pool_impl.inc"
}  // namespace
const PoolOps ops = {FASTDL_POOL_OPS_T(float), FASTDL_POOL_OPS_T(double)};
}  // namespace generic

namespace {
const PoolOps* const table[kNumIsa] = {
    &generic::ops,
#ifdef FASTDL_X86
    &avx2::ops, &avx512::ops,
#else
    nullptr, nullptr,
#endif
};
template <class T>
const PoolOpsT<T>& ops_t();
template <>
const PoolOpsT<float>& ops_t<float>() { return pick(table)->f; }
template <>
const PoolOpsT<double>& ops_t<double>() { return pick(table)->d; }
}  // namespace

#define FASTDL_POOL_API(T)                                                                    \
  void max_pool2d_forward(const Pool2dParams& p, const T* x, T* y, int64_t* idx) {           \
    ops_t<T>().max_fwd(p, x, y, idx);                                                         \
  }                                                                                           \
  void max_pool2d_backward(int64_t NC, int64_t HW, int64_t OHW, const T* dy,                 \
                           const int64_t* idx, T* dx) {                                       \
    ops_t<T>().max_bwd(NC, HW, OHW, dy, idx, dx);                                             \
  }                                                                                           \
  void avg_pool2d_forward(const Pool2dParams& p, const T* x, T* y, bool cip, int64_t dov) {  \
    ops_t<T>().avg_fwd(p, x, y, cip, dov);                                                    \
  }                                                                                           \
  void avg_pool2d_backward(const Pool2dParams& p, const T* dy, T* dx, bool cip,              \
                           int64_t dov) {                                                     \
    ops_t<T>().avg_bwd(p, dy, dx, cip, dov);                                                  \
  }                                                                                           \
  void adaptive_avg_pool2d_forward(const Pool2dParams& p, const T* x, T* y) {                \
    ops_t<T>().aavg_fwd(p, x, y);                                                             \
  }                                                                                           \
  void adaptive_avg_pool2d_backward(const Pool2dParams& p, const T* dy, T* dx) {             \
    ops_t<T>().aavg_bwd(p, dy, dx);                                                           \
  }                                                                                           \
  void adaptive_max_pool2d_forward(const Pool2dParams& p, const T* x, T* y, int64_t* idx) {  \
    ops_t<T>().amax_fwd(p, x, y, idx);                                                        \
  }
FASTDL_POOL_API(float)
FASTDL_POOL_API(double)
#undef FASTDL_POOL_API

}  // namespace pool
}  // namespace fastdl
