// 3-D convolution (NCDHW), forward and backward, float32 and float64: vol2col + GEMM.
//
// x (N, C, D, H, W), w (K, C/groups, kd, kh, kw), y (N, K, OD, OH, OW),
//   y[n,k,od,oh,ow] = b[k] + Σ_{c in group(k), a, i, j} w[k,c,a,i,j] ·
//                     x[n, c, od·sd − pd + a·dd, oh·sh − ph + i·dh, ow·sw − pw + j·dw]
// (zero outside x). The caller fixes OD, OH, OW (asymmetric 'same' padding is the front
// padding plus the output size); every access is bounds-checked, so any output size is safe.
//
// Scheme: the output is cut into tiles of whole output-depth planes (TD planes, TD chosen
// from the shape only so one tile's column matrix stays about kColBytes). Per image, group and
// tile, vol2col writes the column matrix col (C/g·kd·kh·kw × TD·OH·OW) into per-thread
// scratch and one GEMM (csrc/kernels/gemm, vectorised per ISA) computes
//   forward        y_tile = W_g · col                   (threads over image × group × tile)
//   input grad     dcol = W_gᵀ · dy_tile, col2vol adds dcol into dx   (threads over images)
//   weight grad    dW_g += dy_tile · colᵀ   per fixed chunk of (image, tile) tasks, the chunk
//                  partials summed in chunk order      (threads over chunks)
// With one task the GEMM itself runs threaded. Chunking depends only on the shape and the
// GEMM is thread-count independent, so results are bitwise identical for any thread count.
// Scratch: conv's ScratchSlots (conv3d never runs inside conv): kScratchConvCol (column
// matrix), kScratchConvGCol (weight-gradient partials), kScratchConvPad (the direct forward's
// padded input slab).
//
// On AVX2 / AVX-512 the forward with width stride 1 and at most 64 output channels per group
// runs a direct kernel instead (no column matrix; depth and height taps that read only the
// zero padding for a whole register block are skipped; see conv3d_impl.h); with all strides 1
// so do the input gradient (the direct forward of dy with the flipped kernel, at most 64
// input channels per group) and the weight gradient (outer products over output channels:
// dy transposed to channels-last times the padded input's taps as broadcasts; with a width
// dilation other than 1, register sums over flat slab planes).
//
// Layout (CONTRIBUTING.md): the kernels are in conv3d_impl.h, compiled per ISA (conv3d.cpp
// generic, conv3d_avx2.cpp, conv3d_avx512.cpp); ops() picks the active ISA's table.
#pragma once
#include <cstdint>

#include "common/dispatch.h"

namespace fastdl {
namespace conv3d {

struct Conv3dParams {
  int64_t N, C, D, H, W;     // input
  int64_t K, kd, kh, kw;     // output channels, kernel depth, height, width
  int64_t OD, OH, OW;        // output size (caller-computed)
  int64_t sd, sh, sw;        // stride
  int64_t pd, ph, pw;        // padding before (front, top, left)
  int64_t dd, dh, dw;        // dilation
  int64_t groups;
};

// y = conv3d(x, w) + b (b may be nullptr).
template <class T>
void forward(const Conv3dParams& p, const T* x, const T* w, const T* b, T* y);

// Gradients of Σ dy·y; each output pointer may be nullptr (not wanted); dx, dw, db are
// overwritten.
template <class T>
void backward(const Conv3dParams& p, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db);

// The per-ISA implementation table.
template <class T>
struct Conv3dOpsT {
  void (*forward)(const Conv3dParams&, const T*, const T*, const T*, T*);
  void (*backward)(const Conv3dParams&, const T*, const T*, const T*, T*, T*, T*);
};
struct Conv3dOps {
  Conv3dOpsT<float> f;
  Conv3dOpsT<double> d;
};
FASTDL_DECLARE_OPS(Conv3dOps)

}  // namespace conv3d
}  // namespace fastdl
