// Pooling compiled for AVX2: the shared loops of pool_impl.inc, vectorised by the compiler
// for this ISA (this file alone gets the ISA's flags).
#include "kernels/pool/pool.h"

#include "common/parallel.h"

namespace fastdl {
namespace pool {
namespace avx2 {
namespace {
#include "kernels/pool/pool_impl.inc"
}  // namespace
const PoolOps ops = {FASTDL_POOL_OPS_T(float), FASTDL_POOL_OPS_T(double)};
}  // namespace avx2
}  // namespace pool
}  // namespace fastdl
