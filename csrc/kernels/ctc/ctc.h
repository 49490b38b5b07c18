// Connectionist temporal classification (CTC) loss: the forward (α) and backward (β)
// recursions over the blank-extended label sequence, in log space.
//
// Layouts: log_probs (T, N, C) C-contiguous; targets concatenated (Σ target_lengths), sample
// n's labels starting at tgt_offset[n]; input_len[n] ≤ T, target_len[n] ≤ L. The extended
// sequence of sample n is l' = (blank, l1, blank, l2, …, lL, blank) of S = 2·L_n + 1 states.
// The caller validates lengths and labels; the kernels trust them. Samples are independent
// and split across threads one per chunk, so results do not depend on the thread count.
// T = float or double.
#pragma once
#include <cstdint>

#include "common/dispatch.h"

namespace fastdl {
namespace ctc {

// nll[n] = −log Σ_{alignments} Π_t p_t(π_t), and log_alpha (N, T, 2·Lmax + 1) of the forward
// recursion (−inf where unused), kept for the backward:
//   α_0(0) = lp_0(blank), α_0(1) = lp_0(l'_1)
//   α_t(s) = lp_t(l'_s) + lse(α_{t−1}(s), α_{t−1}(s−1), α_{t−1}(s−2) if l'_s ≠ blank, l'_{s−2})
//   nll = −lse(α_{T_n−1}(S−1), α_{T_n−1}(S−2))
template <class T>
void ctc_forward(const T* log_probs, int64_t Tmax, int64_t N, int64_t C, const int64_t* targets,
                 const int64_t* tgt_offset, const int64_t* input_len, const int64_t* target_len,
                 int64_t Lmax, int64_t blank, T* nll, T* log_alpha);

// grad (T, N, C) of Σ_n g[n]·nll[n] in PyTorch's convention (the gradient that log_softmax's
// backward turns into the exact gradient of the logits):
//   grad_t(c) = g[n] · (exp(lp_t(c)) − exp(lse_{s: l'_s = c}(α_t(s) + β_t(s)) + nll − lp_t(c)))
// for t < T_n, and 0 for t ≥ T_n. With zero_infinity a sample whose nll is +inf gets a zero
// gradient.
template <class T>
void ctc_backward(const T* log_probs, int64_t Tmax, int64_t N, int64_t C, const int64_t* targets,
                  const int64_t* tgt_offset, const int64_t* input_len, const int64_t* target_len,
                  int64_t Lmax, int64_t blank, const T* nll, const T* log_alpha, const T* g,
                  bool zero_infinity, T* grad);

// The per-ISA implementation table (filled at the end of ctc_impl.h, once per ISA).
template <class T>
struct CtcOpsT {
  void (*forward)(const T*, int64_t, int64_t, int64_t, const int64_t*, const int64_t*,
                  const int64_t*, const int64_t*, int64_t, int64_t, T*, T*);
  void (*backward)(const T*, int64_t, int64_t, int64_t, const int64_t*, const int64_t*,
                   const int64_t*, const int64_t*, int64_t, int64_t, const T*, const T*,
                   const T*, bool, T*);
};
struct CtcOps {
  CtcOpsT<float> f;
  CtcOpsT<double> d;
};
FASTDL_DECLARE_OPS(CtcOps)

}  // namespace ctc
}  // namespace fastdl
