// The norm kernels, written once on the simd:: vector types (common/simd.h) and compiled
// once per ISA: norm.cpp (generic), norm_avx2.cpp and norm_avx512.cpp include this file, which
// ends with that ISA's NormOps table (declared in norm.h). Internal linkage otherwise.
//
// Threading: every parallel_for below splits work into chunks whose size depends only on the
// problem shape (kGrain elements of work per chunk), and every floating-point reduction is
// done per fixed piece (a plane, a row, a block of rows) and then combined in index order, so
// the results are bitwise identical for any thread count.

#pragma once
#include <cstddef>
#include <cstdint>
#include <type_traits>

#include "common/allocator.h"
#include "common/parallel.h"
#include "common/simd.h"
#include "kernels/norm/norm.h"

namespace fastdl {
namespace norm {
namespace FASTDL_SIMD_ISA {
namespace {

using simd::Vec;
using simd::sexp;
using simd::slog;
using simd::ssqrt;
// ---------------------------------------------------------------------------------------
// Reductions over contiguous spans, in a fixed order for a given ISA.

// Σ x[0..n)
template <class T>
inline T vsum(const T* x, int64_t n) {
  using V = simd::Vec<T>;
  constexpr int W = V::N;
  V a0 = V(0), a1 = V(0), a2 = V(0), a3 = V(0);
  int64_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    a0 = a0 + V::load(x + i);
    a1 = a1 + V::load(x + i + W);
    a2 = a2 + V::load(x + i + 2 * W);
    a3 = a3 + V::load(x + i + 3 * W);
  }
  for (; i + W <= n; i += W) a0 = a0 + V::load(x + i);
  if (i < n) a1 = a1 + V::load(x + i, n - i, T(0));
  return simd::hsum((a0 + a1) + (a2 + a3));
}

// Σ of a strided quarter of x[0..n) — the first W values of every 4·W, and every value after
// the last full 4·W — and how many values that is: a first estimate of the mean for one
// quarter of a pass over x
template <class T>
inline T vsum_quarter(const T* x, int64_t n, int64_t& count) {
  using V = simd::Vec<T>;
  constexpr int W = V::N;
  V a0 = V(0), a1 = V(0);
  int64_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) a0 = a0 + V::load(x + i);
  count = (i / (4 * W)) * W + (n - i);
  for (; i + W <= n; i += W) a1 = a1 + V::load(x + i);
  if (i < n) a1 = a1 + V::load(x + i, n - i, T(0));
  return simd::hsum(a0 + a1);
}

// s1 = Σ (x − m), s2 = Σ (x − m)², one pass (4·W lanes each, as vsum)
template <class T>
inline void vshifted(const T* x, int64_t n, T m, T& s1, T& s2) {
  using V = simd::Vec<T>;
  constexpr int W = V::N;
  const V vm = V(m);
  V a0 = V(0), a1 = V(0), a2 = V(0), a3 = V(0);
  V q0 = V(0), q1 = V(0), q2 = V(0), q3 = V(0);
  int64_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    V d0 = V::load(x + i) - vm, d1 = V::load(x + i + W) - vm;
    V d2 = V::load(x + i + 2 * W) - vm, d3 = V::load(x + i + 3 * W) - vm;
    a0 = a0 + d0;
    a1 = a1 + d1;
    a2 = a2 + d2;
    a3 = a3 + d3;
    q0 = simd::mul_add(d0, d0, q0);
    q1 = simd::mul_add(d1, d1, q1);
    q2 = simd::mul_add(d2, d2, q2);
    q3 = simd::mul_add(d3, d3, q3);
  }
  for (; i + W <= n; i += W) {
    V d = V::load(x + i) - vm;
    a0 = a0 + d;
    q0 = simd::mul_add(d, d, q0);
  }
  if (i < n) {
    V d = V::load(x + i, n - i, m) - vm;
    a1 = a1 + d;
    q1 = simd::mul_add(d, d, q1);
  }
  s1 = simd::hsum((a0 + a1) + (a2 + a3));
  s2 = simd::hsum((q0 + q1) + (q2 + q3));
}

// Mean and M2 = Σ(x − mean)² of a contiguous span, per block of 128·W values (cache
// resident), blocks combined in double with Chan's formula, in order. In a block: a first
// mean m̃ of a strided quarter of it (vsum_quarter), rounded to T, then one pass over the
// shifted values d = x − m̃ (exact when x is near m̃): mean = m̃ + Σd/nb, M2 = Σd² − (Σd)²/nb.
// The mean is exact to T's rounding of the block's true mean (Σd is small next to nb·m̃, and
// each lane adds at most 32 terms in T); a constant block gives d = 0, mean = x and M2 = 0
// exactly. A quarter's mean lies within √(3·M2/nb) of the block's (Cauchy–Schwarz), so the
// subtraction costs M2 at most 2 bits.
struct Moments {
  double count, mean, m2;
};

inline void moments_merge(Moments& a, double nb, double mb, double m2b) {
  const double tot = a.count + nb;
  if (tot == 0) return;
  if (a.count == 0) {
    a = Moments{nb, mb, m2b};
    return;
  }
  const double d = mb - a.mean;
  if (!(d - d == 0)) {
    // an infinite (or NaN) mean on either side: the weighted mean keeps +inf + finite = +inf
    // (torch's running mean of a channel holding +inf is inf, not the NaN of inf - inf)
    a.mean = a.mean * (a.count / tot) + mb * (nb / tot);
    a.m2 = d * d + m2b + a.m2;
    a.count = tot;
    return;
  }
  a.mean += d * (nb / tot);
  a.m2 += m2b + d * d * (a.count * nb / tot);
  a.count = tot;
}

template <class T>
inline Moments span_moments(const T* x, int64_t n) {
  Moments r{0, 0, 0};
  constexpr int64_t B = 128 * simd::Vec<T>::N;
  for (int64_t b = 0; b < n; b += B) {
    const int64_t nb = n - b < B ? n - b : B;
    const double nbd = static_cast<double>(nb);
    int64_t ns;
    const T mt = static_cast<T>(static_cast<double>(vsum_quarter(x + b, nb, ns)) /
                                static_cast<double>(ns));
    T s1, s2;
    vshifted(x + b, nb, mt, s1, s2);
    const double d1 = static_cast<double>(s1);
    double mb = static_cast<double>(mt) + d1 / nbd;
    // an inf/NaN (or a sum past T's range) in the block: the plain mean, so that a block
    // holding +inf keeps mean +inf (torch's running mean), not the NaN of inf − inf
    if (!(mb - mb == 0)) mb = static_cast<double>(vsum(x + b, nb)) / nbd;
    double q = static_cast<double>(s2) - d1 * (d1 / nbd);
    if (q < 0) q = 0;
    moments_merge(r, nbd, mb, q);
  }
  return r;
}

// y = (x − m)·s + t over n values: the difference first, so x == m gives t exactly
template <class T>
inline void vaffine_centered(const T* x, int64_t n, T m, T s, T t, T* y) {
  using V = simd::Vec<T>;
  constexpr int W = V::N;
  const V vm = V(m), vs = V(s), vt = V(t);
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    simd::mul_add(V::load(x + i) - vm, vs, vt).store(y + i);
    simd::mul_add(V::load(x + i + W) - vm, vs, vt).store(y + i + W);
  }
  for (; i + W <= n; i += W) simd::mul_add(V::load(x + i) - vm, vs, vt).store(y + i);
  if (i < n) simd::mul_add(V::load(x + i, n - i, m) - vm, vs, vt).store(y + i, n - i);
}

// The activation a fused batch-norm forward applies to its output: none, ReLU (max(0, y)) or
// a clamp to [lo, hi] (ReLU6, Hardtanh), each the same expression as the eltwise kernel's
// functor (eltwise_impl.h), so a fused result is bitwise the unfused one.
template <class T, int A>
struct OutAct {
  using V = Vec<T>;
  V lo, hi;
  OutAct(T l, T h) : lo(V(l)), hi(V(h)) {}
  V operator()(V y) const {
    if constexpr (A == kActRelu) return simd::max(V(0), y);
    else if constexpr (A == kActClamp) return simd::min(hi, simd::max(lo, y));
    else return y;
  }
};

// The gradient a fused batch-norm backward reads: g itself (A = kActNone), or g masked by the
// activation that followed the batch norm. The activation's input y = x·scale[c] + shift[c] is
// recomputed from the batch norm's input x (xs) with the forward's own per-channel scale and
// shift (ss: scale[0..C), shift[C..2C)) and the forward's mul_add, so it is bitwise the value
// the activation saw, and the activation's output is never read (one array fewer in both
// sweeps). ReLU passes g unless y <= 0 (a NaN passes, as torch's threshold_backward), a clamp
// passes g where lo < y < hi: the same as the eltwise backward functors' selects on the
// activation's output (relu(y) <= 0 iff y <= 0; lo < clamp(y) < hi iff lo < y < hi), so fused
// equals unfused bitwise. The channel of a view comes from its offset: S == 1 (rows of C
// values) per column, else per plane of S values.
template <class T, int A>
struct GradIn {
  using V = Vec<T>;
  const T* g;
  const T* xs = nullptr;
  T lo = T(0), hi = T(0);
  const T* ss = nullptr;
  int64_t S = 0, C = 0;
  const T* cs = nullptr;  // S == 1: the view's per-column scale and shift
  const T* cf = nullptr;
  T a = T(0), b = T(0);   // S > 1: the view's plane scale and shift
  GradIn at(int64_t off) const {
    GradIn r = *this;
    r.g = g + off;
    if constexpr (A != kActNone) {
      r.xs = xs + off;
      if (S == 1) {
        r.cs = ss + off % C;
        r.cf = ss + C + off % C;
      } else {
        const int64_t c = (off / S) % C;
        r.a = ss[c];
        r.b = ss[C + c];
      }
    }
    return r;
  }
  V pre(int64_t i) const {  // the activation's input at i..i+W
    if (S == 1) return simd::mul_add(V::load(xs + i), V::load(cs + i), V::load(cf + i));
    return simd::mul_add(V::load(xs + i), V(a), V(b));
  }
  V pre(int64_t i, int64_t n) const {
    if (S == 1)
      return simd::mul_add(V::load(xs + i, n, T(0)), V::load(cs + i, n, T(0)),
                           V::load(cf + i, n, T(0)));
    return simd::mul_add(V::load(xs + i, n, T(0)), V(a), V(b));
  }
  V mask(V yv, V gv) const {
    if constexpr (A == kActRelu) return simd::select(yv <= V(0), V(0), gv);
    else if constexpr (A == kActClamp) return simd::select((yv > V(lo)) & (yv < V(hi)), gv, V(0));
    else return gv;
  }
  V load(int64_t i) const {
    if constexpr (A == kActNone) return V::load(g + i);
    else return mask(pre(i), simd::plain(V::load(g + i)));
  }
  V load(int64_t i, int64_t n) const {  // the first n values, the rest 0
    if constexpr (A == kActNone) return V::load(g + i, n, T(0));
    else return mask(pre(i, n), V::load(g + i, n, T(0)));
  }
};

using simd::put;  // a non-temporal store when its template argument is true

// Non-temporal stores for the planes of a fresh output of at least simd::kStreamBytes: they
// skip the read-for-ownership of its lines. Each plane of S values must start on a 64-byte
// boundary (S·sizeof(T) a multiple of 64, y aligned); the masked tail of a plane is a plain
// store.
template <class T>
inline bool stream_planes(const T* y, int64_t n, int64_t S) {
  return FASTDL_SIMD_LEVEL > 0 && n * static_cast<int64_t>(sizeof(T)) >= simd::kStreamBytes &&
         (S * static_cast<int64_t>(sizeof(T))) % 64 == 0 &&
         (reinterpret_cast<uintptr_t>(y) % 64) == 0;
}

// y = act(x·s + t) over n values (plain stores only: streaming its output measured 0.90-0.92x
// at 2 threads on 8x256x56x56, 8x64x112x112 and 16x144x56x56, against 1.09-1.12x for the
// same planes with a residual read, and for the backward's gx)
template <int A, class T>
inline void vaffine(const T* x, int64_t n, T s, T t, T* y, const OutAct<T, A>& act) {
  using V = simd::Vec<T>;
  constexpr int W = V::N;
  const V vs = V(s), vt = V(t);
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    act(simd::mul_add(V::load(x + i), vs, vt)).store(y + i);
    act(simd::mul_add(V::load(x + i + W), vs, vt)).store(y + i + W);
  }
  for (; i + W <= n; i += W) act(simd::mul_add(V::load(x + i), vs, vt)).store(y + i);
  if (i < n) act(simd::mul_add(V::load(x + i, n - i, T(0)), vs, vt)).store(y + i, n - i);
}

constexpr int64_t kGrain = kChunkWork;  // elements of work per parallel chunk (grain_for)
using simd::kLaneTerms;

// sg = Σ g, sgx = Σ g·(x − m), in double across blocks of (2 * W * kLaneTerms).
template <class T, int A = kActNone>
inline void plane_sums(const GradIn<T, A>& g, const T* x, int64_t n, T m, double& sg,
                       double& sgx) {
  using V = Vec<T>;
  constexpr int W = V::N;
  const V vm = V(m);
  double tg = 0, tgx = 0;
  for (int64_t b = 0; b < n; b += (2 * W * kLaneTerms)) {
    const int64_t e = n - b < (2 * W * kLaneTerms) ? n : b + (2 * W * kLaneTerms);
    V a0 = V(0), a1 = V(0), c0 = V(0), c1 = V(0);
    int64_t i = b;
    for (; i + 2 * W <= e; i += 2 * W) {
      V g0 = g.load(i), g1 = g.load(i + W);
      a0 = a0 + g0;
      a1 = a1 + g1;
      c0 = simd::mul_add(g0, (V::load(x + i) - vm), c0);
      c1 = simd::mul_add(g1, (V::load(x + i + W) - vm), c1);
    }
    for (; i + W <= e; i += W) {
      V g0 = g.load(i);
      a0 = a0 + g0;
      c0 = simd::mul_add(g0, (V::load(x + i) - vm), c0);
    }
    if (i < e) {
      V g0 = g.load(i, e - i);
      a1 = a1 + g0;
      c1 = simd::mul_add(g0, (V::load(x + i, e - i, m) - vm), c1);
    }
    tg += static_cast<double>(simd::hsum(a0 + a1));
    tgx += static_cast<double>(simd::hsum(c0 + c1));
  }
  sg = tg;
  sgx = tgx;
}

// y = a·g + b·x + c over n values
template <class T, int A = kActNone, bool St = false>
inline void vaffine2(const GradIn<T, A>& g, const T* x, int64_t n, T a, T b, T c, T* y) {
  using V = Vec<T>;
  constexpr int W = V::N;
  const V va = V(a), vb = V(b), vc = V(c);
  int64_t i = 0;
  for (; i + W <= n; i += W)
    put<St>(simd::mul_add(va, g.load(i), simd::mul_add(vb, V::load(x + i), vc)), y + i);
  if (i < n)
    simd::mul_add(va, g.load(i, n - i), simd::mul_add(vb, V::load(x + i, n - i, T(0)), vc)).store(y + i, n - i);
}

// y[j] = act(x[j]·s[j] + t[j])
template <int A, class T>
inline void vaffine_rows(const T* x, int64_t n, const T* s, const T* t, T* y,
                         const OutAct<T, A>& act) {
  using V = Vec<T>;
  constexpr int W = V::N;
  int64_t i = 0;
  for (; i + W <= n; i += W) act(simd::mul_add(V::load(x + i), V::load(s + i), V::load(t + i))).store(y + i);
  if (i < n)
    act(simd::mul_add(V::load(x + i, n - i, T(0)), V::load(s + i, n - i, T(0)), V::load(t + i, n - i, T(0)))).store(y + i, n - i);
}

// vaffine_rows over nr consecutive rows of C values, four rows at a time: each column
// vector's s and t are loaded once per four rows and the loop runs once per four rows (rows
// of few channels, such as channels-last activations' NHWC rows, spend little time per row).
template <int A, class T>
inline void vaffine_rowblock(const T* x, int64_t nr, int64_t C, const T* s, const T* t, T* y,
                             const OutAct<T, A>& act) {
  using V = Vec<T>;
  constexpr int W = V::N;
  int64_t r = 0;
  for (; r + 4 <= nr; r += 4) {
    const T* xr = x + r * C;
    T* yr = y + r * C;
    int64_t i = 0;
    for (; i + W <= C; i += W) {
      const V sv = V::load(s + i), tv = V::load(t + i);
      for (int q = 0; q < 4; ++q)
        act(simd::mul_add(V::load(xr + q * C + i), sv, tv)).store(yr + q * C + i);
    }
    if (i < C) {
      const int64_t m = C - i;
      const V sv = V::load(s + i, m, T(0)), tv = V::load(t + i, m, T(0));
      for (int q = 0; q < 4; ++q)
        act(simd::mul_add(V::load(xr + q * C + i, m, T(0)), sv, tv)).store(yr + q * C + i, m);
    }
  }
  for (; r < nr; ++r) vaffine_rows(x + r * C, C, s, t, y + r * C, act);
}

// y[j] = a[j]·g[j] + b[j]·x[j] + c[j]
template <class T, int A>
inline void vaffine2_rows(const GradIn<T, A>& g, const T* x, int64_t n, const T* a, const T* b,
                          const T* c, T* y) {
  using V = Vec<T>;
  constexpr int W = V::N;
  int64_t i = 0;
  for (; i + W <= n; i += W)
    simd::mul_add(V::load(a + i), g.load(i), simd::mul_add(V::load(b + i), V::load(x + i), V::load(c + i))).store(y + i);
  if (i < n) {
    const int64_t t = n - i;
    simd::mul_add(V::load(a + i, t, T(0)), g.load(i, t),
                  simd::mul_add(V::load(b + i, t, T(0)), V::load(x + i, t, T(0)), V::load(c + i, t, T(0)))).store(y + i, t);
  }
}

// ---------------------------------------------------------------------------------------
// Batch norm

// S == 1 (rows of C values: BatchNorm1d, and channels-last activations as (N·H·W, C)):
// tasks of (kBnRowChunk rows × kBnColBlock columns), vectorised over columns. Per block of
// kBnStatRows rows one pass in T vectors with the mean mt of its first rows as the shift (as
// span_moments shifts a plane's block): s1 = Σ (x − mt), s2 = Σ (x − mt)² (and Σ x for a
// block holding inf/NaN); the block's (mean, M2) = (mt + s1/n, s2 − s1²/n) are merged in
// double per column, block after block, then the chunks' moments in chunk order (values
// near the shift, like the integers of a test, give exact moments). Tasks are functions of
// the shape only: bitwise thread-independent.
constexpr int64_t kBnRowChunk = 512, kBnColBlock = 256, kBnStatRows = 64;

// bn_rows_stats' sums over rows [rb, re) of the KG column vectors from v0 (columns j < cn;
// x at the block's first column): the shift mt (the mean of the first 4 rows, exact for small
// integers, or the first row), sm = Σ x, s1 = Σ (x − mt), s2 = Σ (x − mt)², in T.
template <int KG, class T>
inline void bn_stats_group(const T* x, int64_t C, int64_t rb, int64_t re, int64_t v0,
                           int64_t cn, T* mt, T* sm, T* s1, T* s2) {
  using V = Vec<T>;
  constexpr int W = V::N;
  auto ld = [&](const T* row, int q) {
    const int64_t j = (v0 + q) * W, m = cn - j < W ? cn - j : W;
    return m == W ? V::load(row + j) : V::load(row + j, m, T(0));
  };
  V c[KG], a[KG], b[KG], sum[KG];
  for (int q = 0; q < KG; ++q) {
    c[q] = re - rb >= 4 ? (ld(x + rb * C, q) + ld(x + (rb + 1) * C, q) +
                           (ld(x + (rb + 2) * C, q) + ld(x + (rb + 3) * C, q))) * V(T(0.25))
                        : ld(x + rb * C, q);
    a[q] = b[q] = sum[q] = V(T(0));
  }
  for (int64_t r = rb; r < re; ++r)
    for (int q = 0; q < KG; ++q) {
      const V xv = ld(x + r * C, q), d = xv - c[q];
      sum[q] = sum[q] + xv;
      a[q] = a[q] + d;
      b[q] = simd::mul_add(d, d, b[q]);
    }
  for (int q = 0; q < KG; ++q) {
    const int64_t j = (v0 + q) * W;
    c[q].store(mt + j);
    sum[q].store(sm + j);
    a[q].store(s1 + j);
    b[q].store(s2 + j);
  }
}

template <class T>
void bn_rows_stats(const T* x, int64_t N, int64_t C, T* mean, T* var) {
  using V = Vec<T>;
  constexpr int W = V::N;
  const int64_t nch = (N + kBnRowChunk - 1) / kBnRowChunk;
  const int64_t ncb = (C + kBnColBlock - 1) / kBnColBlock;
  PoolBuf buf(sizeof(Moments) * static_cast<size_t>(nch * C));
  Moments* part = buf.as<Moments>();
  fastdl::parallel_for(nch * ncb, 1, [&](int64_t t0, int64_t t1) {
    alignas(64) T mt[kBnColBlock], s1[kBnColBlock], s2[kBnColBlock], sm[kBnColBlock];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t ch = t / ncb, c0 = (t % ncb) * kBnColBlock;
      const int64_t cn = C - c0 < kBnColBlock ? C - c0 : kBnColBlock, nv = (cn + W - 1) / W;
      const int64_t r0 = ch * kBnRowChunk, r1 = N - r0 < kBnRowChunk ? N : r0 + kBnRowChunk;
      Moments* mo = part + ch * C + c0;
      for (int64_t j = 0; j < cn; ++j) mo[j] = Moments{0, 0, 0};
      for (int64_t rb = r0; rb < r1; rb += kBnStatRows) {
        const int64_t re = r1 - rb < kBnStatRows ? r1 : rb + kBnStatRows;
        // four column vectors at a time over the block's rows (the accumulators and shifts in
        // registers; the block, kBnStatRows × C values, stays in L1/L2)
        int64_t v0 = 0;
        for (; v0 + 4 <= nv; v0 += 4) bn_stats_group<4>(x + c0, C, rb, re, v0, cn, mt, sm, s1, s2);
        switch (nv - v0) {
          case 3: bn_stats_group<3>(x + c0, C, rb, re, v0, cn, mt, sm, s1, s2); break;
          case 2: bn_stats_group<2>(x + c0, C, rb, re, v0, cn, mt, sm, s1, s2); break;
          case 1: bn_stats_group<1>(x + c0, C, rb, re, v0, cn, mt, sm, s1, s2); break;
          default: break;
        }
        const double nbd = static_cast<double>(re - rb);
        for (int64_t j = 0; j < cn; ++j) {
          const double d1 = static_cast<double>(s1[j]);
          double mb = static_cast<double>(mt[j]) + d1 / nbd;
          // an inf/NaN in the block: the plain mean (as span_moments)
          if (!(mb - mb == 0)) mb = static_cast<double>(sm[j]) / nbd;
          double q = static_cast<double>(s2[j]) - d1 * (d1 / nbd);
          if (q < 0) q = 0;
          moments_merge(mo[j], nbd, mb, q);
        }
      }
    }
  });
  fastdl::parallel_for(C, grain_for(nch), [&](int64_t b0, int64_t b1) {
    for (int64_t c = b0; c < b1; ++c) {
      Moments r{0, 0, 0};
      for (int64_t ch = 0; ch < nch; ++ch) {
        const Moments& m = part[ch * C + c];
        moments_merge(r, m.count, m.mean, m.m2);
      }
      mean[c] = static_cast<T>(r.mean);
      var[c] = static_cast<T>(r.m2 / r.count);
    }
  });
}

template <class T>
void bn_stats_k(const T* x, int64_t N, int64_t C, int64_t S, T* mean, T* var) {
  if (S == 1) return bn_rows_stats(x, N, C, mean, var);
  const int64_t P = N * C;
  PoolBuf buf(sizeof(double) * 2 * static_cast<size_t>(P));
  double* pm = buf.as<double>();
  double* pq = pm + P;
  fastdl::parallel_for(P, grain_for(S), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const Moments m = span_moments(x + p * S, S);
      pm[p] = m.mean;
      pq[p] = m.m2;
    }
  });
  fastdl::parallel_for(C, grain_for(N), [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      Moments r{0, 0, 0};
      for (int64_t n = 0; n < N; ++n)
        moments_merge(r, static_cast<double>(S), pm[n * C + c], pq[n * C + c]);
      mean[c] = static_cast<T>(r.mean);
      var[c] = static_cast<T>(r.m2 / r.count);
    }
  });
}

template <int A, class T>
void bn_affine_a(const T* x, int64_t N, int64_t C, int64_t S, const T* scale, const T* shift,
                 T* y, T lo, T hi) {
  const OutAct<T, A> act(lo, hi);
  if (S == 1) {
    fastdl::parallel_for(N, grain_for(C), [&](int64_t b, int64_t e) {
      vaffine_rowblock(x + b * C, e - b, C, scale, shift, y + b * C, act);
    });
    return;
  }
  fastdl::parallel_for(N * C, grain_for(S), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const int64_t c = p % C;
      vaffine(x + p * S, S, scale[c], shift[c], y + p * S, act);
    }
  });
}

// y = act(x·scale[c] + shift[c]), act one of kActNone, kActRelu, kActClamp (to [lo, hi])
template <class T>
void bn_affine_k(const T* x, int64_t N, int64_t C, int64_t S, const T* scale, const T* shift,
                 T* y, int act, T lo, T hi) {
  if (act == kActRelu) bn_affine_a<kActRelu>(x, N, C, S, scale, shift, y, lo, hi);
  else if (act == kActClamp) bn_affine_a<kActClamp>(x, N, C, S, scale, shift, y, lo, hi);
  else bn_affine_a<kActNone>(x, N, C, S, scale, shift, y, lo, hi);
}

// y = act(x·scale[c] + shift[c] + r): a batch norm's output, a residual added to it and the
// activation after the sum, in one pass; with RA the residual is itself a batch norm's output,
// r·rscale[c] + rshift[c] (a ResNet's downsample branch). Each step is the unfused one's
// (bn_affine's mul_add for each side, then the eltwise add, then OutAct), so the result is
// bitwise that of the separate passes.
template <int A, class T, bool RA, bool St = false>
inline void vaffine_res(const T* x, int64_t n, T s, T t, const T* r, T rs, T rt, T* y,
                        const OutAct<T, A>& act) {
  using V = Vec<T>;
  constexpr int W = V::N;
  const V vs = V(s), vt = V(t), vrs = V(rs), vrt = V(rt);
  auto res = [&](V v) { return RA ? simd::mul_add(v, vrs, vrt) : v; };
  int64_t i = 0;
  for (; i + W <= n; i += W)
    put<St>(act(simd::mul_add(V::load(x + i), vs, vt) + res(V::load(r + i))), y + i);
  if (i < n)
    act(simd::mul_add(V::load(x + i, n - i, T(0)), vs, vt) + res(V::load(r + i, n - i, T(0))))
        .store(y + i, n - i);
}

// The same on rows of C values (S == 1: channels-last NHWC rows, BatchNorm1d), per column.
template <int A, class T, bool RA>
inline void vaffine_res_rows(const T* x, int64_t nr, int64_t C, const T* s, const T* t,
                             const T* r, const T* rs, const T* rt, T* y,
                             const OutAct<T, A>& act) {
  using V = Vec<T>;
  constexpr int W = V::N;
  for (int64_t row = 0; row < nr; ++row) {
    const T* xr = x + row * C;
    const T* rr = r + row * C;
    T* yr = y + row * C;
    int64_t i = 0;
    for (; i + W <= C; i += W) {
      V rv = V::load(rr + i);
      if constexpr (RA) rv = simd::mul_add(rv, V::load(rs + i), V::load(rt + i));
      act(simd::mul_add(V::load(xr + i), V::load(s + i), V::load(t + i)) + rv).store(yr + i);
    }
    if (i < C) {
      const int64_t m = C - i;
      V rv = V::load(rr + i, m, T(0));
      if constexpr (RA)
        rv = simd::mul_add(rv, V::load(rs + i, m, T(0)), V::load(rt + i, m, T(0)));
      act(simd::mul_add(V::load(xr + i, m, T(0)), V::load(s + i, m, T(0)),
                        V::load(t + i, m, T(0))) + rv)
          .store(yr + i, m);
    }
  }
}

template <int A, bool RA, class T>
void bn_affine_res_a(const T* x, int64_t N, int64_t C, int64_t S, const T* scale,
                     const T* shift, const T* r, const T* rss, T* y, T lo, T hi) {
  const OutAct<T, A> act(lo, hi);
  const T* rsc = RA ? rss : nullptr;
  const T* rsh = RA ? rss + C : nullptr;
  if (S == 1) {
    fastdl::parallel_for(N, grain_for(C), [&](int64_t b, int64_t e) {
      vaffine_res_rows<A, T, RA>(x + b * C, e - b, C, scale, shift, r + b * C, rsc, rsh,
                                 y + b * C, act);
    });
    return;
  }
  auto plane = [&](auto stream, int64_t p) {
    const int64_t c = p % C;
    vaffine_res<A, T, RA, decltype(stream)::value>(x + p * S, S, scale[c], shift[c], r + p * S,
                                                   RA ? rsc[c] : T(0), RA ? rsh[c] : T(0),
                                                   y + p * S, act);
  };
  if (stream_planes(y, N * C * S, S)) {
    fastdl::parallel_for(N * C, grain_for(S), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) plane(std::true_type{}, p);
      simd::stream_fence();
    });
    return;
  }
  fastdl::parallel_for(N * C, grain_for(S), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) plane(std::false_type{}, p);
  });
}

// y = act(x·scale[c] + shift[c] + r'), r' = r, or r·rss[0][c] + rss[1][c] when rss is given
template <class T>
void bn_affine_res_k(const T* x, int64_t N, int64_t C, int64_t S, const T* scale,
                     const T* shift, const T* r, const T* rss, T* y, int act, T lo, T hi) {
  if (rss) {
    if (act == kActRelu) bn_affine_res_a<kActRelu, true>(x, N, C, S, scale, shift, r, rss, y, lo, hi);
    else if (act == kActClamp) bn_affine_res_a<kActClamp, true>(x, N, C, S, scale, shift, r, rss, y, lo, hi);
    else bn_affine_res_a<kActNone, true>(x, N, C, S, scale, shift, r, rss, y, lo, hi);
    return;
  }
  if (act == kActRelu) bn_affine_res_a<kActRelu, false>(x, N, C, S, scale, shift, r, rss, y, lo, hi);
  else if (act == kActClamp) bn_affine_res_a<kActClamp, false>(x, N, C, S, scale, shift, r, rss, y, lo, hi);
  else bn_affine_res_a<kActNone, false>(x, N, C, S, scale, shift, r, rss, y, lo, hi);
}

// sum_g[c] = Σ_k pg[k·C + c], sum_gxc[c] = Σ_k pgx[k·C + c] over nparts parts, in part order.
inline void sum_parts(const double* pg, const double* pgx, int64_t nparts, int64_t C,
                      double* sum_g, double* sum_gxc) {
  fastdl::parallel_for(C, grain_for(nparts), [&](int64_t b, int64_t e) {
    for (int64_t c = b; c < e; ++c) {
      double a = 0, q = 0;
      for (int64_t k = 0; k < nparts; ++k) {
        a += pg[k * C + c];
        q += pgx[k * C + c];
      }
      sum_g[c] = a;
      sum_gxc[c] = q;
    }
  });
}

// S == 1 (rows of C values: BatchNorm1d, and channels-last activations as (N·H·W, C)): tasks
// of (kBnRowChunk rows × kBnColBlock columns), each summing kLaneTerms rows at a time in T
// vectors into double partials; the chunks' partials are then added in chunk order per
// column. Chunks and blocks are functions of the shape only: bitwise thread-independent.

template <class T, int A>
void bn_rows_reduce(const GradIn<T, A>& g, const T* x, int64_t N, int64_t C, const T* mean,
                    double* sum_g, double* sum_gxc) {
  using V = Vec<T>;
  constexpr int W = V::N;
  const int64_t nch = (N + kBnRowChunk - 1) / kBnRowChunk, ncb = (C + kBnColBlock - 1) / kBnColBlock;
  PoolBuf buf(sizeof(double) * 2 * static_cast<size_t>(nch * C));
  double* pg = buf.as<double>();
  double* pgx = pg + nch * C;
  fastdl::parallel_for(nch * ncb, 1, [&](int64_t t0, int64_t t1) {
    constexpr int64_t NV = kBnColBlock / W;
    V ag[NV], agx[NV];
    alignas(64) T tg[kBnColBlock], tgx[kBnColBlock];
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t ch = t / ncb, c0 = (t % ncb) * kBnColBlock;
      const int64_t cn = C - c0 < kBnColBlock ? C - c0 : kBnColBlock, nv = (cn + W - 1) / W;
      const int64_t r0 = ch * kBnRowChunk, r1 = N - r0 < kBnRowChunk ? N : r0 + kBnRowChunk;
      double* dg = pg + ch * C + c0;
      double* dgx = pgx + ch * C + c0;
      for (int64_t j = 0; j < cn; ++j) dg[j] = dgx[j] = 0;
      for (int64_t rb = r0; rb < r1; rb += kLaneTerms) {
        const int64_t re = r1 - rb < kLaneTerms ? r1 : rb + kLaneTerms;
        for (int64_t v = 0; v < nv; ++v) ag[v] = agx[v] = V(0);
        for (int64_t r = rb; r < re; ++r) {
          const GradIn<T, A> gr = g.at(r * C + c0);
          const T* xr = x + r * C + c0;
          for (int64_t v = 0; v < nv; ++v) {
            const int64_t j = v * W, m = cn - j < W ? cn - j : W;
            const V gv = m == W ? gr.load(j) : gr.load(j, m);
            const V xc = (m == W ? V::load(xr + j) : V::load(xr + j, m, T(0))) -
                         (m == W ? V::load(mean + c0 + j) : V::load(mean + c0 + j, m, T(0)));
            ag[v] = ag[v] + gv;
            agx[v] = simd::mul_add(gv, xc, agx[v]);
          }
        }
        for (int64_t v = 0; v < nv; ++v) {
          ag[v].store(tg + v * W);
          agx[v].store(tgx + v * W);
        }
        for (int64_t j = 0; j < cn; ++j) {
          dg[j] += static_cast<double>(tg[j]);
          dgx[j] += static_cast<double>(tgx[j]);
        }
      }
    }
  });
  sum_parts(pg, pgx, nch, C, sum_g, sum_gxc);
}

template <class T, int A>
void bn_backward_reduce_a(const GradIn<T, A>& g, const T* x, int64_t N, int64_t C, int64_t S,
                          const T* mean, double* sum_g, double* sum_gxc) {
  if (S == 1) return bn_rows_reduce(g, x, N, C, mean, sum_g, sum_gxc);
  const int64_t P = N * C;
  PoolBuf buf(sizeof(double) * 2 * static_cast<size_t>(P));
  double* pg = buf.as<double>();
  double* pgx = pg + P;
  fastdl::parallel_for(P, grain_for(2 * S), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) plane_sums(g.at(p * S), x + p * S, S, mean[p % C], pg[p], pgx[p]);
  });
  sum_parts(pg, pgx, N, C, sum_g, sum_gxc);
}

template <class T>
void bn_backward_reduce_k(const T* g, const T* x, int64_t N, int64_t C, int64_t S, const T* mean,
                          double* sum_g, double* sum_gxc) {
  bn_backward_reduce_a(GradIn<T, kActNone>{g}, x, N, C, S, mean, sum_g,
                       sum_gxc);
}

template <class T, int A>
void bn_backward_apply_a(const GradIn<T, A>& g, const T* x, int64_t N, int64_t C, int64_t S,
                         const T* k1, const T* k2, const T* k3, T* gx) {
  if (S == 1) {
    fastdl::parallel_for(N, grain_for(2 * C), [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) vaffine2_rows(g.at(r * C), x + r * C, C, k1, k2, k3, gx + r * C);
    });
    return;
  }
  if (stream_planes(gx, N * C * S, S)) {
    fastdl::parallel_for(N * C, grain_for(2 * S), [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        const int64_t c = p % C;
        vaffine2<T, A, true>(g.at(p * S), x + p * S, S, k1[c], k2[c], k3[c], gx + p * S);
      }
      simd::stream_fence();
    });
    return;
  }
  fastdl::parallel_for(N * C, grain_for(2 * S), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const int64_t c = p % C;
      vaffine2(g.at(p * S), x + p * S, S, k1[c], k2[c], k3[c], gx + p * S);
    }
  });
}

template <class T>
void bn_backward_apply_k(const T* g, const T* x, int64_t N, int64_t C, int64_t S, const T* k1,
                         const T* k2, const T* k3, T* gx) {
  bn_backward_apply_a(GradIn<T, kActNone>{g}, x, N, C, S, k1, k2, k3, gx);
}

// Training forward and backward in one call each: a statistics sweep over the planes, then
// an elementwise sweep (x is read twice; the sweeps stream contiguous memory). A variant that
// did each channel whole while it sat in L2 (x read once) measured slower here, twice: a
// channel is N planes of S values strided C·S apart, and those strided runs defeat the
// hardware prefetcher (and a power-of-two stride maps them all onto the same cache sets).
// Measured on Zen 4 at 1 thread (train forward / forward+backward, ms, sweeps vs per
// channel with up to 256 KB per channel): 32x64x32x32 0.47/2.7 vs 2.1/5.0, 8x256x56x56
// 3.3/9.6 vs 5.3/12.2, 16x144x56x56 3.5/11.5 vs 6.3/14.7. Again on Zen 5 (train forward,
// 1 thread, sweeps / per channel, ms): 16x144x56x56 1.86 / 2.47, 8x256x56x56 1.52 / 1.97,
// 16x96x112x112 6.10 / 6.49 (2 threads: 1.02-1.15x the other way); and for planes of at most
// 256 values, where a channel sits in L1 (forward and backward, 13 shapes of MobileNetV2 and
// ResNet-50 weighted by their counts): the per-channel pass 0.77x the sweeps' speed at 1
// thread, 0.89x at 2.
template <class T>
inline void bn_coef_fwd(T mean, T var, T w, T b, double eps, T& invstd, T& scale, T& shift) {
  const double r = 1.0 / ssqrt(static_cast<double>(var) + eps);
  invstd = static_cast<T>(r);
  scale = static_cast<T>(static_cast<double>(w) * r);
  shift = static_cast<T>(static_cast<double>(b) - static_cast<double>(mean) * static_cast<double>(w) * r);
}

template <class T>
void bn_train_forward_k(const T* x, int64_t N, int64_t C, int64_t S, const T* w, const T* b,
                        double eps, T* y, T* mean, T* var, T* invstd, T* ss, int act, T lo,
                        T hi) {
  bn_stats_k(x, N, C, S, mean, var);
  PoolBuf buf(ss ? 0 : sizeof(T) * 2 * static_cast<size_t>(C));
  T* scale = ss ? ss : buf.as<T>();
  T* shift = scale + C;
  for (int64_t c = 0; c < C; ++c) bn_coef_fwd(mean[c], var[c], w[c], b[c], eps, invstd[c], scale[c], shift[c]);
  if (y) bn_affine_k(x, N, C, S, scale, shift, y, act, lo, hi);
}

// gx = k1·g + k2·x + k3 with the batch-statistics coefficients of channel c
template <class T>
inline void bn_coef_bwd(double sg, double sgx, T mean, T invstd, T w, double M, T& k1, T& k2,
                        T& k3) {
  const double r = static_cast<double>(invstd), a = static_cast<double>(w) * r;
  const double b2 = -a * r * r * sgx / M;
  k1 = static_cast<T>(a);
  k2 = static_cast<T>(b2);
  k3 = static_cast<T>(-a * sg / M - b2 * static_cast<double>(mean));
}

// gx = w·invstd·(g − sum_g/M − (x − mean)·invstd²·sum_gxc/M) from the channels' sums
template <class T, int A>
void bn_train_apply_a(const GradIn<T, A>& g, const T* x, int64_t N, int64_t C, int64_t S,
                      const T* mean, const T* invstd, const T* w, T* gx, const double* sum_g,
                      const double* sum_gxc) {
  const double M = static_cast<double>(N) * static_cast<double>(S);
  PoolBuf buf(sizeof(T) * 3 * static_cast<size_t>(C));
  T* k1 = buf.as<T>();
  T* k2 = k1 + C;
  T* k3 = k2 + C;
  for (int64_t c = 0; c < C; ++c) bn_coef_bwd(sum_g[c], sum_gxc[c], mean[c], invstd[c], w[c], M, k1[c], k2[c], k3[c]);
  bn_backward_apply_a(g, x, N, C, S, k1, k2, k3, gx);
}

template <class T, int A>
void bn_train_backward_a(const GradIn<T, A>& g, const T* x, int64_t N, int64_t C, int64_t S,
                         const T* mean, const T* invstd, const T* w, T* gx, double* sum_g,
                         double* sum_gxc) {
  bn_backward_reduce_a(g, x, N, C, S, mean, sum_g, sum_gxc);
  if (gx) bn_train_apply_a(g, x, N, C, S, mean, invstd, w, gx, sum_g, sum_gxc);
}

template <class T>
void bn_train_backward_sums_k(const T* g, const T* x, int64_t N, int64_t C, int64_t S,
                              const T* mean, const T* invstd, const T* w, T* gx,
                              const double* sum_g, const double* sum_gxc) {
  bn_train_apply_a(GradIn<T, kActNone>{g}, x, N, C, S, mean, invstd, w, gx, sum_g, sum_gxc);
}

// The backward of an activation (A: ReLU or clamp, bounds lo/hi) for the gradient a + b of
// its output y read twice, at a residual block's end y = act(bn(x1) + r) (r = bn(x2) or
// another tensor): g = act'(y)·(a + b), a + b rounded once and masked as eltwise's map2_sum
// and the ReLU / Hardtanh functors do, written plane by plane; while a plane of g is in
// registers, the sums of the batch norms that formed the block's output are taken from it:
// Σ g and Σ g·(x − mean) per plane, over the blocks, accumulators and order of plane_sums
// (so each plane's sums are bitwise the ones bn_backward_reduce would read back from g),
// then summed over the planes in order (sum_parts). Bitwise the activation's backward followed
// by each batch norm's reduce, without reading g back; x2 may be nullptr (sum_gxc2 unused).
// Sum of g per channel: sum_g (the same for both batch norms).
template <class T, int A, bool St, bool Two>
inline void act_grad_plane_sums(const T* y, const T* a, const T* b, T* g, int64_t n, T lo, T hi,
                                const T* x1, T m1, const T* x2, T m2, double& sg,
                                double& sgx1, double& sgx2) {
  using V = Vec<T>;
  constexpr int W = V::N;
  const GradIn<T, A> mask{nullptr, nullptr, lo, hi};
  auto grad = [&](V yv, V av, V bv) { return mask.mask(yv, simd::plain(av + bv)); };
  const V v1 = V(m1), v2 = V(m2);
  double tg = 0, t1 = 0, t2 = 0;
  for (int64_t b0 = 0; b0 < n; b0 += (2 * W * kLaneTerms)) {
    const int64_t e = n - b0 < (2 * W * kLaneTerms) ? n : b0 + (2 * W * kLaneTerms);
    V a0 = V(0), a1 = V(0), c0 = V(0), c1 = V(0), d0 = V(0), d1 = V(0);
    int64_t i = b0;
    for (; i + 2 * W <= e; i += 2 * W) {
      const V g0 = grad(V::load(y + i), V::load(a + i), V::load(b + i));
      const V g1 = grad(V::load(y + i + W), V::load(a + i + W), V::load(b + i + W));
      put<St>(g0, g + i);
      put<St>(g1, g + i + W);
      a0 = a0 + g0;
      a1 = a1 + g1;
      c0 = simd::mul_add(g0, (V::load(x1 + i) - v1), c0);
      c1 = simd::mul_add(g1, (V::load(x1 + i + W) - v1), c1);
      if constexpr (Two) {
        d0 = simd::mul_add(g0, (V::load(x2 + i) - v2), d0);
        d1 = simd::mul_add(g1, (V::load(x2 + i + W) - v2), d1);
      }
    }
    for (; i + W <= e; i += W) {
      const V g0 = grad(V::load(y + i), V::load(a + i), V::load(b + i));
      put<St>(g0, g + i);
      a0 = a0 + g0;
      c0 = simd::mul_add(g0, (V::load(x1 + i) - v1), c0);
      if constexpr (Two) d0 = simd::mul_add(g0, (V::load(x2 + i) - v2), d0);
    }
    if (i < e) {  // (the lanes past the plane: y = 0 masks them to 0, as plane_sums' zero fill)
      const V g0 = grad(V::load(y + i, e - i, T(0)), V::load(a + i, e - i, T(0)),
                        V::load(b + i, e - i, T(0)));
      g0.store(g + i, e - i);
      a1 = a1 + g0;
      c1 = simd::mul_add(g0, (V::load(x1 + i, e - i, m1) - v1), c1);
      if constexpr (Two) d1 = simd::mul_add(g0, (V::load(x2 + i, e - i, m2) - v2), d1);
    }
    tg += static_cast<double>(simd::hsum(a0 + a1));
    t1 += static_cast<double>(simd::hsum(c0 + c1));
    if constexpr (Two) t2 += static_cast<double>(simd::hsum(d0 + d1));
  }
  sg = tg;
  sgx1 = t1;
  sgx2 = t2;
}

template <class T, int A, bool Two>
void act_grad_bn_sums_a(const T* y, const T* a, const T* b, int64_t N, int64_t C, int64_t S,
                        T lo, T hi, const T* x1, const T* m1, const T* x2, const T* m2, T* g,
                        double* sum_g, double* sum_gxc1, double* sum_gxc2) {
  const int64_t P = N * C;
  PoolBuf buf(sizeof(double) * 3 * static_cast<size_t>(P));
  double* pg = buf.as<double>();
  double* p1 = pg + P;
  double* p2 = p1 + P;
  auto run = [&](auto st, int64_t b0, int64_t e0) {
    for (int64_t p = b0; p < e0; ++p) {
      const int64_t c = p % C, o = p * S;
      act_grad_plane_sums<T, A, decltype(st)::value, Two>(
          y + o, a + o, b + o, g + o, S, lo, hi, x1 + o, m1[c], Two ? x2 + o : nullptr,
          Two ? m2[c] : T(0), pg[p], p1[p], p2[p]);
    }
  };
  if (stream_planes(g, P * S, S)) {
    fastdl::parallel_for(P, grain_for(4 * S), [&](int64_t b0, int64_t e0) {
      run(std::true_type{}, b0, e0);
      simd::stream_fence();
    });
  } else {
    fastdl::parallel_for(P, grain_for(4 * S),
                         [&](int64_t b0, int64_t e0) { run(std::false_type{}, b0, e0); });
  }
  sum_parts(pg, p1, N, C, sum_g, sum_gxc1);
  if (Two) sum_parts(pg, p2, N, C, sum_g, sum_gxc2);
}

template <class T>
void act_grad_bn_sums_k(const T* y, const T* a, const T* b, int64_t N, int64_t C, int64_t S,
                        int act, T lo, T hi, const T* x1, const T* m1, const T* x2, const T* m2,
                        T* g, double* sum_g, double* sum_gxc1, double* sum_gxc2) {
  if (S == 1) {  // rows of C values: g first, then bn_backward_reduce's own row sweep on it
    const GradIn<T, kActRelu> relu{nullptr, nullptr, lo, hi};
    const GradIn<T, kActClamp> clamp{nullptr, nullptr, lo, hi};
    using V = Vec<T>;
    constexpr int W = V::N;
    const int64_t n = N * C;
    auto one = [&](int64_t i, int64_t m) {
      const V s = simd::plain(V::load(a + i, m, T(0)) + V::load(b + i, m, T(0)));
      const V yv = V::load(y + i, m, T(0));
      (act == kActRelu ? relu.mask(yv, s) : clamp.mask(yv, s)).store(g + i, m);
    };
    fastdl::parallel_for((n + W - 1) / W, grain_for(4 * W), [&](int64_t v0, int64_t v1) {
      for (int64_t v = v0; v < v1; ++v) one(v * W, n - v * W < W ? n - v * W : W);
    });
    bn_backward_reduce_a(GradIn<T, kActNone>{g}, x1, N, C, S, m1, sum_g, sum_gxc1);
    if (x2) bn_backward_reduce_a(GradIn<T, kActNone>{g}, x2, N, C, S, m2, sum_g, sum_gxc2);
    return;
  }
  if (act == kActRelu) {
    if (x2) act_grad_bn_sums_a<T, kActRelu, true>(y, a, b, N, C, S, lo, hi, x1, m1, x2, m2, g, sum_g, sum_gxc1, sum_gxc2);
    else act_grad_bn_sums_a<T, kActRelu, false>(y, a, b, N, C, S, lo, hi, x1, m1, x2, m2, g, sum_g, sum_gxc1, sum_gxc2);
  } else {
    if (x2) act_grad_bn_sums_a<T, kActClamp, true>(y, a, b, N, C, S, lo, hi, x1, m1, x2, m2, g, sum_g, sum_gxc1, sum_gxc2);
    else act_grad_bn_sums_a<T, kActClamp, false>(y, a, b, N, C, S, lo, hi, x1, m1, x2, m2, g, sum_g, sum_gxc1, sum_gxc2);
  }
}

// The training backward with g masked by the activation (act, its bounds lo/hi) that followed
// the batch norm, its input recomputed from x with the forward's scale and shift ss (GradIn):
// the activation's backward pass and its output array are never needed, with bitwise the
// same result as running the two backwards in turn.
template <class T>
void bn_train_backward_k(const T* g, const T* x, int64_t N, int64_t C, int64_t S, const T* mean,
                         const T* invstd, const T* w, T* gx, double* sum_g, double* sum_gxc,
                         int act, const T* ss, T lo, T hi) {
  if (act == kActRelu)
    bn_train_backward_a(GradIn<T, kActRelu>{g, x, lo, hi, ss, S, C}, x, N, C, S, mean, invstd, w, gx, sum_g, sum_gxc);
  else if (act == kActClamp)
    bn_train_backward_a(GradIn<T, kActClamp>{g, x, lo, hi, ss, S, C}, x, N, C, S, mean, invstd, w, gx, sum_g, sum_gxc);
  else
    bn_train_backward_a(GradIn<T, kActNone>{g}, x, N, C, S, mean, invstd, w, gx, sum_g, sum_gxc);
}

// ---------------------------------------------------------------------------------------
// Layer norm

// Inputs or outputs of this many bytes or more are far larger than the caches: the layer- and
// group-norm sweeps below then prefetch ahead or stream their output (each place says why).
constexpr int64_t kNormLargeBytes = int64_t(16) << 20;

// Whether the layer-norm input gradient (M rows of K) goes out with non-temporal stores: when
// it is far larger than the caches (a fresh output then skips the read-for-ownership of its
// lines, a quarter of the backward's traffic) and every row starts on a cache line. Measured,
// A/B, ms 1 thread / 2 threads: 4096×1024 2.01 -> 1.75 / 1.05 -> 0.90, 2048×4096 4.90 -> 3.66
// / 2.71 -> 2.00, 8192×1024 1.01-1.08×. Not the forward: 0.88-1.00× there (its output is
// the next layer's input, read back soon).
template <class T>
inline bool ln_stream(const T* y, int64_t M, int64_t K) {
  const int64_t row = K * static_cast<int64_t>(sizeof(T));
  return M * row >= kNormLargeBytes && reinterpret_cast<uintptr_t>(y) % 64 == 0 && row % 64 == 0;
}

// How many rows ahead the layer-norm sweeps prefetch their inputs (0: not at all). A row is
// read twice, the second time from L1; the first read of each row waited on DRAM, the
// hardware prefetcher not running far enough ahead for the two streams of the backward (g
// and x) on one core. So while a row's second sweep runs, the lines of the row about 8 KB
// further on are requested; only for inputs far larger than the caches (in cache the
// prefetches cost 3-10 %). Measured, A/B, ms 1 thread / 2 threads: backward 8192×1024 4.27 ->
// 2.72 / 2.15 -> 1.33 (1 row ahead: 3.14 on 1 thread, 4 rows: 2.90), 2048×4096 5.07 -> 3.18
// / 2.92 -> 2.06, 32768×256 3.80 -> 2.38 / 2.20 -> 1.57; forward 2048×4096 2.93 -> 2.07 /
// 1.31 -> 0.97, 8192×1024 1.05-1.12×.
template <class T>
inline int64_t ln_prefetch_rows(int64_t M, int64_t K) {
  constexpr int64_t kLnPrefetchBytes = 8 << 10;
  const int64_t row = K * static_cast<int64_t>(sizeof(T));
  if (M * row < kNormLargeBytes) return 0;
  return (kLnPrefetchBytes + row - 1) / row;
}

template <class T>
void ln_forward_k(const T* x, int64_t M, int64_t K, const T* w, const T* b, double eps, T* y,
                  T* mean, T* rstd) {
  using V = Vec<T>;
  constexpr int W = V::N;
  const int64_t pf_rows = ln_prefetch_rows<T>(M, K);
  fastdl::parallel_for(M, grain_for(K), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* xr = x + r * K;
      T* yr = y + r * K;
      const bool pf = pf_rows > 0 && r + pf_rows < M;
      const char* px = reinterpret_cast<const char*>(pf ? xr + pf_rows * K : xr);
      const Moments m = span_moments(xr, K);
      const double rs = 1.0 / ssqrt(m.m2 / static_cast<double>(K) + eps);
      mean[r] = static_cast<T>(m.mean);
      rstd[r] = static_cast<T>(rs);
      // x̂ = (x − μ)·rstd: the difference first, so x == μ gives 0 exactly however large
      // rstd is (x·rstd − μ·rstd loses |x|·rstd·eps of it when the variance is ~0)
      const V vs = V(static_cast<T>(rs));
      const V vm = V(static_cast<T>(m.mean));
      int64_t i = 0;
      for (; i + W <= K; i += W) {
        if (pf && (i * static_cast<int64_t>(sizeof(T))) % 64 == 0)
          __builtin_prefetch(px + i * sizeof(T), 0, 3);
        V xh = (V::load(xr + i) - vm) * vs;
        simd::mul_add(xh, V::load(w + i), V::load(b + i)).store(yr + i);
      }
      if (i < K) {
        const int64_t t = K - i;
        V xh = (V::load(xr + i, t, T(0)) - vm) * vs;
        simd::mul_add(xh, V::load(w + i, t, T(0)), V::load(b + i, t, T(0))).store(yr + i, t);
      }
    }
  });
}

template <class T>
void ln_backward_k(const T* g, const T* x, int64_t M, int64_t K, const T* w, const T* mean,
                   const T* rstd, T* gx, T* gw, T* gb) {
  using V = Vec<T>;
  using R = V;
  constexpr int W = V::N;
  const bool want_params = gw != nullptr || gb != nullptr;
  // Rows in blocks of RB (a function of M and K only); each block accumulates its parameter-
  // gradient partials (Σ g·x̂, Σ g over its rows) kLaneTerms rows at a time in T, adds them
  // into double partials, and the blocks' double partials are summed in order.
  int64_t RB = (kGrain + K - 1) / K;
  const int64_t rb2 = (M + 63) / 64;
  if (rb2 > RB) RB = rb2;
  if (RB < 1) RB = 1;
  const int64_t nblk = (M + RB - 1) / RB;
  const size_t npart = want_params ? 2 * static_cast<size_t>(nblk * K) : 0;
  PoolBuf buf((sizeof(double) + sizeof(T)) * npart);
  const bool nt = gx && ln_stream(gx, M, K);
  const int64_t pf_rows = ln_prefetch_rows<T>(M, K);
  double* dpart = buf.as<double>();                   // per block: Σ g·x̂ (K), Σ g (K)
  T* part = reinterpret_cast<T*>(dpart + npart);      // per block: the current ≤ kLaneTerms rows
  fastdl::parallel_for(nblk, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      T* pw = part + blk * 2 * K;
      T* pb = pw + K;
      double* dw = dpart + blk * 2 * K;
      double* db = dw + K;
      auto flush = [&] {
        for (int64_t k = 0; k < K; ++k) {
          dw[k] += static_cast<double>(pw[k]);
          db[k] += static_cast<double>(pb[k]);
          pw[k] = pb[k] = T(0);
        }
      };
      if (want_params)
        for (int64_t k = 0; k < K; ++k) {
          pw[k] = pb[k] = T(0);
          dw[k] = db[k] = 0.0;
        }
      const int64_t re = (blk + 1) * RB < M ? (blk + 1) * RB : M;
      for (int64_t r = blk * RB; r < re; ++r) {
        if (want_params && r > blk * RB && (r - blk * RB) % kLaneTerms == 0) flush();
        const T* gr = g + r * K;
        const T* xr = x + r * K;
        const T mu = mean[r], rs = rstd[r];
        const R vrs = V(rs), vmu = V(mu);  // x̂ = (x − μ)·rstd, as the forward
        R vka = V(0), vkc = V(0);
        if (gx) {
          // a = Σ g·w, c = Σ g·w·x̂
          double sa = 0, sc = 0;
          for (int64_t b = 0; b < K; b += (2 * W * kLaneTerms)) {
            const int64_t e = K - b < (2 * W * kLaneTerms) ? K : b + (2 * W * kLaneTerms);
            R a0 = V(0), c0 = V(0);
            int64_t i = b;
            for (; i + W <= e; i += W) {
              R gwv = V::load(gr + i) * V::load(w + i);
              a0 = a0 + gwv;
              c0 = simd::mul_add(gwv, (V::load(xr + i) - vmu) * vrs, c0);
            }
            if (i < e) {
              R gwv = V::load(gr + i, e - i, T(0)) * V::load(w + i, e - i, T(0));
              a0 = a0 + gwv;
              c0 = simd::mul_add(gwv, (V::load(xr + i, e - i, T(0)) - vmu) * vrs, c0);
            }
            sa += static_cast<double>(simd::hsum(a0));
            sc += static_cast<double>(simd::hsum(c0));
          }
          // gx = rs·(g·w − a/K − x̂·c/K) = rs·g·w − x̂·(rs·c/K) − rs·a/K
          vka = V(static_cast<T>(-static_cast<double>(rs) * sa / static_cast<double>(K)));
          vkc = V(static_cast<T>(-static_cast<double>(rs) * sc / static_cast<double>(K)));
        }
        T* gxr = gx ? gx + r * K : nullptr;
        const bool pf = pf_rows > 0 && r + pf_rows < M;
        const char* pg = reinterpret_cast<const char*>(pf ? gr + pf_rows * K : gr);
        const char* px = reinterpret_cast<const char*>(pf ? xr + pf_rows * K : xr);
        int64_t i = 0;
        for (; i + W <= K; i += W) {
          if (pf && (i * static_cast<int64_t>(sizeof(T))) % 64 == 0) {
            __builtin_prefetch(pg + i * sizeof(T), 0, 3);
            __builtin_prefetch(px + i * sizeof(T), 0, 3);
          }
          R gv = V::load(gr + i);
          R xh = (V::load(xr + i) - vmu) * vrs;
          if (gxr) {
            const R gxv = simd::mul_add((gv * V::load(w + i)), vrs, simd::mul_add(xh, vkc, vka));
            if (nt)
              gxv.stream(gxr + i);
            else
              gxv.store(gxr + i);
          }
          if (want_params) {
            simd::mul_add(gv, xh, V::load(pw + i)).store(pw + i);
            (gv + V::load(pb + i)).store(pb + i);
          }
        }
        for (; i < K; ++i) {
          const T gv = gr[i], xh = (xr[i] - mu) * rs;
          if (gxr) {
            T ka, kc;
            (vka).store(&ka, 1);
            (vkc).store(&kc, 1);
            gxr[i] = gv * w[i] * rs + (xh * kc + ka);
          }
          if (want_params) {
            pw[i] += gv * xh;
            pb[i] += gv;
          }
        }
      }
      if (want_params) flush();
    }
    if (nt) simd::stream_fence();
  });
  if (want_params) {
    // the blocks' partials summed in block order, runs of kLnSumCols columns at a time
    // (block after block over the run: one column per block at a time stepped 16·K bytes
    // from load to load, all into one L1 set; 512×4096 backward 2.2 → 1.4 ms on 1 thread)
    constexpr int64_t kLnSumCols = 256;
    fastdl::parallel_for((K + kLnSumCols - 1) / kLnSumCols, grain_for(nblk * kLnSumCols),
                         [&](int64_t j0, int64_t j1) {
      double sw[kLnSumCols], sb[kLnSumCols];
      for (int64_t j = j0; j < j1; ++j) {
        const int64_t k0 = j * kLnSumCols, nk = K - k0 < kLnSumCols ? K - k0 : kLnSumCols;
        for (int64_t k = 0; k < nk; ++k) sw[k] = sb[k] = 0;
        for (int64_t blk = 0; blk < nblk; ++blk) {
          const double* pw = dpart + blk * 2 * K + k0;
          for (int64_t k = 0; k < nk; ++k) {
            sw[k] += pw[k];
            sb[k] += pw[K + k];
          }
        }
        for (int64_t k = 0; k < nk; ++k) {
          if (gw) gw[k0 + k] = static_cast<T>(sw[k]);
          if (gb) gb[k0 + k] = static_cast<T>(sb[k]);
        }
      }
    });
  }
}

// ---------------------------------------------------------------------------------------
// Group norm

// Requests the lines of [p, p + bytes) toward L2 (the next group's data while this group's
// second sweep runs from L1).
inline void prefetch_span_l2(const void* p, int64_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (int64_t o = 0; o < bytes; o += 64) __builtin_prefetch(c + o, 0, 2);
}

template <class T>
void gn_forward_k(const T* x, int64_t N, int64_t C, int64_t S, int64_t G, const T* w, const T* b,
                  double eps, T* y, T* mean, T* rstd) {
  const int64_t D = C / G, span = D * S;
  // inputs far larger than the caches: while a group's second sweep runs (from L1), the next
  // group's planes are requested toward L2, so its first sweep does not wait on DRAM. Measured,
  // 64×256×28² (G = 32, 51 MB), ms 1 thread / 2 threads: 3.72 -> 2.98 / 2.23 -> 1.97. (The
  // backward, two streams, measured 0.98-1.06× with the same prefetch: not done there.)
  const bool pf = N * C * S * static_cast<int64_t>(sizeof(T)) >= kNormLargeBytes;
  fastdl::parallel_for(N * G, grain_for(span), [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) {
      const int64_t n = q / G, grp = q % G;
      const T* xs = x + q * span;
      const bool pfq = pf && q + 1 < N * G;
      const Moments m = span_moments(xs, span);
      const double rs = 1.0 / ssqrt(m.m2 / static_cast<double>(span) + eps);
      mean[q] = static_cast<T>(m.mean);
      rstd[q] = static_cast<T>(rs);
      // y = (x − μ)·(rstd·w) + b: a constant group gives y = b exactly, as layer norm does
      for (int64_t d = 0; d < D; ++d) {
        const int64_t c = grp * D + d;
        const double s = rs * static_cast<double>(w[c]);
        const int64_t off = (n * C + c) * S;
        if (pfq) prefetch_span_l2(x + off + span, S * static_cast<int64_t>(sizeof(T)));
        vaffine_centered(x + off, S, mean[q], static_cast<T>(s), b[c], y + off);
      }
    }
  });
}

template <class T>
void gn_backward_k(const T* g, const T* x, int64_t N, int64_t C, int64_t S, int64_t G,
                   const T* w, const T* mean, const T* rstd, T* gx, T* gw, T* gb) {
  const int64_t D = C / G, span = D * S;
  const int64_t P = N * C;
  PoolBuf buf(sizeof(double) * 2 * static_cast<size_t>(P));
  double* pdb = buf.as<double>();  // Σ_s g           per (n, c)
  double* pds = pdb + P;           // Σ_s g·(x − μ)   per (n, c)
  fastdl::parallel_for(N * G, grain_for(2 * span), [&](int64_t q0, int64_t q1) {
    for (int64_t q = q0; q < q1; ++q) {
      const int64_t n = q / G, grp = q % G;
      const T mu = mean[q];
      const double rs = static_cast<double>(rstd[q]);
      double sg = 0, sgx = 0;
      for (int64_t d = 0; d < D; ++d) {
        const int64_t c = grp * D + d, p = n * C + c;
        plane_sums(GradIn<T, kActNone>{g + p * S}, x + p * S, S, mu,
                   pdb[p], pds[p]);
        sg += static_cast<double>(w[c]) * pdb[p];
        sgx += static_cast<double>(w[c]) * pds[p];
      }
      if (gx) {
        const double K = static_cast<double>(span);
        // gx = rs·w·g − rs³·sgx/K·(x − μ) − rs·sg/K
        const double B = -rs * rs * rs * sgx / K;
        const double Cc = -rs * sg / K - B * static_cast<double>(mu);
        for (int64_t d = 0; d < D; ++d) {
          const int64_t c = grp * D + d, off = (n * C + c) * S;
          vaffine2(GradIn<T, kActNone>{g + off}, x + off, S, static_cast<T>(rs * static_cast<double>(w[c])),
                   static_cast<T>(B), static_cast<T>(Cc), gx + off);
        }
      }
    }
  });
  if (gw || gb) {
    for (int64_t c = 0; c < C; ++c) {
      double sw = 0, sb = 0;
      for (int64_t n = 0; n < N; ++n) {
        sw += static_cast<double>(rstd[n * G + c / D]) * pds[n * C + c];
        sb += pdb[n * C + c];
      }
      if (gw) gw[c] = static_cast<T>(sw);
      if (gb) gb[c] = static_cast<T>(sb);
    }
  }
}

template <class T>
constexpr NormOpsT<T> ops_t() {
  return {&bn_stats_k<T>,    &bn_affine_k<T>,    &bn_backward_reduce_k<T>, &bn_backward_apply_k<T>,
      &ln_forward_k<T>,  &ln_backward_k<T>,  &gn_forward_k<T>,         &gn_backward_k<T>,
      &bn_train_forward_k<T>, &bn_train_backward_k<T>, &bn_affine_res_k<T>,
      &bn_train_backward_sums_k<T>, &act_grad_bn_sums_k<T>};
}

}  // namespace

// This ISA's table (declared in norm.h).
const NormOps ops = {ops_t<float>(), ops_t<double>()};

}  // namespace FASTDL_SIMD_ISA
}  // namespace norm
}  // namespace fastdl
