// CTC loss: the generic build of ctc_impl.h, the dispatch and the API (see ctc.h).
#include "kernels/ctc/ctc.h"

#include "common/dispatch.h"
#include "kernels/ctc/ctc_impl.h"  // the generic build and its CtcOps table

namespace fastdl {
namespace ctc {
FASTDL_DEFINE_OPS(CtcOps)

template <class T>
void ctc_forward(const T* log_probs, int64_t Tmax, int64_t N, int64_t C, const int64_t* targets,
                 const int64_t* tgt_offset, const int64_t* input_len, const int64_t* target_len,
                 int64_t Lmax, int64_t blank, T* nll, T* log_alpha) {
  by_dtype<T>(ops()).forward(log_probs, Tmax, N, C, targets, tgt_offset, input_len, target_len,
                             Lmax, blank, nll, log_alpha);
}

template <class T>
void ctc_backward(const T* log_probs, int64_t Tmax, int64_t N, int64_t C, const int64_t* targets,
                  const int64_t* tgt_offset, const int64_t* input_len, const int64_t* target_len,
                  int64_t Lmax, int64_t blank, const T* nll, const T* log_alpha, const T* g,
                  bool zero_infinity, T* grad) {
  by_dtype<T>(ops()).backward(log_probs, Tmax, N, C, targets, tgt_offset, input_len,
                              target_len, Lmax, blank, nll, log_alpha, g, zero_infinity, grad);
}

template void ctc_forward<float>(const float*, int64_t, int64_t, int64_t, const int64_t*,
                                 const int64_t*, const int64_t*, const int64_t*, int64_t,
                                 int64_t, float*, float*);
template void ctc_forward<double>(const double*, int64_t, int64_t, int64_t, const int64_t*,
                                  const int64_t*, const int64_t*, const int64_t*, int64_t,
                                  int64_t, double*, double*);
template void ctc_backward<float>(const float*, int64_t, int64_t, int64_t, const int64_t*,
                                  const int64_t*, const int64_t*, const int64_t*, int64_t,
                                  int64_t, const float*, const float*, const float*, bool,
                                  float*);
template void ctc_backward<double>(const double*, int64_t, int64_t, int64_t, const int64_t*,
                                   const int64_t*, const int64_t*, const int64_t*, int64_t,
                                   int64_t, const double*, const double*, const double*, bool,
                                   double*);

}  // namespace ctc
}  // namespace fastdl
