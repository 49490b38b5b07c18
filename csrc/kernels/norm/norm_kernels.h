// Internal: the table of norm kernels one ISA provides (see norm.cpp for the dispatch).
#pragma once
#include <cstdint>

namespace fastdl {
namespace norm {

template <class T>
struct NormKernels {
  void (*bn_stats)(const T*, int64_t, int64_t, int64_t, T*, T*);
  void (*bn_affine)(const T*, int64_t, int64_t, int64_t, const T*, const T*, T*);
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
                           T*, T*, T*);
  void (*bn_train_backward)(const T*, const T*, int64_t, int64_t, int64_t, const T*, const T*,
                            const T*, T*, double*, double*);
};

#define FASTDL_NORM_DECLARE_ISA(ns)                \
  namespace ns {                                   \
  const NormKernels<float>* kernels_f32();         \
  const NormKernels<double>* kernels_f64();        \
  }
FASTDL_NORM_DECLARE_ISA(generic)
FASTDL_NORM_DECLARE_ISA(avx2)
FASTDL_NORM_DECLARE_ISA(avx512)
#undef FASTDL_NORM_DECLARE_ISA

}  // namespace norm
}  // namespace fastdl
