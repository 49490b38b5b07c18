// Convolution: the generic path and the dispatch table (see conv.h).
#include "kernels/conv/conv.h"

#include "common/allocator.h"
#include "common/dispatch.h"
#include "common/parallel.h"
#include "kernels/gemm/gemm.h"

namespace fastdl {
namespace conv {
namespace generic {
namespace {
// This ISA has no direct convolution: everything runs on im2col + GEMM.
template <class T>
bool direct_forward(const Conv2dParams&, const T*, const T*, const T*, T*) { return false; }
template <class T>
bool direct_backward_input(const Conv2dParams&, const T*, const T*, T*) { return false; }
template <class T>
bool direct_backward_weight(const Conv2dParams&, const T*, const T*, T*) { return false; }
template <class T>
bool direct_dw_forward(const Conv2dParams&, const T*, const T*, const T*, T*) { return false; }
template <class T>
bool direct_dw_backward(const Conv2dParams&, const T*, const T*, const T*, T*, T*) {
  return false;
}
#include "kernels/conv/conv_impl.inc"
}  // namespace
const ConvOps ops = {fwd_f, fwd_d, bwd_f, bwd_d};
}  // namespace generic

namespace {
const ConvOps* const table[kNumIsa] = {
    &generic::ops,
#ifdef FASTDL_X86
    &avx2::ops, &avx512::ops,
#else
    nullptr, nullptr,
#endif
};
}  // namespace

void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                    float* y) {
  pick(table)->fwd_f(p, x, w, b, y);
}
void conv2d_forward(const Conv2dParams& p, const double* x, const double* w, const double* b,
                    double* y) {
  pick(table)->fwd_d(p, x, w, b, y);
}
void conv2d_backward(const Conv2dParams& p, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db) {
  pick(table)->bwd_f(p, x, w, dy, dx, dw, db);
}
void conv2d_backward(const Conv2dParams& p, const double* x, const double* w, const double* dy,
                     double* dx, double* dw, double* db) {
  pick(table)->bwd_d(p, x, w, dy, dx, dw, db);
}

}  // namespace conv
}  // namespace fastdl
