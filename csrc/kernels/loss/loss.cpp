// Loss kernels: the generic (scalar-lane) instantiation of loss_impl.h and the dispatch.
#include "kernels/loss/loss.h"

#include "common/allocator.h"
#include "common/dispatch.h"
#include "common/parallel.h"
#include "kernels/loss/loss_impl.h"  // the generic build and its LossOps table

namespace fastdl {
namespace loss {

FASTDL_DEFINE_OPS(LossOps)

namespace {
template <class T>
inline const LossOpsT<T>* table() { return &by_dtype<T>(ops()); }
}  // namespace

template <class T>
void ce_forward(const T* x, int64_t N, int64_t C, int64_t S, const int64_t* target,
                const T* weight, int64_t ignore_index, double eps, T* loss, T* lse) {
  table<T>()->ce_forward(x, N, C, S, target, weight, ignore_index, eps, loss, lse);
}
template <class T>
void ce_backward(const T* x, int64_t N, int64_t C, int64_t S, const int64_t* target,
                 const T* weight, int64_t ignore_index, double eps, const T* lse, const T* g,
                 int64_t gstride, double gscale, T* gx) {
  table<T>()->ce_backward(x, N, C, S, target, weight, ignore_index, eps, lse, g, gstride, gscale,
                          gx);
}
template <class T>
void ce_prob_forward(const T* x, int64_t N, int64_t C, int64_t S, const T* p, const T* weight,
                     double eps, T* loss, T* lse) {
  table<T>()->ce_prob_forward(x, N, C, S, p, weight, eps, loss, lse);
}
template <class T>
void ce_prob_backward(const T* x, int64_t N, int64_t C, int64_t S, const T* p, const T* weight,
                      double eps, const T* lse, const T* g, int64_t gstride, double gscale,
                      T* gx) {
  table<T>()->ce_prob_backward(x, N, C, S, p, weight, eps, lse, g, gstride, gscale, gx);
}
template <class T>
void nll_forward(const T* x, int64_t N, int64_t C, int64_t S, const int64_t* target,
                 const T* weight, int64_t ignore_index, T* loss) {
  table<T>()->nll_forward(x, N, C, S, target, weight, ignore_index, loss);
}
template <class T>
void nll_backward(int64_t N, int64_t C, int64_t S, const int64_t* target, const T* weight,
                  int64_t ignore_index, const T* g, int64_t gstride, double gscale, T* gx) {
  table<T>()->nll_backward(N, C, S, target, weight, ignore_index, g, gstride, gscale, gx);
}
template <class T>
double pw_forward(int kind, const T* x, const T* y, const T* w, const T* pw, int64_t n,
                  double param, T* out, int64_t* bad) {
  return table<T>()->pw_forward(kind, x, y, w, pw, n, param, out, bad);
}
template <class T>
void pw_backward(int kind, const T* x, const T* y, const T* w, const T* pw, int64_t n,
                 double param, const T* g, int64_t gstride, double gscale, T* gx) {
  table<T>()->pw_backward(kind, x, y, w, pw, n, param, g, gstride, gscale, gx);
}

#define FASTDL_LOSS_INST(T)                                                                    \
  template void ce_forward<T>(const T*, int64_t, int64_t, int64_t, const int64_t*, const T*,    \
                              int64_t, double, T*, T*);                                         \
  template void ce_backward<T>(const T*, int64_t, int64_t, int64_t, const int64_t*, const T*,   \
                               int64_t, double, const T*, const T*, int64_t, double, T*);       \
  template void ce_prob_forward<T>(const T*, int64_t, int64_t, int64_t, const T*, const T*,     \
                                   double, T*, T*);                                             \
  template void ce_prob_backward<T>(const T*, int64_t, int64_t, int64_t, const T*, const T*,    \
                                    double, const T*, const T*, int64_t, double, T*);           \
  template void nll_forward<T>(const T*, int64_t, int64_t, int64_t, const int64_t*, const T*,   \
                               int64_t, T*);                                                    \
  template void nll_backward<T>(int64_t, int64_t, int64_t, const int64_t*, const T*, int64_t,   \
                                const T*, int64_t, double, T*);                                 \
  template double pw_forward<T>(int, const T*, const T*, const T*, const T*, int64_t, double,   \
                                T*, int64_t*);                                                  \
  template void pw_backward<T>(int, const T*, const T*, const T*, const T*, int64_t, double,    \
                               const T*, int64_t, double, T*);
FASTDL_LOSS_INST(float)
FASTDL_LOSS_INST(double)
#undef FASTDL_LOSS_INST

}  // namespace loss
}  // namespace fastdl
