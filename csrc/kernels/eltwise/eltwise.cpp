// Generic build of the eltwise kernels (eltwise_impl.h) and the family's API: each call looks
// up the active ISA's EltwiseOps table (see eltwise.h, common/dispatch.h).
#include "kernels/eltwise/eltwise_impl.h"

namespace fastdl {
namespace eltwise {

FASTDL_DEFINE_OPS(EltwiseOps)

namespace {
template <class T>
inline const auto& ops_t() { return by_dtype<T>(ops()); }
}  // namespace

#define FASTDL_ELTWISE_API(T)                                                                \
  void act_forward(int act, const T* x, T* y, int64_t n, const double* p) {                 \
    ops_t<T>().act_fwd(act, x, y, n, p);                                                     \
  }                                                                                          \
  void act_backward(int act, bool out, const T* s, const T* g, T* gx, int64_t n,            \
                    const double* p, const T* g2) {                                          \
    ops_t<T>().act_bwd(act, out, s, g, g2, gx, n, p);                                        \
  }                                                                                          \
  void softmax_forward(bool lg, const T* x, T* y, int64_t o, int64_t d, int64_t i) {         \
    ops_t<T>().softmax_fwd(lg, x, y, o, d, i);                                               \
  }                                                                                          \
  void softmax_backward(bool lg, const T* y, const T* g, T* gx, int64_t o, int64_t d,       \
                        int64_t i) {                                                         \
    ops_t<T>().softmax_bwd(lg, y, g, gx, o, d, i);                                           \
  }                                                                                          \
  void prelu_forward(const T* x, const T* w, T* y, int64_t o, int64_t c, int64_t i) {        \
    ops_t<T>().prelu_fwd(x, w, y, o, c, i);                                                  \
  }                                                                                          \
  void prelu_backward(const T* x, const T* w, const T* g, T* gx, T* gw, double* work,       \
                      int64_t o, int64_t c, int64_t i) {                                     \
    ops_t<T>().prelu_bwd(x, w, g, gx, gw, work, o, c, i);                                    \
  }                                                                                          \
  void dropout(const T* x, T* y, int64_t n, int64_t group, uint64_t seed, double p) {        \
    ops_t<T>().dropout(x, y, n, group, seed, p);                                             \
  }                                                                                          \
  void vm_eval(int fn, const T* x, T* y, int64_t n) { ops_t<T>().vm_eval(fn, x, y, n); }  \
  void add(const T* a, const T* b, T* y, int64_t n) { ops_t<T>().add(a, b, y, n); }
FASTDL_ELTWISE_API(float)
FASTDL_ELTWISE_API(double)
#undef FASTDL_ELTWISE_API

bool act_backward_supported(int act, bool out, const double* p) {
  static constexpr Saved saved[kNumAct] = {
#define FASTDL_ACT_SAVED(Name, name, sv) sv,
      FASTDL_ACTIVATIONS(FASTDL_ACT_SAVED)
#undef FASTDL_ACT_SAVED
  };
  if (act < 0 || act >= kNumAct) return false;
  switch (saved[act]) {
    case kSavedAny: return true;
    case kSavedAnyIfP0Pos: return !out || p[0] > 0;
    case kSavedOutput: return out;
    default: return !out;
  }
}
int64_t prelu_work_size(int64_t outer, int64_t C, int64_t inner) {
  if (generic::prelu_by_rows(inner)) {
    const int64_t rpb = generic::prelu_rows_per_block(C, inner);
    return ((outer + rpb - 1) / rpb) * C;
  }
  return outer * C * ((inner + generic::kGrain - 1) / generic::kGrain);
}
uint32_t philox_word(uint64_t seed, uint64_t k) { return generic::philox_one(seed, k); }
void dropout_mask(uint8_t* keep, int64_t n, uint64_t seed, double p) {
  const uint32_t th = generic::keep_threshold(p);
  for (int64_t k = 0; k < n; ++k)
    keep[k] = (generic::philox_one(seed, static_cast<uint64_t>(k)) >> 8) < th;
}
void dropout_words(uint32_t* out, int64_t n, uint64_t seed) { ops().dropout_words(out, n, seed); }
void bw_copy(const float* src, float* dst, int64_t n) { ops().bw_copy(src, dst, n); }
void bw_triad(float* a, const float* b, const float* c, float s, int64_t n) {
  ops().bw_triad(a, b, c, s, n);
}

}  // namespace eltwise
}  // namespace fastdl
