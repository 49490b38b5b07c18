// The parts of the gemm family written once on the simd:: vector types and compiled once per
// ISA: the packing routines (gemm_pack.inc), the MR x (NV vectors) micro-kernel of the generic
// and AVX2 paths, and the FMA peak probe. gemm.cpp (generic), gemm_avx2.cpp and
// gemm_avx512.cpp include this file and then define their GemmOps table (gemm_internal.h);
// everything here lands in fastdl::gemm::<isa>::{anonymous}.
#pragma once
#include <cstdint>
#include <cstring>

#include "common/simd.h"
#include "kernels/gemm/gemm_internal.h"

namespace fastdl {
namespace gemm {
namespace FASTDL_SIMD_ISA {
namespace {
#include "kernels/gemm/gemm_pack.inc"

// MR rows × (NV vectors of V::N) columns; the tile is kept in MR·NV vector accumulators; per
// k step NV vector loads of packed B and MR broadcasts of packed A.
template <class V, int MR, int NV, bool kPacked>
void ukr(int64_t k, const typename V::T* a, int64_t rsa, int64_t csa, const typename V::T* b,
         int64_t rsb, typename V::T* c, int64_t ldc, int64_t mr, int64_t nr, typename V::T alpha,
         typename V::T beta) {
  using T = typename V::T;
  constexpr int W = V::N;
  constexpr int NR = NV * W;
  if (kPacked) {
    rsa = 1;
    csa = MR;
    rsb = NR;
  }
  V acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) acc[i][v] = V(T(0));
#if FASTDL_SIMD_LEVEL > 0
  if (mr == MR && nr == NR) {
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) _mm_prefetch(reinterpret_cast<const char*>(c + i * ldc), _MM_HINT_T0);
  }
#endif
#pragma GCC unroll 2
  for (int64_t p = 0; p < k; ++p) {
    V bv[NV];
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v) bv[v] = V::load(b + v * W);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      const V ai(a[i * rsa]);
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) acc[i][v] = simd::mul_add(ai, bv[v], acc[i][v]);
    }
    a += csa;
    b += rsb;
  }
  const V va(alpha), vb(beta);
  write_tile<T, MR, NR>(c, ldc, mr, nr, beta, [&](T* cc, int64_t ld) {
    if (beta == T(0)) {
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) (va * acc[i][v]).store(cc + i * ld + v * W);
    } else {
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) {
          T* p = cc + i * ld + v * W;
          simd::mul_add(vb, V::load(p), va * acc[i][v]).store(p);
        }
    }
  });
}

// gemm_internal.h: RowEpi. Per row one vector of the bias; whole vectors and a masked tail;
// max(lo, v) then min(hi, ·) as conv_util.h's act_vec (a NaN is kept).
template <class V>
void row_epilogue(typename V::T* c, int64_t ldc, int64_t mr, int64_t nr,
                  const typename V::T* bias, typename V::T lo, typename V::T hi) {
  using T = typename V::T;
  constexpr int64_t W = V::N;
  const V vlo(lo), vhi(hi);
  for (int64_t i = 0; i < mr; ++i) {
    T* ci = c + i * ldc;
    const V bv(bias ? bias[i] : T(0));
    int64_t j = 0;
    for (; j + W <= nr; j += W) {
      V v = V::load(ci + j);
      if (bias) v = v + bv;
      simd::min(vhi, simd::max(vlo, v)).store(ci + j);
    }
    if (j < nr) {
      V v = V::load(ci + j, nr - j);
      if (bias) v = v + bv;
      simd::min(vhi, simd::max(vlo, v)).store(ci + j, nr - j);
    }
  }
}

// The Kernel of the generic/AVX2 micro-kernel for element type V::T and an architecture's
// block table.
template <class V, const ArchBlocks& A>
constexpr Kernel<typename V::T> make_kernel() {
  using T = typename V::T;
  constexpr Blocks B = sizeof(T) == 4 ? A.f : A.d;
  static_assert(B.nr % V::N == 0, "NR must be a whole number of vectors");
  constexpr int MR = static_cast<int>(B.mr), NV = static_cast<int>(B.nr / V::N);
  return {B, ukr<V, MR, NV, true>, ukr<V, MR, NV, false>, pack_a_t<T, MR>,
          pack_b_t<T, NV * V::N>, row_epilogue<V>};
}

// 12 independent float FMA chains (latency 4 × 2 per cycle needs >= 8); FLOPs done.
double fma_probe(int64_t iters) {
  using V = simd::Vf;
  V x[12];
  const V y(1.0f), z(1e-8f);
  for (int r = 0; r < 12; ++r) x[r] = V(static_cast<float>(r));
  for (int64_t it = 0; it < iters; ++it) {
#pragma GCC unroll 12
    for (int r = 0; r < 12; ++r) x[r] = simd::mul_add(x[r], y, z);
  }
  V s = x[0];
  for (int r = 1; r < 12; ++r) s = s + x[r];
  volatile float sink = simd::hsum(s);
  (void)sink;
  return 2.0 * V::N * 12 * static_cast<double>(iters);
}

}  // namespace
}  // namespace FASTDL_SIMD_ISA
}  // namespace gemm
}  // namespace fastdl
