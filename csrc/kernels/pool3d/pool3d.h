// 3-D pooling kernels: average pooling over separable box windows in (D, H, W), forward and
// backward; adaptive_avg_pool3d and avg_pool3d are both such poolings.
//
// x (P, D, H, W): P independent planes (N·C); y (P, OD, OH, OW). Output (i, j, k) averages the
// box win_D(i) × win_H(j) × win_W(k), each window an interval [lo, hi) of its axis, with the
// divisor div_D(i)·div_H(j)·div_W(k) (the per-axis counts multiply: adaptive windows divide by
// their sizes; avg_pool3d by the padded or the clipped window length per axis, or puts
// divisor_override in div_D and 1 in the others). The windows' lo and hi must be
// non-decreasing in the output index (true of both):
//   y[p, i, j, k] = Σ_{d ∈ win_D(i), h ∈ win_H(j), w ∈ win_W(k)} x[p, d, h, w] / div(i, j, k)
// backward: gx[p, d, h, w] = Σ over the outputs whose box holds (d, h, w) of gy / div.
//
// Scheme, per plane. Forward, per output (i, j): the rows x[p, d, h, :] of the (i, j) window
// are added into one W-long row in vector registers, then the W windows of that row are
// summed. Backward: for every (i, j) the row of its W-window gradients is spread once into a
// scratch plane (OD·OH rows of W); then every input row (d, h) is the sum of the spread rows
// of the outputs (i, j) whose windows hold d and h — written once, no zero fill and no
// read-modify-write of gx (a copy when the windows do not overlap). Threads over planes; each
// plane's sums run in a fixed order, so results do not depend on the thread count. Scratch:
// one row (forward) or the spread plane (backward) in the ScratchSlot kScratchGemmX.
// T = float or double.
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

// The windows of one axis, o outputs over n inputs: lo[i] <= hi[i] in [0, n], both
// non-decreasing in i; div[i] >= 1 (a zero product would divide by zero).
struct Axis {
  const int64_t* lo;
  const int64_t* hi;
  const int64_t* div;
};
struct Windows {
  Axis d, h, w;
};

template <class T>
void box_avg_forward(const Dims& s, const Windows& win, const T* x, T* y);
// gx is overwritten.
template <class T>
void box_avg_backward(const Dims& s, const Windows& win, const T* gy, T* gx);

template <class T>
struct Pool3dOpsT {
  void (*box_avg_forward)(const Dims&, const Windows&, const T*, T*);
  void (*box_avg_backward)(const Dims&, const Windows&, const T*, T*);
};
struct Pool3dOps {
  Pool3dOpsT<float> f;
  Pool3dOpsT<double> d;
};
FASTDL_DECLARE_OPS(Pool3dOps)

}  // namespace pool3d
}  // namespace fastdl
