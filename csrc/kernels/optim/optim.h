// Fused multi-tensor optimizer updates, gradient-norm clipping and list clamps.
//
// One call updates every tensor of a parameter group: the tensors are cut into fixed-size
// chunks (kChunk elements; a tensor smaller than that is one chunk), the chunks are spread
// over the threads, and each chunk is one pass over memory that reads param, grad and state
// and writes param and state once. Chunk boundaries depend only on the tensor sizes, and
// every element's update depends only on that element, so results are bitwise the same for
// any thread count. The update formulas follow torch.optim's single-tensor implementations
// (see fastdl/testing/reference/optim.py for the same formulas in NumPy).
#pragma once
#include <cstdint>

#include "common/dispatch.h"

namespace fastdl {
namespace optim {

constexpr int64_t kChunk = 1 << 14;  // elements per work item
constexpr int kMaxState = 3;         // state tensors per parameter, at most

// The fused optimizers, one row each: X(name). The row gives Algo::name (its code is the row's
// index), the name Python passes to _C.optim_step (and _C.optim_algos lists), and the chunk
// kernel run_<name> in optim_impl.h.
#define FASTDL_OPTIMIZERS(X) \
  X(sgd)                     \
  X(adam)                    \
  X(adagrad)                 \
  X(rmsprop)                 \
  X(adadelta)                \
  X(adamax)                  \
  X(nadam)                   \
  X(radam)                   \
  X(rprop)                   \
  X(asgd)

enum class Algo : int {
#define FASTDL_OPTIM_ENUM(name) name,
  FASTDL_OPTIMIZERS(FASTDL_OPTIM_ENUM)
#undef FASTDL_OPTIM_ENUM
};
constexpr const char* kAlgoNames[] = {
#define FASTDL_OPTIM_NAME(name) #name,
    FASTDL_OPTIMIZERS(FASTDL_OPTIM_NAME)
#undef FASTDL_OPTIM_NAME
};
constexpr int kNumAlgo = static_cast<int>(sizeof(kAlgoNames) / sizeof(kAlgoNames[0]));

// Group-level hyperparameters; each algorithm reads the ones it has.
struct Hyper {
  double lr = 1e-3;
  double beta1 = 0.9, beta2 = 0.999;  // Adam family; RMSprop: beta2 = alpha; Adadelta: rho
  double eps = 1e-8;
  double weight_decay = 0;
  double momentum = 0, dampening = 0;  // SGD, RMSprop (momentum)
  double lr_decay = 0;                 // Adagrad
  double momentum_decay = 4e-3;        // NAdam
  bool maximize = false, nesterov = false, amsgrad = false, centered = false;
  bool decoupled = false;              // decoupled weight decay (AdamW, NAdam/RAdam option)
  double eta_minus = 0.5, eta_plus = 1.2;  // Rprop: step-size factors
  double step_min = 1e-6, step_max = 50;   // Rprop: step-size bounds
  double lambd = 1e-4, asgd_alpha = 0.75, t0 = 1e6;  // ASGD
};

// Per-tensor scalars derived from the tensor's step count (after the increment).
//   SGD:     a = 1 on the momentum buffer's first step (buffer := grad)
//   Adam:    a = lr / (1 - beta1^t), b = sqrt(1 - beta2^t)
//   Adagrad: a = lr / (1 + (t - 1) lr_decay)
//   Adamax:  a = lr / (1 - beta1^t)
//   NAdam:   a = 1 - beta2^t, b = -lr (1 - mu_t) / (1 - prod mu), c = -lr mu_{t+1} / (1 - prod mu · mu_{t+1})
//   RAdam:   a = 1 - beta1^t, b = sqrt(1 - beta2^t), c = rectification r_t, d = 1 if rho_t > 5
//   ASGD:    a = eta_t = lr / (1 + lambd lr (t - 1))^alpha, b = mu_t = 1 / max(1, t - 1 - t0),
//            both rounded to float32 as torch keeps them (float32 scalar tensors)
struct Coef {
  double a = 0, b = 0, c = 0, d = 0;
};

// The scalars of one tensor at step `step` (already incremented). NAdam reads and updates
// *mu_product (the running product of mu_t); `first` is SGD's first-momentum-step flag.
Coef coefficients(Algo algo, const Hyper& h, double step, double* mu_product, bool first);

// Updates `n` tensors in place. numel[i] elements each; state[s][i] is state tensor s of
// tensor i (state[s] may be nullptr when the algorithm/options do not use slot s):
//   SGD [momentum_buffer], Adam [exp_avg, exp_avg_sq, max_exp_avg_sq], Adagrad [sum],
//   RMSprop [square_avg, momentum_buffer, grad_avg], Adadelta [square_avg, acc_delta],
//   Adamax [exp_avg, exp_inf], NAdam [exp_avg, exp_avg_sq], RAdam [exp_avg, exp_avg_sq],
//   Rprop [prev, step_size], ASGD [ax].
void multi_tensor_step(Algo algo, const Hyper& h, int64_t n, const int64_t* numel,
                       float* const* param, const float* const* grad,
                       float* const* const* state, const Coef* coef);
void multi_tensor_step(Algo algo, const Hyper& h, int64_t n, const int64_t* numel,
                       double* const* param, const double* const* grad,
                       double* const* const* state, const Coef* coef);

// Norm of all n tensors together, as if concatenated: (sum |x|^p)^(1/p), p = inf gives max|x|
// (NaN if any element is NaN). Accumulated in double per chunk, chunks summed in order.
double multi_tensor_norm(int64_t n, const int64_t* numel, const float* const* x, double p);
double multi_tensor_norm(int64_t n, const int64_t* numel, const double* const* x, double p);

// x *= c for all n tensors.
void multi_tensor_scale(int64_t n, const int64_t* numel, float* const* x, double c);
void multi_tensor_scale(int64_t n, const int64_t* numel, double* const* x, double c);

// x = min(max(x, lo), hi) for all n tensors (NaN stays NaN).
void multi_tensor_clamp(int64_t n, const int64_t* numel, float* const* x, double lo, double hi);
void multi_tensor_clamp(int64_t n, const int64_t* numel, double* const* x, double lo, double hi);

// ---- dispatch (common/dispatch.h): one table per ISA, filled in optim_impl.h ------------
template <class T>
struct ChunkArgs {
  T* p;
  const T* g;
  T* s0;
  T* s1;
  T* s2;
  int64_t n;
};
template <class T>
struct OptimOpsT {
  // one chunk of one tensor
  void (*step)(Algo algo, const Hyper& h, const Coef& c, const ChunkArgs<T>& a);
  // kind 1: sum|x|, 2: sum x^2, 3: max|x| (NaN if any), accumulated in double
  double (*norm)(const T* x, int64_t n, int kind);
  // kind 0: x *= a; 1: x = clamp(x, a, b)
  void (*map)(T* x, int64_t n, int kind, double a, double b);
};
struct OptimOps {
  OptimOpsT<float> f;
  OptimOpsT<double> d;
};
FASTDL_DECLARE_OPS(OptimOps)

}  // namespace optim
}  // namespace fastdl
