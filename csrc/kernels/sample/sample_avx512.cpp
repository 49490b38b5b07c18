// grid_sample compiled for AVX-512: the shared loops of sample_impl.inc with the AVX-512 tap
// blend (masked gathers, float32); this file alone gets the ISA's flags.
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "common/allocator.h"
#include "common/parallel.h"
#include "kernels/sample/sample.h"

#define FASTDL_SAMPLE_AVX512 1

namespace fastdl {
namespace sample {
namespace avx512 {
namespace {
#include "kernels/sample/sample_impl.inc"
}  // namespace
const SampleOps ops = {FASTDL_SAMPLE_OPS_T(float), FASTDL_SAMPLE_OPS_T(double)};
}  // namespace avx512
}  // namespace sample
}  // namespace fastdl
