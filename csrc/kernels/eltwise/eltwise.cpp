// Generic build of the eltwise kernels plus the family's dispatch tables.
#include "kernels/eltwise/eltwise_impl.h"

#include "common/dispatch.h"

namespace fastdl {
namespace eltwise {

#ifdef FASTDL_X86
#define FASTDL_ELTWISE_TABLE(name) {&generic::name, &avx2::name, &avx512::name}
#else
#define FASTDL_ELTWISE_TABLE(name) {&generic::name, nullptr, nullptr}
#endif

namespace {
template <class Fn>
struct Table {
  Fn fns[kNumIsa];
  Fn get() const { return pick(fns); }
};
const Table<decltype(&generic::act_fwd_f)> t_act_fwd_f{FASTDL_ELTWISE_TABLE(act_fwd_f)};
const Table<decltype(&generic::act_fwd_d)> t_act_fwd_d{FASTDL_ELTWISE_TABLE(act_fwd_d)};
const Table<decltype(&generic::act_bwd_f)> t_act_bwd_f{FASTDL_ELTWISE_TABLE(act_bwd_f)};
const Table<decltype(&generic::act_bwd_d)> t_act_bwd_d{FASTDL_ELTWISE_TABLE(act_bwd_d)};
const Table<decltype(&generic::smax_fwd_f)> t_smax_fwd_f{FASTDL_ELTWISE_TABLE(smax_fwd_f)};
const Table<decltype(&generic::smax_fwd_d)> t_smax_fwd_d{FASTDL_ELTWISE_TABLE(smax_fwd_d)};
const Table<decltype(&generic::smax_bwd_f)> t_smax_bwd_f{FASTDL_ELTWISE_TABLE(smax_bwd_f)};
const Table<decltype(&generic::smax_bwd_d)> t_smax_bwd_d{FASTDL_ELTWISE_TABLE(smax_bwd_d)};
const Table<decltype(&generic::prelu_fwd_f)> t_prelu_fwd_f{FASTDL_ELTWISE_TABLE(prelu_fwd_f)};
const Table<decltype(&generic::prelu_fwd_d)> t_prelu_fwd_d{FASTDL_ELTWISE_TABLE(prelu_fwd_d)};
const Table<decltype(&generic::prelu_bwd_f)> t_prelu_bwd_f{FASTDL_ELTWISE_TABLE(prelu_bwd_f)};
const Table<decltype(&generic::prelu_bwd_d)> t_prelu_bwd_d{FASTDL_ELTWISE_TABLE(prelu_bwd_d)};
const Table<decltype(&generic::dropout_f)> t_dropout_f{FASTDL_ELTWISE_TABLE(dropout_f)};
const Table<decltype(&generic::dropout_d)> t_dropout_d{FASTDL_ELTWISE_TABLE(dropout_d)};
const Table<decltype(&generic::dropout_words)> t_dropout_words{FASTDL_ELTWISE_TABLE(dropout_words)};
const Table<decltype(&generic::vm_eval_f)> t_vm_eval_f{FASTDL_ELTWISE_TABLE(vm_eval_f)};
const Table<decltype(&generic::vm_eval_d)> t_vm_eval_d{FASTDL_ELTWISE_TABLE(vm_eval_d)};
const Table<decltype(&generic::bw_copy_f)> t_bw_copy_f{FASTDL_ELTWISE_TABLE(bw_copy_f)};
const Table<decltype(&generic::bw_triad_f)> t_bw_triad_f{FASTDL_ELTWISE_TABLE(bw_triad_f)};
}  // namespace

void act_forward(int act, const float* x, float* y, int64_t n, const double* p) { t_act_fwd_f.get()(act, x, y, n, p); }
void act_forward(int act, const double* x, double* y, int64_t n, const double* p) { t_act_fwd_d.get()(act, x, y, n, p); }
void act_backward(int act, bool out, const float* s, const float* g, float* gx, int64_t n, const double* p) {
  t_act_bwd_f.get()(act, out, s, g, gx, n, p);
}
void act_backward(int act, bool out, const double* s, const double* g, double* gx, int64_t n, const double* p) {
  t_act_bwd_d.get()(act, out, s, g, gx, n, p);
}
bool act_backward_supported(int act, bool out, const double* p) {
  switch (act) {
    case kRelu: case kHardtanh: return true;
    case kLeakyRelu: return !out || p[0] > 0;
    case kElu: return !out || p[0] > 0;
    case kSigmoid: case kTanh: return out;
    default: return !out && act >= 0 && act < kNumAct;
  }
}
void softmax_forward(bool lg, const float* x, float* y, int64_t o, int64_t d, int64_t i) { t_smax_fwd_f.get()(lg, x, y, o, d, i); }
void softmax_forward(bool lg, const double* x, double* y, int64_t o, int64_t d, int64_t i) { t_smax_fwd_d.get()(lg, x, y, o, d, i); }
void softmax_backward(bool lg, const float* y, const float* g, float* gx, int64_t o, int64_t d, int64_t i) {
  t_smax_bwd_f.get()(lg, y, g, gx, o, d, i);
}
void softmax_backward(bool lg, const double* y, const double* g, double* gx, int64_t o, int64_t d, int64_t i) {
  t_smax_bwd_d.get()(lg, y, g, gx, o, d, i);
}
void prelu_forward(const float* x, const float* w, float* y, int64_t o, int64_t c, int64_t i) { t_prelu_fwd_f.get()(x, w, y, o, c, i); }
void prelu_forward(const double* x, const double* w, double* y, int64_t o, int64_t c, int64_t i) { t_prelu_fwd_d.get()(x, w, y, o, c, i); }
int64_t prelu_work_size(int64_t outer, int64_t C, int64_t inner) {
  if (generic::prelu_by_rows(inner)) {
    const int64_t rpb = generic::prelu_rows_per_block(C, inner);
    return ((outer + rpb - 1) / rpb) * C;
  }
  return outer * C * ((inner + generic::kGrain - 1) / generic::kGrain);
}
void prelu_backward(const float* x, const float* w, const float* g, float* gx, float* gw, double* work, int64_t o, int64_t c, int64_t i) {
  t_prelu_bwd_f.get()(x, w, g, gx, gw, work, o, c, i);
}
void prelu_backward(const double* x, const double* w, const double* g, double* gx, double* gw, double* work, int64_t o, int64_t c, int64_t i) {
  t_prelu_bwd_d.get()(x, w, g, gx, gw, work, o, c, i);
}
void dropout(const float* x, float* y, int64_t n, int64_t group, uint64_t seed, double p) { t_dropout_f.get()(x, y, n, group, seed, p); }
void dropout(const double* x, double* y, int64_t n, int64_t group, uint64_t seed, double p) { t_dropout_d.get()(x, y, n, group, seed, p); }
uint32_t philox_word(uint64_t seed, uint64_t k) { return generic::philox_one(seed, k); }
void dropout_mask(uint8_t* keep, int64_t n, uint64_t seed, double p) {
  const uint32_t th = generic::keep_threshold(p);
  for (int64_t k = 0; k < n; ++k) keep[k] = (generic::philox_one(seed, static_cast<uint64_t>(k)) >> 8) < th;
}
void dropout_words(uint32_t* out, int64_t n, uint64_t seed) { t_dropout_words.get()(out, n, seed); }
void vm_eval(int fn, const float* x, float* y, int64_t n) { t_vm_eval_f.get()(fn, x, y, n); }
void vm_eval(int fn, const double* x, double* y, int64_t n) { t_vm_eval_d.get()(fn, x, y, n); }
void bw_copy(const float* src, float* dst, int64_t n) { t_bw_copy_f.get()(src, dst, n); }
void bw_triad(float* a, const float* b, const float* c, float s, int64_t n) { t_bw_triad_f.get()(a, b, c, s, n); }

}  // namespace eltwise
}  // namespace fastdl
