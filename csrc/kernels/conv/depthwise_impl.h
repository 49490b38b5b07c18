// Depthwise convolution (groups = C > 1, K = m·C output channels, channel c feeding outputs
// c·m .. c·m + m − 1), forward and gradients, float32 and float64, written once on simd::
// types and compiled per ISA (included by conv_impl.h, whose `if (is_depthwise(p))` branches
// call it):
//   y[n, c·m + j, oh, ow] = b[c·m + j] + Σ_{r,s} w[c·m + j, 0, r, s] ·
//                           x[n, c, oh·sh − pt + r·dh, ow·sw − pl + s·dw]   (0 outside x).
//
// Two schemes:
//  * channel-blocked (`blocked_forward` / `blocked_backward`, ISAs with vectors: AVX2 and
//    AVX-512): the lanes of a vector are L = V::N channels of one image. A block of L channel
//    planes is transposed (in registers, L×L tiles) into a zero-padded [Hp][Wp][L] scratch,
//    so every tap of every output pixel is one full-vector FMA with a per-lane weight vector,
//    whatever the map size, stride or dilation; the results are transposed back to NCHW. The
//    input gradient gathers, per output-gradient phase (the residues of h + pt modulo the
//    stride), the taps that reach each input pixel from a zero-margined [Dh][Dw][L] copy of
//    dy; the weight gradient keeps one vector accumulator per tap over the pixels of every
//    image. Pixel and tap positions are tables of offsets computed once per call, so the
//    inner loops have no bounds tests.
//  * plane loops (`forward_loops` / `backward_loops`): threads over (n, k) planes, vectorised
//    along an output row: the generic build, and maps too large for the blocked scheme where
//    AVX-512's plane kernels (conv_avx512.cpp, stride 1) do not apply.
//  * channels-last operands (conv.h: conv2d_depthwise_nhwc_*, one output channel per channel):
//    NHWC already holds a block's lanes contiguously per pixel, so the blocked scheme moves
//    pixels as vectors (rows_in / rows_out) instead of transposing planes, and the forward on
//    rows of at least kNhwcDirectMinOW outputs (fewer when strided) reads its taps straight
//    from the input (`nhwc_forward`, no scratch; outputs of 16 MB or more written with
//    non-temporal stores).
// Choice (blocked_ok, blocked_forward_ok): the blocked scheme whenever one block's buffers stay
// within about 1 MB of float32 (every map of MobileNetV2 at 224²), except the float32 stride-1
// forward with rows longer than 32 on AVX-512, where the plane kernels measured faster.
// Measured (bench/bench_depthwise.py 1 --cpu-time, batch 16, ms torch / fastdl; the plane
// scheme alone before: fastdl 2.22 and 12.84 at 384 14², 1.79 and 8.70 at 960 7²):
//   384 14²: forward 1.86 / 0.91, forward + backward 6.71 / 4.24;
//   960 7²:  forward 0.67 / 0.44, forward + backward 4.34 / 2.45.
#pragma once
#include <cstdint>
#include <type_traits>

#include "common/allocator.h"
#include "common/parallel.h"
#include "common/simd.h"
#include "kernels/conv/conv.h"
#include "kernels/conv/conv_util.h"

namespace fastdl {
namespace conv {
namespace FASTDL_SIMD_ISA {
namespace {
namespace depthwise {

// (imin, imax, valid_range, fill: conv_util.h)

// floor(a / b) for b > 0
inline int64_t floor_div(int64_t a, int64_t b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// ---- L×L transposes in registers: r[i] lane j  <->  r[j] lane i ---------------------------
#if FASTDL_SIMD_LEVEL == 2
inline void transpose(simd::Vf* r) {
  __m512 t[16], u[16];
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i].v, r[2 * i + 1].v);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i].v, r[2 * i + 1].v);
  }
  // u[4i + j], 128-bit lane k: rows 4i .. 4i+3 of column 4k + j
  for (int i = 0; i < 4; ++i) {
    u[4 * i] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm512_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm512_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int j = 0; j < 4; ++j) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0x88);
    const __m512 v1 = _mm512_shuffle_f32x4(u[j], u[4 + j], 0xDD);
    const __m512 w0 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0x88);
    const __m512 w1 = _mm512_shuffle_f32x4(u[8 + j], u[12 + j], 0xDD);
    r[j] = _mm512_shuffle_f32x4(v0, w0, 0x88);
    r[8 + j] = _mm512_shuffle_f32x4(v0, w0, 0xDD);
    r[4 + j] = _mm512_shuffle_f32x4(v1, w1, 0x88);
    r[12 + j] = _mm512_shuffle_f32x4(v1, w1, 0xDD);
  }
}
inline void transpose(simd::Vd* r) {
  __m512d t[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm512_unpacklo_pd(r[2 * i].v, r[2 * i + 1].v);
    t[2 * i + 1] = _mm512_unpackhi_pd(r[2 * i].v, r[2 * i + 1].v);
  }
  // t[2i + j], 128-bit lane k: rows 2i, 2i+1 of column 2k + j
  for (int j = 0; j < 2; ++j) {
    const __m512d v0 = _mm512_shuffle_f64x2(t[j], t[2 + j], 0x88);
    const __m512d v1 = _mm512_shuffle_f64x2(t[j], t[2 + j], 0xDD);
    const __m512d w0 = _mm512_shuffle_f64x2(t[4 + j], t[6 + j], 0x88);
    const __m512d w1 = _mm512_shuffle_f64x2(t[4 + j], t[6 + j], 0xDD);
    r[j] = _mm512_shuffle_f64x2(v0, w0, 0x88);
    r[4 + j] = _mm512_shuffle_f64x2(v0, w0, 0xDD);
    r[2 + j] = _mm512_shuffle_f64x2(v1, w1, 0x88);
    r[6 + j] = _mm512_shuffle_f64x2(v1, w1, 0xDD);
  }
}
#elif FASTDL_SIMD_LEVEL == 1
inline void transpose(simd::Vf* r) {
  __m256 t[8], u[8];
  for (int i = 0; i < 4; ++i) {
    t[2 * i] = _mm256_unpacklo_ps(r[2 * i].v, r[2 * i + 1].v);
    t[2 * i + 1] = _mm256_unpackhi_ps(r[2 * i].v, r[2 * i + 1].v);
  }
  for (int i = 0; i < 2; ++i) {
    u[4 * i] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0x44);
    u[4 * i + 1] = _mm256_shuffle_ps(t[4 * i], t[4 * i + 2], 0xEE);
    u[4 * i + 2] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0x44);
    u[4 * i + 3] = _mm256_shuffle_ps(t[4 * i + 1], t[4 * i + 3], 0xEE);
  }
  for (int j = 0; j < 4; ++j) {
    r[j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x20);
    r[4 + j] = _mm256_permute2f128_ps(u[j], u[4 + j], 0x31);
  }
}
inline void transpose(simd::Vd* r) {
  const __m256d t0 = _mm256_unpacklo_pd(r[0].v, r[1].v), t1 = _mm256_unpackhi_pd(r[0].v, r[1].v);
  const __m256d t2 = _mm256_unpacklo_pd(r[2].v, r[3].v), t3 = _mm256_unpackhi_pd(r[2].v, r[3].v);
  r[0] = _mm256_permute2f128_pd(t0, t2, 0x20);
  r[1] = _mm256_permute2f128_pd(t1, t3, 0x20);
  r[2] = _mm256_permute2f128_pd(t0, t2, 0x31);
  r[3] = _mm256_permute2f128_pd(t1, t3, 0x31);
}
#else
inline void transpose(simd::Vf*) {}  // 1 × 1
inline void transpose(simd::Vd*) {}
#endif

// dst[off[i] + l] = src[l·plane + i] for the npix pixels i with off[i] >= 0, lanes l < nc
// (lanes nc .. L−1 get 0).
template <class V, class T>
void transpose_in(const T* src, int64_t plane, int64_t nc, int64_t npix, const int32_t* off,
                  T* dst) {
  constexpr int L = V::N;
  V r[L];
  for (int64_t i0 = 0; i0 < npix; i0 += L) {
    const int64_t cnt = imin(L, npix - i0);
    for (int l = 0; l < L; ++l)
      r[l] = l >= nc ? V(T(0)) : cnt == L ? V::load(src + l * plane + i0)
                                          : V::load(src + l * plane + i0, cnt);
    transpose(r);
    for (int64_t u = 0; u < cnt; ++u)
      if (off[i0 + u] >= 0) r[u].store(dst + off[i0 + u]);
  }
}

// dst[l·plane + i] = src[i·L + l] for pixels i < npix and lanes l < nc.
template <class V, class T>
void transpose_out(const T* src, int64_t npix, int64_t nc, T* dst, int64_t plane) {
  constexpr int L = V::N;
  V r[L];
  for (int64_t i0 = 0; i0 < npix; i0 += L) {
    const int64_t cnt = imin(L, npix - i0);
    for (int l = 0; l < L; ++l) r[l] = l < cnt ? V::load(src + (i0 + l) * L) : V(T(0));
    transpose(r);
    for (int64_t l = 0; l < nc; ++l) {
      if (cnt == L)
        r[l].store(dst + l * plane + i0);
      else
        r[l].store(dst + l * plane + i0, cnt);
    }
  }
}

// The channels-last forms of transpose_in / transpose_out: in NHWC storage a block's L
// channels of pixel i are contiguous at src + i·stride (stride: the tensor's channel count),
// so each pixel moves as one vector (masked to the nc lanes of a last, partial block; lanes
// nc .. L−1 read as 0).
// dst[off[i] + l] = src[i·stride + l] for the npix pixels i with off[i] >= 0, lanes l < nc.
template <class V, class T>
void rows_in(const T* src, int64_t stride, int64_t nc, int64_t npix, const int32_t* off,
             T* dst) {
  if (nc == V::N) {
    for (int64_t i = 0; i < npix; ++i)
      if (off[i] >= 0) V::load(src + i * stride).store(dst + off[i]);
  } else {
    for (int64_t i = 0; i < npix; ++i)
      if (off[i] >= 0) V::load(src + i * stride, nc).store(dst + off[i]);
  }
}

// dst[i·stride + l] = src[i·L + l] for pixels i < npix and lanes l < nc.
template <class V, class T>
void rows_out(const T* src, int64_t npix, int64_t nc, T* dst, int64_t stride) {
  constexpr int L = V::N;
  if (nc == L) {
    for (int64_t i = 0; i < npix; ++i) V::load(src + i * L).store(dst + i * stride);
  } else {
    for (int64_t i = 0; i < npix; ++i) V::load(src + i * L).store(dst + i * stride, nc);
  }
}

// out[i·ostride] = bias + Σ_t wv[t] · in[in_off[i] + tap[t]] for i < npix (vectors of L
// lanes; ostride L: a lane-layout buffer, or a channels-last tensor's channel count), 8
// pixels at a time in independent accumulators; with `act` (lo, hi vectors), clamped:
// min(max(out, lo), hi) (the fused activation, conv.h: Act).
template <class V, class T>
void run_taps(const T* in, const int32_t* in_off, int64_t npix, const int32_t* tap,
              const V* wv, int64_t ntap, V bias, T* out, const V* act = nullptr,
              int64_t ostride = V::N) {
  constexpr int U = 8;
  int64_t i = 0;
  for (; i + U <= npix; i += U) {
    const T* q[U];
    V a[U];
    for (int u = 0; u < U; ++u) {
      q[u] = in + in_off[i + u];
      a[u] = bias;
    }
    for (int64_t t = 0; t < ntap; ++t) {
      const V w = wv[t];
      const int64_t o = tap[t];
      for (int u = 0; u < U; ++u) a[u] = simd::fma(w, V::load(q[u] + o), a[u]);
    }
    if (act)
      for (int u = 0; u < U; ++u) a[u] = simd::min(act[1], simd::max(act[0], a[u]));
    for (int u = 0; u < U; ++u) a[u].store(out + (i + u) * ostride);
  }
  for (; i < npix; ++i) {
    const T* q = in + in_off[i];
    V a = bias;
    for (int64_t t = 0; t < ntap; ++t) a = simd::fma(wv[t], V::load(q + tap[t]), a);
    if (act) a = simd::min(act[1], simd::max(act[0], a));
    a.store(out + i * ostride);
  }
}

// acc[t] += Σ_i dy[dy_off[i]] · x[x_off[i] + tap[t]] for the TC taps, over npix pixels.
template <int TC, class V, class T>
void wgrad_taps(const T* x, const T* dy, const int32_t* x_off, const int32_t* dy_off,
                int64_t npix, const int32_t* tap, V* acc) {
  V a[TC];
  int64_t o[TC];
  for (int t = 0; t < TC; ++t) {
    a[t] = acc[t];
    o[t] = tap[t];
  }
  for (int64_t i = 0; i < npix; ++i) {
    const V d = V::load(dy + dy_off[i]);
    const T* q = x + x_off[i];
    for (int t = 0; t < TC; ++t) a[t] = simd::fma(d, V::load(q + o[t]), a[t]);
  }
  for (int t = 0; t < TC; ++t) acc[t] = a[t];
}

template <class V, class T>
void wgrad(const T* x, const T* dy, const int32_t* x_off, const int32_t* dy_off, int64_t npix,
           const int32_t* tap, int64_t ntap, V* acc) {
  constexpr int kMax = V::N >= 16 ? 16 : 12;  // accumulators that stay in registers
  for (int64_t t0 = 0; t0 < ntap;) {
    const int64_t c = imin(kMax, ntap - t0);
    switch (c) {
#define FASTDL_DW_WGRAD_CASE(n) \
  case n: wgrad_taps<n>(x, dy, x_off, dy_off, npix, tap + t0, acc + t0); break;
      FASTDL_DW_WGRAD_CASE(1) FASTDL_DW_WGRAD_CASE(2) FASTDL_DW_WGRAD_CASE(3)
      FASTDL_DW_WGRAD_CASE(4) FASTDL_DW_WGRAD_CASE(5) FASTDL_DW_WGRAD_CASE(6)
      FASTDL_DW_WGRAD_CASE(7) FASTDL_DW_WGRAD_CASE(8) FASTDL_DW_WGRAD_CASE(9)
      FASTDL_DW_WGRAD_CASE(10) FASTDL_DW_WGRAD_CASE(11) FASTDL_DW_WGRAD_CASE(12)
      FASTDL_DW_WGRAD_CASE(13) FASTDL_DW_WGRAD_CASE(14) FASTDL_DW_WGRAD_CASE(15)
      FASTDL_DW_WGRAD_CASE(16)
#undef FASTDL_DW_WGRAD_CASE
      default: break;
    }
    t0 += c;
  }
}

// ---- channel-blocked scheme: geometry and offset tables -----------------------------------
// Offsets are element offsets into one block buffer (int32: blocked_ok bounds the buffers).
struct Blocked {
  int64_t L, nb;         // lanes, channel blocks
  int64_t Hp, Wp;        // padded input block: rows oh·sh + r·dh, columns ow·sw + s·dw
  int64_t oh0, ow0;      // dy block: output rows oh0 .. oh0 + Dh − 1 (zero outside [0, OH))
  int64_t Dh, Dw;
  PoolBuf buf;
  int32_t* xin;   // [H·W] input pixel -> xb offset (−1: never read)
  int32_t* xpix;  // [OH·OW] output pixel -> xb offset of its tap (0, 0)
  int32_t* tap;   // [R·S] xb offset of tap (r, s)
  int32_t* dyin;  // [OH·OW] output pixel -> dz offset (−1: reaches no input pixel)
  // input gradient: per phase (a, b) of (h + pt) mod sh, (w + pl) mod sw: its pixels, their dz
  // offsets and its taps (dz offset, tap index t)
  int64_t nph;
  int64_t* ph_pix0;   // [nph + 1] the phase's pixels: ph_pix[ph_pix0[q] .. ph_pix0[q + 1])
  int32_t* ph_pix;    // [H·W] pixel index h·W + w
  int32_t* ph_off;    // [H·W] its dz offset
  int64_t* ph_tap0;   // [nph + 1]
  int32_t* ph_tapo;   // [nph·R·S] dz offset of the tap
  int32_t* ph_tapt;   // [nph·R·S] its index r·S + s
  // weight gradient: the output pixels that reach the input, their xb and dz offsets
  int64_t nw;
  int32_t* w_x;
  int32_t* w_dy;

  Blocked(const Conv2dParams& p, int64_t lanes, bool grad)
      : L(lanes), nb((p.C + lanes - 1) / lanes), buf(bytes(p, grad)) {
    Hp = (p.OH - 1) * p.sh + (p.R - 1) * p.dh + 1;
    Wp = (p.OW - 1) * p.sw + (p.S - 1) * p.dw + 1;
    const int64_t HW = p.H * p.W, OHW = p.OH * p.OW, RS = p.R * p.S;
    char* c = static_cast<char*>(buf.p);
    auto take32 = [&](int64_t n) {
      int32_t* r = reinterpret_cast<int32_t*>(c);
      c += ((n * 4 + 63) / 64) * 64;
      return r;
    };
    auto take64 = [&](int64_t n) {
      int64_t* r = reinterpret_cast<int64_t*>(c);
      c += ((n * 8 + 63) / 64) * 64;
      return r;
    };
    xin = take32(HW);
    xpix = take32(OHW);
    tap = take32(RS);
    for (int64_t h = 0; h < p.H; ++h)
      for (int64_t w = 0; w < p.W; ++w) {
        const int64_t a = h + p.pt, b = w + p.pl;
        xin[h * p.W + w] = (a >= 0 && b >= 0 && a < Hp && b < Wp) ? static_cast<int32_t>((a * Wp + b) * L) : -1;
      }
    for (int64_t oh = 0; oh < p.OH; ++oh)
      for (int64_t ow = 0; ow < p.OW; ++ow)
        xpix[oh * p.OW + ow] = static_cast<int32_t>((oh * p.sh * Wp + ow * p.sw) * L);
    for (int64_t r = 0; r < p.R; ++r)
      for (int64_t s = 0; s < p.S; ++s)
        tap[r * p.S + s] = static_cast<int32_t>((r * p.dh * Wp + s * p.dw) * L);
    if (!grad) return;
    // dy rows that reach input row h: oh = (h + pt − r·dh) / sh for h in [0, H), r in [0, R)
    oh0 = floor_div(p.pt - (p.R - 1) * p.dh, p.sh);
    ow0 = floor_div(p.pl - (p.S - 1) * p.dw, p.sw);
    Dh = floor_div(p.H - 1 + p.pt, p.sh) - oh0 + 1;
    Dw = floor_div(p.W - 1 + p.pl, p.sw) - ow0 + 1;
    dyin = take32(OHW);
    w_x = take32(OHW);
    w_dy = take32(OHW);
    nw = 0;
    for (int64_t oh = 0; oh < p.OH; ++oh)
      for (int64_t ow = 0; ow < p.OW; ++ow) {
        const int64_t a = oh - oh0, b = ow - ow0, i = oh * p.OW + ow;
        dyin[i] = (a >= 0 && a < Dh && b >= 0 && b < Dw)
                      ? static_cast<int32_t>((a * Dw + b) * L) : -1;
        if (dyin[i] >= 0) {
          w_x[nw] = xpix[i];
          w_dy[nw++] = dyin[i];
        }
      }
    nph = p.sh * p.sw;
    ph_pix0 = take64(nph + 1);
    ph_pix = take32(HW);
    ph_off = take32(HW);
    ph_tap0 = take64(nph + 1);
    ph_tapo = take32(nph * RS);
    ph_tapt = take32(nph * RS);
    int64_t np = 0, nt = 0;
    for (int64_t pa = 0; pa < p.sh; ++pa)
      for (int64_t pb = 0; pb < p.sw; ++pb) {
        const int64_t q = pa * p.sw + pb;
        ph_pix0[q] = np;
        ph_tap0[q] = nt;
        // pixels (h, w) with (h + pt) ≡ pa (mod sh), (w + pl) ≡ pb (mod sw); dz position of
        // tap (0, 0)'s reference: oh = (h + pt − pa) / sh, ow = (w + pl − pb) / sw
        for (int64_t h = 0; h < p.H; ++h) {
          if (((h + p.pt) % p.sh + p.sh) % p.sh != pa) continue;
          for (int64_t w = 0; w < p.W; ++w) {
            if (((w + p.pl) % p.sw + p.sw) % p.sw != pb) continue;
            const int64_t oh = floor_div(h + p.pt - pa, p.sh), ow = floor_div(w + p.pl - pb, p.sw);
            ph_pix[np] = static_cast<int32_t>(h * p.W + w);
            ph_off[np++] = static_cast<int32_t>(((oh - oh0) * Dw + (ow - ow0)) * L);
          }
        }
        // taps with r·dh ≡ pa (mod sh): dy row oh − (r·dh − pa) / sh
        for (int64_t r = 0; r < p.R; ++r) {
          if ((r * p.dh) % p.sh != pa) continue;
          for (int64_t s = 0; s < p.S; ++s) {
            if ((s * p.dw) % p.sw != pb) continue;
            const int64_t dr = (r * p.dh - pa) / p.sh, ds = (s * p.dw - pb) / p.sw;
            ph_tapo[nt] = static_cast<int32_t>(-(dr * Dw + ds) * L);
            ph_tapt[nt++] = static_cast<int32_t>(r * p.S + s);
          }
        }
      }
    ph_pix0[nph] = np;
    ph_tap0[nph] = nt;
  }

  static size_t bytes(const Conv2dParams& p, bool grad) {
    const int64_t HW = p.H * p.W, OHW = p.OH * p.OW, RS = p.R * p.S;
    const int64_t nph = p.sh * p.sw;
    int64_t n = (HW + OHW + RS) * 4 + 3 * 64;
    if (grad) n += 3 * OHW * 4 + (2 * HW + 2 * nph * RS) * 4 + 2 * (nph + 1) * 8 + 9 * 64;
    return static_cast<size_t>(n);
  }
};

// Zero the pixels of a [rows][cols][L] block outside rows [r0, r1) × columns [c0, c1) (the
// padding the transposes never write).
template <class T>
void zero_margins(T* buf, int64_t rows, int64_t cols, int64_t L, int64_t r0, int64_t r1,
                  int64_t c0, int64_t c1) {
  r0 = imax(0, imin(r0, rows));
  r1 = imax(r0, imin(r1, rows));
  c0 = imax(0, imin(c0, cols));
  c1 = imax(c0, imin(c1, cols));
  fill(buf, r0 * cols * L, T(0));
  for (int64_t r = r0; r < r1; ++r) {
    fill(buf + r * cols * L, c0 * L, T(0));
    fill(buf + (r * cols + c1) * L, (cols - c1) * L, T(0));
  }
  fill(buf + r1 * cols * L, (rows - r1) * cols * L, T(0));
}

// Shapes the blocked scheme takes: this ISA has vectors and one block's buffers stay within
// about 1 MB (float32; an L2), so every map of MobileNetV2 at 224² (112² at most).
template <class V>
bool blocked_ok(const Conv2dParams& p) {
  if (V::N == 1) return false;
  if (p.N <= 0 || p.K <= 0 || p.C <= 0 || p.H <= 0 || p.W <= 0 || p.OH <= 0 || p.OW <= 0)
    return false;
  const int64_t Hp = (p.OH - 1) * p.sh + (p.R - 1) * p.dh + 1;
  const int64_t Wp = (p.OW - 1) * p.sw + (p.S - 1) * p.dw + 1;
  const int64_t Dh = (p.H - 1 + p.pt) / p.sh + ((p.R - 1) * p.dh + p.sh - 1) / p.sh + 2;
  const int64_t Dw = (p.W - 1 + p.pl) / p.sw + ((p.S - 1) * p.dw + p.sw - 1) / p.sw + 2;
  const int64_t big = int64_t(1) << 18;  // pixels × lanes of one block buffer
  const int64_t m = p.K / p.C;
  return Hp * Wp * V::N <= big && p.H * p.W * V::N <= big && p.OH * p.OW * V::N <= big &&
         m * Dh * Dw * V::N <= 4 * big && m * p.R * p.S <= 4096;
}

// The forward takes the blocked scheme except where AVX-512's plane kernels
// (conv_avx512.cpp: float32, stride 1, dilation 1, rows of whole vectors) are faster: rows
// longer than 32 outputs. bench/bench_depthwise.py, 1 thread, CPU time, ms plane / blocked,
// batch 16: 32 112² 4.42 / 5.01, 144 56² 5.10 / 5.39, 192 28² 2.60 / 1.80; stride 2 (no
// plane kernel, the plane loops): 96 112² 13.2 / 8.2, 144 56² 6.9 / 2.6.
template <class V>
bool blocked_forward_ok(const Conv2dParams& p) {
#if FASTDL_SIMD_LEVEL == 2
  if (sizeof(typename V::T) == 4 && p.sh == 1 && p.sw == 1 && p.dh == 1 && p.dw == 1 &&
      p.OW > 32)
    return false;
#endif
  return blocked_ok<V>(p);
}

// ---- channel-blocked forward ---------------------------------------------------------------
// The vector of lanes l < nc: src[l·stride] (a block's per-channel weight or bias), the other
// lanes 0; all 0 when src is null (no bias).
template <class V, class T>
V lanes(const T* src, int64_t stride, int64_t nc) {
  alignas(64) T lane[V::N];
  for (int l = 0; l < V::N; ++l) lane[l] = (src && l < nc) ? src[l * stride] : T(0);
  return V::load(lane);
}

// y = the convolution, then the activation `act` (in the accumulators, before the store).
// nhwc: x (N, H, W, C) and y (N, OH, OW, K) channels-last (one output channel per channel,
// K = C): the blocks are read and written as vectors of the pixels' channels, with no
// transposes, and full blocks are stored straight into y; then every shape blocked_ok takes
// runs this scheme (AVX-512's plane kernels read NCHW planes).
template <class V, class T>
bool blocked_forward(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y,
                     Act act = Act(), bool nhwc = false) {
  if (nhwc ? !(p.K == p.C && blocked_ok<V>(p)) : !blocked_forward_ok<V>(p)) return false;
  constexpr int L = V::N;
  const int64_t m = p.K / p.C, HW = p.H * p.W, OHW = p.OH * p.OW, RS = p.R * p.S;
  const Blocked g(p, L, false);
  // per block and j: the RS weight vectors and the bias vector, [cb][j][RS + 1]
  const int64_t nv = m * (RS + 1);
  PoolBuf wbuf(sizeof(V) * static_cast<size_t>(g.nb * nv));
  V* wall = wbuf.as<V>();
  parallel_for(g.nb, grain_for(nv * L), [&](int64_t b0, int64_t b1) {
    for (int64_t cb = b0; cb < b1; ++cb) {
      const int64_t c0 = cb * L, nc = imin(L, p.C - c0);
      for (int64_t j = 0; j < m; ++j) {
        V* wv = wall + cb * nv + j * (RS + 1);
        for (int64_t t = 0; t < RS; ++t) wv[t] = lanes<V>(w + (c0 * m + j) * RS + t, m * RS, nc);
        wv[RS] = lanes<V>(b ? b + c0 * m + j : nullptr, m, nc);
      }
    }
  });
  const size_t xb_bytes = sizeof(T) * static_cast<size_t>(g.Hp * g.Wp * L);
  const size_t yb_bytes = sizeof(T) * static_cast<size_t>(OHW * L);
  const V lohi[2] = {V(static_cast<T>(act.lo)), V(static_cast<T>(act.hi))};
  // items (image, block) per chunk: about 32 chunks (the margins are zeroed once per chunk)
  parallel_for(p.N * g.nb, imax(1, p.N * g.nb / 32), [&](int64_t i0, int64_t i1) {
    T* xb = static_cast<T*>(thread_scratch(xb_bytes, kScratchConvPad));
    T* yb = static_cast<T*>(thread_scratch(yb_bytes, kScratchConvDyT));
    zero_margins(xb, g.Hp, g.Wp, L, p.pt, p.pt + p.H, p.pl, p.pl + p.W);
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t n = i / g.nb, cb = i % g.nb, c0 = cb * L, nc = imin(L, p.C - c0);
      if (nhwc) {  // m = 1
        const V* wv = wall + cb * nv;
        rows_in<V>(x + n * HW * p.C + c0, p.C, nc, HW, g.xin, xb);
        T* yn = y + n * OHW * p.K + c0;
        const bool full = nc == L;
        run_taps(xb, g.xpix, OHW, g.tap, wv, RS, wv[RS], full ? yn : yb,
                 act.on() ? lohi : nullptr, full ? p.K : L);
        if (!full) rows_out<V>(yb, OHW, nc, yn, p.K);
        continue;
      }
      transpose_in<V>(x + (n * p.C + c0) * HW, HW, nc, HW, g.xin, xb);
      for (int64_t j = 0; j < m; ++j) {
        const V* wv = wall + cb * nv + j * (RS + 1);
        run_taps(xb, g.xpix, OHW, g.tap, wv, RS, wv[RS], yb, act.on() ? lohi : nullptr);
        transpose_out<V>(yb, OHW, nc, y + (n * p.K + c0 * m + j) * OHW, m * OHW);
      }
    }
  });
  return true;
}

// ---- channels-last forward: taps read straight from the NHWC input -------------------------
// y[n, oh, ow, c] = act(b[c] + Σ_{r,s} w[c, r, s] · x[n, ih, iw, c]), ih = oh·sh − pt + r·dh,
// iw = ow·sw − pl + s·dw, taps outside x skipped (they would add w·0), one output channel per
// channel (K = C). NHWC stores a pixel's channels contiguously, so the lanes of a vector are
// L channels of one pixel and every tap is one vector load of the input in place: no scratch
// and no transposes (the blocked scheme's copies cost more than the taps on large maps). Per
// output row (threads over rows), groups of kU pixels in independent accumulators, each
// group's channel blocks in order; a group whose taps all lie inside the input loads each
// input column once (3×3), a group reaching a border tests each tap. Each output is the sum
// bias, then the valid taps in (r, s) order: bitwise the blocked scheme's result wherever the
// skipped taps' w·0 adds nothing (finite weights).
// yo[u·C] = act(a[u]) for the U pixels (lanes l < nc; all L when Full); non-temporal stores
// when nt (Full blocks only; yo 64-byte aligned: nhwc_forward's condition).
template <class V, class T, bool Full, int U>
inline void store_pixels(V* a, const V* act, int64_t nc, int64_t C, T* yo, bool nt) {
  for (int u = 0; u < U; ++u) {
    V v = a[u];
    if (act) v = simd::min(act[1], simd::max(act[0], v));
    if (Full && nt)
      v.stream(yo + u * C);
    else if (Full)
      v.store(yo + u * C);
    else
      v.store(yo + u * C, nc);
  }
}

// a[u] += Σ over the valid kernel rows k and s < 3 of w[rr[k], s] · x[row k, iw0 + u·SW + s]
// (the interior, dilation 1): the row's (U − 1)·SW + 3 input columns loaded once each, the
// sums in the (row, s) order of nhwc_pixels' general loop.
template <class V, class T, bool Full, int U, int SW>
inline void taps3(const T* const* rowp, const int64_t* rr, int64_t nr, int64_t iw0, int64_t C,
                  const V* wv, int64_t nc, V* a) {
  constexpr int NCOL = (U - 1) * SW + 3;
  for (int64_t k = 0; k < nr; ++k) {
    const T* q = rowp[k] + iw0 * C;
    V c[NCOL];
    // one pointer stepped by C: the empty asm keeps the compiler from hoisting the NCOL
    // offsets j·C out of the caller's loops into registers of their own, which it then spills
    // (8-pixel groups at stride 1 with them: 32 112² at batch 16 1.10× the 4-pixel groups;
    // with the stepped pointer 1.41×)
    for (int j = 0; j < NCOL; ++j, q += C) {
      c[j] = Full ? V::load(q) : V::load(q, nc);
      asm("" : "+r"(q));
    }
    const V* wr = wv + rr[k] * 3;
    const V w0 = wr[0], w1 = wr[1], w2 = wr[2];
    for (int u = 0; u < U; ++u) {
      a[u] = simd::fma(w0, c[u * SW], a[u]);
      a[u] = simd::fma(w1, c[u * SW + 1], a[u]);
      a[u] = simd::fma(w2, c[u * SW + 2], a[u]);
    }
  }
}

// One channel block (lanes l < nc; all L when Full) of U consecutive output pixels from
// column ow: every tap inside the input when Interior, else each tap tested. rowp: the valid
// kernel rows' input rows (at the block's first channel), rr their kernel row indices; yo:
// the first pixel's output (nt: store_pixels).
template <class V, class T, bool Full, bool Interior, int U>
inline void nhwc_pixels(const Conv2dParams& p, const T* const* rowp, const int64_t* rr,
                        int64_t nr, int64_t ow, const V* wv, int64_t nc, const V* act, T* yo,
                        bool nt) {
  const int64_t C = p.C, S = p.S, RS = p.R * S;
  auto ld = [&](const T* q) { return Full ? V::load(q) : V::load(q, nc); };
  V a[U];
  for (int u = 0; u < U; ++u) a[u] = wv[RS];
  const int64_t iw0 = ow * p.sw - p.pl;
  if constexpr (Interior) {
    // 3 taps per row, dilation 1, stride 1 or 2: each input column loaded once for the U
    // pixels that read it (U + 2 or 2U + 1 loads per kernel row instead of 3U)
    if (S == 3 && p.dw == 1 && (p.sw == 1 || p.sw == 2)) {
      if (p.sw == 1)
        taps3<V, T, Full, U, 1>(rowp, rr, nr, iw0, C, wv, nc, a);
      else
        taps3<V, T, Full, U, 2>(rowp, rr, nr, iw0, C, wv, nc, a);
      return store_pixels<V, T, Full, U>(a, act, nc, C, yo, nt);
    }
  }
  for (int64_t k = 0; k < nr; ++k) {
    const V* wr = wv + rr[k] * S;
    for (int64_t s = 0; s < S; ++s) {
      const V ws = wr[s];
      for (int u = 0; u < U; ++u) {
        const int64_t iw = iw0 + u * p.sw + s * p.dw;
        if (Interior || (iw >= 0 && iw < p.W)) a[u] = simd::fma(ws, ld(rowp[k] + iw * C), a[u]);
      }
    }
  }
  store_pixels<V, T, Full, U>(a, act, nc, C, yo, nt);
}

// U output pixels from column ow, every channel block in order (lanes: nhwc_pixels; the
// last, partial block never streamed). rowp: the valid kernel rows' input rows, rr their
// kernel row indices; wall: per block the RS weight vectors and the bias vector.
template <class V, class T, bool Interior, int U>
inline void nhwc_blocks(const Conv2dParams& p, const T* const* rowp, const int64_t* rr,
                        int64_t nr, const V* wall, const V* act, T* yr, int64_t ow, bool nt) {
  constexpr int L = V::N;
  const int64_t C = p.C, RS = p.R * p.S, nfull = C / L, nc = C - nfull * L;
  const T* rp[64];
  for (int64_t cb = 0; cb <= nfull; ++cb) {
    if (cb == nfull && nc == 0) break;
    for (int64_t k = 0; k < nr; ++k) rp[k] = rowp[k] + cb * L;
    if (cb < nfull)
      nhwc_pixels<V, T, true, Interior, U>(p, rp, rr, nr, ow, wall + cb * (RS + 1), L, act,
                                           yr + ow * C + cb * L, nt);
    else
      nhwc_pixels<V, T, false, Interior, U>(p, rp, rr, nr, ow, wall + cb * (RS + 1), nc, act,
                                            yr + ow * C + cb * L, false);
  }
}

// The last pixels [ow, OW) of an output row of nhwc_row's groups from olo on: an interior
// group of 4, interior pairs and singles (each tap unconditional, each input column loaded
// once), border pixels one at a time with each tap tested. Not inlined into nhwc_row: with
// these cases compiled into it, its group loop ran up to 1.7× slower on the large maps at
// batch 16 (register allocation).
template <class V, class T>
__attribute__((noinline)) void nhwc_tail(const Conv2dParams& p, const T* const* rowp,
                                         const int64_t* rr, int64_t nr, const V* wall,
                                         int64_t olo, int64_t ohi, const V* act, T* yr,
                                         int64_t ow, bool nt) {
  if (ow >= olo && ow + 4 <= ohi) {
    nhwc_blocks<V, T, true, 4>(p, rowp, rr, nr, wall, act, yr, ow, nt);
    ow += 4;
  }
  while (ow < p.OW) {
    if (ow >= olo && ow + 2 <= ohi) {
      nhwc_blocks<V, T, true, 2>(p, rowp, rr, nr, wall, act, yr, ow, nt);
      ow += 2;
    } else {
      if (ow >= olo && ow < ohi)
        nhwc_blocks<V, T, true, 1>(p, rowp, rr, nr, wall, act, yr, ow, nt);
      else
        nhwc_blocks<V, T, false, 1>(p, rowp, rr, nr, wall, act, yr, ow, nt);
      ++ow;
    }
  }
}

// One output row: kU pixels at a time (interior groups: every tap inside [olo, ohi)'s
// columns), each group's channel blocks in order, so the row's input and output are walked
// sequentially; the last OW mod kU pixels one at a time. With kU = 8 (stride 1) the left
// border pixels go first, one at a time, so the groups start at olo and all but the last are
// interior, and the last pixels go through nhwc_tail (batch 16, 1 thread, against groups
// from column 0: 32 112² 1.10×, 144 56² 1.09×).
template <class V, class T, int kU, bool kSplit = kU == 8>
void nhwc_row(const Conv2dParams& p, const T* const* rowp, const int64_t* rr, int64_t nr,
              const V* wall, int64_t olo, int64_t ohi, const V* act, T* yr,
              const T* const* pf, int64_t npf, bool nt) {
  const int64_t C = p.C;
  const int64_t gbytes = kU * p.sw * C * static_cast<int64_t>(sizeof(T));
  int64_t ow = 0;
  if constexpr (kSplit) {  // the left border pixels one at a time, the groups from olo on
    for (; ow < imin(olo, p.OW); ++ow)
      nhwc_blocks<V, T, false, 1>(p, rowp, rr, nr, wall, act, yr, ow, nt);
  }
  for (; ow + kU <= p.OW; ow += kU) {
    // the next output row's new input rows, as far along as this group reads
    for (int64_t j = 0; j < npf; ++j) {
      const char* q = reinterpret_cast<const char*>(pf[j] + imax(0, ow * p.sw - p.pl) * C);
      for (int64_t o = 0; o < gbytes; o += 64) __builtin_prefetch(q + o);
    }
    if (ow >= olo && ow + kU <= ohi)
      nhwc_blocks<V, T, true, kU>(p, rowp, rr, nr, wall, act, yr, ow, nt);
    else  // a group with border columns: each tap tested, still kU independent sums
      nhwc_blocks<V, T, false, kU>(p, rowp, rr, nr, wall, act, yr, ow, nt);
  }
  if constexpr (kSplit) {
    if (ow < p.OW) nhwc_tail(p, rowp, rr, nr, wall, olo, ohi, act, yr, ow, nt);
  } else {
    for (; ow < p.OW; ++ow) nhwc_blocks<V, T, false, 1>(p, rowp, rr, nr, wall, act, yr, ow, nt);
  }
}

// Strided rows of fewer than kNhwcSplitMaxOW outputs (MobileNetV2's 192 28² s2: 14 outputs,
// 576 14² s2: 7): 4-pixel groups from the first interior column, the borders one at a time,
// the rest through nhwc_tail: 192 28² s2 1.13-1.16× the groups from column 0 (whose last
// group and two singles test every tap). Its own function, not inlined: compiled into the
// same parallel loop as the other rows, it slowed the large strided maps by 4-7 % (register
// allocation).
constexpr int64_t kNhwcSplitMaxOW = 16;
template <class V, class T>
__attribute__((noinline)) void nhwc_row_split4(const Conv2dParams& p, const T* const* rowp,
                                               const int64_t* rr, int64_t nr, const V* wall,
                                               int64_t olo, int64_t ohi, const V* act, T* yr,
                                               const T* const* pf, int64_t npf, bool nt) {
  nhwc_row<V, T, 4, true>(p, rowp, rr, nr, wall, olo, ohi, act, yr, pf, npf, nt);
}

// The channels-last forward reads the input in place (nhwc_forward) for rows of at least
// kNhwcDirectMinOW outputs (kNhwcDirectMinOWStrided for a strided layer, whose scratch copy
// would hold sw·sh input pixels per output), else (and where blocked_ok allows) through the
// blocked scheme's padded scratch, whose uniform taps win when the rows are short.
// bench/bench_depthwise.py's layers, batch 16, 1 thread, ms blocked / in place: 32 112²
// 2.69 / 2.32, 96 112² s2 5.5 / 3.6–4.7, 144 56² 3.23 / 2.5–2.9, 144 56² s2 1.92 / 1.20,
// 192 28² s2 0.37 / 0.30; but 192 28² 0.67 / 0.83, 384 14² 0.28 / 0.47, 960 7² 0.21 / 0.36.
// Re-measured with the 8-pixel groups (stride 1) and the split rows (strided, under
// kNhwcSplitMaxOW outputs), A/B in one process, µs blocked / in place: 576 14² s2 (7
// outputs a row) 256–292 / 206–209 at batch 16, 17–19 / 14–15 at batch 1; the stride-1
// rows of 7–28 outputs still favour the blocked scheme (in place: 192 28² 1.00×, 384 14²
// 0.78–0.91×, 960 7² 0.59–0.79×).
constexpr int64_t kNhwcDirectMinOW = 48, kNhwcDirectMinOWStrided = 7;
inline bool nhwc_direct_preferred(const Conv2dParams& p) {
  return p.OW >= (p.sw > 1 ? kNhwcDirectMinOWStrided : kNhwcDirectMinOW);
}

template <class V, class T>
bool nhwc_forward(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y, Act act) {
  constexpr int L = V::N;
  if (L == 1 || p.K != p.C || p.N <= 0 || p.C <= 0 || p.OH <= 0 || p.OW <= 0 || p.R > 64)
    return false;
  const int64_t C = p.C, RS = p.R * p.S, nb = (C + L - 1) / L;
  // per block: the RS weight vectors and the bias vector
  PoolBuf wbuf(sizeof(V) * static_cast<size_t>(nb * (RS + 1)));
  V* wall = wbuf.as<V>();
  for (int64_t cb = 0; cb < nb; ++cb) {
    const int64_t c0 = cb * L, nc = imin(L, C - c0);
    for (int64_t t = 0; t < RS; ++t) wall[cb * (RS + 1) + t] = lanes<V>(w + c0 * RS + t, RS, nc);
    wall[cb * (RS + 1) + RS] = lanes<V>(b ? b + c0 : nullptr, 1, nc);
  }
  // the columns where every tap s lies inside the input row: [olo, ohi)
  int64_t olo = 0, ohi = p.OW;
  for (int64_t s = 0; s < p.S; ++s) {
    int64_t lo, hi;
    valid_range(s * p.dw - p.pl, p.sw, p.W, p.OW, lo, hi);
    olo = imax(olo, lo);
    ohi = imin(ohi, hi);
  }
  if (ohi < olo) ohi = olo;
  const V lohi[2] = {V(static_cast<T>(act.lo)), V(static_cast<T>(act.hi))};
  const V* actp = act.on() ? lohi : nullptr;
  // An output of simd::kStreamBytes or more goes out with non-temporal stores (no read for
  // ownership of its lines; it does not fit in L2 anyway) when every channel block is whole
  // and 64-byte aligned. bench/bench_depthwise.py's layers, batch 16, the same process, ms
  // plain / non-temporal, 1 thread: 32 112² 2.50 / 2.15, 96 112² s2 3.52 / 3.50, 144 56²
  // 2.70 / 2.58; 2 threads: 1.29 / 1.09, 2.31 / 2.13, 1.39 / 1.32. MobileNetV2's
  // channels-last train step and batch-1 inference: unchanged (1.00).
  const bool nt = C % L == 0 && (reinterpret_cast<uintptr_t>(y) & 63) == 0 &&
                  p.N * p.OH * p.OW * C * static_cast<int64_t>(sizeof(T)) >= simd::kStreamBytes;
  // Groups of 8 pixels at stride 1, of 4 when strided (a stride-2 group of 8 reads 17 input
  // columns per kernel row: 0.74-0.77× on the large maps at batch 16); one instantiation of
  // nhwc_row per parallel loop. Batch 16, 1 thread, ms groups of 4 / 8: 32 112² 2.06 / 1.46,
  // 144 56² 2.55 / 1.98; batch 1, µs: 129 / 91, 153 / 123.
  auto rows = [&](auto group) {
    constexpr int kU = decltype(group)::value;
    parallel_for(p.N * p.OH, grain_for(p.OW * C * RS), [&](int64_t i0, int64_t i1) {
      constexpr int64_t kMaxR = 64;  // p.R at most
      const T* rowp[kMaxR];
      int64_t rr[kMaxR];
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t n = i / p.OH, oh = i % p.OH;
        T* yr = y + i * p.OW * C;
        int64_t nr = 0;  // the kernel rows inside the input: their index and input row
        for (int64_t r = 0; r < p.R; ++r) {
          const int64_t ih = oh * p.sh - p.pt + r * p.dh;
          if (ih < 0 || ih >= p.H) continue;
          rowp[nr] = x + (n * p.H + ih) * p.W * C;
          rr[nr++] = r;
        }
        // the input rows the next output row of this image reads and this one does not
        const T* pf[2];
        int64_t npf = 0;
        if (oh + 1 < p.OH)
          for (int64_t j = 0; j < imin(2, imin(p.sh, p.R)); ++j) {
            const int64_t ih = (oh + 1) * p.sh - p.pt + (p.R - 1) * p.dh - j;
            if (ih >= 0 && ih < p.H) pf[npf++] = x + (n * p.H + ih) * p.W * C;
          }
        if (kU == 4 && p.OW < kNhwcSplitMaxOW)
          nhwc_row_split4(p, rowp, rr, nr, wall, olo, ohi, actp, yr, pf, npf, nt);
        else
          nhwc_row<V, T, kU>(p, rowp, rr, nr, wall, olo, ohi, actp, yr, pf, npf, nt);
      }
      if (nt) simd::stream_fence();
    });
  };
  if (p.sw == 1)
    rows(std::integral_constant<int, 8>());
  else
    rows(std::integral_constant<int, 4>());
  return true;
}

// ---- a 1×1 expansion fused into the channel-blocked forward --------------------------------
// Inference of MobileNet's inverted residual block (fastdl.optimize_for_inference):
//   e[n, k, h, w] = act1(b1[k] + Σ_{c<Ci} w1[k, c] · x[n, c, h, w])     (1×1, Ci → C channels)
//   y = act2(the depthwise convolution p of e with w2, b2)                 (K = C)
// per (image, block of L expanded channels): the expansion is computed straight into the
// zero-padded [Hp][Wp][L] buffer the depthwise taps read (lanes = channels, the layout of
// blocked_forward), so e (4.8 MB for MobileNetV2's 16→96 at 112²) is never written to memory
// and read back; only the input pixels some output reads are computed (xin >= 0).
// expand: 8 pixels × L channels per step, per input channel one weight vector and 8
// broadcast inputs; out[off[i]] = act(bias + Σ_c wv[c] · x[c·cs + i·ps]) for the HW pixels
// (NCHW: cs = HW, ps = 1; channels last: cs = 1, ps = Ci).
template <class V, class T>
void expand_pixels(const T* x, int64_t HW, int64_t Ci, int64_t cs, int64_t ps, const V* wv,
                   V bias, const V* act, const int32_t* off, T* out) {
  constexpr int U = 8;
  int64_t i = 0;
  for (; i < HW; i += U) {
    const int64_t cnt = imin(U, HW - i);
    V a[U];
    for (int u = 0; u < U; ++u) a[u] = bias;
    const T* xc = x + i * ps;
    if (cnt == U) {
      for (int64_t c = 0; c < Ci; ++c, xc += cs) {
        const V w = wv[c];
        for (int u = 0; u < U; ++u) a[u] = simd::fma(w, V(xc[u * ps]), a[u]);
      }
    } else {
      for (int64_t c = 0; c < Ci; ++c, xc += cs)
        for (int u = 0; u < cnt; ++u) a[u] = simd::fma(wv[c], V(xc[u * ps]), a[u]);
    }
    if (act)
      for (int u = 0; u < U; ++u) a[u] = simd::min(act[1], simd::max(act[0], a[u]));
    for (int u = 0; u < cnt; ++u)
      if (off[i + u] >= 0) a[u].store(out + off[i + u]);
  }
}

// Whether blocked_pwdw_forward takes p (the depthwise part, one output channel per channel)
// with Ci input channels: up to kPwdwMaxCi. Measured, batch 1, 1 thread, ms two calls (the
// 1×1 on the GEMM) / fused, operands in cache: 16→96 112² s2 0.83 / 0.61, 24→144 56² 0.49 /
// 0.41, 64→384 14² 0.150 / 0.141; 96→576 14² 0.286 / 0.285 and 160→960 7² 0.19 / 0.26 (each
// expansion vector is Ci FMAs on broadcast inputs, a GEMM tile reuses them: deep inputs favour
// the GEMM). Batch 16, 16→96 112² s2: 20.4 / 10.3.
constexpr int64_t kPwdwMaxCi = 64;
template <class V>
bool blocked_pwdw_ok(const Conv2dParams& p, int64_t Ci) {
  return blocked_ok<V>(p) && p.K == p.C && Ci > 0 && Ci <= kPwdwMaxCi;
}

// nhwc: x (N, H, W, Ci) and y (N, OH, OW, C) channels-last (the expansion reads each pixel's
// Ci inputs contiguously; full blocks are stored straight into y).
template <class V, class T>
bool blocked_pwdw_forward(const Conv2dParams& p, int64_t Ci, const T* x, const T* w1,
                          const T* b1, Act a1, const T* w2, const T* b2, Act a2, T* y,
                          bool nhwc = false) {
  if (!blocked_pwdw_ok<V>(p, Ci)) return false;
  constexpr int L = V::N;
  const int64_t HW = p.H * p.W, OHW = p.OH * p.OW, RS = p.R * p.S;
  const Blocked g(p, L, false);
  // per block: [Ci expansion weights][its bias][RS depthwise weights][its bias]
  const int64_t nv = Ci + RS + 2;
  PoolBuf wbuf(sizeof(V) * static_cast<size_t>(g.nb * nv));
  V* wall = wbuf.as<V>();
  parallel_for(g.nb, grain_for(nv * L), [&](int64_t b0, int64_t bn) {
    for (int64_t cb = b0; cb < bn; ++cb) {
      const int64_t c0 = cb * L, nc = imin(L, p.C - c0);
      V* wv = wall + cb * nv;
      for (int64_t c = 0; c < Ci; ++c) wv[c] = lanes<V>(w1 + c0 * Ci + c, Ci, nc);
      wv[Ci] = lanes<V>(b1 ? b1 + c0 : nullptr, 1, nc);
      for (int64_t t = 0; t < RS; ++t) wv[Ci + 1 + t] = lanes<V>(w2 + c0 * RS + t, RS, nc);
      wv[Ci + 1 + RS] = lanes<V>(b2 ? b2 + c0 : nullptr, 1, nc);
    }
  });
  const size_t xb_bytes = sizeof(T) * static_cast<size_t>(g.Hp * g.Wp * L);
  const size_t yb_bytes = sizeof(T) * static_cast<size_t>(OHW * L);
  const V act1[2] = {V(static_cast<T>(a1.lo)), V(static_cast<T>(a1.hi))};
  const V act2[2] = {V(static_cast<T>(a2.lo)), V(static_cast<T>(a2.hi))};
  parallel_for(p.N * g.nb, 1, [&](int64_t i0, int64_t i1) {
    T* xb = static_cast<T*>(thread_scratch(xb_bytes, kScratchConvPad));
    T* yb = static_cast<T*>(thread_scratch(yb_bytes, kScratchConvDyT));
    zero_margins(xb, g.Hp, g.Wp, L, p.pt, p.pt + p.H, p.pl, p.pl + p.W);
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t n = i / g.nb, cb = i % g.nb, c0 = cb * L, nc = imin(L, p.C - c0);
      const V* wv = wall + cb * nv;
      expand_pixels(x + n * Ci * HW, HW, Ci, nhwc ? 1 : HW, nhwc ? Ci : 1, wv, wv[Ci],
                    a1.on() ? act1 : nullptr, g.xin, xb);
      if (nhwc) {
        T* yn = y + n * OHW * p.K + c0;
        const bool full = nc == L;
        run_taps(xb, g.xpix, OHW, g.tap, wv + Ci + 1, RS, wv[Ci + 1 + RS], full ? yn : yb,
                 a2.on() ? act2 : nullptr, full ? p.K : L);
        if (!full) rows_out<V>(yb, OHW, nc, yn, p.K);
        continue;
      }
      run_taps(xb, g.xpix, OHW, g.tap, wv + Ci + 1, RS, wv[Ci + 1 + RS], yb,
               a2.on() ? act2 : nullptr);
      transpose_out<V>(yb, OHW, nc, y + (n * p.K + c0) * OHW, OHW);
    }
  });
  return true;
}

// ---- channel-blocked gradients -------------------------------------------------------------
// nhwc: x, dx (N, H, W, C) and dy (N, OH, OW, K) channels-last, K = C (as blocked_forward).
template <class V, class T>
bool blocked_backward(const Conv2dParams& p, const T* x, const T* w, const T* dy, T* dx,
                      T* dw, bool nhwc = false) {
  if (!blocked_ok<V>(p) || (nhwc && p.K != p.C)) return false;
  constexpr int L = V::N;
  const int64_t m = p.K / p.C, HW = p.H * p.W, OHW = p.OH * p.OW, RS = p.R * p.S;
  const Blocked g(p, L, true);
  const int64_t dz_size = g.Dh * g.Dw * L;
  const size_t xb_bytes = sizeof(T) * static_cast<size_t>(g.Hp * g.Wp * L);
  const size_t dz_bytes = sizeof(T) * static_cast<size_t>(m * dz_size);
  const size_t dxb_bytes = sizeof(T) * static_cast<size_t>(HW * L);
  // weight vectors [j][t], the phase's tap weights and offsets, dW accumulators [j][t]
  const size_t wv_bytes = sizeof(T) * static_cast<size_t>((3 * m * RS + 1) * L) +
                          sizeof(int32_t) * static_cast<size_t>(m * RS) + 64;
  auto block = [&](int64_t cb, int64_t n0, int64_t n1) {
    T* xb = static_cast<T*>(thread_scratch(xb_bytes, kScratchConvPad));
    T* dz = static_cast<T*>(thread_scratch(dz_bytes, kScratchConvDyT));
    T* dxb = static_cast<T*>(thread_scratch(dxb_bytes, kScratchConvGCol));
    V* wv = static_cast<V*>(thread_scratch(wv_bytes, kScratchConvCol));
    V* pw = wv + m * RS;
    V* acc = pw + m * RS;
    int32_t* po = reinterpret_cast<int32_t*>(acc + m * RS);
    if (dw) zero_margins(xb, g.Hp, g.Wp, L, p.pt, p.pt + p.H, p.pl, p.pl + p.W);
    for (int64_t j = 0; j < m; ++j)
      zero_margins(dz + j * dz_size, g.Dh, g.Dw, L, -g.oh0, p.OH - g.oh0, -g.ow0, p.OW - g.ow0);
    const int64_t c0 = cb * L, nc = imin(L, p.C - c0);
    alignas(64) T lane[L];
    for (int64_t j = 0; j < m; ++j)
      for (int64_t t = 0; t < RS; ++t) {
        wv[j * RS + t] = lanes<V>(w + (c0 * m + j) * RS + t, m * RS, nc);
        acc[j * RS + t] = V(T(0));
      }
    for (int64_t n = n0; n < n1; ++n) {
      if (nhwc)  // m = 1
        rows_in<V>(dy + n * OHW * p.K + c0, p.K, nc, OHW, g.dyin, dz);
      else
        for (int64_t j = 0; j < m; ++j)
          transpose_in<V>(dy + (n * p.K + c0 * m + j) * OHW, m * OHW, nc, OHW, g.dyin,
                          dz + j * dz_size);
      if (dw) {
        if (nhwc)
          rows_in<V>(x + n * HW * p.C + c0, p.C, nc, HW, g.xin, xb);
        else
          transpose_in<V>(x + (n * p.C + c0) * HW, HW, nc, HW, g.xin, xb);
        for (int64_t j = 0; j < m; ++j)
          wgrad(xb, dz + j * dz_size, g.w_x, g.w_dy, g.nw, g.tap, RS, acc + j * RS);
      }
      if (dx) {
        // the gradient's pixels go to dxb in the lane layout, or (channels last, a full
        // block) straight into dx: pixel i at dst + i·ds
        const bool direct = nhwc && nc == L;
        T* dst = direct ? dx + n * HW * p.C + c0 : dxb;
        const int64_t ds = direct ? p.C : L;
        for (int64_t q = 0; q < g.nph; ++q) {
          // the phase's taps over every j: dz offset and weight vector
          int64_t nt = 0;
          for (int64_t j = 0; j < m; ++j)
            for (int64_t e = g.ph_tap0[q]; e < g.ph_tap0[q + 1]; ++e) {
              po[nt] = static_cast<int32_t>(g.ph_tapo[e] + j * dz_size);
              pw[nt++] = wv[j * RS + g.ph_tapt[e]];
            }
          const int64_t pix0 = g.ph_pix0[q], np = g.ph_pix0[q + 1] - pix0;
          if (g.nph == 1) {  // pixels in order: straight into dst
            run_taps(dz, g.ph_off, np, po, pw, nt, V(T(0)), dst, static_cast<const V*>(nullptr),
                     ds);
          } else {  // through a stack buffer to the phase's pixels
            for (int64_t i = 0; i < np; i += 64) {
              alignas(64) T part[64 * L];
              const int64_t cnt = imin(64, np - i);
              run_taps(dz, g.ph_off + pix0 + i, cnt, po, pw, nt, V(T(0)), part);
              for (int64_t u = 0; u < cnt; ++u)
                V::load(part + u * L).store(dst + g.ph_pix[pix0 + i + u] * ds);
            }
          }
        }
        if (nhwc) {
          if (!direct) rows_out<V>(dxb, HW, nc, dx + n * HW * p.C + c0, p.C);
        } else {
          transpose_out<V>(dxb, HW, nc, dx + (n * p.C + c0) * HW, HW);
        }
      }
    }
    if (dw)
      for (int64_t j = 0; j < m; ++j)
        for (int64_t t = 0; t < RS; ++t) {
          acc[j * RS + t].store(lane);
          for (int64_t l = 0; l < nc; ++l) dw[((c0 + l) * m + j) * RS + t] = lane[l];
        }
  };
  if (dw) {
    parallel_for(g.nb, 1, [&](int64_t b0, int64_t b1) {
      for (int64_t cb = b0; cb < b1; ++cb) block(cb, 0, p.N);
    });
  } else {
    parallel_for(p.N * g.nb, 1, [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) block(i % g.nb, i / g.nb, i / g.nb + 1);
    });
  }
  return true;
}

// ---- plane loops ---------------------------------------------------------------------------
template <class T>
void forward_plane(const Conv2dParams& p, const T* xp, const T* wk, T bias, T* yp) {
  const int64_t OW = p.OW;
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    T* yr = yp + oh * OW;
    fill(yr, OW, bias);
    for (int64_t r = 0; r < p.R; ++r) {
      const int64_t ih = oh * p.sh - p.pt + r * p.dh;
      if (ih < 0 || ih >= p.H) continue;
      const T* xr = xp + ih * p.W;
      for (int64_t s = 0; s < p.S; ++s) {
        const int64_t off = s * p.dw - p.pl;
        int64_t lo, hi;
        valid_range(off, p.sw, p.W, OW, lo, hi);
        const T wv = wk[r * p.S + s];
        if (p.sw == 1) {
          const T* xs = xr + off;
          for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += wv * xs[ow];
        } else {
          const int64_t sw = p.sw;
          for (int64_t ow = lo; ow < hi; ++ow) yr[ow] += wv * xr[ow * sw + off];
        }
      }
    }
  }
}

// dx plane += the transposed convolution of one dy plane.
template <class T>
void backward_input_plane(const Conv2dParams& p, const T* dyp, const T* wk, T* dxp) {
  const int64_t OW = p.OW;
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    const T* dyr = dyp + oh * OW;
    for (int64_t r = 0; r < p.R; ++r) {
      const int64_t ih = oh * p.sh - p.pt + r * p.dh;
      if (ih < 0 || ih >= p.H) continue;
      T* xr = dxp + ih * p.W;
      for (int64_t s = 0; s < p.S; ++s) {
        const int64_t off = s * p.dw - p.pl;
        int64_t lo, hi;
        valid_range(off, p.sw, p.W, OW, lo, hi);
        const T wv = wk[r * p.S + s];
        if (p.sw == 1) {
          T* xs = xr + off;
          for (int64_t ow = lo; ow < hi; ++ow) xs[ow] += wv * dyr[ow];
        } else {
          const int64_t sw = p.sw;
          for (int64_t ow = lo; ow < hi; ++ow) xr[ow * sw + off] += wv * dyr[ow];
        }
      }
    }
  }
}

// Dot product with 8 independent partial sums combined in a fixed order.
template <class T>
inline T dot_strided(const T* a, const T* b, int64_t stride_b, int64_t n) {
  T acc[8] = {T(0), T(0), T(0), T(0), T(0), T(0), T(0), T(0)};
  int64_t i = 0;
  if (stride_b == 1) {
    for (; i + 8 <= n; i += 8)
      for (int j = 0; j < 8; ++j) acc[j] += a[i + j] * b[i + j];
  }
  for (; i < n; ++i) acc[0] += a[i] * b[i * stride_b];
  return ((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]));
}

// dw[k, r, s] += sum over one image's plane.
template <class T>
void backward_weight_plane(const Conv2dParams& p, const T* xp, const T* dyp, T* dwk) {
  const int64_t OW = p.OW;
  for (int64_t r = 0; r < p.R; ++r) {
    int64_t oh_lo, oh_hi;
    valid_range(r * p.dh - p.pt, p.sh, p.H, p.OH, oh_lo, oh_hi);
    for (int64_t s = 0; s < p.S; ++s) {
      const int64_t off = s * p.dw - p.pl;
      int64_t lo, hi;
      valid_range(off, p.sw, p.W, OW, lo, hi);
      T acc = T(0);
      for (int64_t oh = oh_lo; oh < oh_hi; ++oh) {
        const T* xr = xp + (oh * p.sh - p.pt + r * p.dh) * p.W + off;
        acc += dot_strided(dyp + oh * OW + lo, xr + lo * p.sw, p.sw, hi - lo);
      }
      dwk[r * p.S + s] += acc;
    }
  }
}

template <class T>
void forward_loops(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y) {
  const int64_t m = p.K / p.C, HW = p.H * p.W, OHW = p.OH * p.OW, RS = p.R * p.S;
  parallel_for(p.N * p.K, 4, [&](int64_t b0, int64_t b1) {
    for (int64_t i = b0; i < b1; ++i) {
      const int64_t n = i / p.K, k = i % p.K, c = k / m;
      forward_plane(p, x + (n * p.C + c) * HW, w + k * RS, b ? b[k] : T(0), y + i * OHW);
    }
  });
}

template <class T>
void backward_loops(const Conv2dParams& p, const T* x, const T* w, const T* dy, T* dx, T* dw) {
  const int64_t m = p.K / p.C, HW = p.H * p.W, OHW = p.OH * p.OW, RS = p.R * p.S;
  if (dx) {
    parallel_for(p.N * p.C, 4, [&](int64_t b0, int64_t b1) {
      for (int64_t i = b0; i < b1; ++i) {
        const int64_t n = i / p.C, c = i % p.C;
        T* dxp = dx + i * HW;
        fill(dxp, HW, T(0));
        for (int64_t j = 0; j < m; ++j) {
          const int64_t k = c * m + j;
          backward_input_plane(p, dy + (n * p.K + k) * OHW, w + k * RS, dxp);
        }
      }
    });
  }
  if (dw) {
    parallel_for(p.K, 1, [&](int64_t k0, int64_t k1) {
      for (int64_t k = k0; k < k1; ++k) {
        T* dwk = dw + k * RS;
        fill(dwk, RS, T(0));
        const int64_t c = k / m;
        for (int64_t n = 0; n < p.N; ++n)
          backward_weight_plane(p, x + (n * p.C + c) * HW, dy + (n * p.K + k) * OHW, dwk);
      }
    });
  }
}

}  // namespace depthwise
}  // namespace
}  // namespace FASTDL_SIMD_ISA
}  // namespace conv
}  // namespace fastdl
