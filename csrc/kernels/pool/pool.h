// Pooling kernels on NCHW planes (float32/float64), forward and backward; threads over the
// N·C planes (each plane is computed by one thread, so results do not depend on the thread
// count).
//
// Window of output (oh, ow): rows oh·sh − ph + i·dh (i < kh), columns ow·sw − pw + j·dw, the
// parts outside the input skipped. Output sizes are the caller's (pool_output_size); any size
// is memory-safe: a window with no element inside the input gives -inf (max, index of the
// nearest valid element) or 0 (average).
//
// Max pooling: the first maximum in row-major window order wins, except that NaN propagates
// (the last NaN of the window wins); indices are h·W + w within the plane, always inside it.
// Average pooling (PyTorch's rule): the window is clipped to the padded input
// [−ph, H + ph) × [−pw, W + pw); divisor = divisor_override if != 0, else the clipped window's
// area if count_include_pad, else the number of elements inside the input.
// Adaptive pooling: rows [floor(oh·H/OH), ceil((oh+1)·H/OH)), columns likewise.
#pragma once
#include <cstdint>

#include "common/dispatch.h"

namespace fastdl {
namespace pool {

struct Pool2dParams {
  int64_t NC, H, W, OH, OW;
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
};

// idx may be nullptr (indices not wanted).
void max_pool2d_forward(const Pool2dParams& p, const float* x, float* y, int64_t* idx);
void max_pool2d_forward(const Pool2dParams& p, const double* x, double* y, int64_t* idx);
// dx (NC, H·W) = scatter-add of dy (NC, OH·OW) at idx; also adaptive max pooling's backward.
// Indices must lie in [0, H·W) (the binding checks).
void max_pool2d_backward(int64_t NC, int64_t HW, int64_t OHW, const float* dy,
                         const int64_t* idx, float* dx);
void max_pool2d_backward(int64_t NC, int64_t HW, int64_t OHW, const double* dy,
                         const int64_t* idx, double* dx);

void avg_pool2d_forward(const Pool2dParams& p, const float* x, float* y,
                        bool count_include_pad, int64_t divisor_override);
void avg_pool2d_forward(const Pool2dParams& p, const double* x, double* y,
                        bool count_include_pad, int64_t divisor_override);
void avg_pool2d_backward(const Pool2dParams& p, const float* dy, float* dx,
                         bool count_include_pad, int64_t divisor_override);
void avg_pool2d_backward(const Pool2dParams& p, const double* dy, double* dx,
                         bool count_include_pad, int64_t divisor_override);

// Adaptive pooling: only NC, H, W, OH, OW of p are used.
void adaptive_avg_pool2d_forward(const Pool2dParams& p, const float* x, float* y);
void adaptive_avg_pool2d_forward(const Pool2dParams& p, const double* x, double* y);
void adaptive_avg_pool2d_backward(const Pool2dParams& p, const float* dy, float* dx);
void adaptive_avg_pool2d_backward(const Pool2dParams& p, const double* dy, double* dx);
void adaptive_max_pool2d_forward(const Pool2dParams& p, const float* x, float* y,
                                 int64_t* idx);
void adaptive_max_pool2d_forward(const Pool2dParams& p, const double* x, double* y,
                                 int64_t* idx);

template <class T>
struct PoolOpsT {
  void (*max_fwd)(const Pool2dParams&, const T*, T*, int64_t*);
  void (*max_bwd)(int64_t, int64_t, int64_t, const T*, const int64_t*, T*);
  void (*avg_fwd)(const Pool2dParams&, const T*, T*, bool, int64_t);
  void (*avg_bwd)(const Pool2dParams&, const T*, T*, bool, int64_t);
  void (*aavg_fwd)(const Pool2dParams&, const T*, T*);
  void (*aavg_bwd)(const Pool2dParams&, const T*, T*);
  void (*amax_fwd)(const Pool2dParams&, const T*, T*, int64_t*);
};
struct PoolOps {
  PoolOpsT<float> f;
  PoolOpsT<double> d;
};

FASTDL_DECLARE_OPS(PoolOps)  // filled at the end of pool_impl.h, once per ISA

}  // namespace pool
}  // namespace fastdl
