// 3-D pooling kernels: adaptive average pooling over (D, H, W), forward and backward.
//
// x (P, D, H, W): P independent planes (N·C); y (P, OD, OH, OW). Along each axis, output i of
// o outputs over n inputs averages the window [floor(i·n/o), ceil((i+1)·n/o)) (PyTorch's
// adaptive windows; neighbouring windows overlap when o does not divide n):
//   y[p, i, j, k] = Σ_{d ∈ win_D(i), h ∈ win_H(j), w ∈ win_W(k)} x[p, d, h, w] / (|win_D(i)|·|win_H(j)|·|win_W(k)|)
// backward: gx[p, d, h, w] = Σ over the outputs whose window holds (d, h, w) of gy / count.
//
// Scheme, per plane and output (i, j): the rows x[p, d, h, :] of the (i, j) window are added
// into one W-long row in vector registers (whole contiguous rows: the vector work runs over
// the input once), then the W windows of that row are summed. The backward is the transpose
// (the row of W-window gradients is spread, then added into each row of the window). Threads
// over planes; each plane's sums run in a fixed order, so results do not depend on the thread
// count. Scratch: one row of W in the ScratchSlot kScratchGemmX. T = float or double.
//
// Layout (CONTRIBUTING.md): kernels in pool3d_impl.h on simd:: types, compiled per ISA
// (pool3d.cpp generic, pool3d_avx2.cpp, pool3d_avx512.cpp); ops() picks the active ISA.
#pragma once
#include <cstdint>

#include "common/dispatch.h"

namespace fastdl {
namespace pool3d {

struct Dims {
  int64_t P, D, H, W;     // planes and input size
  int64_t OD, OH, OW;     // output size (each >= 1)
};

template <class T>
void adaptive_avg_forward(const Dims& s, const T* x, T* y);
// gx is overwritten.
template <class T>
void adaptive_avg_backward(const Dims& s, const T* gy, T* gx);

template <class T>
struct Pool3dOpsT {
  void (*adaptive_avg_forward)(const Dims&, const T*, T*);
  void (*adaptive_avg_backward)(const Dims&, const T*, T*);
};
struct Pool3dOps {
  Pool3dOpsT<float> f;
  Pool3dOpsT<double> d;
};
FASTDL_DECLARE_OPS(Pool3dOps)

}  // namespace pool3d
}  // namespace fastdl
