// Sorting kernels: a stable LSD radix sort on order-preserving integer keys, and on it
// sort/argsort along the last dimension, unique (with inverse and counts), and a branchless
// binary search (searchsorted). Raw pointers; the binding validates shapes and dtypes.
//
// Element types T: float, double, int32_t, int64_t. The order is torch's: numbers ascending,
// NaN after every number (all NaNs equal to each other), -0.0 equal to 0.0. Keys: a float's
// bits with the sign bit flipped (non-negative) or all bits flipped (negative), -0.0 taken as
// 0.0 and every NaN as the largest key; an integer's bits with the sign bit flipped. Sorting is
// stable, so equal elements keep their input order (also descending, as torch's stable sort).
//
// The kernels are written once in sort_impl.h and compiled per ISA (sort.cpp: generic,
// sort_avx2.cpp, sort_avx512.cpp); the functions below call the active ISA's SortOps table.
// Every result is unique (a stable sort has one answer), so it does not depend on the thread
// count.
#pragma once
#include <cstdint>

#include "common/dispatch.h"

namespace fastdl {
namespace sort {

// Sort each row of x (rows, n), C-contiguous, stably: ascending, or with `descending` from the
// largest down (NaN first), equal elements in their input order either way. vals (rows, n):
// the sorted elements (bit for bit the input's: -0.0 and NaN payloads kept), or nullptr;
// idx (rows, n): each sorted element's position in its row, or nullptr.
template <class T>
void sort_rows(const T* x, int64_t rows, int64_t n, bool descending, T* vals, int64_t* idx);

// The distinct elements of x[0..n) in ascending order: vals[0..u), returns u. Each NaN is its
// own distinct element (NaN != NaN, as torch), after every number and in input order; -0.0
// and 0.0 are one element, stored as its first occurrence. inverse (n entries, or nullptr):
// the position in vals of each x[j]; counts (room for n, or nullptr): how often each vals[g]
// occurs. vals has room for n entries.
template <class T>
int64_t unique(const T* x, int64_t n, T* vals, int64_t* inverse, int64_t* counts);

// For each value of v (rows, k), the insertion point into its row of the ascending sequence
// seq (seq_rows, m), seq_rows = 1 (one sequence for every row) or rows, as torch's
// searchsorted: left (right = false) counts the seq elements s with !(s >= v), right those
// with !(s > v), by bisection. A NaN in seq makes that row follow torch's bisection exactly
// (the predicate is then not monotone). out (rows, k): int64 or, with out32, int32 (one of
// the two is nullptr).
template <class T>
void searchsorted(const T* seq, int64_t seq_rows, int64_t m, const T* v, int64_t rows,
                  int64_t k, bool right, int64_t* out, int32_t* out32);

// The family's per-ISA table: the functions above for one element type.
template <class T>
struct SortOpsT {
  void (*sort_rows)(const T*, int64_t, int64_t, bool, T*, int64_t*);
  int64_t (*unique)(const T*, int64_t, T*, int64_t*, int64_t*);
  void (*searchsorted)(const T*, int64_t, int64_t, const T*, int64_t, int64_t, bool, int64_t*,
                       int32_t*);
};
struct SortOps {
  SortOpsT<float> f;
  SortOpsT<double> d;
  SortOpsT<int32_t> i32;
  SortOpsT<int64_t> i64;
};
FASTDL_DECLARE_OPS(SortOps)

}  // namespace sort
}  // namespace fastdl
