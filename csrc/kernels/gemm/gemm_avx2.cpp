// AVX2+FMA micro-kernels (Haswell, Zen 1-4): float32 6×16 and float64 6×8, the
// tile kept in 12 ymm accumulators; per k step two vector loads of packed B and MR broadcasts
// of packed A. Block sizes: see the table in gemm_internal.h.
#include <immintrin.h>

#include <cstdint>
#include <cstring>

#include "kernels/gemm/gemm_internal.h"

namespace fastdl {
namespace gemm {
namespace avx2 {
namespace {
#include "kernels/gemm/gemm_pack.inc"

struct VF {
  using T = float;
  using V = __m256;
  static constexpr int W = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const T* p) { return _mm256_loadu_ps(p); }
  static void store(T* p, V v) { _mm256_storeu_ps(p, v); }
  static V set1(T x) { return _mm256_set1_ps(x); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
};
struct VD {
  using T = double;
  using V = __m256d;
  static constexpr int W = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V load(const T* p) { return _mm256_loadu_pd(p); }
  static void store(T* p, V v) { _mm256_storeu_pd(p, v); }
  static V set1(T x) { return _mm256_set1_pd(x); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
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

constexpr int kSMR = 6, kSNV = 2, kDMR = 6, kDNV = 2;
const Kernel<float> kS = {kSMR, kSNV * 8, 256, 144, 512, ukr<VF, kSMR, kSNV, true>,
                          ukr<VF, kSMR, kSNV, false>, pack_a_t<float, kSMR>,
                          pack_b_t<float, kSNV * 8>};
const Kernel<double> kD = {kDMR, kDNV * 4, 256, 96, 256, ukr<VD, kDMR, kDNV, true>,
                           ukr<VD, kDMR, kDNV, false>, pack_a_t<double, kDMR>,
                           pack_b_t<double, kDNV * 4>};
}  // namespace

const Kernel<float>* skernel() { return &kS; }
const Kernel<double>* dkernel() { return &kD; }

double fma_probe(int64_t iters) {
  // 12 independent ymm FMA chains (latency 4 × 2 per cycle needs >= 8).
  __m256 x[12];
  const __m256 y = _mm256_set1_ps(1.0f), z = _mm256_set1_ps(1e-8f);
  for (int r = 0; r < 12; ++r) x[r] = _mm256_set1_ps(static_cast<float>(r));
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int r = 0; r < 12; ++r) x[r] = _mm256_fmadd_ps(x[r], y, z);
  }
  __m256 s = x[0];
  for (int r = 1; r < 12; ++r) s = _mm256_add_ps(s, x[r]);
  float lanes[8];
  _mm256_storeu_ps(lanes, s);
  volatile float sink = lanes[0] + lanes[7];
  (void)sink;
  return 2.0 * 8 * 12 * static_cast<double>(iters);
}

}  // namespace avx2
}  // namespace gemm
}  // namespace fastdl
