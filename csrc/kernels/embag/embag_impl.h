// The embedding_bag kernels (see embag.h), written once on the simd:: vector types
// (common/simd.h) and compiled once per ISA: embag.cpp (generic), embag_avx2.cpp and
// embag_avx512.cpp include this file, which ends with that ISA's EmbagOps table.
//
// A bag's sum keeps up to kMaxVecs vectors of columns in registers over the whole bag (one
// pass over the bag's rows for D ≤ kMaxVecs·N columns). The table rows a bag reads are
// scattered over the table (a cache miss each when the table is larger than the cache): the
// row kPrefetch entries ahead is prefetched, so several misses are in flight at once.
#pragma once
#include <cstdint>
#include <cstring>

#include "common/parallel.h"
#include "common/simd.h"
#include "kernels/embag/embag.h"

namespace fastdl {
namespace embag {
namespace FASTDL_SIMD_ISA {
namespace {

using simd::Vec;

constexpr int64_t kPrefetch = 16;
constexpr int kMaxVecs = 8;

// Prefetch every cache line of the row of entry e (nothing past the last entry). The
// address is formed in unsigned arithmetic: the index is not checked yet.
template <class T>
inline void prefetch_row(const T* weight, int64_t D, const int64_t* idx, int64_t e, int64_t E) {
  if (e >= E) return;
  const uintptr_t row_bytes = static_cast<uintptr_t>(D) * sizeof(T);
  const uintptr_t p =
      reinterpret_cast<uintptr_t>(weight) + static_cast<uintptr_t>(idx[e]) * row_bytes;
  for (uintptr_t a = p & ~uintptr_t(63); a < p + row_bytes; a += 64)
    __builtin_prefetch(reinterpret_cast<const void*>(a), 0, 3);
}

// One pass of a bag's sum over the columns [d0, d0 + U·N) ∩ [0, D):
//   o[·] = scale · Σ_{e ∈ [s, e1), idx[e] ≠ pad} w_e · weight[idx[e], ·]
// with w_e = psw[e] when kW (else 1) and scale = 1/count when `mean` (count = the entries
// summed; zeros when none). Checks each index against [0, n): returns −1, or the first bad
// entry (o is then left unwritten). kTail: the last of the U vectors is partial.
template <int U, bool kTail, bool kW, class T>
inline int64_t bag_pass(const Bags& g, const T* weight, int64_t D, int64_t d0, int64_t s,
                        int64_t e1, const T* psw, bool mean, T* o) {
  using V = Vec<T>;
  constexpr int N = V::N;
  const int64_t last = kTail ? D - d0 - int64_t(U - 1) * N : N;  // lanes of the last vector
  V acc[U];
#pragma GCC unroll 8
  for (int u = 0; u < U; ++u) acc[u] = V(T(0));
  int64_t cnt = 0;
  for (int64_t e = s; e < e1; ++e) {
    const int64_t ix = g.idx[e];
    if (static_cast<uint64_t>(ix) >= static_cast<uint64_t>(g.n)) return e;
    if (ix == g.pad) continue;
    ++cnt;
    if (d0 == 0) prefetch_row(weight, D, g.idx, e + kPrefetch, g.E);
    const T* r = weight + ix * D + d0;
    if constexpr (kW) {
      const V w(psw[e]);
#pragma GCC unroll 8
      for (int u = 0; u < U - 1; ++u) acc[u] = simd::mul_add(w, V::load(r + u * N), acc[u]);
      const V x = kTail ? V::load(r + (U - 1) * N, last) : V::load(r + (U - 1) * N);
      acc[U - 1] = simd::mul_add(w, x, acc[U - 1]);
    } else {
#pragma GCC unroll 8
      for (int u = 0; u < U - 1; ++u) acc[u] = acc[u] + V::load(r + u * N);
      const V x = kTail ? V::load(r + (U - 1) * N, last) : V::load(r + (U - 1) * N);
      acc[U - 1] = acc[U - 1] + x;
    }
  }
  if (mean && cnt > 0) {
    const V sc(T(1) / T(cnt));
#pragma GCC unroll 8
    for (int u = 0; u < U; ++u) acc[u] = acc[u] * sc;
  }
#pragma GCC unroll 8
  for (int u = 0; u < U - 1; ++u) acc[u].store(o + d0 + u * N);
  if (kTail)
    acc[U - 1].store(o + d0 + (U - 1) * N, last);
  else
    acc[U - 1].store(o + d0 + (U - 1) * N);
  return -1;
}

template <int U, class T>
inline int64_t bag_pass_any(bool tail, const Bags& g, const T* weight, int64_t D, int64_t d0,
                            int64_t s, int64_t e1, const T* psw, bool mean, T* o) {
  if (tail)
    return psw ? bag_pass<U, true, true>(g, weight, D, d0, s, e1, psw, mean, o)
               : bag_pass<U, true, false>(g, weight, D, d0, s, e1, psw, mean, o);
  return psw ? bag_pass<U, false, true>(g, weight, D, d0, s, e1, psw, mean, o)
             : bag_pass<U, false, false>(g, weight, D, d0, s, e1, psw, mean, o);
}

// o (D) = the bag's (weighted) sum or mean; returns −1 or the first bad entry.
template <class T>
int64_t bag_sum(const Bags& g, const T* weight, int64_t D, int64_t s, int64_t e1,
                const T* psw, bool mean, T* o) {
  constexpr int N = Vec<T>::N;
  for (int64_t d0 = 0; d0 < D; d0 += int64_t(kMaxVecs) * N) {
    const int64_t rem = D - d0;
    const int U = rem >= int64_t(kMaxVecs) * N ? kMaxVecs : int((rem + N - 1) / N);
    const bool tail = rem < int64_t(U) * N;
    int64_t bad;
    switch (U) {
      case 1: bad = bag_pass_any<1>(tail, g, weight, D, d0, s, e1, psw, mean, o); break;
      case 2: bad = bag_pass_any<2>(tail, g, weight, D, d0, s, e1, psw, mean, o); break;
      case 3: bad = bag_pass_any<3>(tail, g, weight, D, d0, s, e1, psw, mean, o); break;
      case 4: bad = bag_pass_any<4>(tail, g, weight, D, d0, s, e1, psw, mean, o); break;
      case 5: bad = bag_pass_any<5>(tail, g, weight, D, d0, s, e1, psw, mean, o); break;
      case 6: bad = bag_pass_any<6>(tail, g, weight, D, d0, s, e1, psw, mean, o); break;
      case 7: bad = bag_pass_any<7>(tail, g, weight, D, d0, s, e1, psw, mean, o); break;
      default: bad = bag_pass_any<8>(tail, g, weight, D, d0, s, e1, psw, mean, o); break;
    }
    if (bad >= 0) return bad;
  }
  return -1;
}

// o (D) = the bag's elementwise maximum, arg the entry of each (the first one; NaN wins).
template <class T>
void bag_max(const Bags& g, const T* weight, int64_t D, int64_t s, int64_t e1, T* o,
             int64_t* a) {
  bool first = true;
  for (int64_t e = s; e < e1; ++e) {
    const int64_t ix = g.idx[e];
    if (ix == g.pad) continue;
    prefetch_row(weight, D, g.idx, e + kPrefetch, g.E);
    const T* r = weight + ix * D;
    if (first) {
      for (int64_t d = 0; d < D; ++d) {
        o[d] = r[d];
        a[d] = e;
      }
      first = false;
      continue;
    }
    for (int64_t d = 0; d < D; ++d) {
      if (r[d] > o[d] || (r[d] != r[d] && o[d] == o[d])) {
        o[d] = r[d];
        a[d] = e;
      }
    }
  }
}

template <class T>
int64_t forward_k(const Bags& g, const T* weight, int64_t D, const T* psw, int mode, T* out,
                  int64_t* arg) {
  constexpr int64_t kNone = INT64_MAX;
  int64_t bad = kNone;  // the first bad entry (an atomic minimum over the threads)
  const int64_t grain = D >= 256 ? 4 : 64;
  parallel_for(g.B, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      T* o = out + b * D;
      const int64_t s = g.begin(b), e1 = g.end(b);
      int64_t wrong = -1;
      if (mode != kMax) {
        wrong = bag_sum(g, weight, D, s, e1, psw, mode == kMean, o);
      } else {
        // the bag's indices: in range (else note the first bad entry), and how many count
        int64_t cnt = 0;
        for (int64_t e = s; e < e1; ++e) {
          const int64_t ix = g.idx[e];
          if (static_cast<uint64_t>(ix) >= static_cast<uint64_t>(g.n)) {
            wrong = e;
            break;
          }
          cnt += ix != g.pad;
        }
        if (wrong < 0) {
          if (cnt > 0) {
            bag_max(g, weight, D, s, e1, o, arg + b * D);
          } else {
            std::memset(o, 0, sizeof(T) * D);
            for (int64_t d = 0; d < D; ++d) arg[b * D + d] = -1;
          }
        }
      }
      if (wrong >= 0) {
        int64_t cur = __atomic_load_n(&bad, __ATOMIC_RELAXED);
        while (wrong < cur && !__atomic_compare_exchange_n(&bad, &cur, wrong, true,
                                                           __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
        }
      }
    }
  });
  return bad == kNone ? -1 : bad;
}

template <class T>
void backward_weight_k(const Bags& g, const T* gy, int64_t D, const T* psw, int mode,
                       const int64_t* arg, T* gw) {
  using V = Vec<T>;
  constexpr int N = V::N;
  // columns in blocks of 16: each chunk owns its columns of gw
  const int64_t blk = 16, nblk = (D + blk - 1) / blk;
  parallel_for(nblk, 1, [&](int64_t k0, int64_t k1) {
    const int64_t d0 = k0 * blk, d1 = k1 * blk < D ? k1 * blk : D;
    for (int64_t r = 0; r < g.n; ++r) std::memset(gw + r * D + d0, 0, sizeof(T) * (d1 - d0));
    for (int64_t b = 0; b < g.B; ++b) {
      const T* gb = gy + b * D;
      if (mode == kMax) {
        const int64_t* a = arg + b * D;
        for (int64_t d = d0; d < d1; ++d)
          if (a[d] >= 0) gw[g.idx[a[d]] * D + d] += gb[d];
        continue;
      }
      const int64_t s = g.begin(b), e1 = g.end(b);
      T scale = T(1);
      if (mode == kMean) {
        int64_t cnt = 0;
        for (int64_t e = s; e < e1; ++e) cnt += g.idx[e] != g.pad;
        if (cnt > 0) scale = T(1) / T(cnt);
      }
      for (int64_t e = s; e < e1; ++e) {
        const int64_t ix = g.idx[e];
        if (ix == g.pad) continue;
        T* row = gw + ix * D;
        const V w((psw ? psw[e] : T(1)) * scale);
        int64_t d = d0;
        for (; d + N <= d1; d += N)
          simd::mul_add(w, V::load(gb + d), V::load(row + d)).store(row + d);
        if (d < d1)
          simd::mul_add(w, V::load(gb + d, d1 - d), V::load(row + d, d1 - d))
              .store(row + d, d1 - d);
      }
    }
  });
}

template <class T>
void backward_psw_k(const Bags& g, const T* gy, const T* weight, int64_t D, T* gpsw) {
  using V = Vec<T>;
  constexpr int N = V::N;
  parallel_for(g.B, 64, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const T* gb = gy + b * D;
      for (int64_t e = g.begin(b); e < g.end(b); ++e) {
        const int64_t ix = g.idx[e];
        if (ix == g.pad) {
          gpsw[e] = T(0);
          continue;
        }
        prefetch_row(weight, D, g.idx, e + kPrefetch, g.E);
        const T* r = weight + ix * D;
        V acc(T(0));
        int64_t d = 0;
        for (; d + N <= D; d += N) acc = simd::mul_add(V::load(gb + d), V::load(r + d), acc);
        if (d < D) acc = simd::mul_add(V::load(gb + d, D - d), V::load(r + d, D - d), acc);
        gpsw[e] = simd::hsum(acc);
      }
    }
  });
}

template <class T>
constexpr EmbagOpsT<T> ops_t() {
  return {&forward_k<T>, &backward_weight_k<T>, &backward_psw_k<T>};
}

}  // namespace

// This ISA's table (declared in embag.h).
const EmbagOps ops = {ops_t<float>(), ops_t<double>()};

}  // namespace FASTDL_SIMD_ISA
}  // namespace embag
}  // namespace fastdl
