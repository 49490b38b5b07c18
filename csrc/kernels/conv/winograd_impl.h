// Winograd convolution F(2×2, 3×3) and F(4×4, 3×3) ("winograd"), for 3×3 filters, stride 1,
// dilation 1, groups 1, any padding (also negative: the input gradient's crop), float32 and
// float64.
// Included by conv_impl.h (so compiled once per ISA: generic, AVX2, AVX-512); the forward
// and input-gradient drivers there call winograd_forward / winograd_backward_input, and
// conv.cpp's algorithm_for calls winograd_preferred.
//
// F(TM×TM, 3×3), TM = 2 (the default) or 4 (FASTDL_WINOGRAD_TILE=4): per (TM+2)² input tile
// d (tiles TM apart) and 3×3 filter g, the TM×TM output tile is
//   Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A.
// F(2×2): Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1], G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1],
//   Aᵀ = [1 1 1 0; 0 1 −1 −1]: 16 multiplications for 4 outputs instead of 36 (2.25×).
// F(4×4) (interpolation points 0, ±1, ±2, ∞): Bᵀ = [4 0 −5 0 1 0; 0 −4 −4 1 1 0;
//   0 4 −4 −1 1 0; 0 −2 −1 2 1 0; 0 2 −1 −2 1 0; 0 4 0 −5 0 1],
//   G = [¼ 0 0; −⅙ −⅙ −⅙; −⅙ ⅙ −⅙; 1/24 1/12 ⅙; 1/24 −1/12 ⅙; 0 0 1],
//   Aᵀ = [1 1 1 1 1 0; 0 1 −1 2 −2 0; 0 1 1 4 4 0; 0 1 −1 8 −8 1]:
//   36 multiplications for 16 outputs instead of 144 (4×).
// Summed over input channels, the E = (TM+2)² element-wise products of a chunk of P tiles are
// E GEMMs M[e] (P × K) = V[e] (P × C) · U[e] (C × K), V the transformed input tiles, U the
// transformed filters.
//
// Scheme, per call:
//  * filter transform U[e][c][k] (the input gradient: the 180°-rotated filters, transposed,
//    U[e][k][c]), vectorised over the contiguous output index, threads over the other;
//  * chunks of whole tile rows (a tile row: one image, one row of TM-pixel-high tiles), the
//    chunk's V and M about kWinoChunkBytes (a function of the shape only);
//  * input transform vectorised over channels (a segment of at most kWinoSeg tiles of one
//    tile row gathered channel-interleaved into a stack buffer, then 2·(TM+2) one-dimensional
//    transforms of SIMD vectors per tile), threads over (tile row, channel block);
//  * the E GEMMs on the project's GEMM (gemm::sgemm_serial / dgemm_serial), threads over e;
//  * output transform vectorised over output channels, plus the bias, scattered back to
//    NCHW through a stack buffer, threads over (tile row, channel block).
// Every partition depends on the shape only and each output element is computed by one fixed
// sequence of operations: results are bitwise identical for any thread count.
//
// Accuracy (float32, unit-normal x and w, 2×C×8×8 input, 16 filters, padding 1, against the
// float64 reference, max |error| / max |y|; tests/test_conv_winograd.py test_stated_accuracy):
//   C = 64:  F(2×2) 3.2e-7, F(4×4) 5.0e-6   (batched GEMM 3.7e-7, direct kernel 6.4e-7)
//   C = 512: F(2×2) 7.4e-7, F(4×4) 9.1e-6   (batched GEMM 2.7e-7, direct kernel 1.6e-6)
// F(2×2) stays within the conv tests' elementwise rtol = atol = 1e-4 on unit-scale data. F(4×4)
// does not always: its error is dominated by the float32 sums over channels of the large
// transformed values (the output transform weighs them by up to 64); at 128 unit-normal
// channels single outputs near 0 miss atol = 1e-4 by up to 3× (absolute error up to ~3e-4
// where |y| reaches ~130). Hence F(2×2) is the default and F(4×4) an opt-in.
//
// The automatic rule (winograd_preferred), measured with bench/bench_winograd.py (one thread,
// CPU time, interleaved, minimum of 3 rounds; 2-core Xeon VM shared with other jobs,
// 2026-12-03; ms, F(2×2) / F(4×4) / batched GEMM / torch 2.13):
//   layer (batch)              forward                      input gradient
//   R18 64→64 32² (32)         20.7 / 16.3 / 32.5 / 18.1    19.0 / 16.3 / 25.2 / 23.3
//   R18 128→128 16² (32)       12.2 /  9.0 / 16.9 / 12.6    14.2 / 10.9 / 20.9 / 13.7
//   R18 256→256 8² (32)        13.4 / 13.3 / 20.2 / 15.7    15.9 / 15.1 / 18.9 / 16.6
//   R18 512→512 4² (32)        26.5 / 38.1 / 17.8 / 17.4    18.2 / 24.4 / 22.6 / 13.8
//   VGG 3→64 32² (32)           6.9 /  4.5 /  2.8 /  2.8    12.1 /  6.5 /  2.0 /  6.4
//   VGG 64→128 16² (32)         7.4 /  5.7 / 10.8 /  7.3     9.1 /  5.8 / 12.7 / 10.7
//   VGG 128→256 8² (32)         9.0 /  8.9 / 10.8 /  9.3    10.4 /  8.6 / 12.9 / 10.5
//   VGG 256→512 4² (32)        14.0 / 15.8 /  9.3 /  8.5    10.0 /  9.5 / 12.8 /  8.8
//   VGG 512→512 2² (32)        16.2 / 36.8 /  5.5 /  7.2     7.9 / 24.4 / 10.9 /  7.1
//   R50 64→64 56² (8)          17.7 / 11.1 / 23.4 / 12.8    13.7 /  8.7 / 15.9 / 16.8
//   R50 128→128 28² (8)        11.6 /  7.9 / 15.5 / 13.3    11.0 /  7.0 / 14.0 / 11.3
//   R50 256→256 14² (8)        12.2 / 13.9 / 12.9 / 11.7    12.3 / 11.2 / 14.0 / 10.3
//   R50 512→512 7² (8)         25.2 / 35.0 / 12.7 / 12.4    16.6 / 18.8 / 18.0 / 12.5
// (the direct kernel, which the rule otherwise picks for the 64-channel layers, measured about
// the same as F(2×2) there: 20–22 ms on R18 64 32², 17–18 on R50 64 56² forward.) Winograd
// loses where the batch has few tiles: the E·C·K transformed filters are rewritten on every
// call (16 MB at 512→512 for F(2×2)), and 4×4 or smaller maps waste most of an F(4×4) tile.
// Rule: float32 (conv.cpp), forward or input gradient, C >= 32 and K >= 32, and at least 256
// tiles in the batch for the forward, 128 for the input gradient (tiles of the active TM).
// The weight gradient always takes the other algorithms.
#pragma once
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "common/allocator.h"
#include "common/parallel.h"
#include "common/simd.h"
#include "kernels/conv/conv.h"
#include "kernels/gemm/gemm.h"

namespace fastdl {
namespace conv {
namespace {

// 3×3, stride 1, dilation 1, groups 1: the shapes the Winograd kernels compute.
inline bool winograd_applies(const Conv2dParams& p) {
  return p.R == 3 && p.S == 3 && p.sh == 1 && p.sw == 1 && p.dh == 1 && p.dw == 1 &&
         p.groups == 1;
}

// The output tile of the Winograd algorithm: 2 (F(2×2, 3×3), the default: float32 error on a
// par with the GEMM path) or 4 (F(4×4, 3×3): 4× fewer multiplications, 10–15× the float32
// error, see above), from FASTDL_WINOGRAD_TILE (read on every call; std::invalid_argument for
// another value).
inline int winograd_tile() {
  const char* env = std::getenv("FASTDL_WINOGRAD_TILE");
  if (!env || !*env || !std::strcmp(env, "2")) return 2;
  if (!std::strcmp(env, "4")) return 4;
  throw std::invalid_argument(std::string("FASTDL_WINOGRAD_TILE must be 2 or 4, got '") + env +
                              "'");
}

// Whether the automatic choice runs Winograd for this float32 pass (the measured crossover,
// see the table above; conv.cpp's algorithm_for asks only for float32). Never for the weight
// gradient. The rule: at least 32 input and output channels (an RGB stem loses: the transforms
// cost more than the product), and enough tiles in the batch that the filter transform (the
// (TM + 2)²·C·K transformed filters, rewritten on every call) is amortised.
constexpr int64_t kWinoMinTilesFwd = 256, kWinoMinTilesDx = 128;
inline bool winograd_preferred(const Conv2dParams& p, Pass pass) {
  if (!winograd_applies(p) || pass == Pass::weight_grad || p.C < 32 || p.K < 32) return false;
  const int64_t tm = winograd_tile();
  const int64_t tiles = p.N * ((p.OH + tm - 1) / tm) * ((p.OW + tm - 1) / tm);
  return tiles >= (pass == Pass::forward ? kWinoMinTilesFwd : kWinoMinTilesDx);
}

}  // namespace

namespace FASTDL_SIMD_ISA {
namespace {

constexpr int64_t kWinoSeg = 16;                       // tiles per transform segment
constexpr int64_t kWinoChunkBytes = 4 * 1024 * 1024;  // V + M of one chunk (about)

inline int64_t wmin(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t wmax(int64_t a, int64_t b) { return a > b ? a : b; }

// The one-dimensional transforms of F(TM, 3), TM = 2 or 4 (N6 = TM + 2 points).
// v = Bᵀ d
template <int TM, class V>
FASTDL_SIMD_INLINE void wino_in(const V* d, V* v) {
  using T = typename V::T;
  if constexpr (TM == 2) {
    v[0] = d[0] - d[2];
    v[1] = d[1] + d[2];
    v[2] = d[2] - d[1];
    v[3] = d[1] - d[3];
  } else {
    const V c4(T(4)), c5(T(5)), c2(T(2));
    const V s12 = d[1] + d[2], d12 = d[1] - d[2], d31 = d[3] - d[1], d42 = d[4] - d[2];
    v[0] = mul_add(c4, d[0], fnma(c5, d[2], d[4]));
    v[1] = fnma(c4, s12, d[3] + d[4]);
    v[2] = mul_add(c4, d12, d[4] - d[3]);
    v[3] = mul_add(c2, d31, d42);
    v[4] = fnma(c2, d31, d42);
    v[5] = mul_add(c4, d[1], fnma(c5, d[3], d[5]));
  }
}

// y = Aᵀ m
template <int TM, class V>
FASTDL_SIMD_INLINE void wino_out(const V* m, V* y) {
  using T = typename V::T;
  if constexpr (TM == 2) {
    y[0] = m[0] + m[1] + m[2];
    y[1] = m[1] - m[2] - m[3];
  } else {
    const V s12 = m[1] + m[2], d12 = m[1] - m[2], s34 = m[3] + m[4], d34 = m[3] - m[4];
    y[0] = m[0] + s12 + s34;
    y[1] = mul_add(V(T(2)), d34, d12);
    y[2] = mul_add(V(T(4)), s34, s12);
    y[3] = mul_add(V(T(8)), d34, d12) + m[5];
  }
}

// u = G g
template <int TM, class V>
FASTDL_SIMD_INLINE void wino_flt(const V* g, V* u) {
  using T = typename V::T;
  const V s02 = g[0] + g[2];
  if constexpr (TM == 2) {
    u[0] = g[0];
    u[1] = V(T(0.5)) * (s02 + g[1]);
    u[2] = V(T(0.5)) * (s02 - g[1]);
    u[3] = g[2];
  } else {
    u[0] = V(T(0.25)) * g[0];
    u[1] = V(T(-1.0 / 6.0)) * (s02 + g[1]);
    u[2] = V(T(-1.0 / 6.0)) * (s02 - g[1]);
    const V a = mul_add(V(T(1.0 / 24.0)), g[0], V(T(1.0 / 6.0)) * g[2]);
    u[3] = mul_add(V(T(1.0 / 12.0)), g[1], a);
    u[4] = fnma(V(T(1.0 / 12.0)), g[1], a);
    u[5] = g[2];
  }
}

// Transformed filters of F(TM, 3) (E = (TM + 2)² elements). flip = false: U[e][c][k] =
// (G w[k][c] Gᵀ)[e]; flip = true (the input gradient's convolution: input channels k, output
// channels c): U[e][k][c] = (G w[k][c]↻ Gᵀ)[e], w↻ rotated by 180°. Vectorised over the
// contiguous index (k, resp. c), threads over the other.
template <int TM, class T>
void wino_filters(const T* w, int64_t K, int64_t C, bool flip, T* U) {
  using V = simd::Vec<T>;
  constexpr int64_t L = V::N;
  constexpr int N6 = TM + 2;
  const int64_t outer = flip ? K : C, inner = flip ? C : K;
  const int64_t nblk = (inner + L - 1) / L;
  // task order: the lanes' filters are 9 (flip) or C·9 (forward) elements apart in w, so the
  // forward walks one block of k over all c (L streams through w), the flip one k at a time
  parallel_for(outer * nblk, 16, [&](int64_t i0, int64_t i1) {
    alignas(64) T gbuf[9][L];
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t o = flip ? i / nblk : i % outer;
      const int64_t j0 = (flip ? i % nblk : i / outer) * L, nl = wmin(L, inner - j0);
      for (int64_t l = 0; l < L; ++l) {
        const int64_t k = flip ? o : j0 + l, c = flip ? j0 + l : o;
        for (int t = 0; t < 9; ++t)
          gbuf[t][l] = l < nl ? w[(k * C + c) * 9 + (flip ? 8 - t : t)] : T(0);
      }
      V g[3][3], t6[N6][3];
      for (int r = 0; r < 3; ++r)
        for (int q = 0; q < 3; ++q) g[r][q] = V::load(gbuf[r * 3 + q]);
      for (int q = 0; q < 3; ++q) {  // columns: G g
        const V col[3] = {g[0][q], g[1][q], g[2][q]};
        V u[N6];
        wino_flt<TM>(col, u);
        for (int r = 0; r < N6; ++r) t6[r][q] = u[r];
      }
      for (int r = 0; r < N6; ++r) {  // rows: (G g) Gᵀ
        V u[N6];
        wino_flt<TM>(t6[r], u);
        for (int q = 0; q < N6; ++q) {
          T* dst = U + ((r * N6 + q) * outer + o) * inner + j0;
          if (nl == L)
            u[q].store(dst);
          else
            u[q].store(dst, nl);
        }
      }
    }
  });
}

inline void wino_gemm(int64_t m, int64_t n, int64_t k, const float* A, const float* B,
                      float* C) {
  ::fastdl::gemm::sgemm_serial(false, false, m, n, k, 1.0f, A, k, B, n, 0.0f, C, n);
}
inline void wino_gemm(int64_t m, int64_t n, int64_t k, const double* A, const double* B,
                      double* C) {
  ::fastdl::gemm::dgemm_serial(false, false, m, n, k, 1.0, A, k, B, n, 0.0, C, n);
}

// y (N, K, OH, OW) = the stride-1 3×3 correlation of x (N, C, H, W) placed at offset
// (−pt, −pl) (zero outside; pt, pl may be negative), plus b (may be nullptr), by F(TM, 3);
// U from wino_filters<TM> (layout [e][c][k]).
template <int TM, class T>
void wino_run(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t OH, int64_t OW,
              int64_t pt, int64_t pl, const T* x, const T* U, const T* b, T* y) {
  using V = simd::Vec<T>;
  constexpr int64_t L = V::N;
  constexpr int N6 = TM + 2, E = N6 * N6;
  const int64_t th = (OH + TM - 1) / TM, tw = (OW + TM - 1) / TM, rows = N * th;
  const int64_t OHW = OH * OW;
  // tile rows per chunk: V and M of a chunk about kWinoChunkBytes
  const int64_t row_bytes = E * tw * (C + K) * static_cast<int64_t>(sizeof(T));
  const int64_t RC = wmax(1, wmin(rows, kWinoChunkBytes / wmax(1, row_bytes)));
  const int64_t PC = RC * tw;
  PoolBuf vb(sizeof(T) * E * PC * C + 64), mb(sizeof(T) * E * PC * K + 64);
  T* Vt = vb.as<T>();
  T* Mt = mb.as<T>();
  const int64_t ncb = (C + L - 1) / L, nkb = (K + L - 1) / L;
  for (int64_t r0 = 0; r0 < rows; r0 += RC) {
    const int64_t nr = wmin(RC, rows - r0), P = nr * tw;
    // input transform: V[e][p][c]
    parallel_for(nr * ncb, 1, [&](int64_t i0, int64_t i1) {
      alignas(64) T buf[N6][TM * kWinoSeg + 2][L];
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t rr = i / ncb, c0 = (i % ncb) * L, nl = wmin(L, C - c0);
        const int64_t n = (r0 + rr) / th, ty = (r0 + rr) % th, h0 = TM * ty - pt;
        if (nl < L) std::memset(buf, 0, sizeof(buf));
        for (int64_t t0 = 0; t0 < tw; t0 += kWinoSeg) {
          const int64_t t1 = wmin(tw, t0 + kWinoSeg), ncol = TM * (t1 - t0) + 2;
          const int64_t wb = TM * t0 - pl;  // input column of buffer column 0
          int64_t lo = wmax(0, -wb), hi = wmin(ncol, W - wb);
          if (hi < lo) hi = lo = 0;
          for (int a = 0; a < N6; ++a) {
            const int64_t hh = h0 + a;
            const bool in = hh >= 0 && hh < H;
            for (int64_t l = 0; l < nl; ++l) {
              if (!in) {
                for (int64_t q = 0; q < ncol; ++q) buf[a][q][l] = T(0);
                continue;
              }
              const T* xr = x + ((n * C + c0 + l) * H + hh) * W;  // column wb + q at xr[wb + q]
              for (int64_t q = 0; q < lo; ++q) buf[a][q][l] = T(0);
              for (int64_t q = lo; q < hi; ++q) buf[a][q][l] = xr[wb + q];
              for (int64_t q = hi; q < ncol; ++q) buf[a][q][l] = T(0);
            }
          }
          for (int64_t t = t0; t < t1; ++t) {
            const int64_t q0 = TM * (t - t0), p = rr * tw + t;
            V r6[N6][N6];
            for (int q = 0; q < N6; ++q) {  // columns: Bᵀ d
              V d[N6], v[N6];
              for (int a = 0; a < N6; ++a) d[a] = V::load(buf[a][q0 + q]);
              wino_in<TM>(d, v);
              for (int a = 0; a < N6; ++a) r6[a][q] = v[a];
            }
            for (int a = 0; a < N6; ++a) {  // rows: (Bᵀ d) B
              V v[N6];
              wino_in<TM>(r6[a], v);
              for (int q = 0; q < N6; ++q) {
                T* dst = Vt + ((a * N6 + q) * P + p) * C + c0;
                if (nl == L)
                  v[q].store(dst);
                else
                  v[q].store(dst, nl);
              }
            }
          }
        }
      }
    });
    // the E products M[e] (P × K) = V[e] (P × C) · U[e] (C × K)
    parallel_for(E, 1, [&](int64_t e0, int64_t e1) {
      for (int64_t e = e0; e < e1; ++e)
        wino_gemm(P, K, C, Vt + e * P * C, U + e * C * K, Mt + e * P * K);
    });
    // output transform: y = Aᵀ M A + b
    parallel_for(nr * nkb, 1, [&](int64_t i0, int64_t i1) {
      alignas(64) T obuf[TM][TM * kWinoSeg][L];
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t rr = i / nkb, k0 = (i % nkb) * L, nl = wmin(L, K - k0);
        const int64_t n = (r0 + rr) / th, ty = (r0 + rr) % th, oh0 = TM * ty;
        const int64_t nrow = wmin(TM, OH - oh0);
        for (int64_t t0 = 0; t0 < tw; t0 += kWinoSeg) {
          const int64_t t1 = wmin(tw, t0 + kWinoSeg), ow0 = TM * t0;
          const int64_t ncol = wmin(TM * (t1 - t0), OW - ow0);
          for (int64_t t = t0; t < t1; ++t) {
            const int64_t p = rr * tw + t;
            V s6[TM][N6];
            for (int q = 0; q < N6; ++q) {  // columns: Aᵀ m
              V m[N6], o[TM];
              for (int a = 0; a < N6; ++a) {
                const T* src = Mt + ((a * N6 + q) * P + p) * K + k0;
                m[a] = nl == L ? V::load(src) : V::load(src, nl);
              }
              wino_out<TM>(m, o);
              for (int a = 0; a < TM; ++a) s6[a][q] = o[a];
            }
            for (int a = 0; a < TM; ++a) {  // rows: (Aᵀ m) A
              V o[TM];
              wino_out<TM>(s6[a], o);
              for (int q = 0; q < TM; ++q) o[q].store(obuf[a][TM * (t - t0) + q]);
            }
          }
          for (int64_t l = 0; l < nl; ++l) {
            const T bk = b ? b[k0 + l] : T(0);
            T* yk = y + (n * K + k0 + l) * OHW + oh0 * OW + ow0;
            for (int64_t a = 0; a < nrow; ++a)
              for (int64_t q = 0; q < ncol; ++q) yk[a * OW + q] = obuf[a][q][l] + bk;
          }
        }
      }
    });
  }
}

inline bool wino_ok(const Conv2dParams& p) {
  return winograd_applies(p) && p.N > 0 && p.K > 0 && p.C > 0;
}

template <int TM, class T>
void wino_conv(const Conv2dParams& p, const T* w, bool flip, const T* in, const T* b, T* out) {
  constexpr int64_t E = (TM + 2) * (TM + 2);
  PoolBuf ub(sizeof(T) * E * p.C * p.K + 64);
  T* U = ub.as<T>();
  wino_filters<TM>(w, p.K, p.C, flip, U);
  if (!flip)
    wino_run<TM>(p.N, p.C, p.H, p.W, p.K, p.OH, p.OW, p.pt, p.pl, in, U, b, out);
  else  // dx: the correlation of dy at offset −(2 − pt), −(2 − pl), output H × W
    wino_run<TM>(p.N, p.K, p.OH, p.OW, p.C, p.H, p.W, 2 - p.pt, 2 - p.pl, in, U, b, out);
}

template <class T>
bool winograd_forward(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y) {
  if (!wino_ok(p)) return false;
  if (winograd_tile() == 4)
    wino_conv<4>(p, w, false, x, b, y);
  else
    wino_conv<2>(p, w, false, x, b, y);
  return true;
}

// dx = the stride-1 correlation of dy with the rotated, transposed filters: the same routine.
template <class T>
bool winograd_backward_input(const Conv2dParams& p, const T* w, const T* dy, T* dx) {
  if (!wino_ok(p)) return false;
  const T* none = nullptr;
  if (winograd_tile() == 4)
    wino_conv<4>(p, w, true, dy, none, dx);
  else
    wino_conv<2>(p, w, true, dy, none, dx);
  return true;
}

}  // namespace
}  // namespace FASTDL_SIMD_ISA
}  // namespace conv
}  // namespace fastdl
