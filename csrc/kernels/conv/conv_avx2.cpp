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
#include "kernels/conv/conv_impl.inc"
}  // namespace
const ConvOps ops = {fwd_f, fwd_d, bwd_f, bwd_d};
}  // namespace avx2
}  // namespace conv
}  // namespace fastdl
