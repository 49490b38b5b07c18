// Direct float32 convolution for strides > 1 (AVX-512), after the stride-1 direct kernel of
// conv_avx512.cpp. Included by conv_avx512.cpp (at file scope, after its stride-1 kernels: it
// uses choose's cost model idea, pack_weights and the weight-gradient tiles from there), in the
// ISA's namespace.
//
// Shifted planes. Per input channel and per row phase a < min(sh, R) and column tap s < S,
//   X_as[i][ow] = x[sh·i + a − pt][sw·ow + s − pl]   (0 outside x),  i < OH + (R−1)/sh,
// a plane whose row pitch is the output width. Tap (r, s) of output pixel P = oh·OW + ow then
// reads X_{r % sh, s}[P + (r / sh)·OW]: every tap is a contiguous run of flattened output
// pixels, so the micro-kernel (ukr_flat: MR output channels × 16·NV flattened pixels in zmm
// accumulators, broadcast weights) loads full vectors whatever OW is (an 8×8 output map fills
// its lanes; row-wise it would use half of each vector). For a 3×3 kernel at stride 2 the
// planes hold 6 of the 9 im2col copies' worth ≈ 1.5× the input (im2col: 2.25×), built by one
// pass of permuting loads (even lanes of two vectors); no tap is computed twice.
// The weight gradient runs the stride-1 weight-gradient tiles (conv_avx512.cpp) on the same
// planes as one row of OH·OW pixels.
//
// Summation order per output element: channels, then taps in (r, s) order — fixed by the
// shape, never by the thread count (threads split images, or segments of one image).
#pragma once

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

// y[m][0 .. 16·NV) (m < mr; lanes by mask) = bias[m] + Σ_{c<C, t<T}
//   wp[(c·T + t)·MR + m] · xp[c·cplane + off[t] + lane]
// over a segment of flattened pixels (the planes' pitch is the output width).
// load: the accumulators start from y (a later block of channels continues the same sum, so
// the result is bitwise that of one pass over all channels); add_bias: the last block.
template <int MR, int NV>
void ukr_flat(int64_t C, int64_t T, const int64_t* off, const float* xp, int64_t cplane,
              const float* wp, float* y, int64_t ystride, int64_t mr, const __mmask16* mask,
              const float* bias, bool load) {
  __m512 acc[MR][NV];
#pragma GCC unroll 32
  for (int m = 0; m < MR; ++m)
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      acc[m][v] = load && m < mr ? _mm512_maskz_loadu_ps(mask[v], y + m * ystride + 16 * v)
                                 : _mm512_setzero_ps();
  for (int64_t c = 0; c < C; ++c) {
    const float* xc = xp + c * cplane;
    for (int64_t t = 0; t < T; ++t) {
      const float* row = xc + off[t];
      __m512 xv[NV];
#pragma GCC unroll 8
      for (int v = 0; v < NV; ++v) xv[v] = _mm512_maskz_loadu_ps(mask[v], row + 16 * v);
#pragma GCC unroll 32
      for (int m = 0; m < MR; ++m) {
        const __m512 wv = _mm512_set1_ps(wp[m]);
#pragma GCC unroll 8
        for (int v = 0; v < NV; ++v) acc[m][v] = _mm512_fmadd_ps(wv, xv[v], acc[m][v]);
      }
      wp += MR;
    }
  }
#pragma GCC unroll 32
  for (int m = 0; m < MR; ++m) {
    if (m >= mr) break;
#pragma GCC unroll 8
    for (int v = 0; v < NV; ++v)
      _mm512_mask_storeu_ps(y + m * ystride + 16 * v, mask[v],
                            bias ? _mm512_add_ps(acc[m][v], _mm512_set1_ps(bias[m]))
                                 : acc[m][v]);
  }
}

using FlatUkr = void (*)(int64_t, int64_t, const int64_t*, const float*, int64_t, const float*,
                         float*, int64_t, int64_t, const __mmask16*, const float*, bool);

struct FlatChoice {
  int mr, nv;
  FlatUkr fn;
};

// Register blocking for Kg output channels over npix flattened pixels: MR·NV <= 24
// accumulators; the cost counts the padded channels and pixels and the loads per FMA
// (1/MR + 1/NV). A function of the shape only.
FlatChoice choose_flat(int64_t Kg, int64_t npix) {
  static const int combos[][2] = {{24, 1}, {16, 1}, {12, 2}, {8, 2}, {8, 3}, {6, 3},
                                  {6, 4},  {4, 4},  {4, 2},  {6, 2}, {4, 3}, {12, 1}, {8, 1}};
  FlatChoice best{0, 0, nullptr};
  double best_cost = 1e300;
  for (const auto& mv : combos) {
    const int mr = mv[0], nv = mv[1];
    const double pk = static_cast<double>((Kg + mr - 1) / mr * mr);
    const double pp = static_cast<double>((npix + 16 * nv - 1) / (16 * nv) * 16 * nv);
    const double cost = pk * pp * (1.0 + 1.0 / mr + 1.0 / nv);
    if (cost < best_cost * (1 - 1e-9)) {
      best_cost = cost;
      best.mr = mr;
      best.nv = nv;
    }
  }
#define FASTDL_FLAT_CASE(M, V) \
  if (best.mr == M && best.nv == V) best.fn = ukr_flat<M, V>;
  FASTDL_FLAT_CASE(24, 1) FASTDL_FLAT_CASE(16, 1) FASTDL_FLAT_CASE(12, 1) FASTDL_FLAT_CASE(8, 1)
  FASTDL_FLAT_CASE(12, 2) FASTDL_FLAT_CASE(8, 2) FASTDL_FLAT_CASE(6, 2) FASTDL_FLAT_CASE(4, 2)
  FASTDL_FLAT_CASE(8, 3) FASTDL_FLAT_CASE(6, 3) FASTDL_FLAT_CASE(4, 3)
  FASTDL_FLAT_CASE(6, 4) FASTDL_FLAT_CASE(4, 4)
#undef FASTDL_FLAT_CASE
  return best;
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

// Channels per block of flat_segments. Blocking the channels so that a segment's input rows
// stay in L1 across the output-channel blocks (24 KB) measured no faster (one thread, the
// ResNet strided layers, within the noise), so one block of all channels.
inline int64_t channel_block(int64_t Cg) { return Cg; }

// Segments [sg0, sg1) (of 16·NV flattened pixels) of one image's npix outputs per channel,
// all groups: yn[k][P] from the planes xq (Cg channels of cplane per group); weights packed
// [g][kb][c][t][MR]. Channels in blocks of CB (cb outermost), each block continuing the
// accumulators of the previous one through y.
void flat_segments(const FlatChoice& ch, int64_t groups, int64_t Cg, int64_t Kg, int64_t T,
                   const int64_t* off, const float* xq, int64_t cplane, int64_t CB,
                   const float* wpk, const float* b, float* yn, int64_t npix, int64_t sg0,
                   int64_t sg1) {
  const int64_t MR = ch.mr, SEG = 16 * ch.nv;
  const int64_t nkb = (Kg + MR - 1) / MR, panel = Cg * T * MR;
  __mmask16 mask[4];
  for (int64_t g = 0; g < groups; ++g) {
    for (int64_t c0 = 0; c0 < Cg; c0 += CB) {
      const int64_t cb = imin(CB, Cg - c0);
      const bool first = c0 == 0, last = c0 + cb == Cg;
      const float* xg = xq + (g * Cg + c0) * cplane;
      for (int64_t sg = sg0; sg < sg1; ++sg) {
        const int64_t p0 = sg * SEG;
        for (int v = 0; v < 4; ++v) mask[v] = lane_mask(npix - p0 - 16 * v);
        for (int64_t kb = 0; kb < nkb; ++kb) {
          const int64_t k0 = g * Kg + kb * MR;
          ch.fn(cb, T, off, xg + p0, cplane, wpk + (g * nkb + kb) * panel + c0 * T * MR,
                yn + k0 * npix + p0, npix, imin(MR, Kg - kb * MR), mask,
                b && last ? b + k0 : nullptr, !first);
        }
      }
    }
  }
}

bool strided_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                     float* y) {
  if (!strided_ok(p)) return false;
  const int64_t Cg = p.C / p.groups, Kg = p.K / p.groups, T = p.R * p.S;
  const int64_t HW = p.H * p.W, OHW = p.OH * p.OW;
  const FlatChoice ch = choose_flat(Kg, OHW);
  if (!ch.fn) return false;
  const Planes q = planes_of(p);
  const int64_t nkb = (Kg + ch.mr - 1) / ch.mr, cplane = q.cplane();
  const int64_t nseg = (OHW + 16 * ch.nv - 1) / (16 * ch.nv);
  const int64_t CB = channel_block(Cg);
  PoolBuf wbuf(sizeof(float) * p.groups * nkb * Cg * T * ch.mr);
  float* wpk = static_cast<float*>(wbuf.p);
  pack_weights(w, p.K, Cg, p.R, p.S, p.groups, ch.mr, false, wpk);
  PoolBuf offb(sizeof(int64_t) * T);
  int64_t* off = static_cast<int64_t*>(offb.p);
  tap_offsets(p, q, off);
  // + 64 floats: a masked tail load may start past the last plane (lanes off)
  const size_t pad_bytes = sizeof(float) * static_cast<size_t>(p.C * cplane + 64);
  if (p.N == 1) {
    float* xq = static_cast<float*>(thread_scratch(pad_bytes, kPadSlot));
    plane_copy(x, p.C, p.H, p.W, p.sh, p.sw, p.pt, p.pl, q, xq);
    parallel_for(nseg, 1, [&](int64_t s0, int64_t s1) {
      flat_segments(ch, p.groups, Cg, Kg, T, off, xq, cplane, CB, wpk, b, y, OHW, s0, s1);
    });
    return true;
  }
  parallel_for(p.N, 1, [&](int64_t n0, int64_t n1) {
    float* xq = static_cast<float*>(thread_scratch(pad_bytes, kPadSlot));
    for (int64_t n = n0; n < n1; ++n) {
      plane_copy(x + n * p.C * HW, p.C, p.H, p.W, p.sh, p.sw, p.pt, p.pl, q, xq);
      flat_segments(ch, p.groups, Cg, Kg, T, off, xq, cplane, CB, wpk, b, y + n * p.K * OHW, OHW,
                    0, nseg);
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
