// Convolution implementation, written once and compiled per ISA: conv.cpp (generic),
// conv_avx2.cpp and conv_avx512.cpp include this file, which opens
// `namespace fastdl::conv::FASTDL_SIMD_ISA { namespace { ... } }` (common/simd.h), so the
// compiler vectorises the same loops for each instruction set and every copy has its own
// mangled names. Internal linkage only. Ends with the ISA's ConvOps table.
//
// Direct-convolution hooks, which return false when they do not handle a shape (the caller
// then runs im2col + GEMM):
//   bool direct_forward(const Conv2dParams&, const T* x, const T* w, const T* b, T* y);
//   bool direct_backward_input(const Conv2dParams&, const T* w, const T* dy, T* dx);
//   bool direct_backward_weight(const Conv2dParams&, const T* x, const T* dy, T* dw);
//   bool direct_dw_forward(const Conv2dParams&, const T* x, const T* w, const T* b, T* y);
//   bool direct_dw_backward(const Conv2dParams&, const T* x, const T* w, const T* dy, T* dx,
//                           T* dw);   (depthwise)
// and the prepacked-weight path (conv.h: conv2d_packed_size): packed_size, pack_f,
// fwd_packed_f. AVX-512 (FASTDL_SIMD_LEVEL == 2) has float32 direct kernels and a packed
// path, defined in conv_avx512.cpp after this include; the other ISAs have neither (below).
#pragma once
#include <cstdint>

#include "common/allocator.h"
#include "common/parallel.h"
#include "common/simd.h"
#include "kernels/conv/conv.h"
#include "kernels/conv/conv_util.h"
#include "kernels/gemm/gemm.h"
#include "kernels/conv/winograd_impl.h"
#include "kernels/conv/depthwise_impl.h"
#include "kernels/conv/pointwise_impl.h"

namespace fastdl {
namespace conv {
namespace FASTDL_SIMD_ISA {
namespace {

#if FASTDL_SIMD_LEVEL == 2
// float32: conv_avx512.cpp; float64 has no direct kernel.
bool direct_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                    float* y);
bool direct_backward_input(const Conv2dParams& p, const float* w, const float* dy, float* dx);
bool direct_backward_weight(const Conv2dParams& p, const float* x, const float* dy, float* dw);
bool direct_dw_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                       float* y, Act act);
bool direct_dw_backward(const Conv2dParams& p, const float* x, const float* w, const float* dy,
                        float* dx, float* dw);
inline bool direct_forward(const Conv2dParams&, const double*, const double*, const double*,
                           double*) {
  return false;
}
inline bool direct_backward_input(const Conv2dParams&, const double*, const double*, double*) {
  return false;
}
inline bool direct_backward_weight(const Conv2dParams&, const double*, const double*,
                                   double*) {
  return false;
}
inline bool direct_dw_forward(const Conv2dParams&, const double*, const double*,
                              const double*, double*, Act) {
  return false;
}
inline bool direct_dw_backward(const Conv2dParams&, const double*, const double*,
                               const double*, double*, double*) {
  return false;
}
int64_t packed_size(const Conv2dParams& p);
void pack_f(const Conv2dParams& p, const float* w, float* wp);
bool fwd_packed_f(const Conv2dParams& p, const float* x, const float* w, const float* wp,
                  const float* b, float* y, Act act);
#else
// This ISA has no direct convolution: everything runs on im2col + GEMM (or Winograd).
template <class T>
bool direct_forward(const Conv2dParams&, const T*, const T*, const T*, T*) { return false; }
template <class T>
bool direct_backward_input(const Conv2dParams&, const T*, const T*, T*) { return false; }
template <class T>
bool direct_backward_weight(const Conv2dParams&, const T*, const T*, T*) { return false; }
template <class T>
bool direct_dw_forward(const Conv2dParams&, const T*, const T*, const T*, T*, Act) {
  return false;
}
template <class T>
bool direct_dw_backward(const Conv2dParams&, const T*, const T*, const T*, T*, T*) {
  return false;
}
#endif

inline void gemm_t(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                   const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                   float* C, int64_t ldc) {
  ::fastdl::gemm::sgemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
inline void gemm_t(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
                   const double* A, int64_t lda, const double* B, int64_t ldb, double beta,
                   double* C, int64_t ldc) {
  ::fastdl::gemm::dgemm(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

// col[(c·R + r)·S + s][(oh − oh0)·OW + ow] = x[c, oh·sh − pt + r·dh, ow·sw − pl + s·dw]
// (0 outside), for output rows [oh0, oh1) and the Cg channels starting at x; col rows are
// `ncol` apart (ld, default: (oh1 − oh0)·OW).
template <class T>
void im2col(const Conv2dParams& p, const T* x, int64_t Cg, int64_t oh0, int64_t oh1, T* col,
            int64_t ld = 0) {
  const int64_t HW = p.H * p.W, OW = p.OW, ncol = ld ? ld : (oh1 - oh0) * OW;
  for (int64_t c = 0; c < Cg; ++c) {
    const T* xc = x + c * HW;
    for (int64_t r = 0; r < p.R; ++r) {
      int64_t lo_h, hi_h;
      valid_range(r * p.dh - p.pt, p.sh, p.H, p.OH, lo_h, hi_h);
      lo_h = imin(imax(lo_h, oh0), oh1);
      hi_h = imax(lo_h, imin(hi_h, oh1));
      for (int64_t s = 0; s < p.S; ++s) {
        T* dst = col + ((c * p.R + r) * p.S + s) * ncol - oh0 * OW;  // indexed by oh·OW + ow
        const int64_t offw = s * p.dw - p.pl;
        int64_t lo, hi;
        valid_range(offw, p.sw, p.W, OW, lo, hi);
        fill(dst + oh0 * OW, (lo_h - oh0) * OW, T(0));
        for (int64_t oh = lo_h; oh < hi_h; ++oh) {
          T* d = dst + oh * OW;
          const T* xr = xc + (oh * p.sh - p.pt + r * p.dh) * p.W + offw;
          for (int64_t ow = 0; ow < lo; ++ow) d[ow] = T(0);
          if (p.sw == 1) {
            for (int64_t ow = lo; ow < hi; ++ow) d[ow] = xr[ow];
          } else {
            const int64_t sw = p.sw;
            for (int64_t ow = lo; ow < hi; ++ow) d[ow] = xr[ow * sw];
          }
          for (int64_t ow = hi; ow < OW; ++ow) d[ow] = T(0);
        }
        fill(dst + hi_h * OW, (oh1 - hi_h) * OW, T(0));
      }
    }
  }
}

// The adjoint of im2col for output rows [oh0, oh1): x[c, ...] += col[...] (x initialised).
template <class T>
void col2im(const Conv2dParams& p, const T* col, int64_t Cg, int64_t oh0, int64_t oh1, T* x,
            int64_t ld = 0) {
  const int64_t HW = p.H * p.W, OW = p.OW, ncol = ld ? ld : (oh1 - oh0) * OW;
  for (int64_t c = 0; c < Cg; ++c) {
    T* xc = x + c * HW;
    for (int64_t r = 0; r < p.R; ++r) {
      int64_t lo_h, hi_h;
      valid_range(r * p.dh - p.pt, p.sh, p.H, p.OH, lo_h, hi_h);
      lo_h = imin(imax(lo_h, oh0), oh1);
      hi_h = imax(lo_h, imin(hi_h, oh1));
      for (int64_t s = 0; s < p.S; ++s) {
        const T* src = col + ((c * p.R + r) * p.S + s) * ncol - oh0 * OW;
        const int64_t offw = s * p.dw - p.pl;
        int64_t lo, hi;
        valid_range(offw, p.sw, p.W, OW, lo, hi);
        for (int64_t oh = lo_h; oh < hi_h; ++oh) {
          const T* d = src + oh * OW;
          T* xr = xc + (oh * p.sh - p.pt + r * p.dh) * p.W + offw;
          if (p.sw == 1) {
            for (int64_t ow = lo; ow < hi; ++ow) xr[ow] += d[ow];
          } else {
            const int64_t sw = p.sw;
            for (int64_t ow = lo; ow < hi; ++ow) xr[ow * sw] += d[ow];
          }
        }
      }
    }
  }
}

// Output rows per im2col tile: the tile (C/g·R·S × rows·OW) stays within ~kColBytes (L2),
// so GEMM packs it from cache. A function of the shape only (never of the thread count).
constexpr int64_t kColBytes = 256 * 1024;
inline int64_t tile_rows(const Conv2dParams& p, int64_t KK, int64_t elem) {
  int64_t cols = kColBytes / (elem * (KK > 0 ? KK : 1));
  if (cols < 64) cols = 64;
  int64_t rows = cols / (p.OW > 0 ? p.OW : 1);
  return imax(1, imin(rows, p.OH));
}

inline bool is_pointwise(const Conv2dParams& p) {
  return p.R == 1 && p.S == 1 && p.sh == 1 && p.sw == 1 && p.pt == 0 && p.pl == 0 &&
         p.OH == p.H && p.OW == p.W;
}

inline bool is_depthwise(const Conv2dParams& p) { return p.groups > 1 && p.C == p.groups; }
// One image of a grouped layer split among the threads by whole groups (each thread pads or
// phase-copies its own groups' channels) rather than by output rows of every group: at least
// as many groups as threads. Each output is computed the same way either way.
inline bool grouped_by_group(const Conv2dParams& p) {
  return p.groups > 1 && p.groups >= num_threads();
}

// Depthwise convolutions: depthwise_impl.h (the channel-blocked kernels and the plane loops).

// Sum with 8 independent partial sums combined in a fixed order (the bias gradient).
template <class T>
inline T dot_sum(const T* a, int64_t n) {
  T acc[8] = {T(0), T(0), T(0), T(0), T(0), T(0), T(0), T(0)};
  int64_t i = 0;
  for (; i + 8 <= n; i += 8)
    for (int j = 0; j < 8; ++j) acc[j] += a[i + j];
  for (; i < n; ++i) acc[0] += a[i];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

constexpr int64_t kMaxWeightChunks = 8;

// ---- batched im2col + GEMM ("gemm") -------------------------------------------------------
// A chunk of nb images is one GEMM: col (C/g·R·S × nb·OHW) holds the images' im2col blocks
// side by side, so a 4×4 map at batch 32 is a 512-column product instead of 32 products of
// 16 columns. nb: columns ≈ kGemmCols, a function of the shape only (never of threads).
constexpr int64_t kGemmCols = 2048;
inline int64_t gemm_images(const Conv2dParams& p) {
  const int64_t ohw = imax(1, p.OH * p.OW);
  return imax(1, imin(p.N, kGemmCols / ohw));
}

// ---- implicit GEMM: the im2col matrix packed straight into GEMM's B panels ---------------
// The im2col element (kk, j) of a chunk of images (kk = (c·R + r)·S + s over the group's
// channels, j = img·OHW + oh·OW + ow over the chunk's pixels) is
//   x[img][c][ih][iw], ih = oh·sh − pt + r·dh, iw = ow·sw − pl + s·dw (0 outside the image),
// i.e. x0[a_j + a_kk] where a pixel j gives (a_j, h_j = oh·sh − pt, w_j = ow·sw − pl) and a
// row kk gives (a_kk, h_kk = r·dh, w_kk = s·dw), a = img·C·H·W + c·H·W + h·W + w, valid when
// 0 <= h_j + h_kk < H and 0 <= w_j + w_kk < W. gemm::sgemm_implicit asks for blocks of B as
// NR-column panels: the forward's B is the matrix itself (rows kk, columns pixels), the weight
// gradient's is its transpose (rows pixels, columns kk). The packer takes per panel column
// the triple of its index (a table of nr entries), per row the other triple, and writes
// x0[a_col + a_row] or 0 (AVX-512 float32: masked 16-lane gathers). Offsets are int32: the
// callers fall back to im2col + GEMM when a chunk's input has 2^31 elements or more.
template <class T>
struct ImplicitB {
  const Conv2dParams* p;
  const T* x0;       // image n0, first channel of the group
  bool pixel_rows;   // false: rows kk, columns pixels (forward); true: the transpose (dW)
};

inline void pixel_desc(const Conv2dParams& p, int64_t j, int32_t& a, int32_t& h, int32_t& w) {
  const int64_t OHW = p.OH * p.OW, img = j / OHW, q = j % OHW;
  const int64_t hh = q / p.OW * p.sh - p.pt, ww = q % p.OW * p.sw - p.pl;
  a = static_cast<int32_t>(img * p.C * p.H * p.W + hh * p.W + ww);
  h = static_cast<int32_t>(hh);
  w = static_cast<int32_t>(ww);
}
inline void kk_desc(const Conv2dParams& p, int64_t kk, int32_t& a, int32_t& h, int32_t& w) {
  const int64_t RS = p.R * p.S, c = kk / RS, rs = kk % RS;
  const int64_t hh = rs / p.S * p.dh, ww = rs % p.S * p.dw;
  a = static_cast<int32_t>(c * p.H * p.W + hh * p.W + ww);
  h = static_cast<int32_t>(hh);
  w = static_cast<int32_t>(ww);
}

// One panel row: d[j] = x0[ca[j] + ra] where (ch[j] + rh, cw[j] + rw) lies in H × W, else 0.
template <class T>
inline void implicit_row(const T* x0, const int32_t* ca, const int32_t* ch, const int32_t* cw,
                         int64_t nr, int32_t ra, int32_t rh, int32_t rw, uint32_t H,
                         uint32_t W, T* d) {
#if FASTDL_SIMD_LEVEL == 2
  if (sizeof(T) == 4 && nr % 16 == 0) {
    const __m512i vra = _mm512_set1_epi32(ra), vrh = _mm512_set1_epi32(rh);
    const __m512i vrw = _mm512_set1_epi32(rw);
    const __m512i vH = _mm512_set1_epi32(static_cast<int32_t>(H));
    const __m512i vW = _mm512_set1_epi32(static_cast<int32_t>(W));
    for (int64_t j = 0; j < nr; j += 16) {
      const __m512i hh = _mm512_add_epi32(_mm512_loadu_si512(ch + j), vrh);
      const __m512i ww = _mm512_add_epi32(_mm512_loadu_si512(cw + j), vrw);
      const __mmask16 m = _mm512_cmplt_epu32_mask(hh, vH) & _mm512_cmplt_epu32_mask(ww, vW);
      const __m512i idx = _mm512_add_epi32(_mm512_loadu_si512(ca + j), vra);
      _mm512_storeu_ps(reinterpret_cast<float*>(d) + j,
                       _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, idx,
                                                reinterpret_cast<const float*>(x0), 4));
    }
    return;
  }
#endif
  for (int64_t j = 0; j < nr; ++j) {
    const bool in = static_cast<uint32_t>(ch[j] + rh) < H && static_cast<uint32_t>(cw[j] + rw) < W;
    d[j] = in ? x0[ca[j] + ra] : T(0);
  }
}

template <class T>
void implicit_pack(const void* vctx, int64_t pc, int64_t kc, int64_t jc, int64_t nc,
                   int64_t nr, T* bp) {
  if (!bp) return;  // the prefetch hint (gemm.h): a gathered panel has no contiguous source
  const ImplicitB<T>& cx = *static_cast<const ImplicitB<T>*>(vctx);
  const Conv2dParams& p = *cx.p;
  auto col_desc = cx.pixel_rows ? kk_desc : pixel_desc;
  auto row_desc = cx.pixel_rows ? pixel_desc : kk_desc;
  constexpr int64_t kMaxNR = 64;
  alignas(64) int32_t ca[kMaxNR], ch[kMaxNR], cw[kMaxNR];
  const uint32_t H = static_cast<uint32_t>(p.H), W = static_cast<uint32_t>(p.W);
  for (int64_t j0 = 0; j0 < nc; j0 += nr, bp += nr * kc) {
    for (int64_t j = 0; j < nr; ++j) {
      if (j0 + j < nc) {
        col_desc(p, jc + j0 + j, ca[j], ch[j], cw[j]);
      } else {  // padding column: never inside the image
        ca[j] = 0;
        ch[j] = -(1 << 30);
        cw[j] = 0;
      }
    }
    for (int64_t q = 0; q < kc; ++q) {
      int32_t ra, rh, rw;
      row_desc(p, pc + q, ra, rh, rw);
      implicit_row(cx.x0, ca, ch, cw, nr, ra, rh, rw, H, W, bp + q * nr);
    }
  }
}

// Whether a chunk of nb images may take the implicit path (int32 offsets).
inline bool implicit_ok(const Conv2dParams& p, int64_t nb) {
  return nb * p.C * p.H * p.W < (int64_t(1) << 31) && nb * p.OH * p.OW < (int64_t(1) << 31) &&
         ::fastdl::gemm::blocking(4).nr <= 64 && ::fastdl::gemm::blocking(8).nr <= 64;
}

inline void gemm_implicit_t(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda,
                            const ImplicitB<float>& b, float beta, float* C, int64_t ldc,
                            int64_t c_seg = 0, int64_t c_seg_stride = 0) {
  ::fastdl::gemm::sgemm_implicit(m, n, k, A, lda, implicit_pack<float>, &b, beta, C, ldc,
                                 c_seg, c_seg_stride);
}
inline void gemm_implicit_t(int64_t m, int64_t n, int64_t k, const double* A, int64_t lda,
                            const ImplicitB<double>& b, double beta, double* C, int64_t ldc,
                            int64_t c_seg = 0, int64_t c_seg_stride = 0) {
  ::fastdl::gemm::dgemm_implicit(m, n, k, A, lda, implicit_pack<double>, &b, beta, C, ldc,
                                 c_seg, c_seg_stride);
}

// col[kk][j·OHW + ohw] for images n0 .. n0+nb, channels of group g; threads over (image, c).
template <class T>
void im2col_images(const Conv2dParams& p, const T* x, int64_t g, int64_t n0, int64_t nb,
                   T* col) {
  const int64_t Cg = p.C / p.groups, HW = p.H * p.W, OHW = p.OH * p.OW, ld = nb * OHW;
  const int64_t RS = p.R * p.S;
  parallel_for(nb * Cg, 1, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t j = i / Cg, c = i % Cg;
      im2col(p, x + ((n0 + j) * p.C + g * Cg + c) * HW, int64_t(1), int64_t(0), p.OH,
             col + c * RS * ld + j * OHW, ld);
    }
  });
}

// dx[n0 + j, g·Cg + c] = col2im of col's block (j, c) (the planes overwritten); threads over
// (image, c), or none (`threads` false: inside another parallel loop).
template <class T>
void col2im_images(const Conv2dParams& p, const T* col, int64_t g, int64_t n0, int64_t nb,
                   T* dx, bool threads = true) {
  const int64_t Cg = p.C / p.groups, HW = p.H * p.W, OHW = p.OH * p.OW, ld = nb * OHW;
  const int64_t RS = p.R * p.S;
  auto body = [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t j = i / Cg, c = i % Cg;
      T* d = dx + ((n0 + j) * p.C + g * Cg + c) * HW;
      fill(d, HW, T(0));
      col2im(p, col + c * RS * ld + j * OHW, int64_t(1), int64_t(0), p.OH, d, ld);
    }
  };
  if (threads)
    parallel_for(nb * Cg, 1, body);
  else
    body(0, nb * Cg);
}

// Rows [k0, k0 + Kg) of images n0 .. n0+nb: dst[k][j·OHW + i] = src[n0 + j][k0 + k][i]
// (to_nchw false), or the reverse copy plus bias (to_nchw true).
template <class T>
void regroup(const Conv2dParams& p, int64_t k0, int64_t Kg, int64_t n0, int64_t nb, T* nchw,
             T* rows, bool to_nchw, const T* bias, bool threads = true) {
  const int64_t OHW = p.OH * p.OW, ld = nb * OHW;
  auto body = [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t j = i / Kg, k = i % Kg;
      T* a = nchw + ((n0 + j) * p.K + k0 + k) * OHW;
      T* r = rows + k * ld + j * OHW;
      if (to_nchw) {
        const T bk = bias ? bias[k0 + k] : T(0);
        for (int64_t q = 0; q < OHW; ++q) a[q] = r[q] + bk;
      } else {
        for (int64_t q = 0; q < OHW; ++q) r[q] = a[q];
      }
    }
  };
  if (threads)
    parallel_for(nb * Kg, 16, body);
  else
    body(0, nb * Kg);
}

// GEMM's in-place ("thin") path for m <= 128, k <= 800, B not transposed (gemm.cpp) reads
// a wide im2col matrix badly (measured 37 vs 78 GFLOP/s, one thread, 64×2048×576); such
// forwards, when they must write out the im2col matrix (no implicit path: a chunk of 2^31
// input elements), compute the transposed product Yᵀ = colᵀ·Wᵀ instead (m = the columns).
inline bool gemm_transposed(int64_t Kg, int64_t KK) { return Kg <= 128 && KK <= 800; }

// The stride-1 input gradient's geometry as a forward convolution (see
// gemm_backward_input_as_forward).
inline Conv2dParams dx_params(const Conv2dParams& p) {
  Conv2dParams q = p;
  q.C = p.K;
  q.H = p.OH;
  q.W = p.OW;
  q.K = p.C;
  q.OH = p.H;
  q.OW = p.W;
  q.pt = (p.R - 1) * p.dh - p.pt;
  q.pl = (p.S - 1) * p.dw - p.pl;
  return q;
}

// Forward: per chunk of nb images and group, Y_g (Kg × nb·OHW) = W_g · col, col packed
// implicitly (no im2col buffer) into GEMM's panels. Y_g is written in place in NCHW when
// OH·OW is a multiple of the micro-kernel's NR (the GEMM's C in segments of OH·OW columns,
// one per image, K·OH·OW apart: gemm.h c_seg; the bias added after), or for one image;
// else it is a scratch matrix copied out to NCHW with the bias. In place against the copy-out
// (one thread, CPU time, batch 32, 5 rounds interleaved, the minimum; 2-core Xeon shared with
// other jobs, 2026-12-03): 128→128 16² forward 15.9 vs 16.4 ms, input gradient 16.1 vs 16.6;
// 256→256 8² 13.7 vs 14.1 and 14.1 vs 14.9; 64→128 32² s2 9.4 vs 10.0; 128→256 16² s2
// 7.1 vs 7.5 (3-7 % faster).
template <class T>
void gemm_forward(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y) {
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups, KK = Cg * p.R * p.S;
  const int64_t OHW = p.OH * p.OW, NB = gemm_images(p);
  const bool implicit = implicit_ok(p, NB);
  const bool tr = !implicit && gemm_transposed(Kg, KK);
  const bool segmented = implicit && NB > 1 && OHW % ::fastdl::gemm::blocking(sizeof(T)).nr == 0;
  PoolBuf colb(implicit ? 0 : sizeof(T) * KK * NB * OHW + 64);
  PoolBuf outb((NB > 1 && !segmented) || tr ? sizeof(T) * Kg * NB * OHW + 64 : 0);
  T* col = static_cast<T*>(colb.p);
  T* out = static_cast<T*>(outb.p);
  for (int64_t n0 = 0; n0 < p.N; n0 += NB) {
    const int64_t nb = imin(NB, p.N - n0), cols = nb * OHW;
    for (int64_t g = 0; g < p.groups; ++g) {
      const T* wg = w + g * Kg * KK;
      const ImplicitB<T> ib{&p, x + (n0 * p.C + g * Cg) * p.H * p.W, false};
      if (!implicit) im2col_images(p, x, g, n0, nb, col);
      if (tr) {  // out (cols × Kg) = colᵀ · wgᵀ, then y[n][k][q] = out[j·OHW + q][k] + b
        gemm_t(true, true, cols, Kg, KK, T(1), col, cols, wg, KK, T(0), out, Kg);
        parallel_for(nb * Kg, 16, [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; ++i) {
            const int64_t j = i / Kg, k = i % Kg;
            T* yk = y + ((n0 + j) * p.K + g * Kg + k) * OHW;
            const T* src = out + j * OHW * Kg + k;
            const T bk = b ? b[g * Kg + k] : T(0);
            for (int64_t q = 0; q < OHW; ++q) yk[q] = src[q * Kg] + bk;
          }
        });
        continue;
      }
      if (segmented) {  // C = the chunk's output planes of group g, in place
        T* c = y + (n0 * p.K + g * Kg) * OHW;
        gemm_implicit_t(Kg, cols, KK, wg, KK, ib, T(0), c, OHW, OHW, p.K * OHW);
        if (b) {
          parallel_for(nb * Kg, grain_for(OHW), [&](int64_t i0, int64_t i1) {
            for (int64_t i = i0; i < i1; ++i) {
              const int64_t j = i / Kg, k = i % Kg;
              const T bk = b[g * Kg + k];
              T* yk = c + (j * p.K + k) * OHW;
              for (int64_t q = 0; q < OHW; ++q) yk[q] += bk;
            }
          });
        }
        continue;
      }
      // the output plane block is the GEMM's C for one image, else a scratch matrix
      T* c = nb == 1 ? y + (n0 * p.K + g * Kg) * OHW : out;
      if (implicit)
        gemm_implicit_t(Kg, cols, KK, wg, KK, ib, T(0), c, cols);
      else
        gemm_t(false, false, Kg, cols, KK, T(1), wg, KK, col, cols, T(0), c, cols);
      if (nb > 1) {
        regroup(p, g * Kg, Kg, n0, nb, y, out, true, b);
      } else if (b) {
        parallel_for(Kg, 16, [&](int64_t k0, int64_t k1) {
          for (int64_t k = k0; k < k1; ++k) {
            const T bk = b[g * Kg + k];
            T* yk = c + k * OHW;
            for (int64_t q = 0; q < OHW; ++q) yk[q] += bk;
          }
        });
      }
    }
  }
}

// The weight gradient of a product with at most one float32 NR-column panel (KK <= 32: an RGB
// stem's 3·3·3 = 27) over fixed groups of the batch's chunks (kWgGroups, a function of the
// shape only), one group's GEMMs on one thread, the groups' partial sums added in group order:
// such a product can split only dW's rows between threads, each packing all of B (the im2col
// gathers, the bulk of its work), so two threads ran it no faster than one. The input
// gradient, when asked for, goes with it chunk by chunk (the chunk's dY regrouped once for
// both). Bitwise the same for any thread count. Measured, ResNet-18 CIFAR's stem 3→64 32² at
// batch 32, A/B against the chunks in turn in one process, ms before / after: weight
// gradient 1.31–1.50 / 0.92–1.00 on 2 threads, 1.77 / 1.78 on 1; with the input gradient
// 1.71–1.73 / 1.30–1.32 on 2 threads, 2.51 / 2.52 on 1.
constexpr int64_t kWgGroups = 8;
inline bool gemm_dw_grouped(const Conv2dParams& p, int64_t nchunks) {
  return p.C / p.groups * p.R * p.S <= ::fastdl::gemm::blocking(4).nr && nchunks > 1;
}

template <class T>
void gemm_backward_grouped(const Conv2dParams& p, const T* x, const T* w, const T* dy, T* dx,
                           T* dw) {
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups, KK = Cg * p.R * p.S;
  const int64_t HW = p.H * p.W, OHW = p.OH * p.OW, NB = gemm_images(p);
  const int64_t nchunks = (p.N + NB - 1) / NB, G = imin(kWgGroups, nchunks), wsize = p.K * KK;
  PoolBuf partb(sizeof(T) * (G - 1) * wsize + 64);
  T* parts = static_cast<T*>(partb.p);
  parallel_for(G, 1, [&](int64_t g0, int64_t g1) {
    // the calling thread's buffers (one per thread rather than per group: on one thread the
    // groups' eight regrouped copies cost 2–4 % more than one reused)
    T* t = NB > 1 ? static_cast<T*>(thread_scratch(sizeof(T) * Kg * NB * OHW, kScratchConvDyT))
                  : nullptr;
    T* col = dx ? static_cast<T*>(thread_scratch(sizeof(T) * KK * NB * OHW, kScratchConvGCol))
                : nullptr;
    for (int64_t gi = g0; gi < g1; ++gi) {
      T* out = gi == 0 ? dw : parts + (gi - 1) * wsize;
      const int64_t c0 = gi * nchunks / G, c1 = (gi + 1) * nchunks / G;
      for (int64_t c = c0; c < c1; ++c) {
        const int64_t n0 = c * NB, nb = imin(NB, p.N - n0), cols = nb * OHW;
        for (int64_t g = 0; g < p.groups; ++g) {
          const T* dyg = dy + (n0 * p.K + g * Kg) * OHW;
          if (nb > 1) {  // the chunk's dY_g as a (Kg × cols) matrix
            regroup(p, g * Kg, Kg, n0, nb, const_cast<T*>(dy), t, false,
                    static_cast<const T*>(nullptr), false);
            dyg = t;
          }
          const ImplicitB<T> ib{&p, x + (n0 * p.C + g * Cg) * HW, true};
          gemm_implicit_t(Kg, KK, cols, dyg, cols, ib, c == c0 ? T(0) : T(1),
                          out + g * Kg * KK, KK);
          if (dx) {  // as gemm_backward's: the column gradient, then col2im
            gemm_t(true, false, KK, cols, Kg, T(1), w + g * Kg * KK, KK, dyg, cols, T(0), col,
                   cols);
            col2im_images(p, col, g, n0, nb, dx, false);
          }
        }
      }
    }
  });
  for (int64_t gi = 1; gi < G; ++gi) {
    const T* part = parts + (gi - 1) * wsize;
    for (int64_t i = 0; i < wsize; ++i) dw[i] += part[i];
  }
}

// dx and/or dw (either may be nullptr; dw overwritten). dW_g += dY_g · colᵀ per chunk (colᵀ
// packed implicitly), dcol = W_gᵀ · dY_g then col2im.
template <class T>
void gemm_backward(const Conv2dParams& p, const T* x, const T* w, const T* dy, T* dx, T* dw) {
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups, KK = Cg * p.R * p.S;
  const int64_t OHW = p.OH * p.OW, NB = gemm_images(p);
  const bool implicit = implicit_ok(p, NB);
  if (dw && implicit && gemm_dw_grouped(p, (p.N + NB - 1) / NB))
    return gemm_backward_grouped(p, x, w, dy, dx, dw);
  PoolBuf colb(dx || !implicit ? sizeof(T) * KK * NB * OHW + 64 : 0);
  PoolBuf dyb(NB > 1 ? sizeof(T) * Kg * NB * OHW + 64 : 0);
  T* col = static_cast<T*>(colb.p);
  for (int64_t n0 = 0; n0 < p.N; n0 += NB) {
    const int64_t nb = imin(NB, p.N - n0), cols = nb * OHW;
    for (int64_t g = 0; g < p.groups; ++g) {
      // dY of the chunk as a (Kg × cols) matrix
      const T* dyg;
      if (nb == 1) {
        dyg = dy + (n0 * p.K + g * Kg) * OHW;
      } else {
        T* t = static_cast<T*>(dyb.p);
        regroup(p, g * Kg, Kg, n0, nb, const_cast<T*>(dy), t, false, static_cast<T*>(nullptr));
        dyg = t;
      }
      if (dw) {
        const T beta = n0 == 0 ? T(0) : T(1);
        if (implicit) {
          const ImplicitB<T> ib{&p, x + (n0 * p.C + g * Cg) * p.H * p.W, true};
          gemm_implicit_t(Kg, KK, cols, dyg, cols, ib, beta, dw + g * Kg * KK, KK);
        } else {
          im2col_images(p, x, g, n0, nb, col);
          gemm_t(false, true, Kg, KK, cols, T(1), dyg, cols, col, cols, beta, dw + g * Kg * KK,
                 KK);
        }
      }
      if (dx) {
        gemm_t(true, false, KK, cols, Kg, T(1), w + g * Kg * KK, KK, dyg, cols, T(0), col,
               cols);
        col2im_images(p, col, g, n0, nb, dx);
      }
    }
  }
}

// The input gradient of a stride-1 convolution is itself a stride-1 convolution: of dY
// (N, K, OH, OW) with the flipped, transposed filters w'[c][k][r][s] = w[k][c][R−1−r][S−1−s]
// (per group), padding (R−1)·dh − pt and (S−1)·dw − pl (negative: a crop), output H × W:
//   dx[c, ih, iw] = Σ_{k,r,s} w[k,c,r,s] · dY[k, ih + pt − r·dh, iw + pl − s·dw].
// So it runs on gemm_forward's implicit GEMM (no column-gradient buffer, no col2im).
// Measured (fwd + dx, ms, one thread, batch 32, 3×3): 3→64 32² 16.2 vs 5.7 through col2im,
// 64→64 32² ~82 vs 63–81, 128→128 16² 50–53 vs 57–68, 256→256 8² 50–53 vs 63–64: only for
// at least 128 input channels per group (the product's rows).
inline bool gemm_dx_as_forward(const Conv2dParams& p) {
  return p.sh == 1 && p.sw == 1 && p.C / p.groups >= 128 && implicit_ok(p, gemm_images(p)) &&
         implicit_ok(dx_params(p), gemm_images(dx_params(p)));
}

template <class T>
void gemm_backward_input_as_forward(const Conv2dParams& p, const T* w, const T* dy, T* dx) {
  const Conv2dParams q = dx_params(p);
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups, RS = p.R * p.S;
  PoolBuf wb(sizeof(T) * p.C * Kg * RS + 64);
  T* wt = static_cast<T*>(wb.p);
  parallel_for(p.C, 4, [&](int64_t c0, int64_t c1) {
    for (int64_t ci = c0; ci < c1; ++ci) {
      const int64_t g = ci / Cg, c = ci % Cg;
      for (int64_t k = 0; k < Kg; ++k) {
        const T* src = w + ((g * Kg + k) * Cg + c) * RS;
        T* dst = wt + (ci * Kg + k) * RS;
        for (int64_t i = 0; i < RS; ++i) dst[i] = src[RS - 1 - i];
      }
    }
  });
  gemm_forward(q, dy, wt, static_cast<const T*>(nullptr), dx);
}

// ---- Winograd F(2×2, 3×3) / F(4×4, 3×3): winograd_impl.h (winograd_forward,
// winograd_backward_input, winograd_backward_weight)

// ---- generic: im2col + GEMM -------------------------------------------------------------
constexpr ScratchSlot kColSlot = kScratchConvCol;    // (common/allocator.h's slot list)
constexpr ScratchSlot kGColSlot = kScratchConvGCol;

// The forward; returns whether `act` (float32 only; none for float64) was applied on the way
// (else the caller applies it: fwd_f).
template <class T>
bool forward(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y,
             Act act = Act()) {
  if (p.N == 0 || p.K == 0) return true;
  if (is_depthwise(p)) {
    if (depthwise::blocked_forward<simd::Vec<T>>(p, x, w, b, y, act) ||
        direct_dw_forward(p, x, w, b, y, act))
      return true;
    depthwise::forward_loops(p, x, w, b, y);
    return false;
  }
  const Algo algo = algorithm_for(p, sizeof(T), Pass::forward);
  if (algo == Algo::gemm && pointwise::forward(p, x, w, b, y, act)) return true;  // 1×1
  if (algo == Algo::gemm) {
    gemm_forward(p, x, w, b, y);
    return false;
  }
  if (algo == Algo::winograd && winograd_forward(p, x, w, b, y)) return false;
  if (!is_pointwise(p) && direct_forward(p, x, w, b, y)) return false;
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups, KK = Cg * p.R * p.S;
  const int64_t HW = p.H * p.W, OHW = p.OH * p.OW;
  const bool pw = is_pointwise(p);
  const int64_t TR = tile_rows(p, KK, sizeof(T));
  auto image = [&](int64_t n) {
    const T* xn = x + n * p.C * HW;
    T* yn = y + n * p.K * OHW;
    if (pw) {
      for (int64_t g = 0; g < p.groups; ++g)
        gemm_t(false, false, Kg, OHW, KK, T(1), w + g * Kg * KK, KK, xn + g * Cg * HW, HW, T(0),
               yn + g * Kg * OHW, OHW);
    } else {
      T* col = static_cast<T*>(thread_scratch(sizeof(T) * KK * TR * p.OW, kColSlot));
      for (int64_t oh0 = 0; oh0 < p.OH; oh0 += TR) {
        const int64_t oh1 = imin(p.OH, oh0 + TR), ncol = (oh1 - oh0) * p.OW;
        for (int64_t g = 0; g < p.groups; ++g) {
          im2col(p, xn + g * Cg * HW, Cg, oh0, oh1, col);
          gemm_t(false, false, Kg, ncol, KK, T(1), w + g * Kg * KK, KK, col, ncol, T(0),
                 yn + g * Kg * OHW + oh0 * p.OW, OHW);
        }
      }
    }
    if (b)
      for (int64_t k = 0; k < p.K; ++k) {
        T* yk = yn + k * OHW;
        const T bk = b[k];
        for (int64_t i = 0; i < OHW; ++i) yk[i] += bk;
      }
  };
  if (p.N == 1) {
    image(0);  // the GEMM threads itself
  } else {
    parallel_for(p.N, 1, [&](int64_t n0, int64_t n1) {
      for (int64_t n = n0; n < n1; ++n) image(n);
    });
  }
  return false;
}

// The activation as a pass over the whole output (paths that do not fuse it).
void act_output(const Conv2dParams& p, float* y, Act act) {
  if (!act.on()) return;
  const int64_t n = p.N * p.K * p.OH * p.OW;
  parallel_for((n + 4095) / 4096, 16, [&](int64_t i0, int64_t i1) {
    act_span(y + i0 * 4096, imin(n, i1 * 4096) - i0 * 4096, act);
  });
}


template <class T>
void backward(const Conv2dParams& p, const T* x, const T* w, const T* dy, T* dx, T* dw,
              T* db) {
  const int64_t HW = p.H * p.W, OHW = p.OH * p.OW;
  if (db) {
    parallel_for(p.K, 4, [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) {
        T acc = T(0);
        for (int64_t n = 0; n < p.N; ++n) acc += dot_sum(dy + (n * p.K + k) * OHW, OHW);
        db[k] = acc;
      }
    });
  }
  if (!dx && !dw) return;
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups, KK = Cg * p.R * p.S;
  if (p.N == 0 || p.K == 0) {
    if (dw) fill(dw, p.K * KK, T(0));
    if (dx) fill(dx, p.N * p.C * HW, T(0));
    return;
  }
  if (is_depthwise(p)) {
    if (!depthwise::blocked_backward<simd::Vec<T>>(p, x, w, dy, dx, dw) &&
        !direct_dw_backward(p, x, w, dy, dx, dw))
      depthwise::backward_loops(p, x, w, dy, dx, dw);
    return;
  }
  {
    const Algo ax = algorithm_for(p, sizeof(T), Pass::input_grad);
    const Algo aw = algorithm_for(p, sizeof(T), Pass::weight_grad);
    // 1×1: the whole batch as one GEMM (pointwise_impl.h)
    if (dx && ax == Algo::gemm && pointwise::backward_input(p, w, dy, dx)) dx = nullptr;
    if (dw && aw == Algo::gemm && pointwise::backward_weight(p, x, dy, dw)) dw = nullptr;
    if (dx && ax == Algo::gemm && gemm_dx_as_forward(p)) {
      gemm_backward_input_as_forward(p, w, dy, dx);
      dx = nullptr;
    }
    T* gdx = dx && ax == Algo::gemm ? dx : nullptr;
    T* gdw = dw && aw == Algo::gemm ? dw : nullptr;
    if (gdx || gdw) {
      gemm_backward(p, x, w, dy, gdx, gdw);
      if (gdx) dx = nullptr;
      if (gdw) dw = nullptr;
    }
    if (dx && ax == Algo::winograd && winograd_backward_input(p, w, dy, dx)) dx = nullptr;
    if (dw && aw == Algo::winograd && winograd_backward_weight(p, x, dy, dw)) dw = nullptr;
    if (!dx && !dw) return;
  }
  const bool pw = is_pointwise(p);
  if (dx && !pw && direct_backward_input(p, w, dy, dx)) dx = nullptr;  // done
  if (dw && !pw && direct_backward_weight(p, x, dy, dw)) dw = nullptr;  // done
  if (!dx && !dw) return;
  // Weight-gradient chunks: a fixed function of N, never of the thread count.
  const int64_t chunk = (p.N + kMaxWeightChunks - 1) / kMaxWeightChunks;
  const int64_t nchunks = (p.N + chunk - 1) / chunk;
  const int64_t wsize = p.K * KK;
  PoolBuf part(dw && nchunks > 1 ? sizeof(T) * nchunks * wsize : 0);
  T* parts = nchunks > 1 ? static_cast<T*>(part.p) : dw;
  const int64_t TR = tile_rows(p, KK, sizeof(T));
  const int64_t colsz = KK * TR * p.OW;
  parallel_for(nchunks, 1, [&](int64_t c0, int64_t c1) {
    T* col = (pw || !dw) ? nullptr
                         : static_cast<T*>(thread_scratch(sizeof(T) * colsz, kColSlot));
    T* gcol = (pw || !dx) ? nullptr
                          : static_cast<T*>(thread_scratch(sizeof(T) * colsz, kGColSlot));
    for (int64_t c = c0; c < c1; ++c) {
      T* dwc = dw ? parts + c * wsize : nullptr;
      const int64_t n_end = imin(p.N, (c + 1) * chunk);
      for (int64_t n = c * chunk; n < n_end; ++n) {
        const T* xn = x + n * p.C * HW;
        const T* dyn = dy + n * p.K * OHW;
        T* dxn = dx ? dx + n * p.C * HW : nullptr;
        if (pw) {
          for (int64_t g = 0; g < p.groups; ++g) {
            const T* dyg = dyn + g * Kg * OHW;
            if (dwc)
              gemm_t(false, true, Kg, KK, OHW, T(1), dyg, OHW, xn + g * Cg * HW, HW,
                     n == c * chunk ? T(0) : T(1), dwc + g * Kg * KK, KK);
            if (dxn)
              gemm_t(true, false, Cg, OHW, Kg, T(1), w + g * Kg * KK, KK, dyg, OHW, T(0),
                     dxn + g * Cg * HW, HW);
          }
          continue;
        }
        if (dxn) fill(dxn, p.C * HW, T(0));
        for (int64_t oh0 = 0; oh0 < p.OH; oh0 += TR) {
          const int64_t oh1 = imin(p.OH, oh0 + TR), ncol = (oh1 - oh0) * p.OW;
          for (int64_t g = 0; g < p.groups; ++g) {
            const T* dyg = dyn + g * Kg * OHW + oh0 * p.OW;
            if (dwc) {
              im2col(p, xn + g * Cg * HW, Cg, oh0, oh1, col);
              gemm_t(false, true, Kg, KK, ncol, T(1), dyg, OHW, col, ncol,
                     (n == c * chunk && oh0 == 0) ? T(0) : T(1), dwc + g * Kg * KK, KK);
            }
            if (dxn) {
              gemm_t(true, false, KK, ncol, Kg, T(1), w + g * Kg * KK, KK, dyg, OHW, T(0),
                     gcol, ncol);
              col2im(p, gcol, Cg, oh0, oh1, dxn + g * Cg * HW);
            }
          }
        }
      }
    }
  });
  if (dw && nchunks > 1) {
    parallel_for(wsize, 4096, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        T acc = parts[i];
        for (int64_t c = 1; c < nchunks; ++c) acc += parts[c * wsize + i];
        dw[i] = acc;
      }
    });
  }
}

void fwd_f(const Conv2dParams& p, const float* x, const float* w, const float* b, float* y,
           Act act) {
  if (!forward(p, x, w, b, y, act)) act_output(p, y, act);
}
void fwd_d(const Conv2dParams& p, const double* x, const double* w, const double* b,
           double* y) {
  forward(p, x, w, b, y);
}
void bwd_f(const Conv2dParams& p, const float* x, const float* w, const float* dy, float* dx,
           float* dw, float* db) {
  backward(p, x, w, dy, dx, dw, db);
}
void bwd_d(const Conv2dParams& p, const double* x, const double* w, const double* dy,
           double* dx, double* dw, double* db) {
  backward(p, x, w, dy, dx, dw, db);
}

// ---- depthwise on channels-last operands (conv.h: conv2d_depthwise_nhwc_*) ----------------
// The channel-blocked kernels read and write NHWC directly (depthwise_impl.h, nhwc); false
// where they do not take the shape (no vectors on this ISA, maps too large, a channel
// multiplier, an empty batch).
template <class T>
bool dw_nhwc_forward(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y,
                     Act act) {
  using V = simd::Vec<T>;
  if (!is_depthwise(p)) return false;
  if (!depthwise::nhwc_direct_preferred(p) &&
      depthwise::blocked_forward<V>(p, x, w, b, y, act, true))
    return true;
  return depthwise::nhwc_forward<V>(p, x, w, b, y, act);
}

// db[k] = Σ over the rows of dy (rows × K, a channels-last gradient's pixels): per block of L
// channels four vector sums over rows i ≡ u (mod 4), combined in a fixed order (bitwise the
// same for any thread count: threads split the blocks).
template <class T>
void nhwc_channel_sums(const T* dy, int64_t rows, int64_t K, T* db) {
  using V = simd::Vec<T>;
  constexpr int L = V::N;
  parallel_for((K + L - 1) / L, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t cb = b0; cb < b1; ++cb) {
      const int64_t c0 = cb * L, nc = imin(L, K - c0);
      V a[4] = {V(T(0)), V(T(0)), V(T(0)), V(T(0))};
      const T* q = dy + c0;
      int64_t i = 0;
      for (; i + 4 <= rows; i += 4)
        for (int u = 0; u < 4; ++u) a[u] = a[u] + V::load(q + (i + u) * K, nc);
      for (; i < rows; ++i) a[0] = a[0] + V::load(q + i * K, nc);
      alignas(64) T lane[L];
      ((a[0] + a[1]) + (a[2] + a[3])).store(lane);
      for (int64_t l = 0; l < nc; ++l) db[c0 + l] = lane[l];
    }
  });
}

template <class T>
bool dw_nhwc_backward(const Conv2dParams& p, const T* x, const T* w, const T* dy, T* dx,
                      T* dw, T* db) {
  if (!is_depthwise(p) || p.K != p.C || !depthwise::blocked_ok<simd::Vec<T>>(p)) return false;
  if (db) nhwc_channel_sums(dy, p.N * p.OH * p.OW, p.K, db);
  if (dx || dw) depthwise::blocked_backward<simd::Vec<T>>(p, x, w, dy, dx, dw, true);
  return true;
}

bool dwn_fwd_f(const Conv2dParams& p, const float* x, const float* w, const float* b, float* y,
               Act act) {
  return dw_nhwc_forward(p, x, w, b, y, act);
}
bool dwn_fwd_d(const Conv2dParams& p, const double* x, const double* w, const double* b,
               double* y) {
  return dw_nhwc_forward(p, x, w, b, y, Act());
}
bool dwn_bwd_f(const Conv2dParams& p, const float* x, const float* w, const float* dy,
               float* dx, float* dw, float* db) {
  return dw_nhwc_backward(p, x, w, dy, dx, dw, db);
}
bool dwn_bwd_d(const Conv2dParams& p, const double* x, const double* w, const double* dy,
               double* dx, double* dw, double* db) {
  return dw_nhwc_backward(p, x, w, dy, dx, dw, db);
}

#if FASTDL_SIMD_LEVEL < 2
// No packed path on this ISA: conv2d_forward_packed runs the plain forward.
int64_t packed_size(const Conv2dParams&) { return 0; }
void pack_f(const Conv2dParams&, const float*, float*) {}
bool fwd_packed_f(const Conv2dParams& p, const float* x, const float* w, const float*,
                  const float* b, float* y, Act act) {
  return forward(p, x, w, b, y, act);
}
#endif

// ---- prepacked weights: the Winograd plan (every ISA) in front of the ISA's own plans ------
// When the forward of p runs Winograd, the inference path's packed weight (conv.h:
// conv2d_packed_size) is the transformed filter U of wino_filters (forward layout), after a
// header of kWinoPackHeader floats: [kWinoPackTag, tile, NR]. The kernels check the header
// against the plan p needs now (the forced algorithm or FASTDL_WINOGRAD_TILE may have changed)
// and otherwise run the plain forward.
constexpr int64_t kWinoPackHeader = 16;
// distinct from the AVX-512 plans' tags (conv_avx512.cpp: 1 direct, 2 col, 3 strided, 4 rows)
constexpr float kWinoPackTag = 100.0f;

// Prepacked, the filter transform is done once, so the plan takes Winograd on smaller maps
// than the forward that transforms the filters on every call (winograd_preferred): from
// kWinoPackMinPixels output pixels in the batch, unless an algorithm is forced. Measured,
// batch 1, 1 thread, CPU time, packed weights, ms the plan before (rows / col) / Winograd,
// operands in cache | 64 MB flushed before each call: 512→512 7² 2.53 / 1.47 | 2.59 / 1.65,
// 512→512 4² 0.81 / 0.36 | 0.91 / 0.71, 256→256 8² 0.81 / 0.21 | 0.86 / 0.35, 1024→1024 4²
// 3.31 / 1.90 | 3.41 / 2.17, 64→64 8² 0.091 / 0.026 | 0.118 / 0.081; but 512→512 2² (4
// pixels) 0.27 / 0.33 | 0.52 / 0.50.
constexpr int64_t kWinoPackMinPixels = 16;
inline bool wino_pack_preferred(const Conv2dParams& p) {
  return forced_algorithm() == Algo::automatic &&
         winograd_worth(p, p.N * p.OH * p.OW, kWinoPackMinPixels);
}

int wino_pack_tile(const Conv2dParams& p) {
  if (!wino_ok(p) || p.OH <= 0 || p.OW <= 0) return 0;  // (a grouped layer: no plan)
  if (!wino_pack_preferred(p) && algorithm_for(p, sizeof(float), Pass::forward) != Algo::winograd)
    return 0;
  return winograd_tile_for(p, false);
}

int64_t packed_size_any(const Conv2dParams& p) {
  const int64_t tm = wino_pack_tile(p);
  if (!tm) return packed_size(p);
  return kWinoPackHeader + (tm + 2) * (tm + 2) * p.C * wino_padded<float>(p.K);
}

void pack_any(const Conv2dParams& p, const float* w, float* wp) {
  const int tm = wino_pack_tile(p);
  if (!tm) return pack_f(p, w, wp);
  fill(wp, kWinoPackHeader, 0.0f);
  wp[0] = kWinoPackTag;
  wp[1] = static_cast<float>(tm);
  wp[2] = static_cast<float>(wino_nr<float>());
  if (tm == 4)
    wino_filters<4>(w, p.K, p.C, false, wp + kWinoPackHeader);
  else
    wino_filters<2>(w, p.K, p.C, false, wp + kWinoPackHeader);
}

void fwd_packed_any(const Conv2dParams& p, const float* x, const float* w, const float* wp,
                    const float* b, float* y, Act act) {
  const int tm = wino_pack_tile(p);
  const bool wino_pack = wp[0] == kWinoPackTag;
  if (tm && wino_pack && wp[1] == static_cast<float>(tm) &&
      wp[2] == static_cast<float>(wino_nr<float>())) {
    const float* U = wp + kWinoPackHeader;
    if (tm == 4)
      wino_run<4>(p.N, p.C, p.H, p.W, p.K, p.OH, p.OW, p.pt, p.pl, x, U, b, y, p.C * p.H * p.W,
                  p.K * p.OH * p.OW);
    else
      wino_run<2>(p.N, p.C, p.H, p.W, p.K, p.OH, p.OW, p.pt, p.pl, x, U, b, y, p.C * p.H * p.W,
                  p.K * p.OH * p.OW);
    return act_output(p, y, act);
  }
  if (tm || wino_pack) return fwd_f(p, x, w, b, y, act);  // a stale plan
  if (!fwd_packed_f(p, x, w, wp, b, y, act)) act_output(p, y, act);
}


bool pwdw_f(const Conv2dParams& p, int64_t Ci, const float* x, const float* w1, const float* b1,
            Act a1, const float* w2, const float* b2, Act a2, float* y, bool nhwc) {
  return depthwise::blocked_pwdw_forward<simd::Vf>(p, Ci, x, w1, b1, a1, w2, b2, a2, y, nhwc);
}

}  // namespace

const ConvOps ops = {fwd_f,     fwd_d,     bwd_f,     bwd_d,    packed_size_any,
                     pack_any,  fwd_packed_any, pwdw_f, dwn_fwd_f, dwn_fwd_d,
                     dwn_bwd_f, dwn_bwd_d};

}  // namespace FASTDL_SIMD_ISA
}  // namespace conv
}  // namespace fastdl
