// Norm kernels compiled for AVX2 (this file gets the ISA's flags; see CMakeLists.txt).
#include "common/allocator.h"
#include "common/parallel.h"
#include "kernels/norm/norm_kernels.h"
#include "kernels/norm/simd_prelude.h"

namespace fastdl {
namespace norm {
namespace avx2 {
#define FASTDL_VEC_ISA 1
#include "kernels/norm/simd_vec.h"
#include "kernels/norm/norm_impl.h"
#undef FASTDL_VEC_ISA
}  // namespace avx2
}  // namespace norm
}  // namespace fastdl
