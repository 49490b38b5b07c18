// Placeholder-free plain GEMM (correct, not fast); the packed BLIS-style kernel replaces it.
#include "kernels/gemm/gemm.h"

namespace fastdl {
namespace gemm {
namespace {
template <class T>
void gemm_plain(bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha, const T* A,
                int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    T* c = C + i * ldc;
    for (int64_t j = 0; j < n; ++j) c[j] = beta == T(0) ? T(0) : beta * c[j];
    for (int64_t p = 0; p < k; ++p) {
      T a = alpha * (ta ? A[p * lda + i] : A[i * lda + p]);
      for (int64_t j = 0; j < n; ++j) c[j] += a * (tb ? B[j * ldb + p] : B[p * ldb + j]);
    }
  }
}
}  // namespace

void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_plain(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
void dgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* A,
           int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  gemm_plain(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
}  // namespace gemm
}  // namespace fastdl
