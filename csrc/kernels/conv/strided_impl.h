// Direct float32 convolution for strides > 1 (AVX-512). Included by conv_avx512.cpp (at file
// scope, after its stride-1 kernels: it uses pack_weights and the weight-gradient tiles from
// there), in the ISA's namespace.
//
// Forward ("bx", broadcast input): the micro-kernel holds P output pixels of one row × 16·KV
// output channels in zmm accumulators; per (channel, tap) it loads KV vectors of packed
// weights and broadcasts P input values. The input is the image's column-phase planes (the
// zero-padded image deinterleaved by columns, one plane per column phase s % sw), so the P
// pixels of a tap are P consecutive floats whatever the stride: no shuffles in the loop, no
// im2col copies, and no padded pixels beyond the end of each row. The tile is transposed out
// to NCHW in 16×16 register blocks. Rows of 4–7 pixels go two whole rows per block (ukr_bx2,
// choose_bx_fwd). Measured, one thread, CPU time, GFLOP/s of the _C call
// (torch 2.13 in the same run in brackets), 2026-12-05: R50 256→256 28² s2 b8 108.7 (113.3),
// R18 128→256 16² s2 b32 105.0 (115.9), R50 128→128 56² s2 b8 104.3 (105.4). The other
// blocking (pixels in lanes, weights broadcast, on flattened per-tap planes) measured 86.1,
// 95.6 and 97.8 on the same layers, same VM and date (torch 97.7, 111.1, 91.0): its pixel
// vectors are padded (196 pixels in 7 × 32) and its planes are 1.5× the input, built by
// scalar copies for rows under 16 pixels (7–8 % of the time). The micro-kernel alone, on
// data in cache, runs at ~113 of the 117 GFLOP/s FMA peak; the rest is the copy, the packing
// and the tile transposes.
//
// Input gradient: the same micro-kernel per phase (a, b) of dx, dx's channels as its output
// channels and dy's as its input channels (below, at strided_backward_input).
//
// Weight gradient: shifted planes. Per input channel and per row phase a < min(sh, R) and
// column tap s < S,
//   X_as[i][ow] = x[sh·i + a − pt][sw·ow + s − pl]   (0 outside x),  i < OH + (R−1)/sh,
// a plane whose row pitch is the output width; tap (r, s) of output pixel P = oh·OW + ow then
// reads X_{r % sh, s}[P + (r / sh)·OW]: every tap is a contiguous run of flattened output
// pixels, and the stride-1 weight-gradient tiles (conv_avx512.cpp) run on the planes as one
// row of OH·OW pixels.
//
// Summation order per output element: channels, then taps in (r, s) order — fixed by the
// shape, never by the thread count (threads split images, or rows of one image).
#pragma once

#include <cstring>  // std::memcpy
#include <type_traits>  // std::integral_constant
#include <utility>  // std::integer_sequence

namespace fastdl {
namespace conv {
namespace FASTDL_SIMD_ISA {  // avx512
namespace {

// The shapes of the strided direct path: a stride > 1 in either direction, dilation 1, at
// most 4 row phases.
bool strided_ok(const Conv2dParams& p) {
  return (p.sh > 1 || p.sw > 1) && p.sh <= 4 && p.dh == 1 && p.dw == 1 && p.N > 0 &&
         p.K > 0 && p.C > 0 && p.OH > 0 && p.OW > 0 && p.H > 0 && p.W > 0;
}

// The input as shifted planes: per channel, for each row phase a < A = min(sh, R) and column
// tap s < S, the plane
//   X_as[i][ow] = x[sh·i + a − pt][sw·ow + s − pl]   (0 outside x), i < Hq, ow < OW,
// so tap (r, s) of output pixel P = oh·OW + ow is X_{r % sh, s}[P + (r / sh)·OW]: the taps
// read contiguous runs of flattened pixels (full vectors whatever OW is).
struct Planes {
  int64_t A, S, Hq, OW;
  int64_t plane() const { return Hq * OW; }
  int64_t cplane() const { return A * S * Hq * OW; }
};

inline Planes planes_of(const Conv2dParams& p) {
  return {imin(p.sh, p.R), p.S, p.OH + (p.R - 1) / p.sh, p.OW};
}

// d[j] = s0[sw·j] for j in [lo, hi) (s0 valid there), 0 elsewhere in [0, n).
inline void strided_row(const float* s0, int64_t sw, int64_t lo, int64_t hi, int64_t n,
                        int64_t avail, float* d) {
  for (int64_t j = 0; j < lo; ++j) d[j] = 0.0f;
  int64_t j = lo;
  if (sw == 1) {
    for (; j < hi; ++j) d[j] = s0[j];
  } else if (sw == 2) {
    // 16 outputs from 32 inputs: the even lanes of two vectors (while 32 inputs remain)
    const __m512i even =
        _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (; j + 16 <= hi && 2 * j + 32 <= avail; j += 16) {
      const __m512 v0 = _mm512_loadu_ps(s0 + 2 * j);
      const __m512 v1 = _mm512_loadu_ps(s0 + 2 * j + 16);
      _mm512_storeu_ps(d + j, _mm512_permutex2var_ps(v0, even, v1));
    }
    for (; j < hi; ++j) d[j] = s0[2 * j];
  } else {
    for (; j < hi; ++j) d[j] = s0[sw * j];
  }
  for (j = hi; j < n; ++j) d[j] = 0.0f;
}

// dst (C × cplane) = the shifted planes of src (C × H × W) for sh, sw, pt, pl.
void plane_copy(const float* src, int64_t C, int64_t H, int64_t W, int64_t sh, int64_t sw,
                int64_t pt, int64_t pl, const Planes& q, float* dst) {
  for (int64_t c = 0; c < C; ++c)
    for (int64_t a = 0; a < q.A; ++a)
      for (int64_t s = 0; s < q.S; ++s) {
        float* d = dst + c * q.cplane() + (a * q.S + s) * q.plane();
        int64_t lo, hi;
        valid_range(s - pl, sw, W, q.OW, lo, hi);
        for (int64_t i = 0; i < q.Hq; ++i, d += q.OW) {
          const int64_t h = sh * i + a - pt;
          if (h < 0 || h >= H) {
            fill(d, q.OW, 0.0f);
            continue;
          }
          strided_row(src + (c * H + h) * W + s - pl, sw, lo, hi, q.OW, W - (s - pl), d);
        }
      }
}

// Offsets of the taps (r, s), t = r·S + s, into a channel's planes (forward and dW).
void tap_offsets(const Conv2dParams& p, const Planes& q, int64_t* off) {
  for (int64_t r = 0; r < p.R; ++r)
    for (int64_t s = 0; s < p.S; ++s)
      off[r * p.S + s] = ((r % p.sh) * q.S + s) * q.plane() + (r / p.sh) * q.OW;
}

// ---- forward: broadcast-input micro-kernel on column-phase planes --------------------------
// Column-phase planes of the zero-padded image: per channel c and column phase b < sw,
//   Z_cb[i][j] = x[c][i − pt][sw·j + b − pl]   (0 outside x),  i < Hp, j < Wq,
// so tap (r, s) of output pixel (oh, ow) reads Z_{c, s % sw}[sh·oh + r][ow + s / sw]: the
// pixels of one output row read consecutive floats of a plane row, whatever the stride. The
// planes hold the padded image once (deinterleaved by columns), not the taps' copies.
struct Phases {
  int64_t sw, Hp, Wq;
  int64_t plane() const { return Hp * Wq; }
  int64_t cplane() const { return sw * Hp * Wq; }
};

// The phase planes of one image x (C × H × W) into dst (C × cplane); row: a scratch of at
// least sw·Wq + 32 floats (the padded row before deinterleaving).
void phase_copy(const float* x, int64_t C, int64_t H, int64_t W, int64_t pt, int64_t pl,
                const Phases& q, float* row, float* dst) {
  const int64_t sw = q.sw, Wr = sw * q.Wq;
  const int64_t u0 = imin(Wr, imax(0, pl)), u1 = imax(u0, imin(Wr, pl + W));  // from x
  fill(row, Wr + 32, 0.0f);
  const __m512i even =
      _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
  const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  // lanes [u0, u1) of a padded row of at most 32 (the short-row path: no copy through row,
  // whose per-row memcpy call was 7 % of R18's 256→512 8² s2 forward)
  const uint64_t lanes = Wr <= 32 ? ((uint64_t(1) << u1) - 1) & ~((uint64_t(1) << u0) - 1) : 0;
  for (int64_t c = 0; c < C; ++c)
    for (int64_t i = 0; i < q.Hp; ++i) {
      float* d = dst + c * q.cplane() + i * q.Wq;
      const int64_t h = i - pt;
      if (h < 0 || h >= H) {
        for (int64_t b = 0; b < sw; ++b) fill(d + b * q.plane(), q.Wq, 0.0f);
        continue;
      }
      const float* src = x + (c * H + h) * W - pl;
      if (sw == 1) {  // the padded row straight into the plane
        fill(d, u0, 0.0f);
        std::memcpy(d + u0, src + u0, sizeof(float) * (u1 - u0));
        fill(d + u1, Wr - u1, 0.0f);
        continue;
      }
      if (sw == 2 && Wr <= 32) {  // a short row: its 32 lanes straight from x, masked
        const __m512 v0 = _mm512_maskz_loadu_ps(static_cast<__mmask16>(lanes), src);
        const __m512 v1 = _mm512_maskz_loadu_ps(static_cast<__mmask16>(lanes >> 16), src + 16);
        const __mmask16 m = lane_mask(q.Wq);
        _mm512_mask_storeu_ps(d, m, _mm512_permutex2var_ps(v0, even, v1));
        _mm512_mask_storeu_ps(d + q.plane(), m, _mm512_permutex2var_ps(v0, odd, v1));
        continue;
      }
      std::memcpy(row + u0, src + u0, sizeof(float) * (u1 - u0));
      if (sw == 2) {  // even and odd lanes of pairs of vectors (row has 32 floats of slack)
        for (int64_t j = 0; j < q.Wq; j += 16) {
          const __m512 v0 = _mm512_loadu_ps(row + 2 * j), v1 = _mm512_loadu_ps(row + 2 * j + 16);
          const __mmask16 m = lane_mask(q.Wq - j);
          _mm512_mask_storeu_ps(d + j, m, _mm512_permutex2var_ps(v0, even, v1));
          _mm512_mask_storeu_ps(d + q.plane() + j, m, _mm512_permutex2var_ps(v0, odd, v1));
        }
      } else {
        for (int64_t b = 0; b < sw; ++b)
          for (int64_t j = 0; j < q.Wq; ++j) d[b * q.plane() + j] = row[sw * j + b];
      }
    }
}

// y[k][p] (k < mr, p < pe) = tile[p][k] + bias[k]: the tile (P pixels × 16·KV channels) 16×16
// register transposes at a time, stored as runs of pixels per channel (ystride apart).
template <int KV>
void store_tile(const float* tile, int64_t pe, int64_t mr, const float* bias, float* y,
                int64_t ystride) {
  constexpr int KB = 16 * KV;
  for (int v = 0; v < KV && 16 * v < mr; ++v)
    for (int64_t p0 = 0; p0 < pe; p0 += 16) {
      __m512 r[16];
      simd::load_transpose16(tile + p0 * KB + 16 * v, KB, static_cast<int>(imin(16, pe - p0)),
                             0xFFFF, r);
      const __mmask16 m = lane_mask(pe - p0);
      for (int l = 0; l < 16 && 16 * v + l < mr; ++l) {
        const float bk = bias ? bias[16 * v + l] : 0.0f;
        _mm512_mask_storeu_ps(y + (16 * v + l) * ystride + p0, m,
                              _mm512_add_ps(r[l], _mm512_set1_ps(bk)));
      }
    }
}

// One block of P pixels of an output row × 16·KV output channels, all C channels, T taps
// (a run of the kernel's taps: the forward leaves out the kernel rows that fall on padding
// rows), the weights of channel c wstride floats apart:
//   y[k][p] = bias[k] + Σ_{c<C, t<T} wp[c·wstride + t·16·KV + k] · x0[c·cplane + off[t] + p]
// for p < pe, k < mr: P·KV zmm accumulators (pixels × channel vectors), per (c, t) KV weight
// vectors and P broadcast input values. GCC's predictive commoning is off: on a version that
// addressed the taps as row[2·p + s] it carried one tap's broadcast values into the next
// through the stack (76 against 109 GFLOP/s).
template <int P, int KV>
__attribute__((optimize("no-predictive-commoning"))) void ukr_bx(
    int64_t C, int64_t T, int64_t wstride, const int64_t* off, const float* x0,
    int64_t cplane, const float* wp, int64_t pe, int64_t mr, const float* bias, float* y,
    int64_t ystride) {
  __m512 acc[P][KV];
  zero_acc(acc);
  for (int64_t c = 0; c < C; ++c) {
    const float* xc = x0 + c * cplane;
    const float* wc = wp + c * wstride;
    for (int64_t t = 0; t < T; ++t) {
      const float* row = xc + off[t];
      __m512 wv[KV];
#pragma GCC unroll 4
      for (int v = 0; v < KV; ++v) wv[v] = _mm512_loadu_ps(wc + 16 * v);
#pragma GCC unroll 32
      for (int p = 0; p < P; ++p) {
        const __m512 xb = _mm512_set1_ps(row[p]);
#pragma GCC unroll 4
        for (int v = 0; v < KV; ++v) acc[p][v] = _mm512_fmadd_ps(wv[v], xb, acc[p][v]);
      }
      wc += 16 * KV;
    }
  }
  alignas(64) float tile[P * 16 * KV];
#pragma GCC unroll 32
  for (int p = 0; p < P; ++p)
#pragma GCC unroll 4
    for (int v = 0; v < KV; ++v) _mm512_store_ps(tile + (p * KV + v) * 16, acc[p][v]);
  store_tile<KV>(tile, pe, mr, bias, y, ystride);
}

// The same product with the tile the other way round, for short sums (an RGB stem: C·T = 27):
// 16 output channels × 16·NV pixels of the row in zmm accumulators (broadcast weights, the
// pixels one vector load per tap from the phase plane, contiguous at any stride), stored
// straight into the NCHW rows (pe <= 16·NV pixels, mr <= 16 channels). ukr_bx's epilogue
// transposes its P × 16·KV tile out through memory, which a sum of 27 terms does not
// amortise.
template <int NV>
void ukr_bxt(int64_t C, int64_t T, int64_t wstride, const int64_t* off, const float* x0,
             int64_t cplane, const float* wp, int64_t pe, int64_t mr, const float* bias,
             float* y, int64_t ystride) {
  constexpr int MR = 16;
  __m512 acc[MR][NV];
  zero_acc(acc);
  for (int64_t c = 0; c < C; ++c) {
    const float* xc = x0 + c * cplane;
    const float* wc = wp + c * wstride;
    for (int64_t t = 0; t < T; ++t) {
      const float* row = xc + off[t];
      __m512 xv[NV];
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) xv[v] = _mm512_loadu_ps(row + 16 * v);
      bcast_fma<MR, NV>(wc, xv, acc);
      wc += MR;
    }
  }
  __mmask16 mk[NV];
  for (int v = 0; v < NV; ++v) mk[v] = lane_mask(pe - 16 * v);
  for (int64_t k = 0; k < mr; ++k) {
    const __m512 bk = _mm512_set1_ps(bias ? bias[k] : 0.0f);
    for (int v = 0; v < NV && 16 * v < pe; ++v)
      _mm512_mask_storeu_ps(y + k * ystride + 16 * v, mk[v], _mm512_add_ps(acc[k][v], bk));
  }
}

using BxUkr = void (*)(int64_t, int64_t, int64_t, const int64_t*, const float*, int64_t,
                       const float*, int64_t, int64_t, const float*, float*, int64_t);
using BxRowsUkr = void (*)(int64_t, int64_t, int64_t, int64_t, int64_t, const int64_t*,
                           const float*, int64_t, int64_t, const float*, int64_t, const float*,
                           float*, int64_t);

// ukr_bx on two whole output rows of PR pixels at once (2·PR pixels; the rows consecutive,
// so the block's outputs are 2·PR consecutive floats of each channel's plane): pixel q of
// row r reads x0 + r·rstride + q of each tap, and the weights loaded per (channel, tap) serve
// both rows. Taps [0, T) are the union of the rows' own: the first `lead` taps are the
// second row's alone, the last `tail` the first row's alone (the other row's input there is
// padding), so each output gets the same products, in the same order, as from ukr_bx on its
// own row.
template <int PR, int KV>
__attribute__((optimize("no-predictive-commoning"))) void ukr_bx2(
    int64_t C, int64_t T, int64_t lead, int64_t tail, int64_t wstride, const int64_t* off,
    const float* x0, int64_t rstride, int64_t cplane, const float* wp, int64_t mr,
    const float* bias, float* y, int64_t ystride) {
  __m512 acc[2][PR][KV];
#pragma GCC unroll 2
  for (int r = 0; r < 2; ++r)
#pragma GCC unroll 8
    for (int q = 0; q < PR; ++q)
#pragma GCC unroll 4
      for (int v = 0; v < KV; ++v) acc[r][q][v] = _mm512_setzero_ps();
  // one tap on rows [R0, R1)
  auto tap = [&](auto r0, auto r1, const float* row, const float* wc) {
    __m512 wv[KV];
#pragma GCC unroll 4
    for (int v = 0; v < KV; ++v) wv[v] = _mm512_loadu_ps(wc + 16 * v);
#pragma GCC unroll 2
    for (int r = decltype(r0)::value; r < decltype(r1)::value; ++r) {
      const float* rp = row + r * rstride;
#pragma GCC unroll 8
      for (int q = 0; q < PR; ++q) {
        const __m512 xb = _mm512_set1_ps(rp[q]);
#pragma GCC unroll 4
        for (int v = 0; v < KV; ++v) acc[r][q][v] = _mm512_fmadd_ps(wv[v], xb, acc[r][q][v]);
      }
    }
  };
  using I0 = std::integral_constant<int, 0>;
  using I1 = std::integral_constant<int, 1>;
  using I2 = std::integral_constant<int, 2>;
  for (int64_t c = 0; c < C; ++c) {
    const float* xc = x0 + c * cplane;
    const float* wc = wp + c * wstride;
    int64_t t = 0;
    for (; t < lead; ++t, wc += 16 * KV) tap(I1{}, I2{}, xc + off[t], wc);
    for (; t < T - tail; ++t, wc += 16 * KV) tap(I0{}, I2{}, xc + off[t], wc);
    for (; t < T; ++t, wc += 16 * KV) tap(I0{}, I1{}, xc + off[t], wc);
  }
  alignas(64) float tile[2 * PR * 16 * KV];
#pragma GCC unroll 2
  for (int r = 0; r < 2; ++r)
#pragma GCC unroll 8
    for (int q = 0; q < PR; ++q)
#pragma GCC unroll 4
      for (int v = 0; v < KV; ++v)
        _mm512_store_ps(tile + ((r * PR + q) * KV + v) * 16, acc[r][q][v]);
  store_tile<KV>(tile, 2 * PR, mr, bias, y, ystride);
}

// ukr_bx2<OW, 2> for rows of OW pixels, 4 <= OW <= 7 (28 accumulators at most)
template <int... Ps>
BxRowsUkr bx2_fn(int ow, std::integer_sequence<int, Ps...>) {
  BxRowsUkr fn = nullptr;
  ((fn = ow == Ps + 4 ? ukr_bx2<Ps + 4, 2> : fn), ...);
  return fn;
}

struct BxChoice {
  int pw, kv;  // pixels per block (of one output row), channel vectors
  BxUkr fn;
  int rows = 1;             // 2: blocks of two whole output rows (pw == OW) by fn2; fn
  BxRowsUkr fn2 = nullptr;  // then serves a last row alone
};

template <int KV, int... Ps>
BxUkr bx_fn(int pw, std::integer_sequence<int, Ps...>) {
  BxUkr fn = nullptr;
  ((fn = pw == Ps + 1 ? ukr_bx<Ps + 1, KV> : fn), ...);
  return fn;
}

// Sums of at most kBxtMaxSum terms (C·R·S per group) over rows of whole vectors (at most a
// quarter of the pixels padding) take ukr_bxt, 16 channels × 16 pixels (two pixel vectors:
// 32 accumulators, spilled). One thread, ms ukr_bx / ukr_bxt: MobileNetV2's stem 3→32 224²
// 3×3 s2 batch 16 7.05 / 4.7, batch 1 0.305 / 0.265; ResNet-50's 3→64 224² 7×7 s2 (a sum
// of 147) batch 8 20.3 / 17.4. Longer sums keep ukr_bx: R18 64→128 32² s2 (576) 11.9 /
// 11.7, 128→256 16² s2 (8-pixel rows) 11.2 / 21.3, R50 128→128 56² s2 17.4 / 19.8.
constexpr int64_t kBxtMaxSum = 160;

// Register blocking for Kg output channels over output rows of OW pixels: P·KV <= 28
// accumulators, P <= 14 (KV 2), <= 7 (KV 4), <= 28 (KV 1). The cost counts the padded
// channels and pixels (a row's last block may run past OW; its extra pixels are not stored)
// and the loads per FMA (1/P + 1/KV), weighted 1/4: a standalone copy of the kernel, one
// thread, ms, R50 256→256 28² s2 b8 P 14 KV 2 (0.57 loads per FMA) 17.0, P 7 KV 4 (0.39)
// 16.8, P 8 KV 2 (2 of 16 pixels padded) 19.3; R18 64→128 32² s2 b32 P 8 KV 2 12.0, P 4 KV 4
// 12.2; R18 128→256 16² s2 P 8 KV 2 11.4, P 4 KV 4 11.3, P 14 KV 2 (6 of 14 padded) 19.2.
// A function of the shape only.
BxChoice choose_bx(int64_t Kg, int64_t OW, int64_t red = INT64_MAX) {
  BxChoice best{0, 0, nullptr};
  if (red <= kBxtMaxSum && (OW + 15) / 16 * 16 * 4 <= 5 * OW)  // <= 25 % padded pixels
    return {16, 1, ukr_bxt<1>};
  double best_cost = 1e300;
  for (int kv : {4, 2, 1}) {
    const int pmax = kv == 4 ? 7 : kv == 2 ? 14 : 28;
    const double pk = static_cast<double>((Kg + 16 * kv - 1) / (16 * kv) * 16 * kv);
    for (int pw = 1; pw <= pmax; ++pw) {
      const double pp = static_cast<double>((OW + pw - 1) / pw * pw);
      const double cost = pk * pp * (1.0 + 0.25 * (1.0 / pw + 1.0 / kv));
      if (cost < best_cost * (1 - 1e-9)) {
        best_cost = cost;
        best = {pw, kv, nullptr};
      }
    }
  }
  if (best.kv == 4) best.fn = bx_fn<4>(best.pw, std::make_integer_sequence<int, 7>{});
  if (best.kv == 2) best.fn = bx_fn<2>(best.pw, std::make_integer_sequence<int, 14>{});
  if (best.kv == 1) best.fn = bx_fn<1>(best.pw, std::make_integer_sequence<int, 28>{});
  return best;
}

// The forward's blocking: choose_bx's, or for rows of 4 to 7 pixels (kBxRowsMinOW..
// kBxRowsMaxOW) with kBxRowsMinK output channels or more, blocks of two whole output rows ×
// two channel vectors (ukr_bx2: 8–14 pixels, 16–28 accumulators): each weight vector loaded
// serves twice the pixels. Measured, one thread, minimum of 9 interleaved rounds, ms one row /
// two rows: R50 512→512 14² s2 batch 8 9.01 / 8.29, batch 1 1.46 / 1.39; R18 (CIFAR)
// 256→512 8² s2 batch 32 5.59 / 5.35; below 128 channels no gain (128→256 8² s2 batch 8
// 0.37 / 0.38, 64→64 8² s2 batch 32 0.27 / 0.27). Three rows of 4 pixels (24 accumulators)
// 5.58, two rows × three vectors 5.53 on the R18 layer. A function of the shape only.
constexpr int64_t kBxRowsMinOW = 4, kBxRowsMaxOW = 7, kBxRowsMinK = 128;
BxChoice choose_bx_fwd(int64_t Kg, int64_t OW, int64_t OH, int64_t red) {
  const BxChoice ch = choose_bx(Kg, OW, red);
  if (ch.fn == ukr_bxt<1> || OW < kBxRowsMinOW || OW > kBxRowsMaxOW || OH < 2 ||
      Kg < kBxRowsMinK)
    return ch;
  const int ow = static_cast<int>(OW);
  return {ow, 2, bx_fn<2>(ow, std::make_integer_sequence<int, 14>{}), 2,
          bx2_fn(ow, std::make_integer_sequence<int, kBxRowsMaxOW - kBxRowsMinOW + 1>{})};
}

inline Phases phases_of(const Conv2dParams& p, const BxChoice& ch) {
  const int64_t nbw = (p.OW + ch.pw - 1) / ch.pw;
  return {p.sw, (p.OH - 1) * p.sh + p.R, nbw * ch.pw + (p.S - 1) / p.sw};
}

// The forward on packed weights wpk ([g][kb][c][r][s][16·KV], pack_weights with MR = 16·KV):
// per image its phase planes, then per (group, channel block, output row) the row's pixel
// blocks (or per pair of output rows one block: choose_bx_fwd). Each output is computed by
// one micro-kernel call: bitwise identical for any thread count (threads split images, or
// the (group, block, rows) items of one image).
void bx_run(const Conv2dParams& p, const float* x, const float* wpk, const float* b, float* y,
            const BxChoice& ch) {
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups, T = p.R * p.S;
  const int64_t KB = 16 * ch.kv, nkb = (Kg + KB - 1) / KB, panel = Cg * T * KB;
  const int64_t HW = p.H * p.W, OHW = p.OH * p.OW, nbw = (p.OW + ch.pw - 1) / ch.pw;
  const Phases q = phases_of(p, ch);
  // Padding rows skipped only when a weight panel fits L2 (kSkipPanelBytes). Measured, one
  // thread, GFLOP/s without / with the skip: R18 (CIFAR) b32 128→256 16² s2 102.5 / 105.4,
  // 256→512 8² s2 (4-row outputs) 101.1 / 108.6; R50 512→512 14² s2 (1.2 MB panels) b8
  // 102.4 / 96.8, b1 70.8 / 65.8 (slower although it skips work; why is not established).
  constexpr int64_t kSkipPanelBytes = 1 << 20;
  const bool skip = static_cast<int64_t>(sizeof(float)) * panel <= kSkipPanelBytes;
  const int64_t cplane = q.cplane();
  PoolBuf offb(sizeof(int64_t) * T);
  int64_t* offp = static_cast<int64_t*>(offb.p);
  for (int64_t r = 0; r < p.R; ++r)
    for (int64_t s = 0; s < p.S; ++s)
      offp[r * p.S + s] = ((s % p.sw) * q.Hp + r) * q.Wq + s / p.sw;
  // kernel rows r whose input row oh·sh + r − pt lies in the image (the others read only
  // padding: skipped, their products are zeros), where a panel fits L2: taps [t0, t1)
  auto tap0 = [&](int64_t oh) { return skip ? imax(0, p.pt - oh * p.sh) * p.S : 0; };
  auto tap1 = [&](int64_t oh) {
    return skip ? imax(tap0(oh), imin(p.R, p.H + p.pt - oh * p.sh) * p.S) : T;
  };
  const int64_t rows = ch.rows, nrg = (p.OH + rows - 1) / rows;
  // items [i0, i1) of (g, kb, group of `rows` output rows) of one image, its planes at zq
  auto items = [&](const float* zq, float* yn, int64_t i0, int64_t i1) {
    for (int64_t it = i0; it < i1; ++it) {
      const int64_t rg = it % nrg, gk = it / nrg, kb = gk % nkb, g = gk / nkb;
      const int64_t k0 = g * Kg + kb * KB, mr = imin(KB, Kg - kb * KB);
      const float* wkb = wpk + (g * nkb + kb) * panel;
      const float* bk = b ? b + k0 : nullptr;
      const int64_t oh0 = rg * rows, oh1 = imin(p.OH, oh0 + rows);
      // two rows whose taps overlap: one block over the union of their taps
      if (rows == 2 && oh1 - oh0 == 2 && tap0(oh0) <= tap1(oh0 + 1)) {
        const int64_t t0 = tap0(oh0 + 1), t1 = tap1(oh0);
        ch.fn2(Cg, t1 - t0, tap0(oh0) - t0, t1 - tap1(oh0 + 1), T * KB, offp + t0,
               zq + g * Cg * cplane + oh0 * p.sh * q.Wq, p.sh * q.Wq, cplane, wkb + t0 * KB, mr,
               bk, yn + k0 * OHW + oh0 * p.OW, OHW);
        continue;
      }
      for (int64_t oh = oh0; oh < oh1; ++oh) {
        const float* xr = zq + g * Cg * cplane + oh * p.sh * q.Wq;
        const int64_t t0 = tap0(oh), t1 = tap1(oh);
        for (int64_t bw = 0; bw < nbw; ++bw) {
          const int64_t ow0 = bw * ch.pw;
          ch.fn(Cg, t1 - t0, T * KB, offp + t0, xr + ow0, cplane, wkb + t0 * KB,
                imin(ch.pw, p.OW - ow0), mr, bk, yn + k0 * OHW + oh * p.OW + ow0, OHW);
        }
      }
    }
  };
  // + 64 floats: a block's broadcasts may read past the last plane's end (unstored pixels)
  const size_t z_bytes = sizeof(float) * static_cast<size_t>(p.C * cplane + 64);
  const size_t row_bytes = sizeof(float) * static_cast<size_t>(p.sw * q.Wq + 32);
  const int64_t nitems = p.groups * nkb * nrg;
  if (p.N == 1 && grouped_by_group(p)) {  // whole groups per task (direct_run's reason)
    parallel_for(p.groups, 1, [&](int64_t g0, int64_t g1) {
      float* zq = static_cast<float*>(thread_scratch(z_bytes, kPadSlot));
      PoolBuf row(row_bytes);
      for (int64_t g = g0; g < g1; ++g) {
        // group g's planes where items() looks for them: zq + g·Cg·cplane
        phase_copy(x + g * Cg * HW, Cg, p.H, p.W, p.pt, p.pl, q, static_cast<float*>(row.p),
                   zq + g * Cg * cplane);
        items(zq, y, g * nkb * nrg, (g + 1) * nkb * nrg);
      }
    });
    return;
  }
  if (p.N == 1) {
    float* zq = static_cast<float*>(thread_scratch(z_bytes, kPadSlot));
    PoolBuf row(row_bytes);
    phase_copy(x, p.C, p.H, p.W, p.pt, p.pl, q, static_cast<float*>(row.p), zq);
    parallel_for(nitems, 1, [&](int64_t i0, int64_t i1) { items(zq, y, i0, i1); });
    return;
  }
  parallel_for(p.N, 1, [&](int64_t n0, int64_t n1) {
    float* zq = static_cast<float*>(thread_scratch(z_bytes, kPadSlot));
    PoolBuf row(row_bytes);
    for (int64_t n = n0; n < n1; ++n) {
      phase_copy(x + n * p.C * HW, p.C, p.H, p.W, p.pt, p.pl, q, static_cast<float*>(row.p),
                 zq);
      items(zq, y + n * p.K * OHW, 0, nitems);
    }
  });
}

bool strided_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                     float* y) {
  if (!strided_ok(p)) return false;
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups;
  const BxChoice ch = choose_bx_fwd(Kg, p.OW, p.OH, Cg * p.R * p.S);
  if (!ch.fn) return false;
  const int64_t KB = 16 * ch.kv, nkb = (Kg + KB - 1) / KB;
  PoolBuf wbuf(sizeof(float) * p.groups * nkb * Cg * p.R * p.S * KB);
  float* wpk = static_cast<float*>(wbuf.p);
  pack_weights(w, p.K, Cg, p.R, p.S, p.groups, KB, false, wpk);
  bx_run(p, x, wpk, b, y, ch);
  return true;
}

// ---- input gradient: the forward's micro-kernel on the phases of dx ------------------------
// dx pixel (h, w) = (sh·i + a, sw·j + b) for row phase a < sh and column phase b < sw:
//   dx[c][h][w] = Σ_k Σ_{(r, s) of phase (a, b)} w[k][c][r][s] · dy[k][i + m_r][j + n_s],
// the taps of the phase being r ≡ a + pt (mod sh) and s ≡ b + pl (mod sw), with
// m_r = (a + pt − r)/sh and n_s = (b + pl − s)/sw: per phase, a stride-1 correlation of the
// zero-padded dy with a subset of the taps, which ukr_bx runs with dy's channels as its input
// channels and dx's as its output channels. Each row of phase outputs (all column phases, one
// block of channels) is written to a small buffer and interleaved into the dx row.
struct DxTaps {
  int64_t PT, PL;                   // dy's padding in the padded copy
  int64_t Hd, Wd;                   // the padded copy's rows and columns
  int64_t T[16];                    // taps per phase a·sw + b
  int64_t off[16][64];              // tap offsets into the padded copy
  int64_t rs[16][64];               // tap (r·S + s) of each
};

inline int64_t mod_pos(int64_t v, int64_t m) { return ((v % m) + m) % m; }

// The taps of every phase (at most 4 × 4 phases, 64 taps per phase: strided_dx_ok).
void dx_taps(const Conv2dParams& p, int64_t Hph, int64_t Wcols, DxTaps& d) {
  int64_t mlo = 0, mhi = 0, nlo = 0, nhi = 0;
  for (int64_t a = 0; a < p.sh; ++a)
    for (int64_t r = 0; r < p.R; ++r)
      if (mod_pos(a + p.pt - r, p.sh) == 0) {
        mlo = imin(mlo, (a + p.pt - r) / p.sh);
        mhi = imax(mhi, (a + p.pt - r) / p.sh);
      }
  for (int64_t b = 0; b < p.sw; ++b)
    for (int64_t s = 0; s < p.S; ++s)
      if (mod_pos(b + p.pl - s, p.sw) == 0) {
        nlo = imin(nlo, (b + p.pl - s) / p.sw);
        nhi = imax(nhi, (b + p.pl - s) / p.sw);
      }
  d.PT = -mlo;
  d.PL = -nlo;
  d.Hd = d.PT + Hph + mhi;
  d.Wd = d.PL + Wcols + nhi;
  for (int64_t a = 0; a < p.sh; ++a)
    for (int64_t b = 0; b < p.sw; ++b) {
      const int64_t ph = a * p.sw + b;
      int64_t t = 0;
      for (int64_t r = 0; r < p.R; ++r) {
        if (mod_pos(a + p.pt - r, p.sh)) continue;
        for (int64_t s = 0; s < p.S; ++s) {
          if (mod_pos(b + p.pl - s, p.sw)) continue;
          d.off[ph][t] = (d.PT + (a + p.pt - r) / p.sh) * d.Wd + d.PL + (b + p.pl - s) / p.sw;
          d.rs[ph][t] = r * p.S + s;
          ++t;
        }
      }
      d.T[ph] = t;
    }
}

// The strided input gradients this path runs: strides up to 4 each way (at most 16 phases),
// at most 64 taps per phase.
bool strided_dx_ok(const Conv2dParams& p) {
  return strided_ok(p) && p.sw <= 4 && p.H > 0 && p.W > 0 &&
         ((p.R + p.sh - 1) / p.sh) * ((p.S + p.sw - 1) / p.sw) <= 64;
}

bool strided_backward_input(const Conv2dParams& p, const float* w, const float* dy, float* dx) {
  if (!strided_dx_ok(p)) return false;
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups, RS = p.R * p.S;
  // dx's channels fill the accumulators' lanes: with fewer than 16 per group (an RGB stem)
  // most lanes would be padding, and the automatic choice takes im2col + GEMM instead (the
  // 3→64 7×7 s2 stem's dx at batch 8: 89.9 ms here against 29.0, the 3→32 3×3 s2 stem's
  // at batch 16 19.2 against 7.8, one thread; a forced "direct" still runs this kernel, so
  // the tests cover every shape)
  if (Cg < 16 && forced_algorithm() != Algo::direct) return false;
  const int64_t sh = p.sh, sw = p.sw, HW = p.H * p.W, OHW = p.OH * p.OW;
  const int64_t Hph = (p.H + sh - 1) / sh, Wph = (p.W + sw - 1) / sw;
  const BxChoice ch = choose_bx(Cg, Wph);
  if (!ch.fn) return false;
  const int64_t KB = 16 * ch.kv, ncb = (Cg + KB - 1) / KB, nbw = (Wph + ch.pw - 1) / ch.pw;
  const int64_t Wcols = nbw * ch.pw;  // phase columns computed per row (the last block's
                                      // extra ones are dropped by the interleave)
  DxTaps d;
  dx_taps(p, Hph, Wcols, d);
  const int64_t nph = sh * sw, dplane = d.Hd * d.Wd;
  // packed weights, per phase [g][cb][k][t][KB]: w[g·Kg + k][cb·KB + cc][r_t][s_t]
  int64_t wofs[17];
  wofs[0] = 0;
  for (int64_t ph = 0; ph < nph; ++ph)
    wofs[ph + 1] = wofs[ph] + p.groups * ncb * Kg * d.T[ph] * KB;
  PoolBuf wbuf(sizeof(float) * (wofs[nph] + 16));
  float* wpk = static_cast<float*>(wbuf.p);
  // the phase and tap index of each (r, s)
  PoolBuf mapb(sizeof(int64_t) * 2 * RS);
  int64_t* ph_of = static_cast<int64_t*>(mapb.p);
  int64_t* t_of = ph_of + RS;
  for (int64_t ph = 0; ph < nph; ++ph)
    for (int64_t t = 0; t < d.T[ph]; ++t) {
      ph_of[d.rs[ph][t]] = ph;
      t_of[d.rs[ph][t]] = t;
    }
  // per output channel k: its weights of 16 dx channels × 16 taps through a register
  // transpose, each tap's 16 channels one store (a scalar gather took 3.9 ms of a 19.9 ms
  // batch-8 512→512 14² s2 input gradient)
  parallel_for(p.groups * ncb * Kg, grain_for(KB * RS), [&](int64_t i0, int64_t i1) {
    for (int64_t it = i0; it < i1; ++it) {
      const int64_t k = it % Kg, gc = it / Kg, cb = gc % ncb, g = gc / ncb;
      const float* wk = w + (g * Kg + k) * Cg * RS;
      for (int64_t cc0 = 0; cc0 < KB; cc0 += 16) {
        const int64_t c0 = cb * KB + cc0, kn = imax(0, imin(16, Cg - c0));
        for (int64_t rs0 = 0; rs0 < RS; rs0 += 16) {
          __m512 r[16];
          simd::load_transpose16(wk + c0 * RS + rs0, RS, static_cast<int>(kn),
                                 lane_mask(RS - rs0), r);
          for (int64_t j = 0; j < imin(16, RS - rs0); ++j) {
            const int64_t ph = ph_of[rs0 + j];
            _mm512_storeu_ps(wpk + wofs[ph] + (((g * ncb + cb) * Kg + k) * d.T[ph] +
                                               t_of[rs0 + j]) * KB + cc0,
                             r[j]);
          }
        }
      }
    }
  });
  // row-phase row i of one image, channel block (g, cb): every column phase into rb
  // (sw × KB × Wcols), then interleaved into dx's row sh·i + a
  const __m512i lo = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  const __m512i hi = _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24,
                                      8);
  auto item = [&](const float* dyp, float* dxn, float* rb, int64_t g, int64_t cb, int64_t a,
                  int64_t i) {
    const int64_t h = sh * i + a;
    if (h >= p.H) return;
    const int64_t mr = imin(KB, Cg - cb * KB);
    for (int64_t b = 0; b < sw; ++b) {
      const int64_t ph = a * sw + b, T = d.T[ph];
      float* rbb = rb + b * KB * Wcols;
      if (T == 0) {
        fill(rbb, KB * Wcols, 0.0f);
        continue;
      }
      const float* wp = wpk + wofs[ph] + (g * ncb + cb) * Kg * T * KB;
      const float* x0 = dyp + g * Kg * dplane + i * d.Wd;
      for (int64_t bw = 0; bw < nbw; ++bw) {
        const int64_t j0 = bw * ch.pw;
        ch.fn(Kg, T, T * KB, d.off[ph], x0 + j0, dplane, wp, ch.pw, mr, nullptr, rbb + j0,
              Wcols);
      }
    }
    for (int64_t cc = 0; cc < mr; ++cc) {
      float* dst = dxn + ((g * Cg + cb * KB + cc) * p.H + h) * p.W;
      const float* r0 = rb + cc * Wcols;
      if (sw == 1) {
        std::memcpy(dst, r0, sizeof(float) * p.W);
      } else if (sw == 2) {
        const float* r1 = r0 + KB * Wcols;
        for (int64_t j = 0; j < Wph; j += 16) {
          const __m512 v0 = _mm512_loadu_ps(r0 + j), v1 = _mm512_loadu_ps(r1 + j);
          _mm512_mask_storeu_ps(dst + 2 * j, lane_mask(p.W - 2 * j),
                                _mm512_permutex2var_ps(v0, lo, v1));
          _mm512_mask_storeu_ps(dst + 2 * j + 16, lane_mask(p.W - 2 * j - 16),
                                _mm512_permutex2var_ps(v0, hi, v1));
        }
      } else {
        for (int64_t x = 0; x < p.W; ++x) dst[x] = r0[(x % sw) * KB * Wcols + x / sw];
      }
    }
  };
  const int64_t nitems = p.groups * ncb * sh * Hph;
  const size_t d_bytes = sizeof(float) * static_cast<size_t>(p.K * dplane + 64);
  const size_t rb_bytes = sizeof(float) * static_cast<size_t>(sw * KB * Wcols + 32);
  auto items = [&](const float* dyp, float* dxn, int64_t i0, int64_t i1) {
    PoolBuf rb(rb_bytes);
    for (int64_t it = i0; it < i1; ++it) {
      const int64_t i = it % Hph, r1 = it / Hph, a = r1 % sh, gc = r1 / sh;
      item(dyp, dxn, static_cast<float*>(rb.p), gc / ncb, gc % ncb, a, i);
    }
  };
  if (p.N == 1) {
    float* dyp = static_cast<float*>(thread_scratch(d_bytes, kPadSlot));
    pad_copy(dy, p.K, p.OH, p.OW, d.PT, d.PL, d.Hd, d.Wd, dyp);
    parallel_for(nitems, 1, [&](int64_t i0, int64_t i1) { items(dyp, dx, i0, i1); });
    return true;
  }
  parallel_for(p.N, 1, [&](int64_t n0, int64_t n1) {
    float* dyp = static_cast<float*>(thread_scratch(d_bytes, kPadSlot));
    for (int64_t n = n0; n < n1; ++n) {
      pad_copy(dy + n * p.K * OHW, p.K, p.OH, p.OW, d.PT, d.PL, d.Hd, d.Wd, dyp);
      items(dyp, dx + n * p.C * HW, 0, nitems);
    }
  });
  return true;
}

// Weight gradient: wgrad_run (conv_avx512.cpp) on each image's shifted planes, the pixels as
// one row of OH·OW (the planes' pitch is OW).
bool strided_backward_weight(const Conv2dParams& p, const float* x, const float* dy,
                             float* dw) {
  if (!strided_ok(p)) return false;
  const int64_t Cg = p.C / p.groups, T = p.R * p.S, HW = p.H * p.W;
  const Planes q = planes_of(p);
  const int64_t cplane = q.cplane();
  PoolBuf offb(sizeof(int64_t) * (Cg * T + T));
  int64_t* off = static_cast<int64_t*>(offb.p);
  int64_t* tap = off + Cg * T;
  tap_offsets(p, q, tap);
  for (int64_t c = 0; c < Cg; ++c)
    for (int64_t t = 0; t < T; ++t) off[c * T + t] = c * cplane + tap[t];
  wgrad_run(p, dy, dw, p.C * cplane, off, 1, p.OH * p.OW, 0, [&](int64_t n, float* xp) {
    plane_copy(x + n * p.C * HW, p.C, p.H, p.W, p.sh, p.sw, p.pt, p.pl, q, xp);
  });
  return true;
}

}  // namespace
}  // namespace FASTDL_SIMD_ISA
}  // namespace conv
}  // namespace fastdl
