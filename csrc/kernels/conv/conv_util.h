// Index helpers shared by the convolution kernels (conv_impl.h, depthwise_impl.h), compiled
// per ISA like them.
#pragma once
#include <cstdint>

#include "common/simd.h"

namespace fastdl {
namespace conv {
namespace FASTDL_SIMD_ISA {
namespace {

inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

// Outputs o in [lo, hi) (clipped to [0, out)) for which i = o·stride + off lies in [0, size).
inline void valid_range(int64_t off, int64_t stride, int64_t size, int64_t out, int64_t& lo,
                        int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
  hi = (size - 1 - off) < 0 ? 0 : (size - 1 - off) / stride + 1;
  lo = imin(lo, out);
  hi = imax(lo, imin(hi, out));
}

template <class T>
inline void fill(T* p, int64_t n, T v) {
  for (int64_t i = 0; i < n; ++i) p[i] = v;
}

}  // namespace
}  // namespace FASTDL_SIMD_ISA
}  // namespace conv
}  // namespace fastdl
