// AVX2+FMA micro-kernels (Haswell, Zen 1-4): float32 6×16 and float64 6×8, the tile kept in
// 12 ymm accumulators (gemm_impl.h's micro-kernel on simd::Vf / Vd); block sizes from
// gemm_blocks.h.
#include "kernels/gemm/gemm_impl.h"

namespace fastdl {
namespace gemm {
namespace avx2 {
const GemmOps ops = {make_kernel<simd::Vf, kBlocksAvx2>(), make_kernel<simd::Vd, kBlocksAvx2>(),
                     &fma_probe};
}  // namespace avx2
}  // namespace gemm
}  // namespace fastdl
