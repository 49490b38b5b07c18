// AVX-512 micro-kernels (Zen 4 / Skylake-X and later): float32 12×32 and float64 12×16, the
// tile kept in 24 zmm accumulators; per k step two vector loads of packed B and MR broadcasts
// of packed A. Block sizes: see the table in gemm_internal.h.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/gemm/gemm_internal.h"

namespace fastdl {
namespace gemm {
namespace avx512 {
namespace {
#include "kernels/gemm/gemm_pack.inc"

struct VF {
  using T = float;
  using V = __m512;
  static constexpr int W = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const T* p) { return _mm512_loadu_ps(p); }
  static void store(T* p, V v) { _mm512_storeu_ps(p, v); }
  static V set1(T x) { return _mm512_set1_ps(x); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
};
struct VD {
  using T = double;
  using V = __m512d;
  static constexpr int W = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V load(const T* p) { return _mm512_loadu_pd(p); }
  static void store(T* p, V v) { _mm512_storeu_pd(p, v); }
  static V set1(T x) { return _mm512_set1_pd(x); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
};

// C tile := alpha * acc + beta * C (beta == 0: C not read), acc an MR×NR row-major buffer.
template <class S, int MR, int NV>
__attribute__((noinline)) void finish(const typename S::T* acc, typename S::T* c, int64_t ldc,
                                      int64_t mr, int64_t nr, typename S::T alpha,
                                      typename S::T beta) {
  using T = typename S::T;
  using V = typename S::V;
  constexpr int NR = NV * S::W;
  const V va = S::set1(alpha), vb = S::set1(beta);
  write_tile<T, MR, NR>(c, ldc, mr, nr, beta, [&](T* cc, int64_t ld) {
    if (beta == T(0)) {
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v)
          S::store(cc + i * ld + v * S::W, S::mul(va, S::load(acc + i * NR + v * S::W)));
    } else {
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          T* p = cc + i * ld + v * S::W;
          S::store(p, S::fmadd(vb, S::load(p), S::mul(va, S::load(acc + i * NR + v * S::W))));
        }
    }
  });
}

// MR rows × (NV vectors of W) columns; the A panel's layout has PMR values per k step when
// packed (a smaller MR than PMR serves the edge tiles of a PMR-row panel).
template <class S, int MR, int NV, int PMR, bool kPacked>
__attribute__((noinline)) void ukr_tile(int64_t k, const typename S::T* a, int64_t rsa, int64_t csa,
              const typename S::T* b, int64_t rsb, typename S::T* c, int64_t ldc, int64_t mr,
              int64_t nr, typename S::T alpha, typename S::T beta) {
  using T = typename S::T;
  using V = typename S::V;
  constexpr int NR = NV * S::W;
  if (kPacked) {
    rsa = 1;
    csa = PMR;  // rsb: the caller's panel width (an edge instantiation is narrower)
  }
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = S::zero();
  if (mr == MR && nr == NR) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
  }
#pragma GCC unroll 2
  for (int64_t p = 0; p < k; ++p) {
    V bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = S::load(b + v * S::W);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const V ai = S::set1(a[i * rsa]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = S::fmadd(ai, bv[v], acc[i][v]);
    }
    a += csa;
    b += rsb;
  }
  // The tile leaves registers here; the epilogue is a separate function so the register
  // allocation of the loop above is not disturbed by it.
  alignas(64) T buf[MR * NR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) S::store(buf + i * NR + v * S::W, acc[i][v]);
  finish<S, MR, NV>(buf, c, ldc, mr, nr, alpha, beta);
}

// Full MR×(NV·W) tiles, and edge tiles on the smallest instantiation that covers them (rows
// in steps of 4, one or two vectors): every element gets the same sequence of FMAs whichever
// instantiation computes it.
template <class S, int MR, int NV, bool kPacked>
void ukr(int64_t k, const typename S::T* a, int64_t rsa, int64_t csa, const typename S::T* b,
         int64_t rsb, typename S::T* c, int64_t ldc, int64_t mr, int64_t nr, typename S::T alpha,
         typename S::T beta) {
  static_assert(MR == 12 && NV == 2, "edge dispatch below assumes 12 x 2 vectors");
  constexpr int W = S::W;
  if (mr == MR && nr == NV * W)
    return ukr_tile<S, 12, 2, MR, kPacked>(k, a, rsa, csa, b, rsb, c, ldc, mr, nr, alpha, beta);
  if (nr <= W) {
    if (mr <= 4)
      return ukr_tile<S, 4, 1, MR, kPacked>(k, a, rsa, csa, b, rsb, c, ldc, mr, nr, alpha, beta);
    if (mr <= 8)
      return ukr_tile<S, 8, 1, MR, kPacked>(k, a, rsa, csa, b, rsb, c, ldc, mr, nr, alpha, beta);
    return ukr_tile<S, 12, 1, MR, kPacked>(k, a, rsa, csa, b, rsb, c, ldc, mr, nr, alpha, beta);
  }
  if (mr <= 4)
    return ukr_tile<S, 4, 2, MR, kPacked>(k, a, rsa, csa, b, rsb, c, ldc, mr, nr, alpha, beta);
  if (mr <= 8)
    return ukr_tile<S, 8, 2, MR, kPacked>(k, a, rsa, csa, b, rsb, c, ldc, mr, nr, alpha, beta);
  return ukr_tile<S, 12, 2, MR, kPacked>(k, a, rsa, csa, b, rsb, c, ldc, mr, nr, alpha, beta);
}

// ---- float32 packing with in-register 16×16 transposes (the two "transposing" packs: op(A)
// from row-major A, op(B) from a transposed B) and masked copies for the others.

// r[0..15] rows -> r[c] = column c (16×16 transpose).
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  __m512 u[16];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    const __m512d a0 = _mm512_castps_pd(t[4 * i]), a1 = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d a2 = _mm512_castps_pd(t[4 * i + 2]), a3 = _mm512_castps_pd(t[4 * i + 3]);
    u[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a0, a2));
    u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a0, a2));
    u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a1, a3));
    u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a1, a3));
  }
  // u[4i+q], 128-bit lane L = column 4L+q of rows 4i..4i+3
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0x44);
    const __m512 v1 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0xEE);
    const __m512 w0 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0x44);
    const __m512 w1 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0xEE);
    r[0 + q] = _mm512_shuffle_f32x4(v0, w0, 0x88);
    r[4 + q] = _mm512_shuffle_f32x4(v0, w0, 0xDD);
    r[8 + q] = _mm512_shuffle_f32x4(v1, w1, 0x88);
    r[12 + q] = _mm512_shuffle_f32x4(v1, w1, 0xDD);
  }
}

// dst[c*ld_dst + 0..w) = column c of the (rows × pw) block src (row stride lds), for c < pw,
// rows >= `rows` read as zero; w <= 16 lanes written per output row.
inline void transpose_block(const float* src, int64_t lds, int rows, int pw, float* dst,
                            int64_t ld_dst, __mmask16 wmask) {
  __m512 r[16];
  const __mmask16 pm = static_cast<__mmask16>((1u << pw) - 1u);
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i)
    r[i] = i < rows ? _mm512_maskz_loadu_ps(pm, src + i * lds) : _mm512_setzero_ps();
  transpose16(r);
  for (int c = 0; c < pw; ++c) _mm512_mask_storeu_ps(dst + c * ld_dst, wmask, r[c]);
}

constexpr int kSMR = 12, kSNV = 2, kDMR = 12, kDNV = 2;

void pack_a_s(bool trans, int64_t mc, int64_t kc, const float* A, int64_t lda, float* ap) {
  constexpr int MR = kSMR;
  const __mmask16 m12 = 0x0FFF;
  for (int64_t i0 = 0; i0 < mc; i0 += MR, ap += MR * kc) {
    const int r = static_cast<int>(mc - i0 < MR ? mc - i0 : MR);
    if (trans) {  // each p: r contiguous values
      const __mmask16 lm = static_cast<__mmask16>((1u << r) - 1u);
      const float* src = A + i0;
      for (int64_t p = 0; p < kc; ++p)
        _mm512_mask_storeu_ps(ap + p * MR, m12, _mm512_maskz_loadu_ps(lm, src + p * lda));
    } else {  // rows contiguous in p: 16-wide transposes
      const float* src = A + i0 * lda;
      for (int64_t p = 0; p < kc; p += 16) {
        const int pw = static_cast<int>(kc - p < 16 ? kc - p : 16);
        transpose_block(src + p, lda, r, pw, ap + p * MR, MR, m12);
      }
    }
  }
}

void pack_b_s(bool trans, int64_t kc, int64_t nc, const float* B, int64_t ldb, float* bp) {
  constexpr int NR = kSNV * 16;
  if (!trans) {
    // Row by row (each row of the block read once, contiguously: DRAM-friendly), scattering
    // NR-wide pieces into the panels; the ragged last panel zero-padded.
    const int64_t full = nc / NR;
    const int rem = static_cast<int>(nc - full * NR);
    const __mmask16 m0 = static_cast<__mmask16>(rem >= 16 ? 0xFFFFu : (1u << rem) - 1u);
    const __mmask16 m1 = static_cast<__mmask16>(rem <= 16 ? 0u : (1u << (rem - 16)) - 1u);
    for (int64_t p = 0; p < kc; ++p) {
      const float* s = B + p * ldb;
      float* d = bp + p * NR;
      for (int64_t jp = 0; jp < full; ++jp, s += NR, d += NR * kc) {
        _mm512_storeu_ps(d, _mm512_loadu_ps(s));
        _mm512_storeu_ps(d + 16, _mm512_loadu_ps(s + 16));
      }
      if (rem) {
        _mm512_storeu_ps(d, _mm512_maskz_loadu_ps(m0, s));
        _mm512_storeu_ps(d + 16, _mm512_maskz_loadu_ps(m1, s + 16));
      }
    }
    return;
  }
  for (int64_t j0 = 0; j0 < nc; j0 += NR, bp += NR * kc) {
    const int c = static_cast<int>(nc - j0 < NR ? nc - j0 : NR);
    if (!trans) {  // rows contiguous in j
      const float* src = B + j0;
      if (c == NR) {
        for (int64_t p = 0; p < kc; ++p) {
          const float* s = src + p * ldb;
          _mm512_storeu_ps(bp + p * NR, _mm512_loadu_ps(s));
          _mm512_storeu_ps(bp + p * NR + 16, _mm512_loadu_ps(s + 16));
        }
      } else {
        const __mmask16 m0 = static_cast<__mmask16>(c >= 16 ? 0xFFFFu : (1u << c) - 1u);
        const __mmask16 m1 = static_cast<__mmask16>(c <= 16 ? 0u : (1u << (c - 16)) - 1u);
        for (int64_t p = 0; p < kc; ++p) {
          const float* s = src + p * ldb;
          _mm512_storeu_ps(bp + p * NR, _mm512_maskz_loadu_ps(m0, s));
          _mm512_storeu_ps(bp + p * NR + 16, _mm512_maskz_loadu_ps(m1, s + 16));
        }
      }
    } else {  // column j of op(B) contiguous in p: 16×16 transposes, two per panel
      const float* src = B + j0 * ldb;
      for (int64_t p = 0; p < kc; p += 16) {
        const int pw = static_cast<int>(kc - p < 16 ? kc - p : 16);
        transpose_block(src + p, ldb, c < 16 ? c : 16, pw, bp + p * NR, NR, 0xFFFF);
        transpose_block(src + 16 * ldb + p, ldb, c > 16 ? c - 16 : 0, pw, bp + p * NR + 16, NR,
                        0xFFFF);
      }
    }
  }
}

const Kernel<float> kS = {kSMR, kSNV * 16, 256, 144, 512, ukr<VF, kSMR, kSNV, true>,
                          ukr<VF, kSMR, kSNV, false>, pack_a_s, pack_b_s};
const Kernel<double> kD = {kDMR, kDNV * 8, 192, 96, 256, ukr<VD, kDMR, kDNV, true>,
                           ukr<VD, kDMR, kDNV, false>, pack_a_t<double, kDMR>,
                           pack_b_t<double, kDNV * 8>};
}  // namespace

const Kernel<float>* skernel() { return &kS; }
const Kernel<double>* dkernel() { return &kD; }

double fma_probe(int64_t iters) {
  // 12 independent zmm FMA chains (latency 4 × throughput 1-2 per cycle needs >= 8).
  __m512 x[12];
  const __m512 y = _mm512_set1_ps(1.0f), z = _mm512_set1_ps(1e-8f);
  for (int r = 0; r < 12; ++r) x[r] = _mm512_set1_ps(static_cast<float>(r));
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int r = 0; r < 12; ++r) x[r] = _mm512_fmadd_ps(x[r], y, z);
  }
  __m512 s = x[0];
  for (int r = 1; r < 12; ++r) s = _mm512_add_ps(s, x[r]);
  volatile float sink = _mm512_reduce_add_ps(s);
  (void)sink;
  return 2.0 * 16 * 12 * static_cast<double>(iters);
}

}  // namespace avx512
}  // namespace gemm
}  // namespace fastdl
