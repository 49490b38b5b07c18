// embedding_bag: per bag, the sum / mean / max of rows of an embedding table, and the
// gradient back into the table.
//
// weight (n, D) C-contiguous. The bags (Bags below) cut the E entries idx[e] into B runs:
// with offsets, bag b is [offs[b], offs[b + 1]) and the last bag runs to E; without, bag b
// is [b·L, (b + 1)·L). Entries equal to `pad` (>= 0; -1 for none) are left out of their bag
// and of a mean's count; a bag with no entries left gives zeros. psw (E) per-sample weights
// or nullptr (sum mode). The forward checks every index it reads against [0, n) and returns
// the position of the first bad one (the caller raises); the backward expects checked
// indices. The caller checks the offsets (offs[0] = 0, non-decreasing, at most E).
//
// Threads: the forward over bags, the backward over column blocks of D (each thread owns
// whole columns of the gradient, so there are no races and the sums run in entry order).
// Results do not depend on the thread count. T = float or double.
//
// Layout (CONTRIBUTING.md): the kernels are in embag_impl.h, written once on simd:: types and
// compiled per ISA (embag.cpp generic, embag_avx2.cpp, embag_avx512.cpp); ops() picks the
// active ISA's table.
#pragma once
#include <cstdint>

#include "common/dispatch.h"

namespace fastdl {
namespace embag {

enum Mode : int { kSum = 0, kMean = 1, kMax = 2 };

struct Bags {
  const int64_t* idx;   // (E,) row of each entry
  int64_t E;
  const int64_t* offs;  // (B,) bag starts, or nullptr: bags of L consecutive entries
  int64_t L;
  int64_t B;
  int64_t pad;          // entries equal to pad are skipped; -1: none
  int64_t n;            // table rows
  int64_t begin(int64_t b) const { return offs ? offs[b] : b * L; }
  int64_t end(int64_t b) const { return offs ? (b + 1 < B ? offs[b + 1] : E) : (b + 1) * L; }
};

// out (B, D); for kMax, arg (B, D) receives the entry e of each maximum (−1 for empty bags).
// Returns −1, or the smallest entry e whose index lies outside [0, n) (out is then
// unspecified).
template <class T>
int64_t forward(const Bags& g, const T* weight, int64_t D, const T* psw, int mode, T* out,
                int64_t* arg);

// gw (n, D) = Σ over entries of the bag gradient gy (B, D) (scaled by psw or 1/count), or,
// for kMax, gy[b, d] added at row idx[arg[b, d]]. gw is overwritten.
template <class T>
void backward_weight(const Bags& g, const T* gy, int64_t D, const T* psw, int mode,
                     const int64_t* arg, T* gw);

// gpsw (E): gpsw[e] = Σ_d gy[bag(e), d] · weight[idx[e], d] (sum mode; 0 for padding).
template <class T>
void backward_psw(const Bags& g, const T* gy, const T* weight, int64_t D, T* gpsw);

// The per-ISA implementation table.
template <class T>
struct EmbagOpsT {
  int64_t (*forward)(const Bags&, const T*, int64_t, const T*, int, T*, int64_t*);
  void (*backward_weight)(const Bags&, const T*, int64_t, const T*, int, const int64_t*, T*);
  void (*backward_psw)(const Bags&, const T*, const T*, int64_t, T*);
};
struct EmbagOps {
  EmbagOpsT<float> f;
  EmbagOpsT<double> d;
};
FASTDL_DECLARE_OPS(EmbagOps)

}  // namespace embag
}  // namespace fastdl
