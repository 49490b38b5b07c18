// Helpers shared by the convolution kernels (conv_impl.h, depthwise_impl.h), compiled per ISA
// like them; the integer index helpers are common/ranges.h's.
#pragma once
#include <cstdint>

#include "common/ranges.h"  // imin, imax, valid_range
#include "common/simd.h"

namespace fastdl {
namespace conv {
namespace FASTDL_SIMD_ISA {
namespace {

template <class T>
inline void fill(T* p, int64_t n, T v) {
  for (int64_t i = 0; i < n; ++i) p[i] = v;
}

}  // namespace
}  // namespace FASTDL_SIMD_ISA
}  // namespace conv
}  // namespace fastdl
