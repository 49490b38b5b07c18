// The CTC recursions (see ctc.h), written once and compiled per ISA: ctc.cpp (generic),
// ctc_avx2.cpp and ctc_avx512.cpp include this file, which opens
// `namespace fastdl::ctc::FASTDL_SIMD_ISA { namespace { ... } }` (common/simd.h). One sample
// per parallel chunk; within a sample the α/β recursions are sequential over time and over
// the states (three-way log-sum-exp with label-dependent skips) and stay scalar; the
// gradient row over the C classes runs on simd::Vec<T>. Ends with the ISA's CtcOps table.
#pragma once
#include <cmath>
#include <cstdint>
#include <limits>

#include "common/allocator.h"
#include "common/parallel.h"
#include "common/simd.h"
#include "kernels/ctc/ctc.h"

namespace fastdl {
namespace ctc {
namespace FASTDL_SIMD_ISA {
namespace {

template <class T>
inline T neg_inf() { return -std::numeric_limits<T>::infinity(); }

template <class T>
inline T lse2(T a, T b) {
  const T m = a > b ? a : b;
  if (m == neg_inf<T>()) return m;
  return m + std::log(std::exp(a - m) + std::exp(b - m));
}

template <class T>
inline T lse3(T a, T b, T c) {
  T m = a > b ? a : b;
  m = m > c ? m : c;
  if (m == neg_inf<T>()) return m;
  return m + std::log(std::exp(a - m) + std::exp(b - m) + std::exp(c - m));
}

// l'_s of the extended sequence
inline int64_t label(const int64_t* tg, int64_t s, int64_t blank) {
  return (s & 1) ? tg[s >> 1] : blank;
}

template <class T>
void forward(const T* lp, int64_t Tmax, int64_t N, int64_t C, const int64_t* targets,
             const int64_t* tgt_offset, const int64_t* input_len, const int64_t* target_len,
             int64_t Lmax, int64_t blank, T* nll, T* log_alpha) {
  const int64_t Smax = 2 * Lmax + 1;
  parallel_for(N, 1, [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      const int64_t Tn = input_len[n], L = target_len[n], S = 2 * L + 1;
      const int64_t* tg = targets + tgt_offset[n];
      T* la = log_alpha + n * Tmax * Smax;
      for (int64_t i = 0; i < Tmax * Smax; ++i) la[i] = neg_inf<T>();
      if (Tn == 0) {  // no frames: probability 1 of the empty target, else 0
        nll[n] = L == 0 ? T(0) : std::numeric_limits<T>::infinity();
        continue;
      }
      const T* lp0 = lp + n * C;
      la[0] = lp0[blank];
      if (S > 1) la[1] = lp0[tg[0]];
      for (int64_t t = 1; t < Tn; ++t) {
        const T* lpt = lp + (t * N + n) * C;
        const T* prev = la + (t - 1) * Smax;
        T* cur = la + t * Smax;
        // states that can still reach the end, and that can be reached from the start
        const int64_t s_lo = S - 2 * (Tn - t) > 0 ? S - 2 * (Tn - t) : 0;
        const int64_t s_hi = 2 * (t + 1) < S ? 2 * (t + 1) : S;
        for (int64_t s = s_lo; s < s_hi; ++s) {
          const int64_t l = label(tg, s, blank);
          T a = prev[s];
          T b = s > 0 ? prev[s - 1] : neg_inf<T>();
          T c = (s > 1 && l != blank && l != label(tg, s - 2, blank)) ? prev[s - 2] : neg_inf<T>();
          cur[s] = lpt[l] + lse3(a, b, c);
        }
      }
      const T* last = la + (Tn - 1) * Smax;
      const T ll = S > 1 ? lse2(last[S - 1], last[S - 2]) : last[S - 1];
      nll[n] = -ll;
    }
  });
}

// gr[c] = (exp(lp[c]) − exp(acc[c] + nll − lp[c])) · g, a vector at a time (simd::exp).
template <class T>
void grad_row(const T* lp, const T* acc, T nll, T g, int64_t C, T* gr) {
  using V = simd::Vec<T>;
  const V vn(nll), vg(g);
  int64_t c = 0;
  for (; c + V::N <= C; c += V::N) {
    const V l = V::load(lp + c);
    ((simd::exp(l) - simd::exp(V::load(acc + c) + vn - l)) * vg).store(gr + c);
  }
  if (c < C) {
    const int64_t k = C - c;
    const V l = V::load(lp + c, k);
    ((simd::exp(l) - simd::exp(V::load(acc + c, k) + vn - l)) * vg).store(gr + c, k);
  }
}

template <class T>
void backward(const T* lp, int64_t Tmax, int64_t N, int64_t C, const int64_t* targets,
              const int64_t* tgt_offset, const int64_t* input_len, const int64_t* target_len,
              int64_t Lmax, int64_t blank, const T* nll, const T* log_alpha, const T* g,
              bool zero_infinity, T* grad) {
  const int64_t Smax = 2 * Lmax + 1;
  parallel_for(N, 1, [&](int64_t n0, int64_t n1) {
    T* lb = static_cast<T*>(thread_scratch(sizeof(T) * (2 * Smax + C) + 64, kScratchCtc));
    T* acc = lb + 2 * Smax;
    for (int64_t n = n0; n < n1; ++n) {
      const int64_t Tn = input_len[n], L = target_len[n], S = 2 * L + 1;
      const int64_t* tg = targets + tgt_offset[n];
      const T* la = log_alpha + n * Tmax * Smax;
      const T gn = g[n];
      const T nl = nll[n];
      const bool zero = zero_infinity && std::isinf(nl);
      for (int64_t t = Tn; t < Tmax; ++t) {
        T* gr = grad + (t * N + n) * C;
        for (int64_t c = 0; c < C; ++c) gr[c] = T(0);
      }
      if (zero) {
        for (int64_t t = 0; t < Tn; ++t) {
          T* gr = grad + (t * N + n) * C;
          for (int64_t c = 0; c < C; ++c) gr[c] = T(0);
        }
        continue;
      }
      // β rolled over two rows (cur = t, nxt = t + 1), from t = Tn − 1 down to 0
      T* nxt = lb;
      T* cur = lb + Smax;
      for (int64_t t = Tn - 1; t >= 0; --t) {
        const T* lpt = lp + (t * N + n) * C;
        for (int64_t s = 0; s < Smax; ++s) cur[s] = neg_inf<T>();
        if (t == Tn - 1) {
          cur[S - 1] = lpt[blank];
          if (S > 1) cur[S - 2] = lpt[tg[L - 1]];
        } else {
          const int64_t s_lo = S - 2 * (Tn - t) > 0 ? S - 2 * (Tn - t) : 0;
          const int64_t s_hi = 2 * (t + 1) < S ? 2 * (t + 1) : S;
          for (int64_t s = s_lo; s < s_hi; ++s) {
            const int64_t l = label(tg, s, blank);
            T a = nxt[s];
            T b = s + 1 < S ? nxt[s + 1] : neg_inf<T>();
            T c = (s + 2 < S && l != blank && l != label(tg, s + 2, blank)) ? nxt[s + 2]
                                                                          : neg_inf<T>();
            cur[s] = lpt[l] + lse3(a, b, c);
          }
        }
        // lse over the states of each label of α_t(s) + β_t(s)
        for (int64_t c = 0; c < C; ++c) acc[c] = neg_inf<T>();
        const T* at = la + t * Smax;
        for (int64_t s = 0; s < S; ++s) {
          const T v = at[s] + cur[s];
          const int64_t l = label(tg, s, blank);
          acc[l] = lse2(acc[l], v);
        }
        grad_row(lpt, acc, nl, gn, C, grad + (t * N + n) * C);
        T* tmp = nxt;
        nxt = cur;
        cur = tmp;
      }
    }
  });
}

}  // namespace

const CtcOps ops = {{forward<float>, backward<float>}, {forward<double>, backward<double>}};

}  // namespace FASTDL_SIMD_ISA
}  // namespace ctc
}  // namespace fastdl
