// Convolution kernels (NCHW), forward and backward, float32 and float64.
//
// A 2-D convolution with groups: x (N, C, H, W), w (K, C/groups, R, S), y (N, K, OH, OW),
//   y[n,k,oh,ow] = b[k] + sum_{c in group(k), r, s} w[k,c,r,s] ·
//                  x[n, c, oh·sh − pad_t + r·dh, ow·sw − pad_l + s·dw]   (zero outside x).
// The caller fixes OH and OW (so asymmetric 'same' padding is just pad_t/pad_l plus the
// output size); every access is bounds-checked against H and W, so any OH, OW is safe.
//
// Scheme (each rule's measurements are in the comment above it):
//  * AVX-512, float32, stride 1, dilation 1 (the ResNet/LeNet shapes): a direct kernel on a
//    zero-padded copy of each image (conv_avx512.cpp): MR output channels × up to 64 pixels of
//    one output row in zmm accumulators, broadcast weights; no im2col. The input gradient is
//    the same kernel on the padded output gradient with flipped, transposed weights; the
//    weight gradient is a direct kernel vectorised over output channels (dy transposed to
//    [pixel][channel] per image, broadcast input values).
//  * AVX-512, float32, stride 2–4 (strided_impl.h): the forward holds P pixels of one output
//    row × 16·KV output channels in zmm accumulators (packed weight vectors, broadcast
//    inputs) on the image's column-phase planes (the padded image deinterleaved by columns,
//    so a row's pixels read consecutive floats at any stride), the tile transposed out to
//    NCHW; the input gradient runs the same micro-kernel per phase of dx (pixels (sh·i + a,
//    sw·j + b): a stride-1 correlation of the padded dy with the taps of that phase), the
//    phases interleaved into dx row by row; the weight gradient runs the stride-1 dW tiles on
//    per-(row phase, column tap) planes whose row pitch is the output width.
//  * Winograd F(2×2, 3×3) / F(4×4, 3×3) for 3×3 stride-1 layers, all three passes
//    (winograd_impl.h; the rule and accuracy in conv.cpp and conv.py's conv_algorithm).
//  * otherwise: per image, per group, im2col into a per-thread scratch tile of output rows
//    (sized to stay in L2) and one GEMM W_g · col per tile; threads over the batch (the GEMM
//    then runs on the calling thread); with a single image the GEMM itself is threaded.
//  * 1×1 without padding, any stride (pointwise_impl.h): one GEMM over the whole batch's
//    N·OH·OW columns, B packed straight from the NCHW planes (a strided layer: from a
//    subsampled copy), the output written in place per image segment; dx = Wᵀ·dY likewise,
//    dW summed over fixed chunks of columns. One image of at most 64 output pixels: the
//    transposed product Yᵀ = Xᵀ·Wᵀ (pixels in the micro-kernel's rows), transposed out.
//  * depthwise (groups = C > 1): depthwise_impl.h: channel-blocked kernels (a vector's lanes
//    are channels of one image, taps as whole-vector FMAs) where the block fits ~1 MB, else
//    plane kernels (AVX-512 stride 1, conv_avx512.cpp) or plain loops over (n, k) planes; on
//    channels-last operands the same kernels read and write NHWC directly
//    (conv2d_depthwise_nhwc_forward / _backward below).
//  * backward input (GEMM path): colᵀ = W_gᵀ · dY_g per tile, then col2im adds it into dx.
//  * weight gradients: a partial dW per fixed chunk of images (chunk size from N only),
//    summed in chunk order: bitwise identical for any thread count.
//  * batched implicit GEMM ("gemm" algorithm, conv_impl.h gemm_forward/gemm_backward): the
//    im2col matrix of a chunk of images side by side (C/g·R·S × nb·OH·OW, nb·OH·OW ≈ 2048
//    columns, nb a function of the shape only), so a deep layer's small maps still give the
//    GEMM micro-kernel wide panels; the matrix is never written out: gemm::sgemm_implicit
//    calls conv's packing routine, which gathers x straight into the GEMM's B panels.
//    Forward W·col; weight gradient dY·colᵀ (colᵀ packed the same way) accumulated chunk
//    after chunk (fixed order: thread-count independent); input gradient, stride 1 and >= 128
//    input channels per group: the forward convolution of dY with the flipped, transposed
//    filters (again implicit), else Wᵀ·dY then col2im. Any stride, dilation and group count.
//    (A chunk whose input has 2^31 elements or more writes the im2col matrix out instead.)
// Which algorithm runs is decided per pass by `algorithm_for` (a rule measured on ResNet-18's
// layers, see conv.cpp), unless forced by FASTDL_CONV_ALGO / set_forced_algorithm.
// Scratch: thread_scratch slots kScratchConv* (common/allocator.h; gemm has its own).
// Layout: conv_impl.h holds the loops shared by every ISA (compiled by conv.cpp, conv_avx2.cpp
// and conv_avx512.cpp) and ends with the ISA's ConvOps table; conv_avx512.cpp adds the
// AVX-512 direct kernels; conv.cpp adds the algorithm rule, the dispatch and the API.
#pragma once
#include <cstdint>
#include <limits>

#include "common/dispatch.h"

namespace fastdl {
namespace conv {

struct Conv2dParams {
  int64_t N, C, H, W;      // input
  int64_t K, R, S;         // output channels, kernel height, width
  int64_t OH, OW;          // output size (caller-computed)
  int64_t sh, sw;          // stride
  int64_t pt, pl;          // padding before (top, left); after is implied by OH, OW
  int64_t dh, dw;          // dilation
  int64_t groups;
};

// An activation fused into a float32 forward (inference: optimize_for_inference's
// conv + ReLU / ReLU6 / Hardtanh): y = min(max(conv(x, w) + b, lo), hi), NaN kept (as the
// separate activation gives), applied where the output is written (in registers or on the
// output tile just stored) where a path can, else in one pass over y before the call
// returns. The default {-inf, +inf} is none.
struct Act {
  float lo = -std::numeric_limits<float>::infinity();
  float hi = std::numeric_limits<float>::infinity();
  bool on() const {
    return lo > -std::numeric_limits<float>::infinity() ||
           hi < std::numeric_limits<float>::infinity();
  }
};

// y = conv(x, w) + b (b may be nullptr), then the activation (float32 only).
void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                    float* y, Act act = Act());
void conv2d_forward(const Conv2dParams& p, const double* x, const double* w, const double* b,
                    double* y);

// Gradients; each output pointer may be nullptr (not wanted). dx, dw, db are overwritten.
void conv2d_backward(const Conv2dParams& p, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db);
void conv2d_backward(const Conv2dParams& p, const double* x, const double* w, const double* dy,
                     double* dx, double* dw, double* db);

// Prepacked weights (float32; the inference path, Python caches the packed array per weight
// version): the forward pass's weight transform done once instead of on every call.
//  * plan "rows" (automatic choice only, batch 1: stride-1 maps of at most 64 output pixels
//    and 1×1 layers of at most 256, conv_avx512.cpp: rows_plan): per group Yᵀ = colᵀ·W_gᵀ
//    with the pixels in the GEMM micro-kernel's rows, the weight stored as the GEMM's B
//    panels and read in place (gemm::sgemm_prepacked); taken first (after Winograd's);
//  * plan "direct": the shapes the direct kernel runs (see algorithm_for): its packed panels;
//  * plan "strided": the layers the strided forward kernel runs: its panels (16·KV output
//    channels per panel), taken before "col";
//  * plan "col" (automatic choice only, N·OH·OW <= 64 columns, not a stride-1 1×1, and at
//    most 4 segments of 16·NV columns, each of which reads all the weights: batch-1
//    inference of the deep layers; conv_avx512.cpp has the measurements): im2col of the
//    batch, then the direct kernel's micro-kernel run over the im2col
//    columns as a 1×1 convolution against the packed panels — no GEMM packing of the weights
//    on every call (a 512×4608 weight is 9.4 MB: packing it cost more than the product).
//  * plan "winograd" (every ISA; wherever the forward runs Winograd, conv_impl.h): the
//    transformed filters of winograd_impl.h's wino_filters, so an inference loop skips the
//    filter transform (E·C·K values, 16 MB at 512→512 for F(2×2)) on every call.
// conv2d_packed_size: float elements of the packed array for p (a 16-float header holding
// the plan, then the panels), 0 when this ISA/shape has no packed path (then call
// conv2d_forward). conv2d_forward_packed falls back to conv2d_forward(p, x, w, b, y) when wp
// does not hold the plan p needs now (e.g. the forced algorithm changed since packing).
int64_t conv2d_packed_size(const Conv2dParams& p);
void conv2d_pack_weight(const Conv2dParams& p, const float* w, float* wp);
void conv2d_forward_packed(const Conv2dParams& p, const float* x, const float* w,
                           const float* wp, const float* b, float* y, Act act = Act());

// A 1×1 expansion fused into a depthwise convolution, float32 (inference of MobileNet's
// inverted residual block): e = a1(conv1×1(x, w1) + b1) with w1 (p.C × Ci), then
// y = a2(depthwise p of e with w2 (p.C × 1 × R × S), b2), p.K == p.C; x is (p.N, Ci, p.H,
// p.W) and y (p.N, p.K, p.OH, p.OW), or with nhwc their channels-last storage (p.N, p.H, p.W,
// Ci) and (p.N, p.OH, p.OW, p.K). The expanded tensor e is never stored (depthwise_impl.h:
// blocked_pwdw_forward). Returns false, with nothing written, where this ISA or shape has no
// fused kernel (the caller runs the two convolutions).
bool conv2d_pw_dw_forward(const Conv2dParams& p, int64_t Ci, const float* x, const float* w1,
                          const float* b1, Act a1, const float* w2, const float* b2, Act a2,
                          float* y, bool nhwc = false);

// Depthwise convolution (groups = C = K: one output channel per channel) on channels-last
// operands: x and dx (p.N, p.H, p.W, p.C), y and dy (p.N, p.OH, p.OW, p.K) in NHWC storage,
// w (p.K, 1, p.R, p.S), b and db (p.K), dw like w; the same arithmetic as the NCHW kernels'
// channel-blocked scheme (depthwise_impl.h), which here moves each pixel's channels as
// vectors instead of transposing planes. Forward: y = act(conv + b) (float32; float64 without
// activation). Backward: any of dx, dw, db may be null (not computed). Return false, with
// nothing written, where this ISA or shape has no such kernel (no vector ISA, maps beyond the
// blocked scheme's buffers, an empty batch): the caller converts to NCHW.
bool conv2d_depthwise_nhwc_forward(const Conv2dParams& p, const float* x, const float* w,
                                   const float* b, float* y, Act act = Act());
bool conv2d_depthwise_nhwc_forward(const Conv2dParams& p, const double* x, const double* w,
                                   const double* b, double* y);
bool conv2d_depthwise_nhwc_backward(const Conv2dParams& p, const float* x, const float* w,
                                    const float* dy, float* dx, float* dw, float* db);
bool conv2d_depthwise_nhwc_backward(const Conv2dParams& p, const double* x, const double* w,
                                    const double* dy, double* dx, double* dw, double* db);

// Algorithms. `direct`: the per-ISA direct kernels where the ISA has them (AVX-512 float32,
// stride 1, dilation 1), else im2col + GEMM per image; `gemm`: batched im2col + GEMM;
// `winograd`: Winograd F(2×2, 3×3) or F(4×4, 3×3) (FASTDL_WINOGRAD_TILE=2|4|auto, auto: F(4×4)
// when the pass sums over at most 256 channels) for 3×3, stride 1, dilation 1, groups 1,
// every pass: forward, input gradient and weight gradient (the automatic choice elsewhere;
// the automatic rule itself picks it for float32 layers where it measured faster,
// winograd_impl.h; the weight gradient takes F(4×4) when both channel counts are at most
// 256). Depthwise convolutions always take their own kernels.
enum class Algo : int { automatic = 0, direct = 1, gemm = 2, winograd = 3 };
enum class Pass : int { forward = 0, input_grad = 1, weight_grad = 2 };

// The algorithm the kernels run for pass `pass` of shape p with elements of `elem` bytes:
// the forced one where it applies, else the rule. A pure function of its arguments and of the
// forced setting (never of the thread count), so results stay bitwise reproducible.
Algo algorithm_for(const Conv2dParams& p, int elem, Pass pass);
// The forced algorithm (automatic = none); initialised from FASTDL_CONV_ALGO
// (auto|direct|gemm|winograd; another value throws std::invalid_argument on first use).
Algo forced_algorithm();
void set_forced_algorithm(Algo a);
Algo algorithm_from_name(const char* name);  // throws std::invalid_argument
const char* algorithm_name(Algo a);

// The per-ISA implementation table (filled at the end of conv_impl.h, once per ISA).
struct ConvOps {
  void (*fwd_f)(const Conv2dParams&, const float*, const float*, const float*, float*, Act);
  void (*fwd_d)(const Conv2dParams&, const double*, const double*, const double*, double*);
  void (*bwd_f)(const Conv2dParams&, const float*, const float*, const float*, float*, float*,
                float*);
  void (*bwd_d)(const Conv2dParams&, const double*, const double*, const double*, double*,
                double*, double*);
  int64_t (*packed_size)(const Conv2dParams&);
  void (*pack_f)(const Conv2dParams&, const float*, float*);
  void (*fwd_packed_f)(const Conv2dParams&, const float*, const float*, const float*,
                       const float*, float*, Act);
  bool (*pwdw_f)(const Conv2dParams&, int64_t, const float*, const float*, const float*, Act,
                 const float*, const float*, Act, float*, bool);
  bool (*dwn_fwd_f)(const Conv2dParams&, const float*, const float*, const float*, float*, Act);
  bool (*dwn_fwd_d)(const Conv2dParams&, const double*, const double*, const double*, double*);
  bool (*dwn_bwd_f)(const Conv2dParams&, const float*, const float*, const float*, float*,
                    float*, float*);
  bool (*dwn_bwd_d)(const Conv2dParams&, const double*, const double*, const double*, double*,
                    double*, double*);
};

FASTDL_DECLARE_OPS(ConvOps)

}  // namespace conv
}  // namespace fastdl
