// embedding_bag: per bag, the sum / mean / max of rows of an embedding table, and the
// gradient back into the table.
//
// weight (n, D) C-contiguous; the E entries idx[e] of bag b are e ∈ [start[b], start[b] +
// count[b]) (padding entries already removed by the caller, which also checked every index
// is in [0, n)); psw (E) per-sample weights or nullptr (sum mode). Forward parallel over
// bags, backward parallel over column blocks of D (each thread owns whole columns of the
// gradient, so there are no races and the sums run in entry order: results do not depend on
// the thread count). T = float or double.
//
// One copy of the loops per ISA (embag_impl.inc compiled by embag.cpp, embag_avx2.cpp and
// embag_avx512.cpp with that ISA's flags), chosen per call from the active ISA (FASTDL_ISA).
#pragma once
#include <cstdint>

namespace fastdl {
namespace embag {

enum Mode : int { kSum = 0, kMean = 1, kMax = 2 };

// out (B, D); for kMax, arg (B, D) receives the entry e of each maximum (−1 for empty bags).
template <class T>
void forward(const T* weight, int64_t D, const int64_t* idx, int64_t E, const int64_t* start,
             const int64_t* count, int64_t B, const T* psw, int mode, T* out, int64_t* arg);

// gw (n, D) = Σ over entries of the bag gradient g (B, D) (scaled by psw or 1/count), or,
// for kMax, g[b, d] added at row idx[arg[b, d]]. gw is overwritten.
template <class T>
void backward_weight(const T* g, int64_t D, const int64_t* idx, const int64_t* start,
                     const int64_t* count, int64_t B, const T* psw, int mode,
                     const int64_t* arg, int64_t n, T* gw);

// gpsw (E): gpsw[e] = Σ_d g[bag(e), d] · weight[idx[e], d] (sum mode).
template <class T>
void backward_psw(const T* g, const T* weight, int64_t D, const int64_t* idx, int64_t E,
                  const int64_t* start, const int64_t* count, int64_t B, T* gpsw);

// The per-ISA implementation table.
template <class T>
struct EmbagOpsT {
  void (*forward)(const T*, int64_t, const int64_t*, int64_t, const int64_t*, const int64_t*,
                  int64_t, const T*, int, T*, int64_t*);
  void (*backward_weight)(const T*, int64_t, const int64_t*, const int64_t*, const int64_t*,
                          int64_t, const T*, int, const int64_t*, int64_t, T*);
  void (*backward_psw)(const T*, const T*, int64_t, const int64_t*, int64_t, const int64_t*,
                       const int64_t*, int64_t, T*);
};
struct EmbagOps {
  EmbagOpsT<float> f;
  EmbagOpsT<double> d;
};
namespace generic { extern const EmbagOps ops; }
namespace avx2 { extern const EmbagOps ops; }
namespace avx512 { extern const EmbagOps ops; }

}  // namespace embag
}  // namespace fastdl
