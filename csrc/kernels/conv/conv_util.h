// Helpers shared by the convolution kernels (conv_impl.h, depthwise_impl.h), compiled per ISA
// like them; the integer index helpers are common/ranges.h's.
#pragma once
#include <cstdint>

#include "common/ranges.h"  // imin, imax, valid_range
#include "common/simd.h"
#include "kernels/conv/conv.h"  // Act

namespace fastdl {
namespace conv {
namespace FASTDL_SIMD_ISA {
namespace {

template <class T>
inline void fill(T* p, int64_t n, T v) {
  for (int64_t i = 0; i < n; ++i) p[i] = v;
}

// The fused activation (conv.h: Act) on a vector of outputs: min(max(v, lo), hi). The bound is
// simd::max/min's first operand, and they return the second when either is NaN: NaN is kept.
inline simd::Vf act_vec(simd::Vf v, simd::Vf lo, simd::Vf hi) {
  return simd::min(hi, simd::max(lo, v));
}

// y[i] = min(max(y[i], lo), hi) for i < n (a run of outputs just written, still in cache).
inline void act_span(float* y, int64_t n, const Act& a) {
  using V = simd::Vf;
  const V lo(a.lo), hi(a.hi);
  int64_t i = 0;
  for (; i + V::N <= n; i += V::N) act_vec(V::load(y + i), lo, hi).store(y + i);
  if (i < n) act_vec(V::load(y + i, n - i), lo, hi).store(y + i, n - i);
}
// float64 forwards take no activation (Act is float32's): nothing to do.
inline void act_span(double*, int64_t, const Act&) {}

}  // namespace
}  // namespace FASTDL_SIMD_ISA
}  // namespace conv
}  // namespace fastdl
