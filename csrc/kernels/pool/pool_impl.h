// Pooling implementation, written once and compiled per ISA: pool.cpp (generic),
// pool_avx2.cpp and pool_avx512.cpp include this file, which opens
// `namespace fastdl::pool::FASTDL_SIMD_ISA { namespace { ... } }` (common/simd.h), so the
// compiler vectorises the same loops for each instruction set and every copy has its own
// mangled names. Internal linkage only. Ends with the ISA's PoolOps table; on AVX-512
// (FASTDL_SIMD_LEVEL == 2) the float32 max and average forwards in it are the hand-vectorised
// kernels of pool_avx512.cpp (defined there, after this include).
#pragma once
#include <cstdint>

#include "common/parallel.h"
#include "common/ranges.h"  // imin, imax
#include "common/simd.h"
#include "kernels/pool/pool.h"

namespace fastdl {
namespace pool {
namespace FASTDL_SIMD_ISA {
namespace {

template <class T>
inline T neg_inf() { return -__builtin_huge_val(); }
template <>
inline float neg_inf<float>() { return -__builtin_huge_valf(); }

// PyTorch's max rule: v (at index i) replaces the maximum m (at mi) when it is greater or NaN,
// so the first maximum and the last NaN win in scan order.
template <class T>
inline void take_max(T v, int64_t i, T& m, int64_t& mi) {
  if (v > m || v != v) {
    m = v;
    mi = i;
  }
}

constexpr int64_t kPlaneGrain = 1;

// First index >= 0 of start + i·d (i >= 0), and one past the last below `size`, as i-ranges.
inline void tap_range(int64_t start, int64_t d, int64_t k, int64_t size, int64_t& i0,
                      int64_t& i1) {
  i0 = start >= 0 ? 0 : (-start + d - 1) / d;
  i1 = start + (k - 1) * d < size ? k : (size - 1 - start) < 0 ? 0 : (size - 1 - start) / d + 1;
  if (i1 < i0) i1 = i0;
}

template <class T>
void max_plane(const Pool2dParams& p, const T* x, T* y, int64_t* idx) {
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    const int64_t hs = oh * p.sh - p.ph;
    int64_t a0, a1;
    tap_range(hs, p.dh, p.kh, p.H, a0, a1);
    for (int64_t ow = 0; ow < p.OW; ++ow) {
      const int64_t ws = ow * p.sw - p.pw;
      int64_t b0, b1;
      tap_range(ws, p.dw, p.kw, p.W, b0, b1);
      T m = neg_inf<T>();
      int64_t mi;
      if (a0 < a1 && b0 < b1) {
        mi = (hs + a0 * p.dh) * p.W + ws + b0 * p.dw;
      } else {  // empty window (only with sizes beyond pool_output_size): nearest element
        const int64_t h = imin(imax(hs + a0 * p.dh, 0), p.H - 1);
        const int64_t w = imin(imax(ws + b0 * p.dw, 0), p.W - 1);
        mi = h * p.W + w;
      }
      for (int64_t a = a0; a < a1; ++a) {
        const int64_t h = hs + a * p.dh;
        const T* xr = x + h * p.W;
        for (int64_t b = b0; b < b1; ++b) {
          const int64_t w = ws + b * p.dw;
          const T v = xr[w];
          take_max(v, h * p.W + w, m, mi);
        }
      }
      y[oh * p.OW + ow] = m;
      if (idx) idx[oh * p.OW + ow] = mi;
    }
  }
}

template <class T>
void max_fwd(const Pool2dParams& p, const T* x, T* y, int64_t* idx) {
  const int64_t HW = p.H * p.W, OHW = p.OH * p.OW;
  parallel_for(p.NC, kPlaneGrain, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      max_plane(p, x + c * HW, y + c * OHW, idx ? idx + c * OHW : nullptr);
  });
}

template <class T>
void max_bwd(int64_t NC, int64_t HW, int64_t OHW, const T* dy, const int64_t* idx, T* dx) {
  parallel_for(NC, kPlaneGrain, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      T* d = dx + c * HW;
      for (int64_t i = 0; i < HW; ++i) d[i] = T(0);
      const T* g = dy + c * OHW;
      const int64_t* id = idx + c * OHW;
      for (int64_t i = 0; i < OHW; ++i) d[id[i]] += g[i];
    }
  });
}

// Window rows [h0, h1) inside the input and the divisor for output (oh, ow).
struct AvgWin {
  int64_t h0, h1, w0, w1;
  int64_t div;
};

inline AvgWin avg_window(const Pool2dParams& p, int64_t oh, int64_t ow, bool cip,
                         int64_t dov) {
  AvgWin r;
  int64_t hs = oh * p.sh - p.ph, ws = ow * p.sw - p.pw;
  int64_t he = imin(hs + p.kh, p.H + p.ph), we = imin(ws + p.kw, p.W + p.pw);
  const int64_t pool_size = (he - hs) * (we - ws);
  hs = imax(hs, 0);
  ws = imax(ws, 0);
  he = imin(he, p.H);
  we = imin(we, p.W);
  r.h0 = hs;
  r.h1 = imax(he, hs);
  r.w0 = ws;
  r.w1 = imax(we, ws);
  r.div = dov != 0 ? dov : cip ? pool_size : (r.h1 - r.h0) * (r.w1 - r.w0);
  return r;
}

// Average pooling over the windows win(oh, ow) -> AvgWin: the forward is each window's sum
// divided by its div (0 for an empty window or div 0), the backward adds g / div to every
// element of the window (planes of dx zeroed first).
template <class T, class Win>
void window_avg_fwd(const Pool2dParams& p, const T* x, T* y, Win win) {
  const int64_t HW = p.H * p.W, OHW = p.OH * p.OW;
  parallel_for(p.NC, kPlaneGrain, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const T* xp = x + c * HW;
      T* yp = y + c * OHW;
      for (int64_t oh = 0; oh < p.OH; ++oh)
        for (int64_t ow = 0; ow < p.OW; ++ow) {
          const AvgWin wdw = win(oh, ow);
          T s = T(0);
          for (int64_t h = wdw.h0; h < wdw.h1; ++h)
            for (int64_t w = wdw.w0; w < wdw.w1; ++w) s += xp[h * p.W + w];
          yp[oh * p.OW + ow] = (wdw.h1 > wdw.h0 && wdw.w1 > wdw.w0 && wdw.div != 0)
                                   ? s / static_cast<T>(wdw.div)
                                   : T(0);
        }
    }
  });
}

template <class T, class Win>
void window_avg_bwd(const Pool2dParams& p, const T* dy, T* dx, Win win) {
  const int64_t HW = p.H * p.W, OHW = p.OH * p.OW;
  parallel_for(p.NC, kPlaneGrain, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      T* dp = dx + c * HW;
      const T* gp = dy + c * OHW;
      for (int64_t i = 0; i < HW; ++i) dp[i] = T(0);
      for (int64_t oh = 0; oh < p.OH; ++oh)
        for (int64_t ow = 0; ow < p.OW; ++ow) {
          const AvgWin wdw = win(oh, ow);
          if (wdw.div == 0) continue;
          const T g = gp[oh * p.OW + ow] / static_cast<T>(wdw.div);
          for (int64_t h = wdw.h0; h < wdw.h1; ++h)
            for (int64_t w = wdw.w0; w < wdw.w1; ++w) dp[h * p.W + w] += g;
        }
    }
  });
}

template <class T>
void avg_fwd(const Pool2dParams& p, const T* x, T* y, bool cip, int64_t dov) {
  window_avg_fwd(p, x, y, [&](int64_t oh, int64_t ow) { return avg_window(p, oh, ow, cip, dov); });
}

template <class T>
void avg_bwd(const Pool2dParams& p, const T* dy, T* dx, bool cip, int64_t dov) {
  window_avg_bwd(p, dy, dx, [&](int64_t oh, int64_t ow) { return avg_window(p, oh, ow, cip, dov); });
}

inline int64_t ad_start(int64_t o, int64_t in, int64_t out) { return (o * in) / out; }
inline int64_t ad_end(int64_t o, int64_t in, int64_t out) {
  return ((o + 1) * in + out - 1) / out;
}

// Adaptive pooling's window for output (oh, ow): rows [⌊oh·H/OH⌋, ⌈(oh+1)·H/OH⌉), columns
// likewise; the divisor is the window's size.
inline AvgWin adaptive_window(const Pool2dParams& p, int64_t oh, int64_t ow) {
  AvgWin r;
  r.h0 = ad_start(oh, p.H, p.OH);
  r.h1 = ad_end(oh, p.H, p.OH);
  r.w0 = ad_start(ow, p.W, p.OW);
  r.w1 = ad_end(ow, p.W, p.OW);
  r.div = (r.h1 - r.h0) * (r.w1 - r.w0);
  return r;
}

template <class T>
void aavg_fwd(const Pool2dParams& p, const T* x, T* y) {
  window_avg_fwd(p, x, y, [&](int64_t oh, int64_t ow) { return adaptive_window(p, oh, ow); });
}

template <class T>
void aavg_bwd(const Pool2dParams& p, const T* dy, T* dx) {
  window_avg_bwd(p, dy, dx, [&](int64_t oh, int64_t ow) { return adaptive_window(p, oh, ow); });
}

template <class T>
void amax_fwd(const Pool2dParams& p, const T* x, T* y, int64_t* idx) {
  const int64_t HW = p.H * p.W, OHW = p.OH * p.OW;
  parallel_for(p.NC, kPlaneGrain, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      const T* xp = x + c * HW;
      T* yp = y + c * OHW;
      int64_t* ip = idx ? idx + c * OHW : nullptr;
      for (int64_t oh = 0; oh < p.OH; ++oh) {
        const int64_t h0 = ad_start(oh, p.H, p.OH), h1 = ad_end(oh, p.H, p.OH);
        for (int64_t ow = 0; ow < p.OW; ++ow) {
          const int64_t w0 = ad_start(ow, p.W, p.OW), w1 = ad_end(ow, p.W, p.OW);
          T m = neg_inf<T>();
          int64_t mi = h0 * p.W + w0;
          for (int64_t h = h0; h < h1; ++h)
            for (int64_t w = w0; w < w1; ++w) {
              const T v = xp[h * p.W + w];
              take_max(v, h * p.W + w, m, mi);
            }
          yp[oh * p.OW + ow] = m;
          if (ip) ip[oh * p.OW + ow] = mi;
        }
      }
    }
  });
}

template <class T>
constexpr PoolOpsT<T> ops_t() {
  return {max_fwd<T>, max_bwd<T>, avg_fwd<T>, avg_bwd<T>, aavg_fwd<T>, aavg_bwd<T>, amax_fwd<T>};
}

#if FASTDL_SIMD_LEVEL == 2
// pool_avx512.cpp
void max_fwd_fast(const Pool2dParams& p, const float* x, float* y, int64_t* idx);
void avg_fwd_fast(const Pool2dParams& p, const float* x, float* y, bool cip, int64_t dov);
constexpr PoolOpsT<float> ops_f() {
  PoolOpsT<float> o = ops_t<float>();
  o.max_fwd = max_fwd_fast;
  o.avg_fwd = avg_fwd_fast;
  return o;
}
#else
constexpr PoolOpsT<float> ops_f() { return ops_t<float>(); }
#endif

}  // namespace

const PoolOps ops = {ops_f(), ops_t<double>()};

}  // namespace FASTDL_SIMD_ISA
}  // namespace pool
}  // namespace fastdl
