// grid_sample: the generic path and the dispatch table (see sample.h; the loops are in
// sample_impl.inc).
#include "kernels/sample/sample.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "common/allocator.h"
#include "common/dispatch.h"
#include "common/parallel.h"

namespace fastdl {
namespace sample {
namespace generic {
namespace {
#include "kernels/sample/sample_impl.inc"
}  // namespace
const SampleOps ops = {FASTDL_SAMPLE_OPS_T(float), FASTDL_SAMPLE_OPS_T(double)};
}  // namespace generic

namespace {
const SampleOps* const table[kNumIsa] = {
    &generic::ops,
#ifdef FASTDL_X86
    &avx2::ops, &avx512::ops,
#else
    nullptr, nullptr,
#endif
};
template <class T>
const SampleOpsT<T>& ops_t();
template <>
const SampleOpsT<float>& ops_t<float>() { return pick(table)->f; }
template <>
const SampleOpsT<double>& ops_t<double>() { return pick(table)->d; }
}  // namespace

template <class T>
void grid_sample_forward(const SampleParams& p, const T* input, const T* grid, T* out) {
  ops_t<T>().forward(p, input, grid, out);
}

template <class T>
void grid_sample_backward(const SampleParams& p, const T* grad_out, const T* input,
                          const T* grid, T* grad_input, T* grad_grid) {
  ops_t<T>().backward(p, grad_out, input, grid, grad_input, grad_grid);
}

template void grid_sample_forward<float>(const SampleParams&, const float*, const float*,
                                         float*);
template void grid_sample_forward<double>(const SampleParams&, const double*, const double*,
                                          double*);
template void grid_sample_backward<float>(const SampleParams&, const float*, const float*,
                                          const float*, float*, float*);
template void grid_sample_backward<double>(const SampleParams&, const double*, const double*,
                                           const double*, double*, double*);

}  // namespace sample
}  // namespace fastdl
