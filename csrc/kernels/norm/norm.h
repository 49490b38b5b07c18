// Normalisation kernels: batch norm, layer norm, group norm, forward and backward.
//
// Layouts are C-contiguous. Batch and group norm see the input as (N, C, S) with S the product
// of the spatial sizes; layer norm as (M, K) with K the normalised size. Statistics are
// computed blockwise (exact two-pass per cache-resident block, blocks merged in double with
// Chan's formula) in a fixed order, so results do not depend on the thread count. Absent
// affine parameters are passed as arrays of ones / zeros by the caller. All functions are
// defined for T = float and T = double.
#pragma once
#include <cstdint>

#include "common/dispatch.h"

namespace fastdl {
namespace norm {

// The activation a batch-norm kernel may fuse with its output: none, ReLU (max(0, y), backward
// passes g unless y <= 0) or a clamp to [lo, hi] (ReLU6, Hardtanh: backward passes g where
// lo < y < hi). Each is computed as the eltwise kernel's functor computes it, so fused results
// are bitwise the unfused ones.
enum : int { kActNone = 0, kActRelu = 1, kActClamp = 2 };

// Per-channel batch mean and biased variance of x (N, C, S) over N·S values (N·S > 0).
template <class T>
void bn_stats(const T* x, int64_t N, int64_t C, int64_t S, T* mean, T* var);

// y[n, c, s] = act(x[n, c, s]·scale[c] + shift[c])   (batch-norm forward, and eval backward)
template <class T>
void bn_affine(const T* x, int64_t N, int64_t C, int64_t S, const T* scale, const T* shift,
               T* y, int act = kActNone, T lo = T(0), T hi = T(0));

// y[n, c, s] = act(x[n, c, s]·scale[c] + shift[c] + r'[n, c, s]): a batch norm's output with a
// residual added and an activation after the sum, bitwise the passes it replaces; r' = r, or
// with rss != nullptr another batch norm's output r·rss[c] + rss[C + c].
template <class T>
void bn_affine_res(const T* x, int64_t N, int64_t C, int64_t S, const T* scale, const T* shift,
                   const T* r, const T* rss, T* y, int act = kActNone, T lo = T(0),
                   T hi = T(0));

// Per-channel sums for the backward: sum_g[c] = Σ g, sum_gxc[c] = Σ g·(x − mean[c]).
template <class T>
void bn_backward_reduce(const T* g, const T* x, int64_t N, int64_t C, int64_t S, const T* mean,
                        double* sum_g, double* sum_gxc);

// gx = k1[c]·g + k2[c]·x + k3[c]
template <class T>
void bn_backward_apply(const T* g, const T* x, int64_t N, int64_t C, int64_t S, const T* k1,
                       const T* k2, const T* k3, T* gx);

// Training forward in one call: batch statistics (mean, biased var), invstd = 1/√(var + eps),
// y = act(x·scale + shift) (not computed when y is nullptr: the statistics alone), scale = w·invstd, shift = b − mean·w·invstd (per channel; written
// to ss[0..C) and ss[C..2C) when ss != nullptr, for bn_train_backward's activation mask).
template <class T>
void bn_train_forward(const T* x, int64_t N, int64_t C, int64_t S, const T* w, const T* b,
                      double eps, T* y, T* mean, T* var, T* invstd, T* ss = nullptr,
                      int act = kActNone, T lo = T(0), T hi = T(0));

// Training backward in one call: sum_g, sum_gxc as bn_backward_reduce and, when gx != nullptr,
// gx = w·invstd·(g − sum_g/M − (x − mean)·invstd²·sum_gxc/M), M = N·S. With act != kActNone,
// g is first masked by the backward of the activation (bounds lo/hi) that followed the batch
// norm, its input x·scale + shift recomputed from the forward's ss (bn_train_forward).
template <class T>
void bn_train_backward(const T* g, const T* x, int64_t N, int64_t C, int64_t S, const T* mean,
                       const T* invstd, const T* w, T* gx, double* sum_g, double* sum_gxc,
                       int act = kActNone, const T* ss = nullptr, T lo = T(0), T hi = T(0));

// The training backward's elementwise sweep alone, from the channels' sums of
// bn_backward_reduce (computed elsewhere, e.g. by act_grad_bn_sums): gx as bn_train_backward.
template <class T>
void bn_train_backward_sums(const T* g, const T* x, int64_t N, int64_t C, int64_t S,
                            const T* mean, const T* invstd, const T* w, T* gx,
                            const double* sum_g, const double* sum_gxc);

// A residual block's end y = act(bn1(x1) + r), r = bn2(x2) or any tensor, act ReLU (kActRelu)
// or a clamp to [lo, hi] (kActClamp): the activation's backward for the gradient a + b of y
// read twice, g = act'(y)·(a + b) (bitwise eltwise's backward of the sum), and in the same
// sweep the sums bn_backward_reduce would take of g against x1 (means m1) and, when x2 is not
// nullptr, x2 (m2): sum_g (the same for both), sum_gxc1, sum_gxc2. All (N, C, S).
template <class T>
void act_grad_bn_sums(const T* y, const T* a, const T* b, int64_t N, int64_t C, int64_t S,
                      int act, T lo, T hi, const T* x1, const T* m1, const T* x2, const T* m2,
                      T* g, double* sum_g, double* sum_gxc1, double* sum_gxc2);

// Layer norm over rows of x (M, K): y = (x − mean)·rstd·w + b; mean, rstd (M) saved.
template <class T>
void ln_forward(const T* x, int64_t M, int64_t K, const T* w, const T* b, double eps, T* y,
                T* mean, T* rstd);

// Layer-norm backward; gx, gw, gb may each be nullptr (not wanted). gw/gb have K entries.
template <class T>
void ln_backward(const T* g, const T* x, int64_t M, int64_t K, const T* w, const T* mean,
                 const T* rstd, T* gx, T* gw, T* gb);

// Group norm of x (N, C, S) with G groups (C % G == 0): mean, rstd (N·G) saved.
template <class T>
void gn_forward(const T* x, int64_t N, int64_t C, int64_t S, int64_t G, const T* w, const T* b,
                double eps, T* y, T* mean, T* rstd);

// Group-norm backward; gx, gw, gb may each be nullptr. gw/gb have C entries.
template <class T>
void gn_backward(const T* g, const T* x, int64_t N, int64_t C, int64_t S, int64_t G,
                 const T* w, const T* mean, const T* rstd, T* gx, T* gw, T* gb);

// ---- dispatch (common/dispatch.h): one table per ISA, filled in norm_impl.h ----------
template <class T>
struct NormOpsT {
  void (*bn_stats)(const T*, int64_t, int64_t, int64_t, T*, T*);
  void (*bn_affine)(const T*, int64_t, int64_t, int64_t, const T*, const T*, T*, int, T, T);
  void (*bn_backward_reduce)(const T*, const T*, int64_t, int64_t, int64_t, const T*, double*,
                             double*);
  void (*bn_backward_apply)(const T*, const T*, int64_t, int64_t, int64_t, const T*, const T*,
                            const T*, T*);
  void (*ln_forward)(const T*, int64_t, int64_t, const T*, const T*, double, T*, T*, T*);
  void (*ln_backward)(const T*, const T*, int64_t, int64_t, const T*, const T*, const T*, T*,
                      T*, T*);
  void (*gn_forward)(const T*, int64_t, int64_t, int64_t, int64_t, const T*, const T*, double,
                     T*, T*, T*);
  void (*gn_backward)(const T*, const T*, int64_t, int64_t, int64_t, int64_t, const T*,
                      const T*, const T*, T*, T*, T*);
  void (*bn_train_forward)(const T*, int64_t, int64_t, int64_t, const T*, const T*, double, T*,
                           T*, T*, T*, T*, int, T, T);
  void (*bn_train_backward)(const T*, const T*, int64_t, int64_t, int64_t, const T*, const T*,
                            const T*, T*, double*, double*, int, const T*, T, T);
  void (*bn_affine_res)(const T*, int64_t, int64_t, int64_t, const T*, const T*, const T*,
                        const T*, T*, int, T, T);
  void (*bn_train_backward_sums)(const T*, const T*, int64_t, int64_t, int64_t, const T*,
                                 const T*, const T*, T*, const double*, const double*);
  void (*act_grad_bn_sums)(const T*, const T*, const T*, int64_t, int64_t, int64_t, int, T, T,
                           const T*, const T*, const T*, const T*, T*, double*, double*,
                           double*);
};

struct NormOps {
  NormOpsT<float> f;
  NormOpsT<double> d;
};
FASTDL_DECLARE_OPS(NormOps)

}  // namespace norm
}  // namespace fastdl
