// Entry points each ISA build of eltwise_impl.h exports (fastdl::eltwise::<isa>::...), for
// the dispatch tables in eltwise.cpp. Not part of the family's API (see eltwise.h).
#pragma once
#include <cstdint>

#define FASTDL_ELTWISE_DECLARE(ISA)                                                          \
  namespace ISA {                                                                            \
  void act_fwd_f(int, const float*, float*, int64_t, const double*);                         \
  void act_fwd_d(int, const double*, double*, int64_t, const double*);                       \
  void act_bwd_f(int, bool, const float*, const float*, float*, int64_t, const double*);     \
  void act_bwd_d(int, bool, const double*, const double*, double*, int64_t, const double*);  \
  void smax_fwd_f(bool, const float*, float*, int64_t, int64_t, int64_t);                    \
  void smax_fwd_d(bool, const double*, double*, int64_t, int64_t, int64_t);                  \
  void smax_bwd_f(bool, const float*, const float*, float*, int64_t, int64_t, int64_t);      \
  void smax_bwd_d(bool, const double*, const double*, double*, int64_t, int64_t, int64_t);   \
  void prelu_fwd_f(const float*, const float*, float*, int64_t, int64_t, int64_t);           \
  void prelu_fwd_d(const double*, const double*, double*, int64_t, int64_t, int64_t);        \
  void prelu_bwd_f(const float*, const float*, const float*, float*, float*, double*,        \
                   int64_t, int64_t, int64_t);                                               \
  void prelu_bwd_d(const double*, const double*, const double*, double*, double*, double*,   \
                   int64_t, int64_t, int64_t);                                               \
  void dropout_f(const float*, float*, int64_t, int64_t, uint64_t, double);                  \
  void dropout_d(const double*, double*, int64_t, int64_t, uint64_t, double);                \
  void dropout_words(uint32_t*, int64_t, uint64_t);                                          \
  void vm_eval_f(int, const float*, float*, int64_t);                                        \
  void vm_eval_d(int, const double*, double*, int64_t);                                      \
  void bw_copy_f(const float*, float*, int64_t);                                             \
  void bw_triad_f(float*, const float*, const float*, float, int64_t);                       \
  }

namespace fastdl {
namespace eltwise {
FASTDL_ELTWISE_DECLARE(generic)
FASTDL_ELTWISE_DECLARE(avx2)
FASTDL_ELTWISE_DECLARE(avx512)
}  // namespace eltwise
}  // namespace fastdl
