// Loss kernels compiled for AVX512 (this file gets the ISA's flags; see CMakeLists.txt).
#include "common/allocator.h"
#include "common/parallel.h"
#include "kernels/loss/loss_kernels.h"
#include "kernels/loss/loss.h"
#include "kernels/norm/simd_prelude.h"

namespace fastdl {
namespace loss {
namespace avx512 {
#define FASTDL_VEC_ISA 2
#include "kernels/norm/simd_vec.h"
#include "kernels/loss/loss_impl.h"
#undef FASTDL_VEC_ISA
}  // namespace avx512
}  // namespace loss
}  // namespace fastdl
