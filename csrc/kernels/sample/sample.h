// Spatial sampling: grid_sample on 2-D images (bilinear, nearest or bicubic) and 3-D volumes
// (trilinear or nearest); zeros, border or reflection padding; align_corners; forward and
// backward.
//
// Layouts (C-contiguous): input (N, C, D, H, W) (D = 1 for images), grid (N, Do, Ho, Wo,
// dims) holding (x, y[, z]) in [−1, 1] (−1 = the left/top/front edge), output (N, C, Do, Ho,
// Wo). A grid coordinate maps to the pixel coordinate ix = ((x + 1)·W − 1) / 2 (ix = (x + 1)/2
// ·(W − 1) with align_corners). Bilinear/trilinear and nearest fold ix into the input by the
// padding (border: clamp; reflection: mirror about the edges, then clamp) before taking their
// 2^dims neighbours / the nearest pixel (half to even); bicubic (Keys, a = −0.75) takes the
// 4×4 neighbours of the unfolded ix and folds each tap. Taps outside the input count zero.
// Gradients follow PyTorch's conventions (no gradient through the clamp at the edges; the
// bicubic grid gradient ignores the folding of the taps; nearest has none in the grid).
//
// Scheme: per block of kBlock output points of one image, the taps (an int32 offset into the
// plane, −1 outside, and a weight; for the backward also the weight's derivative in each grid
// coordinate) are computed once and reused for every channel:
//   forward     out[c, p] = Σ_k w[k, p]·in[c, off[k, p]]        (threads over image × block;
//               AVX2 / AVX-512: 8 / 16 points per step with masked gathers, float32)
//   backward    grad_in[c, off[k, p]] += w[k, p]·g[c, p]; grad_grid[p, d] = Σ_c g[c, p] ·
//               Σ_k ∂w[k, p]/∂x_d · in[c, off[k, p]]          (threads over image × block of
//               kChanBlock channels; per channel block a partial grid gradient, summed in
//               block order)
// so results do not depend on the thread count. T = float or double; planes (D·H·W) must
// have fewer than 2^31 elements (the binding checks).
#pragma once
#include <cstdint>

#include "common/dispatch.h"

namespace fastdl {
namespace sample {

enum Mode : int { kBilinear = 0, kNearest = 1, kBicubic = 2 };
enum Padding : int { kZeros = 0, kBorder = 1, kReflection = 2 };

struct SampleParams {
  int64_t N, C, D, H, W;     // input (D = 1 for 2-D)
  int64_t Do, Ho, Wo;        // output points (Do = 1 for 2-D)
  int dims;                  // 2 or 3 (coordinates per grid point)
  int mode, padding;
  bool align_corners;
};

template <class T>
void grid_sample_forward(const SampleParams& p, const T* input, const T* grid, T* out);

// grad_input (N, C, D, H, W) (when not null; overwritten) and grad_grid (N, Do, Ho, Wo, dims)
// (when not null; overwritten; zero for nearest) of Σ grad_out·out.
template <class T>
void grid_sample_backward(const SampleParams& p, const T* grad_out, const T* input,
                          const T* grid, T* grad_input, T* grad_grid);

// The per-ISA implementation table (filled at the end of sample_impl.h, compiled by
// sample.cpp (generic), sample_avx2.cpp and sample_avx512.cpp).
template <class T>
struct SampleOpsT {
  void (*forward)(const SampleParams&, const T*, const T*, T*);
  void (*backward)(const SampleParams&, const T*, const T*, const T*, T*, T*);
};
struct SampleOps {
  SampleOpsT<float> f;
  SampleOpsT<double> d;
};
FASTDL_DECLARE_OPS(SampleOps)

}  // namespace sample
}  // namespace fastdl
