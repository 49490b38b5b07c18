// Elementwise kernels: activations (forward and fused backward), softmax / log_softmax along
// one axis, PReLU, dropout (Philox4x32-10 masks), and memory-bandwidth probes.
//
// All arrays are C-contiguous; sizes int64_t; float and double overloads. Every function is
// threaded over chunks whose boundaries depend only on the sizes, so results are bitwise the
// same for any thread count, and each one reads and writes its operands once (softmax rows
// and column blocks are re-read from L1/L2 only). `y` may alias `x` (in place) and `gx` may
// alias `g`.
#pragma once
#include <cstdint>

#include "common/dispatch.h"

namespace fastdl {
namespace eltwise {

// The activations, one row each: X(Name, "python name", saved) /* formula */. Name is the
// functor in eltwise_impl.h (Name<V>: fwd(x), bwd(saved, g)) and gives the code kName (the
// row's index); the python name is what fastdl._C.eltwise_acts maps to the code; `saved` says
// what act_backward takes: kSavedInput (x only), kSavedAny (x or y), kSavedAnyIfP0Pos (y only
// when p0 > 0), kSavedOutput (y only). Parameters p[0..2] (unused ones ignored).
#define FASTDL_ACTIVATIONS(X)                                                                 \
  X(Relu, "relu", kSavedAny)               /* max(x, 0) */                                    \
  X(LeakyRelu, "leaky_relu", kSavedAnyIfP0Pos) /* x > 0 ? x : p0 x  (p0 = negative_slope) */ \
  X(Hardtanh, "hardtanh", kSavedAny)       /* min(max(x, p0), p1)  (relu6 = hardtanh(0, 6)) */ \
  X(Elu, "elu", kSavedAnyIfP0Pos)          /* x > 0 ? p1 x : p1 p0 (exp(p2 x) - 1): alpha,   \
                                              scale, input_scale: elu (a, 1, 1), selu        \
                                              (1.6733, 1.0507, 1), celu (a, 1, 1/a) */        \
  X(Gelu, "gelu", kSavedInput)             /* x Phi(x) = x erfc(-x / sqrt 2) / 2 */           \
  X(GeluTanh, "gelu_tanh", kSavedInput)    /* x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) / 2 */ \
  X(Silu, "silu", kSavedInput)             /* x sigmoid(x) */                                 \
  X(Mish, "mish", kSavedInput)             /* x tanh(softplus(x)) */                          \
  X(Sigmoid, "sigmoid", kSavedOutput)      /* 1 / (1 + exp(-x)) */                            \
  X(Tanh, "tanh", kSavedOutput)            /* tanh(x) */                                      \
  X(Softplus, "softplus", kSavedInput)     /* p0 x > p1 ? x : log(1 + exp(p0 x)) / p0         \
                                              (beta, threshold) */                            \
  X(Softsign, "softsign", kSavedInput)     /* x / (1 + |x|) */                                \
  X(Hardsigmoid, "hardsigmoid", kSavedInput) /* min(max(x + 3, 0), 6) / 6 */                  \
  X(Hardswish, "hardswish", kSavedInput)   /* x min(max(x + 3, 0), 6) / 6 */                  \
  X(LogSigmoid, "logsigmoid", kSavedInput) /* log(sigmoid(x)) */

enum Saved : int { kSavedInput, kSavedAny, kSavedAnyIfP0Pos, kSavedOutput };

// Activation codes kRelu = 0, kLeakyRelu = 1, ... in table order; kNumAct rows.
enum Act : int {
#define FASTDL_ACT_ENUM(Name, name, saved) k##Name,
  FASTDL_ACTIVATIONS(FASTDL_ACT_ENUM)
#undef FASTDL_ACT_ENUM
  kNumAct
};

// The python names, indexed by code.
constexpr const char* kActNames[kNumAct] = {
#define FASTDL_ACT_NAME(Name, name, saved) name,
    FASTDL_ACTIVATIONS(FASTDL_ACT_NAME)
#undef FASTDL_ACT_NAME
};

// y = act(x), n elements.
void act_forward(int act, const float* x, float* y, int64_t n, const double* p);
void act_forward(int act, const double* x, double* y, int64_t n, const double* p);

// gx = g * act'(.) from the saved `s`: the input x, or the output y when `from_output`.
// from_output is supported by relu, leaky_relu (p0 > 0), hardtanh, elu (p0 > 0), sigmoid and
// tanh (sigmoid and tanh always take the output); every other activation takes the input.
// With g2 (not nullptr), gx = (g + g2) * act'(.): the backward of an activation whose output
// reached two consumers, their gradients summed in the same pass (each g[i] + g2[i] rounded
// once, as the separate add gives it: bitwise the add followed by the backward).
void act_backward(int act, bool from_output, const float* s, const float* g, float* gx,
                  int64_t n, const double* p, const float* g2 = nullptr);
void act_backward(int act, bool from_output, const double* s, const double* g, double* gx,
                  int64_t n, const double* p, const double* g2 = nullptr);
// True when act_backward(act, from_output, ...) is defined.
bool act_backward_supported(int act, bool from_output, const double* p);

// Softmax over the middle axis of x viewed as (outer, dim, inner): max-shifted, so logits of
// 1e4 give finite results. log = true gives log_softmax = (x - max) - log(sum exp(x - max)).
void softmax_forward(bool log, const float* x, float* y, int64_t outer, int64_t dim,
                     int64_t inner);
void softmax_forward(bool log, const double* x, double* y, int64_t outer, int64_t dim,
                     int64_t inner);
// From the saved output y: softmax gx = y (g - sum(g y)); log_softmax gx = g - exp(y) sum(g).
void softmax_backward(bool log, const float* y, const float* g, float* gx, int64_t outer,
                      int64_t dim, int64_t inner);
void softmax_backward(bool log, const double* y, const double* g, double* gx, int64_t outer,
                      int64_t dim, int64_t inner);

// PReLU on x viewed as (outer, C, inner) with one weight per channel:
// y = x > 0 ? x : w[c] x.
void prelu_forward(const float* x, const float* w, float* y, int64_t outer, int64_t C,
                   int64_t inner);
void prelu_forward(const double* x, const double* w, double* y, int64_t outer, int64_t C,
                   int64_t inner);
// gx = x > 0 ? g : w[c] g (when gx != nullptr); gw[c] = sum over x <= 0 of g x (when gw !=
// nullptr), summed in a fixed order (per-chunk partials in `work`, prelu_work_size elements).
int64_t prelu_work_size(int64_t outer, int64_t C, int64_t inner);
void prelu_backward(const float* x, const float* w, const float* g, float* gx, float* gw,
                    double* work, int64_t outer, int64_t C, int64_t inner);
void prelu_backward(const double* x, const double* w, const double* g, double* gx, double* gw,
                    double* work, int64_t outer, int64_t C, int64_t inner);

// Dropout: y[i] = x[i] * keep(i / group) / (1 - p). keep(k) is true when the 24 high bits
// of the Philox4x32-10 word k (see philox_word) are below round((1 - p) 2^24). group = 1 is
// elementwise dropout, group = H*W is channel dropout (dropout2d). The same (seed, index)
// gives the same mask on every ISA and thread count; backward is the same call on the
// incoming gradient.
void dropout(const float* x, float* y, int64_t n, int64_t group, uint64_t seed, double p);
void dropout(const double* x, double* y, int64_t n, int64_t group, uint64_t seed, double p);
// Random word k of the stream: Philox4x32-10 with key (seed lo, seed hi) and counter
// (c lo, c hi, 0, 0), c = (k / 64) * 16 + k % 16, output word (k % 64) / 16.
uint32_t philox_word(uint64_t seed, uint64_t k);
// Keep mask of n words (1 = kept), for tests.
void dropout_mask(uint8_t* keep, int64_t n, uint64_t seed, double p);
// The first n words of the stream (philox_word(seed, 0..n-1)), vectorised.
void dropout_words(uint32_t* out, int64_t n, uint64_t seed);

// Vectorised math on arrays (tests of common/simd.h): fn 0 exp, 1 expm1, 2 log, 3 log1p,
// 4 tanh, 5 erf, 6 erfc, 7 sigmoid, 8 softplus, 9 log_sigmoid, 10 normcdf.
void vm_eval(int fn, const float* x, float* y, int64_t n);
void vm_eval(int fn, const double* x, double* y, int64_t n);

// y = a + b elementwise over n values (y may be a or b), on all threads: the residual sums
// and gradient accumulations of the Python layer (NumPy's add runs on one thread).
void add(const float* a, const float* b, float* y, int64_t n);
void add(const double* a, const double* b, double* y, int64_t n);

// Bandwidth probes on all threads: dst = src; a = b + s c.
void bw_copy(const float* src, float* dst, int64_t n);
void bw_triad(float* a, const float* b, const float* c, float s, int64_t n);

// ---- dispatch (common/dispatch.h): one table per ISA, filled in eltwise_impl.h ------------
template <class T>
struct EltwiseOpsT {
  void (*act_fwd)(int act, const T* x, T* y, int64_t n, const double* p);
  void (*act_bwd)(int act, bool from_output, const T* s, const T* g, const T* g2, T* gx,
                  int64_t n, const double* p);  // g2: nullptr, or a second gradient (g + g2)
  void (*softmax_fwd)(bool log, const T* x, T* y, int64_t outer, int64_t dim, int64_t inner);
  void (*softmax_bwd)(bool log, const T* y, const T* g, T* gx, int64_t outer, int64_t dim,
                      int64_t inner);
  void (*prelu_fwd)(const T* x, const T* w, T* y, int64_t outer, int64_t C, int64_t inner);
  void (*prelu_bwd)(const T* x, const T* w, const T* g, T* gx, T* gw, double* work,
                    int64_t outer, int64_t C, int64_t inner);
  void (*dropout)(const T* x, T* y, int64_t n, int64_t group, uint64_t seed, double p);
  void (*vm_eval)(int fn, const T* x, T* y, int64_t n);
  void (*add)(const T* a, const T* b, T* y, int64_t n);
};
struct EltwiseOps {
  EltwiseOpsT<float> f;
  EltwiseOpsT<double> d;
  void (*dropout_words)(uint32_t* out, int64_t n, uint64_t seed);
  void (*bw_copy)(const float* src, float* dst, int64_t n);
  void (*bw_triad)(float* a, const float* b, const float* c, float s, int64_t n);
};
FASTDL_DECLARE_OPS(EltwiseOps)

}  // namespace eltwise
}  // namespace fastdl
