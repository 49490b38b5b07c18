// embedding_bag compiled for AVX2: the shared loops of embag_impl.inc, vectorised by the
// compiler for this ISA, plus the register-blocked float32 bag sum (this file alone gets the
// ISA's flags).
#include <immintrin.h>

#include <cstring>

#include "common/parallel.h"
#include "kernels/embag/embag.h"

#define FASTDL_EMBAG_AVX2 1

namespace fastdl {
namespace embag {
namespace avx2 {
namespace {
#include "kernels/embag/embag_impl.inc"
}  // namespace
const EmbagOps ops = {FASTDL_EMBAG_OPS_T(float), FASTDL_EMBAG_OPS_T(double)};
}  // namespace avx2
}  // namespace embag
}  // namespace fastdl
