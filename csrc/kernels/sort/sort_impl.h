// The sorting kernels (semantics in sort.h), written once and compiled once per ISA: sort.cpp
// (generic), sort_avx2.cpp and sort_avx512.cpp include this file, which ends with that ISA's
// SortOps table. The loops are scalar C++ that the compiler vectorises where it can (key
// transforms, min/max, the lockstep binary search's gathers).
//
// Radix sort (LSD, 8-bit digits, stable): keys are built from the elements together with the
// counts of every digit (one pass); a digit whose counts sit in one bucket is the same for
// every key and its pass is skipped; each remaining pass scatters (key, position) pairs by
// their digit into the other buffer. Positions are 32-bit below 2^32 elements (64-bit above),
// implicit (0, 1, ...) before the first pass, and widened to int64 on output. Rows of up to
// kInsertionMax elements take a stable insertion sort instead.
//
// Threading: a long row (kParallelMin elements and up, more than one thread) splits each pass
// into chunks of kChunk elements: per-chunk digit counts, one prefix over (digit, chunk), and
// each chunk scatters its elements to their final places, which is the sequential pass's
// result. Many rows run in parallel, one row per task. A stable sort has one answer, so every
// result is the same for any thread count.
//
// Output: a sorted element is decoded from its key, except -0.0 and NaN (their keys are
// shared with 0.0 / with every NaN): the runs of those keys take their elements from the input
// in input order, which is their sorted order (stable), so payloads and signs survive.
//
// No std:: containers or algorithms here (their inline instances have vague linkage, and the
// linker may keep an AVX-512 copy for the generic build): buffers are pool memory (PoolBuf).
#pragma once
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "common/allocator.h"
#include "common/parallel.h"
#include "common/simd.h"
#include "kernels/sort/sort.h"

namespace fastdl {
namespace sort {
namespace FASTDL_SIMD_ISA {
namespace {

constexpr int64_t kChunk = int64_t(1) << 16;  // elements per chunk of a parallel radix pass
constexpr int64_t kParallelMin = 2 * kChunk;  // shorter rows sort on one thread
constexpr int64_t kInsertionMax = 48;         // rows up to this length: insertion sort
constexpr int kBuckets = 256;                 // 8-bit digits

// ---------------------------------------------------------------------------------------
// Keys: unsigned integers whose order is the elements' sort order.

template <class T>
struct KeyOf;
template <>
struct KeyOf<float> { using K = uint32_t; };
template <>
struct KeyOf<double> { using K = uint64_t; };
template <>
struct KeyOf<int32_t> { using K = uint32_t; };
template <>
struct KeyOf<int64_t> { using K = uint64_t; };

template <class K>
constexpr K kTop = K(1) << (8 * sizeof(K) - 1);

template <class T, class K = typename KeyOf<T>::K>
inline K to_key(T x) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<K>(x) ^ kTop<K>;
  } else {
    using S = std::make_signed_t<K>;
    K u;
    std::memcpy(&u, &x, sizeof u);
    u = x == T(0) ? K(0) : u;  // -0.0 sorts as 0.0
    const K key = u ^ (static_cast<K>(static_cast<S>(u) >> (8 * sizeof(K) - 1)) | kTop<K>);
    return x != x ? ~K(0) : key;  // every NaN: the largest key
  }
}

template <class T, class K>
inline T from_key(K k) {
  if constexpr (std::is_integral_v<T>) {
    return static_cast<T>(k ^ kTop<K>);
  } else {
    using S = std::make_signed_t<K>;
    const K u = k ^ (~static_cast<K>(static_cast<S>(k) >> (8 * sizeof(K) - 1)) | kTop<K>);
    T x;
    std::memcpy(&x, &u, sizeof x);
    return x;
  }
}

// the keys shared by several bit patterns (floats only): 0.0 / -0.0 and every NaN
template <class K>
constexpr K kZeroKey = kTop<K>;
template <class K>
constexpr K kNanKey = ~K(0);

template <class K>
inline unsigned digit(K k, int shift) { return static_cast<unsigned>(k >> shift) & 255u; }

// first position in the ascending keys s[0..n) whose key is >= k (upper: > k)
template <class K>
inline int64_t lower_key(const K* s, int64_t n, K k, bool upper) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    const int64_t mid = lo + ((hi - lo) >> 1);
    if (upper ? s[mid] <= k : s[mid] < k)
      lo = mid + 1;
    else
      hi = mid;
  }
  return lo;
}

// ---------------------------------------------------------------------------------------
// Buffers of one sort: keys a/b, positions ia/ib (IDX only), the digit counts of the whole
// row (P x 256) and, for the parallel passes, per-chunk counts (chunks x P x 256).

template <class K, class I>
struct Bufs {
  K* a = nullptr;
  K* b = nullptr;
  I* ia = nullptr;
  I* ib = nullptr;
  I* hist = nullptr;
  I* chist = nullptr;
};

inline size_t round64(size_t b) { return (b + 63) & ~size_t(63); }
inline int64_t chunks_of(int64_t n) { return (n + kChunk - 1) / kChunk; }

template <class K, class I>
size_t bufs_bytes(int64_t n, bool idx, bool par) {
  constexpr size_t P = sizeof(K);
  size_t b = 2 * round64(sizeof(K) * size_t(n)) + round64(sizeof(I) * P * kBuckets);
  if (idx) b += 2 * round64(sizeof(I) * size_t(n));
  if (par) b += round64(sizeof(I) * P * kBuckets * size_t(chunks_of(n)));
  return b;
}

template <class K, class I>
Bufs<K, I> carve(void* p, int64_t n, bool idx, bool par) {
  constexpr size_t P = sizeof(K);
  char* c = static_cast<char*>(p);
  Bufs<K, I> w;
  auto take = [&c](size_t bytes) {
    char* r = c;
    c += round64(bytes);
    return r;
  };
  w.a = reinterpret_cast<K*>(take(sizeof(K) * size_t(n)));
  w.b = reinterpret_cast<K*>(take(sizeof(K) * size_t(n)));
  w.hist = reinterpret_cast<I*>(take(sizeof(I) * P * kBuckets));
  if (idx) {
    w.ia = reinterpret_cast<I*>(take(sizeof(I) * size_t(n)));
    w.ib = reinterpret_cast<I*>(take(sizeof(I) * size_t(n)));
  }
  if (par) w.chist = reinterpret_cast<I*>(take(sizeof(I) * P * kBuckets * size_t(chunks_of(n))));
  return w;
}

// ---------------------------------------------------------------------------------------
// Building keys (key = to_key(x) ^ flip; flip = all ones sorts descending) and counting
// every digit of them.

template <class T, class K, class I>
void keys_and_counts(const T* x, int64_t n, K flip, K* a, I* hist) {
  constexpr int P = sizeof(K);
  std::memset(hist, 0, sizeof(I) * P * kBuckets);
  for (int64_t j = 0; j < n; ++j) {
    const K k = to_key<T>(x[j]) ^ flip;
    a[j] = k;
    for (int p = 0; p < P; ++p) ++hist[p * kBuckets + digit(k, 8 * p)];
  }
}

// the same over chunks in parallel, each chunk's counts summed into w.hist
template <class T, class K, class I>
void keys_and_counts_par(const T* x, int64_t n, K flip, const Bufs<K, I>& w) {
  constexpr int P = sizeof(K);
  const int64_t nch = chunks_of(n);
  parallel_for(nch, 1, [&](int64_t cb, int64_t ce) {
    for (int64_t c = cb; c < ce; ++c) {
      const int64_t lo = c * kChunk, hi = lo + kChunk < n ? lo + kChunk : n;
      keys_and_counts<T, K, I>(x + lo, hi - lo, flip, w.a + lo, w.chist + c * P * kBuckets);
    }
  });
  for (int q = 0; q < P * kBuckets; ++q) {
    I s = 0;
    for (int64_t c = 0; c < nch; ++c) s += w.chist[c * P * kBuckets + q];
    w.hist[q] = s;
  }
}

// ---------------------------------------------------------------------------------------
// Radix passes

// Scatter src[lo..hi) by the digit at `shift` to dst at off[digit]++ (off: 256 running
// offsets), with positions (FIRST: the source index itself).
template <class K, class I, bool IDX, bool FIRST>
inline void scatter(const K* src, K* dst, const I* isrc, I* idst, int64_t lo, int64_t hi,
                    I* off, int shift) {
  for (int64_t j = lo; j < hi; ++j) {
    const K k = src[j];
    const I q = off[digit(k, shift)]++;
    dst[q] = k;
    if constexpr (IDX) idst[q] = FIRST ? static_cast<I>(j) : isrc[j];
  }
}

// Sort the keys in w.a (counts in w.hist) with their positions (IDX). Returns true when the
// result is in (b, ib), false when in (a, ia). `par`: chunked passes over threads.
template <class K, class I, bool IDX>
bool radix(const Bufs<K, I>& w, int64_t n, bool par) {
  constexpr int P = sizeof(K);
  bool in_b = false, first = true;
  const int64_t nch = par ? chunks_of(n) : 1;
  for (int p = 0; p < P; ++p) {
    const int shift = 8 * p;
    const K* src = in_b ? w.b : w.a;
    K* dst = in_b ? w.a : w.b;
    const I* isrc = in_b ? w.ib : w.ia;
    I* idst = in_b ? w.ia : w.ib;
    I* h = w.hist + p * kBuckets;
    if (h[digit(src[0], shift)] == static_cast<I>(n)) continue;  // one digit for every key
    if (!par) {
      I s = 0;
      for (int d = 0; d < kBuckets; ++d) {
        const I c = h[d];
        h[d] = s;
        s += c;
      }
      if (first)
        scatter<K, I, IDX, true>(src, dst, isrc, idst, 0, n, h, shift);
      else
        scatter<K, I, IDX, false>(src, dst, isrc, idst, 0, n, h, shift);
    } else {
      I* ch = w.chist;  // (chunk, digit) counts of this pass, then the chunks' offsets
      parallel_for(nch, 1, [&](int64_t cb, int64_t ce) {
        for (int64_t c = cb; c < ce; ++c) {
          I* hc = ch + c * kBuckets;
          std::memset(hc, 0, sizeof(I) * kBuckets);
          const int64_t lo = c * kChunk, hi = lo + kChunk < n ? lo + kChunk : n;
          for (int64_t j = lo; j < hi; ++j) ++hc[digit(src[j], shift)];
        }
      });
      I s = 0;
      for (int d = 0; d < kBuckets; ++d)
        for (int64_t c = 0; c < nch; ++c) {
          const I t = ch[c * kBuckets + d];
          ch[c * kBuckets + d] = s;
          s += t;
        }
      const bool f = first;
      parallel_for(nch, 1, [&](int64_t cb, int64_t ce) {
        for (int64_t c = cb; c < ce; ++c) {
          const int64_t lo = c * kChunk, hi = lo + kChunk < n ? lo + kChunk : n;
          if (f)
            scatter<K, I, IDX, true>(src, dst, isrc, idst, lo, hi, ch + c * kBuckets, shift);
          else
            scatter<K, I, IDX, false>(src, dst, isrc, idst, lo, hi, ch + c * kBuckets, shift);
        }
      });
    }
    in_b = !in_b;
    first = false;
  }
  if (IDX && first)  // no pass ran: every key equal, the input order
    for (int64_t j = 0; j < n; ++j) w.ia[j] = static_cast<I>(j);
  return in_b;
}

// Stable insertion sort of the keys a[0..n) with their positions ia (IDX), for short rows.
template <class K, class I, bool IDX>
void insertion(K* a, I* ia, int64_t n) {
  if constexpr (IDX)
    for (int64_t j = 0; j < n; ++j) ia[j] = static_cast<I>(j);
  for (int64_t j = 1; j < n; ++j) {
    const K k = a[j];
    I p = 0;
    if constexpr (IDX) p = ia[j];
    int64_t i = j;
    while (i > 0 && a[i - 1] > k) {
      a[i] = a[i - 1];
      if constexpr (IDX) ia[i] = ia[i - 1];
      --i;
    }
    a[i] = k;
    if constexpr (IDX) ia[i] = p;
  }
}

// Keys of x[0..n) sorted (with positions when IDX) in w; *s / *is point at the result.
template <class T, class K, class I, bool IDX>
void sort_keys(const T* x, int64_t n, K flip, const Bufs<K, I>& w, bool par, const K** s,
               const I** is) {
  if (n <= kInsertionMax) {
    for (int64_t j = 0; j < n; ++j) w.a[j] = to_key<T>(x[j]) ^ flip;
    insertion<K, I, IDX>(w.a, w.ia, n);
    *s = w.a;
    *is = w.ia;
    return;
  }
  if (par)
    keys_and_counts_par<T, K, I>(x, n, flip, w);
  else
    keys_and_counts<T, K, I>(x, n, flip, w.a, w.hist);
  const bool in_b = radix<K, I, IDX>(w, n, par);
  *s = in_b ? w.b : w.a;
  *is = in_b ? w.ib : w.ia;
}

// ---------------------------------------------------------------------------------------
// sort_rows

// vals[j] = the element of key s[j], idx[j] = is[j], for j in [lo, hi)
template <class T, class K, class I>
void emit(const K* s, const I* is, int64_t lo, int64_t hi, K flip, T* vals, int64_t* idx) {
  if (vals)
    for (int64_t j = lo; j < hi; ++j) vals[j] = from_key<T, K>(s[j] ^ flip);
  if (idx)
    for (int64_t j = lo; j < hi; ++j) idx[j] = static_cast<int64_t>(is[j]);
}

// The runs of the shared keys (0.0 and NaN) take their elements from x, in input order.
template <class T, class K, class I>
void fix_shared_keys(const T* x, int64_t n, K flip, const K* s, const I* is, T* vals) {
  if constexpr (std::is_floating_point_v<T>) {
    if (!vals) return;
    for (int which = 0; which < 2; ++which) {
      const K key = (which ? kNanKey<K> : kZeroKey<K>) ^ flip;
      const int64_t lo = lower_key(s, n, key, false), hi = lower_key(s, n, key, true);
      if (lo == hi) continue;
      if (is) {
        for (int64_t j = lo; j < hi; ++j) vals[j] = x[is[j]];
      } else {
        int64_t p = 0;
        for (int64_t j = lo; j < hi; ++j, ++p) {
          while (which ? !(x[p] != x[p]) : !(x[p] == T(0))) ++p;
          vals[j] = x[p];
        }
      }
    }
  }
}

template <class T, class I, bool IDX>
void sort_row(const T* x, int64_t n, bool descending, T* vals, int64_t* idx, bool par,
              const Bufs<typename KeyOf<T>::K, I>& w) {
  using K = typename KeyOf<T>::K;
  const K flip = descending ? ~K(0) : K(0);
  const K* s;
  const I* is;
  sort_keys<T, K, I, IDX>(x, n, flip, w, par, &s, &is);
  if (par)
    parallel_for(chunks_of(n), 1, [&](int64_t cb, int64_t ce) {
      for (int64_t c = cb; c < ce; ++c) {
        const int64_t lo = c * kChunk, hi = lo + kChunk < n ? lo + kChunk : n;
        emit<T, K, I>(s, is, lo, hi, flip, vals, idx);
      }
    });
  else
    emit<T, K, I>(s, is, 0, n, flip, vals, idx);
  fix_shared_keys<T, K, I>(x, n, flip, s, IDX ? is : nullptr, vals);
}

template <class T, class I>
void sort_rows_t(const T* x, int64_t rows, int64_t n, bool descending, T* vals, int64_t* idx) {
  using K = typename KeyOf<T>::K;
  const bool with_idx = idx != nullptr;
  auto one = [&](const Bufs<K, I>& w, int64_t r, bool par) {
    const T* xr = x + r * n;
    T* vr = vals ? vals + r * n : nullptr;
    int64_t* ir = idx ? idx + r * n : nullptr;
    if (with_idx)
      sort_row<T, I, true>(xr, n, descending, vr, ir, par, w);
    else
      sort_row<T, I, false>(xr, n, descending, vr, ir, par, w);
  };
  if (n >= kParallelMin && num_threads() > 1) {  // long rows: each row's passes in parallel
    PoolBuf buf(bufs_bytes<K, I>(n, with_idx, true));
    const Bufs<K, I> w = carve<K, I>(buf.p, n, with_idx, true);
    for (int64_t r = 0; r < rows; ++r) one(w, r, true);
    return;
  }
  parallel_for(rows, grain_for(4 * n), [&](int64_t rb, int64_t re) {
    PoolBuf buf(bufs_bytes<K, I>(n, with_idx, false));
    const Bufs<K, I> w = carve<K, I>(buf.p, n, with_idx, false);
    for (int64_t r = rb; r < re; ++r) one(w, r, false);
  });
}

template <class T>
void sort_rows_impl(const T* x, int64_t rows, int64_t n, bool descending, T* vals,
                    int64_t* idx) {
  if (rows <= 0 || n <= 0) return;
  if (n < (int64_t(1) << 32))
    sort_rows_t<T, uint32_t>(x, rows, n, descending, vals, idx);
  else
    sort_rows_t<T, uint64_t>(x, rows, n, descending, vals, idx);
}

// ---------------------------------------------------------------------------------------
// unique

// Integers over a narrow range [lo, hi]: count each value (no sort). Returns -1 when the range
// is too wide for a count table (more than max(2^16, min(n, 2^20)) values).
template <class T>
int64_t unique_counting(const T* x, int64_t n, T* vals, int64_t* inverse, int64_t* counts) {
  if (n >= (int64_t(1) << 32)) return -1;
  T lo = x[0], hi = x[0];
  for (int64_t j = 1; j < n; ++j) {
    lo = x[j] < lo ? x[j] : lo;
    hi = x[j] > hi ? x[j] : hi;
  }
  const uint64_t base = static_cast<uint64_t>(static_cast<int64_t>(lo));
  const uint64_t range = static_cast<uint64_t>(static_cast<int64_t>(hi)) - base;  // hi - lo
  const uint64_t cap_n = static_cast<uint64_t>(n) < (uint64_t(1) << 20) ? uint64_t(n)
                                                                         : uint64_t(1) << 20;
  const uint64_t cap = cap_n > (uint64_t(1) << 16) ? cap_n : uint64_t(1) << 16;
  if (range >= cap) return -1;
  const int64_t R = static_cast<int64_t>(range) + 1;
  PoolBuf cb(sizeof(uint32_t) * size_t(R));
  uint32_t* c = cb.as<uint32_t>();
  std::memset(c, 0, sizeof(uint32_t) * size_t(R));
  for (int64_t j = 0; j < n; ++j)
    ++c[static_cast<uint64_t>(static_cast<int64_t>(x[j])) - base];
  uint32_t u = 0;
  for (int64_t r = 0; r < R; ++r) {
    if (!c[r]) continue;
    vals[u] = static_cast<T>(static_cast<int64_t>(lo) + r);
    if (counts) counts[u] = c[r];
    c[r] = u++;  // the table now maps a value to its place in vals
  }
  if (inverse)
    for (int64_t j = 0; j < n; ++j)
      inverse[j] = c[static_cast<uint64_t>(static_cast<int64_t>(x[j])) - base];
  return u;
}

template <class T, class I, bool IDX>
int64_t unique_sorted(const T* x, int64_t n, T* vals, int64_t* inverse, int64_t* counts) {
  using K = typename KeyOf<T>::K;
  const bool par = n >= kParallelMin && num_threads() > 1;
  PoolBuf buf(bufs_bytes<K, I>(n, IDX, par));
  const Bufs<K, I> w = carve<K, I>(buf.p, n, IDX, par);
  const K* s;
  const I* is;
  sort_keys<T, K, I, IDX>(x, n, K(0), w, par, &s, &is);
  // runs of equal keys (each NaN a run of its own); counts first holds each run's start
  int64_t g = -1, zero_run = -1;
  K prev = s[0];
  for (int64_t i = 0; i < n; ++i) {
    const K k = s[i];
    bool starts = i == 0 || k != prev;
    if constexpr (std::is_floating_point_v<T>) starts = starts || k == kNanKey<K>;
    if (starts) {
      ++g;
      vals[g] = from_key<T, K>(k);
      if (counts) counts[g] = i;
      if (k == kZeroKey<K>) zero_run = g;
    }
    if constexpr (IDX) inverse[is[i]] = g;
    prev = k;
  }
  const int64_t u = g + 1;
  if (counts) {
    for (int64_t q = 0; q + 1 < u; ++q) counts[q] = counts[q + 1] - counts[q];
    counts[u - 1] = n - counts[u - 1];
  }
  if constexpr (std::is_floating_point_v<T>) {
    // 0.0 / -0.0: the first occurrence; the NaNs (the last runs): in input order
    if (zero_run >= 0) {
      int64_t p = 0;
      while (!(x[p] == T(0))) ++p;
      vals[zero_run] = x[p];
    }
    const int64_t nan_lo = lower_key(s, n, kNanKey<K>, false);
    int64_t p = 0;
    for (int64_t q = u - (n - nan_lo); q < u; ++q, ++p) {
      while (!(x[p] != x[p])) ++p;
      vals[q] = x[p];
    }
  }
  return u;
}

template <class T>
int64_t unique_impl(const T* x, int64_t n, T* vals, int64_t* inverse, int64_t* counts) {
  if (n <= 0) return 0;
  if constexpr (std::is_integral_v<T>) {
    const int64_t u = unique_counting<T>(x, n, vals, inverse, counts);
    if (u >= 0) return u;
  }
  if (n < (int64_t(1) << 32))
    return inverse ? unique_sorted<T, uint32_t, true>(x, n, vals, inverse, counts)
                   : unique_sorted<T, uint32_t, false>(x, n, vals, inverse, counts);
  return inverse ? unique_sorted<T, uint64_t, true>(x, n, vals, inverse, counts)
                 : unique_sorted<T, uint64_t, false>(x, n, vals, inverse, counts);
}

// ---------------------------------------------------------------------------------------
// searchsorted

// torch's step: go right of s when !(s >= v) (left) / !(s > v) (right)
template <class T, bool RIGHT>
inline bool goes_right(T s, T v) {
  return RIGHT ? !(s > v) : !(s >= v);
}

// Monotone predicate (no NaN in s): a fixed number of halving steps per value, the same for
// every value, so kLanes values advance in lockstep (branch-free; the loads vectorise into
// gathers). lo: the answer lies in [lo, lo + len]; every s[i], i < lo, goes right.
template <class T, bool RIGHT, class J, class O>
void search_mono(const T* s, int64_t m, const T* v, int64_t k, O* out) {
  constexpr int kLanes = 16;
  if (m == 0) {
    for (int64_t j = 0; j < k; ++j) out[j] = 0;
    return;
  }
  int64_t j = 0;
  for (; j + kLanes <= k; j += kLanes) {
    J lo[kLanes] = {};
    T vv[kLanes];
    for (int l = 0; l < kLanes; ++l) vv[l] = v[j + l];
    for (J len = static_cast<J>(m); len > 1;) {
      const J half = len >> 1;
      for (int l = 0; l < kLanes; ++l)
        lo[l] = goes_right<T, RIGHT>(s[lo[l] + half], vv[l]) ? lo[l] + half : lo[l];
      len -= half;
    }
    for (int l = 0; l < kLanes; ++l)
      out[j + l] = static_cast<O>(lo[l] + (goes_right<T, RIGHT>(s[lo[l]], vv[l]) ? 1 : 0));
  }
  for (; j < k; ++j) {
    J lo = 0;
    for (J len = static_cast<J>(m); len > 1;) {
      const J half = len >> 1;
      lo = goes_right<T, RIGHT>(s[lo + half], v[j]) ? lo + half : lo;
      len -= half;
    }
    out[j] = static_cast<O>(lo + (goes_right<T, RIGHT>(s[lo], v[j]) ? 1 : 0));
  }
}

// torch's bisection, step for step (for a sequence holding NaN, where the answer depends on
// which elements the bisection visits)
template <class T, bool RIGHT, class O>
void search_bisect(const T* s, int64_t m, const T* v, int64_t k, O* out) {
  for (int64_t j = 0; j < k; ++j) {
    int64_t lo = 0, hi = m;
    while (lo < hi) {
      const int64_t mid = lo + ((hi - lo) >> 1);
      if (goes_right<T, RIGHT>(s[mid], v[j]))
        lo = mid + 1;
      else
        hi = mid;
    }
    out[j] = static_cast<O>(lo);
  }
}

template <class T>
bool has_nan(const T* s, int64_t m) {
  if constexpr (std::is_floating_point_v<T>) {
    bool any = false;
    for (int64_t i = 0; i < m; ++i) any |= s[i] != s[i];
    return any;
  } else {
    return false;
  }
}

template <class T, class O>
void search_row(const T* s, int64_t m, bool nan, const T* v, int64_t k, bool right, O* out) {
  if (nan) {
    if (right)
      search_bisect<T, true, O>(s, m, v, k, out);
    else
      search_bisect<T, false, O>(s, m, v, k, out);
  } else if (m < (int64_t(1) << 31)) {
    if (right)
      search_mono<T, true, int32_t, O>(s, m, v, k, out);
    else
      search_mono<T, false, int32_t, O>(s, m, v, k, out);
  } else {
    if (right)
      search_mono<T, true, int64_t, O>(s, m, v, k, out);
    else
      search_mono<T, false, int64_t, O>(s, m, v, k, out);
  }
}

template <class T, class O>
void searchsorted_t(const T* seq, int64_t seq_rows, int64_t m, const T* v, int64_t rows,
                    int64_t k, bool right, O* out) {
  const bool shared = seq_rows == 1;
  // whether each sequence holds a NaN (one flag per sequence row)
  PoolBuf flags(static_cast<size_t>(seq_rows));
  bool* nan_in = flags.as<bool>();
  parallel_for(seq_rows, grain_for(m), [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) nan_in[r] = has_nan(seq + r * m, m);
  });
  int64_t steps = 1;
  while ((int64_t(1) << steps) < m + 1) ++steps;
  parallel_for(rows * k, grain_for(4 * steps), [&](int64_t b, int64_t e) {
    for (int64_t pos = b; pos < e;) {
      const int64_t r = pos / k, j = pos - r * k;
      const int64_t cnt = k - j < e - pos ? k - j : e - pos;
      const T* s = shared ? seq : seq + r * m;
      const bool nan = nan_in[shared ? 0 : r];
      search_row<T, O>(s, m, nan, v + pos, cnt, right, out + pos);
      pos += cnt;
    }
  });
}

template <class T>
void searchsorted_impl(const T* seq, int64_t seq_rows, int64_t m, const T* v, int64_t rows,
                       int64_t k, bool right, int64_t* out, int32_t* out32) {
  if (rows <= 0 || k <= 0) return;
  if (out32)
    searchsorted_t<T, int32_t>(seq, seq_rows, m, v, rows, k, right, out32);
  else
    searchsorted_t<T, int64_t>(seq, seq_rows, m, v, rows, k, right, out);
}

template <class T>
constexpr SortOpsT<T> table_of() {
  return {&sort_rows_impl<T>, &unique_impl<T>, &searchsorted_impl<T>};
}

}  // namespace

const SortOps ops = {table_of<float>(), table_of<double>(), table_of<int32_t>(),
                     table_of<int64_t>()};

}  // namespace FASTDL_SIMD_ISA
}  // namespace sort
}  // namespace fastdl
