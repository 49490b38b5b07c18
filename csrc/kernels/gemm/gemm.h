// GEMM: C = alpha * op(A) * op(B) + beta * C, row-major, op = identity or transpose.
//
// A is m×k (or k×m when trans_a) with row stride lda; B is k×n (or n×k when trans_b) with row
// stride ldb; C is m×n with row stride ldc. beta == 0 means C is only written (NaN in C is
// not propagated), and alpha == 0 (or k == 0) means C := beta * C without reading A or B, as
// in BLAS. Otherwise NaN/Inf in A or B propagate as in a plain triple loop (NumPy).
//
// Implementation (gemm.cpp): BLIS-style packed panels and one MR×NR register-blocked
// micro-kernel per ISA (gemm_impl.h for generic and AVX2, gemm_avx512.cpp); block sizes in
// one table per architecture (gemm_blocks.h). Threads split C into 2-D blocks over
// M and N (never over k), so the result is bitwise identical for any thread count.
// Safe to call from inside an OpenMP parallel region: it then runs single-threaded on the
// calling thread. Scratch: thread_scratch slots kScratchGemmA/B/X (common/allocator.h) of the
// calling thread(s).
#pragma once
#include <cstdint>

namespace fastdl {
namespace gemm {

void sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
           const float* A, int64_t lda, const float* B, int64_t ldb, float beta, float* C,
           int64_t ldc);

void dgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
           const double* A, int64_t lda, const double* B, int64_t ldb, double beta, double* C,
           int64_t ldc);

// The same, always single-threaded on the calling thread (for callers that parallelise
// over many small products themselves).
void sgemm_serial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                  float* C, int64_t ldc);
void dgemm_serial(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, double alpha,
                  const double* A, int64_t lda, const double* B, int64_t ldb, double beta,
                  double* C, int64_t ldc);

// Implicit GEMM: C (m×n, row stride ldc) := A·B + beta·C (beta == 0: C only written) with A
// m×k row-major (row stride lda) and a k×n B that is never stored: pack(ctx, pc, kc, jc, nc,
// nr, bp) writes rows [pc, pc+kc) × columns [jc, jc+nc) of B straight into the micro-kernel's
// panels of nr columns (panel q, columns jc + q·nr ..., at bp + q·nr·kc; its element (row
// pc + p, column jc + q·nr + j) at p·nr + j), the last panel zero-padded to nr columns. A
// convolution packs its im2col matrix this way without writing it out (conv_impl.h). Runs
// the stream or packed loop nest (as sgemm would for a dense B; never in place), threaded
// over 2-D blocks of C like sgemm (pack may be called concurrently, for disjoint blocks of
// C), bitwise identical for any thread count. Safe inside an OpenMP region (runs serially).
// c_seg > 0 (c_seg_stride >= c_seg, else std::invalid_argument): C's columns lie in segments
// of c_seg, segment s at C + s·c_seg_stride, i.e. C(i, j) at
// C[i·ldc + (j / c_seg)·c_seg_stride + j % c_seg] -- a batch of images' output planes written
// in place in NCHW (rows: channels, ldc = OH·OW; segments: images, stride K·OH·OW). Any
// c_seg: micro-tiles that straddle two segments go through a local tile (same arithmetic).
// trans_a: A is stored transposed (k×m, A(i, p) at A[p·lda + i]).
// pack(ctx, pc, kc, jc, nc, nr, nullptr) is a hint, nothing written: bring the memory the
// block's elements come from toward L2 (prefetch_l2), for a block packed soon after; the
// stream loop nest gives it the next panel, the packed one the next KC×NC block, a slice of
// rows per micro-tile while the current one's tiles run. A callback may ignore it.
template <class T>
using PackBFn = void (*)(const void* ctx, int64_t pc, int64_t kc, int64_t jc, int64_t nc,
                         int64_t nr, T* bp);
// epi (with c_seg > 0 and k > 0 only, else std::invalid_argument): applied to each element
// of C once its sum is complete, by the thread that computed it, on the micro-tile while it
// is in L1 (gemm.cpp: SegC):
//   c = min(max(c + bias[row], lo), hi)
// (bias may be null; lo = -inf, hi = +inf for no clamp; a NaN is kept) -- the arithmetic of
// a separate bias-and-clamp pass over C, so the result is bitwise the same.
template <class T>
struct RowEpilogue {
  const T* bias;
  T lo, hi;
};
void sgemm_implicit(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda,
                    PackBFn<float> pack, const void* ctx, float beta, float* C, int64_t ldc,
                    int64_t c_seg = 0, int64_t c_seg_stride = 0, bool trans_a = false,
                    const RowEpilogue<float>* epi = nullptr);
void dgemm_implicit(int64_t m, int64_t n, int64_t k, const double* A, int64_t lda,
                    PackBFn<double> pack, const void* ctx, double beta, double* C,
                    int64_t ldc, int64_t c_seg = 0, int64_t c_seg_stride = 0,
                    bool trans_a = false, const RowEpilogue<double>* epi = nullptr);

// The implicit GEMM with A (m×k, row-major, row stride lda) read in place: the micro-kernel
// broadcasts A's elements straight from its rows instead of a packed copy (only a partial last
// row tile is packed); B through pack as above (all n columns of a k block at once: n of a
// few hundred at most). For a large A against a narrow B -- a 1×1 convolution's weight
// gradient, dY (K × pixels) against the input's C channels -- where packing A would copy the
// operand once more than the product reads it. Threaded and bitwise thread-independent like
// sgemm_implicit, and every element the same sum as sgemm_implicit's packed loop nest.
void sgemm_implicit_a_inplace(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda,
                              PackBFn<float> pack, const void* ctx, float beta, float* C,
                              int64_t ldc);
void dgemm_implicit_a_inplace(int64_t m, int64_t n, int64_t k, const double* A, int64_t lda,
                              PackBFn<double> pack, const void* ctx, double beta, double* C,
                              int64_t ldc);

// C (m×n) := A·B + beta·C (beta == 0: C only written) with B given as the micro-kernel's
// panels, made by spack_b(trans, k, n, B, ldb, panels) (k rows, all n columns): each panel is
// read in place, no packing per call (a weight packed once, multiplied many times). The
// stream loop nest (A packed whole, every panel against all of A's row tiles), threaded and
// bitwise thread-independent like sgemm; for few rows (m up to ~128: A is read once per
// panel). The panels are the active path's: pack them and multiply on the same path.
void sgemm_prepacked(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda,
                     bool trans_a, const float* panels, float beta, float* C, int64_t ldc);

// Asks for the cache lines of [p, p + bytes) in L2 (software prefetch; a hint, nothing
// waits for it).
inline void prefetch_l2(const void* p, int64_t bytes) {
  const char* c = static_cast<const char*>(p);
  for (int64_t o = 0; o < bytes; o += 64) __builtin_prefetch(c + o, 0, 2);
  if (bytes > 0) __builtin_prefetch(c + bytes - 1, 0, 2);
}

// The active path's B packing, for implicit-GEMM pack callbacks that assemble their panels
// from dense pieces: rows [0, kc) × columns [0, nc) of op(B) (B(p, j) = trans ? B[j·ldb + p]
// : B[p·ldb + j]) into NR-column panels at bp (panel q at bp + q·NR·kc, element (p, j) at
// p·NR + j), the last one zero-padded to NR columns. With nc <= NR it writes one panel, so a
// callback may pack a panel's rows piece by piece (rows [p0, p1) at bp + p0·NR).
void spack_b(bool trans, int64_t kc, int64_t nc, const float* B, int64_t ldb, float* bp);
void dpack_b(bool trans, int64_t kc, int64_t nc, const double* B, int64_t ldb, double* bp);

// The active path's register blocking {MR, NR} and cache blocking {KC, MC, NC} (elements),
// for tests that probe tile and block boundaries. dtype_size: 4 (float) or 8 (double).
struct Blocking {
  int64_t mr, nr, kc, mc, nc;
};
Blocking blocking(int dtype_size);

// The loop nest a product of these sizes runs on the active path ("gemv", "direct",
// "stream", "packed"; "none" when it is empty), for tests that must reach each of them.
const char* path_name(int dtype_size, bool parallel, bool trans_b, int64_t m, int64_t n,
                      int64_t k);

// FMA-throughput probe for the peak micro-benchmark: runs `iters` iterations of a loop of
// independent vector FMAs on the active ISA (float32) and returns the FLOPs it performed.
// Run on the calling thread only.
double fma_probe(int64_t iters);

}  // namespace gemm
}  // namespace fastdl
