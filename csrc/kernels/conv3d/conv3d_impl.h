// The 3-D convolution kernels (see conv3d.h), compiled once per ISA: conv3d.cpp (generic),
// conv3d_avx2.cpp and conv3d_avx512.cpp include this file, which ends with that ISA's
// Conv3dOps table.
//
// Two forward schemes:
//  * vol2col + GEMM (every ISA, every shape; the backward always): the column matrix of a
//    tile of output-depth planes, then one GEMM (the gemm family's per-ISA micro-kernels).
//  * direct (AVX2 / AVX-512, width stride 1, at most kDirectMaxKg output channels per group):
//    per task (image, group, tile of output-depth planes) the input slab the tile reads is
//    copied once, zero-padded, into per-thread scratch; then for each block of KB output
//    channels and each block of NV output vectors (along a row, or down NV rows when a row
//    is one vector), KB × NV vectors of outputs stay in registers while every (c, a, i, j)
//    tap adds weight[k, c, a, i, j] (broadcast) × the slab shifted by the tap (NV loads);
//    depth taps that fall in the padding for the output plane, and height taps that do for
//    every row of the block, are skipped (about 8 % of the taps of a 3×3×3 'same' layer on 8
//    planes). The weights are packed once per call as [group][k-block][tap][KB]. No column
//    matrix is written, and no GEMM tile is padded to 12 rows for 16 channels.
// Both give each output to one task, summed in a fixed order: results do not depend on the
// thread count.
#pragma once
#include <omp.h>

#include <cstdint>
#include <cstring>

#include "common/allocator.h"
#include "common/parallel.h"
#include "common/ranges.h"
#include "common/simd.h"
#include "kernels/conv3d/conv3d.h"
#include "kernels/gemm/gemm.h"

namespace fastdl {
namespace conv3d {
namespace FASTDL_SIMD_ISA {
namespace {

using simd::Vec;

// (no std:: algorithms or containers here: see CONTRIBUTING.md; imin/imax: common/ranges.h)

// The taps t of a kernel axis (k taps, dilation d) that output o (stride s, padding p) reads
// inside an input of n: o·s − p + t·d ∈ [0, n) for t in [tap_lo, tap_hi) (clamped to [0, k];
// the range may be empty: tap_hi <= tap_lo).
inline int64_t tap_lo(int64_t o, int64_t s, int64_t p, int64_t d, int64_t k) {
  const int64_t first = o * s - p;  // input index of tap 0
  return first >= 0 ? 0 : imin(k, (-first + d - 1) / d);
}
inline int64_t tap_hi(int64_t o, int64_t s, int64_t p, int64_t d, int64_t k, int64_t n) {
  const int64_t first = o * s - p;
  return first >= n ? 0 : imin(k, (n - 1 - first) / d + 1);
}

// conv3d never runs inside conv (and calls only gemm): it takes conv's slots
constexpr int kColSlot = kScratchConvCol;         // vol2col columns / their gradient
constexpr int kPartialSlot = kScratchConvGCol;    // weight-gradient partials
constexpr int kSlabSlot = kScratchConvPad;        // the direct forward's padded input slab
constexpr int kDyTSlot = kScratchConvDyT;         // the weight gradient's transposed dy
constexpr int64_t kColBytes = int64_t(1) << 20;   // target size of one tile's column matrix
constexpr int64_t kMaxChunks = 16;                // weight-gradient partials

inline void gemm_t(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                   const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                   float* C, int64_t ldc) {
  gemm::sgemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
inline void gemm_t(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
                   const double* A, int64_t lda, const double* B, int64_t ldb, double beta,
                   double* C, int64_t ldc) {
  gemm::dgemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

struct Tiling {
  int64_t Cg, Kg, Kc, OHW, ODHW, TD, ntiles;
};

Tiling tiling(const Conv3dParams& p, int64_t elem) {
  Tiling t;
  t.Cg = p.C / p.groups;
  t.Kg = p.K / p.groups;
  t.Kc = t.Cg * p.kd * p.kh * p.kw;
  t.OHW = p.OH * p.OW;
  t.ODHW = p.OD * t.OHW;
  const int64_t plane = imax(1, t.Kc * t.OHW * elem);
  t.TD = imax(1, imin(p.OD, kColBytes / plane));
  t.ntiles = (p.OD + t.TD - 1) / t.TD;
  return t;
}

// Run fn over [0, n) in chunks of one, threaded only outside an enclosing parallel region.
template <class F>
inline void maybe_parallel(int64_t n, F&& fn) {
  if (omp_get_level() == 0) {
    parallel_for(n, 1, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) fn(i);
    });
  } else {
    for (int64_t i = 0; i < n; ++i) fn(i);
  }
}

// The row copies below are short (one output row): GCC would turn them into memcpy/memset
// calls, whose call overhead dominates at these lengths; keep them as inline loops.
#if defined(__GNUC__) && !defined(__clang__)
#define FASTDL_INLINE_COPIES __attribute__((optimize("no-tree-loop-distribute-patterns")))
#else
#define FASTDL_INLINE_COPIES
#endif

// One output row of a column-matrix row: r[ow] = src[ow·sw] for ow in [lo, hi), else 0.
template <class T>
FASTDL_INLINE_COPIES inline void copy_row(T* __restrict r, const T* __restrict src, int64_t OW,
                                          int64_t sw, int64_t lo, int64_t hi) {
  for (int64_t ow = 0; ow < lo; ++ow) r[ow] = T(0);
  if (sw == 1) {
    for (int64_t ow = lo; ow < hi; ++ow) r[ow] = src[ow];
  } else {
    for (int64_t ow = lo; ow < hi; ++ow) r[ow] = src[ow * sw];
  }
  for (int64_t ow = hi; ow < OW; ++ow) r[ow] = T(0);
}

// Rows c·kd·kh·kw … of col (Kc × (od1 − od0)·OH·OW): channel c (xc, (D, H, W)).
template <class T>
FASTDL_INLINE_COPIES void vol2col_channel(const Conv3dParams& p, const T* xc, int64_t c,
                                          int64_t od0, int64_t od1, T* col) {
  const int64_t KK = p.kd * p.kh * p.kw, cols = (od1 - od0) * p.OH * p.OW;
  const int64_t HW = p.H * p.W;
  for (int64_t a = 0; a < p.kd; ++a)
    for (int64_t i = 0; i < p.kh; ++i)
      for (int64_t j = 0; j < p.kw; ++j) {
        T* row = col + (c * KK + (a * p.kh + i) * p.kw + j) * cols;
        const int64_t x0 = j * p.dw - p.pw;
        // output columns ow whose input column ow·sw + x0 lies in [0, W)
        int64_t lo = x0 >= 0 ? 0 : (-x0 + p.sw - 1) / p.sw;
        int64_t hi = (p.W - 1 - x0) >= 0 ? (p.W - 1 - x0) / p.sw + 1 : 0;
        lo = imin(lo, p.OW);
        hi = imax(lo, imin(hi, p.OW));
        // output rows oh whose input row y = oh·sh − ph + i·dh lies in [0, H)
        const int64_t y0 = i * p.dh - p.ph;
        int64_t oh_lo = y0 >= 0 ? 0 : (-y0 + p.sh - 1) / p.sh;
        int64_t oh_hi = (p.H - 1 - y0) >= 0 ? (p.H - 1 - y0) / p.sh + 1 : 0;
        oh_lo = imin(oh_lo, p.OH);
        oh_hi = imax(oh_lo, imin(oh_hi, p.OH));
        // stride 1 with W == OW and |x0| < W: the rows strictly inside [oh_lo, oh_hi) are one
        // contiguous run of the input (the out-of-row columns fixed up after)
        const bool run = p.sw == 1 && p.sh == 1 && p.W == p.OW && x0 > -p.W && x0 < p.W &&
                         oh_hi - oh_lo >= 3;
        for (int64_t od = od0; od < od1; ++od) {
          const int64_t z = od * p.sd - p.pd + a * p.dd;
          T* plane = row + (od - od0) * p.OH * p.OW;
          if (z < 0 || z >= p.D) {
            for (int64_t q = 0; q < p.OH * p.OW; ++q) plane[q] = T(0);
            continue;
          }
          for (int64_t q = 0; q < oh_lo * p.OW; ++q) plane[q] = T(0);
          for (int64_t q = oh_hi * p.OW; q < p.OH * p.OW; ++q) plane[q] = T(0);
          const T* xz = xc + z * HW + x0;
          if (!run) {
            for (int64_t oh = oh_lo; oh < oh_hi; ++oh)
              copy_row(plane + oh * p.OW, xz + (oh * p.sh + y0) * p.W, p.OW, p.sw, lo, hi);
            continue;
          }
          copy_row(plane + oh_lo * p.OW, xz + (oh_lo + y0) * p.W, p.OW, p.sw, lo, hi);
          copy_row(plane + (oh_hi - 1) * p.OW, xz + (oh_hi - 1 + y0) * p.W, p.OW, p.sw, lo, hi);
          const int64_t r0 = oh_lo + 1, r1 = oh_hi - 1;
          std::memcpy(plane + r0 * p.OW, xz + (r0 + y0) * p.W, sizeof(T) * (r1 - r0) * p.OW);
          if (lo > 0 || hi < p.OW)
            for (int64_t oh = r0; oh < r1; ++oh) {
              T* r = plane + oh * p.OW;
              for (int64_t ow = 0; ow < lo; ++ow) r[ow] = T(0);
              for (int64_t ow = hi; ow < p.OW; ++ow) r[ow] = T(0);
            }
        }
      }
}

// col (Kc × (od1 − od0)·OH·OW) of channels [0, Cg) of xg (Cg, D, H, W).
template <class T>
void vol2col(const Conv3dParams& p, const T* xg, int64_t Cg, int64_t od0, int64_t od1,
             T* col) {
  const int64_t DHW = p.D * p.H * p.W;
  maybe_parallel(Cg, [&](int64_t c) { vol2col_channel(p, xg + c * DHW, c, od0, od1, col); });
}

// The adjoint: xg[c, …] += col[…] (xg initialised), channel by channel in a fixed order.
template <class T>
void col2vol(const Conv3dParams& p, const T* col, int64_t Cg, int64_t od0, int64_t od1,
             T* xg) {
  const int64_t KK = p.kd * p.kh * p.kw, cols = (od1 - od0) * p.OH * p.OW;
  const int64_t HW = p.H * p.W, DHW = p.D * HW;
  maybe_parallel(Cg, [&](int64_t c) {
    T* xc = xg + c * DHW;
    for (int64_t a = 0; a < p.kd; ++a)
      for (int64_t i = 0; i < p.kh; ++i)
        for (int64_t j = 0; j < p.kw; ++j) {
          const T* row = col + (c * KK + (a * p.kh + i) * p.kw + j) * cols;
          const int64_t x0 = j * p.dw - p.pw;
          int64_t lo = x0 >= 0 ? 0 : (-x0 + p.sw - 1) / p.sw;
          int64_t hi = (p.W - 1 - x0) >= 0 ? (p.W - 1 - x0) / p.sw + 1 : 0;
          lo = imin(lo, p.OW);
          hi = imax(lo, imin(hi, p.OW));
          for (int64_t od = od0; od < od1; ++od) {
            const int64_t z = od * p.sd - p.pd + a * p.dd;
            if (z < 0 || z >= p.D) continue;
            for (int64_t oh = 0; oh < p.OH; ++oh) {
              const int64_t y = oh * p.sh - p.ph + i * p.dh;
              if (y < 0 || y >= p.H) continue;
              const T* r = row + ((od - od0) * p.OH + oh) * p.OW;
              T* dst = xc + z * HW + y * p.W + x0;
              if (p.sw == 1) {
                for (int64_t ow = lo; ow < hi; ++ow) dst[ow] += r[ow];
              } else {
                for (int64_t ow = lo; ow < hi; ++ow) dst[ow * p.sw] += r[ow];
              }
            }
          }
        }
  });
}

template <class T>
void forward_gemm(const Conv3dParams& p, const T* x, const T* w, const T* b, T* y) {
  const Tiling t = tiling(p, sizeof(T));
  const int64_t tasks = p.N * p.groups * t.ntiles;
  maybe_parallel(tasks, [&](int64_t task) {
    const int64_t n = task / (p.groups * t.ntiles), g = task / t.ntiles % p.groups;
    const int64_t od0 = task % t.ntiles * t.TD, od1 = imin(p.OD, od0 + t.TD);
    const int64_t cols = (od1 - od0) * t.OHW;
    T* col = static_cast<T*>(thread_scratch(sizeof(T) * t.Kc * cols, kColSlot));
    vol2col(p, x + (n * p.C + g * t.Cg) * p.D * p.H * p.W, t.Cg, od0, od1, col);
    T* yt = y + (n * p.K + g * t.Kg) * t.ODHW + od0 * t.OHW;
    gemm_t(false, false, t.Kg, cols, t.Kc, T(1), w + g * t.Kg * t.Kc, t.Kc, col, cols, T(0),
           yt, t.ODHW);
    if (b)
      for (int64_t k = 0; k < t.Kg; ++k) {
        const T bk = b[g * t.Kg + k];
        T* yk = yt + k * t.ODHW;
        for (int64_t q = 0; q < cols; ++q) yk[q] += bk;
      }
  });
}

// The weight gradient summed over `tasks` (image, depth tile) in a fixed number of chunks, so
// the result is bitwise the same for any thread count: body(task, acc) adds one task's
// contribution to acc (wsz values); each chunk sums its tasks in order into its own partial,
// then the partials are added in chunk order into dw.
template <class T, class Body>
void dw_over_tasks(int64_t tasks, int64_t wsz, T* dw, const Body& body) {
  if (tasks <= 0) {
    std::memset(dw, 0, sizeof(T) * wsz);
    return;
  }
  const int64_t per = (tasks + kMaxChunks - 1) / kMaxChunks;
  const int64_t chunks = (tasks + per - 1) / per;
  T* part = chunks == 1 ? dw
                        : static_cast<T*>(thread_scratch(sizeof(T) * chunks * wsz,
                                                         kPartialSlot));
  maybe_parallel(chunks, [&](int64_t ch) {
    T* acc = part + (chunks == 1 ? 0 : ch * wsz);
    std::memset(acc, 0, sizeof(T) * wsz);
    for (int64_t task = ch * per; task < imin(tasks, (ch + 1) * per); ++task) body(task, acc);
  });
  if (chunks > 1)
    parallel_for(wsz, 4096, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        T sum = part[i];
        for (int64_t ch = 1; ch < chunks; ++ch) sum += part[ch * wsz + i];
        dw[i] = sum;
      }
    });
}

template <class T>
void backward_gemm(const Conv3dParams& p, const T* x, const T* w, const T* dy, T* dx, T* dw,
                   T* db) {
  const Tiling t = tiling(p, sizeof(T));
  const int64_t DHW = p.D * p.H * p.W;
  if (db)
    parallel_for(p.K, 1, [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) {
        T s = 0;
        for (int64_t n = 0; n < p.N; ++n) {
          const T* d = dy + (n * p.K + k) * t.ODHW;
          for (int64_t q = 0; q < t.ODHW; ++q) s += d[q];
        }
        db[k] = s;
      }
    });
  if (dx) {
    maybe_parallel(p.N, [&](int64_t n) {
      T* dxn = dx + n * p.C * DHW;
      std::memset(dxn, 0, sizeof(T) * p.C * DHW);
      for (int64_t tile = 0; tile < t.ntiles; ++tile) {
        const int64_t od0 = tile * t.TD, od1 = imin(p.OD, od0 + t.TD);
        const int64_t cols = (od1 - od0) * t.OHW;
        T* dcol = static_cast<T*>(thread_scratch(sizeof(T) * t.Kc * cols, kColSlot));
        for (int64_t g = 0; g < p.groups; ++g) {
          gemm_t(true, false, t.Kc, cols, t.Kg, T(1), w + g * t.Kg * t.Kc, t.Kc,
                 dy + (n * p.K + g * t.Kg) * t.ODHW + od0 * t.OHW, t.ODHW, T(0), dcol, cols);
          col2vol(p, dcol, t.Cg, od0, od1, dxn + g * t.Cg * DHW);
        }
      }
    });
  }
  if (dw) {
    dw_over_tasks(p.N * t.ntiles, p.K * t.Kc, dw, [&](int64_t task, T* acc) {
      const int64_t n = task / t.ntiles;
      const int64_t od0 = task % t.ntiles * t.TD, od1 = imin(p.OD, od0 + t.TD);
      const int64_t cols = (od1 - od0) * t.OHW;
      T* col = static_cast<T*>(thread_scratch(sizeof(T) * t.Kc * cols, kColSlot));
      for (int64_t g = 0; g < p.groups; ++g) {
        vol2col(p, x + (n * p.C + g * t.Cg) * DHW, t.Cg, od0, od1, col);
        gemm_t(false, true, t.Kg, t.Kc, cols, T(1),
               dy + (n * p.K + g * t.Kg) * t.ODHW + od0 * t.OHW, t.ODHW, col, cols, T(1),
               acc + g * t.Kg * t.Kc, t.Kc);
      }
    });
  }
}

// ---------------------------------------------------------------------------------------
// The direct forward (AVX2 / AVX-512)

#if FASTDL_SIMD_LEVEL >= 1
constexpr int kKB = FASTDL_SIMD_LEVEL == 2 ? 8 : 4;  // output channels per register block
constexpr int kMaxNV = 3;                            // output vectors per row block
constexpr int64_t kDirectMaxKg = 64;
constexpr int64_t kSlabBytes = int64_t(1) << 18;     // target size of one task's slab

struct DirectShape {
  int64_t Cg, Kg, Kc, nkb;  // channels per group, taps per output channel, k-blocks
  int64_t Hp, Wp, HWp;      // slab plane: the rows and columns the output rows read
  int64_t TD, ntiles;       // output-depth planes per task
};

DirectShape direct_shape(const Conv3dParams& p, int64_t elem) {
  DirectShape s;
  s.Cg = p.C / p.groups;
  s.Kg = p.K / p.groups;
  s.Kc = s.Cg * p.kd * p.kh * p.kw;
  s.nkb = (s.Kg + kKB - 1) / kKB;
  s.Hp = (p.OH - 1) * p.sh + (p.kh - 1) * p.dh + 1;
  s.Wp = (p.OW - 1) + (p.kw - 1) * p.dw + 1;
  s.HWp = s.Hp * s.Wp;
  const int64_t per_depth = imax(1, s.Cg * s.HWp * elem);
  const int64_t sd_max = imax(1, kSlabBytes / per_depth);  // slab depths
  const int64_t ext = (p.kd - 1) * p.dd + 1;
  s.TD = sd_max > ext ? (sd_max - ext) / p.sd + 1 : 1;
  s.TD = imax(1, imin(s.TD, p.OD));
  s.ntiles = (p.OD + s.TD - 1) / s.TD;
  return s;
}

// slab[c, zz, yy, xx] = x_g[c, z0 + zz, yy − ph, xx − pw] (0 outside x), zz < SD.
template <class T>
void fill_slab(const Conv3dParams& p, const DirectShape& s, const T* xg, int64_t z0,
               int64_t SD, T* slab) {
  const int64_t HW = p.H * p.W;
  const int64_t x_lo = imin(p.pw, s.Wp);                        // first column inside x
  const int64_t x_hi = imax(x_lo, imin(s.Wp, p.W + p.pw));  // past the last
  for (int64_t c = 0; c < s.Cg; ++c)
    for (int64_t zz = 0; zz < SD; ++zz) {
      T* plane = slab + (c * SD + zz) * s.HWp;
      const int64_t z = z0 + zz;
      if (z < 0 || z >= p.D) {
        std::memset(plane, 0, sizeof(T) * s.HWp);
        continue;
      }
      const T* xz = xg + (c * p.D + z) * HW;
      for (int64_t yy = 0; yy < s.Hp; ++yy) {
        T* r = plane + yy * s.Wp;
        const int64_t yin = yy - p.ph;
        if (yin < 0 || yin >= p.H) {
          std::memset(r, 0, sizeof(T) * s.Wp);
          continue;
        }
        std::memset(r, 0, sizeof(T) * x_lo);
        if (x_hi > x_lo)
          std::memcpy(r + x_lo, xz + yin * p.W + (x_lo - p.pw), sizeof(T) * (x_hi - x_lo));
        std::memset(r + x_hi, 0, sizeof(T) * (s.Wp - x_hi));
      }
    }
}

// kKB output channels × NV output vectors. Vector v reads the slab at xs + xo[v] (its first
// tap, channel 0) and writes y + yo[v] (channel 0 of the block); nl[v] of its lanes exist
// (kTail: some vector is partial, masked loads and stores). cs, as, is: the slab strides of
// a channel, a depth tap and a height tap; wp: the block's packed weights (Kc × kKB); ys:
// the output's channel stride. Only the depth taps [a0, a1) and height taps [i0, i1) are
// summed: the others read only the slab's zero padding for every vector of the block.
// Stores channels k < kvalid. A width-3 kernel with width dilation 1 (the common 3×3×3) runs
// its three width taps unrolled (about 13 % faster than the loop over kw).
template <int NV, bool kTail, class T>
inline void direct_block(const Conv3dParams& p, int64_t Cg, const T* xs, const int64_t* xo,
                         int64_t cs, int64_t as, int64_t is, const T* wp, const T* bias,
                         int64_t kvalid, T* y, const int64_t* yo, int64_t ys,
                         const int64_t* nl, int64_t a0, int64_t a1, int64_t i0, int64_t i1) {
  using V = Vec<T>;
  V acc[kKB][NV];
#pragma GCC unroll 8
  for (int k = 0; k < kKB; ++k) {
    const V b0(bias ? bias[k] : T(0));
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) acc[k][v] = b0;
  }
  const bool kw3 = p.kw == 3 && p.dw == 1;
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t a = a0; a < a1; ++a)
      for (int64_t i = i0; i < i1; ++i) {
        const T* xr = xs + c * cs + a * as + i * is;
        const T* wk = wp + ((c * p.kd + a) * p.kh + i) * p.kw * kKB;
        if (kw3) {
#pragma GCC unroll 3
          for (int j = 0; j < 3; ++j) {
            const T* xj = xr + j;
            V xv[NV];
#pragma GCC unroll 3
            for (int v = 0; v < NV; ++v)
              xv[v] = kTail ? V::load(xj + xo[v], nl[v]) : V::load(xj + xo[v]);
#pragma GCC unroll 8
            for (int k = 0; k < kKB; ++k) {
              const V wb(wk[j * kKB + k]);
#pragma GCC unroll 3
              for (int v = 0; v < NV; ++v) acc[k][v] = simd::mul_add(wb, xv[v], acc[k][v]);
            }
          }
          continue;
        }
        for (int64_t j = 0; j < p.kw; ++j, wk += kKB) {
          const T* xj = xr + j * p.dw;
          V xv[NV];
#pragma GCC unroll 3
          for (int v = 0; v < NV; ++v)
            xv[v] = kTail ? V::load(xj + xo[v], nl[v]) : V::load(xj + xo[v]);
#pragma GCC unroll 8
          for (int k = 0; k < kKB; ++k) {
            const V wb(wk[k]);
#pragma GCC unroll 3
            for (int v = 0; v < NV; ++v) acc[k][v] = simd::mul_add(wb, xv[v], acc[k][v]);
          }
        }
      }
  for (int k = 0; k < kKB; ++k) {
    if (k >= kvalid) break;
    T* yk = y + k * ys;
#pragma GCC unroll 3
    for (int v = 0; v < NV; ++v) {
      if (kTail)
        acc[k][v].store(yk + yo[v], nl[v]);
      else
        acc[k][v].store(yk + yo[v]);
    }
  }
}

// The geometry of one block of NV vectors (offsets into the slab and the output, lanes).
struct DirectBlock {
  int nv;
  bool tail;
  int64_t xo[kMaxNV], yo[kMaxNV], nl[kMaxNV];
  int64_t oh0, oh1;  // the output rows the block covers
};

template <class T>
inline void run_block(const DirectBlock& bk, const Conv3dParams& p, int64_t Cg, const T* xs,
                      int64_t cs, int64_t as, int64_t is, const T* wp, const T* bias,
                      int64_t kvalid, T* y, int64_t ys, int64_t a0, int64_t a1) {
  // the height taps that reach inside the input for some row of the block
  const int64_t i0 = tap_lo(bk.oh1 - 1, p.sh, p.ph, p.dh, p.kh);
  const int64_t i1 = imax(i0, tap_hi(bk.oh0, p.sh, p.ph, p.dh, p.kh, p.H));
#define FASTDL_CONV3D_BLOCK(NV)                                                              \
  (bk.tail ? direct_block<NV, true>(p, Cg, xs, bk.xo, cs, as, is, wp, bias, kvalid, y, bk.yo, \
                                    ys, bk.nl, a0, a1, i0, i1)                                \
           : direct_block<NV, false>(p, Cg, xs, bk.xo, cs, as, is, wp, bias, kvalid, y, bk.yo, \
                                     ys, bk.nl, a0, a1, i0, i1))
  switch (bk.nv) {
    case 1: FASTDL_CONV3D_BLOCK(1); break;
    case 2: FASTDL_CONV3D_BLOCK(2); break;
    default: FASTDL_CONV3D_BLOCK(3); break;
  }
#undef FASTDL_CONV3D_BLOCK
}

// The blocks covering one output-depth plane (OH rows of OW), as offsets from the plane's
// first row. Rows of two or more vectors: each row cut into equal blocks of <= kMaxNV
// vectors. Rows of one vector (narrow volumes): blocks of kMaxNV rows, so a block still has
// kMaxNV independent vectors per weight broadcast.
struct PlaneBlocks {
  int64_t OH, OW, sh, Wp, N, vpr, NV, per_row, count;
  PlaneBlocks(const Conv3dParams& p, int64_t Wp_, int N_)
      : OH(p.OH), OW(p.OW), sh(p.sh), Wp(Wp_), N(N_) {
    vpr = (OW + N - 1) / N;
    if (vpr >= 2) {
      const int64_t nblk = (vpr + kMaxNV - 1) / kMaxNV;
      NV = (vpr + nblk - 1) / nblk;
      per_row = (vpr + NV - 1) / NV;
      count = OH * per_row;
    } else {
      NV = kMaxNV;
      per_row = 0;
      count = (OH + kMaxNV - 1) / kMaxNV;
    }
  }
  DirectBlock get(int64_t i) const {
    DirectBlock bk{};
    if (vpr >= 2) {
      const int64_t oh = i / per_row, v0 = i % per_row * NV;
      bk.oh0 = oh;
      bk.oh1 = oh + 1;
      bk.nv = static_cast<int>(imin(NV, vpr - v0));
      for (int v = 0; v < bk.nv; ++v) {
        const int64_t col = (v0 + v) * N;
        bk.xo[v] = oh * sh * Wp + col;
        bk.yo[v] = oh * OW + col;
        bk.nl[v] = imin(N, OW - col);
        bk.tail |= bk.nl[v] < N;
      }
    } else {
      const int64_t oh0 = i * kMaxNV;
      bk.nv = static_cast<int>(imin(kMaxNV, OH - oh0));
      bk.oh0 = oh0;
      bk.oh1 = oh0 + bk.nv;
      for (int v = 0; v < bk.nv; ++v) {
        bk.xo[v] = (oh0 + v) * sh * Wp;
        bk.yo[v] = (oh0 + v) * OW;
        bk.nl[v] = OW;
        bk.tail |= OW < N;
      }
    }
    return bk;
  }
};

template <class T>
void forward_direct(const Conv3dParams& p, const T* x, const T* w, const T* b, T* y) {
  const DirectShape s = direct_shape(p, sizeof(T));
  constexpr int N = Vec<T>::N;
  // weights packed as [group][k-block][tap][kKB] (zeros past Kg), bias as [group][k-block][kKB]
  const PoolBuf wbuf(sizeof(T) * p.groups * s.nkb * s.Kc * kKB);
  const PoolBuf bbuf(b ? sizeof(T) * p.groups * s.nkb * kKB : 0);
  T* const wp = wbuf.as<T>();
  T* const bp = bbuf.as<T>();
  for (int64_t g = 0; g < p.groups; ++g)
    for (int64_t kb = 0; kb < s.nkb; ++kb)
      for (int64_t kk = 0; kk < kKB; ++kk) {
        const int64_t k = kb * kKB + kk;
        T* dst = wp + (g * s.nkb + kb) * s.Kc * kKB + kk;
        const T* src = w + (g * s.Kg + k) * s.Kc;
        for (int64_t r = 0; r < s.Kc; ++r) dst[r * kKB] = k < s.Kg ? src[r] : T(0);
        if (b) bp[(g * s.nkb + kb) * kKB + kk] = k < s.Kg ? b[g * s.Kg + k] : T(0);
      }
  const PlaneBlocks blocks(p, s.Wp, N);
  const int64_t OHW = p.OH * p.OW, ODHW = p.OD * OHW, DHW = p.D * p.H * p.W;
  const int64_t tasks = p.N * p.groups * s.ntiles;
  maybe_parallel(tasks, [&](int64_t task) {
    const int64_t n = task / (p.groups * s.ntiles), g = task / s.ntiles % p.groups;
    const int64_t od0 = task % s.ntiles * s.TD, od1 = imin(p.OD, od0 + s.TD);
    const int64_t SD = (od1 - 1 - od0) * p.sd + (p.kd - 1) * p.dd + 1;
    T* slab = static_cast<T*>(thread_scratch(sizeof(T) * s.Cg * SD * s.HWp, kSlabSlot));
    fill_slab(p, s, x + (n * p.C + g * s.Cg) * DHW, od0 * p.sd - p.pd, SD, slab);
    const int64_t cs = SD * s.HWp, as = p.dd * s.HWp, is = p.dh * s.Wp;
    for (int64_t kb = 0; kb < s.nkb; ++kb) {
      const T* wb = wp + (g * s.nkb + kb) * s.Kc * kKB;
      const T* bb = b ? bp + (g * s.nkb + kb) * kKB : nullptr;
      const int64_t kvalid = imin(kKB, s.Kg - kb * kKB);
      T* yb = y + (n * p.K + g * s.Kg + kb * kKB) * ODHW;
      for (int64_t od = od0; od < od1; ++od) {
        const T* xs = slab + (od - od0) * p.sd * s.HWp;
        T* yp = yb + od * OHW;
        const int64_t a0 = tap_lo(od, p.sd, p.pd, p.dd, p.kd);
        const int64_t a1 = imax(a0, tap_hi(od, p.sd, p.pd, p.dd, p.kd, p.D));
        for (int64_t i = 0; i < blocks.count; ++i)
          run_block(blocks.get(i), p, s.Cg, xs, cs, as, is, wb, bb, kvalid, yp, ODHW, a0, a1);
      }
    }
  });
}
// ---------------------------------------------------------------------------------------
// The direct backward (AVX2 / AVX-512)

// Input gradient, all strides 1: dx is the forward convolution of dy with the kernel flipped
// in all three dimensions (tap t -> KK − 1 − t) and its channel roles swapped, padding
// d·(k − 1) − p (dy read as zero outside), so it runs on the direct forward. False when the
// shape does not fit (strided, negative padding, more than kDirectMaxKg input channels per
// group): the caller falls back to GEMM + col2vol.
template <class T>
bool backward_dx_direct(const Conv3dParams& p, const T* w, const T* dy, T* dx) {
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups, KK = p.kd * p.kh * p.kw;
  if (p.sd != 1 || p.sh != 1 || p.sw != 1 || Cg > kDirectMaxKg) return false;
  Conv3dParams q = p;
  q.C = p.K, q.D = p.OD, q.H = p.OH, q.W = p.OW;
  q.K = p.C, q.OD = p.D, q.OH = p.H, q.OW = p.W;
  q.pd = p.dd * (p.kd - 1) - p.pd;
  q.ph = p.dh * (p.kh - 1) - p.ph;
  q.pw = p.dw * (p.kw - 1) - p.pw;
  if (q.pd < 0 || q.ph < 0 || q.pw < 0) return false;
  const PoolBuf fbuf(sizeof(T) * p.C * Kg * KK);
  T* const f = fbuf.as<T>();  // f[g·Cg + c, k, t] = w[g·Kg + k, c, KK − 1 − t]
  for (int64_t g = 0; g < p.groups; ++g)
    for (int64_t c = 0; c < Cg; ++c)
      for (int64_t k = 0; k < Kg; ++k) {
        const T* src = w + ((g * Kg + k) * Cg + c) * KK;
        T* dst = f + ((g * Cg + c) * Kg + k) * KK;
        for (int64_t t = 0; t < KK; ++t) dst[t] = src[KK - 1 - t];
      }
  forward_direct(q, dy, f, static_cast<const T*>(nullptr), dx);
  return true;
}

constexpr int kWKB = FASTDL_SIMD_LEVEL == 2 ? 4 : 2;  // output channels per dW block
constexpr int kWJB = 3;                               // width taps per dW block

// Keeps a vector in a register (GCC would otherwise fold its load into each of its JB uses).
template <class V>
inline void in_register(V& v) {
#if FASTDL_SIMD_LEVEL == 2
  asm("" : "+v"(v.v));
#else
  asm("" : "+x"(v.v));
#endif
}

// One weight-gradient block: KB output channels × JB width taps of one (c, a, i), summed over
// a tile of TDn output planes. The planes are walked flat: dyp holds dy with rows Wp apart
// (zeros in the Wp − OW gap columns), planes Pq = OH·Wp apart, channels dys apart, so output
// position q of a plane meets slab element q + (tap offset) in one contiguous run, with no
// per-row bookkeeping. xs: the slab at this (c, a, i), planes xs_d apart; tap j reads xs + xj[j].
// out[k·ks + j] += the sums for k < kvalid, j < jvalid (the rest are computed and dropped).
template <int KB, int JB, class T>
inline void dw_block(const T* dyp, int64_t dys, int64_t TDn, int64_t Pq, const T* xs,
                     int64_t xs_d, const int64_t* xj, int kvalid, int jvalid, T* out,
                     int64_t ks) {
  using V = Vec<T>;
  constexpr int N = V::N;
  // (every loop over KB / JB fully unrolled, so acc stays in registers)
  V acc[KB][JB];
#pragma GCC unroll 8
  for (int k = 0; k < KB; ++k)
#pragma GCC unroll 3
    for (int j = 0; j < JB; ++j) acc[k][j] = V(T(0));
  const int64_t nfull = Pq / N, rem = Pq % N;
  for (int64_t od = 0; od < TDn; ++od) {
    const T* dp = dyp + od * Pq;
    const T* xp = xs + od * xs_d;
    for (int64_t v = 0; v < nfull; ++v) {
      V d[KB];
#pragma GCC unroll 8
      for (int k = 0; k < KB; ++k) {
        d[k] = V::load(dp + k * dys + v * N);
        in_register(d[k]);
      }
#pragma GCC unroll 3
      for (int j = 0; j < JB; ++j) {
        const V xv = V::load(xp + xj[j] + v * N);
#pragma GCC unroll 8
        for (int k = 0; k < KB; ++k) acc[k][j] = simd::mul_add(d[k], xv, acc[k][j]);
      }
    }
    if (rem) {
      V d[KB];
#pragma GCC unroll 8
      for (int k = 0; k < KB; ++k) d[k] = V::load(dp + k * dys + nfull * N, rem);
#pragma GCC unroll 3
      for (int j = 0; j < JB; ++j) {
        const V xv = V::load(xp + xj[j] + nfull * N, rem);
#pragma GCC unroll 8
        for (int k = 0; k < KB; ++k) acc[k][j] = simd::mul_add(d[k], xv, acc[k][j]);
      }
    }
  }
#pragma GCC unroll 8
  for (int k = 0; k < KB; ++k)
#pragma GCC unroll 3
    for (int j = 0; j < JB; ++j)
      if (k < kvalid && j < jvalid) out[k * ks + j] += simd::hsum(acc[k][j]);
}

// Weight gradient, all strides 1: per task (image, tile of output-depth planes) and group the
// padded input slab is filled as for the direct forward, and per block of kWKB output
// channels dy is copied once with the slab's row length (see dw_block); then every (c, a, i,
// j-block) sums dy × the shifted slab in registers. A gap column of dy (zero) meets a slab
// element of the next row, so a non-finite input can reach a gradient entry it does not
// touch in exact arithmetic (0·inf). Tasks are summed into a fixed number of chunk partials in
// a fixed order (thread-count independent), then the partials in order.
template <class T>
bool backward_dw_direct(const Conv3dParams& p, const T* x, const T* dy, T* dw) {
  if (p.sd != 1 || p.sh != 1 || p.sw != 1) return false;
  const DirectShape s = direct_shape(p, sizeof(T));
  const int64_t OHW = p.OH * p.OW, ODHW = p.OD * OHW, DHW = p.D * p.H * p.W;
  const int64_t Pq = p.OH * s.Wp;                         // one plane of dy at slab rows
  const int64_t over = (p.kw - 1) * p.dw;                 // read past the slab's end
  dw_over_tasks(p.N * s.ntiles, p.K * s.Kc, dw, [&](int64_t task, T* acc) {
    const int64_t n = task / s.ntiles;
    const int64_t od0 = task % s.ntiles * s.TD, od1 = imin(p.OD, od0 + s.TD);
    const int64_t TDn = od1 - od0;
    const int64_t SD = TDn + (p.kd - 1) * p.dd;
    const int64_t cs = SD * s.HWp;
    const int64_t dys = TDn * Pq;
    for (int64_t g = 0; g < p.groups; ++g) {
      T* slab = static_cast<T*>(
          thread_scratch(sizeof(T) * (s.Cg * cs + over + kWKB * dys), kSlabSlot));
      fill_slab(p, s, x + (n * p.C + g * s.Cg) * DHW, od0 - p.pd, SD, slab);
      for (int64_t q = 0; q < over; ++q) slab[s.Cg * cs + q] = T(0);
      T* dyp = slab + s.Cg * cs + over;                 // the packed dy block
      for (int64_t k0 = 0; k0 < s.Kg; k0 += kWKB) {
        const int kvalid = static_cast<int>(imin(kWKB, s.Kg - k0));
        for (int k = 0; k < kWKB; ++k)
          for (int64_t od = 0; od < TDn; ++od) {
            T* dst = dyp + k * dys + od * Pq;
            if (k >= kvalid) {
              std::memset(dst, 0, sizeof(T) * Pq);
              continue;
            }
            const T* src = dy + (n * p.K + g * s.Kg + k0 + k) * ODHW + (od0 + od) * OHW;
            for (int64_t oh = 0; oh < p.OH; ++oh) {
              std::memcpy(dst + oh * s.Wp, src + oh * p.OW, sizeof(T) * p.OW);
              std::memset(dst + oh * s.Wp + p.OW, 0, sizeof(T) * (s.Wp - p.OW));
            }
          }
        for (int64_t c = 0; c < s.Cg; ++c)
          for (int64_t a = 0; a < p.kd; ++a)
            for (int64_t i = 0; i < p.kh; ++i) {
              const T* xs = slab + c * cs + a * p.dd * s.HWp + i * p.dh * s.Wp;
              T* out = acc + (g * s.Kg + k0) * s.Kc + ((c * p.kd + a) * p.kh + i) * p.kw;
              for (int64_t j0 = 0; j0 < p.kw; j0 += kWJB) {
                const int jvalid = static_cast<int>(imin(kWJB, p.kw - j0));
                int64_t xj[kWJB];
                for (int j = 0; j < kWJB; ++j) xj[j] = (j0 + imin(j, jvalid - 1)) * p.dw;
                dw_block<kWKB, kWJB>(dyp, dys, TDn, Pq, xs, s.HWp, xj, kvalid, jvalid,
                                     out + j0, s.Kc);
              }
            }
      }
    }
  });
  return true;
}

// Weight gradient by outer products over output channels (all strides 1, width dilation 1):
// dW[k, c, a, i, j] = Σ_q dyT[q, k] · slab[c, q + (a, i, j)], a GEMM whose A panel is dy
// transposed to channels-last (k contiguous, aligned vector loads) and whose B columns are
// the (c, j) taps of one (a, i), read as broadcasts straight from the padded slab (no column
// matrix, no unaligned vector loads, no horizontal sums). One block keeps MV k-vectors × CB
// channels × kOJB width taps of sums in registers over every output position of a task.
constexpr int kOJB = 3;  // width taps per block
template <int MV>
constexpr int outer_cb() {  // channels per block: MV·CB·kOJB = 24 (AVX-512) / 12 (AVX2) sums
  return FASTDL_SIMD_LEVEL == 2 ? 8 / MV : 4 / MV;
}

// out[t·MV·N + k] = Σ_{od ∈ [od0, od1), oh ∈ [oh0, oh1), ow < OW}
//     dyT[((od·OH + oh)·OW + ow)·Kp + k] · xc[cb][od·HWp + oh·Wp + ow + j]
// for t = cb·kOJB + j, k < MV·N (the planes and rows outside read only zero padding).
template <int MV, int CB, class T>
inline void dw_outer_block(const T* dyT, int64_t Kp, int64_t od0, int64_t od1, int64_t oh0,
                           int64_t oh1, int64_t OH, int64_t OW, const T* const* xc,
                           int64_t HWp, int64_t Wp, T* out) {
  using V = Vec<T>;
  constexpr int N = V::N, JB = kOJB;
  V acc[MV][CB * JB];
#pragma GCC unroll 2
  for (int m = 0; m < MV; ++m)
#pragma GCC unroll 24
    for (int t = 0; t < CB * JB; ++t) acc[m][t] = V(T(0));
  for (int64_t od = od0; od < od1; ++od)
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      const T* d = dyT + (od * OH + oh) * OW * Kp;
      const T* xr[CB];
#pragma GCC unroll 8
      for (int cb = 0; cb < CB; ++cb) xr[cb] = xc[cb] + od * HWp + oh * Wp;
      for (int64_t ow = 0; ow < OW; ++ow, d += Kp) {
        V av[MV];
#pragma GCC unroll 2
        for (int m = 0; m < MV; ++m) av[m] = V::load(d + m * N);
#pragma GCC unroll 8
        for (int cb = 0; cb < CB; ++cb)
#pragma GCC unroll 3
          for (int j = 0; j < JB; ++j) {
            const V b(xr[cb][ow + j]);
#pragma GCC unroll 2
            for (int m = 0; m < MV; ++m)
              acc[m][cb * JB + j] = simd::mul_add(av[m], b, acc[m][cb * JB + j]);
          }
      }
    }
#pragma GCC unroll 24
  for (int t = 0; t < CB * JB; ++t)
#pragma GCC unroll 2
    for (int m = 0; m < MV; ++m) acc[m][t].store(out + t * MV * N + m * N);
}

// One k-block (MV·N output channels from k0, kvalid of them real) of one task (output
// planes [pd0, pd0 + TDn)) and group: every (channel block, a, i, width block) of the slab,
// added into acc (K × Kc).
template <int MV, class T>
void dw_outer_kblock(const Conv3dParams& p, const DirectShape& s, const T* dyT, int64_t Kp,
                     int64_t pd0, int64_t TDn, const T* slab, int64_t cs, int64_t k0,
                     int64_t kvalid, T* accg) {
  constexpr int N = Vec<T>::N, CB = outer_cb<MV>(), JB = kOJB;
  alignas(64) T out[CB * JB * MV * N];
  for (int64_t c0 = 0; c0 < s.Cg; c0 += CB) {
    const int64_t cvalid = imin(CB, s.Cg - c0);
    for (int64_t a = 0; a < p.kd; ++a)
      for (int64_t i = 0; i < p.kh; ++i)
        for (int64_t j0 = 0; j0 < p.kw; j0 += JB) {
          const int64_t jvalid = imin(JB, p.kw - j0);
          // the planes and rows whose tap (a, i) reads inside x (stride 1)
          const int64_t od0 = imin(TDn, imax(0, p.pd - a * p.dd - pd0));
          const int64_t od1 = imax(od0, imin(TDn, p.D + p.pd - a * p.dd - pd0));
          const int64_t oh0 = imin(p.OH, imax(0, p.ph - i * p.dh));
          const int64_t oh1 = imax(oh0, imin(p.OH, p.H + p.ph - i * p.dh));
          const T* xc[CB];
          for (int cb = 0; cb < CB; ++cb)  // a partial block repeats its last channel
            xc[cb] = slab + (c0 + imin(cb, cvalid - 1)) * cs + a * p.dd * s.HWp +
                     i * p.dh * s.Wp + j0;
          dw_outer_block<MV, CB>(dyT + k0, Kp, od0, od1, oh0, oh1, p.OH, p.OW, xc, s.HWp,
                                 s.Wp, out);
          for (int64_t cb = 0; cb < cvalid; ++cb)
            for (int64_t j = 0; j < jvalid; ++j) {
              const T* o = out + (cb * JB + j) * MV * N;
              T* dst = accg + k0 * s.Kc + (((c0 + cb) * p.kd + a) * p.kh + i) * p.kw + j0 + j;
              for (int64_t k = 0; k < kvalid; ++k) dst[k * s.Kc] += o[k];
            }
        }
  }
}

// Weight gradient, all strides 1 and width dilation 1 (false otherwise): per task (image,
// tile of output-depth planes) and group, the padded input slab as for the direct forward
// and dy of the tile transposed to dyT (positions × Kp, Kp = the group's channels rounded up
// to a vector, zeros past Kg); then the outer-product blocks above. Tasks are summed into a
// fixed number of chunk partials in a fixed order (thread-count independent).
template <class T>
bool backward_dw_outer(const Conv3dParams& p, const T* x, const T* dy, T* dw) {
  if (p.sd != 1 || p.sh != 1 || p.sw != 1 || p.dw != 1) return false;
  constexpr int N = Vec<T>::N;
  const DirectShape s = direct_shape(p, sizeof(T));
  const int64_t OHW = p.OH * p.OW, ODHW = p.OD * OHW, DHW = p.D * p.H * p.W;
  const int64_t Kp = (s.Kg + N - 1) / N * N;
  const int64_t over = kOJB + 1;  // a width block reads up to kOJB − 1 past the slab's end
  dw_over_tasks(p.N * s.ntiles, p.K * s.Kc, dw, [&](int64_t task, T* acc) {
    const int64_t n = task / s.ntiles;
    const int64_t od0 = task % s.ntiles * s.TD, od1 = imin(p.OD, od0 + s.TD);
    const int64_t TDn = od1 - od0, Q = TDn * OHW;
    const int64_t SD = TDn + (p.kd - 1) * p.dd;
    const int64_t cs = SD * s.HWp;
    T* slab = static_cast<T*>(thread_scratch(sizeof(T) * (s.Cg * cs + over), kSlabSlot));
    T* dyT = static_cast<T*>(thread_scratch(sizeof(T) * Q * Kp, kDyTSlot));
    for (int64_t g = 0; g < p.groups; ++g) {
      fill_slab(p, s, x + (n * p.C + g * s.Cg) * DHW, od0 - p.pd, SD, slab);
      for (int64_t q = 0; q < over; ++q) slab[s.Cg * cs + q] = T(0);
      const T* dyg = dy + (n * p.K + g * s.Kg) * ODHW + od0 * OHW;
      for (int64_t q0 = 0; q0 < Q; q0 += 16) {  // blocks of 16 positions: 16-long reads
        const int64_t q1 = imin(Q, q0 + 16);
        for (int64_t k = 0; k < s.Kg; ++k)
          for (int64_t q = q0; q < q1; ++q) dyT[q * Kp + k] = dyg[k * ODHW + q];
        for (int64_t q = q0; q < q1; ++q)
          for (int64_t k = s.Kg; k < Kp; ++k) dyT[q * Kp + k] = T(0);
      }
      T* accg = acc + g * s.Kg * s.Kc;
      for (int64_t k0 = 0; k0 < Kp;) {
        if (Kp - k0 >= 2 * N) {
          dw_outer_kblock<2>(p, s, dyT, Kp, od0, TDn, slab, cs, k0, imin(2 * N, s.Kg - k0),
                             accg);
          k0 += 2 * N;
        } else {
          dw_outer_kblock<1>(p, s, dyT, Kp, od0, TDn, slab, cs, k0, imin(N, s.Kg - k0), accg);
          k0 += N;
        }
      }
    }
  });
  return true;
}
#endif  // FASTDL_SIMD_LEVEL >= 1

template <class T>
void forward_k(const Conv3dParams& p, const T* x, const T* w, const T* b, T* y) {
#if FASTDL_SIMD_LEVEL >= 1
  if (p.sw == 1 && p.K / p.groups <= kDirectMaxKg) {
    forward_direct(p, x, w, b, y);
    return;
  }
#endif
  forward_gemm(p, x, w, b, y);
}

// The backward: the direct kernels where the shape fits them (AVX2 / AVX-512), else
// GEMM + col2vol (input gradient) and vol2col + GEMM (weight gradient); the bias gradient
// by the GEMM path's plain sums.
template <class T>
void backward_k(const Conv3dParams& p, const T* x, const T* w, const T* dy, T* dx, T* dw,
                T* db) {
#if FASTDL_SIMD_LEVEL >= 1
  if (dx && backward_dx_direct(p, w, dy, dx)) dx = nullptr;
  if (dw && (backward_dw_outer(p, x, dy, dw) || backward_dw_direct(p, x, dy, dw))) dw = nullptr;
#endif
  if (dx || dw || db) backward_gemm(p, x, w, dy, dx, dw, db);
}

template <class T>
constexpr Conv3dOpsT<T> ops_t() {
  return {&forward_k<T>, &backward_k<T>};
}

}  // namespace

// This ISA's table (declared in conv3d.h).
const Conv3dOps ops = {ops_t<float>(), ops_t<double>()};

}  // namespace FASTDL_SIMD_ISA
}  // namespace conv3d
}  // namespace fastdl
