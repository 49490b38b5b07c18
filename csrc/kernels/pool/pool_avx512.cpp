// Pooling compiled for AVX-512: the shared loops of pool_impl.h (vectorised by the compiler
// for this ISA) plus hand-vectorised float32 forward kernels for max and average pooling.
//
// Per output row, the columns whose window lies entirely inside the input ("interior") run 16
// at a time: for each tap (row a, column b) the 16 input values x[h][ow·sw + b·dw − pw] come
// from one unaligned load (stride 1), two loads and a permute (stride 2) or a gather; max keeps
// PyTorch's rule per lane (update when v > m or v is NaN, so the first maximum and the last NaN
// win, in the scalar order) with int32 indices widened to int64 on store; average sums the
// taps in the scalar order and divides by the row's divisor. Border columns use the scalar
// code of pool_impl.h, so every output is computed exactly as on the generic path.
#include "kernels/pool/pool_impl.h"  // the shared loops and the table; declares the kernels below

namespace fastdl {
namespace pool {
namespace FASTDL_SIMD_ISA {  // avx512
namespace {

using simd::lane_mask;  // common/simd.h

// 16 values row[(ow0 + l)·sw + off], l < 16 (lanes outside `mk` are 0 and not read).
inline __m512 load_strided(const float* row, int64_t ow0, int64_t sw, int64_t off,
                           __mmask16 mk, __m512i lane_sw) {
  if (sw == 1) return _mm512_maskz_loadu_ps(mk, row + ow0 + off);
  if (sw == 2) {
    // the lanes wanted are the low n (mk comes from lane_mask): elements q[0 .. 2n-2], read
    // by two masked loads (nothing past them is touched: the 32nd element may lie past the
    // input) and compacted by one permute -- a gather here cost LeNet's 8- and 28-wide rows
    // several times more
    const float* q = row + 2 * ow0 + off;
    const int64_t need = 2 * static_cast<int64_t>(__builtin_popcount(mk)) - 1;
    const __m512 lo = _mm512_maskz_loadu_ps(lane_mask(need), q);
    const __m512 hi = _mm512_maskz_loadu_ps(lane_mask(need - 16), q + 16);
    const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6,
                                          4, 2, 0);
    return _mm512_permutex2var_ps(lo, even, hi);
  }
  return _mm512_mask_i32gather_ps(_mm512_setzero_ps(), mk, lane_sw, row + ow0 * sw + off, 4);
}

// Interior columns [lo, hi): every tap column inside [0, W).
inline void interior(const Pool2dParams& p, int64_t& lo, int64_t& hi) {
  lo = (p.pw + p.sw - 1) / p.sw;
  const int64_t last = p.W - 1 - (p.kw - 1) * p.dw + p.pw;  // ow·sw <= last
  hi = last < 0 ? 0 : last / p.sw + 1;
  lo = imin(lo, p.OW);
  hi = imax(lo, imin(hi, p.OW));
}

void max_plane_fast(const Pool2dParams& p, const float* x, float* y, int64_t* idx) {
  int64_t lo, hi;
  interior(p, lo, hi);
  const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i lane_sw = _mm512_mullo_epi32(lane, _mm512_set1_epi32(static_cast<int>(p.sw)));
  const __m512 ninf = _mm512_set1_ps(-__builtin_huge_valf());
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    const int64_t hs = oh * p.sh - p.ph;
    int64_t a0, a1;
    tap_range(hs, p.dh, p.kh, p.H, a0, a1);
    // border columns (and rows without any tap inside) on the scalar path
    auto scalar_cols = [&](int64_t c0, int64_t c1) {
      for (int64_t ow = c0; ow < c1; ++ow) {
        // one output: shift the window origin so max_plane computes output (oh, ow)
        Pool2dParams r = p;
        r.OH = 1;
        r.OW = 1;
        r.ph = p.ph - oh * p.sh;
        r.pw = p.pw - ow * p.sw;
        max_plane(r, x, y + oh * p.OW + ow, idx ? idx + oh * p.OW + ow : nullptr);
      }
    };
    if (a0 >= a1) {
      scalar_cols(0, p.OW);
      continue;
    }
    scalar_cols(0, lo);
    for (int64_t ow0 = lo; ow0 < hi; ow0 += 16) {
      const __mmask16 mk = lane_mask(hi - ow0);
      __m512 m = ninf;
      const int first = static_cast<int>((hs + a0 * p.dh) * p.W + ow0 * p.sw - p.pw);
      __m512i mi = _mm512_add_epi32(_mm512_set1_epi32(first), lane_sw);
      for (int64_t a = a0; a < a1; ++a) {
        const int64_t h = hs + a * p.dh;
        const float* row = x + h * p.W;
        for (int64_t b = 0; b < p.kw; ++b) {
          const int64_t off = b * p.dw - p.pw;
          const __m512 v = load_strided(row, ow0, p.sw, off, mk, lane_sw);
          const __mmask16 upd = _mm512_cmp_ps_mask(v, m, _CMP_GT_OQ) |
                                _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q);
          m = _mm512_mask_blend_ps(upd, m, v);
          const int cur = static_cast<int>(h * p.W + ow0 * p.sw + off);
          mi = _mm512_mask_blend_epi32(upd, mi, _mm512_add_epi32(_mm512_set1_epi32(cur),
                                                                 lane_sw));
        }
      }
      _mm512_mask_storeu_ps(y + oh * p.OW + ow0, mk, m);
      if (idx) {
        int64_t* ip = idx + oh * p.OW + ow0;
        const __m512i i0 = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(mi));
        const __m512i i1 = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(mi, 1));
        _mm512_mask_storeu_epi64(ip, static_cast<__mmask8>(mk & 0xFF), i0);
        _mm512_mask_storeu_epi64(ip + 8, static_cast<__mmask8>(mk >> 8), i1);
      }
    }
    scalar_cols(hi, p.OW);
  }
}

void max_fwd_fast(const Pool2dParams& p, const float* x, float* y, int64_t* idx) {
  const int64_t HW = p.H * p.W, OHW = p.OH * p.OW;
  if (HW >= (int64_t(1) << 31) - 64) return max_fwd<float>(p, x, y, idx);  // int32 lanes
  parallel_for(p.NC, kPlaneGrain, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      max_plane_fast(p, x + c * HW, y + c * OHW, idx ? idx + c * OHW : nullptr);
  });
}

void avg_plane_fast(const Pool2dParams& p, const float* x, float* y, bool cip, int64_t dov) {
  int64_t lo, hi;
  interior(p, lo, hi);
  const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i lane_sw = _mm512_mullo_epi32(lane, _mm512_set1_epi32(static_cast<int>(p.sw)));
  auto scalar = [&](int64_t oh, int64_t ow) {
    const AvgWin wdw = avg_window(p, oh, ow, cip, dov);
    float s = 0.0f;
    for (int64_t h = wdw.h0; h < wdw.h1; ++h)
      for (int64_t w = wdw.w0; w < wdw.w1; ++w) s += x[h * p.W + w];
    y[oh * p.OW + ow] = (wdw.h1 > wdw.h0 && wdw.w1 > wdw.w0 && wdw.div != 0)
                            ? s / static_cast<float>(wdw.div)
                            : 0.0f;
  };
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    for (int64_t ow = 0; ow < lo; ++ow) scalar(oh, ow);
    if (lo < hi) {
      const AvgWin wdw = avg_window(p, oh, lo, cip, dov);
      if (wdw.h1 <= wdw.h0 || wdw.div == 0) {
        for (int64_t ow = lo; ow < hi; ++ow) scalar(oh, ow);
      } else {
        const __m512 div = _mm512_set1_ps(static_cast<float>(wdw.div));
        for (int64_t ow0 = lo; ow0 < hi; ow0 += 16) {
          const __mmask16 mk = lane_mask(hi - ow0);
          __m512 s = _mm512_setzero_ps();
          for (int64_t h = wdw.h0; h < wdw.h1; ++h) {
            const float* row = x + h * p.W;
            for (int64_t b = 0; b < p.kw; ++b)
              s = _mm512_add_ps(s, load_strided(row, ow0, p.sw, b - p.pw, mk, lane_sw));
          }
          _mm512_mask_storeu_ps(y + oh * p.OW + ow0, mk, _mm512_div_ps(s, div));
        }
      }
    }
    for (int64_t ow = hi; ow < p.OW; ++ow) scalar(oh, ow);
  }
}

void avg_fwd_fast(const Pool2dParams& p, const float* x, float* y, bool cip, int64_t dov) {
  const int64_t HW = p.H * p.W, OHW = p.OH * p.OW;
  parallel_for(p.NC, kPlaneGrain, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) avg_plane_fast(p, x + c * HW, y + c * OHW, cip, dov);
  });
}

}  // namespace
}  // namespace FASTDL_SIMD_ISA
}  // namespace pool
}  // namespace fastdl
