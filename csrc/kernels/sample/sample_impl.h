// The grid_sample loops (see sample.h), written once and compiled per ISA: sample.cpp
// (generic), sample_avx2.cpp and sample_avx512.cpp include this file, which opens
// `namespace fastdl::sample::FASTDL_SIMD_ISA { namespace { ... } }` (common/simd.h). The
// float32 tap blend has an AVX2 and an AVX-512 version (FASTDL_SIMD_LEVEL 1 / 2: masked
// gathers). Internal linkage only. Ends with the ISA's SampleOps table.
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "common/allocator.h"
#include "common/parallel.h"
#include "common/simd.h"
#include "kernels/sample/sample.h"

namespace fastdl {
namespace sample {
namespace FASTDL_SIMD_ISA {
namespace {

constexpr int64_t kBlock = 256;      // output points per block (taps computed once per block)
constexpr int64_t kChanBlock = 16;   // channels per backward task
constexpr int kMaxTaps = 16;         // bicubic: 4×4
constexpr ScratchSlot kTapSlot = kScratchSampleTaps, kPartialSlot = kScratchSamplePartial;

inline int num_taps(const SampleParams& p) {
  return p.mode == kNearest ? 1 : p.mode == kBicubic ? 16 : (1 << p.dims);
}

// Keys' cubic convolution weights (a = −0.75) of the taps at −1, 0, 1, 2 for fraction t, and
// their derivatives in t.
template <class T>
inline void cubic(T t, T* c, T* dc) {
  const T A = T(-0.75);
  const T u0 = t + 1, u1 = t, u2 = 1 - t, u3 = 2 - t;
  c[0] = ((A * u0 - 5 * A) * u0 + 8 * A) * u0 - 4 * A;
  c[1] = ((A + 2) * u1 - (A + 3)) * u1 * u1 + 1;
  c[2] = ((A + 2) * u2 - (A + 3)) * u2 * u2 + 1;
  c[3] = ((A * u3 - 5 * A) * u3 + 8 * A) * u3 - 4 * A;
  dc[0] = (3 * A * u0 - 10 * A) * u0 + 8 * A;
  dc[1] = (3 * (A + 2) * u1 - 2 * (A + 3)) * u1;
  dc[2] = -((3 * (A + 2) * u2 - 2 * (A + 3)) * u2);
  dc[3] = -((3 * A * u3 - 10 * A) * u3 + 8 * A);
}

// ---- taps, computed in passes over the points of a block (plain loops the compiler
// vectorises for the file's ISA) ----

// Per-thread buffers of one block: the taps and the per-dimension coordinate passes.
template <class T>
struct TapBuf {
  int32_t* off;
  T *w, *dw, *acc, *tmp;
  T *c[3], *m[3], *t[3];   // coordinate (then its floor), derivative factor, fraction
  T *cw, *cd;              // bicubic weights and their derivatives: (dim, tap) rows
  T *fx, *fy, *fd;         // bicubic: folded tap columns / rows, a throwaway derivative row
  uint8_t* bad;            // a non-finite coordinate whose output is NaN
  explicit TapBuf(int dims) {
    const size_t B = kBlock, nT = size_t(kMaxTaps) * B;
    const size_t elems = nT + size_t(dims) * nT + size_t(dims) * B + B + 9 * B + 16 * B +
                         9 * B;
    char* base = static_cast<char*>(
        thread_scratch(sizeof(int32_t) * nT + sizeof(T) * elems + B + 64, kTapSlot));
    off = reinterpret_cast<int32_t*>(base);
    w = reinterpret_cast<T*>(base + sizeof(int32_t) * nT);
    dw = w + nT;
    acc = dw + size_t(dims) * nT;
    tmp = acc + size_t(dims) * B;
    for (int d = 0; d < 3; ++d) {
      c[d] = tmp + B + 3 * d * B;
      m[d] = c[d] + B;
      t[d] = m[d] + B;
    }
    cw = tmp + 10 * B;
    cd = cw + 8 * B;
    fx = cd + 8 * B;
    fy = fx + 4 * B;
    fd = fy + 4 * B;
    bad = reinterpret_cast<uint8_t*>(fd + B);
  }
};

// Branchless clamp to [0, hi] with the derivative factor: 0 on and beyond the edges. NaN
// goes to nan_to (PyTorch: 0 for images, hi for volumes).
template <class T>
inline T clip_v(T x, T hi, T nan_to, T& d) {
  d = (x > T(0)) & (x < hi) ? d : T(0);
  return x > T(0) ? (x < hi ? x : hi) : (x == x ? T(0) : nan_to);
}

// Branchless mirror of x about mn and mn + span (span > 0), with the derivative's sign
// (a non-finite x gives NaN, which the clamp then sends to 0, as PyTorch).
template <class T>
inline T reflect_v(T x, T mn, T span, T& d) {
  const T u = x - mn;
  const T a = u < T(0) ? -u : u;
  const T flips = std::floor(a / span);
  const T extra = a - flips * span;
  const bool odd = flips - T(2) * std::floor(flips * T(0.5)) != T(0);
  d = (u < T(0)) != odd ? -d : d;
  return (odd ? span - extra : extra) + mn;
}

// Fold the coordinates x[0 .. np) by the padding, in place, with derivative factors m; NaN
// (also reflection's result for ±inf) goes to 0 for 2-D, to the far edge for 3-D (dims).
template <class T>
void fold_v(T* __restrict x, T* __restrict m, int64_t np, int64_t size, int padding, bool ac,
            int dims) {
  if (padding == kZeros) return;
  const T hi = T(size - 1), nan_to = dims == 3 ? hi : T(0);
  if (padding == kReflection) {
    const T mn = ac ? T(0) : T(-0.5), span = ac ? T(size - 1) : T(size);
    if (span > T(0)) {
      for (int64_t i = 0; i < np; ++i) {
        T d = m[i];
        x[i] = reflect_v(x[i], mn, span, d);
        m[i] = d;
      }
    } else {
      for (int64_t i = 0; i < np; ++i) {
        x[i] = T(0);
        m[i] = T(0);
      }
    }
  }
  for (int64_t i = 0; i < np; ++i) {
    T d = m[i];
    x[i] = clip_v(x[i], hi, nan_to, d);
    m[i] = d;
  }
}

// Unnormalised coordinates along dim d of the np points of g (`dims` interleaved per point):
// x = (g + 1)·sc − sh, dx/dg = sc; flag[i] |= x is not finite.
template <int DIMS, class T>
void unnormalize_v(const T* __restrict g, int d, int64_t np, int64_t size, bool ac,
                   T* __restrict x, T* __restrict m, uint8_t* __restrict flag) {
  const T sc = ac ? T(size - 1) / 2 : T(size) / 2, sh = ac ? T(0) : T(0.5);
  const T big = std::numeric_limits<T>::max();
  for (int64_t i = 0; i < np; ++i) {
    const T v = (g[i * DIMS + d] + 1) * sc - sh;
    x[i] = v;
    m[i] = sc;
    flag[i] |= !((v >= -big) & (v <= big));
  }
}

// Bilinear (DIMS = 2) / trilinear (DIMS = 3) taps: bit d of tap k = the upper neighbour
// along dim d (x, y, z).
template <int DIMS, class T>
void taps_linear(const SampleParams& p, TapBuf<T>& b, int64_t np, T* dw) {
  const T hx = T(p.W - 1), hy = T(p.H - 1), hz = T(p.D - 1);
  const int32_t sy = int32_t(p.W), sz = int32_t(p.H * p.W);
  for (int d = 0; d < DIMS; ++d) {   // c becomes floor(c), t the fraction
    T* __restrict c = b.c[d];
    T* __restrict t = b.t[d];
    for (int64_t i = 0; i < np; ++i) {
      const T f = std::floor(c[i]);
      t[i] = c[i] - f;
      c[i] = f;
    }
  }
  const T* __restrict fx = b.c[0];
  const T* __restrict fy = b.c[1];
  const T* __restrict fz = b.c[DIMS - 1];
  const T* __restrict tx = b.t[0];
  const T* __restrict ty = b.t[1];
  const T* __restrict tz = b.t[DIMS - 1];
  for (int k = 0; k < (1 << DIMS); ++k) {
    const T ux = T(k & 1), uy = T((k >> 1) & 1), uz = T((k >> 2) & 1);
    int32_t* __restrict o = b.off + k * kBlock;
    T* __restrict w = b.w + k * kBlock;
    for (int64_t i = 0; i < np; ++i) {
      const T X = fx[i] + ux, Y = fy[i] + uy;
      const bool inx = (X >= T(0)) & (X <= hx), iny = (Y >= T(0)) & (Y <= hy);
      int32_t q = static_cast<int32_t>(inx ? X : T(0)) + static_cast<int32_t>(iny ? Y : T(0)) * sy;
      bool ok = inx & iny;
      const T wx = ux != T(0) ? tx[i] : T(1) - tx[i];
      const T wy = uy != T(0) ? ty[i] : T(1) - ty[i];
      T wv = wx * wy;
      if (DIMS == 3) {
        const T Z = fz[i] + uz;
        const bool inz = (Z >= T(0)) & (Z <= hz);
        q += static_cast<int32_t>(inz ? Z : T(0)) * sz;
        ok = ok & inz;
        wv *= uz != T(0) ? tz[i] : T(1) - tz[i];
      }
      o[i] = ok ? q : -1;
      w[i] = wv;
    }
    if (dw)
      for (int d = 0; d < DIMS; ++d) {
        T* __restrict dd = dw + (d * kMaxTaps + k) * kBlock;
        const T* __restrict md = b.m[d];
        const bool up = (k >> d) & 1;
        for (int64_t i = 0; i < np; ++i) {
          const T wx = ux != T(0) ? tx[i] : T(1) - tx[i];
          const T wy = uy != T(0) ? ty[i] : T(1) - ty[i];
          const T wz = DIMS == 3 ? (uz != T(0) ? tz[i] : T(1) - tz[i]) : T(1);
          const T a = d == 0 ? wy : wx;                     // the first other factor
          const T c = DIMS == 3 ? (d == 2 ? wy : wz) : T(1);  // the second (3-D)
          T v = up ? md[i] : -md[i];
          v *= a;
          if (DIMS == 3) v *= c;
          dd[i] = v;
        }
      }
  }
}

// Nearest: one tap, the rounded (half to even) folded coordinates.
template <class T>
void taps_nearest(const SampleParams& p, TapBuf<T>& b, int64_t np, T* dw) {
  const T hi[3] = {T(p.W - 1), T(p.H - 1), T(p.D - 1)};
  const int32_t st[3] = {1, int32_t(p.W), int32_t(p.H * p.W)};
  for (int64_t i = 0; i < np; ++i) {
    b.off[i] = 0;
    b.w[i] = T(1);
  }
  for (int d = 0; d < p.dims; ++d)
    for (int64_t i = 0; i < np; ++i) {
      const T r = std::nearbyint(b.c[d][i]);
      const bool in = (r >= T(0)) & (r <= hi[d]);
      const int32_t q = b.off[i] + static_cast<int32_t>(in ? r : T(0)) * st[d];
      b.off[i] = (in & (b.off[i] >= 0)) ? q : -1;
    }
  if (dw)
    for (int d = 0; d < p.dims; ++d) std::memset(dw + d * kMaxTaps * kBlock, 0, sizeof(T) * np);
}

// Bicubic (2-D): tap k = 4·jy + ix at (floor(x) − 1 + ix, floor(y) − 1 + jy), each folded by
// the padding; weight cw_x[ix]·cw_y[jy]; the grid gradient ignores the folding (PyTorch).
template <class T>
void taps_bicubic(const SampleParams& p, TapBuf<T>& b, int64_t np, T* dw) {
  const int64_t size[2] = {p.W, p.H};
  T* folded[2] = {b.fx, b.fy};
  for (int d = 0; d < 2; ++d) {
    const T* c = b.c[d];
    T* cw = b.cw + d * 4 * kBlock;
    T* cd = b.cd + d * 4 * kBlock;
    for (int64_t i = 0; i < np; ++i) {
      const T f = std::floor(c[i]);
      T wq[4], dq[4];
      cubic(c[i] - f, wq, dq);
      for (int q = 0; q < 4; ++q) {
        cw[q * kBlock + i] = wq[q];
        cd[q * kBlock + i] = dq[q];
        folded[d][q * kBlock + i] = f - 1 + T(q);
      }
    }
    for (int q = 0; q < 4; ++q)
      fold_v(folded[d] + q * kBlock, b.fd, np, size[d], p.padding, p.align_corners, 2);
  }
  const T hx = T(p.W - 1), hy = T(p.H - 1);
  const int32_t W32 = int32_t(p.W);
  for (int jy = 0; jy < 4; ++jy)
    for (int ix = 0; ix < 4; ++ix) {
      const int k = 4 * jy + ix;
      int32_t* o = b.off + k * kBlock;
      T* w = b.w + k * kBlock;
      const T* X = b.fx + ix * kBlock;
      const T* Y = b.fy + jy * kBlock;
      const T* wx = b.cw + ix * kBlock;
      const T* wy = b.cw + (4 + jy) * kBlock;
      for (int64_t i = 0; i < np; ++i) {
        const bool in = (X[i] >= T(0)) & (X[i] <= hx) & (Y[i] >= T(0)) & (Y[i] <= hy);
        const int32_t q = static_cast<int32_t>(in ? Y[i] : T(0)) * W32 +
                          static_cast<int32_t>(in ? X[i] : T(0));
        o[i] = in ? q : -1;
        w[i] = wx[i] * wy[i];
      }
      if (dw) {
        const T* dx = b.cd + ix * kBlock;
        const T* dy = b.cd + (4 + jy) * kBlock;
        T* gx = dw + k * kBlock;
        T* gy = dw + (kMaxTaps + k) * kBlock;
        for (int64_t i = 0; i < np; ++i) {
          gx[i] = dx[i] * wy[i] * b.m[0][i];
          gy[i] = wx[i] * dy[i] * b.m[1][i];
        }
      }
    }
}

// The taps of points [p0, p0 + np) of one image (gr: its grid) into b: tap k of point i has
// offset b.off[k·kBlock + i] into the plane (−1 outside) and weight b.w[k·kBlock + i]; with
// dw, also ∂w/∂(grid coordinate d) at dw[(d·kMaxTaps + k)·kBlock + i]. A non-finite
// coordinate gives NaN under 2-D bilinear/zeros and bicubic (PyTorch): one NaN-weighted tap in the
// forward, no taps in the backward.
template <class T>
void taps(const SampleParams& p, const T* gr, int64_t p0, int64_t np, bool bwd, TapBuf<T>& b,
          T* dw) {
  const T* g = gr + p0 * p.dims;
  const int64_t size[3] = {p.W, p.H, p.D};
  std::memset(b.bad, 0, static_cast<size_t>(np));
  for (int d = 0; d < p.dims; ++d) {
    if (p.dims == 2)
      unnormalize_v<2>(g, d, np, size[d], p.align_corners, b.c[d], b.m[d], b.bad);
    else
      unnormalize_v<3>(g, d, np, size[d], p.align_corners, b.c[d], b.m[d], b.bad);
    if (p.mode != kBicubic)
      fold_v(b.c[d], b.m[d], np, size[d], p.padding, p.align_corners, p.dims);
  }
  const int nt = num_taps(p);
  if (p.mode == kNearest)
    taps_nearest(p, b, np, dw);
  else if (p.mode == kBicubic)
    taps_bicubic(p, b, np, dw);
  else if (p.dims == 2)
    taps_linear<2>(p, b, np, dw);
  else
    taps_linear<3>(p, b, np, dw);
  const bool nan_out =
      p.mode == kBicubic || (p.mode == kBilinear && p.padding == kZeros && p.dims == 2);
  if (!nan_out) return;
  for (int64_t i = 0; i < np; ++i) {
    if (!b.bad[i]) continue;
    for (int k = 0; k < nt; ++k) {
      b.off[k * kBlock + i] = -1;
      b.w[k * kBlock + i] = T(0);
      if (dw)
        for (int d = 0; d < p.dims; ++d) dw[(d * kMaxTaps + k) * kBlock + i] = T(0);
    }
    if (!bwd) {
      b.off[i] = 0;
      b.w[i] = std::numeric_limits<T>::quiet_NaN();
    }
  }
}

// o[i] = Σ_k w[k·kBlock + i]·ic[off[k·kBlock + i]] over the taps inside (off ≥ 0), i < np.
template <class T>
inline void blend(const T* ic, const int32_t* off, const T* w, int nt, int64_t np, T* o) {
  for (int64_t i = 0; i < np; ++i) {
    T s = T(0);
    for (int k = 0; k < nt; ++k) {
      const int32_t q = off[k * kBlock + i];
      if (q >= 0) s += w[k * kBlock + i] * ic[q];
    }
    o[i] = s;
  }
}

#if FASTDL_SIMD_LEVEL == 2
// 16 points per step: masked gathers (lanes outside read nothing and count 0), FMA.
inline void blend(const float* ic, const int32_t* off, const float* w, int nt, int64_t np,
                  float* o) {
  for (int64_t i = 0; i < np; i += 16) {
    const __mmask16 live =
        np - i >= 16 ? __mmask16(0xFFFF) : __mmask16((1u << (np - i)) - 1);
    __m512 acc = _mm512_setzero_ps();
    for (int k = 0; k < nt; ++k) {
      const __m512i q = _mm512_maskz_loadu_epi32(live, off + k * kBlock + i);
      const __mmask16 m = _mm512_mask_cmpge_epi32_mask(live, q, _mm512_setzero_si512());
      const __m512 v = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, q, ic, 4);
      acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(live, w + k * kBlock + i), v, acc);
    }
    _mm512_mask_storeu_ps(o + i, live, acc);
  }
}
#elif FASTDL_SIMD_LEVEL == 1
// 8 points per step: masked gathers (lanes outside read nothing and count 0), FMA.
inline void blend(const float* ic, const int32_t* off, const float* w, int nt, int64_t np,
                  float* o) {
  int64_t i = 0;
  const __m256i neg = _mm256_set1_epi32(-1);
  for (; i + 8 <= np; i += 8) {
    __m256 acc = _mm256_setzero_ps();
    for (int k = 0; k < nt; ++k) {
      const __m256i q =
          _mm256_loadu_si256(reinterpret_cast<const __m256i*>(off + k * kBlock + i));
      const __m256 m = _mm256_castsi256_ps(_mm256_cmpgt_epi32(q, neg));
      const __m256 v = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), ic, q, m, 4);
      acc = _mm256_fmadd_ps(_mm256_loadu_ps(w + k * kBlock + i), v, acc);
    }
    _mm256_storeu_ps(o + i, acc);
  }
  if (i < np) blend<float>(ic, off + i, w + i, nt, np - i, o + i);
}
#endif

template <class T>
void fwd(const SampleParams& p, const T* input, const T* grid, T* out) {
  const int64_t P = p.Do * p.Ho * p.Wo, plane = p.D * p.H * p.W;
  const int64_t nblk = (P + kBlock - 1) / kBlock;
  const int nt = num_taps(p);
  parallel_for(p.N * nblk, 1, [&](int64_t t0, int64_t t1) {
    TapBuf<T> tb(p.dims);
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t n = task / nblk, p0 = task % nblk * kBlock;
      const int64_t np = P - p0 < kBlock ? P - p0 : kBlock;
      taps(p, grid + n * P * p.dims, p0, np, false, tb, static_cast<T*>(nullptr));
      for (int64_t c = 0; c < p.C; ++c)
        blend(input + (n * p.C + c) * plane, tb.off, tb.w, nt, np, out + (n * p.C + c) * P + p0);
    }
  });
}

template <class T>
void bwd(const SampleParams& p, const T* go, const T* input, const T* grid, T* gi, T* gg) {
  const int64_t P = p.Do * p.Ho * p.Wo, plane = p.D * p.H * p.W;
  const int64_t nblk = (P + kBlock - 1) / kBlock;
  const int64_t ncb = (p.C + kChanBlock - 1) / kChanBlock;
  const int nt = num_taps(p), dims = p.dims;
  const bool need_dw = gg && p.mode != kNearest;
  T* part = gg && ncb > 1 ? static_cast<T*>(thread_scratch(
                                sizeof(T) * p.N * ncb * P * dims, kPartialSlot))
                          : nullptr;
  parallel_for(p.N * ncb, 1, [&](int64_t t0, int64_t t1) {
    TapBuf<T> tb(dims);
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t n = task / ncb, cb = task % ncb;
      const int64_t c0 = cb * kChanBlock, c1 = c0 + kChanBlock < p.C ? c0 + kChanBlock : p.C;
      if (gi) std::memset(gi + (n * p.C + c0) * plane, 0, sizeof(T) * (c1 - c0) * plane);
      T* ggo = gg ? (part ? part + (n * ncb + cb) * P * dims : gg + n * P * dims) : nullptr;
      for (int64_t b = 0; b < nblk; ++b) {
        const int64_t p0 = b * kBlock, np = P - p0 < kBlock ? P - p0 : kBlock;
        taps(p, grid + n * P * dims, p0, np, true, tb, need_dw ? tb.dw : nullptr);
        if (need_dw) std::memset(tb.acc, 0, sizeof(T) * dims * kBlock);
        for (int64_t c = c0; c < c1; ++c) {
          const T* g = go + (n * p.C + c) * P + p0;
          if (gi) {
            T* gic = gi + (n * p.C + c) * plane;
            for (int64_t i = 0; i < np; ++i) {
              const T gv = g[i];
              for (int k = 0; k < nt; ++k) {
                const int32_t q = tb.off[k * kBlock + i];
                if (q >= 0) gic[q] += tb.w[k * kBlock + i] * gv;
              }
            }
          }
          if (need_dw) {
            const T* ic = input + (n * p.C + c) * plane;
            for (int d = 0; d < dims; ++d) {
              blend(ic, tb.off, tb.dw + d * kMaxTaps * kBlock, nt, np, tb.tmp);
              T* a = tb.acc + d * kBlock;
              for (int64_t i = 0; i < np; ++i) a[i] += g[i] * tb.tmp[i];
            }
          }
        }
        if (ggo)
          for (int64_t i = 0; i < np; ++i)
            for (int d = 0; d < dims; ++d)
              ggo[(p0 + i) * dims + d] = need_dw ? tb.acc[d * kBlock + i] : T(0);
      }
    }
  });
  if (part) {
    const int64_t per = P * dims;
    parallel_for(p.N * per, 4096, [&](int64_t j0, int64_t j1) {
      for (int64_t j = j0; j < j1; ++j) {
        const int64_t n = j / per, r = j % per;
        T s = part[n * ncb * per + r];
        for (int64_t cb = 1; cb < ncb; ++cb) s += part[(n * ncb + cb) * per + r];
        gg[j] = s;
      }
    });
  }
}

}  // namespace

const SampleOps ops = {{fwd<float>, bwd<float>}, {fwd<double>, bwd<double>}};

}  // namespace FASTDL_SIMD_ISA
}  // namespace sample
}  // namespace fastdl
