// Convolution compiled for AVX2: the shared loops of conv_impl.inc, vectorised by the
// compiler for this ISA (this file alone gets the ISA's flags).
#include "kernels/conv/conv.h"

#include "common/allocator.h"
#include "common/parallel.h"
#include "kernels/gemm/gemm.h"

namespace fastdl {
namespace conv {
namespace avx2 {
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
// No packed path on this ISA: conv2d_forward_packed runs the plain forward.
int64_t packed_size(const Conv2dParams&) { return 0; }
void pack_f(const Conv2dParams&, const float*, float*) {}
void fwd_packed_f(const Conv2dParams& p, const float* x, const float* w, const float*,
                  const float* b, float* y) {
  forward(p, x, w, b, y);
}
}  // namespace
const ConvOps ops = {fwd_f, fwd_d, bwd_f, bwd_d, packed_size, pack_f, fwd_packed_f};
}  // namespace avx2
}  // namespace conv
}  // namespace fastdl
