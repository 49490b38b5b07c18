// The tensor-ops kernels (semantics in tensorops.h), written once on the simd:: vector types
// (common/simd.h) and compiled once per ISA: tensorops.cpp (generic), tensorops_avx2.cpp and
// tensorops_avx512.cpp include this file, which ends with that ISA's TensorOps table.
//
// Threading: parallel_for chunks depend only on the shape (about 64K elements of work each);
// no kernel reduces across chunks, so results are the same for any thread count.
//
// No std:: containers or algorithms here (their inline instances have vague linkage, and the
// linker may keep an AVX-512 copy for the generic build): buffers are pool memory (PoolBuf), and
// sorting and selection call the baseline helpers of tensorops.h (sort_values, select_k).
#pragma once
#include <atomic>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "common/allocator.h"
#include "common/parallel.h"
#include "common/simd.h"
#include "kernels/tensorops/tensorops.h"

namespace fastdl {
namespace tensorops {
namespace FASTDL_SIMD_ISA {
namespace {

// rows of (outer, ·, inner) per chunk: about 64K elements of work each
inline int64_t grain_rows(int64_t per_row) {
  const int64_t g = (int64_t(1) << 16) / (per_row > 0 ? per_row : 1);
  return g > 0 ? g : 1;
}

// ---------------------------------------------------------------------------------------
// gather: branch-free inner loop (an out-of-range index reads element 0 and is reported
// after the row), so the compiler may vectorise it with the ISA's gathers.

template <class T>
int64_t gather_k(const T* x, int64_t outer, int64_t n, int64_t inner, const int64_t* idx,
                 int64_t m, T* out) {
  std::atomic<int64_t> bad{-1};
  auto report = [&](int64_t pos) {  // keep the first bad position
    int64_t expect = -1;
    while (expect < 0 || pos < expect)
      if (bad.compare_exchange_weak(expect, pos)) break;
  };
  if (inner == 1) {  // along the last dimension: one flat loop per row
    parallel_for(outer, grain_rows(m), [&](int64_t ob, int64_t oe) {
      for (int64_t o = ob; o < oe; ++o) {
        const T* xo = x + o * n;
        const int64_t* io = idx + o * m;
        T* oo = out + o * m;
        uint64_t any_bad = 0;
        int64_t j = 0;
#if FASTDL_SIMD_LEVEL == 2
        // 8 indices per step: wrapped, range-checked and gathered under the in-range mask
        // (an out-of-range lane reads nothing and is reported after the row)
        const __m512i vn = _mm512_set1_epi64(n), vzero = _mm512_setzero_si512();
        __mmask8 ok_all = 0xFF;
        for (; j + 8 <= m; j += 8) {
          __m512i t = _mm512_loadu_si512(io + j);
          t = _mm512_mask_add_epi64(t, _mm512_cmplt_epi64_mask(t, vzero), t, vn);
          const __mmask8 ok = _mm512_cmplt_epu64_mask(t, vn);
          ok_all &= ok;
          if constexpr (std::is_same_v<T, float>)
            _mm256_storeu_ps(oo + j, _mm512_mask_i64gather_ps(_mm256_setzero_ps(), ok, t, xo, 4));
          else
            _mm512_storeu_pd(oo + j, _mm512_mask_i64gather_pd(_mm512_setzero_pd(), ok, t, xo, 8));
        }
        any_bad = ok_all != 0xFF;
#endif
        for (; j < m; ++j) {
          int64_t t = io[j];
          t += (t >> 63) & n;
          const uint64_t out_of_range = static_cast<uint64_t>(t) >= static_cast<uint64_t>(n);
          any_bad |= out_of_range;
          oo[j] = xo[out_of_range ? 0 : t];
        }
        if (any_bad) {
          for (int64_t j = 0; j < m; ++j)
            if (io[j] < -n || io[j] >= n) {
              report(o * m + j);
              return;
            }
        }
      }
    });
    return bad.load();
  }
  parallel_for(outer, grain_rows(m * inner), [&](int64_t ob, int64_t oe) {
    for (int64_t o = ob; o < oe; ++o) {
      const T* xo = x + o * n * inner;
      const int64_t base = o * m * inner;
      for (int64_t j = 0; j < m; ++j) {
        const int64_t* ij = idx + base + j * inner;
        T* oj = out + base + j * inner;
        uint64_t any_bad = 0;
        for (int64_t i = 0; i < inner; ++i) {
          int64_t t = ij[i];
          t += (t >> 63) & n;  // negative: from the end
          const uint64_t out_of_range = static_cast<uint64_t>(t) >= static_cast<uint64_t>(n);
          any_bad |= out_of_range;
          oj[i] = xo[(out_of_range ? 0 : t) * inner + i];
        }
        if (any_bad) {
          for (int64_t i = 0; i < inner; ++i) {
            const int64_t t = ij[i];
            if (t < -n || t >= n) {
              report(base + j * inner + i);
              return;
            }
          }
        }
      }
    }
  });
  return bad.load();
}

// ---------------------------------------------------------------------------------------
// cummax / cummin

template <class T, bool IS_MAX>
inline bool takes(T c, T p) {  // torch's rule: a NaN always, else a new (or tied) extremum
  return std::isnan(c) || (!std::isnan(p) && (IS_MAX ? c >= p : c <= p));
}

template <class T, bool IS_MAX>
void cumext_impl(const T* x, int64_t outer, int64_t n, int64_t inner, T* vals, int64_t* idx) {
  parallel_for(outer, grain_rows(n * inner), [&](int64_t ob, int64_t oe) {
    for (int64_t o = ob; o < oe; ++o) {
      const int64_t base = o * n * inner;
      if (inner == 1) {  // along the last dimension: one running value per row
        const T* xr = x + base;
        T* vr = vals + base;
        int64_t* ir = idx + base;
        T best = xr[0];
        int64_t bi = 0;
        // blocks of one vector: a block that holds no new extremum (nearly all of them after
        // the first elements) is stored as it is, by broadcasts; the others lane by lane
        using V = simd::Vec<T>;
        constexpr int W = V::N;
        auto step = [&](int64_t j) {
          const T c = xr[j];
          if (takes<T, IS_MAX>(c, best)) {
            best = c;
            bi = j;
          }
          vr[j] = best;
          ir[j] = bi;
        };
        int64_t j = 0;
        for (; j + W <= n; j += W) {
          const V v = V::load(xr + j);
          if (simd::any(simd::isnan(v) | (IS_MAX ? v >= V(best) : v <= V(best)))) {
            for (int l = 0; l < W; ++l) step(j + l);
          } else {
            V(best).store(vr + j);
            for (int l = 0; l < W; ++l) ir[j + l] = bi;
          }
        }
        for (; j < n; ++j) step(j);
        continue;
      }
      for (int64_t i = 0; i < inner; ++i) {  // j = 0 starts every running extremum
        vals[base + i] = x[base + i];
        idx[base + i] = 0;
      }
      for (int64_t j = 1; j < n; ++j) {
        const T* xj = x + base + j * inner;
        const T* vp = vals + base + (j - 1) * inner;
        const int64_t* ip = idx + base + (j - 1) * inner;
        T* vj = vals + base + j * inner;
        int64_t* ijj = idx + base + j * inner;
        for (int64_t i = 0; i < inner; ++i) {
          const bool take = takes<T, IS_MAX>(xj[i], vp[i]);
          vj[i] = take ? xj[i] : vp[i];
          ijj[i] = take ? j : ip[i];
        }
      }
    }
  });
}

template <class T>
void cumext_k(const T* x, int64_t outer, int64_t n, int64_t inner, bool is_max, T* vals,
              int64_t* idx) {
  if (is_max)
    cumext_impl<T, true>(x, outer, n, inner, vals, idx);
  else
    cumext_impl<T, false>(x, outer, n, inner, vals, idx);
}

// ---------------------------------------------------------------------------------------
// cumsum / cumprod: accumulated in double. Along the last axis (inner == 1) kRows rows run
// side by side, so that kRows independent add chains hide the add latency; otherwise a
// block of up to kCols columns is carried down the scanned axis (contiguous, vectorised).

template <class T, bool PROD>
void cumop_impl(const T* x, int64_t outer, int64_t n, int64_t inner, T* out) {
  constexpr int64_t kRows = 8, kCols = 256;
  const double init = PROD ? 1.0 : 0.0;
  if (inner == 1) {
    const int64_t blocks = (outer + kRows - 1) / kRows;
    parallel_for(blocks, grain_rows(n * kRows), [&](int64_t bb, int64_t be) {
      for (int64_t blk = bb; blk < be; ++blk) {
        const int64_t r0 = blk * kRows;
        const int64_t nr = outer - r0 < kRows ? outer - r0 : kRows;
        const T* xb = x + r0 * n;
        T* ob = out + r0 * n;
        double acc[kRows];
        for (int64_t r = 0; r < kRows; ++r) acc[r] = init;
        if (nr == kRows) {
          for (int64_t k = 0; k < n; ++k)
            for (int64_t r = 0; r < kRows; ++r) {
              const double v = static_cast<double>(xb[r * n + k]);
              acc[r] = PROD ? acc[r] * v : acc[r] + v;
              ob[r * n + k] = static_cast<T>(acc[r]);
            }
        } else {
          for (int64_t r = 0; r < nr; ++r)
            for (int64_t k = 0; k < n; ++k) {
              const double v = static_cast<double>(xb[r * n + k]);
              acc[r] = PROD ? acc[r] * v : acc[r] + v;
              ob[r * n + k] = static_cast<T>(acc[r]);
            }
        }
      }
    });
    return;
  }
  const int64_t nb = (inner + kCols - 1) / kCols;
  parallel_for(outer * nb, grain_rows(n * kCols), [&](int64_t b, int64_t e) {
    alignas(64) double acc[kCols];
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / nb, c0 = (t % nb) * kCols;
      const int64_t nc = inner - c0 < kCols ? inner - c0 : kCols;
      const T* xo = x + o * n * inner + c0;
      T* oo = out + o * n * inner + c0;
      for (int64_t i = 0; i < nc; ++i) acc[i] = init;
      for (int64_t k = 0; k < n; ++k) {
        const T* xr = xo + k * inner;
        T* orow = oo + k * inner;
        for (int64_t i = 0; i < nc; ++i) {
          const double v = static_cast<double>(xr[i]);
          acc[i] = PROD ? acc[i] * v : acc[i] + v;
          orow[i] = static_cast<T>(acc[i]);
        }
      }
    }
  });
}

template <class T>
void cumop_k(const T* x, int64_t outer, int64_t n, int64_t inner, bool prod, T* out) {
  if (prod)
    cumop_impl<T, true>(x, outer, n, inner, out);
  else
    cumop_impl<T, false>(x, outer, n, inner, out);
}

// ---------------------------------------------------------------------------------------
// index_add: whole rows of `inner` elements added at once (contiguous, vectorised). Chunks
// own column blocks of out (over outer x column blocks), so no two threads add into one
// element and each element's additions run in j order.

template <class T>
int64_t index_add_k(T* out, int64_t outer, int64_t n, int64_t inner, const int64_t* idx,
                    const T* src, int64_t m) {
  for (int64_t j = 0; j < m; ++j)  // validated first: nothing is written for a bad index
    if (idx[j] < -n || idx[j] >= n) return j;
  constexpr int64_t kCols = 1024;
  const int64_t nb = (inner + kCols - 1) / kCols;
  parallel_for(outer * nb, grain_rows(m * kCols), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t o = t / nb, c0 = (t % nb) * kCols;
      const int64_t nc = inner - c0 < kCols ? inner - c0 : kCols;
      T* __restrict oo = out + o * n * inner + c0;
      const T* __restrict so = src + o * m * inner + c0;
      for (int64_t j = 0; j < m; ++j) {
        const int64_t r = idx[j] < 0 ? idx[j] + n : idx[j];
        T* __restrict orow = oo + r * inner;
        const T* __restrict srow = so + j * inner;
        for (int64_t i = 0; i < nc; ++i) orow[i] += srow[i];
      }
    }
  });
  return -1;
}

// ---------------------------------------------------------------------------------------
// fmod / remainder

template <class T>
inline T mod1(T a, T b, bool python_mod) {
  T r = std::fmod(a, b);
  if (python_mod && r != 0 && ((r < 0) != (b < 0))) r += b;
  if (python_mod && r == 0) r = std::copysign(T(0), b);
  return r;
}

// float32 in double arithmetic on simd::Vd: for |a/b| < 2^24 the quotient's integer part t is
// exact, t·b is exact in double (24 + 24 bits) and so is a − t·b, which is then exactly a
// float. Other elements (huge quotients, b = 0, inf, NaN) are marked NaN and redone by
// std::fmod in a second pass.
template <bool PY>
inline simd::Vd fmod_lanes(simd::Vd a, simd::Vd b) {
  using simd::Vd;
  const Vd q = a / b;
  Vd t = simd::round(q);  // to nearest, then towards zero
  t = simd::select(simd::abs(t) > simd::abs(q), t - simd::copysign(Vd(1.0), q), t);
  Vd r = simd::fnma(t, b, a);
  if (PY) r = simd::select(r * b < Vd(0.0), r + b, r);  // the divisor's sign
  // a zero result takes the sign of the dividend (fmod) or of the divisor (remainder)
  r = simd::select(r == Vd(0.0), simd::copysign(Vd(0.0), PY ? b : a), r);
  return simd::select(simd::abs(q) < Vd(16777216.0), r,
                      Vd(std::numeric_limits<double>::quiet_NaN()));
}

// the first m <= Vd::N lanes of v rounded to float into p (one conversion and one store)
inline void store_narrow(simd::Vd v, float* p, int64_t m) {
#if FASTDL_SIMD_LEVEL == 2
  _mm256_mask_storeu_ps(p, simd::tail8(m), _mm512_cvtpd_ps(v.v));
#elif FASTDL_SIMD_LEVEL == 1
  const __m128 f = _mm256_cvtpd_ps(v.v);
  if (m == 4) {
    _mm_storeu_ps(p, f);
  } else {
    alignas(16) float t[4];
    _mm_store_ps(t, f);
    for (int64_t l = 0; l < m; ++l) p[l] = t[l];
  }
#else
  if (m > 0) *p = static_cast<float>(v.v);
#endif
}

template <bool PY, bool B_SCALAR>
void fmod_f32(const float* a, const float* b, int64_t s, int64_t e, float* out) {
  using simd::Vd;
  constexpr int W = Vd::N;
  const Vd b0(static_cast<double>(b[0]));
  for (int64_t k = s; k < e; k += W) {
    const int64_t m = e - k < W ? e - k : W;
    const Vd av = m == W ? simd::load_widen(a + k) : simd::load_widen(a + k, m);
    const Vd bv = B_SCALAR ? b0 : m == W ? simd::load_widen(b + k) : simd::load_widen(b + k, m);
    const Vd r = fmod_lanes<PY>(av, bv);
    store_narrow(r, out + k, m);
    if (simd::any(simd::isnan(r)))  // huge quotients, b = 0, inf, NaN: std::fmod per element
      for (int64_t l = 0; l < m; ++l)
        if (std::isnan(out[k + l])) out[k + l] = mod1(a[k + l], b[B_SCALAR ? 0 : k + l], PY);
  }
}

template <class T>
void fmod_k(const T* a, const T* b, int64_t n, bool b_scalar, bool python_mod, T* out) {
  parallel_for(n, int64_t(1) << 15, [&](int64_t s, int64_t e) {
    if constexpr (std::is_same_v<T, float>) {
      if (python_mod)
        b_scalar ? fmod_f32<true, true>(a, b, s, e, out) : fmod_f32<true, false>(a, b, s, e, out);
      else
        b_scalar ? fmod_f32<false, true>(a, b, s, e, out)
                 : fmod_f32<false, false>(a, b, s, e, out);
    } else {
      const int64_t bstep = b_scalar ? 0 : 1;
      for (int64_t k = s; k < e; ++k) out[k] = mod1(a[k], b[k * bstep], python_mod);
    }
  });
}

// ---------------------------------------------------------------------------------------
// top-k by a threshold: a sorted buffer of the k best so far (best first); a vector compare
// against the k-th best skips the elements that cannot enter (nearly all of them for k ≪ n),
// the rest are inserted by shifting. Above kBufferK the buffer's shifting costs more than a
// selection: nth_element + sort.

constexpr int64_t kBufferK = 32;

// c goes before t: the larger (smaller) value, NaN the largest; equal values are not "better"
// (elements arrive in index order, so ties keep the lower index first)
template <bool L, class T>
inline bool better(T c, T t) {
  if (L) return c > t || (c != c && t == t);
  return c < t || (t != t && c == c);
}

// whether any lane of v may be better than t (a superset: rechecked lane by lane)
template <bool L, class V>
inline bool may_enter(V v, V t) {
  if (L) return simd::any((v > t) | simd::isnan(v));
  return simd::any((v < t) | simd::isnan(t));
}

// insert (c, j) into the sorted buffer of `size` entries (size < cap: grows by one; else the
// last entry drops out)
template <bool L, class T>
inline void insert(T* bv, int64_t* bi, int64_t size, int64_t cap, T c, int64_t j) {
  int64_t p = size < cap ? size : cap - 1;
  while (p > 0 && better<L>(c, bv[p - 1])) {
    bv[p] = bv[p - 1];
    bi[p] = bi[p - 1];
    --p;
  }
  bv[p] = c;
  bi[p] = j;
}

// one contiguous row x[0..n) into the buffer (bv, bi) of k <= kBufferK entries
template <bool L, class T>
void topk_row(const T* x, int64_t n, int64_t k, T* bv, int64_t* bi) {
  using V = simd::Vec<T>;
  constexpr int W = V::N;
  for (int64_t j = 0; j < k; ++j) insert<L>(bv, bi, j, k, x[j], j);
  T t = bv[k - 1];
  int64_t j = k;
  for (; j + W <= n; j += W) {
    if (!may_enter<L>(V::load(x + j), V(t))) continue;
    for (int l = 0; l < W; ++l)
      if (better<L>(x[j + l], t)) {
        insert<L>(bv, bi, k, k, x[j + l], j + l);
        t = bv[k - 1];
      }
  }
  for (; j < n; ++j)
    if (better<L>(x[j], t)) {
      insert<L>(bv, bi, k, k, x[j], j);
      t = bv[k - 1];
    }
}

// columns [i0, i1) of one (n, inner) slab: a buffer per column (bv/bi at (i − i0)·k), their
// k-th best in thr; rows stream through once
template <bool L, class T>
void topk_cols(const T* x, int64_t n, int64_t inner, int64_t i0, int64_t i1, int64_t k, T* bv,
               int64_t* bi, T* thr) {
  using V = simd::Vec<T>;
  constexpr int W = V::N;
  for (int64_t j = 0; j < k; ++j)
    for (int64_t i = i0; i < i1; ++i)
      insert<L>(bv + (i - i0) * k, bi + (i - i0) * k, j, k, x[j * inner + i], j);
  for (int64_t i = i0; i < i1; ++i) thr[i - i0] = bv[(i - i0) * k + k - 1];
  auto one = [&](const T* xr, int64_t j, int64_t i) {
    const int64_t c = i - i0;
    if (better<L>(xr[i], thr[c])) {
      insert<L>(bv + c * k, bi + c * k, k, k, xr[i], j);
      thr[c] = bv[c * k + k - 1];
    }
  };
  for (int64_t j = k; j < n; ++j) {
    const T* xr = x + j * inner;
    int64_t i = i0;
    for (; i + W <= i1; i += W) {
      if (!may_enter<L>(V::load(xr + i), V::load(thr + (i - i0)))) continue;
      for (int l = 0; l < W; ++l) one(xr, j, i + l);
    }
    for (; i < i1; ++i) one(xr, j, i);
  }
}

template <bool L, class T>
void topk_impl(const T* x, int64_t outer, int64_t n, int64_t inner, int64_t k, int64_t* idx) {
  if (k > kBufferK) {  // per (o, i) line: gathered, selected (nth_element + sort)
    parallel_for(outer * inner, grain_rows(n), [&](int64_t b, int64_t e) {
      PoolBuf buf(static_cast<size_t>(n) * (sizeof(int64_t) + (inner == 1 ? 0 : sizeof(T))));
      int64_t* order = buf.as<int64_t>();
      T* line = buf.as<T>(static_cast<size_t>(n) * sizeof(int64_t));
      for (int64_t r = b; r < e; ++r) {
        const int64_t o = r / inner, i = r % inner;
        const T* src = x + o * n * inner + i;
        if (inner != 1)
          for (int64_t j = 0; j < n; ++j) line[j] = src[j * inner];
        select_k(inner == 1 ? src : line, n, k, L, order);
        for (int64_t s = 0; s < k; ++s) idx[(o * k + s) * inner + i] = order[s];
      }
    });
    return;
  }
  if (inner == 1) {
    parallel_for(outer, grain_rows(n), [&](int64_t rb, int64_t re) {
      T bv[kBufferK];
      for (int64_t r = rb; r < re; ++r) topk_row<L>(x + r * n, n, k, bv, idx + r * k);
    });
    return;
  }
  // blocks of columns: each streams its slab's rows once
  constexpr int64_t kCols = 256;
  const int64_t nb = (inner + kCols - 1) / kCols;
  parallel_for(outer * nb, grain_rows(n * kCols), [&](int64_t b, int64_t e) {
    PoolBuf buf(static_cast<size_t>(kCols * k) * sizeof(int64_t) +
            static_cast<size_t>(kCols * (k + 1)) * sizeof(T));
    int64_t* bi = buf.as<int64_t>();
    T* bv = buf.as<T>(static_cast<size_t>(kCols * k) * sizeof(int64_t));
    T* thr = bv + kCols * k;
    for (int64_t r = b; r < e; ++r) {
      const int64_t o = r / nb, i0 = (r % nb) * kCols;
      const int64_t i1 = inner < i0 + kCols ? inner : i0 + kCols;
      topk_cols<L>(x + o * n * inner, n, inner, i0, i1, k, bv, bi, thr);
      for (int64_t i = i0; i < i1; ++i)
        for (int64_t s = 0; s < k; ++s) idx[(o * k + s) * inner + i] = bi[(i - i0) * k + s];
    }
  });
}

template <class T>
void topk_k(const T* x, int64_t outer, int64_t n, int64_t inner, int64_t k, bool largest,
            int64_t* idx) {
  if (k <= 0 || n <= 0) return;
  if (largest)
    topk_impl<true>(x, outer, n, inner, k, idx);
  else
    topk_impl<false>(x, outer, n, inner, k, idx);
}

// ---------------------------------------------------------------------------------------
// multinomial

template <class T>
int multinomial_replacement_k(const T* w, int64_t rows, int64_t n, const double* u, int64_t k,
                              int64_t* out) {
  std::atomic<int> err{0};
  parallel_for(rows, grain_rows(n), [&](int64_t rb, int64_t re) {
    PoolBuf buf(static_cast<size_t>(n) * sizeof(double));
    double* cdf = buf.as<double>();
    for (int64_t r = rb; r < re; ++r) {
      const T* wr = w + r * n;
      double acc = 0.0;
      int64_t last = -1;  // the last category with weight
      for (int64_t j = 0; j < n; ++j) {
        const double v = static_cast<double>(wr[j]);
        if (!(v >= 0.0) || std::isinf(v)) {
          err.store(1);
          return;
        }
        acc += v;
        cdf[j] = acc;
        if (v > 0.0) last = j;
      }
      if (!(acc > 0.0)) {
        int expect = 0;
        err.compare_exchange_strong(expect, 2);
        return;
      }
      for (int64_t s = 0; s < k; ++s) {
        const double t = u[r * k + s] * acc;
        int64_t lo = 0, hi = n;  // first j with cdf[j] > t
        while (lo < hi) {
          const int64_t mid = (lo + hi) / 2;
          if (cdf[mid] > t)
            hi = mid;
          else
            lo = mid + 1;
        }
        out[r * k + s] = lo < n ? lo : last;  // t rounded up to the total: the last weight
      }
    }
  });
  return err.load();
}

// key_j = w_j / (−log u_j) for w_j > 0, −1 for a zero weight (below every drawn key); also
// whether some weight is invalid (negative, inf, NaN) and how many are positive
template <class T>
void race_keys(const T* w, const T* u, int64_t n, T* key, bool& invalid, int64_t& positive) {
  using V = simd::Vec<T>;
  constexpr int W = V::N;
  const V zero(T(0)), inf(std::numeric_limits<T>::infinity()), none(T(-1));
  bool bad = false;
  int64_t pos = 0;
  int64_t j = 0;
  auto lane_count = [&](const T* p, int64_t m) {
    for (int64_t l = 0; l < m; ++l) pos += p[l] > T(0);
  };
  for (; j + W <= n; j += W) {
    const V wv = V::load(w + j);
    bad |= simd::any(~(wv >= zero) | (wv == inf));
    const V kv = simd::select(wv > zero, wv / -simd::log(V::load(u + j)), none);
    kv.store(key + j);
    lane_count(w + j, W);
  }
  for (; j < n; ++j) {
    const T v = w[j];
    bad |= !(v >= T(0)) || v == std::numeric_limits<T>::infinity();
    pos += v > T(0);
    key[j] = v > T(0) ? v / -std::log(u[j]) : T(-1);
  }
  invalid = bad;
  positive = pos;
}

template <class T>
int multinomial_noreplace_k(const T* w, int64_t rows, int64_t n, const T* u, int64_t k,
                            int64_t* out) {
  std::atomic<int> err{0};
  parallel_for(rows, grain_rows(n), [&](int64_t rb, int64_t re) {
    PoolBuf buf(static_cast<size_t>(n) * (sizeof(T) + (k > kBufferK ? sizeof(int64_t) : 0)));
    T* key = buf.as<T>();
    int64_t* order = buf.as<int64_t>(static_cast<size_t>(n) * sizeof(T));
    T bv[kBufferK];
    for (int64_t r = rb; r < re; ++r) {
      bool invalid;
      int64_t positive;
      race_keys(w + r * n, u + r * n, n, key, invalid, positive);
      const int code = invalid ? 1 : positive == 0 ? 2 : 0;
      if (code) {
        int expect = 0;
        err.compare_exchange_strong(expect, code);
        return;
      }
      if (k <= kBufferK) {
        topk_row<true>(key, n, k, bv, out + r * k);
      } else {
        select_k(static_cast<const T*>(key), n, k, true, order);
        for (int64_t s = 0; s < k; ++s) out[r * k + s] = order[s];
      }
    }
  });
  return err.load();
}

// ---------------------------------------------------------------------------------------
// mode: each row sorted (NaN last), the longest run (the first of equal length: the smallest
// value), then the last index of that value in the unsorted row

template <class T>
inline bool same(T a, T b) {
  if constexpr (std::is_floating_point_v<T>)
    return a == b || (a != a && b != b);
  else
    return a == b;
}

template <class T>
void mode_k(const T* x, int64_t rows, int64_t n, T* vals, int64_t* idx) {
  parallel_for(rows, grain_rows(n * 8), [&](int64_t rb, int64_t re) {
    PoolBuf buf(static_cast<size_t>(n) * sizeof(T));
    T* s = buf.as<T>();
    for (int64_t r = rb; r < re; ++r) {
      const T* xr = x + r * n;
      for (int64_t j = 0; j < n; ++j) s[j] = xr[j];
      sort_values(s, n);  // ascending, NaN last
      T best = s[0];
      int64_t best_len = 0;
      for (int64_t a = 0; a < n;) {
        int64_t b = a + 1;
        while (b < n && same(s[b], s[a])) ++b;
        if (b - a > best_len) {
          best_len = b - a;
          best = s[a];
        }
        a = b;
      }
      int64_t last = n - 1;
      while (last > 0 && !same(xr[last], best)) --last;
      vals[r] = best;
      idx[r] = last;
    }
  });
}

// ---------------------------------------------------------------------------------------
// sparse (COO) × dense

template <class T>
bool spmm_coo_k(const int64_t* rows, const int64_t* cols, const T* vals, int64_t nnz, int64_t m,
                const T* x, int64_t k, int64_t n, T* out) {
  PoolBuf buf((static_cast<size_t>(2 * m + 1) + static_cast<size_t>(nnz)) * sizeof(int64_t));
  int64_t* start = buf.as<int64_t>();
  int64_t* fill = start + m + 1;
  int64_t* perm = fill + m;
  for (int64_t r = 0; r <= m; ++r) start[r] = 0;
  for (int64_t e = 0; e < nnz; ++e) {
    const int64_t r = rows[e], c = cols[e];
    if (r < 0 || r >= m || c < 0 || c >= k) return false;
    ++start[r + 1];
  }
  for (int64_t r = 0; r < m; ++r) start[r + 1] += start[r];
  for (int64_t r = 0; r < m; ++r) fill[r] = start[r];
  for (int64_t e = 0; e < nnz; ++e) perm[fill[rows[e]]++] = e;
  parallel_for(m, grain_rows(n * (nnz / (m > 0 ? m : 1) + 1)), [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      T* o = out + r * n;
      for (int64_t j = 0; j < n; ++j) o[j] = T(0);
      for (int64_t p = start[r]; p < start[r + 1]; ++p) {
        const int64_t e = perm[p];
        const T v = vals[e];
        const T* xr = x + cols[e] * n;
        for (int64_t j = 0; j < n; ++j) o[j] += v * xr[j];
      }
    }
  });
  return true;
}

// ---------------------------------------------------------------------------------------
// scatter_add: out (outer, n, inner) += src (outer, m, inner) at the index along the middle
// axis. Each chunk owns whole slabs of out (chunks over outer, or over inner when outer is 1),
// so no two threads add into one element; within an element the additions run in j order.

template <class T>
int64_t scatter_add_k(T* out, int64_t outer, int64_t n, int64_t inner, const int64_t* idx,
                      const T* src, int64_t m) {
  std::atomic<int64_t> bad{-1};
  auto report = [&](int64_t pos) {  // keep the first bad position
    int64_t expect = -1;
    while (expect < 0 || pos < expect)
      if (bad.compare_exchange_weak(expect, pos)) break;
  };
  auto slab = [&, n, m, inner](int64_t o, int64_t ib, int64_t ie) {
    T* __restrict oo = out + o * n * inner;
    const int64_t* __restrict io = idx + o * m * inner;
    const T* __restrict so = src + o * m * inner;
    if (inner == 1) {  // along the last dimension: one flat loop
      int64_t first_bad = -1;
      for (int64_t j = 0; j < m; ++j) {
        int64_t t = io[j];
        t += (t >> 63) & n;
        if (static_cast<uint64_t>(t) >= static_cast<uint64_t>(n)) {
          if (first_bad < 0) first_bad = j;
          continue;
        }
        oo[t] += so[j];
      }
      if (first_bad >= 0) report(o * m + first_bad);
      return;
    }
    for (int64_t j = 0; j < m; ++j)
      for (int64_t i = ib; i < ie; ++i) {
        int64_t t = io[j * inner + i];
        t += (t >> 63) & n;
        if (static_cast<uint64_t>(t) >= static_cast<uint64_t>(n)) {
          report((o * m + j) * inner + i);
          continue;
        }
        oo[t * inner + i] += so[j * inner + i];
      }
  };
  if (outer > 1 || inner == 1) {
    parallel_for(outer, grain_rows(m * inner), [&](int64_t ob, int64_t oe) {
      for (int64_t o = ob; o < oe; ++o) slab(o, 0, inner);
    });
  } else {
    // column blocks of at least 256: each index row is then read as one contiguous run (a
    // few columns per row, 4 KiB apart, missed the caches on every row)
    const int64_t g = grain_rows(m);
    parallel_for(inner, g < 256 ? 256 : g, [&](int64_t ib, int64_t ie) { slab(0, ib, ie); });
  }
  return bad.load();
}

// ---------------------------------------------------------------------------------------
// nan_to_num: one pass of vector selects.

template <class T>
void nan_to_num_k(const T* x, int64_t n, T nan, T posinf, T neginf, T* out) {
  using V = simd::Vec<T>;
  constexpr int W = V::N;
  const V vn(nan), vp(posinf), vm(neginf), inf(std::numeric_limits<T>::infinity());
  auto fix = [&](V v) {
    return simd::select(simd::isnan(v), vn,
                        simd::select(v == inf, vp, simd::select(v == -inf, vm, v)));
  };
  parallel_for(n, int64_t(1) << 15, [&](int64_t s, int64_t e) {
    int64_t k = s;
    for (; k + W <= e; k += W) fix(V::load(x + k)).store(out + k);
    if (k < e) fix(V::load(x + k, e - k)).store(out + k, e - k);
  });
}

// ---------------------------------------------------------------------------------------
// hypot: float32 as √(a² + b²) in double (no overflow or underflow, one rounding at the end);
// double by std::hypot. An infinite operand gives +inf even with a NaN beside it (IEEE).

template <class T>
void hypot_k(const T* a, const T* b, int64_t n, T* out) {
  parallel_for(n, int64_t(1) << 15, [&](int64_t s, int64_t e) {
    if constexpr (std::is_same_v<T, float>) {
      using simd::Vd;
      constexpr int W = Vd::N;
      double buf[W];
      const Vd inf(std::numeric_limits<double>::infinity());
      for (int64_t k = s; k < e; k += W) {
        const int64_t m = e - k < W ? e - k : W;
        const Vd x = m == W ? simd::load_widen(a + k) : simd::load_widen(a + k, m);
        const Vd y = m == W ? simd::load_widen(b + k) : simd::load_widen(b + k, m);
        const Vd r = simd::sqrt(simd::mul_add(x, x, y * y));
        simd::select((simd::abs(x) == inf) | (simd::abs(y) == inf), inf, r).store(buf);
        for (int l = 0; l < W; ++l)
          if (l < m) out[k + l] = static_cast<float>(buf[l]);
      }
    } else {
      for (int64_t k = s; k < e; ++k) out[k] = std::hypot(a[k], b[k]);
    }
  });
}

// ---------------------------------------------------------------------------------------
// erfinv (float32): Giles' single-precision approximation ("Approximating the erfinv
// function", GPU Computing Gems, 2011) on simd::Vf: with w = −log((1 − y)(1 + y)), a
// polynomial in w − 2.5 for w < 5 and one in √w − 3 beyond, times y. Within 2.7e-7 relative
// of the exact value on (−1, 1) (about 2 ulp); ±1 gives ±inf, |y| > 1 and NaN give NaN.

inline simd::Vf erfinv_lanes(simd::Vf y) {
  using simd::Vf;
  const Vf one(1.0f);
  const Vf w = -simd::log((one - y) * (one + y));
  const Vf ws = w - Vf(2.5f);
  Vf p(2.81022636e-08f);
  p = simd::mul_add(p, ws, Vf(3.43273939e-07f));
  p = simd::mul_add(p, ws, Vf(-3.5233877e-06f));
  p = simd::mul_add(p, ws, Vf(-4.39150654e-06f));
  p = simd::mul_add(p, ws, Vf(0.00021858087f));
  p = simd::mul_add(p, ws, Vf(-0.00125372503f));
  p = simd::mul_add(p, ws, Vf(-0.00417768164f));
  p = simd::mul_add(p, ws, Vf(0.246640727f));
  p = simd::mul_add(p, ws, Vf(1.50140941f));
  const Vf wl = simd::sqrt(simd::select(w < Vf(5.0f), Vf(5.0f), w)) - Vf(3.0f);
  Vf q(-0.000200214257f);
  q = simd::mul_add(q, wl, Vf(0.000100950558f));
  q = simd::mul_add(q, wl, Vf(0.00134934322f));
  q = simd::mul_add(q, wl, Vf(-0.00367342844f));
  q = simd::mul_add(q, wl, Vf(0.00573950773f));
  q = simd::mul_add(q, wl, Vf(-0.0076224613f));
  q = simd::mul_add(q, wl, Vf(0.00943887047f));
  q = simd::mul_add(q, wl, Vf(1.00167406f));
  q = simd::mul_add(q, wl, Vf(2.83297682f));
  Vf r = simd::select(w < Vf(5.0f), p, q) * y;
  const Vf ay = simd::abs(y);
  r = simd::select(ay == one, simd::copysign(Vf(std::numeric_limits<float>::infinity()), y), r);
  return simd::select(~(ay <= one), Vf(std::numeric_limits<float>::quiet_NaN()), r);
}

void erfinv_f32_k(const float* x, int64_t n, float* out) {
  using simd::Vf;
  constexpr int W = Vf::N;
  parallel_for(n, int64_t(1) << 14, [&](int64_t s, int64_t e) {
    int64_t k = s;
    for (; k + W <= e; k += W) erfinv_lanes(Vf::load(x + k)).store(out + k);
    if (k < e) erfinv_lanes(Vf::load(x + k, e - k)).store(out + k, e - k);
  });
}

// ---------------------------------------------------------------------------------------
// Streaming elementwise kernels: one pass over contiguous data in fixed chunks of kStream
// elements (results do not depend on the thread count), the tail by masked loads/stores.

constexpr int64_t kStream = int64_t(1) << 15;

// a vector loop over [s, e): y = f(x) for full vectors, f of the masked tail
template <class V, class T, class F>
inline void map1(const T* x, int64_t s, int64_t e, T* out, F f) {
  constexpr int W = V::N;
  int64_t k = s;
  for (; k + W <= e; k += W) f(V::load(x + k)).store(out + k);
  if (k < e) f(V::load(x + k, e - k)).store(out + k, e - k);
}

template <class V, class T, class F>
inline void map2(const T* a, const T* b, int64_t s, int64_t e, T* out, F f) {
  constexpr int W = V::N;
  int64_t k = s;
  for (; k + W <= e; k += W) f(V::load(a + k), V::load(b + k)).store(out + k);
  if (k < e) f(V::load(a + k, e - k), V::load(b + k, e - k)).store(out + k, e - k);
}

// x rounded towards zero: to nearest, then one step back where that went past x; the sign
// is x's (trunc(-0.3) = -0, as std::trunc)
template <class V>
inline V trunc_v(V x) {
  const V t = simd::round(x);
  return simd::copysign(
      simd::select(simd::abs(t) > simd::abs(x), t - simd::copysign(V(1), x), t), x);
}

template <class T>
void unary_k(const T* x, int64_t n, int code, T* out) {
  using V = simd::Vec<T>;
  const V one(T(1)), zero(T(0));
  parallel_for(n, kStream, [&](int64_t s, int64_t e) {
    switch (code) {
      case kSign:  // +0 for ±0 and NaN (the comparisons are false)
        map1<V>(x, s, e, out, [&](V v) {
          return simd::select(v > zero, one, simd::select(v < zero, -one, zero));
        });
        break;
      case kRsqrt:
        map1<V>(x, s, e, out, [&](V v) { return one / simd::sqrt(v); });
        break;
      case kReciprocal:
        map1<V>(x, s, e, out, [&](V v) { return one / v; });
        break;
      case kFrac:
        map1<V>(x, s, e, out, [&](V v) { return v - trunc_v(v); });
        break;
      default:
        break;
    }
  });
}

// torch's two-sided formula: a + w·(b − a) for |w| < 0.5, else b − (b − a)·(1 − w); the
// multiply-adds are explicit (fused on AVX2/AVX-512, multiply then add on generic), so no
// result depends on the compiler contracting a product and a sum
template <class T>
void lerp_k(const T* a, const T* b, T w, int64_t n, T* out) {
  using V = simd::Vec<T>;
  const bool low = std::fabs(w) < T(0.5);
  const V vw(w), vw1(T(1) - w);
  parallel_for(n, kStream, [&](int64_t s, int64_t e) {
    if (low)
      map2<V>(a, b, s, e, out, [&](V x, V y) { return simd::mul_add(vw, y - x, x); });
    else
      map2<V>(a, b, s, e, out, [&](V x, V y) { return simd::fnma(y - x, vw1, y); });
  });
}

// max(a, b) + log1p(exp(−|a − b|)); equal infinities give themselves (their difference is
// NaN), a NaN operand gives NaN
template <class T>
void logaddexp_k(const T* a, const T* b, int64_t n, T* out) {
  using V = simd::Vec<T>;
  const V inf(std::numeric_limits<T>::infinity());
  parallel_for(n, kStream, [&](int64_t s, int64_t e) {
    map2<V>(a, b, s, e, out, [&](V x, V y) {
      const V m = simd::max(x, y);
      const V d = -simd::abs(x - y);
      const V r = m + simd::log1p(simd::exp(d));
      return simd::select((x == y) & (simd::abs(x) == inf), x, r);
    });
  });
}

// out (m, n) = a (m) ⊗ b (n), row by row
template <class T>
void outer_k(const T* a, int64_t m, const T* b, int64_t n, T* out) {
  using V = simd::Vec<T>;
  constexpr int W = V::N;
  parallel_for(m, grain_rows(n), [&](int64_t rb, int64_t re) {
    for (int64_t i = rb; i < re; ++i) {
      const V ai(a[i]);
      T* o = out + i * n;
      int64_t j = 0;
      for (; j + W <= n; j += W) (ai * V::load(b + j)).store(o + j);
      if (j < n) (ai * V::load(b + j, n - j)).store(o + j, n - j);
    }
  });
}

// Σ x over the non-NaN elements: each lane sums at most kLaneTerms terms in T before they go
// into a double (as simd::kLaneTerms describes); chunks of kStream elements each give one
// double, added in chunk order (the same for any thread count)
template <class T>
double nansum_k(const T* x, int64_t n) {
  using V = simd::Vec<T>;
  constexpr int W = V::N;
  constexpr int64_t kBlock = 2 * W * simd::kLaneTerms;
  const int64_t chunks = (n + kStream - 1) / kStream;
  PoolBuf buf(static_cast<size_t>(chunks > 0 ? chunks : 1) * sizeof(double));
  double* part = buf.as<double>();
  const V zero(T(0));
  auto clean = [&](V v) { return simd::select(simd::isnan(v), zero, v); };
  parallel_for(chunks, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c) {
      const int64_t s = c * kStream, e = s + kStream < n ? s + kStream : n;
      double total = 0;
      for (int64_t b = s; b < e; b += kBlock) {
        const int64_t be = e - b < kBlock ? e : b + kBlock;
        V a0 = zero, a1 = zero;
        int64_t k = b;
        for (; k + 2 * W <= be; k += 2 * W) {
          a0 = a0 + clean(V::load(x + k));
          a1 = a1 + clean(V::load(x + k + W));
        }
        for (; k + W <= be; k += W) a0 = a0 + clean(V::load(x + k));
        if (k < be) a1 = a1 + clean(V::load(x + k, be - k));
        total += static_cast<double>(simd::hsum(a0 + a1));
      }
      part[c] = total;
    }
  });
  double t = 0;
  for (int64_t c = 0; c < chunks; ++c) t += part[c];
  return t;
}

// ---------------------------------------------------------------------------------------
// Byte-copying kernels (any dtype): elements are `size` bytes, copied whole.

template <class U>
inline void reverse_copy(const U* src_end, int64_t cnt, U* dst) {  // dst[j] = src_end[-1 - j]
  for (int64_t j = 0; j < cnt; ++j) dst[j] = src_end[-1 - j];
}

inline void reverse_bytes(const unsigned char* src_end, int64_t cnt, int64_t size,
                          unsigned char* dst) {
  switch (size) {
    case 1: reverse_copy(src_end, cnt, dst); return;
    case 2:
      reverse_copy(reinterpret_cast<const uint16_t*>(src_end), cnt,
                   reinterpret_cast<uint16_t*>(dst));
      return;
    case 4:
      reverse_copy(reinterpret_cast<const uint32_t*>(src_end), cnt,
                   reinterpret_cast<uint32_t*>(dst));
      return;
    case 8:
      reverse_copy(reinterpret_cast<const uint64_t*>(src_end), cnt,
                   reinterpret_cast<uint64_t*>(dst));
      return;
    default:
      for (int64_t j = 0; j < cnt; ++j) std::memcpy(dst + j * size, src_end - (j + 1) * size, size);
  }
}

// flip of a C-contiguous array of `ndim` dims (shape, flipped flags): the last dimension is
// copied in pieces of at most kPiece elements (forwards or reversed), every other index maps
// to its source row through the flips
void flip_bytes_k(const void* x, int ndim, const int64_t* shape, const unsigned char* flipped,
                  int64_t size, void* out) {
  const unsigned char* src = static_cast<const unsigned char*>(x);
  unsigned char* dst = static_cast<unsigned char*>(out);
  const int64_t L = shape[ndim - 1];
  int64_t rows = 1;
  for (int d = 0; d < ndim - 1; ++d) rows *= shape[d];
  if (rows == 0 || L == 0) return;
  const int64_t piece = int64_t(1) << 14;
  const int64_t pieces = (L + piece - 1) / piece;
  const bool rev = flipped[ndim - 1] != 0;
  parallel_for(rows * pieces, grain_rows(piece < L ? piece * size / 4 : L * size / 4 + 1),
               [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t r = t / pieces, p = t % pieces;
      int64_t rem = r, srow = 0, stride = 1;
      for (int d = ndim - 2; d >= 0; --d) {  // the source row of output row r
        const int64_t i = rem % shape[d];
        rem /= shape[d];
        srow += (flipped[d] ? shape[d] - 1 - i : i) * stride;
        stride *= shape[d];
      }
      const int64_t j0 = p * piece, j1 = j0 + piece < L ? j0 + piece : L;
      unsigned char* o = dst + (r * L + j0) * size;
      const unsigned char* sr = src + srow * L * size;
      if (rev)
        reverse_bytes(sr + (L - j0) * size, j1 - j0, size, o);
      else
        std::memcpy(o, sr + j0 * size, static_cast<size_t>((j1 - j0) * size));
    }
  });
}

// tril / triu of (batch, r, c) matrices: each row copies its kept run and zeroes the rest
void tri_bytes_k(const void* x, int64_t batch, int64_t r, int64_t c, int64_t k, bool upper,
                 int64_t size, void* out) {
  const unsigned char* src = static_cast<const unsigned char*>(x);
  unsigned char* dst = static_cast<unsigned char*>(out);
  parallel_for(batch * r, grain_rows(c * size / 4 + 1), [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t i = t % r;
      // kept columns [lo, hi): j − i >= k (upper) or j − i <= k (lower)
      int64_t lo = upper ? i + k : 0, hi = upper ? c : i + k + 1;
      lo = lo < 0 ? 0 : lo > c ? c : lo;
      hi = hi < lo ? lo : hi > c ? c : hi;
      const size_t row = static_cast<size_t>(t * c * size);
      if (lo > 0) std::memset(dst + row, 0, static_cast<size_t>(lo * size));
      if (hi > lo)
        std::memcpy(dst + row + lo * size, src + row + lo * size,
                    static_cast<size_t>((hi - lo) * size));
      if (c > hi) std::memset(dst + row + hi * size, 0, static_cast<size_t>((c - hi) * size));
    }
  });
}

// diag_embed: out (batch, n, n) with n = m + |offset| holds x (batch, m) on its offset
// diagonal and zeros elsewhere, written row by row in one pass
void diag_embed_bytes_k(const void* x, int64_t batch, int64_t m, int64_t offset, int64_t size,
                        void* out) {
  const unsigned char* src = static_cast<const unsigned char*>(x);
  unsigned char* dst = static_cast<unsigned char*>(out);
  const int64_t n = m + (offset < 0 ? -offset : offset);
  const int64_t r0 = offset < 0 ? -offset : 0, c0 = offset > 0 ? offset : 0;
  parallel_for(batch * n, grain_rows(n * size / 4 + 1), [&](int64_t b, int64_t e) {
    // the chunk's rows are one contiguous run: zeroed at once, then the diagonal entries
    std::memset(dst + b * n * size, 0, static_cast<size_t>((e - b) * n * size));
    for (int64_t t = b; t < e; ++t) {
      const int64_t bi = t / n, q = t % n - r0;  // the entry of x on row t % n, if any
      if (q >= 0 && q < m)
        std::memcpy(dst + (t * n + q + c0) * size, src + (bi * m + q) * size,
                    static_cast<size_t>(size));
    }
  });
}

// out (batch, c, r) = x (batch, r, c) transposed, elements of `size` bytes. Square tiles of
// kTransposeTile (a tile's source rows stay in L1 while its output rows are written in
// order); one task per (matrix, band of tile rows), a function of the shape only.
constexpr int64_t kTransposeTile = 32;
// float32 (AVX-512) with more rows than columns (NHWC -> NCHW: r = H·W pixels, c = C
// channels): bands of kTransposeTallBand rows, each 16-column block of the band written
// before the next (the band's 16 output rows filled in long runs instead of 64-byte pieces
// of rows 4r bytes apart). 1 thread, ms row-block / column-block order: (32, 1024, 64) 1.05 /
// 0.44, (32, 256, 128) 0.176 / 0.079, (8, 3136, 256) 2.11 / 2.02, (512, 512, 9) 0.30 / 0.26;
// the order by rows stays where rows are fewer ((32, 64, 1024) 0.21 / 0.33).
constexpr int64_t kTransposeTallBand = 512;

template <class E>
void transpose_tiles(const E* x, int64_t r, int64_t c, int64_t i0, int64_t i1, E* out) {
#if FASTDL_SIMD_LEVEL == 2
  if constexpr (sizeof(E) == 4) {  // 16×16 blocks in registers, masked at the edges
    const float* xf = reinterpret_cast<const float*>(x);
    float* of = reinterpret_cast<float*>(out);
    auto tile = [&](int64_t ib, int64_t j0) {  // rows ib.., columns j0.. (16 each at most)
      const int rows = static_cast<int>(i1 - ib < 16 ? i1 - ib : 16);
      const int cols = static_cast<int>(c - j0 < 16 ? c - j0 : 16);
      const __mmask16 rm = static_cast<__mmask16>((1u << rows) - 1u);
      __m512 v[16];
      simd::load_transpose16(xf + ib * c + j0, c, rows, static_cast<__mmask16>((1u << cols) - 1u),
                             v);
      for (int k = 0; k < cols; ++k) _mm512_mask_storeu_ps(of + (j0 + k) * r + ib, rm, v[k]);
    };
    if (r > c) {  // column blocks outer (kTransposeTallBand)
      for (int64_t j0 = 0; j0 < c; j0 += 16)
        for (int64_t ib = i0; ib < i1; ib += 16) tile(ib, j0);
    } else {
      for (int64_t ib = i0; ib < i1; ib += 16)
        for (int64_t j0 = 0; j0 < c; j0 += 16) tile(ib, j0);
    }
    return;
  }
#endif
  for (int64_t j0 = 0; j0 < c; j0 += kTransposeTile) {
    const int64_t j1 = c - j0 < kTransposeTile ? c : j0 + kTransposeTile;
    for (int64_t j = j0; j < j1; ++j) {
      E* o = out + j * r;
      const E* s = x + j;
      for (int64_t i = i0; i < i1; ++i) o[i] = s[i * c];
    }
  }
}

void transpose_bytes_k(const void* x, int64_t batch, int64_t r, int64_t c, int64_t size,
                       void* out) {
  if (batch == 0 || r == 0 || c == 0) return;
  const bool tall = FASTDL_SIMD_LEVEL == 2 && size == 4 && r > c;  // transpose_tiles' order
  const int64_t band = tall ? kTransposeTallBand : kTransposeTile;
  const int64_t bands = (r + band - 1) / band;
  parallel_for(batch * bands, grain_rows(band * c * size / 4 + 1),
               [&](int64_t b, int64_t e) {
    for (int64_t t = b; t < e; ++t) {
      const int64_t m = t / bands, i0 = (t % bands) * band;
      const int64_t i1 = r - i0 < band ? r : i0 + band;
      const int64_t off = m * r * c;
      auto tiles = [&](auto elem) {  // elements as unsigned integers of their size
        using E = decltype(elem);
        transpose_tiles(static_cast<const E*>(x) + off, r, c, i0, i1, static_cast<E*>(out) + off);
      };
      switch (size) {
        case 4: tiles(uint32_t{}); break;
        case 8: tiles(uint64_t{}); break;
        case 2: tiles(uint16_t{}); break;
        case 1: tiles(uint8_t{}); break;
        default: {  // other element sizes (complex128): byte copies per element
          const unsigned char* src = static_cast<const unsigned char*>(x) + off * size;
          unsigned char* dst = static_cast<unsigned char*>(out) + off * size;
          for (int64_t j = 0; j < c; ++j)
            for (int64_t i = i0; i < i1; ++i)
              std::memcpy(dst + (j * r + i) * size, src + (i * c + j) * size,
                          static_cast<size_t>(size));
        }
      }
    }
  });
}

template <class T>
constexpr TensorOpsT<T> ops_t() {
  return {&gather_k<T>, &cumext_k<T>, &fmod_k<T>, &multinomial_replacement_k<T>,
          &multinomial_noreplace_k<T>, &topk_k<T>, &mode_k<T>, &spmm_coo_k<T>,
          &scatter_add_k<T>, &nan_to_num_k<T>, &hypot_k<T>, &cumop_k<T>,
          &index_add_k<T>, &unary_k<T>, &lerp_k<T>, &logaddexp_k<T>, &outer_k<T>,
          &nansum_k<T>};
}

}  // namespace

// This ISA's table (declared in tensorops.h).
const TensorOps ops = {ops_t<float>(), ops_t<double>(), &mode_k<int64_t>, &erfinv_f32_k,
                       &flip_bytes_k, &tri_bytes_k, &diag_embed_bytes_k, &transpose_bytes_k};

}  // namespace FASTDL_SIMD_ISA
}  // namespace tensorops
}  // namespace fastdl
