// AVX-512 micro-kernels (Zen 4 / Skylake-X and later): float32 12×32 and float64 12×16, the
// tile kept in 24 zmm accumulators; per k step two vector loads of packed B and MR broadcasts
// of packed A, on simd::Vf / Vd. Block sizes: gemm_blocks.h.
#include "kernels/gemm/gemm_impl.h"

namespace fastdl {
namespace gemm {
namespace avx512 {
namespace {

// C tile := alpha * acc + beta * C (beta == 0: C not read), acc an MR×NR row-major buffer.
template <class V, int MR, int NV>
__attribute__((noinline)) void finish(const typename V::T* acc, typename V::T* c, int64_t ldc,
                                      int64_t mr, int64_t nr, typename V::T alpha,
                                      typename V::T beta) {
  using T = typename V::T;
  constexpr int W = V::N;
  constexpr int NR = NV * W;
  const V va(alpha), vb(beta);
  write_tile<T, MR, NR>(c, ldc, mr, nr, beta, [&](T* cc, int64_t ld) {
    if (beta == T(0)) {
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v)
          (va * V::load(acc + i * NR + v * W)).store(cc + i * ld + v * W);
    } else {
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          T* p = cc + i * ld + v * W;
          simd::fma(vb, V::load(p), va * V::load(acc + i * NR + v * W)).store(p);
        }
    }
  });
}

// MR rows × (NV vectors of W) columns; the A panel's layout has PMR values per k step when
// packed (a smaller MR than PMR serves the edge tiles of a PMR-row panel).
template <class V, int MR, int NV, int PMR, bool kPacked>
__attribute__((noinline)) void ukr_tile(int64_t k, const typename V::T* a, int64_t rsa, int64_t csa,
              const typename V::T* b, int64_t rsb, typename V::T* c, int64_t ldc, int64_t mr,
              int64_t nr, typename V::T alpha, typename V::T beta) {
  using T = typename V::T;
  constexpr int W = V::N;
  constexpr int NR = NV * W;
  if (kPacked) {
    rsa = 1;
    csa = PMR;  // rsb: the caller's panel width (an edge instantiation is narrower)
  }
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = V(T(0));
  if (mr == MR && nr == NR) {  // both cache lines of each C row of the tile
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc + NR - 1), _MM_HINT_T0);
    }
  }
  // B is prefetched kPrefetchB k steps ahead (packed panels stream from L2; the direct
  // path's in-place panels from wherever they are): measured, 1 thread, 128×784×512 in place
  // 124 -> 161 GFLOP/s, 128×512×512 153 -> 168; 4 and 16 steps did no better.
  constexpr int64_t kPrefetchB = 8;
#pragma GCC unroll 2
  for (int64_t p = 0; p < k; ++p) {
    _mm_prefetch(reinterpret_cast<const char*>(b + kPrefetchB * rsb), _MM_HINT_T0);
    if (NR * sizeof(T) > 64)
      _mm_prefetch(reinterpret_cast<const char*>(b + kPrefetchB * rsb + NR - 1), _MM_HINT_T0);
    V bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = V::load(b + v * W);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const V ai(a[i * rsa]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = simd::fma(ai, bv[v], acc[i][v]);
    }
    a += csa;
    b += rsb;
  }
  // The tile leaves registers here. C = acc on a full tile (alpha 1, beta 0: the common
  // case) is stored straight from the registers, bitwise what finish() writes (1·acc);
  // otherwise the epilogue is a separate function so the register allocation of the loop
  // above is not disturbed by it. A 16-deep product (MobileNetV2's 16→96 expansion at 112²,
  // batch 1) spent a quarter of its time in the buffered epilogue.
  if (mr == MR && nr == NR && alpha == T(1) && beta == T(0)) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v].store(c + i * ldc + v * W);
    return;
  }
  // The same for a later k block added into C (alpha 1, beta 1: every product deeper than
  // KC): C + acc from the registers, bitwise finish()'s fma(1, C, 1·acc). Through the
  // buffer, ResNet-50's 1×1 products of 512–2048 summed channels and their weight gradients
  // spent about 1 % of the train step in finish().
  if (mr == MR && nr == NR && alpha == T(1) && beta == T(1)) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        T* p = c + i * ldc + v * W;
        (V::load(p) + acc[i][v]).store(p);
      }
    return;
  }
  alignas(64) T buf[MR * NR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v].store(buf + i * NR + v * W);
  finish<V, MR, NV>(buf, c, ldc, mr, nr, alpha, beta);
}

// Full MR×(NV·W) tiles, and edge tiles on the smallest instantiation that covers them (rows
// in steps of 4, one or two vectors): every element gets the same sequence of FMAs whichever
// instantiation computes it.
template <class V, int MR, int NV, bool kPacked>
void ukr12x2(int64_t k, const typename V::T* a, int64_t rsa, int64_t csa, const typename V::T* b,
         int64_t rsb, typename V::T* c, int64_t ldc, int64_t mr, int64_t nr, typename V::T alpha,
         typename V::T beta) {
  static_assert(MR == 12 && NV == 2, "edge dispatch below assumes 12 x 2 vectors");
  constexpr int W = V::N;
  if (mr == MR && nr == NV * W)
    return ukr_tile<V, 12, 2, MR, kPacked>(k, a, rsa, csa, b, rsb, c, ldc, mr, nr, alpha, beta);
  if (nr <= W) {
    if (mr <= 4)
      return ukr_tile<V, 4, 1, MR, kPacked>(k, a, rsa, csa, b, rsb, c, ldc, mr, nr, alpha, beta);
    if (mr <= 8)
      return ukr_tile<V, 8, 1, MR, kPacked>(k, a, rsa, csa, b, rsb, c, ldc, mr, nr, alpha, beta);
    return ukr_tile<V, 12, 1, MR, kPacked>(k, a, rsa, csa, b, rsb, c, ldc, mr, nr, alpha, beta);
  }
  if (mr <= 4)
    return ukr_tile<V, 4, 2, MR, kPacked>(k, a, rsa, csa, b, rsb, c, ldc, mr, nr, alpha, beta);
  if (mr <= 8)
    return ukr_tile<V, 8, 2, MR, kPacked>(k, a, rsa, csa, b, rsb, c, ldc, mr, nr, alpha, beta);
  return ukr_tile<V, 12, 2, MR, kPacked>(k, a, rsa, csa, b, rsb, c, ldc, mr, nr, alpha, beta);
}

// ---- float32 packing with in-register 16×16 transposes (the two "transposing" packs: op(A)
// from row-major A, op(B) from a transposed B) and masked copies for the others.

// dst[c*ld_dst + 0..w) = column c of the (rows × pw) block src (row stride lds), for c < pw,
// rows >= `rows` read as zero; w <= 16 lanes written per output row.
inline void transpose_block(const float* src, int64_t lds, int rows, int pw, float* dst,
                            int64_t ld_dst, __mmask16 wmask) {
  __m512 r[16];
  simd::load_transpose16(src, lds, rows, static_cast<__mmask16>((1u << pw) - 1u), r);
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

static_assert(kBlocksAvx512.f.mr == kSMR && kBlocksAvx512.f.nr == kSNV * 16 &&
                  kBlocksAvx512.d.mr == kDMR && kBlocksAvx512.d.nr == kDNV * 8,
              "the AVX-512 micro-kernels are written for the 12 x 2-vector tiles of gemm_blocks.h");
}  // namespace

const GemmOps ops = {
    {kBlocksAvx512.f, ukr12x2<simd::Vf, kSMR, kSNV, true>, ukr12x2<simd::Vf, kSMR, kSNV, false>, pack_a_s,
     pack_b_s, row_epilogue<simd::Vf>},
    {kBlocksAvx512.d, ukr12x2<simd::Vd, kDMR, kDNV, true>, ukr12x2<simd::Vd, kDMR, kDNV, false>,
     pack_a_t<double, kDMR>, pack_b_t<double, kDNV * 8>, row_epilogue<simd::Vd>},
    &fma_probe};

}  // namespace avx512
}  // namespace gemm
}  // namespace fastdl
