// The 3-D pooling kernels (see pool3d.h), written once on the simd:: vector types
// (common/simd.h) and compiled once per ISA: pool3d.cpp (generic), pool3d_avx2.cpp and
// pool3d_avx512.cpp include this file, which ends with that ISA's Pool3dOps table.
#pragma once
#include <cstdint>
#include <cstring>

#include "common/allocator.h"
#include "common/parallel.h"
#include "common/simd.h"
#include "kernels/pool3d/pool3d.h"

namespace fastdl {
namespace pool3d {
namespace FASTDL_SIMD_ISA {
namespace {

using simd::Vec;

// pool3d runs inside no other family and calls none: it takes gemm's vector slot
constexpr int kRowSlot = kScratchGemmX;

// Adaptive window of output i (of o) over n inputs: [lo, hi).
inline int64_t win_lo(int64_t i, int64_t n, int64_t o) { return i * n / o; }
inline int64_t win_hi(int64_t i, int64_t n, int64_t o) { return ((i + 1) * n + o - 1) / o; }

// row[c, c + U·N) ∩ [c, c + n) = Σ_{d < nd, h < nh} x0[d·HW + h·W + ...] (kFull: n = U·N).
template <int U, bool kFull, class T>
inline void sum_rows(const T* x0, int64_t nd, int64_t nh, int64_t HW, int64_t W, int64_t c,
                     int64_t n, T* row) {
  using V = Vec<T>;
  constexpr int N = V::N;
  V acc[U];
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u) acc[u] = V(T(0));
  for (int64_t d = 0; d < nd; ++d) {
    const T* xd = x0 + d * HW + c;
    for (int64_t h = 0; h < nh; ++h) {
      const T* r = xd + h * W;
#pragma GCC unroll 4
      for (int u = 0; u < U; ++u)
        acc[u] = acc[u] + (kFull ? V::load(r + u * N) : V::load(r + u * N, n - u * N));
    }
  }
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u) {
    if (kFull)
      acc[u].store(row + c + u * N);
    else
      acc[u].store(row + c + u * N, n - u * N);
  }
}

// row[0, W) = Σ of the nd·nh rows of W starting at x0 (depth stride HW, height stride W).
template <class T>
inline void window_row_sum(const T* x0, int64_t nd, int64_t nh, int64_t HW, int64_t W, T* row) {
  constexpr int N = Vec<T>::N;
  int64_t c = 0;
  for (; c + 4 * N <= W; c += 4 * N) sum_rows<4, true>(x0, nd, nh, HW, W, c, 4 * N, row);
  for (; c + N <= W; c += N) sum_rows<1, true>(x0, nd, nh, HW, W, c, N, row);
  if (c < W) sum_rows<1, false>(x0, nd, nh, HW, W, c, W - c, row);
}

// dst[0, W) += row[0, W)
template <class T>
inline void add_row(const T* row, int64_t W, T* dst) {
  using V = Vec<T>;
  constexpr int N = V::N;
  int64_t c = 0;
  for (; c + N <= W; c += N) (V::load(dst + c) + V::load(row + c)).store(dst + c);
  if (c < W) (V::load(dst + c, W - c) + V::load(row + c, W - c)).store(dst + c, W - c);
}

inline int64_t plane_grain(const Dims& s) {
  const int64_t work = s.D * s.H * s.W + s.OD * s.OH * s.OW;
  return work >= (int64_t(1) << 15) ? 1 : (int64_t(1) << 15) / (work > 0 ? work : 1);
}

template <class T>
void adaptive_avg_forward_k(const Dims& s, const T* x, T* y) {
  const int64_t HW = s.H * s.W, DHW = s.D * HW, O = s.OD * s.OH * s.OW;
  parallel_for(s.P, plane_grain(s), [&](int64_t p0, int64_t p1) {
    T* row = static_cast<T*>(thread_scratch(sizeof(T) * s.W, kRowSlot));
    for (int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * DHW;
      T* yp = y + p * O;
      for (int64_t i = 0; i < s.OD; ++i) {
        const int64_t d0 = win_lo(i, s.D, s.OD), d1 = win_hi(i, s.D, s.OD);
        for (int64_t j = 0; j < s.OH; ++j) {
          const int64_t h0 = win_lo(j, s.H, s.OH), h1 = win_hi(j, s.H, s.OH);
          window_row_sum(xp + d0 * HW + h0 * s.W, d1 - d0, h1 - h0, HW, s.W, row);
          const int64_t cdh = (d1 - d0) * (h1 - h0);
          T* yo = yp + (i * s.OH + j) * s.OW;
          for (int64_t k = 0; k < s.OW; ++k) {
            const int64_t w0 = win_lo(k, s.W, s.OW), w1 = win_hi(k, s.W, s.OW);
            T sum = T(0);
            for (int64_t w = w0; w < w1; ++w) sum += row[w];
            yo[k] = sum / T(cdh * (w1 - w0));
          }
        }
      }
    }
  });
}

template <class T>
void adaptive_avg_backward_k(const Dims& s, const T* gy, T* gx) {
  const int64_t HW = s.H * s.W, DHW = s.D * HW, O = s.OD * s.OH * s.OW;
  parallel_for(s.P, plane_grain(s), [&](int64_t p0, int64_t p1) {
    T* row = static_cast<T*>(thread_scratch(sizeof(T) * s.W, kRowSlot));
    for (int64_t p = p0; p < p1; ++p) {
      const T* gp = gy + p * O;
      T* xp = gx + p * DHW;
      std::memset(xp, 0, sizeof(T) * DHW);
      for (int64_t i = 0; i < s.OD; ++i) {
        const int64_t d0 = win_lo(i, s.D, s.OD), d1 = win_hi(i, s.D, s.OD);
        for (int64_t j = 0; j < s.OH; ++j) {
          const int64_t h0 = win_lo(j, s.H, s.OH), h1 = win_hi(j, s.H, s.OH);
          const int64_t cdh = (d1 - d0) * (h1 - h0);
          // the row of W-window gradients, spread over the window's columns
          std::memset(row, 0, sizeof(T) * s.W);
          const T* go = gp + (i * s.OH + j) * s.OW;
          for (int64_t k = 0; k < s.OW; ++k) {
            const int64_t w0 = win_lo(k, s.W, s.OW), w1 = win_hi(k, s.W, s.OW);
            const T v = go[k] / T(cdh * (w1 - w0));
            for (int64_t w = w0; w < w1; ++w) row[w] += v;
          }
          for (int64_t d = d0; d < d1; ++d)
            for (int64_t h = h0; h < h1; ++h) add_row(row, s.W, xp + d * HW + h * s.W);
        }
      }
    }
  });
}

template <class T>
constexpr Pool3dOpsT<T> ops_t() {
  return {&adaptive_avg_forward_k<T>, &adaptive_avg_backward_k<T>};
}

}  // namespace

// This ISA's table (declared in pool3d.h).
const Pool3dOps ops = {ops_t<float>(), ops_t<double>()};

}  // namespace FASTDL_SIMD_ISA
}  // namespace pool3d
}  // namespace fastdl
