// 1×1 ("pointwise") convolutions without padding, any stride, any group count (not
// depthwise), float32 and float64, as one GEMM over the whole batch; compiled per ISA
// (included by conv_impl.h, whose "gemm" branches call it for these shapes).
//
// With L = OH·OW and xs the input subsampled by the stride (xs = x at stride 1), per group g:
//   forward          Y_g (Kg × N·L)  = W_g (Kg × Cg) · Xs_g (Cg × N·L)
//   input gradient   dXs_g (Cg × N·L) = W_gᵀ · dY_g            (dx = dXs scattered, else 0)
//   weight gradient  dW_g (Kg × Cg)  = Σ_chunks dY_g,chunk · Xs_g,chunkᵀ
// where a "(rows × N·L)" operand is the batch's planes side by side: element (r, j), j =
// img·L + q, at base[img·img_stride + r·L + q] -- NCHW itself, never copied into a matrix.
// gemm::sgemm_implicit packs B through a callback: pack_planes copies a panel's rows straight
// from the planes (a panel that straddles two images is copied piece by piece), pack_planes_t
// assembles the transposed operand of the weight gradient from gemm::spack_b's transposing
// packs, one per (panel, image). C is written in place in NCHW through sgemm_implicit's
// column segments (c_seg = L, one segment per image; micro-tiles that straddle two images
// go through a local tile), so no output copy either. The weight gradient's reduction runs
// over fixed chunks of images (a function of the shape only), each one GEMM accumulated into
// dW in chunk order; the GEMM splits C, never k, among threads: bitwise identical for any
// thread count. Maps of kOwnChunk pixels or more take one image per chunk, the larger of the
// two operands read in place by the micro-kernel (backward_weight).
//
// Why not the per-image GEMMs (the "direct" algorithm for a stride-1 1×1): a 7×7 map is a
// product with 49 columns, i.e. one full 32-column panel and one of 17 (35 % of the
// micro-kernel's work wasted), and the weights are packed again for every image; the
// weight gradient is a sum of N products of depth 49, each reading and writing all of dW.
// And not the batched implicit GEMM of gemm_forward: its packer gathers element by element
// (masked 16-lane gathers) and, with L not a multiple of NR, the output goes through a
// scratch matrix and a copy.
#pragma once
#include <cstdint>
#include <limits>

#include "common/allocator.h"
#include "common/parallel.h"
#include "kernels/conv/conv.h"
#include "kernels/conv/conv_util.h"
#include "kernels/gemm/gemm.h"

namespace fastdl {
namespace conv {
namespace FASTDL_SIMD_ISA {
namespace {
namespace pointwise {

// Whether the shape is a 1×1 convolution this file runs: no padding, every output pixel
// inside the input, not depthwise.
inline bool applies(const Conv2dParams& p) {
  return p.R == 1 && p.S == 1 && p.pt == 0 && p.pl == 0 && p.N > 0 && p.K > 0 && p.C > 0 &&
         p.OH > 0 && p.OW > 0 && (p.OH - 1) * p.sh < p.H && (p.OW - 1) * p.sw < p.W &&
         !(p.groups > 1 && p.C == p.groups);
}

inline bool strided(const Conv2dParams& p) {
  return p.sh != 1 || p.sw != 1 || p.OH != p.H || p.OW != p.W;
}

// The batch's planes as a (rows × N·L) matrix: (r, img·L + q) at base[img·img_stride + r·L + q].
template <class T>
struct Planes {
  const T* base;
  int64_t L, img_stride;
};

inline void gemm_pw(bool ta, int64_t m, int64_t n, int64_t k, const float* A, int64_t lda,
                    ::fastdl::gemm::PackBFn<float> pack, const void* ctx, float beta, float* C,
                    int64_t ldc, int64_t seg, int64_t seg_stride,
                    const ::fastdl::gemm::RowEpilogue<float>* epi = nullptr) {
  ::fastdl::gemm::sgemm_implicit(m, n, k, A, lda, pack, ctx, beta, C, ldc, seg, seg_stride, ta,
                                 epi);
}
inline void gemm_pw(bool ta, int64_t m, int64_t n, int64_t k, const double* A, int64_t lda,
                    ::fastdl::gemm::PackBFn<double> pack, const void* ctx, double beta,
                    double* C, int64_t ldc, int64_t seg, int64_t seg_stride,
                    const ::fastdl::gemm::RowEpilogue<double>* epi = nullptr) {
  ::fastdl::gemm::dgemm_implicit(m, n, k, A, lda, pack, ctx, beta, C, ldc, seg, seg_stride, ta,
                                 epi);
}
inline void gemm_pw_ain(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda,
                        ::fastdl::gemm::PackBFn<float> pack, const void* ctx, float beta,
                        float* C, int64_t ldc) {
  ::fastdl::gemm::sgemm_implicit_a_inplace(m, n, k, A, lda, pack, ctx, beta, C, ldc);
}
inline void gemm_pw_ain(int64_t m, int64_t n, int64_t k, const double* A, int64_t lda,
                        ::fastdl::gemm::PackBFn<double> pack, const void* ctx, double beta,
                        double* C, int64_t ldc) {
  ::fastdl::gemm::dgemm_implicit_a_inplace(m, n, k, A, lda, pack, ctx, beta, C, ldc);
}
// C (m × n) = Aᵀ · Bᵀ, A (k × m) and B (n × k) row-major.
inline void gemm_tt(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda, const float* B,
                    int64_t ldb, float* C, int64_t ldc) {
  ::fastdl::gemm::sgemm(true, true, m, n, k, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
}
inline void gemm_tt(int64_t m, int64_t n, int64_t k, const double* A, int64_t lda,
                    const double* B, int64_t ldb, double* C, int64_t ldc) {
  ::fastdl::gemm::dgemm(true, true, m, n, k, 1.0, A, lda, B, ldb, 0.0, C, ldc);
}
inline void pack_b(bool trans, int64_t kc, int64_t nc, const float* B, int64_t ldb, float* bp) {
  ::fastdl::gemm::spack_b(trans, kc, nc, B, ldb, bp);
}
inline void pack_b(bool trans, int64_t kc, int64_t nc, const double* B, int64_t ldb,
                   double* bp) {
  ::fastdl::gemm::dpack_b(trans, kc, nc, B, ldb, bp);
}

// d[0 .. n) = s[0 .. n), whole vectors and a masked tail: a panel's piece of one image (against
// an element-by-element copy: 960→160 and 576→160 7² forwards at batch 16, 1.04× faster).
template <class T>
inline void copy_span(const T* s, T* d, int64_t n) {
  using V = simd::Vec<T>;
  constexpr int W = V::N;
  int64_t i = 0;
  for (; i + W <= n; i += W) V::load(s + i).store(d + i);
  if (i < n) V::load(s + i, n - i, T(0)).store(d + i, n - i);
}

// B = the Planes matrix (rows: channels, columns: the batch's pixels), rows [pc, pc + kc) ×
// columns [jc, jc + nc) into panels of nr columns (gemm.h: PackBFn).
template <class T>
void pack_planes(const void* ctx, int64_t pc, int64_t kc, int64_t jc, int64_t nc, int64_t nr,
                 T* bp) {
  const Planes<T>& P = *static_cast<const Planes<T>*>(ctx);
  const int64_t L = P.L;
  constexpr int64_t kMaxNR = 64;
  if (!bp) {  // the prefetch hint (gemm.h: PackBFn): each image's piece of the kc rows
    for (int64_t j = jc; j < jc + nc;) {
      const int64_t img = j / L, q = j % L, len = imin(jc + nc - j, L - q);
      const T* s = P.base + img * P.img_stride + pc * L + q;
      for (int64_t r = 0; r < kc; ++r) ::fastdl::gemm::prefetch_l2(s + r * L, sizeof(T) * len);
      j += len;
    }
    return;
  }
  for (int64_t j0 = 0; j0 < nc; j0 += nr, bp += nr * kc) {
    const int64_t w = imin(nr, nc - j0), j = jc + j0, img = j / L, q = j % L;
    if (q + w <= L) {  // one image: the GEMM's own (vectorised, zero-padding) packing
      pack_b(false, kc, w, P.base + img * P.img_stride + pc * L + q, L, bp);
      continue;
    }
    // pieces of consecutive images: (source offset, length) at panel column d
    int64_t off[kMaxNR], len[kMaxNR], at[kMaxNR], np = 0;
    for (int64_t d = 0, i = img, qq = q; d < w; ++np, ++i, qq = 0) {
      off[np] = i * P.img_stride + pc * L + qq;
      len[np] = imin(w - d, L - qq);
      at[np] = d;
      d += len[np];
    }
    for (int64_t r = 0; r < kc; ++r) {
      T* d = bp + r * nr;
      for (int64_t e = 0; e < np; ++e) copy_span(P.base + off[e] + r * L, d + at[e], len[e]);
      for (int64_t i = w; i < nr; ++i) d[i] = T(0);
    }
  }
}

// B = the transposed Planes matrix (rows: the batch's pixels, columns: channels): per panel
// and image, one transposing pack of that image's rows (gemm.h: spack_b).
template <class T>
void pack_planes_t(const void* ctx, int64_t pc, int64_t kc, int64_t jc, int64_t nc, int64_t nr,
                   T* bp) {
  const Planes<T>& P = *static_cast<const Planes<T>*>(ctx);
  const int64_t L = P.L;
  if (!bp) {  // the prefetch hint (gemm.h: PackBFn): per channel, each image's run of pixels
    for (int64_t r = 0; r < kc;) {
      const int64_t i = pc + r, img = i / L, q = i % L, len = imin(kc - r, L - q);
      for (int64_t c = jc; c < jc + nc; ++c)
        ::fastdl::gemm::prefetch_l2(P.base + img * P.img_stride + c * L + q, sizeof(T) * len);
      r += len;
    }
    return;
  }
  for (int64_t j0 = 0; j0 < nc; j0 += nr, bp += nr * kc) {
    const int64_t w = imin(nr, nc - j0), c = jc + j0;
    for (int64_t r = 0; r < kc;) {
      const int64_t i = pc + r, img = i / L, q = i % L, len = imin(kc - r, L - q);
      pack_b(true, len, w, P.base + img * P.img_stride + c * L + q, L, bp + r * nr);
      r += len;
    }
  }
}

// xs[n][c][oh][ow] = x[n][c][oh·sh][ow·sw] (the strided case's input; threads over planes).
template <class T>
void subsample(const Conv2dParams& p, const T* x, T* xs) {
  const int64_t HW = p.H * p.W, L = p.OH * p.OW;
  parallel_for(p.N * p.C, grain_for(L), [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const T* s = x + i * HW;
      T* d = xs + i * L;
      for (int64_t oh = 0; oh < p.OH; ++oh) {
        const T* sr = s + oh * p.sh * p.W;
        T* dr = d + oh * p.OW;
        if (p.sw == 1) {
          for (int64_t ow = 0; ow < p.OW; ++ow) dr[ow] = sr[ow];
        } else {
          for (int64_t ow = 0; ow < p.OW; ++ow) dr[ow] = sr[ow * p.sw];
        }
      }
    }
  });
}

// The input the planes are read from: x, or for a strided layer its subsample written into
// sub (allocated by the caller for N·C·OH·OW values).
template <class T>
const T* planes_input(const Conv2dParams& p, const T* x, const PoolBuf& sub) {
  if (!strided(p)) return x;
  subsample(p, x, static_cast<T*>(sub.p));
  return static_cast<const T*>(sub.p);
}

// The bias and the activation: the GEMM's epilogue (gemm.h: RowEpilogue), applied to each
// micro-tile by the thread that computed it once its sum is complete, so the whole batch is
// one GEMM and no pass reads the output again; bitwise the separate bias-and-clamp pass it
// replaces (which followed GEMMs over chunks of about 512 KB of output, half of each
// chunk's output then read by the other thread). float64 forwards take the bias only (Act
// is float32's, conv.h).
template <class T>
::fastdl::gemm::RowEpilogue<T> forward_epilogue(const T* b, Act act) {
  constexpr T inf = std::numeric_limits<T>::infinity();
  if (sizeof(T) == 4 && act.on()) return {b, static_cast<T>(act.lo), static_cast<T>(act.hi)};
  return {b, -inf, inf};
}

// One image of at most kRowsMaxPixels output pixels: the forward as Yᵀ (L × Kg) = Xsᵀ · W_gᵀ,
// the pixels in the micro-kernel's MR rows and the output channels in its NR columns, then
// transposed into NCHW with the bias. A 7×7 map is 49 of 64 columns of two 32-wide panels
// as Y = W·Xs, but 49 of 60 rows as Yᵀ, and the channel counts fill whole panels. Measured,
// batch 1, 1 thread, GFLOP/s Y = W·Xs / Yᵀ: 512→2048 7² 75 / 95, 960→160 7² 75 / 91; at 14²
// (196 pixels) the two are within 5 %.
constexpr int64_t kRowsMaxPixels = 64;
inline bool rows_form(const Conv2dParams& p) {
  return p.N == 1 && p.OH * p.OW <= kRowsMaxPixels;
}

template <class T>
void forward_rows(const Conv2dParams& p, const T* xs, const T* w, const T* b, T* y, Act act) {
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups, L = p.OH * p.OW;
  PoolBuf outb(sizeof(T) * L * Kg + 64);
  T* out = static_cast<T*>(outb.p);
  for (int64_t g = 0; g < p.groups; ++g) {
    gemm_tt(L, Kg, Cg, xs + g * Cg * L, L, w + g * Kg * Cg, Cg, out, Kg);
    T* yg = y + g * Kg * L;
    parallel_for(Kg, 16, [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) {
        const T bk = b ? b[g * Kg + k] : T(0);
        T* yk = yg + k * L;
        for (int64_t q = 0; q < L; ++q) yk[q] = out[q * Kg + k] + bk;
        if (act.on()) act_span(yk, L, act);
      }
    });
  }
}

// y = the convolution, then the activation `act` (in the GEMM's epilogue, or on each plane as
// it is transposed out); false when the shape is not this file's.
template <class T>
bool forward(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y, Act act) {
  if (!applies(p)) return false;
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups, L = p.OH * p.OW;
  PoolBuf sub(strided(p) ? sizeof(T) * p.N * p.C * L + 64 : 0);
  const T* xs = planes_input(p, x, sub);
  if (rows_form(p)) {
    forward_rows(p, xs, w, b, y, act);
    return true;
  }
  const bool epilogue = b || (sizeof(T) == 4 && act.on());
  for (int64_t g = 0; g < p.groups; ++g) {
    const Planes<T> P{xs + g * Cg * L, L, p.C * L};
    const ::fastdl::gemm::RowEpilogue<T> epi = forward_epilogue(b ? b + g * Kg : nullptr, act);
    gemm_pw(false, Kg, p.N * L, Cg, w + g * Kg * Cg, Cg, pack_planes<T>, &P, T(0),
            y + g * Kg * L, L, L, p.K * L, epilogue ? &epi : nullptr);
  }
  return true;
}

template <class T>
bool backward_input(const Conv2dParams& p, const T* w, const T* dy, T* dx) {
  if (!applies(p)) return false;
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups, L = p.OH * p.OW, HW = p.H * p.W;
  const bool st = strided(p);
  PoolBuf sub(st ? sizeof(T) * p.N * p.C * L + 64 : 0);
  T* dxs = st ? static_cast<T*>(sub.p) : dx;
  for (int64_t g = 0; g < p.groups; ++g) {
    const Planes<T> P{dy + g * Kg * L, L, p.K * L};
    // W_gᵀ: W_g is Kg × Cg row-major, i.e. its transpose stored transposed (lda = Cg)
    gemm_pw(true, Cg, p.N * L, Kg, w + g * Kg * Cg, Cg, pack_planes<T>, &P, T(0),
            dxs + g * Cg * L, L, L, p.C * L);
  }
  if (st) {  // dx = dxs at the strided positions, 0 elsewhere
    parallel_for(p.N * p.C, grain_for(HW), [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        T* d = dx + i * HW;
        const T* s = dxs + i * L;
        fill(d, HW, T(0));
        for (int64_t oh = 0; oh < p.OH; ++oh) {
          T* dr = d + oh * p.sh * p.W;
          const T* sr = s + oh * p.OW;
          for (int64_t ow = 0; ow < p.OW; ++ow) dr[ow * p.sw] = sr[ow];
        }
      }
    });
  }
  return true;
}

// Images per weight-gradient chunk: one image (its dY_g is the GEMM's A in place) once a map
// has kOwnChunk pixels; else about kChunkBytes of the chunk's output gradient (the GEMM's A,
// regrouped into a matrix) and at least kChunkCols columns (the GEMM's depth). A function of
// the shape only. (144→32 28² batch 16 with 2-image chunks: 1.76 ms against 1.61 for the
// per-image products, whose depth 784 needs no regrouping.)
constexpr int64_t kChunkBytes = 256 * 1024, kChunkCols = 1024, kOwnChunk = 512;
inline int64_t chunk_images(const Conv2dParams& p, int64_t elem) {
  const int64_t L = p.OH * p.OW, Kg = p.K / p.groups;
  if (L >= kOwnChunk) return 1;
  const int64_t cols = imax(kChunkCols, kChunkBytes / (elem * Kg));
  return imax(1, imin(p.N, cols / L));
}

// One image per chunk (maps of at least kOwnChunk pixels): per image one product with the
// larger of dY_g (Kg × L) and Xs_g (Cg × L) as A, read in place (gemm.h:
// sgemm_implicit_a_inplace), and the other packed pixel-major as B (pack_planes_t): the
// packed loop nest copied A too, a pass over the big operand as long as the product's own
// (ResNet-50 64→256 56² at batch 8: A 25.7 MB, B 6.4 MB). With Xs as A the product is
// dW_gᵀ, transposed into dW at the end. kAinMaxCols: B's k block (all its columns) stays in
// L2.
constexpr int64_t kAinMaxCols = 512;

template <class T>
bool backward_weight(const Conv2dParams& p, const T* x, const T* dy, T* dw) {
  if (!applies(p)) return false;
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups, L = p.OH * p.OW;
  PoolBuf sub(strided(p) ? sizeof(T) * p.N * p.C * L + 64 : 0);
  const T* xs = planes_input(p, x, sub);
  const int64_t NB = chunk_images(p, sizeof(T));
  if (NB == 1 && imin(Kg, Cg) <= kAinMaxCols) {
    const bool dy_a = Kg >= Cg;  // dY as A: dW_g directly; else Xs as A: dW_gᵀ
    PoolBuf tb(dy_a ? 0 : sizeof(T) * Cg * Kg + 64);
    T* wt = static_cast<T*>(tb.p);
    for (int64_t g = 0; g < p.groups; ++g) {
      for (int64_t n = 0; n < p.N; ++n) {
        const T* dyg = dy + (n * p.K + g * Kg) * L;
        const T* xg = xs + (n * p.C + g * Cg) * L;
        const T beta = n == 0 ? T(0) : T(1);
        if (dy_a) {
          const Planes<T> P{xg, L, p.C * L};
          gemm_pw_ain(Kg, Cg, L, dyg, L, pack_planes_t<T>, &P, beta, dw + g * Kg * Cg, Cg);
        } else {
          const Planes<T> P{dyg, L, p.K * L};
          gemm_pw_ain(Cg, Kg, L, xg, L, pack_planes_t<T>, &P, beta, wt, Kg);
        }
      }
      if (!dy_a) {  // dW_g[k][c] = wt[c][k]
        T* dwg = dw + g * Kg * Cg;
        parallel_for(Kg, grain_for(Cg), [&](int64_t k0, int64_t k1) {
          for (int64_t k = k0; k < k1; ++k)
            for (int64_t c = 0; c < Cg; ++c) dwg[k * Cg + c] = wt[c * Kg + k];
        });
      }
    }
    return true;
  }
  PoolBuf ab(NB > 1 ? sizeof(T) * Kg * NB * L + 64 : 0);
  T* a = static_cast<T*>(ab.p);
  for (int64_t n0 = 0; n0 < p.N; n0 += NB) {
    const int64_t nb = imin(NB, p.N - n0), cols = nb * L;
    for (int64_t g = 0; g < p.groups; ++g) {
      const T* dyg = dy + (n0 * p.K + g * Kg) * L;
      const T* A = dyg;
      if (nb > 1) {  // the chunk's dY_g as one (Kg × nb·L) matrix
        parallel_for(nb * Kg, grain_for(L), [&](int64_t i0, int64_t i1) {
          for (int64_t i = i0; i < i1; ++i) {
            const int64_t j = i / Kg, k = i % Kg;
            const T* s = dyg + (j * p.K + k) * L;
            T* d = a + k * cols + j * L;
            for (int64_t q = 0; q < L; ++q) d[q] = s[q];
          }
        });
        A = a;
      }
      const Planes<T> P{xs + (n0 * p.C + g * Cg) * L, L, p.C * L};
      gemm_pw(false, Kg, Cg, cols, A, nb > 1 ? cols : L, pack_planes_t<T>, &P,
              n0 == 0 ? T(0) : T(1), dw + g * Kg * Cg, Cg, 0, 0);
    }
  }
  return true;
}

}  // namespace pointwise
}  // namespace
}  // namespace FASTDL_SIMD_ISA
}  // namespace conv
}  // namespace fastdl
