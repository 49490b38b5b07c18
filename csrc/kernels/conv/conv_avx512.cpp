// Convolution compiled for AVX-512: the shared loops of conv_impl.h (vectorised by the
// compiler for this ISA) plus a direct float32 convolution for stride 1, dilation 1, used for
// the forward pass and (as the convolution of the padded output gradient with the flipped,
// transposed weights) for the input gradient.
//
// Direct kernel ("ukr_MRxNV"): one output row segment of NV·16 pixels for MR output channels
// held in MR·NV zmm accumulators; per (c, r, s) it loads NV input vectors from the zero-padded
// input row and does MR·NV FMAs with broadcast weights (packed [c][r][s][MR]). The padded
// input (one image, all channels) is built once per image in a per-thread scratch, so the
// kernel has no boundary tests; row tails use masked loads/stores. No im2col buffer: the
// input is read R·S times from L1/L2 instead of being copied R·S times to memory.
#include "kernels/conv/conv_impl.h"  // the shared loops; declares the hooks defined here

namespace fastdl {
namespace conv {
namespace FASTDL_SIMD_ISA {  // avx512
namespace {

constexpr ScratchSlot kPadSlot = kScratchConvPad;  // the padded input

using simd::lane_mask;  // common/simd.h

// acc := 0 for the direct micro-kernels below.
template <int MR, int NQ>
__attribute__((always_inline)) inline void zero_acc(__m512 (&acc)[MR][NQ]) {
#pragma GCC unroll 32
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 8
    for (int v = 0; v < NQ; ++v) acc[m][v] = _mm512_setzero_ps();
}

// acc[m][v] += w[m] · xv[v] for the MR broadcast weights and NQ input vectors of one tap: the
// step of the direct micro-kernels here (ukr, ukr_pair, strided_impl.h's ukr_bxt).
template <int MR, int NQ>
__attribute__((always_inline)) inline void bcast_fma(const float* w, const __m512 (&xv)[NQ],
                                                     __m512 (&acc)[MR][NQ]) {
#pragma GCC unroll 32
  for (int m = 0; m < MR; ++m) {
    const __m512 wv = _mm512_set1_ps(w[m]);
#pragma GCC unroll 8
    for (int v = 0; v < NQ; ++v) acc[m][v] = _mm512_fmadd_ps(wv, xv[v], acc[m][v]);
  }
}

// y[m][0 .. 16·NV) (m < mr; lanes by mask) = bias[m] + Σ_{c<C, r<R, s<S}
//   wp[((c·R + r)·S + s)·MR + m] · xp[c·plane + r·Wp + s + lane]
// NR2 = 2: two consecutive output rows (the second at +Wp in the input, +OW in y), so every
// broadcast weight feeds 2·NV FMAs.
template <int MR, int NV, int NR2 = 1>
void ukr(int64_t C, int64_t R, int64_t S, const float* xp, int64_t plane, int64_t Wp,
         const float* wp, float* y, int64_t ystride, int64_t mr, const __mmask16* mask,
         const float* bias, int64_t yrow) {
  constexpr int NQ = NV * NR2;
  __m512 acc[MR][NQ];
  zero_acc(acc);
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t r = 0; r < R; ++r) {
      const float* row = xp + c * plane + r * Wp;
      for (int64_t s = 0; s < S; ++s) {
        __m512 xv[NQ];
#pragma GCC unroll 8
        for (int v = 0; v < NQ; ++v)
          xv[v] = _mm512_maskz_loadu_ps(mask[v % NV], row + (v / NV) * Wp + s + 16 * (v % NV));
        bcast_fma<MR, NQ>(wp, xv, acc);
        wp += MR;
      }
    }
  }
#pragma GCC unroll 32
  for (int m = 0; m < MR; ++m) {
    if (m >= mr) break;
    const __m512 bv = _mm512_set1_ps(bias ? bias[m] : 0.0f);
#pragma GCC unroll 8
    for (int v = 0; v < NQ; ++v)
      _mm512_mask_storeu_ps(y + m * ystride + (v / NV) * yrow + 16 * (v % NV), mask[v % NV],
                            _mm512_add_ps(acc[m][v], bv));
  }
}

// Rows of at most 8 pixels, two to a vector: lanes 0..7 hold row 2v, lanes 8..15 row 2v + 1
// (masks m[2v] and m[2v + 1]: the row's pixels, or none past the last row), NP vectors =
// 2·NP output rows per call; otherwise as ukr, whose vectors an 8-pixel row fills only half.
// Each output gets the same sum in the same order as in ukr (bitwise equal). Measured, LeNet's
// 6→16 5×5 on 12² at batch 64, forward, µs 1 thread / 2 threads: 169 / 89 -> 104 / 58
// (torch 2.13: 132 / 100).
template <int MR, int NP>
void ukr_pair(int64_t C, int64_t R, int64_t S, const float* xp, int64_t plane, int64_t Wp,
              const float* wp, float* y, int64_t ystride, int64_t mr, const __mmask16* mask,
              const float* bias, int64_t yrow) {
  __m512 acc[MR][NP];
  zero_acc(acc);
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t r = 0; r < R; ++r) {
      const float* row = xp + c * plane + r * Wp;
      for (int64_t s = 0; s < S; ++s) {
        __m512 xv[NP];
#pragma GCC unroll 4
        for (int v = 0; v < NP; ++v) {
          const float* q = row + 2 * v * Wp + s;
          xv[v] = _mm512_mask_loadu_ps(_mm512_maskz_loadu_ps(mask[2 * v], q), mask[2 * v + 1],
                                       q + Wp - 8);
        }
        bcast_fma<MR, NP>(wp, xv, acc);
        wp += MR;
      }
    }
  }
#pragma GCC unroll 32
  for (int m = 0; m < MR; ++m) {
    if (m >= mr) break;
    const __m512 bv = _mm512_set1_ps(bias ? bias[m] : 0.0f);
#pragma GCC unroll 4
    for (int v = 0; v < NP; ++v) {
      const __m512 o = _mm512_add_ps(acc[m][v], bv);
      float* yo = y + m * ystride + 2 * v * yrow;
      _mm512_mask_storeu_ps(yo, mask[2 * v], o);
      _mm512_mask_storeu_ps(yo + yrow - 8, mask[2 * v + 1], o);
    }
  }
}

using Ukr = void (*)(int64_t, int64_t, int64_t, const float*, int64_t, int64_t, const float*,
                     float*, int64_t, int64_t, const __mmask16*, const float*, int64_t);

struct Choice {
  int mr, nv;
  Ukr fn;
  Ukr fn2;  // two rows at once (nullptr: none)
  Ukr pair = nullptr;  // rows of <= 8 pixels, four rows per call as two vectors (ukr_pair)
};
constexpr int64_t kPairRows = 4;

// Register blocking: MR·NV·rows <= 24 accumulators. NV covers the output row (up to 4
// vectors); rows of up to 32 pixels (NV <= 2) go two at a time, so each broadcast weight
// feeds 2·NV FMAs (measured: 85 vs 79 GFLOP/s on 128×28×28, one thread). MR minimises the
// padded channels plus the per-step load overhead.
Choice choose(int64_t Kg, int64_t OW) {
  const int nv = OW >= 49 ? 4 : static_cast<int>((OW + 15) / 16);
  const int rows = nv <= 2 ? 2 : 1;
  static const int mrs[] = {4, 6, 8, 12, 16, 24};
  int best = 4;
  double best_cost = 1e300;
  for (int mr : mrs) {
    if (mr * nv * rows > 24) continue;
    const double padded = static_cast<double>((Kg + mr - 1) / mr * mr);
    const double cost = padded * (1.0 + 1.0 / mr + 1.0 / (nv * rows));
    if (cost < best_cost - 1e-9) {
      best_cost = cost;
      best = mr;
    }
  }
  Ukr fn = nullptr, fn2 = nullptr;
#define FASTDL_UKR_CASE(M, V) \
  if (best == M && nv == V) fn = ukr<M, V>;
#define FASTDL_UKR_CASE2(M, V) \
  if (best == M && nv == V) fn2 = ukr<M, V, 2>;
  FASTDL_UKR_CASE(4, 1) FASTDL_UKR_CASE(6, 1) FASTDL_UKR_CASE(8, 1) FASTDL_UKR_CASE(12, 1)
  FASTDL_UKR_CASE(4, 2) FASTDL_UKR_CASE(6, 2)
  FASTDL_UKR_CASE(4, 3) FASTDL_UKR_CASE(6, 3) FASTDL_UKR_CASE(8, 3)
  FASTDL_UKR_CASE(4, 4) FASTDL_UKR_CASE(6, 4)
  FASTDL_UKR_CASE2(4, 1) FASTDL_UKR_CASE2(6, 1) FASTDL_UKR_CASE2(8, 1) FASTDL_UKR_CASE2(12, 1)
  FASTDL_UKR_CASE2(4, 2) FASTDL_UKR_CASE2(6, 2)
#undef FASTDL_UKR_CASE
#undef FASTDL_UKR_CASE2
  Ukr pair = nullptr;
  if (OW <= 8) {
    if (best == 4) pair = ukr_pair<4, 2>;
    if (best == 6) pair = ukr_pair<6, 2>;
    if (best == 8) pair = ukr_pair<8, 2>;
    if (best == 12) pair = ukr_pair<12, 2>;
  }
  return {best, nv, fn, fn2, pair};
}

// dst[c][a][b] (Hp × Wp) = src[c][a − offh][b − offw] inside src (H × W), else 0. Offsets may
// be negative (rows/columns of src before them are dropped).
void pad_copy(const float* src, int64_t C, int64_t H, int64_t W, int64_t offh, int64_t offw,
              int64_t Hp, int64_t Wp, float* dst) {
  const int64_t b0 = imax(0, offw), b1 = imax(b0, imin(Wp, W + offw));
  for (int64_t c = 0; c < C; ++c) {
    for (int64_t a = 0; a < Hp; ++a) {
      float* d = dst + (c * Hp + a) * Wp;
      const int64_t h = a - offh;
      if (h < 0 || h >= H) {
        for (int64_t j = 0; j < Wp; ++j) d[j] = 0.0f;
        continue;
      }
      const float* sr = src + (c * H + h) * W - offw;
      for (int64_t j = 0; j < b0; ++j) d[j] = 0.0f;
      for (int64_t j = b0; j < b1; ++j) d[j] = sr[j];
      for (int64_t j = b1; j < Wp; ++j) d[j] = 0.0f;
    }
  }
}

// The direct convolution proper: y (N, K, OH, OW) from x (N, C, H, W) placed at (offh, offw)
// in a zero-padded (OH + R − 1) × (OW + S − 1) plane; weights already packed per group and
// MR-block ([g][kb][c][r][s][MR]).
void direct_run(const Conv2dParams& p, int64_t offh, int64_t offw, const float* x,
                const float* wpk, const float* b, float* y, const Choice& ch) {
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups;
  const int64_t Hp = p.OH + p.R - 1, Wp = p.OW + p.S - 1, plane = Hp * Wp;
  const int64_t HW = p.H * p.W, OHW = p.OH * p.OW;
  const int64_t MR = ch.mr, SEG = 16 * ch.nv;
  const int64_t nkb = (Kg + MR - 1) / MR, panel = Cg * p.R * p.S * MR;
  const int64_t nseg = (p.OW + SEG - 1) / SEG;
  // rows [oh0, oh1) of groups [g0, g1) of one image, its padded input at xp (group g0's
  // first plane)
  auto rows = [&](const float* xp, float* yn, int64_t oh0, int64_t oh1, int64_t g0,
                  int64_t g1) {
    __mmask16 mask[4];
    for (int64_t g = g0; g < g1; ++g) {
      const float* xg = xp + (g - g0) * Cg * plane;
      if (ch.pair) {  // one segment; rows kPairRows at a time, two to a vector
        const __mmask16 lo = lane_mask(p.OW), hi = static_cast<__mmask16>(lo << 8);
        for (int64_t oh = oh0; oh < oh1; oh += kPairRows) {
          const int64_t nr = imin(kPairRows, oh1 - oh);
          for (int64_t j = 0; j < kPairRows; ++j)
            mask[j] = j < nr ? (j % 2 ? hi : lo) : static_cast<__mmask16>(0);
          for (int64_t kb = 0; kb < nkb; ++kb) {
            const int64_t k0 = g * Kg + kb * MR;
            ch.pair(Cg, p.R, p.S, xg + oh * Wp, plane, Wp, wpk + (g * nkb + kb) * panel,
                    yn + k0 * OHW + oh * p.OW, OHW, imin(MR, Kg - kb * MR), mask,
                    b ? b + k0 : nullptr, p.OW);
          }
        }
        continue;
      }
      for (int64_t oh = oh0; oh < oh1;) {
        const bool two = ch.fn2 && oh + 1 < oh1;
        const Ukr fn = two ? ch.fn2 : ch.fn;
        for (int64_t sg = 0; sg < nseg; ++sg) {
          const int64_t ow0 = sg * SEG;
          for (int v = 0; v < 4; ++v) mask[v] = lane_mask(p.OW - ow0 - 16 * v);
          for (int64_t kb = 0; kb < nkb; ++kb) {
            const int64_t k0 = g * Kg + kb * MR;
            fn(Cg, p.R, p.S, xg + oh * Wp + ow0, plane, Wp, wpk + (g * nkb + kb) * panel,
               yn + k0 * OHW + oh * p.OW + ow0, OHW, imin(MR, Kg - kb * MR), mask,
               b ? b + k0 : nullptr, p.OW);
          }
        }
        oh += two ? 2 : 1;
      }
    }
  };
  const size_t pad_bytes = sizeof(float) * static_cast<size_t>(p.C * plane) + 64;
  if (p.N == 1 && grouped_by_group(p)) {
    // one image of a grouped layer: whole groups per task, each padding its own channels, so
    // that no input or output cache line is shared between the threads (rows split among
    // them ran ResNeXt's 512 14² 32-group layer at 0.36 ms on 2 threads against 0.40 on one,
    // and at 1.3 ms in this VM's spells of slow cross-core traffic; by groups 0.23 ms)
    parallel_for(p.groups, 1, [&](int64_t g0, int64_t g1) {
      float* xp = static_cast<float*>(thread_scratch(pad_bytes, kPadSlot));
      for (int64_t g = g0; g < g1; ++g) {
        pad_copy(x + g * Cg * HW, Cg, p.H, p.W, offh, offw, Hp, Wp, xp);
        rows(xp, y, 0, p.OH, g, g + 1);
      }
    });
    return;
  }
  if (p.N == 1) {
    float* xp = static_cast<float*>(thread_scratch(pad_bytes, kPadSlot));
    pad_copy(x, p.C, p.H, p.W, offh, offw, Hp, Wp, xp);
    parallel_for(p.OH, 4, [&](int64_t o0, int64_t o1) { rows(xp, y, o0, o1, 0, p.groups); });
    return;
  }
  parallel_for(p.N, 1, [&](int64_t n0, int64_t n1) {
    float* xp = static_cast<float*>(thread_scratch(pad_bytes, kPadSlot));
    for (int64_t n = n0; n < n1; ++n) {
      pad_copy(x + n * p.C * HW, p.C, p.H, p.W, offh, offw, Hp, Wp, xp);
      rows(xp, y + n * p.K * OHW, 0, p.OH, 0, p.groups);
    }
  });
}

bool direct_ok(const Conv2dParams& p) {
  return p.sh == 1 && p.sw == 1 && p.dh == 1 && p.dw == 1 && p.N > 0 && p.K > 0 &&
         p.OH > 0 && p.OW > 0;
}

// Packs w (K, Cg, R, S) as [g][kb][c][r][s][MR] (zero rows past Kg); `flip` packs instead the
// transposed, spatially flipped weights of the input-gradient convolution:
// w'[c'][k'][r][s] = w[k'][c'][R−1−r][S−1−s] within each group.
void pack_weights(const float* w, int64_t K, int64_t Cg, int64_t R, int64_t S, int64_t groups,
                  int64_t MR, bool flip, float* out) {
  // Dimensions of the packed convolution: Kp output channels, Cp input channels per group.
  const int64_t Kg = K / groups;
  const int64_t Kpg = flip ? Cg : Kg, Cpg = flip ? Kg : Cg;
  const int64_t nkb = (Kpg + MR - 1) / MR, RS = R * S, KK = Cpg * RS;
  if (!flip) {
    // each output channel's weights are one contiguous run of KK = Cg·R·S: 16 channels ×
    // 16 positions at a time through a register transpose when MR is a multiple of 16 (a
    // 512→512 3×3 weight, 9.4 MB: the scalar loop took ~2 ms of a 19 ms batch-8 forward),
    // panels split between the threads
    parallel_for(groups * nkb, grain_for(KK * MR), [&](int64_t q0, int64_t q1) {
      for (int64_t q = q0; q < q1; ++q) {
        const int64_t g = q / nkb, kb = q % nkb;
        float* o = out + (g * nkb + kb) * KK * MR;
        const int64_t m16 = MR % 16 == 0 ? MR : 0;  // channels through the transposes
        for (int64_t m0 = 0; m0 < m16; m0 += 16) {
          const int64_t kn = imax(0, imin(16, Kg - kb * MR - m0));  // real channels here
          const float* src = w + (g * Kg + kb * MR + m0) * KK;
          for (int64_t i0 = 0; i0 < KK; i0 += 16) {
            __m512 r[16];
            simd::load_transpose16(src + i0, KK, static_cast<int>(kn), lane_mask(KK - i0), r);
            for (int64_t j = 0; j < imin(16, KK - i0); ++j)
              _mm512_storeu_ps(o + (i0 + j) * MR + m0, r[j]);
          }
        }
        for (int64_t m = m16; m < MR; ++m) {
          const int64_t k = kb * MR + m;
          const float* src = w + (g * Kg + k) * KK;
          for (int64_t i = 0; i < KK; ++i) o[i * MR + m] = k < Kg ? src[i] : 0.0f;
        }
      }
    });
    return;
  }
  for (int64_t g = 0; g < groups; ++g)
    for (int64_t kb = 0; kb < nkb; ++kb) {
      float* o = out + (g * nkb + kb) * KK * MR;
      for (int64_t c = 0; c < Cpg; ++c)
        for (int64_t r = 0; r < R; ++r)
          for (int64_t s = 0; s < S; ++s)
            for (int64_t m = 0; m < MR; ++m) {
              const int64_t k = kb * MR + m;
              *o++ = k < Kpg ? w[(((g * Kg + c) * Cg + k) * R + (R - 1 - r)) * S + (S - 1 - s)]
                             : 0.0f;
            }
    }
}

// strides > 1: strided_impl.h (included below, after the weight-gradient tiles it reuses)
bool strided_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                     float* y);
bool strided_backward_weight(const Conv2dParams& p, const float* x, const float* dy,
                             float* dw);
bool strided_backward_input(const Conv2dParams& p, const float* w, const float* dy, float* dx);

bool direct_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                    float* y) {
  if (!direct_ok(p)) return strided_forward(p, x, w, b, y);
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups;
  const Choice ch = choose(Kg, p.OW);
  if (!ch.fn) return false;
  const int64_t nkb = (Kg + ch.mr - 1) / ch.mr;
  PoolBuf wbuf(sizeof(float) * p.groups * nkb * Cg * p.R * p.S * ch.mr);
  float* wpk = static_cast<float*>(wbuf.p);
  pack_weights(w, p.K, Cg, p.R, p.S, p.groups, ch.mr, false, wpk);
  direct_run(p, p.pt, p.pl, x, wpk, b, y, ch);
  return true;
}

// dx = the stride-1 convolution of dy, zero-padded by (R−1−pt, S−1−pl), with the flipped,
// transposed weights; output H × W.
bool direct_backward_input(const Conv2dParams& p, const float* w, const float* dy, float* dx) {
  if (!direct_ok(p)) return strided_backward_input(p, w, dy, dx);
  if (p.H <= 0 || p.W <= 0) return false;
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups;
  Conv2dParams q = p;
  q.C = p.K; q.H = p.OH; q.W = p.OW;
  q.K = p.C; q.OH = p.H; q.OW = p.W;
  const Choice ch = choose(Cg, q.OW);
  if (!ch.fn) return false;
  const int64_t nkb = (Cg + ch.mr - 1) / ch.mr;
  PoolBuf wbuf(sizeof(float) * p.groups * nkb * Kg * p.R * p.S * ch.mr);
  float* wpk = static_cast<float*>(wbuf.p);
  pack_weights(w, p.K, Cg, p.R, p.S, p.groups, ch.mr, true, wpk);
  direct_run(q, p.R - 1 - p.pt, p.S - 1 - p.pl, dy, wpk, nullptr, dx, ch);
  return true;
}

// Weight gradient on one image, vectorised over output channels: with dyT the image's output
// gradient transposed to [pixel][k] (k padded to a multiple of 16 with zeros), for a block of
// NKV·16 channels and NT taps t = (c, r, s) (offsets off[t] = c·plane + r·Wp + s in the padded
// input), acc[kv][t] = Σ_pixels dyT[pix][k0 + 16·kv + lane] · xp[off[t] + oh·Wp + ow], added
// to the tap-major partial dwT[t][k0 + 16·kv + lane] (row stride ldt): one vector add per
// accumulator. Every FMA takes a broadcast input value; no horizontal sums.
template <int NKV, int NT>
void wgrad_tile(const float* dyT, int64_t ldk, int64_t OH, int64_t OW, const float* xp,
                int64_t Wp, const int64_t* off, int nt, float* dwT, int64_t ldt) {
  __m512 acc[NKV][NT];
#pragma GCC unroll 4
  for (int kv = 0; kv < NKV; ++kv)
#pragma GCC unroll 24
    for (int t = 0; t < NT; ++t) acc[kv][t] = _mm512_setzero_ps();
  const float* xt[NT];
  for (int t = 0; t < NT; ++t) xt[t] = xp + off[t < nt ? t : nt - 1];
  const float* d = dyT;
  for (int64_t oh = 0; oh < OH; ++oh) {
    const int64_t rb = oh * Wp;
    for (int64_t ow = 0; ow < OW; ++ow) {
      __m512 dv[NKV];
#pragma GCC unroll 4
      for (int kv = 0; kv < NKV; ++kv) dv[kv] = _mm512_loadu_ps(d + 16 * kv);
#pragma GCC unroll 24
      for (int t = 0; t < NT; ++t) {
        const __m512 xv = _mm512_set1_ps(xt[t][rb + ow]);
#pragma GCC unroll 4
        for (int kv = 0; kv < NKV; ++kv) acc[kv][t] = _mm512_fmadd_ps(dv[kv], xv, acc[kv][t]);
      }
      d += ldk;
    }
  }
#pragma GCC unroll 24
  for (int t = 0; t < NT; ++t) {
    if (t >= nt) break;
#pragma GCC unroll 4
    for (int kv = 0; kv < NKV; ++kv) {
      float* q = dwT + t * ldt + 16 * kv;
      _mm512_storeu_ps(q, _mm512_add_ps(_mm512_loadu_ps(q), acc[kv][t]));
    }
  }
}

// Tiles of S taps from t0 on while at least S taps remain.
template <int NKV, int S>
inline void wgrad_tiles(const float* dyT, int64_t ldk, int64_t OH, int64_t OW, const float* xp,
                        int64_t Wp, const int64_t* off, int64_t ntaps, float* dwT, int64_t ldt,
                        int64_t& t0) {
  for (; ntaps - t0 >= S; t0 += S)
    wgrad_tile<NKV, S>(dyT, ldk, OH, OW, xp, Wp, off + t0, S, dwT + t0 * ldt, ldt);
}

// All taps: full tiles of NT = 24/NKV, then the remainder in tiles of 8, 4, 2, 1 (a tile
// costs its full width per pixel, so LeNet's 25 taps as 24 + 24 nearly doubled the work;
// now 24 + 1). Each accumulator's sum is the same whatever tile it falls in.
template <int NKV>
void wgrad_block(const float* dyT, int64_t ldk, int64_t OH, int64_t OW, const float* xp,
                 int64_t Wp, const int64_t* off, int64_t ntaps, float* dwT, int64_t ldt) {
  constexpr int NT = 24 / NKV;
  int64_t t0 = 0;
  wgrad_tiles<NKV, NT>(dyT, ldk, OH, OW, xp, Wp, off, ntaps, dwT, ldt, t0);
  if constexpr (NT > 8) wgrad_tiles<NKV, 8>(dyT, ldk, OH, OW, xp, Wp, off, ntaps, dwT, ldt, t0);
  if constexpr (NT > 4) wgrad_tiles<NKV, 4>(dyT, ldk, OH, OW, xp, Wp, off, ntaps, dwT, ldt, t0);
  wgrad_tiles<NKV, 2>(dyT, ldk, OH, OW, xp, Wp, off, ntaps, dwT, ldt, t0);
  wgrad_tiles<NKV, 1>(dyT, ldk, OH, OW, xp, Wp, off, ntaps, dwT, ldt, t0);
}

constexpr ScratchSlot kDyTSlot = kScratchConvDyT;  // the transposed output gradient

// Weight gradient: per fixed chunk of images (a function of N only) a partial dW accumulated
// image by image, tap-major ([group][tap][channel], the channels padded to ldk: the tiles add
// whole vectors), then the partials summed in chunk order and transposed into dw (bitwise
// identical for any thread count). prep(n, xp) writes image n's prepared input (xp_floats
// floats: the zero-padded copy, or strided_impl.h's shifted planes); tap t = (c, r, s) of
// output pixel (oh, ow) reads xp[off[t] + oh·Wq + ow] over an OHt × OWt pixel loop (the pixels
// in dy's order). Why not a channel-major partial: each tile's 16·24 sums would go into it one
// scalar at a time, each on another cache line; that variant (with dy transposed by scalar
// copies), against this one, bitwise equal, one thread, CPU time, ms: ResNet-18 b32 64→128
// 32² s2 15.5 / 13.3, 128→256 16² s2 19.5 / 13.5; ResNet-50 b8 256 28² s2 25.0 / 20.7, stem
// 7×7 s2 27.2 / 21.6; MobileNetV2 stem b16 13.3 / 8.0; 64→64 32² s1 b32 23.9 / 22.6.
template <class Prep>
void wgrad_run(const Conv2dParams& p, const float* dy, float* dw, int64_t xp_floats,
               const int64_t* off, int64_t OHt, int64_t OWt, int64_t Wq, Prep prep) {
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups, RS = p.R * p.S, KK = Cg * RS;
  const int64_t OHW = p.OH * p.OW;
  const int64_t gstride = xp_floats / p.groups;  // a group's channels in xp
  const int64_t ldk = (Kg + 15) / 16 * 16;  // dyT row and dwT row: one group's channels, padded
  const int64_t gsize = KK * ldk, wsize = p.groups * gsize;  // one chunk's tap-major partial
  const int64_t chunk = (p.N + kMaxWeightChunks - 1) / kMaxWeightChunks;
  const int64_t nchunks = (p.N + chunk - 1) / chunk;
  PoolBuf part(sizeof(float) * nchunks * wsize + 64);
  float* parts = static_cast<float*>(part.p);
  const size_t pad_bytes = sizeof(float) * static_cast<size_t>(xp_floats + 64);
  const size_t dyt_bytes = sizeof(float) * static_cast<size_t>(OHW * ldk) + 64;
  parallel_for(nchunks, 1, [&](int64_t c0, int64_t c1) {
    float* xp = static_cast<float*>(thread_scratch(pad_bytes, kPadSlot));
    float* dyT = static_cast<float*>(thread_scratch(dyt_bytes, kDyTSlot));
    for (int64_t ck = c0; ck < c1; ++ck) {
      float* dwc = parts + ck * wsize;
      fill(dwc, wsize, 0.0f);
      const int64_t n_end = imin(p.N, (ck + 1) * chunk);
      for (int64_t n = ck * chunk; n < n_end; ++n) {
        prep(n, xp);
        for (int64_t g = 0; g < p.groups; ++g) {
          const float* dyg = dy + (n * p.K + g * Kg) * OHW;
          // the group's dy (Kg × OHW) transposed to dyT (OHW × ldk), 16×16 blocks in
          // registers; channels Kg .. ldk read as zero
          for (int64_t i0 = 0; i0 < OHW; i0 += 16) {
            const int pw = static_cast<int>(imin(16, OHW - i0));
            const __mmask16 pm = static_cast<__mmask16>((1u << pw) - 1u);
            for (int64_t k0 = 0; k0 < ldk; k0 += 16) {
              __m512 r[16];
              simd::load_transpose16(dyg + k0 * OHW + i0, OHW, static_cast<int>(imin(16, Kg - k0)),
                                     pm, r);
              for (int c = 0; c < pw; ++c) _mm512_storeu_ps(dyT + (i0 + c) * ldk + k0, r[c]);
            }
          }
          const float* xg = xp + g * gstride;
          for (int64_t k0 = 0; k0 < Kg; k0 += 64) {
            const int64_t nkv = imin(4, (Kg - k0 + 15) / 16);
            float* dwk = dwc + g * gsize + k0;
            const float* d0 = dyT + k0;
            if (nkv == 4)
              wgrad_block<4>(d0, ldk, OHt, OWt, xg, Wq, off, KK, dwk, ldk);
            else if (nkv == 3)
              wgrad_block<3>(d0, ldk, OHt, OWt, xg, Wq, off, KK, dwk, ldk);
            else if (nkv == 2)
              wgrad_block<2>(d0, ldk, OHt, OWt, xg, Wq, off, KK, dwk, ldk);
            else
              wgrad_block<1>(d0, ldk, OHt, OWt, xg, Wq, off, KK, dwk, ldk);
          }
        }
      }
    }
  });
  // dw[g·Kg + k][t] = Σ_chunks parts[chunk][g][t][k], in chunk order; 16 taps × 16 channels
  // at a time, summed as vectors over channels, then transposed
  const int64_t ntb = (KK + 15) / 16, nkb = ldk / 16;
  parallel_for(p.groups * ntb, imax(1, 64 / nkb), [&](int64_t b0, int64_t b1) {
    alignas(64) float blk[16 * 16];
    for (int64_t bi = b0; bi < b1; ++bi) {
      const int64_t g = bi / ntb, t0 = bi % ntb * 16;
      const int tn = static_cast<int>(imin(16, KK - t0));
      const __mmask16 tm = static_cast<__mmask16>((1u << tn) - 1u);
      for (int64_t kb = 0; kb < nkb; ++kb) {
        const int64_t k0 = kb * 16;
        for (int i = 0; i < tn; ++i) {
          const float* q = parts + g * gsize + (t0 + i) * ldk + k0;
          __m512 acc = _mm512_loadu_ps(q);
          for (int64_t c = 1; c < nchunks; ++c)
            acc = _mm512_add_ps(acc, _mm512_loadu_ps(q + c * wsize));
          _mm512_store_ps(blk + i * 16, acc);
        }
        __m512 r[16];
        simd::load_transpose16(blk, 16, tn, 0xFFFF, r);  // r[j]: channel k0 + j over the taps
        const int kn = static_cast<int>(imin(16, Kg - k0));
        for (int j = 0; j < kn; ++j)
          _mm512_mask_storeu_ps(dw + (g * Kg + k0 + j) * KK + t0, tm, r[j]);
      }
    }
  });
}

// Weight gradient, stride 1: the zero-padded copy of each image.
bool direct_backward_weight(const Conv2dParams& p, const float* x, const float* dy, float* dw) {
  if (!direct_ok(p)) return strided_backward_weight(p, x, dy, dw);
  const int64_t Cg = p.C / p.groups, KK = Cg * p.R * p.S;
  const int64_t Hp = p.OH + p.R - 1, Wp = p.OW + p.S - 1, plane = Hp * Wp, HW = p.H * p.W;
  PoolBuf offs(sizeof(int64_t) * KK);
  int64_t* off = static_cast<int64_t*>(offs.p);
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t r = 0; r < p.R; ++r)
      for (int64_t s = 0; s < p.S; ++s) off[(c * p.R + r) * p.S + s] = c * plane + r * Wp + s;
  wgrad_run(p, dy, dw, p.C * plane, off, p.OH, p.OW, Wp, [&](int64_t n, float* xp) {
    pad_copy(x + n * p.C * HW, p.C, p.H, p.W, p.pt, p.pl, Hp, Wp, xp);
  });
  return true;
}

}  // namespace
}  // namespace FASTDL_SIMD_ISA
}  // namespace conv
}  // namespace fastdl

#include "kernels/conv/strided_impl.h"  // strides > 1 (uses choose, pack_weights, wgrad_run)

namespace fastdl {
namespace conv {
namespace FASTDL_SIMD_ISA {  // avx512
namespace {

// ---- depthwise, stride 1: direct vector kernels on zero-padded planes ----------------------
// y[oh][ow] = bias + Σ_{j<J, r, s} wt[(j·R + r)·S + s] · xp[j·plane + (oh + r)·Wp + ow + s]:
// up to 64 pixels of a row in 4 accumulators, every tap a masked load and an FMA.
// With `act`, the fused activation (conv.h: Act) is applied to the accumulators.
void dw_plane_fwd(const float* xp, int64_t plane, int64_t J, int64_t Wp, int64_t R, int64_t S,
                  const float* wt, float bias, float* y, int64_t OH, int64_t OW,
                  const Act* act = nullptr) {
  const simd::Vf lo(act ? act->lo : 0.0f), hi(act ? act->hi : 0.0f);
  for (int64_t oh = 0; oh < OH; ++oh) {
    for (int64_t ow0 = 0; ow0 < OW; ow0 += 64) {
      __mmask16 mk[4];
      for (int v = 0; v < 4; ++v) mk[v] = lane_mask(OW - ow0 - 16 * v);
      __m512 acc[4];
      for (int v = 0; v < 4; ++v) acc[v] = _mm512_set1_ps(bias);
      const float* wq = wt;
      for (int64_t j = 0; j < J; ++j)
        for (int64_t r = 0; r < R; ++r) {
          const float* row = xp + j * plane + (oh + r) * Wp + ow0;
          for (int64_t s = 0; s < S; ++s) {
            const __m512 wv = _mm512_set1_ps(*wq++);
#pragma GCC unroll 4
            for (int v = 0; v < 4; ++v)
              acc[v] = _mm512_fmadd_ps(wv, _mm512_maskz_loadu_ps(mk[v], row + s + 16 * v),
                                       acc[v]);
          }
        }
      if (act)
        for (int v = 0; v < 4; ++v) acc[v] = act_vec(acc[v], lo, hi).v;
      for (int v = 0; v < 4; ++v) _mm512_mask_storeu_ps(y + oh * OW + ow0 + 16 * v, mk[v], acc[v]);
    }
  }
}

bool dw_direct_ok(const Conv2dParams& p) {
  return direct_ok(p) && p.H > 0 && p.W > 0;
}

bool direct_dw_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                       float* y, Act act) {
  if (!dw_direct_ok(p)) return false;
  const int64_t m = p.K / p.C, HW = p.H * p.W, OHW = p.OH * p.OW, RS = p.R * p.S;
  const int64_t Hp = p.OH + p.R - 1, Wp = p.OW + p.S - 1;
  const size_t pad_bytes = sizeof(float) * static_cast<size_t>(Hp * Wp) + 64;
  parallel_for(p.N * p.C, 4, [&](int64_t i0, int64_t i1) {
    float* xp = static_cast<float*>(thread_scratch(pad_bytes, kPadSlot));
    for (int64_t i = i0; i < i1; ++i) {  // plane (n, c): its m output channels
      const int64_t n = i / p.C, c = i % p.C;
      pad_copy(x + i * HW, 1, p.H, p.W, p.pt, p.pl, Hp, Wp, xp);
      for (int64_t j = 0; j < m; ++j) {
        const int64_t k = c * m + j;
        dw_plane_fwd(xp, Hp * Wp, 1, Wp, p.R, p.S, w + k * RS, b ? b[k] : 0.0f,
                     y + (n * p.K + k) * OHW, p.OH, p.OW, act.on() ? &act : nullptr);
      }
    }
  });
  return true;
}

// dw[k][t] += Σ_pixels dy[oh][ow] · xp[(oh + r_t)·Wp + ow + s_t], RS_ taps (compile-time).
template <int RS_>
void dw_plane_wgrad(const float* dyk, int64_t OH, int64_t OW, const float* xp, int64_t Wp,
                    int64_t S, float* dwk) {
  __m512 acc[RS_];
#pragma GCC unroll 32
  for (int t = 0; t < RS_; ++t) acc[t] = _mm512_setzero_ps();
  for (int64_t oh = 0; oh < OH; ++oh)
    for (int64_t ow = 0; ow < OW; ow += 16) {
      const __mmask16 mk = lane_mask(OW - ow);
      const __m512 d = _mm512_maskz_loadu_ps(mk, dyk + oh * OW + ow);
#pragma GCC unroll 32
      for (int t = 0; t < RS_; ++t) {
        const float* q = xp + (oh + t / S) * Wp + ow + t % S;
        acc[t] = _mm512_fmadd_ps(d, _mm512_maskz_loadu_ps(mk, q), acc[t]);
      }
    }
  for (int t = 0; t < RS_; ++t) dwk[t] += _mm512_reduce_add_ps(acc[t]);
}

bool direct_dw_backward(const Conv2dParams& p, const float* x, const float* w, const float* dy,
                        float* dx, float* dw) {
  if (!dw_direct_ok(p)) return false;
  const int64_t RS = p.R * p.S;
  if (dw && RS != 9 && RS != 1 && RS != 25) return false;  // wgrad taps are compile-time
  const int64_t m = p.K / p.C, HW = p.H * p.W, OHW = p.OH * p.OW;
  if (dx) {
    // dx plane (n, c) = Σ_j conv(dy plane (n, c·m + j) padded by (R−1−pt, S−1−pl), flipped w)
    const int64_t Hp = p.H + p.R - 1, Wp = p.W + p.S - 1;
    const size_t pad_bytes = sizeof(float) * static_cast<size_t>(m * Hp * Wp) + 64;
    const size_t wt_bytes = sizeof(float) * static_cast<size_t>(m * RS) + 64;
    parallel_for(p.N * p.C, 4, [&](int64_t i0, int64_t i1) {
      float* dyp = static_cast<float*>(thread_scratch(pad_bytes, kPadSlot));
      float* wt = static_cast<float*>(thread_scratch(wt_bytes, kColSlot));
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t n = i / p.C, c = i % p.C;
        pad_copy(dy + (n * p.K + c * m) * OHW, m, p.OH, p.OW, p.R - 1 - p.pt, p.S - 1 - p.pl,
                 Hp, Wp, dyp);
        for (int64_t j = 0; j < m; ++j)
          for (int64_t t = 0; t < RS; ++t) wt[j * RS + t] = w[(c * m + j) * RS + (RS - 1 - t)];
        dw_plane_fwd(dyp, Hp * Wp, m, Wp, p.R, p.S, wt, 0.0f, dx + i * HW, p.H, p.W);
      }
    });
  }
  if (dw) {
    const int64_t Hp = p.OH + p.R - 1, Wp = p.OW + p.S - 1;
    const size_t pad_bytes = sizeof(float) * static_cast<size_t>(Hp * Wp) + 64;
    parallel_for(p.K, 1, [&](int64_t k0, int64_t k1) {
      float* xp = static_cast<float*>(thread_scratch(pad_bytes, kPadSlot));
      for (int64_t k = k0; k < k1; ++k) {
        float* dwk = dw + k * RS;
        fill(dwk, RS, 0.0f);
        const int64_t c = k / m;
        for (int64_t n = 0; n < p.N; ++n) {  // images in order: a fixed summation order
          pad_copy(x + (n * p.C + c) * HW, 1, p.H, p.W, p.pt, p.pl, Hp, Wp, xp);
          const float* dyk = dy + (n * p.K + k) * OHW;
          if (RS == 9)
            dw_plane_wgrad<9>(dyk, p.OH, p.OW, xp, Wp, p.S, dwk);
          else if (RS == 25)
            dw_plane_wgrad<25>(dyk, p.OH, p.OW, xp, Wp, p.S, dwk);
          else
            dw_plane_wgrad<1>(dyk, p.OH, p.OW, xp, Wp, p.S, dwk);
        }
      }
    });
  }
  return true;
}

// ---- prepacked weights (conv.h: conv2d_packed_size) ----------------------------------------
constexpr int64_t kPackHeader = 16;  // floats before the panels: plan, MR, NV (strided: PW)
// Plan "col" up to this many im2col columns (N·OH·OW), never for a stride-1 1×1 (the plain
// GEMM reads the image in place). Measured, batch 1, 1 thread, ms plain / col: 576→96 14²
// 1×1 0.211 / 0.338, 256→256 28² 3×3 s2 2.81 / 3.66 and 64→128 32² 3×3 s2 0.41 / 0.45 (196
// and 256 columns: the strided direct kernel wins), 128→256 16² 3×3 s2 0.49 / 0.43, 512→512
// 4² 3×3 1.06 / 0.88, 512→512 7² 3×3 3.38 / 3.19 (64 columns or fewer: col wins). Strided
// layers take plan "strided" before it (the strided kernel's panels; batch 1, 1 thread, ms
// strided / col: 512→512 14² 3×3 s2 2.12 / 3.14, 256→512 8² 3×3 s2 0.43 / 0.44), and at
// batch 1 plan "rows" comes first (rows_plan).
constexpr int64_t kColUkrMax = 64;
constexpr int64_t kColPasses = 4;    // and up to this many passes over the weights
enum : int { kPlanNone = 0, kPlanDirect = 1, kPlanCol = 2, kPlanStrided = 3, kPlanRows = 4 };

// The GEMM's panel width (plan "rows" stores its weights as the GEMM's B panels).
inline int rows_nr() { return static_cast<int>(::fastdl::gemm::blocking(4).nr); }

struct Plan {
  int kind;
  Choice ch;     // direct, col
  BxChoice bx;   // strided: its panels are pack_weights' with MR = 16·KV
  int mr() const {
    return kind == kPlanStrided ? 16 * bx.kv : kind == kPlanRows ? rows_nr() : ch.mr;
  }
  int nv() const { return kind == kPlanStrided ? bx.pw : kind == kPlanRows ? 0 : ch.nv; }
};

// Plan "rows" (rows_run) at batch 1: stride-1 layers of at most kRowsPlanPixels output
// pixels, and 1×1 layers (any stride) of at most kRowsPlan1x1Pixels. Winograd's plan comes
// first (conv_impl.h: fwd_packed_any). Measured, batch 1, 1 thread, weights not in cache, ms
// plan rows / the plan or path before: ResNet-50 512→2048 7² 1×1 1.08 / 1.52, 512→512 7² 3×3
// 2.57 / 3.24, 1024→512 14² 1×1 1.94 / 2.18, 1024→2048 14² 1×1 s2 2.19 / 2.74; ResNet-18
// (CIFAR) 512→512 4² 3×3 0.92 / 1.23. Strided 3×3 layers keep plan "strided" (512→512 14² s2
// 2.12 against rows 2.58, 128→256 16² s2 0.38 / 0.44), as do 1×1 layers of more pixels
// (128→512 28²: 1.11 against 1.03).
constexpr int64_t kRowsPlanPixels = 64, kRowsPlan1x1Pixels = 256;
inline bool rows_plan(const Conv2dParams& p) {
  const int64_t L = p.OH * p.OW;
  if (p.N != 1) return false;
  if (p.sh == 1 && p.sw == 1 && L <= kRowsPlanPixels) return true;
  return p.R == 1 && p.S == 1 && L <= kRowsPlan1x1Pixels;
}

// A function of p and the forced algorithm only (never of the thread count or the data).
Plan packed_plan(const Conv2dParams& p) {
  const Plan none{kPlanNone, {4, 1, nullptr, nullptr}, {0, 0, nullptr}};
  if (p.N <= 0 || p.K <= 0 || p.C <= 0 || p.OH <= 0 || p.OW <= 0 || is_depthwise(p))
    return none;
  const int64_t Kg = p.K / p.groups;
  // a grouped layer that runs Winograd: its groups' filter transforms on every call (no plan)
  if (p.groups > 1 && algorithm_for(p, sizeof(float), Pass::forward) == Algo::winograd)
    return none;
  if (forced_algorithm() == Algo::automatic && rows_plan(p))
    return {kPlanRows, none.ch, none.bx};
  if (algorithm_for(p, sizeof(float), Pass::forward) == Algo::direct && direct_ok(p) &&
      !is_pointwise(p)) {
    const Choice ch = choose(Kg, p.OW);
    if (ch.fn) return {kPlanDirect, ch, none.bx};
  }
  if (algorithm_for(p, sizeof(float), Pass::forward) == Algo::direct && strided_ok(p)) {
    const BxChoice bx = choose_bx_fwd(Kg, p.OW, p.OH, p.C / p.groups * p.R * p.S);
    if (bx.fn) return {kPlanStrided, none.ch, bx};
  }
  if (forced_algorithm() != Algo::automatic) return none;
  const bool pointwise_s1 = p.R == 1 && p.S == 1 && p.sh == 1 && p.sw == 1;
  if (p.N * p.OH * p.OW <= kColUkrMax && !pointwise_s1) {
    // every column segment reads all the weights: at most kColPasses passes (batch 32 of
    // 4×4 maps would stream a 9.4 MB weight 32 times, slower than GEMM)
    const Choice ch = choose(Kg, p.OH * p.OW);
    const int64_t seg = 16 * ch.nv;
    if (ch.fn && p.N * ((p.OH * p.OW + seg - 1) / seg) <= kColPasses)
      return {kPlanCol, ch, none.bx};
  }
  return none;
}

int64_t panels_size(const Conv2dParams& p, int64_t mr) {
  const int64_t Kg = p.K / p.groups, KK = p.C / p.groups * p.R * p.S;
  return p.groups * ((Kg + mr - 1) / mr) * KK * mr;
}

int64_t packed_size(const Conv2dParams& p) {
  const Plan pl = packed_plan(p);
  return pl.kind == kPlanNone ? 0 : kPackHeader + panels_size(p, pl.mr());
}

void pack_f(const Conv2dParams& p, const float* w, float* wp) {
  const Plan pl = packed_plan(p);
  if (pl.kind == kPlanNone) return;
  fill(wp, kPackHeader, 0.0f);
  wp[0] = static_cast<float>(pl.kind);
  wp[1] = static_cast<float>(pl.mr());
  wp[2] = static_cast<float>(pl.nv());
  if (pl.kind == kPlanRows) {  // per group W_gᵀ (KK × Kg) as the GEMM's B panels
    const int64_t Kg = p.K / p.groups, KK = p.C / p.groups * p.R * p.S;
    for (int64_t g = 0; g < p.groups; ++g)
      ::fastdl::gemm::spack_b(true, KK, Kg, w + g * Kg * KK, KK,
                              wp + kPackHeader + g * panels_size(p, pl.mr()) / p.groups);
    return;
  }
  pack_weights(w, p.K, p.C / p.groups, p.R, p.S, p.groups, pl.mr(), false, wp + kPackHeader);
}

// Plan "rows" (rows_plan: batch 1, small maps): per group the forward as
//   Yᵀ (L × Kg) = colᵀ (L × KK) · W_gᵀ (KK × Kg),
// the pixels in the GEMM micro-kernel's rows (a 7×7 map's 49 fill 49 of 52 rows of 12; as
// columns they would fill 49 of 64) and the weights, prepacked as the GEMM's B panels, read
// in place once per call (no transposing pack per call); colᵀ is the im2col matrix read
// transposed (the image itself for a stride-1 1×1). The result is transposed into NCHW with
// the bias in 16×16 register blocks.
void rows_run(const Conv2dParams& p, const float* x, const float* wpk, const float* b,
              float* y, Act act) {
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups, KK = Cg * p.R * p.S;
  const int64_t L = p.OH * p.OW, NR = rows_nr(), gpanels = (Kg + NR - 1) / NR * NR * KK;
  const bool in_place = is_pointwise(p);
  PoolBuf colb(in_place ? 0 : sizeof(float) * KK * L + 64);
  PoolBuf outb(sizeof(float) * L * Kg + 64);
  float* col = static_cast<float*>(colb.p);
  float* out = static_cast<float*>(outb.p);
  for (int64_t g = 0; g < p.groups; ++g) {
    const float* a = x + g * Cg * L;
    if (!in_place) {
      im2col_images(p, x, g, int64_t(0), int64_t(1), col);
      a = col;
    }
    ::fastdl::gemm::sgemm_prepacked(L, Kg, KK, a, L, /*trans_a=*/true, wpk + g * gpanels, 0.0f,
                                    out, Kg);
    float* yg = y + g * Kg * L;
    const float* bg = b ? b + g * Kg : nullptr;
    const simd::Vf lo(act.lo), hi(act.hi);
    parallel_for((Kg + 15) / 16, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t k0 = 16 * t, kn = imin(16, Kg - k0);
        for (int64_t q0 = 0; q0 < L; q0 += 16) {
          __m512 r[16];
          simd::load_transpose16(out + q0 * Kg + k0, Kg, static_cast<int>(imin(16, L - q0)),
                                 lane_mask(kn), r);
          const __mmask16 m = lane_mask(L - q0);
          for (int64_t c = 0; c < kn; ++c) {
            __m512 v = _mm512_add_ps(r[c], _mm512_set1_ps(bg ? bg[k0 + c] : 0.0f));
            if (act.on()) v = act_vec(v, lo, hi).v;
            _mm512_mask_storeu_ps(yg + (k0 + c) * L + q0, m, v);
          }
        }
      }
    });
  }
}

// Plan "col": per group, the im2col matrix of the whole batch (KK × N·OHW, images side by
// side), then for every (image, segment of 16·NV columns, block of MR output channels) one
// micro-kernel call: the 1×1 "convolution" of the columns with the packed panel. Each output
// is computed by one task in a fixed order: bitwise identical for any thread count.
void col_run(const Conv2dParams& p, const float* x, const float* wpk, const float* b,
             float* y, const Choice& ch) {
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups, KK = Cg * p.R * p.S;
  const int64_t OHW = p.OH * p.OW, ld = p.N * OHW;
  const int64_t MR = ch.mr, SEG = 16 * ch.nv;
  const int64_t nkb = (Kg + MR - 1) / MR, panel = KK * MR, nseg = (OHW + SEG - 1) / SEG;
  PoolBuf colb(sizeof(float) * KK * ld + 64);
  float* col = static_cast<float*>(colb.p);
  for (int64_t g = 0; g < p.groups; ++g) {
    im2col_images(p, x, g, int64_t(0), p.N, col);
    parallel_for(p.N * nseg * nkb, 1, [&](int64_t t0, int64_t t1) {
      __mmask16 mask[4];
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t kb = t % nkb, js = t / nkb, sg = js % nseg, j = js / nseg;
        const int64_t q0 = sg * SEG, k0 = g * Kg + kb * MR;
        for (int v = 0; v < 4; ++v) mask[v] = lane_mask(OHW - q0 - 16 * v);
        ch.fn(KK, 1, 1, col + j * OHW + q0, ld, 0, wpk + (g * nkb + kb) * panel,
              y + (j * p.K + k0) * OHW + q0, OHW, imin(MR, Kg - kb * MR), mask,
              b ? b + k0 : nullptr, 0);
      }
    });
  }
}

// Returns whether `act` was applied (plan "rows" fuses it; the caller makes a pass otherwise).
bool fwd_packed_f(const Conv2dParams& p, const float* x, const float* w, const float* wp,
                  const float* b, float* y, Act act) {
  const Plan pl = packed_plan(p);
  if (pl.kind == kPlanNone || wp[0] != static_cast<float>(pl.kind) ||
      wp[1] != static_cast<float>(pl.mr()) || wp[2] != static_cast<float>(pl.nv()))
    return forward(p, x, w, b, y, act);
  if (pl.kind == kPlanRows) {
    rows_run(p, x, wp + kPackHeader, b, y, act);
    return true;
  }
  if (pl.kind == kPlanDirect)
    direct_run(p, p.pt, p.pl, x, wp + kPackHeader, b, y, pl.ch);
  else if (pl.kind == kPlanStrided)
    bx_run(p, x, wp + kPackHeader, b, y, pl.bx);
  else
    col_run(p, x, wp + kPackHeader, b, y, pl.ch);
  return false;
}

}  // namespace
}  // namespace FASTDL_SIMD_ISA
}  // namespace conv
}  // namespace fastdl
