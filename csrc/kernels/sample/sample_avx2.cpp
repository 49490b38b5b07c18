// grid_sample compiled for AVX2: the shared loops of sample_impl.inc with the AVX2 tap
// blend (masked gathers, float32); this file alone gets the ISA's flags.
#include <immintrin.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "common/allocator.h"
#include "common/parallel.h"
#include "kernels/sample/sample.h"

#define FASTDL_SAMPLE_AVX2 1

namespace fastdl {
namespace sample {
namespace avx2 {
namespace {
#include "kernels/sample/sample_impl.inc"
}  // namespace
const SampleOps ops = {FASTDL_SAMPLE_OPS_T(float), FASTDL_SAMPLE_OPS_T(double)};
}  // namespace avx2
}  // namespace sample
}  // namespace fastdl
