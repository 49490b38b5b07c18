// The gate math of the recurrences, compiled for AVX2 (see rnn_rows.inc).
#include "kernels/eltwise/vec_math.h"
#include "kernels/rnn/rnn.h"

namespace fastdl {
namespace rnn {
namespace avx2 {
namespace {
#include "kernels/rnn/rnn_rows.inc"
}  // namespace

void step(int mode, bool backward, const Step<float>& s, int64_t b0, int64_t b1) {
  step_impl(mode, backward, s, b0, b1);
}
void step(int mode, bool backward, const Step<double>& s, int64_t b0, int64_t b1) {
  step_impl(mode, backward, s, b0, b1);
}
}  // namespace avx2
}  // namespace rnn
}  // namespace fastdl
