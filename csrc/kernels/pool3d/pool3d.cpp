// 3-D pooling: the generic build of pool3d_impl.h, the dispatch and the API (see pool3d.h).
#include "kernels/pool3d/pool3d.h"

#include "common/dispatch.h"
#include "kernels/pool3d/pool3d_impl.h"  // the generic build and its Pool3dOps table

namespace fastdl {
namespace pool3d {

FASTDL_DEFINE_OPS(Pool3dOps)

template <class T>
void box_avg_forward(const Dims& s, const Windows& win, const T* x, T* y) {
  by_dtype<T>(ops()).box_avg_forward(s, win, x, y);
}

template <class T>
void box_avg_backward(const Dims& s, const Windows& win, const T* gy, T* gx) {
  by_dtype<T>(ops()).box_avg_backward(s, win, gy, gx);
}

template void box_avg_forward<float>(const Dims&, const Windows&, const float*, float*);
template void box_avg_forward<double>(const Dims&, const Windows&, const double*, double*);
template void box_avg_backward<float>(const Dims&, const Windows&, const float*, float*);
template void box_avg_backward<double>(const Dims&, const Windows&, const double*, double*);

}  // namespace pool3d
}  // namespace fastdl
