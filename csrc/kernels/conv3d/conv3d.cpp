// 3-D convolution: the generic build of conv3d_impl.h (vol2col + GEMM), the dispatch and the
// API (see conv3d.h).
#include "kernels/conv3d/conv3d.h"

#include "common/dispatch.h"
#include "kernels/conv3d/conv3d_impl.h"  // the generic build and its Conv3dOps table

namespace fastdl {
namespace conv3d {

FASTDL_DEFINE_OPS(Conv3dOps)

template <class T>
void forward(const Conv3dParams& p, const T* x, const T* w, const T* b, T* y) {
  by_dtype<T>(ops()).forward(p, x, w, b, y);
}

template <class T>
void backward(const Conv3dParams& p, const T* x, const T* w, const T* dy, T* dx, T* dw,
              T* db) {
  by_dtype<T>(ops()).backward(p, x, w, dy, dx, dw, db);
}

template void forward<float>(const Conv3dParams&, const float*, const float*, const float*,
                             float*);
template void forward<double>(const Conv3dParams&, const double*, const double*,
                              const double*, double*);
template void backward<float>(const Conv3dParams&, const float*, const float*, const float*,
                              float*, float*, float*);
template void backward<double>(const Conv3dParams&, const double*, const double*,
                               const double*, double*, double*, double*);

}  // namespace conv3d
}  // namespace fastdl
