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

// MR rows × (NV vectors of W) columns.
template <class S, int MR, int NV, bool kPacked>
void ukr(int64_t k, const typename S::T* a, int64_t rsa, int64_t csa, const typename S::T* b,
         int64_t rsb, typename S::T* c, int64_t ldc, int64_t mr, int64_t nr, typename S::T alpha,
         typename S::T beta) {
  using T = typename S::T;
  using V = typename S::V;
  constexpr int NR = NV * S::W;
  if (kPacked) {
    rsa = 1;
    csa = MR;
    rsb = NR;
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
  const V va = S::set1(alpha), vb = S::set1(beta);
  write_tile<T, MR, NR>(c, ldc, mr, nr, beta, [&](T* cc, int64_t ld) {
    if (beta == T(0)) {
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) S::store(cc + i * ld + v * S::W, S::mul(va, acc[i][v]));
    } else {
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
        for (int v = 0; v < NV; ++v) {
          T* p = cc + i * ld + v * S::W;
          S::store(p, S::fmadd(vb, S::load(p), S::mul(va, acc[i][v])));
        }
    }
  });
}

constexpr int kSMR = 12, kSNV = 2, kDMR = 12, kDNV = 2;
const Kernel<float> kS = {kSMR, kSNV * 16, 256, 144, 512, ukr<VF, kSMR, kSNV, true>,
                          ukr<VF, kSMR, kSNV, false>, pack_a_t<float, kSMR>,
                          pack_b_t<float, kSNV * 16>};
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
