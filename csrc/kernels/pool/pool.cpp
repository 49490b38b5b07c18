// Pooling: the generic build of pool_impl.h, the dispatch and the API (see pool.h).
#include "kernels/pool/pool.h"

#include "common/dispatch.h"
#include "kernels/pool/pool_impl.h"  // the generic build and its PoolOps table

namespace fastdl {
namespace pool {
FASTDL_DEFINE_OPS(PoolOps)

#define FASTDL_POOL_API(T)                                                                    \
  void max_pool2d_forward(const Pool2dParams& p, const T* x, T* y, int64_t* idx) {            \
    by_dtype<T>(ops()).max_fwd(p, x, y, idx);                                                 \
  }                                                                                           \
  void max_pool2d_backward(int64_t NC, int64_t HW, int64_t OHW, const T* dy,                  \
                           const int64_t* idx, T* dx) {                                       \
    by_dtype<T>(ops()).max_bwd(NC, HW, OHW, dy, idx, dx);                                     \
  }                                                                                           \
  void avg_pool2d_forward(const Pool2dParams& p, const T* x, T* y, bool cip, int64_t dov) {   \
    by_dtype<T>(ops()).avg_fwd(p, x, y, cip, dov);                                            \
  }                                                                                           \
  void avg_pool2d_backward(const Pool2dParams& p, const T* dy, T* dx, bool cip,               \
                           int64_t dov) {                                                     \
    by_dtype<T>(ops()).avg_bwd(p, dy, dx, cip, dov);                                          \
  }                                                                                           \
  void adaptive_avg_pool2d_forward(const Pool2dParams& p, const T* x, T* y) {                 \
    by_dtype<T>(ops()).aavg_fwd(p, x, y);                                                     \
  }                                                                                           \
  void adaptive_avg_pool2d_backward(const Pool2dParams& p, const T* dy, T* dx) {              \
    by_dtype<T>(ops()).aavg_bwd(p, dy, dx);                                                   \
  }                                                                                           \
  void adaptive_max_pool2d_forward(const Pool2dParams& p, const T* x, T* y, int64_t* idx) {   \
    by_dtype<T>(ops()).amax_fwd(p, x, y, idx);                                                \
  }
FASTDL_POOL_API(float)
FASTDL_POOL_API(double)
#undef FASTDL_POOL_API

}  // namespace pool
}  // namespace fastdl
