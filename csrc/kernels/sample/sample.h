// Spatial sampling: grid_sample on 2-D images (bilinear or nearest interpolation; zeros,
// border or reflection padding; align_corners), forward and backward.
//
// Layouts (C-contiguous): input (N, C, H, W), grid (N, Ho, Wo, 2) holding (x, y) in
// [−1, 1] (−1 = the left/top edge), output (N, C, Ho, Wo). A grid point maps to the pixel
// coordinate ix = ((x + 1)·W − 1) / 2 (ix = (x + 1)/2·(W − 1) with align_corners), then
// padding folds it into the image (border: clamp; reflection: mirror about the edges) or
// drops the taps outside (zeros). Work is split into fixed chunks of output points (forward,
// grid gradient) or whole (n, c) planes (input gradient), so results do not depend on the
// thread count. T = float or double.
#pragma once
#include <cstdint>

namespace fastdl {
namespace sample {

enum Mode : int { kBilinear = 0, kNearest = 1 };
enum Padding : int { kZeros = 0, kBorder = 1, kReflection = 2 };

template <class T>
void grid_sample2d_forward(const T* input, const T* grid, int64_t N, int64_t C, int64_t H,
                           int64_t W, int64_t Ho, int64_t Wo, int mode, int padding,
                           bool align_corners, T* out);

// grad_input (N, C, H, W) (when not null; overwritten) and grad_grid (N, Ho, Wo, 2) (when not
// null; overwritten; zero for nearest) of Σ grad_out·out.
template <class T>
void grid_sample2d_backward(const T* grad_out, const T* input, const T* grid, int64_t N,
                            int64_t C, int64_t H, int64_t W, int64_t Ho, int64_t Wo, int mode,
                            int padding, bool align_corners, T* grad_input, T* grad_grid);

}  // namespace sample
}  // namespace fastdl
