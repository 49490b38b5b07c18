// Loss kernels: fused log-softmax + NLL (cross entropy) with class-index or class-probability
// targets, NLL, and the pointwise losses (MSE, L1, smooth L1, Huber, BCE, BCE with logits,
// KL divergence), forward and backward.
//
// Class layouts are C-contiguous (N, C, S): N samples, C classes, S spatial positions; sample
// i = n·S + s. Targets are validated by the caller (each in [0, C) or == ignore_index): the
// kernels trust them. Per-sample results go to arrays of N·S; sums over elements use fixed
// chunks combined in order (thread-count independent). T = float or double.
#pragma once
#include <cstdint>

#include "common/dispatch.h"

namespace fastdl {
namespace loss {

// Cross entropy, class-index targets. weight (C) or nullptr; eps = label smoothing.
// loss[i] = (1−eps)·w[t]·(lse − x[t]) + eps/C·Σ_c w[c]·(lse − x[c]), 0 when t == ignore_index;
// lse[i] = log Σ_c exp(x[c]) (saved for the backward).
template <class T>
void ce_forward(const T* x, int64_t N, int64_t C, int64_t S, const int64_t* target,
                const T* weight, int64_t ignore_index, double eps, T* loss, T* lse);

// gx = ∂/∂x Σ_i gi·loss[i] with gi = gscale·g[i·gstride] (gstride 0: one scalar g[0]).
template <class T>
void ce_backward(const T* x, int64_t N, int64_t C, int64_t S, const int64_t* target,
                 const T* weight, int64_t ignore_index, double eps, const T* lse, const T* g,
                 int64_t gstride, double gscale, T* gx);

// Cross entropy, class-probability targets p (N, C, S); p' = (1−eps)·p + eps/C:
// loss[i] = Σ_c w[c]·p'[c]·(lse − x[c]).
template <class T>
void ce_prob_forward(const T* x, int64_t N, int64_t C, int64_t S, const T* p, const T* weight,
                     double eps, T* loss, T* lse);
template <class T>
void ce_prob_backward(const T* x, int64_t N, int64_t C, int64_t S, const T* p, const T* weight,
                      double eps, const T* lse, const T* g, int64_t gstride, double gscale, T* gx);

// NLL on log-probabilities x: loss[i] = −w[t]·x[n, t, s] (0 when ignored).
template <class T>
void nll_forward(const T* x, int64_t N, int64_t C, int64_t S, const int64_t* target,
                 const T* weight, int64_t ignore_index, T* loss);
template <class T>
void nll_backward(int64_t N, int64_t C, int64_t S, const int64_t* target, const T* weight,
                  int64_t ignore_index, const T* g, int64_t gstride, double gscale, T* gx);

// Pointwise losses of input x and target y (n elements each).
enum Kind : int {
  kMSE = 0,         // (x − y)²
  kL1 = 1,          // |x − y|
  kSmoothL1 = 2,    // d = |x − y|: d < beta ? 0.5·d²/beta : d − 0.5·beta      (param = beta)
  kHuber = 3,       // d < delta ? 0.5·d² : delta·(d − 0.5·delta)              (param = delta)
  kBCE = 4,         // −w·(y·max(log x, −100) + (1 − y)·max(log(1 − x), −100))  (w optional)
  kBCELogits = 5,   // w·((1 − y)·x + (1 + (pw − 1)·y)·softplus(−x))           (w, pw optional)
  kKLDiv = 6,       // y·(log y − x), 0 where y == 0
  kKLDivLog = 7,    // exp(y)·(y − x)            (log_target=True)
  kNumKinds = 8
};

// Elementwise loss into out (when out != nullptr); returns Σ loss over the n elements (in
// double, fixed order). w / pw (full size n) or nullptr. For kBCE, *bad counts inputs outside
// [0, 1] (the caller raises).
template <class T>
double pw_forward(int kind, const T* x, const T* y, const T* w, const T* pw, int64_t n,
                  double param, T* out, int64_t* bad);

// gx = gi·∂loss/∂x with gi = gscale·g[i·gstride].
template <class T>
void pw_backward(int kind, const T* x, const T* y, const T* w, const T* pw, int64_t n,
                 double param, const T* g, int64_t gstride, double gscale, T* gx);

// ---- dispatch (common/dispatch.h): one table per ISA, filled in loss_impl.h ----------
template <class T>
struct LossOpsT {
  void (*ce_forward)(const T*, int64_t, int64_t, int64_t, const int64_t*, const T*, int64_t,
                     double, T*, T*);
  void (*ce_backward)(const T*, int64_t, int64_t, int64_t, const int64_t*, const T*, int64_t,
                      double, const T*, const T*, int64_t, double, T*);
  void (*ce_prob_forward)(const T*, int64_t, int64_t, int64_t, const T*, const T*, double, T*,
                          T*);
  void (*ce_prob_backward)(const T*, int64_t, int64_t, int64_t, const T*, const T*, double,
                           const T*, const T*, int64_t, double, T*);
  void (*nll_forward)(const T*, int64_t, int64_t, int64_t, const int64_t*, const T*, int64_t,
                      T*);
  void (*nll_backward)(int64_t, int64_t, int64_t, const int64_t*, const T*, int64_t, const T*,
                       int64_t, double, T*);
  double (*pw_forward)(int, const T*, const T*, const T*, const T*, int64_t, double, T*,
                       int64_t*);
  void (*pw_backward)(int, const T*, const T*, const T*, const T*, int64_t, double, const T*,
                      int64_t, double, T*);
};

struct LossOps {
  LossOpsT<float> f;
  LossOpsT<double> d;
};
FASTDL_DECLARE_OPS(LossOps)

}  // namespace loss
}  // namespace fastdl
