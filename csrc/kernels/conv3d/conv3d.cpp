// 3-D convolution by vol2col + GEMM (see conv3d.h). The arithmetic is the GEMM family's
// per-ISA micro-kernels; vol2col / col2vol are copies (contiguous runs when the width stride
// is 1).
#include "kernels/conv3d/conv3d.h"

#include <omp.h>

#include <algorithm>
#include <cstring>

#include "common/allocator.h"
#include "common/parallel.h"
#include "kernels/gemm/gemm.h"

namespace fastdl {
namespace conv3d {
namespace {

constexpr int kColSlot = 4, kPartialSlot = 5;
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
  const int64_t plane = std::max<int64_t>(1, t.Kc * t.OHW * elem);
  t.TD = std::max<int64_t>(1, std::min<int64_t>(p.OD, kColBytes / plane));
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
        lo = std::min(lo, p.OW);
        hi = std::max(lo, std::min(hi, p.OW));
        // output rows oh whose input row y = oh·sh − ph + i·dh lies in [0, H)
        const int64_t y0 = i * p.dh - p.ph;
        int64_t oh_lo = y0 >= 0 ? 0 : (-y0 + p.sh - 1) / p.sh;
        int64_t oh_hi = (p.H - 1 - y0) >= 0 ? (p.H - 1 - y0) / p.sh + 1 : 0;
        oh_lo = std::min(oh_lo, p.OH);
        oh_hi = std::max(oh_lo, std::min(oh_hi, p.OH));
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
          lo = std::min(lo, p.OW);
          hi = std::max(lo, std::min(hi, p.OW));
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

}  // namespace

template <class T>
void forward(const Conv3dParams& p, const T* x, const T* w, const T* b, T* y) {
  const Tiling t = tiling(p, sizeof(T));
  const int64_t tasks = p.N * p.groups * t.ntiles;
  maybe_parallel(tasks, [&](int64_t task) {
    const int64_t n = task / (p.groups * t.ntiles), g = task / t.ntiles % p.groups;
    const int64_t od0 = task % t.ntiles * t.TD, od1 = std::min(p.OD, od0 + t.TD);
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

template <class T>
void backward(const Conv3dParams& p, const T* x, const T* w, const T* dy, T* dx, T* dw,
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
        const int64_t od0 = tile * t.TD, od1 = std::min(p.OD, od0 + t.TD);
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
    const int64_t tasks = p.N * t.ntiles;
    const int64_t per = (tasks + kMaxChunks - 1) / kMaxChunks;
    const int64_t chunks = (tasks + per - 1) / per;
    const int64_t wsz = p.K * t.Kc;
    T* part = chunks == 1 ? dw
                          : static_cast<T*>(thread_scratch(sizeof(T) * chunks * wsz,
                                                           kPartialSlot));
    maybe_parallel(chunks, [&](int64_t ch) {
      T* acc = part + (chunks == 1 ? 0 : ch * wsz);
      std::memset(acc, 0, sizeof(T) * wsz);
      for (int64_t task = ch * per; task < std::min(tasks, (ch + 1) * per); ++task) {
        const int64_t n = task / t.ntiles;
        const int64_t od0 = task % t.ntiles * t.TD, od1 = std::min(p.OD, od0 + t.TD);
        const int64_t cols = (od1 - od0) * t.OHW;
        T* col = static_cast<T*>(thread_scratch(sizeof(T) * t.Kc * cols, kColSlot));
        for (int64_t g = 0; g < p.groups; ++g) {
          vol2col(p, x + (n * p.C + g * t.Cg) * DHW, t.Cg, od0, od1, col);
          gemm_t(false, true, t.Kg, t.Kc, cols, T(1),
                 dy + (n * p.K + g * t.Kg) * t.ODHW + od0 * t.OHW, t.ODHW, col, cols, T(1),
                 acc + g * t.Kg * t.Kc, t.Kc);
        }
      }
    });
    if (chunks > 1)
      parallel_for(wsz, 4096, [&](int64_t i0, int64_t i1) {
        for (int64_t i = i0; i < i1; ++i) {
          T s = part[i];
          for (int64_t ch = 1; ch < chunks; ++ch) s += part[ch * wsz + i];
          dw[i] = s;
        }
      });
  }
}

template void forward<float>(const Conv3dParams&, const float*, const float*, const float*,
                             float*);
template void forward<double>(const Conv3dParams&, const double*, const double*,
                              const double*, double*);
template void backward<float>(const Conv3dParams&, const float*, const float*, const float*,
                              float*, float*, float*);
template void backward<double>(const Conv3dParams&, const double*, const double*,
                               const double*, double*, double*, double*);

}  // namespace conv3d
}  // namespace fastdl
