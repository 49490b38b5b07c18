// Internal: the table of loss kernels one ISA provides (see loss.cpp for the dispatch).
#pragma once
#include <cstdint>

namespace fastdl {
namespace loss {

template <class T>
struct LossKernels {
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

#define FASTDL_LOSS_DECLARE_ISA(ns)        \
  namespace ns {                           \
  const LossKernels<float>* kernels_f32(); \
  const LossKernels<double>* kernels_f64(); \
  }
FASTDL_LOSS_DECLARE_ISA(generic)
FASTDL_LOSS_DECLARE_ISA(avx2)
FASTDL_LOSS_DECLARE_ISA(avx512)
#undef FASTDL_LOSS_DECLARE_ISA

}  // namespace loss
}  // namespace fastdl
