// Pooling compiled for AVX-512: the shared loops of pool_impl.h (vectorised by the compiler
// for this ISA) plus hand-vectorised float32 forward kernels for max and average pooling.
//
// Both run 16 outputs of a row at a time: for each tap (row a, column b) the 16 input values
// x[h][ow·sw + b·dw − pw] come from one unaligned load (stride 1), two loads and a permute
// (stride 2) or a gather. Max pooling covers every column this way (per-lane validity masks
// at the borders, four 16-output chunks interleaved) and keeps PyTorch's rule per lane
// (update when v > m or v is NaN, so the first maximum and the last NaN win, in the scalar
// order) with int32 indices widened to int64 on store; average pooling runs the columns whose
// window lies inside the input ("interior"), summing the taps in the scalar order and dividing
// by the row's divisor, its border columns on the scalar code of pool_impl.h. Every output is
// computed exactly as on the generic path.
#include "common/allocator.h"  // PoolBuf
#include "kernels/pool/pool_impl.h"  // the shared loops and the table; declares the kernels below

namespace fastdl {
namespace pool {
namespace FASTDL_SIMD_ISA {  // avx512
namespace {

using simd::lane_mask;  // common/simd.h

// The even lanes of the 32 values lo:hi (a stride-2 row's 16 taps from two loads).
inline __m512 even_lanes(__m512 lo, __m512 hi) {
  const __m512i even = _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4,
                                        2, 0);
  return _mm512_permutex2var_ps(lo, even, hi);
}

// 16 values row[(ow0 + l)·sw + off], l < 16: lanes outside `mk` are 0 and not read, or,
// when `whole` (the plane holds every value the plain loads touch), whatever lies there.
inline __m512 load_strided(const float* row, int64_t ow0, int64_t sw, int64_t off,
                           __mmask16 mk, __m512i lane_sw, bool whole) {
  if (whole && sw <= 2) {  // the plane holds all 16 or 32 values: plain loads (max_load)
    if (sw == 1) return _mm512_loadu_ps(row + ow0 + off);
    const float* q = row + 2 * ow0 + off;
    return even_lanes(_mm512_loadu_ps(q), _mm512_loadu_ps(q + 16));
  }
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
    return even_lanes(lo, hi);
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

// One (16-output chunk, column tap) of a max-pooling row: the chunk's outputs ow0 + l read
// input column off + l·sw at this tap. valid: the lanes whose column lies in [0, W) (and
// l < the chunk's width); lo / hi (stride 2): the lanes of the 32 values x[off .. off + 32)
// to load (valid columns only, so nothing outside the row is read), compacted to the even
// ones by a permute.
struct MaxTap {
  int32_t off;
  __mmask16 valid, lo, hi;
};

// Per call: the column taps of every chunk (chunk-major), the same for every row and plane,
// in `buf` (pool memory, not a std:: container: this file is compiled for AVX-512 only).
struct MaxCols {
  const MaxTap* tap;
  int64_t nch;
};

inline MaxCols max_cols(const Pool2dParams& p, const PoolBuf& buf) {
  MaxCols t;
  t.nch = (p.OW + 15) / 16;
  MaxTap* tap = buf.as<MaxTap>();
  t.tap = tap;
  for (int64_t q = 0; q < t.nch; ++q) {
    const int64_t ow0 = 16 * q, n = imin(16, p.OW - ow0);
    for (int64_t b = 0; b < p.kw; ++b) {
      MaxTap& e = tap[q * p.kw + b];
      const int64_t off = ow0 * p.sw + b * p.dw - p.pw;
      e.off = static_cast<int32_t>(off);
      uint32_t valid = 0, wide = 0;
      for (int64_t l = 0; l < n; ++l) {
        const int64_t col = off + l * p.sw;
        if (col >= 0 && col < p.W) {
          valid |= 1u << l;
          if (p.sw == 2) wide |= 1u << (2 * l);
        }
      }
      e.valid = static_cast<__mmask16>(valid);
      e.lo = static_cast<__mmask16>(wide & 0xFFFF);
      e.hi = static_cast<__mmask16>(wide >> 16);
    }
  }
  return t;
}

// The 16 values of tap e in `row` (x[row][off + l·sw]; lanes outside `mk` are −inf or, when
// `whole`, whatever lies there). whole: the plane holds every value the unmasked loads touch
// (16 or 32 from the tap's first column on), so they run unmasked -- masked loads that miss
// the cache run at half the speed of plain ones on Zen 5 (a 3×3 stride-2 pass over 25 MB:
// 4.6 against 2.1 µs per 112×112 plane), and the lanes they add beyond the row are never
// taken (the caller's update mask is within e.valid).
inline __m512 max_load(const float* row, const MaxTap& e, __mmask16 mk, int64_t sw,
                       __m512i lane_sw, __m512 ninf, bool whole) {
  if (sw == 1)
    return whole ? _mm512_loadu_ps(row + e.off) : _mm512_mask_loadu_ps(ninf, mk, row + e.off);
  if (sw == 2) {
    const __m512 lo = whole ? _mm512_loadu_ps(row + e.off)
                            : _mm512_mask_loadu_ps(ninf, e.lo, row + e.off);
    const __m512 hi = whole ? _mm512_loadu_ps(row + e.off + 16)
                            : _mm512_mask_loadu_ps(ninf, e.hi, row + e.off + 16);
    return even_lanes(lo, hi);
  }
  return _mm512_mask_i32gather_ps(ninf, mk, lane_sw, row + e.off, 4);
}

// U chunks q0 .. q0+U of output row oh, their taps interleaved (U independent compare-blend
// chains: one chain alone waits on each compare's latency). Per lane the taps run in the
// scalar order (rows, then columns) with PyTorch's rule: a lane takes a tap's value when it is
// its first valid tap, the value is greater, or it is NaN (so the first maximum and the last
// NaN win), the index (int32, widened on store) with it. rest[u]: chunk u's lanes that had no
// valid tap (left to the caller's scalar path).
template <int U>
inline void max_chunks(const Pool2dParams& p, const MaxCols& cols, int64_t oh, int64_t a0,
                       int64_t a1, int64_t q0, const float* x, float* y, int64_t* idx,
                       __mmask16* rest) {
  const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  const __m512i lane_sw = _mm512_mullo_epi32(lane, _mm512_set1_epi32(static_cast<int>(p.sw)));
  const __m512 ninf = _mm512_set1_ps(-__builtin_huge_valf());
  const int64_t kw = p.kw, sw = p.sw, hs = oh * p.sh - p.ph, HW = p.H * p.W;
  const int64_t span = sw == 1 ? 16 : sw == 2 ? 32 : int64_t(1) << 40;  // (gathers: masked)
  __m512 m[U];
  __m512i mi[U];
  __mmask16 seen[U];
  const MaxTap* tq[U];
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u) {
    m[u] = ninf;
    mi[u] = _mm512_setzero_si512();
    seen[u] = 0;
    tq[u] = cols.tap + (q0 + u) * kw;
  }
  for (int64_t a = a0; a < a1; ++a) {
    const int64_t h = hs + a * p.dh;
    const float* row = x + h * p.W;
    const int64_t hw = h * p.W;
    const __m512i hwv = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(hw)), lane_sw);
    for (int64_t b = 0; b < kw; ++b) {
#pragma GCC unroll 4  // m, mi and seen stay in registers (a loop keeps them in memory)
      for (int u = 0; u < U; ++u) {
        const MaxTap& e = tq[u][b];
        const bool whole = hw + e.off >= 0 && hw + e.off + span <= HW;
        const __m512 v = max_load(row, e, e.valid, sw, lane_sw, ninf, whole);
        const __mmask16 upd = static_cast<__mmask16>(
            (_mm512_cmp_ps_mask(v, m[u], _CMP_GT_OQ) | _mm512_cmp_ps_mask(v, v, _CMP_UNORD_Q) |
             static_cast<__mmask16>(~seen[u])) & e.valid);
        m[u] = _mm512_mask_blend_ps(upd, m[u], v);
        mi[u] = _mm512_mask_add_epi32(mi[u], upd, hwv, _mm512_set1_epi32(e.off));
        seen[u] = static_cast<__mmask16>(seen[u] | e.valid);
      }
    }
  }
#pragma GCC unroll 4
  for (int u = 0; u < U; ++u) {
    const int64_t ow0 = 16 * (q0 + u);
    const __mmask16 full = lane_mask(p.OW - ow0), done = static_cast<__mmask16>(seen[u] & full);
    int64_t* ip = idx ? idx + oh * p.OW + ow0 : nullptr;
    const __m512i i0 = _mm512_cvtepi32_epi64(_mm512_castsi512_si256(mi[u]));
    const __m512i i1 = _mm512_cvtepi32_epi64(_mm512_extracti64x4_epi64(mi[u], 1));
    if (done == 0xFFFF) {  // (plain stores: masked ones cost more, as masked loads do)
      _mm512_storeu_ps(y + oh * p.OW + ow0, m[u]);
      if (ip) {
        _mm512_storeu_si512(ip, i0);
        _mm512_storeu_si512(ip + 8, i1);
      }
    } else {
      _mm512_mask_storeu_ps(y + oh * p.OW + ow0, done, m[u]);
      if (ip) {
        _mm512_mask_storeu_epi64(ip, static_cast<__mmask8>(done & 0xFF), i0);
        _mm512_mask_storeu_epi64(ip + 8, static_cast<__mmask8>(done >> 8), i1);
      }
    }
    rest[u] = static_cast<__mmask16>(full & ~done);
  }
}

// One plane: per output row the window rows inside the input, [a0, a1), from the caller's
// table, the row's chunks four at a time (max_chunks). A lane without any valid tap (a window
// wholly in the padding: only with an output size beyond pool_output_size) and rows without
// a tap row inside the input take the scalar path, so every output equals the generic code's.
void max_plane_fast(const Pool2dParams& p, const MaxCols& cols, const int32_t* rows,
                    const float* x, float* y, int64_t* idx) {
  auto scalar = [&](int64_t oh, int64_t ow) {
    Pool2dParams r = p;  // output (oh, ow) as the only output of a shifted window
    r.OH = 1;
    r.OW = 1;
    r.ph = p.ph - oh * p.sh;
    r.pw = p.pw - ow * p.sw;
    max_plane(r, x, y + oh * p.OW + ow, idx ? idx + oh * p.OW + ow : nullptr);
  };
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    const int64_t a0 = rows[2 * oh], a1 = rows[2 * oh + 1];
    if (a0 >= a1) {
      for (int64_t ow = 0; ow < p.OW; ++ow) scalar(oh, ow);
      continue;
    }
    for (int64_t q = 0; q < cols.nch; q += 4) {
      __mmask16 rest[4] = {0, 0, 0, 0};
      const int64_t u = cols.nch - q < 4 ? cols.nch - q : 4;
      if (u == 4) max_chunks<4>(p, cols, oh, a0, a1, q, x, y, idx, rest);
      else if (u == 3) max_chunks<3>(p, cols, oh, a0, a1, q, x, y, idx, rest);
      else if (u == 2) max_chunks<2>(p, cols, oh, a0, a1, q, x, y, idx, rest);
      else max_chunks<1>(p, cols, oh, a0, a1, q, x, y, idx, rest);
      for (int64_t v = 0; v < u; ++v)
        for (uint32_t r = rest[v]; r; r &= r - 1) scalar(oh, 16 * (q + v) + __builtin_ctz(r));
    }
  }
}

void max_fwd_fast(const Pool2dParams& p, const float* x, float* y, int64_t* idx) {
  const int64_t HW = p.H * p.W, OHW = p.OH * p.OW;
  // int32 lanes: every index and column offset below 2^31
  if (HW >= (int64_t(1) << 31) - 64 || p.OW * p.sw + p.kw * p.dw >= (int64_t(1) << 31) - 64)
    return max_fwd<float>(p, x, y, idx);
  const PoolBuf tapb(sizeof(MaxTap) * static_cast<size_t>((p.OW + 15) / 16 * p.kw));
  const MaxCols cols = max_cols(p, tapb);
  const PoolBuf rowb(sizeof(int32_t) * static_cast<size_t>(2 * p.OH));
  int32_t* rows = rowb.as<int32_t>();  // [a0, a1) per output row
  for (int64_t oh = 0; oh < p.OH; ++oh) {
    int64_t a0, a1;
    tap_range(oh * p.sh - p.ph, p.dh, p.kh, p.H, a0, a1);
    rows[2 * oh] = static_cast<int32_t>(a0);
    rows[2 * oh + 1] = static_cast<int32_t>(a1);
  }
  parallel_for(p.NC, kPlaneGrain, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c)
      max_plane_fast(p, cols, rows, x + c * HW, y + c * OHW, idx ? idx + c * OHW : nullptr);
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
            for (int64_t b = 0; b < p.kw; ++b) {
              const int64_t at = h * p.W + ow0 * p.sw + b - p.pw;  // lane 0's column
              const bool whole = at >= 0 && at + 16 * p.sw <= p.H * p.W;
              s = _mm512_add_ps(s, load_strided(row, ow0, p.sw, b - p.pw, mk, lane_sw, whole));
            }
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
