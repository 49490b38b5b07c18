// Internals of the gemm family shared by gemm.cpp and the per-ISA files: the GemmOps table
// each ISA fills in (per dtype its block sizes, micro-kernel and packing routines).
//
// Terms (BLIS): C (m×n, row-major) is computed in MR×NR tiles by a micro-kernel that keeps
// the tile in registers and walks k: per step it loads NR contiguous values of a packed B
// row (vectors) and broadcasts MR values of a packed A column. Packed A: MR-row panels,
// element (i, p) of a panel at a[p*MR + i]; packed B: NR-column panels, (p, j) at b[p*NR + j];
// both zero-padded to full panels. Loops (gemm.cpp): JC over n by NC, PC over k by KC
// (pack a KC×NC block of B: L2), IC over m by MC (pack an MC×KC block of A), then IR by MR
// (an MR×KC A micro-panel stays in L1) and JR by NR (B micro-panels stream from L2).
//
// Block sizes: gemm_blocks.h, one table per architecture.
//
// The k blocks are balanced: ceil(k / KC) blocks of equal depth (rounded up to 8), a function
// of k alone. AVX-512 edge tiles run on 4-, 8- or 12-row and 1- or 2-vector instantiations of
// the same micro-kernel (same per-element arithmetic). Products with m*n*k <= 64^3 skip packing
// (direct path); m == 1 or n == 1 take a matrix-vector path; products of at most 128 rows
// pack A once and B one micro-panel at a time (stream path); below 48^3 no threads. Which
// path runs: choose_path in gemm.cpp.
#pragma once
#include <cstdint>

#include "common/dispatch.h"
#include "kernels/gemm/gemm_blocks.h"

namespace fastdl {
namespace gemm {

// Micro-kernel: c[i*ldc + j] (i < mr <= MR, j < nr <= NR) :=
//   alpha * sum_p a(i, p) * b(p, j) + (beta == 0 ? 0 : beta * c[i*ldc + j])
// with a(i, p) = a[i*rsa + p*csa] and b(p, j) = b[p*rsb + j]; a and b are read for the full
// MR×NR tile (callers pad edges), C only inside mr×nr. The per-element arithmetic does not
// depend on mr, nr, the strides or the tile's position.
template <class T>
using MicroKernel = void (*)(int64_t k, const T* a, int64_t rsa, int64_t csa, const T* b,
                             int64_t rsb, T* c, int64_t ldc, int64_t mr, int64_t nr, T alpha,
                             T beta);
// Pack rows [0, mc) × cols [0, kc) of op(A) (A(i,p) = trans ? A[p*lda+i] : A[i*lda+p]) into
// MR-row panels at ap (zero-padded to a multiple of MR rows).
template <class T>
using PackA = void (*)(bool trans, int64_t mc, int64_t kc, const T* A, int64_t lda, T* ap);
// Pack rows [0, kc) × cols [0, nc) of op(B) (B(p,j) = trans ? B[j*ldb+p] : B[p*ldb+j]) into
// NR-column panels at bp (zero-padded to a multiple of NR columns).
template <class T>
using PackB = void (*)(bool trans, int64_t kc, int64_t nc, const T* B, int64_t ldb, T* bp);

// c[i*ldc + j] = min(max(c[i*ldc + j] (+ bias[i] when bias), lo), hi) for i < mr, j < nr
// (nr <= NR): the implicit GEMM's epilogue on a finished micro-tile (gemm.h: RowEpilogue), in
// the vectors and with the NaN rule of the convolutions' separate bias and activation passes.
template <class T>
using RowEpi = void (*)(T* c, int64_t ldc, int64_t mr, int64_t nr, const T* bias, T lo, T hi);

// One dtype's kernel: its block sizes (gemm_blocks.h) and routines.
template <class T>
struct Kernel : Blocks {
  MicroKernel<T> packed;   // rsa == 1, csa == MR, rsb == NR (the strides are ignored)
  MicroKernel<T> strided;  // any strides
  PackA<T> pack_a;
  PackB<T> pack_b;
  RowEpi<T> row_epi;
};

// ---- dispatch (common/dispatch.h): one table per ISA ----------------------------------------
struct GemmOps {
  Kernel<float> f;
  Kernel<double> d;
  // Peak probe: `iters` rounds of independent FMAs, returns FLOPs done.
  double (*fma_probe)(int64_t iters);
};
FASTDL_DECLARE_OPS(GemmOps)

}  // namespace gemm
}  // namespace fastdl
