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

// rows[0, W) = Σ_{r < nr} src[r][0, W)  (nr >= 1; W-long vectors, in a fixed order)
template <class T>
inline void sum_row_list(const T* const* src, int64_t nr, int64_t W, T* dst) {
  using V = Vec<T>;
  constexpr int N = V::N;
  int64_t c = 0;
  for (; c + 2 * N <= W; c += 2 * N) {
    V a0 = V::load(src[0] + c), a1 = V::load(src[0] + c + N);
    for (int64_t r = 1; r < nr; ++r) {
      a0 = a0 + V::load(src[r] + c);
      a1 = a1 + V::load(src[r] + c + N);
    }
    a0.store(dst + c);
    a1.store(dst + c + N);
  }
  for (; c < W; c += N) {
    const int64_t n = W - c < N ? W - c : N;
    V a = V::load(src[0] + c, n);
    for (int64_t r = 1; r < nr; ++r) a = a + V::load(src[r] + c, n);
    a.store(dst + c, n);
  }
}

inline int64_t plane_grain(const Dims& s) {
  const int64_t work = s.D * s.H * s.W + s.OD * s.OH * s.OW;
  return work >= (int64_t(1) << 15) ? 1 : (int64_t(1) << 15) / (work > 0 ? work : 1);
}

template <class T>
void box_avg_forward_k(const Dims& s, const Windows& win, const T* x, T* y) {
  const int64_t HW = s.H * s.W, DHW = s.D * HW, O = s.OD * s.OH * s.OW;
  parallel_for(s.P, plane_grain(s), [&](int64_t p0, int64_t p1) {
    T* row = static_cast<T*>(thread_scratch(sizeof(T) * s.W, kRowSlot));
    for (int64_t p = p0; p < p1; ++p) {
      const T* xp = x + p * DHW;
      T* yp = y + p * O;
      for (int64_t i = 0; i < s.OD; ++i) {
        const int64_t d0 = win.d.lo[i], d1 = win.d.hi[i];
        for (int64_t j = 0; j < s.OH; ++j) {
          const int64_t h0 = win.h.lo[j], h1 = win.h.hi[j];
          T* yo = yp + (i * s.OH + j) * s.OW;
          window_row_sum(xp + d0 * HW + h0 * s.W, d1 - d0, h1 - h0, HW, s.W, row);
          const int64_t ddh = win.d.div[i] * win.h.div[j];
          for (int64_t k = 0; k < s.OW; ++k) {
            T sum = T(0);
            for (int64_t w = win.w.lo[k]; w < win.w.hi[k]; ++w) sum += row[w];
            yo[k] = sum / T(ddh * win.w.div[k]);
          }
        }
      }
    }
  });
}

// For every input index n < len of one axis, the outputs [first[n], last[n]) whose windows
// hold it (the windows' ends are non-decreasing, so these are intervals).
inline void covering(const Axis& a, int64_t o, int64_t len, int64_t* first, int64_t* last) {
  int64_t f = 0, l = 0;
  for (int64_t n = 0; n < len; ++n) {
    while (f < o && a.hi[f] <= n) ++f;
    while (l < o && a.lo[l] <= n) ++l;
    first[n] = f;
    last[n] = l > f ? l : f;
  }
}

template <class T>
void box_avg_backward_k(const Dims& s, const Windows& win, const T* gy, T* gx) {
  const int64_t HW = s.H * s.W, DHW = s.D * HW, O = s.OD * s.OH * s.OW;
  const PoolBuf cover(sizeof(int64_t) * 2 * (s.D + s.H));
  int64_t* const dfirst = cover.as<int64_t>();
  int64_t* const dlast = dfirst + s.D;
  int64_t* const hfirst = dlast + s.D;
  int64_t* const hlast = hfirst + s.H;
  covering(win.d, s.OD, s.D, dfirst, dlast);
  covering(win.h, s.OH, s.H, hfirst, hlast);
  int64_t maxrows = 1;  // the most spread rows one input row sums
  for (int64_t d = 0; d < s.D; ++d)
    for (int64_t h = 0; h < s.H; ++h) {
      const int64_t r = (dlast[d] - dfirst[d]) * (hlast[h] - hfirst[h]);
      maxrows = r > maxrows ? r : maxrows;
    }
  parallel_for(s.P, plane_grain(s), [&](int64_t p0, int64_t p1) {
    // the spread plane (OD·OH rows of W), then a zero row, then the row-pointer list
    const size_t spread_bytes = sizeof(T) * (s.OD * s.OH + 1) * s.W;
    char* scratch = static_cast<char*>(
        thread_scratch(spread_bytes + sizeof(const T*) * maxrows + 64, kRowSlot));
    T* const sp = reinterpret_cast<T*>(scratch);
    T* const zero = sp + s.OD * s.OH * s.W;
    const T** const rows = reinterpret_cast<const T**>(scratch + (spread_bytes + 63) / 64 * 64);
    std::memset(zero, 0, sizeof(T) * s.W);
    for (int64_t p = p0; p < p1; ++p) {
      const T* gp = gy + p * O;
      T* xp = gx + p * DHW;
      for (int64_t i = 0; i < s.OD; ++i)
        for (int64_t j = 0; j < s.OH; ++j) {
          T* row = sp + (i * s.OH + j) * s.W;
          std::memset(row, 0, sizeof(T) * s.W);
          const T* go = gp + (i * s.OH + j) * s.OW;
          const int64_t ddh = win.d.div[i] * win.h.div[j];
          for (int64_t k = 0; k < s.OW; ++k) {
            const T v = go[k] / T(ddh * win.w.div[k]);
            for (int64_t w = win.w.lo[k]; w < win.w.hi[k]; ++w) row[w] += v;
          }
        }
      for (int64_t d = 0; d < s.D; ++d)
        for (int64_t h = 0; h < s.H; ++h) {
          int64_t nr = 0;
          for (int64_t i = dfirst[d]; i < dlast[d]; ++i)
            for (int64_t j = hfirst[h]; j < hlast[h]; ++j) rows[nr++] = sp + (i * s.OH + j) * s.W;
          if (nr == 0) rows[nr++] = zero;
          sum_row_list(rows, nr, s.W, xp + d * HW + h * s.W);
        }
    }
  });
}

template <class T>
constexpr Pool3dOpsT<T> ops_t() {
  return {&box_avg_forward_k<T>, &box_avg_backward_k<T>};
}

}  // namespace

// This ISA's table (declared in pool3d.h).
const Pool3dOps ops = {ops_t<float>(), ops_t<double>()};

}  // namespace FASTDL_SIMD_ISA
}  // namespace pool3d
}  // namespace fastdl
