// grid_sample: the generic build of sample_impl.h (the loops), the dispatch and the API
// (see sample.h).
#include "kernels/sample/sample.h"

#include "common/dispatch.h"
#include "kernels/sample/sample_impl.h"  // the generic build and its SampleOps table

namespace fastdl {
namespace sample {
FASTDL_DEFINE_OPS(SampleOps)

template <class T>
void grid_sample_forward(const SampleParams& p, const T* input, const T* grid, T* out) {
  by_dtype<T>(ops()).forward(p, input, grid, out);
}

template <class T>
void grid_sample_backward(const SampleParams& p, const T* grad_out, const T* input,
                          const T* grid, T* grad_input, T* grad_grid) {
  by_dtype<T>(ops()).backward(p, grad_out, input, grid, grad_input, grad_grid);
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
