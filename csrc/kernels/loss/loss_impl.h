// The loss kernels, written once on the simd:: vector types (common/simd.h) and compiled
// once per ISA: loss.cpp (generic), loss_avx2.cpp and loss_avx512.cpp include this file, which
// ends with that ISA's LossOps table (declared in loss.h). Internal linkage otherwise.
//
// Threading: rows (or blocks of spatial positions) are independent; sums over elements are
// taken per fixed chunk of kChunk elements and the chunk sums added in order, so results do
// not depend on the thread count.

#pragma once
#include <cstddef>
#include <cstdint>

#include "common/allocator.h"
#include "common/parallel.h"
#include "common/simd.h"
#include "kernels/loss/loss.h"

namespace fastdl {
namespace loss {
namespace FASTDL_SIMD_ISA {
namespace {

using simd::Vec;
using simd::sexp;
using simd::slog;
using simd::ssqrt;

constexpr int64_t kChunk = 32768;  // elements per parallel chunk of the pointwise kernels
using simd::kLaneTerms;

template <class T>
inline T neg_inf() { return -__builtin_inf(); }

// The spatial paths (inputs (N, C, S), S > 1) vectorise along s: fn(n, s0, nl) runs for every
// group of nl <= W positions s0 .. s0+nl-1 of image n. Groups of 4·W positions are the
// parallel tasks; `cost` is the work per position, in elements, for the grain.
template <class T, class F>
inline void for_spatial_lanes(int64_t N, int64_t S, int64_t cost, F&& fn) {
  constexpr int64_t W = Vec<T>::N, SB = 4 * W;
  const int64_t nsb = (S + SB - 1) / SB;
  fastdl::parallel_for(N * nsb, grain_for(cost * SB), [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t n = u / nsb, sb = u % nsb;
      const int64_t end = (sb + 1) * SB < S ? (sb + 1) * SB : S;
      for (int64_t s0 = sb * SB; s0 < end; s0 += W) fn(n, s0, end - s0 < W ? end - s0 : W);
    }
  });
}

// Per-lane sums over the class axis of W spatial positions (the spatial paths): terms go
// into `v` in T, and flush() (every kLaneTerms classes) adds them into the double lanes `d`.
template <class T>
struct LaneSum {
  using V = Vec<T>;
  V v = V(0);
  double d[V::N] = {};
  void flush() {
    alignas(64) T t[V::N];
    (v).store(t);
    for (int j = 0; j < V::N; ++j) d[j] += static_cast<double>(t[j]);
    v = V(0);
  }
};

// ---------------------------------------------------------------------------------------
// Rows (S == 1): contiguous classes

template <class T>
inline T row_max(const T* x, int64_t C) {
  using V = Vec<T>;
  constexpr int W = V::N;
  V m0 = V(neg_inf<T>()), m1 = m0;
  int64_t i = 0;
  for (; i + 2 * W <= C; i += 2 * W) {
    m0 = simd::max(V::load(x + i), m0);
    m1 = simd::max(V::load(x + i + W), m1);
  }
  for (; i + W <= C; i += W) m0 = simd::max(V::load(x + i), m0);
  if (i < C) m1 = simd::max(V::load(x + i, C - i, neg_inf<T>()), m1);
  return simd::hmax(simd::max(m0, m1));
}

// se = Σ exp(x − m); when want_sx, sx = Σ w[c]·x[c] (w == nullptr: Σ x[c]).
template <class T>
inline void row_sumexp(const T* x, int64_t C, T m, const T* w, bool want_sx, double& se,
                       double& sx) {
  using V = Vec<T>;
  constexpr int W = V::N;
  const V vm = V(m);
  double tse = 0, tsx = 0;
  for (int64_t b = 0; b < C; b += (2 * W * kLaneTerms)) {
    const int64_t e = C - b < (2 * W * kLaneTerms) ? C : b + (2 * W * kLaneTerms);
    V s0 = V(0), s1 = V(0), q0 = V(0), q1 = V(0);
    int64_t i = b;
    if (!want_sx) {
      for (; i + 2 * W <= e; i += 2 * W) {
        s0 = s0 + simd::exp(V::load(x + i) - vm);
        s1 = s1 + simd::exp(V::load(x + i + W) - vm);
      }
      for (; i + W <= e; i += W) s0 = s0 + simd::exp(V::load(x + i) - vm);
      if (i < e) s1 = s1 + simd::exp(V::load(x + i, e - i, neg_inf<T>()) - vm);
    } else {
      for (; i + W <= e; i += W) {
        V xv = V::load(x + i);
        s0 = s0 + simd::exp(xv - vm);
        q0 = w ? simd::mul_add(V::load(w + i), xv, q0) : (q0 + xv);
      }
      if (i < e) {
        s1 = s1 + simd::exp(V::load(x + i, e - i, neg_inf<T>()) - vm);
        V xv = V::load(x + i, e - i, T(0));
        q1 = w ? simd::mul_add(V::load(w + i, e - i, T(0)), xv, q1) : (q1 + xv);
      }
    }
    tse += static_cast<double>(simd::hsum(s0 + s1));
    tsx += static_cast<double>(simd::hsum(q0 + q1));
  }
  se = tse;
  sx = tsx;
}

inline double wsum_of(const float* w, int64_t C) {
  double s = 0;
  for (int64_t c = 0; c < C; ++c) s += static_cast<double>(w[c]);
  return s;
}
inline double wsum_of(const double* w, int64_t C) {
  double s = 0;
  for (int64_t c = 0; c < C; ++c) s += w[c];
  return s;
}

template <class T>
inline double ce_sample_loss(double l, double xt, double wt, double eps, double ks, double wall,
                             double sx) {
  double v = (1.0 - eps) * wt * (l - xt);
  if (eps != 0) v += ks * (wall * l - sx);
  return v;
}

// ---------------------------------------------------------------------------------------
// Cross entropy, class-index targets

template <class T>
void ce_forward_k(const T* x, int64_t N, int64_t C, int64_t S, const int64_t* tgt,
                  const T* w, int64_t ignore, double eps, T* loss, T* lse) {
  using V = Vec<T>;
  constexpr int W = V::N;
  const double wall = eps != 0 ? (w ? wsum_of(w, C) : static_cast<double>(C)) : 0.0;
  const double ks = eps / static_cast<double>(C);
  const bool want_sx = eps != 0;
  if (S == 1) {
    fastdl::parallel_for(N, grain_for(C), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = x + r * C;
        const T m = row_max(xr, C);
        double se, sx;
        row_sumexp(xr, C, m, w, want_sx, se, sx);
        const T l = static_cast<T>(static_cast<double>(m) + slog(se));
        lse[r] = l;
        const int64_t t = tgt[r];
        if (t == ignore) {
          loss[r] = T(0);
          continue;
        }
        const double wt = w ? static_cast<double>(w[t]) : 1.0;
        loss[r] = static_cast<T>(ce_sample_loss<T>(static_cast<double>(l),
                                                   static_cast<double>(xr[t]), wt, eps, ks,
                                                   wall, sx));
      }
    });
    return;
  }
  // Spatial: vectorise along s, W positions at a time; classes strided by S.
  for_spatial_lanes<T>(N, S, C, [&](int64_t n, int64_t s0, int64_t nl) {
    const T* base = x + n * C * S + s0;
    V m = V(neg_inf<T>());
    for (int64_t c = 0; c < C; ++c) m = simd::max(V::load(base + c * S, nl, T(0)), m);
    LaneSum<T> s, q;
    for (int64_t cb = 0; cb < C; cb += kLaneTerms) {
      const int64_t ce = C - cb < kLaneTerms ? C : cb + kLaneTerms;
      for (int64_t c = cb; c < ce; ++c) {
        V xv = V::load(base + c * S, nl, T(0));
        s.v = s.v + simd::exp(xv - m);
        if (want_sx) q.v = w ? simd::mul_add(V(w[c]), xv, q.v) : (q.v + xv);
      }
      s.flush();
      if (want_sx) q.flush();
    }
    alignas(64) T mb[W];
    (m).store(mb);
    for (int64_t j = 0; j < nl; ++j) {
      const int64_t i = n * S + s0 + j;
      const double l = static_cast<double>(mb[j]) + slog(s.d[j]);
      lse[i] = static_cast<T>(l);
      const int64_t t = tgt[i];
      if (t == ignore) {
        loss[i] = T(0);
        continue;
      }
      const double wt = w ? static_cast<double>(w[t]) : 1.0;
      loss[i] = static_cast<T>(ce_sample_loss<T>(l, static_cast<double>(base[t * S + j]), wt,
                                                 eps, ks, wall, q.d[j]));
    }
  });
}

template <class T>
void ce_backward_k(const T* x, int64_t N, int64_t C, int64_t S, const int64_t* tgt, const T* w,
                   int64_t ignore, double eps, const T* lse, const T* g, int64_t gstride,
                   double gscale, T* gx) {
  using V = Vec<T>;
  constexpr int W = V::N;
  const double wall = eps != 0 ? (w ? wsum_of(w, C) : static_cast<double>(C)) : 0.0;
  const double ks = eps / static_cast<double>(C);
  if (S == 1) {
    fastdl::parallel_for(N, grain_for(2 * C), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = x + r * C;
        T* gr = gx + r * C;
        const int64_t t = tgt[r];
        if (t == ignore) {
          for (int64_t c = 0; c < C; ++c) gr[c] = T(0);
          continue;
        }
        const double gi = gscale * static_cast<double>(g[r * gstride]);
        const double wt = w ? static_cast<double>(w[t]) : 1.0;
        const V va = V(static_cast<T>(gi * ((1.0 - eps) * wt + ks * wall)));
        const V vb = V(static_cast<T>(gi * ks));
        const V vl = V(lse[r]);
        int64_t i = 0;
        if (eps == 0) {
          for (; i + W <= C; i += W)
            (va * simd::exp(V::load(xr + i) - vl)).store(gr + i);
          if (i < C)
            (va * simd::exp(V::load(xr + i, C - i, T(0)) - vl)).store(gr + i, C - i);
        } else {
          for (; i + W <= C; i += W) {
            V wc = w ? V::load(w + i) : V(T(1));
            simd::fnma(vb, wc, (va * simd::exp(V::load(xr + i) - vl))).store(gr + i);
          }
          if (i < C) {
            V wc = w ? V::load(w + i, C - i, T(0)) : V(T(1));
            simd::fnma(vb, wc, (va * simd::exp(V::load(xr + i, C - i, T(0)) - vl))).store(gr + i, C - i);
          }
        }
        gr[t] = static_cast<T>(static_cast<double>(gr[t]) - gi * (1.0 - eps) * wt);
      }
    });
    return;
  }
  for_spatial_lanes<T>(N, S, 2 * C, [&](int64_t n, int64_t s0, int64_t nl) {
    const T* base = x + n * C * S + s0;
    T* gbase = gx + n * C * S + s0;
    alignas(64) T ab[W], bb[W], lb[W], vb[W];
    for (int64_t j = 0; j < W; ++j) ab[j] = bb[j] = lb[j] = vb[j] = T(0);
    for (int64_t j = 0; j < nl; ++j) {
      const int64_t i = n * S + s0 + j;
      const int64_t t = tgt[i];
      lb[j] = lse[i];
      if (t == ignore) continue;
      const double gi = gscale * static_cast<double>(g[i * gstride]);
      const double wt = w ? static_cast<double>(w[t]) : 1.0;
      ab[j] = static_cast<T>(gi * ((1.0 - eps) * wt + ks * wall));
      bb[j] = static_cast<T>(gi * ks);
      vb[j] = T(1);
    }
    const V va = V::load(ab), vbk = V::load(bb), vl = V::load(lb);
    const V valid = V::load(vb), one = V(T(1)), zero = V(0);
    for (int64_t c = 0; c < C; ++c) {
      V p = simd::exp(V::load(base + c * S, nl, T(0)) - vl);
      V r = va * p;
      if (eps != 0) r = simd::fnma(vbk, V(w ? w[c] : T(1)), r);
      simd::select(valid == one, r, zero).store(gbase + c * S, nl);
    }
    for (int64_t j = 0; j < nl; ++j) {
      const int64_t i = n * S + s0 + j;
      const int64_t t = tgt[i];
      if (t == ignore) continue;
      const double gi = gscale * static_cast<double>(g[i * gstride]);
      const double wt = w ? static_cast<double>(w[t]) : 1.0;
      T& d = gbase[t * S + j];
      d = static_cast<T>(static_cast<double>(d) - gi * (1.0 - eps) * wt);
    }
  });
}

// ---------------------------------------------------------------------------------------
// Cross entropy, class-probability targets

// P = Σ w·p', Q = Σ w·p'·x, se = Σ exp(x − m) over a row, p' = a·p + b
template <class T>
inline void prob_row_sums(const T* x, const T* p, const T* w, int64_t C, T m, T a, T b,
                          double& se, double& P, double& Q) {
  using V = Vec<T>;
  constexpr int W = V::N;
  const V vm = V(m), va = V(a), vb = V(b);
  double tse = 0, tp = 0, tq = 0;
  for (int64_t bb = 0; bb < C; bb += (2 * W * kLaneTerms)) {
    const int64_t e = C - bb < (2 * W * kLaneTerms) ? C : bb + (2 * W * kLaneTerms);
    V s0 = V(0), p0 = V(0), q0 = V(0);
    int64_t i = bb;
    for (; i + W <= e; i += W) {
      V xv = V::load(x + i);
      V pv = simd::mul_add(V::load(p + i), va, vb);
      if (w) pv = pv * V::load(w + i);
      s0 = s0 + simd::exp(xv - vm);
      p0 = p0 + pv;
      q0 = simd::mul_add(pv, xv, q0);
    }
    double ts = static_cast<double>(simd::hsum(s0)), pp = static_cast<double>(simd::hsum(p0)),
           qq = static_cast<double>(simd::hsum(q0));
    for (; i < e; ++i) {  // tail, scalar
      T pv = p[i] * a + b;
      if (w) pv *= w[i];
      ts += static_cast<double>(sexp(x[i] - m));
      pp += static_cast<double>(pv);
      qq += static_cast<double>(pv) * static_cast<double>(x[i]);
    }
    tse += ts;
    tp += pp;
    tq += qq;
  }
  se = tse;
  P = tp;
  Q = tq;
}

template <class T>
void ce_prob_forward_k(const T* x, int64_t N, int64_t C, int64_t S, const T* p, const T* w,
                       double eps, T* loss, T* lse) {
  using V = Vec<T>;
  constexpr int W = V::N;
  const T a = static_cast<T>(1.0 - eps), b = static_cast<T>(eps / static_cast<double>(C));
  if (S == 1) {
    fastdl::parallel_for(N, grain_for(2 * C), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = x + r * C;
        const T m = row_max(xr, C);
        double se, P, Q;
        prob_row_sums(xr, p + r * C, w, C, m, a, b, se, P, Q);
        const double l = static_cast<double>(m) + slog(se);
        lse[r] = static_cast<T>(l);
        loss[r] = static_cast<T>(l * P - Q);
      }
    });
    return;
  }
  const V va = V(a), vbb = V(b);
  for_spatial_lanes<T>(N, S, 2 * C, [&](int64_t n, int64_t s0, int64_t nl) {
    const T* base = x + n * C * S + s0;
    const T* pbase = p + n * C * S + s0;
    V m = V(neg_inf<T>());
    for (int64_t c = 0; c < C; ++c) m = simd::max(V::load(base + c * S, nl, T(0)), m);
    LaneSum<T> s, P, Q;
    for (int64_t cb = 0; cb < C; cb += kLaneTerms) {
      const int64_t ce = C - cb < kLaneTerms ? C : cb + kLaneTerms;
      for (int64_t c = cb; c < ce; ++c) {
        V xv = V::load(base + c * S, nl, T(0));
        V pv = simd::mul_add(V::load(pbase + c * S, nl, T(0)), va, vbb);
        if (w) pv = pv * V(w[c]);
        s.v = s.v + simd::exp(xv - m);
        P.v = P.v + pv;
        Q.v = simd::mul_add(pv, xv, Q.v);
      }
      s.flush();
      P.flush();
      Q.flush();
    }
    alignas(64) T mb[W];
    (m).store(mb);
    for (int64_t j = 0; j < nl; ++j) {
      const double l = static_cast<double>(mb[j]) + slog(s.d[j]);
      lse[n * S + s0 + j] = static_cast<T>(l);
      loss[n * S + s0 + j] = static_cast<T>(l * P.d[j] - Q.d[j]);
    }
  });
}

template <class T>
void ce_prob_backward_k(const T* x, int64_t N, int64_t C, int64_t S, const T* p, const T* w,
                        double eps, const T* lse, const T* g, int64_t gstride, double gscale,
                        T* gx) {
  using V = Vec<T>;
  constexpr int W = V::N;
  const T a = static_cast<T>(1.0 - eps), b = static_cast<T>(eps / static_cast<double>(C));
  const V va = V(a), vbb = V(b);
  if (S == 1) {
    fastdl::parallel_for(N, grain_for(3 * C), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = x + r * C;
        const T* pr = p + r * C;
        T* gr = gx + r * C;
        // P = Σ w·p'
        double P = 0;
        for (int64_t bb = 0; bb < C; bb += W * kLaneTerms) {
          const int64_t e = C - bb < W * kLaneTerms ? C : bb + W * kLaneTerms;
          V p0 = V(0);
          int64_t i = bb;
          for (; i + W <= e; i += W) {
            V pv = simd::mul_add(V::load(pr + i), va, vbb);
            if (w) pv = pv * V::load(w + i);
            p0 = p0 + pv;
          }
          P += static_cast<double>(simd::hsum(p0));
          for (; i < e; ++i) P += static_cast<double>((pr[i] * a + b) * (w ? w[i] : T(1)));
        }
        const double gi = gscale * static_cast<double>(g[r * gstride]);
        const V vP = V(static_cast<T>(gi * P)), vg = V(static_cast<T>(gi));
        const V vl = V(lse[r]);
        int64_t i = 0;
        for (; i + W <= C; i += W) {
          V pv = simd::mul_add(V::load(pr + i), va, vbb);
          if (w) pv = pv * V::load(w + i);
          simd::fnma(vg, pv, (vP * simd::exp(V::load(xr + i) - vl))).store(gr + i);
        }
        for (; i < C; ++i) {
          const T pv = (pr[i] * a + b) * (w ? w[i] : T(1));
          gr[i] = static_cast<T>(gi * P) * sexp(xr[i] - lse[r]) - static_cast<T>(gi) * pv;
        }
      }
    });
    return;
  }
  for_spatial_lanes<T>(N, S, 3 * C, [&](int64_t n, int64_t s0, int64_t nl) {
    const T* base = x + n * C * S + s0;
    const T* pbase = p + n * C * S + s0;
    T* gbase = gx + n * C * S + s0;
    LaneSum<T> P;
    for (int64_t cb = 0; cb < C; cb += kLaneTerms) {
      const int64_t ce = C - cb < kLaneTerms ? C : cb + kLaneTerms;
      for (int64_t c = cb; c < ce; ++c) {
        V pv = simd::mul_add(V::load(pbase + c * S, nl, T(0)), va, vbb);
        if (w) pv = pv * V(w[c]);
        P.v = P.v + pv;
      }
      P.flush();
    }
    alignas(64) T gb[W], gp[W];
    for (int64_t j = 0; j < W; ++j) gb[j] = gp[j] = T(0);
    for (int64_t j = 0; j < nl; ++j) {
      const double gi = gscale * static_cast<double>(g[(n * S + s0 + j) * gstride]);
      gb[j] = static_cast<T>(gi);
      gp[j] = static_cast<T>(gi * P.d[j]);
    }
    const V vg = V::load(gb), vP = V::load(gp);
    const V vl = V::load(lse + n * S + s0, nl, T(0));
    for (int64_t c = 0; c < C; ++c) {
      V pv = simd::mul_add(V::load(pbase + c * S, nl, T(0)), va, vbb);
      if (w) pv = pv * V(w[c]);
      V e = simd::exp(V::load(base + c * S, nl, T(0)) - vl);
      simd::fnma(vg, pv, (vP * e)).store(gbase + c * S, nl);
    }
  });
}

// ---------------------------------------------------------------------------------------
// NLL

template <class T>
void nll_forward_k(const T* x, int64_t N, int64_t C, int64_t S, const int64_t* tgt, const T* w,
                   int64_t ignore, T* loss) {
  fastdl::parallel_for(N * S, kChunk, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t t = tgt[i];
      if (t == ignore) {
        loss[i] = T(0);
        continue;
      }
      const int64_t n = i / S, s = i % S;
      const T wt = w ? w[t] : T(1);
      loss[i] = -wt * x[(n * C + t) * S + s];
    }
  });
}

template <class T>
void nll_backward_k(int64_t N, int64_t C, int64_t S, const int64_t* tgt, const T* w,
                    int64_t ignore, const T* g, int64_t gstride, double gscale, T* gx) {
  fastdl::parallel_for(N, grain_for(C * S), [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      T* gn = gx + n * C * S;
      for (int64_t k = 0; k < C * S; ++k) gn[k] = T(0);
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i = n * S + s, t = tgt[i];
        if (t == ignore) continue;
        const double wt = w ? static_cast<double>(w[t]) : 1.0;
        gn[t * S + s] = static_cast<T>(-gscale * static_cast<double>(g[i * gstride]) * wt);
      }
    }
  });
}

// ---------------------------------------------------------------------------------------
// Pointwise losses

template <class T>
struct PwParam {
  T p, half_p, inv_p, half_inv_p;
};

template <int K, class T>
inline Vec<T> pw_fwd(Vec<T> x, Vec<T> y, Vec<T> w,
                                 Vec<T> pw, const PwParam<T>& P) {
  using V = Vec<T>;
  using R = V;
  (void)w;
  (void)pw;
  (void)P;
  if constexpr (K == kMSE) {
    R d = x - y;
    return d * d;
  } else if constexpr (K == kL1) {
    return simd::abs(x - y);
  } else if constexpr (K == kSmoothL1) {
    R d = simd::abs(x - y);
    return simd::select(d < V(P.p), ((d * d) * V(P.half_inv_p)), (d - V(P.half_p)));
  } else if constexpr (K == kHuber) {
    R d = simd::abs(x - y);
    return simd::select(d < V(P.p), ((d * d) * V(T(0.5))), (V(P.p) * (d - V(P.half_p))));
  } else if constexpr (K == kBCE) {
    const R lo = V(T(-100));
    R lx = simd::max(lo, simd::log(x));
    R l1x = simd::max(lo, simd::log1p(V(0) - x));
    // (y − 1)·l1x − y·lx
    R v = simd::fnma(y, lx, ((y - V(T(1))) * l1x));
    return w * v;
  } else if constexpr (K == kBCELogits) {
    R sp = simd::log1p(simd::exp(V(0) - simd::abs(x))) + simd::max((V(0) - x), V(0));
    R lw = simd::mul_add((pw - V(T(1))), y, V(T(1)));
    R v = simd::mul_add(lw, sp, ((V(T(1)) - y) * x));
    return w * v;
  } else if constexpr (K == kKLDiv) {
    R t = y * simd::log(y);
    t = simd::select(y == V(0), V(0), t);
    return simd::fnma(y, x, t);
  } else {  // kKLDivLog
    return simd::exp(y) * (y - x);
  }
}

template <class T>
inline Vec<T> vsign(Vec<T> d) {
  using V = Vec<T>;
  // sign with sign(0) = 0 and NaN -> NaN
  return simd::select(d > V(0), V(T(1)), simd::select(d < V(0), V(T(-1)), (d * V(0))));
}

template <int K, class T>
inline Vec<T> pw_bwd(Vec<T> x, Vec<T> y, Vec<T> w,
                                 Vec<T> pw, const PwParam<T>& P) {
  using V = Vec<T>;
  using R = V;
  (void)w;
  (void)pw;
  (void)P;
  if constexpr (K == kMSE) {
    R d = x - y;
    return d + d;
  } else if constexpr (K == kL1) {
    return vsign<T>(x - y);
  } else if constexpr (K == kSmoothL1) {
    R d = x - y;
    return simd::select(simd::abs(d) < V(P.p), (d * V(P.inv_p)), vsign<T>(d));
  } else if constexpr (K == kHuber) {
    R d = x - y;
    return simd::select(simd::abs(d) < V(P.p), d, (V(P.p) * vsign<T>(d)));
  } else if constexpr (K == kBCE) {
    R den = simd::max(((V(T(1)) - x) * x), V(T(1e-12)));
    return w * ((x - y) / den);
  } else if constexpr (K == kBCELogits) {
    const R one = V(T(1));
    R sig = one / (one + simd::exp(V(0) - x));
    R lw = simd::mul_add((pw - one), y, one);
    return w * simd::fnma(pw, y, (sig * lw));
  } else if constexpr (K == kKLDiv) {
    return V(0) - y;
  } else {
    return V(0) - simd::exp(y);
  }
}

template <int K, class T>
double pw_forward_t(const T* x, const T* y, const T* w, const T* pw, int64_t n, const PwParam<T>& P,
                    T* out, int64_t* bad) {
  using V = Vec<T>;
  using R = V;
  constexpr int W = V::N;
  const int64_t nch = (n + kChunk - 1) / kChunk;
  PoolBuf buf(sizeof(double) * 2 * static_cast<size_t>(nch));
  double* part = buf.as<double>();
  double* badp = part + nch;
  fastdl::parallel_for(nch, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t ch = c0; ch < c1; ++ch) {
      const int64_t b = ch * kChunk, e = b + kChunk < n ? b + kChunk : n;
      double acc = 0, nbad = 0;
      const R one = V(T(1)), zero = V(0);
      for (int64_t sb = b; sb < e; sb += (2 * W * kLaneTerms)) {
        const int64_t se = sb + (2 * W * kLaneTerms) < e ? sb + (2 * W * kLaneTerms) : e;
        R a0 = zero, a1 = zero, bd = zero;
        int64_t i = sb;
        for (; i + 2 * W <= se; i += 2 * W) {
          R xv = V::load(x + i), yv = V::load(y + i);
          R x1 = V::load(x + i + W), y1 = V::load(y + i + W);
          R wv = w ? V::load(w + i) : one, pv = pw ? V::load(pw + i) : one;
          R w1 = w ? V::load(w + i + W) : one, p1 = pw ? V::load(pw + i + W) : one;
          R l = pw_fwd<K, T>(xv, yv, wv, pv, P);
          R l1 = pw_fwd<K, T>(x1, y1, w1, p1, P);
          if (out) {
            (l).store(out + i);
            (l1).store(out + i + W);
          }
          a0 = a0 + l;
          a1 = a1 + l1;
          if constexpr (K == kBCE) {
            bd = bd + ((simd::select(xv < zero, one, zero) + simd::select(xv > one, one, zero)) + simd::select(xv == xv, zero, one));
            bd = bd + ((simd::select(x1 < zero, one, zero) + simd::select(x1 > one, one, zero)) + simd::select(x1 == x1, zero, one));
          }
        }
        for (; i + W <= se; i += W) {
          R xv = V::load(x + i), yv = V::load(y + i);
          R wv = w ? V::load(w + i) : one, pv = pw ? V::load(pw + i) : one;
          R l = pw_fwd<K, T>(xv, yv, wv, pv, P);
          if (out) (l).store(out + i);
          a0 = a0 + l;
          if constexpr (K == kBCE)
            bd = bd + ((simd::select(xv < zero, one, zero) + simd::select(xv > one, one, zero)) + simd::select(xv == xv, zero, one));
        }
        double tacc = static_cast<double>(simd::hsum(a0 + a1));
        if (i < se) {
          const int64_t t = se - i;
          const T half = T(0.5);
          R xv = V::load(x + i, t, half), yv = V::load(y + i, t, half);
          R wv = w ? V::load(w + i, t, T(1)) : one, pv = pw ? V::load(pw + i, t, T(1)) : one;
          R l = pw_fwd<K, T>(xv, yv, wv, pv, P);
          if (out) (l).store(out + i, t);
          alignas(64) T lb[W];
          (l).store(lb);
          for (int64_t j = 0; j < t; ++j) tacc += static_cast<double>(lb[j]);
          if constexpr (K == kBCE)
            bd = bd + ((simd::select(xv < zero, one, zero) + simd::select(xv > one, one, zero)) + simd::select(xv == xv, zero, one));
        }
        acc += tacc;
        if constexpr (K == kBCE) nbad += static_cast<double>(simd::hsum(bd));
      }
      part[ch] = acc;
      badp[ch] = nbad;
    }
  });
  double total = 0, tb = 0;
  for (int64_t ch = 0; ch < nch; ++ch) {
    total += part[ch];
    tb += badp[ch];
  }
  if (bad) *bad = static_cast<int64_t>(tb);
  return total;
}

template <int K, class T>
void pw_backward_t(const T* x, const T* y, const T* w, const T* pw, int64_t n, const PwParam<T>& P,
                   const T* g, int64_t gstride, double gscale, T* gx) {
  using V = Vec<T>;
  using R = V;
  constexpr int W = V::N;
  fastdl::parallel_for(n, kChunk, [&](int64_t b, int64_t e) {
    const R one = V(T(1));
    const R vs = V(static_cast<T>(gscale));
    const R g0 = V(static_cast<T>(gscale * static_cast<double>(g[0])));
    int64_t i = b;
    for (; i + W <= e; i += W) {
      R xv = V::load(x + i), yv = V::load(y + i);
      R wv = w ? V::load(w + i) : one, pv = pw ? V::load(pw + i) : one;
      R gv = gstride ? (vs * V::load(g + i)) : g0;
      (gv * pw_bwd<K, T>(xv, yv, wv, pv, P)).store(gx + i);
    }
    if (i < e) {
      const int64_t t = e - i;
      const T half = T(0.5);
      R xv = V::load(x + i, t, half), yv = V::load(y + i, t, half);
      R wv = w ? V::load(w + i, t, T(1)) : one, pv = pw ? V::load(pw + i, t, T(1)) : one;
      R gv = gstride ? (vs * V::load(g + i, t, T(0))) : g0;
      (gv * pw_bwd<K, T>(xv, yv, wv, pv, P)).store(gx + i, t);
    }
  });
}

template <class T>
PwParam<T> make_param(double p) {
  PwParam<T> P;
  P.p = static_cast<T>(p);
  P.half_p = static_cast<T>(0.5 * p);
  P.inv_p = static_cast<T>(1.0 / p);       // inf when p == 0 (never selected then)
  P.half_inv_p = static_cast<T>(0.5 / p);
  return P;
}

template <class T>
double pw_forward_k(int kind, const T* x, const T* y, const T* w, const T* pw, int64_t n,
                    double param, T* out, int64_t* bad) {
  const PwParam<T> P = make_param<T>(param);
  if (bad) *bad = 0;
  switch (kind) {
    case kMSE: return pw_forward_t<kMSE, T>(x, y, w, pw, n, P, out, bad);
    case kL1: return pw_forward_t<kL1, T>(x, y, w, pw, n, P, out, bad);
    case kSmoothL1: return pw_forward_t<kSmoothL1, T>(x, y, w, pw, n, P, out, bad);
    case kHuber: return pw_forward_t<kHuber, T>(x, y, w, pw, n, P, out, bad);
    case kBCE: return pw_forward_t<kBCE, T>(x, y, w, pw, n, P, out, bad);
    case kBCELogits: return pw_forward_t<kBCELogits, T>(x, y, w, pw, n, P, out, bad);
    case kKLDiv: return pw_forward_t<kKLDiv, T>(x, y, w, pw, n, P, out, bad);
    default: return pw_forward_t<kKLDivLog, T>(x, y, w, pw, n, P, out, bad);
  }
}

template <class T>
void pw_backward_k(int kind, const T* x, const T* y, const T* w, const T* pw, int64_t n,
                   double param, const T* g, int64_t gstride, double gscale, T* gx) {
  const PwParam<T> P = make_param<T>(param);
  switch (kind) {
    case kMSE: return pw_backward_t<kMSE, T>(x, y, w, pw, n, P, g, gstride, gscale, gx);
    case kL1: return pw_backward_t<kL1, T>(x, y, w, pw, n, P, g, gstride, gscale, gx);
    case kSmoothL1: return pw_backward_t<kSmoothL1, T>(x, y, w, pw, n, P, g, gstride, gscale, gx);
    case kHuber: return pw_backward_t<kHuber, T>(x, y, w, pw, n, P, g, gstride, gscale, gx);
    case kBCE: return pw_backward_t<kBCE, T>(x, y, w, pw, n, P, g, gstride, gscale, gx);
    case kBCELogits: return pw_backward_t<kBCELogits, T>(x, y, w, pw, n, P, g, gstride, gscale, gx);
    case kKLDiv: return pw_backward_t<kKLDiv, T>(x, y, w, pw, n, P, g, gstride, gscale, gx);
    default: return pw_backward_t<kKLDivLog, T>(x, y, w, pw, n, P, g, gstride, gscale, gx);
  }
}

template <class T>
constexpr LossOpsT<T> ops_t() {
  return {&ce_forward_k<T>,  &ce_backward_k<T>,  &ce_prob_forward_k<T>, &ce_prob_backward_k<T>,
      &nll_forward_k<T>, &nll_backward_k<T>, &pw_forward_k<T>,      &pw_backward_k<T>};
}

}  // namespace

// This ISA's table (declared in loss.h).
const LossOps ops = {ops_t<float>(), ops_t<double>()};

}  // namespace FASTDL_SIMD_ISA
}  // namespace loss
}  // namespace fastdl
