// GEMM: C = alpha * op(A) * op(B) + beta * C, row-major, op = identity or transpose.
//
// A is m×k (or k×m when trans_a) with row stride lda; B is k×n (or n×k when trans_b) with row
// stride ldb; C is m×n with row stride ldc. beta == 0 means C is only written (NaN in C is
// not propagated), as in BLAS. Safe to call from inside a parallel region (it then runs on
// the calling thread).
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

}  // namespace gemm
}  // namespace fastdl
