// Norm kernels: the generic (scalar-lane) instantiation of norm_impl.h and the dispatch.
#include "kernels/norm/norm.h"

#include "common/allocator.h"
#include "common/dispatch.h"
#include "common/parallel.h"
#include "kernels/norm/norm_impl.h"  // the generic build and its NormOps table

namespace fastdl {
namespace norm {

FASTDL_DEFINE_OPS(NormOps)

namespace {
template <class T>
inline const NormOpsT<T>* table() { return &by_dtype<T>(ops()); }
}  // namespace

template <class T>
void bn_stats(const T* x, int64_t N, int64_t C, int64_t S, T* mean, T* var) {
  table<T>()->bn_stats(x, N, C, S, mean, var);
}
template <class T>
void bn_affine(const T* x, int64_t N, int64_t C, int64_t S, const T* scale, const T* shift,
               T* y, int act, T lo, T hi) {
  table<T>()->bn_affine(x, N, C, S, scale, shift, y, act, lo, hi);
}
template <class T>
void bn_affine_res(const T* x, int64_t N, int64_t C, int64_t S, const T* scale, const T* shift,
                   const T* r, const T* rss, T* y, int act, T lo, T hi) {
  table<T>()->bn_affine_res(x, N, C, S, scale, shift, r, rss, y, act, lo, hi);
}
template <class T>
void bn_backward_reduce(const T* g, const T* x, int64_t N, int64_t C, int64_t S, const T* mean,
                        double* sum_g, double* sum_gxc) {
  table<T>()->bn_backward_reduce(g, x, N, C, S, mean, sum_g, sum_gxc);
}
template <class T>
void bn_backward_apply(const T* g, const T* x, int64_t N, int64_t C, int64_t S, const T* k1,
                       const T* k2, const T* k3, T* gx) {
  table<T>()->bn_backward_apply(g, x, N, C, S, k1, k2, k3, gx);
}
template <class T>
void ln_forward(const T* x, int64_t M, int64_t K, const T* w, const T* b, double eps, T* y,
                T* mean, T* rstd) {
  table<T>()->ln_forward(x, M, K, w, b, eps, y, mean, rstd);
}
template <class T>
void ln_backward(const T* g, const T* x, int64_t M, int64_t K, const T* w, const T* mean,
                 const T* rstd, T* gx, T* gw, T* gb) {
  table<T>()->ln_backward(g, x, M, K, w, mean, rstd, gx, gw, gb);
}
template <class T>
void gn_forward(const T* x, int64_t N, int64_t C, int64_t S, int64_t G, const T* w, const T* b,
                double eps, T* y, T* mean, T* rstd) {
  table<T>()->gn_forward(x, N, C, S, G, w, b, eps, y, mean, rstd);
}
template <class T>
void gn_backward(const T* g, const T* x, int64_t N, int64_t C, int64_t S, int64_t G,
                 const T* w, const T* mean, const T* rstd, T* gx, T* gw, T* gb) {
  table<T>()->gn_backward(g, x, N, C, S, G, w, mean, rstd, gx, gw, gb);
}

template <class T>
void bn_train_forward(const T* x, int64_t N, int64_t C, int64_t S, const T* w, const T* b,
                      double eps, T* y, T* mean, T* var, T* invstd, T* ss, int act, T lo,
                      T hi) {
  table<T>()->bn_train_forward(x, N, C, S, w, b, eps, y, mean, var, invstd, ss, act, lo, hi);
}
template <class T>
void bn_train_backward(const T* g, const T* x, int64_t N, int64_t C, int64_t S, const T* mean,
                       const T* invstd, const T* w, T* gx, double* sum_g, double* sum_gxc,
                       int act, const T* s, T lo, T hi) {
  table<T>()->bn_train_backward(g, x, N, C, S, mean, invstd, w, gx, sum_g, sum_gxc, act, s, lo, hi);
}

template <class T>
void bn_train_backward_sums(const T* g, const T* x, int64_t N, int64_t C, int64_t S,
                            const T* mean, const T* invstd, const T* w, T* gx,
                            const double* sum_g, const double* sum_gxc) {
  table<T>()->bn_train_backward_sums(g, x, N, C, S, mean, invstd, w, gx, sum_g, sum_gxc);
}
template <class T>
void act_grad_bn_sums(const T* y, const T* a, const T* b, int64_t N, int64_t C, int64_t S,
                      int act, T lo, T hi, const T* x1, const T* m1, const T* x2, const T* m2,
                      T* g, double* sum_g, double* sum_gxc1, double* sum_gxc2) {
  table<T>()->act_grad_bn_sums(y, a, b, N, C, S, act, lo, hi, x1, m1, x2, m2, g, sum_g,
                               sum_gxc1, sum_gxc2);
}

#define FASTDL_NORM_INST(T)                                                                   \
  template void bn_stats<T>(const T*, int64_t, int64_t, int64_t, T*, T*);                      \
  template void bn_affine<T>(const T*, int64_t, int64_t, int64_t, const T*, const T*, T*, int, \
                             T, T);                                                            \
  template void bn_affine_res<T>(const T*, int64_t, int64_t, int64_t, const T*, const T*,     \
                                 const T*, const T*, T*, int, T, T);                           \
  template void bn_backward_reduce<T>(const T*, const T*, int64_t, int64_t, int64_t, const T*, \
                                      double*, double*);                                       \
  template void bn_backward_apply<T>(const T*, const T*, int64_t, int64_t, int64_t, const T*,  \
                                     const T*, const T*, T*);                                  \
  template void ln_forward<T>(const T*, int64_t, int64_t, const T*, const T*, double, T*, T*,  \
                              T*);                                                             \
  template void ln_backward<T>(const T*, const T*, int64_t, int64_t, const T*, const T*,       \
                               const T*, T*, T*, T*);                                          \
  template void gn_forward<T>(const T*, int64_t, int64_t, int64_t, int64_t, const T*,          \
                              const T*, double, T*, T*, T*);                                   \
  template void gn_backward<T>(const T*, const T*, int64_t, int64_t, int64_t, int64_t,         \
                               const T*, const T*, const T*, T*, T*, T*);                     \
  template void bn_train_forward<T>(const T*, int64_t, int64_t, int64_t, const T*, const T*,   \
                                    double, T*, T*, T*, T*, T*, int, T, T);                    \
  template void bn_train_backward<T>(const T*, const T*, int64_t, int64_t, int64_t, const T*,  \
                                     const T*, const T*, T*, double*, double*, int, const T*,  \
                                     T, T);                                                    \
  template void bn_train_backward_sums<T>(const T*, const T*, int64_t, int64_t, int64_t,       \
                                          const T*, const T*, const T*, T*, const double*,     \
                                          const double*);                                      \
  template void act_grad_bn_sums<T>(const T*, const T*, const T*, int64_t, int64_t, int64_t,   \
                                    int, T, T, const T*, const T*, const T*, const T*, T*,     \
                                    double*, double*, double*);
FASTDL_NORM_INST(float)
FASTDL_NORM_INST(double)
#undef FASTDL_NORM_INST

}  // namespace norm
}  // namespace fastdl
