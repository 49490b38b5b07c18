// Winograd convolution F(2×2, 3×3) and F(4×4, 3×3) ("winograd"), for 3×3 filters, stride 1,
// dilation 1, any padding (also negative: the input gradient's crop), float32 and float64;
// a grouped layer group by group. The forward and the weight gradient of 3×3 stride-2 layers
// by the stride-2 tile (kWinoS2, below): the same scheme with 5-point transforms, windows 4
// apart, 2×2 outputs.
// Included by conv_impl.h (so compiled once per ISA: generic, AVX2, AVX-512); the forward
// and backward drivers there call winograd_forward / winograd_backward_input /
// winograd_backward_weight (the weight gradient: "weight gradient" below), and conv.cpp's
// algorithm_for calls winograd_preferred.
//
// F(TM×TM, 3×3), TM = 2 or 4: per (TM+2)² input tile d (tiles TM apart) and 3×3 filter g, the
// TM×TM output tile is
//   Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A.
// F(2×2) (points 0, ±1, ∞): Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1],
//   G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1], Aᵀ = [1 1 1 0; 0 1 −1 −1]:
//   16 multiplications for 4 outputs instead of 36 (2.25×).
// F(4×4) (points 0, ±2/3, ±3/2, ∞; the Toom-Cook construction on these points):
//   Bᵀ = [1 0 −97/36 0 1 0; 0 −3/2 −9/4 2/3 1 0; 0 3/2 −9/4 −2/3 1 0;
//         0 −2/3 −4/9 3/2 1 0; 0 2/3 −4/9 −3/2 1 0; 0 1 0 −97/36 0 1],
//   G = [1 0 0; −81/130 −27/65 −18/65; −81/130 27/65 −18/65; 8/65 12/65 18/65;
//        8/65 −12/65 18/65; 0 0 1],
//   Aᵀ = [1 1 1 1 1 0; 0 2/3 −2/3 3/2 −3/2 0; 0 4/9 4/9 9/4 9/4 0;
//         0 8/27 −8/27 27/8 −27/8 1]:
//   36 multiplications for 16 outputs instead of 144 (4×). The usual points 0, ±1, ±2 weigh
//   the products by up to 8 = 2³ in Aᵀ and by 4 and 5 in Bᵀ; points nearer to 1 in magnitude
//   keep the transforms' entries within [4/9, 27/8] and the float32 error a few times lower.
// Summed over input channels, the E = (TM+2)² element-wise products of P tiles are E
// products M[e] (P × K) = V[e] (P × C) · U[e] (C × K), V the transformed input tiles, U the
// transformed filters.
//
// Scheme, per call:
//  * filter transform U, laid out as the product's B panels: U[e][j / NR][i][j % NR], i the
//    summed channel (forward: input channel c; input gradient: output channel k of the
//    180°-rotated filters), j the produced channel, padded with zeros to a multiple of NR.
//    tasks of (16 summed channels × one NR panel of produced channels): each reads 16·9
//    consecutive weights per produced channel (forward) or 9·NR per summed channel (input
//    gradient), so w streams through the cache line by line, gathered to channel vectors by
//    16×16 transposes (AVX-512), and writes whole NR rows of U;
//  * the tiles (image, tile row, tile column, in that order) in blocks of PB tiles, PB a
//    function of the shape only (kWinoBlockBytes: the block's V and M), handed out to the
//    threads dynamically; one thread runs a block through all three phases, with no barrier
//    between them (when there are too few blocks for the threads, a block's produced
//    channels are split among them too, and for wide layers the input transforms run first
//    as a phase of their own: wino_run):
//      - input transform vectorised over channels (a segment of at most kWinoSeg tiles of one
//        tile row gathered channel-interleaved into a stack buffer, then 2·(TM+2)
//        one-dimensional transforms of SIMD vectors per tile) into V[e][p][c];
//      - the E products on a register-blocked micro-kernel (MR tiles × NR produced channels,
//        the summed channels in order: broadcast V, vector U, FMA);
//      - output transform vectorised over produced channels, plus the bias, scattered back to
//        NCHW through a stack buffer.
// Each output element is computed by one fixed sequence of operations whatever the block
// (the micro-kernel sums the channels of one tile in order, the transforms are per tile), so
// results are bitwise identical for any thread count.
//
// Accuracy and the automatic rule: conv.py's conv_algorithm docstring and the rule
// winograd_preferred / winograd_tile_for below (measured with bench/bench_winograd.py).
#pragma once
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <initializer_list>
#include <stdexcept>

#include "common/allocator.h"
#include "common/parallel.h"
#include "common/simd.h"
#include "kernels/conv/conv.h"

namespace fastdl {
namespace conv {
namespace {

// 3×3, stride 1, dilation 1, groups 1: the shapes the Winograd kernels compute (a grouped
// layer's groups each are one: winograd_group).
inline bool winograd_applies(const Conv2dParams& p) {
  return p.R == 3 && p.S == 3 && p.sh == 1 && p.sw == 1 && p.dh == 1 && p.dw == 1 &&
         p.groups == 1;
}

// 3×3, stride 2, dilation 1, groups 1: the shapes of the stride-2 tile (kWinoS2; its forward
// and weight gradient).
inline bool winograd_s2_applies(const Conv2dParams& p) {
  return p.R == 3 && p.S == 3 && p.sh == 2 && p.sw == 2 && p.dh == 1 && p.dw == 1 &&
         p.groups == 1;
}

// The per-group shape of a grouped layer (groups 1: p itself), the convolution the kernels
// run once per group (winograd_forward and the backwards below).
inline Conv2dParams winograd_group(const Conv2dParams& p) {
  Conv2dParams g = p;
  if (p.groups > 1) {
    g.C = p.C / p.groups;
    g.K = p.K / p.groups;
    g.groups = 1;
  }
  return g;
}

// FASTDL_WINOGRAD_TILE (read on every call): 2 (F(2×2, 3×3)), 4 (F(4×4, 3×3)) or 0 for
// "auto" / unset; another value is std::invalid_argument (ValueError in Python).
inline int winograd_tile_setting() {
  const char* env = std::getenv("FASTDL_WINOGRAD_TILE");
  if (!env || !*env || !std::strcmp(env, "auto")) return 0;
  if (!std::strcmp(env, "2")) return 2;
  if (!std::strcmp(env, "4")) return 4;
  // (the message in a char buffer: a std::string built here would instantiate its inline
  // members in every ISA's object, and the linker may keep the AVX-512 copy for all callers)
  char msg[128];
  std::snprintf(msg, sizeof msg, "FASTDL_WINOGRAD_TILE must be 2, 4 or auto, got '%.64s'", env);
  throw std::invalid_argument(msg);
}

// The automatic tile: F(4×4) when the pass sums over at most kWinoF4MaxSum channels (the
// forward over the input channels C, the input gradient over the output channels K), else
// F(2×2). F(4×4)'s float32 error grows with the number of summed products faster than
// F(2×2)'s; up to 256 summed channels it stays within 2.3e-6 of max |y| (the direct
// kernel's own is 1.6e-6 at 512 channels; the figures in conv.py's conv_algorithm
// docstring) and it runs the ResNet layers of 64–256 channels 1.3–1.6× faster than F(2×2)
// (one thread, forward: 64 ch 32² ×32 15.7 → 10.2 ms, 128 ch 28² ×8 9.7 → 6.4, 256 ch 8²
// ×32 11.6 → 7.5).
constexpr int64_t kWinoF4MaxSum = 256;
inline int winograd_tile_for(const Conv2dParams& p, bool input_grad) {
  const int t = winograd_tile_setting();
  if (t) return t;
  return (input_grad ? p.K : p.C) <= kWinoF4MaxSum ? 4 : 2;
}

// Whether the automatic choice runs Winograd for this float32 pass (conv.cpp's algorithm_for
// asks only for float32). At least kWinoMinChannels channels each way (an RGB stem loses: the
// transforms cost more than the product) and enough output pixels in the batch (N·OH·OW for
// the forward and the weight gradient, N·H·W for the input gradient) that the per-call
// filter-sized work (the filter transform; the weight gradient's dU store and Gᵀ dU G, E·C·K
// values) is amortised. Measured with bench/bench_winograd.py and the same forced algorithms
// on smaller batches (one thread, CPU time, minimum of 5 rounds, AMD Zen 4 shared with other
// jobs; ms F(2×2) / batched GEMM, forward | input gradient):
//   512→512 2² ×32 (128 px)   6.1 / 6.8 | 5.5 / 8.0     512→512 4² ×4 (64 px)  5.0 / 3.5 | 5.2 / 5.0
//   512→512 7² ×2 (98 px)     6.3 / 6.0 | 5.9 / 7.2     256→256 8² ×2 (128 px) 1.6 / 1.8 | 1.6 / 2.3
//   128→128 10² ×1 (100 px)   0.30 / 0.41 | 0.30 / 0.47  64→64 8² ×2 (128 px) 0.12 / 0.17 | 0.11 / 0.19
// i.e. the transform is amortised from about 100 output pixels whatever the channel count
// (the product and the filter transform both scale with C·K). Weight gradient, ms F(2×2) /
// the best of batched GEMM and direct kernel (the same run conditions):
//   512→512 2² ×32 (128 px)   5.6 / 6.5                 512→512 4² ×4 (64 px)  4.1 / 3.4
//   512→512 7² ×2 (98 px)     5.3 / 4.8                 256→256 8² ×2 (128 px) 1.60 / 1.70
//   128→128 10² ×1 (100 px)   0.21 / 0.35               64→64 8² ×1 (64 px)    0.05 / 0.07
//   32→32 32² ×8              1.48 / 1.65               24→24 32² ×8           0.87 / 1.29
//   32→16 32² ×8              1.42 / 0.94               3→64 32² ×32           5.65 / 2.90
// (the dU round trip, 16·C·K floats, costs about 3.5 ms at 512→512), and at batch 32 / 8 on
// every ResNet-18/50 and VGG-11 3×3 stride-1 layer with 64 or more channels 1.4–2.4× faster
// than the better of the two (bench/bench_winograd.py --algos --passes dw): from 128 output
// pixels, as the forward.
constexpr int64_t kWinoMinChannels = 32;
constexpr int64_t kWinoMinPixelsFwd = 128, kWinoMinPixelsDx = 96, kWinoMinPixelsDw = 128;
// A Winograd shape with kWinoMinChannels channels each way and at least min_pixels pixels
// (the rule's one form, also for the prepacked plan: conv_impl.h, wino_pack_preferred).
inline bool winograd_worth(const Conv2dParams& p, int64_t pixels, int64_t min_pixels) {
  return winograd_applies(p) && p.C >= kWinoMinChannels && p.K >= kWinoMinChannels &&
         pixels >= min_pixels;
}
// A grouped layer is judged by its groups' channels, and from kWinoGroupedMinPixels pixels
// for the forward and the input gradient (the weight gradient too from kWinoManyGroups
// groups): the other algorithms run a grouped layer as many small products, which Winograd
// beats on small maps as well. Measured, 2 threads, ms auto (the batched GEMM) / Winograd,
// forward | input gradient | weight gradient, AMD Zen 4 VM, 2026-12-07: batch 1, 1024 7² 32
// groups 0.54 / 0.26 | 0.65 / 0.27 | 0.48 / 0.37; 256 7² 8 groups 0.136 / 0.076 | 0.164 /
// 0.076 | 0.136 / 0.111; 2048 7² 64 groups 1.06 / 0.52 | 1.50 / 0.56 | 0.87 / 0.74; batch 2,
// 512 4² 16 groups (32 pixels) 0.275 / 0.132 | 0.317 / 0.140 | 0.222 / 0.156; but 2 groups:
// 128 8² batch 1 0.105 / 0.085 | 0.111 / 0.087 | 0.108 / 0.141, 64 6² batch 2 weight
// gradient 0.051 / 0.059; and 25 pixels (256 5², 4 groups) 0.157 / 0.150 | 0.132 / 0.161.
constexpr int64_t kWinoGroupedMinPixels = 32, kWinoManyGroups = 8;
// The stride-2 tile (forward and weight gradient; the input gradient keeps the strided
// direct kernel, 1.1–1.4× torch's): kWinoMinChannels to kWinoS2MaxChannels channels each way
// (its transformed filters, 25·C·K values, are written on every call and read by every block
// of tiles: at 512 channels, 26 MB, the strided direct kernel wins) and at least
// kWinoS2MinPixels output pixels. Measured, ms strided direct / stride-2 Winograd, forward,
// 1 | 2 threads, AMD Zen 4 VM, 2026-12-07: ResNet-18 (CIFAR) batch 32 64→128 32² 11.90 / 11.31
// | 5.95 / 5.51, 128→256 16² 10.92 / 9.56 | 5.74 / 5.04; ResNet-50 batch 8 128→128 56² 17.43
// / 15.08 | 9.16 / 7.79, 256→256 28² 16.74 / 14.53 | 8.39 / 7.40; batch 1 64→128 32² (256
// pixels) 0.27 / 0.22 (2 threads); but 256→512 8² batch 32 10.38 / 9.82 | 5.35 / 5.76 and
// 512→512 14² batch 8 16.70 / 20.01 | 10.02 / 14.95. The weight gradient only from
// kWinoS2WgMinProduct = C·K: its transforms (25·(C + K) values per tile) weigh on the
// products (25·C·K) of fewer channels. Same conditions, ms direct / Winograd, 1 | 2
// threads: 128→256 16² batch 32 13.54 / 11.54 | 8.20 / 6.07, 256→256 28² batch 8 20.31 /
// 16.95 | 10.18 / 8.97; but 64→128 32² batch 32 13.00 / 13.57 | 7.18 / 8.59, 128→128 56²
// batch 8 18.86 / 19.30 | 9.43 / 9.63.
constexpr int64_t kWinoS2MaxChannels = 256, kWinoS2MinPixels = 256;
constexpr int64_t kWinoS2WgMinProduct = 128 * 256;
inline bool winograd_s2_preferred(const Conv2dParams& p, Pass pass) {
  const bool ok = winograd_s2_applies(p) && p.C >= kWinoMinChannels &&
                  p.K >= kWinoMinChannels && p.C <= kWinoS2MaxChannels &&
                  p.K <= kWinoS2MaxChannels && p.N * p.OH * p.OW >= kWinoS2MinPixels;
  if (pass == Pass::forward) return ok;
  return pass == Pass::weight_grad && ok && p.C * p.K >= kWinoS2WgMinProduct;
}

inline bool winograd_preferred(const Conv2dParams& q, Pass pass) {
  if (q.sh > 1 || q.sw > 1) return winograd_s2_preferred(q, pass);
  const Conv2dParams p = winograd_group(q);  // a grouped layer: by its groups' channels
  if (q.groups > 1 && (pass != Pass::weight_grad || q.groups >= kWinoManyGroups))
    return winograd_worth(p, pass == Pass::input_grad ? p.N * p.H * p.W : p.N * p.OH * p.OW,
                          kWinoGroupedMinPixels);
  if (pass == Pass::input_grad) return winograd_worth(p, p.N * p.H * p.W, kWinoMinPixelsDx);
  return winograd_worth(p, p.N * p.OH * p.OW,
                        pass == Pass::forward ? kWinoMinPixelsFwd : kWinoMinPixelsDw);
}

}  // namespace

namespace FASTDL_SIMD_ISA {
namespace {

constexpr int64_t kWinoSeg = 16;                       // tiles per transform segment
constexpr int64_t kWinoInTiles = 4;                    // tiles per shared-V transform task
constexpr int64_t kWinoShareMinK = 128;                // produced channels for a shared V
constexpr int64_t kWinoBlockBytes = 512 * 1024;        // V + M of one block of tiles (about)
constexpr int64_t kWinoMinBlocks = 8;                  // blocks per call when tiles allow
constexpr int64_t kWinoFltBlock = 16;                  // summed channels per filter task
// The micro-kernel's register block: MR tiles × NV vectors of produced channels.
#if FASTDL_SIMD_LEVEL == 2
constexpr int kWinoMR = 12, kWinoNV = 2;
#elif FASTDL_SIMD_LEVEL == 1
constexpr int kWinoMR = 6, kWinoNV = 2;
#else
constexpr int kWinoMR = 4, kWinoNV = 4;
#endif

inline int64_t wmin(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t wmax(int64_t a, int64_t b) { return a > b ? a : b; }

// Tile codes TM: 2 = F(2×2, 3×3) and 4 = F(4×4, 3×3) (stride 1), kWinoS2 = the stride-2
// tile (2×2 outputs of a stride-2 3×3 correlation from a 5×5 window, below). Per code: the
// transforms' points (the window's and the transformed tile's side), the outputs per side
// and the window's step from one tile to the next.
constexpr int kWinoS2 = -2;
template <int TM>
constexpr int wino_pts() { return TM == kWinoS2 ? 5 : TM + 2; }
template <int TM>
constexpr int wino_outs() { return TM == kWinoS2 ? 2 : TM; }
template <int TM>
constexpr int wino_step() { return TM == kWinoS2 ? 4 : TM; }

// The one-dimensional transforms of F(TM, 3), TM = 2 or 4 (N6 = TM + 2 points), and of the
// stride-2 tile kWinoS2: outputs y0 = w0·d0 + w1·d1 + w2·d2 and y1 = w0·d2 + w1·d3 + w2·d4
// of a 5-value window d. Its even taps (w0, w2) on the even values (d0, d2, d4) are F(2, 2)
// (3 products for 4), its odd tap w1 on d1 and d3 two products: 5 for 6, and 25 for 36 in
// two dimensions (1.44× fewer), with transforms of additions only:
//   Bᵀ d = (d0 − d2, d2, d4 − d2, d1, d3),  G g = (g0, g0 + g2, g2, g1, g1),
//   Aᵀ m = (m0 + m1 + m3, m1 + m2 + m4).
// v = Bᵀ d
template <int TM, class V>
FASTDL_SIMD_INLINE void wino_in(const V* d, V* v) {
  using T = typename V::T;
  if constexpr (TM == kWinoS2) {
    v[0] = d[0] - d[2];
    v[1] = d[2];
    v[2] = d[4] - d[2];
    v[3] = d[1];
    v[4] = d[3];
  } else if constexpr (TM == 2) {
    v[0] = d[0] - d[2];
    v[1] = d[1] + d[2];
    v[2] = d[2] - d[1];
    v[3] = d[1] - d[3];
  } else {
    const V c97(T(97.0 / 36.0));
    v[0] = fnma(c97, d[2], d[0] + d[4]);
    v[5] = fnma(c97, d[3], d[1] + d[5]);
    const V e1 = fnma(V(T(9.0 / 4.0)), d[2], d[4]);
    const V o1 = fnma(V(T(1.5)), d[1], V(T(2.0 / 3.0)) * d[3]);
    v[1] = e1 + o1;
    v[2] = e1 - o1;
    const V e3 = fnma(V(T(4.0 / 9.0)), d[2], d[4]);
    const V o3 = fnma(V(T(2.0 / 3.0)), d[1], V(T(1.5)) * d[3]);
    v[3] = e3 + o3;
    v[4] = e3 - o3;
  }
}

// y = Aᵀ m
template <int TM, class V>
FASTDL_SIMD_INLINE void wino_out(const V* m, V* y) {
  using T = typename V::T;
  if constexpr (TM == kWinoS2) {
    y[0] = m[0] + m[1] + m[3];
    y[1] = m[1] + m[2] + m[4];
  } else if constexpr (TM == 2) {
    y[0] = m[0] + m[1] + m[2];
    y[1] = m[1] - m[2] - m[3];
  } else {
    const V s12 = m[1] + m[2], d12 = m[1] - m[2], s34 = m[3] + m[4], d34 = m[3] - m[4];
    y[0] = m[0] + s12 + s34;
    y[1] = mul_add(V(T(2.0 / 3.0)), d12, V(T(1.5)) * d34);
    y[2] = mul_add(V(T(4.0 / 9.0)), s12, V(T(9.0 / 4.0)) * s34);
    y[3] = mul_add(V(T(8.0 / 27.0)), d12, mul_add(V(T(27.0 / 8.0)), d34, m[5]));
  }
}

// u = G g
template <int TM, class V>
FASTDL_SIMD_INLINE void wino_flt(const V* g, V* u) {
  using T = typename V::T;
  if constexpr (TM == kWinoS2) {
    u[0] = g[0];
    u[1] = g[0] + g[2];
    u[2] = g[2];
    u[3] = g[1];
    u[4] = g[1];
  } else if constexpr (TM == 2) {
    const V s02 = g[0] + g[2];
    u[0] = g[0];
    u[1] = V(T(0.5)) * (s02 + g[1]);
    u[2] = V(T(0.5)) * (s02 - g[1]);
    u[3] = g[2];
  } else {
    const V e1 = mul_add(V(T(-81.0 / 130.0)), g[0], V(T(-18.0 / 65.0)) * g[2]);
    const V o1 = V(T(-27.0 / 65.0)) * g[1];
    const V e3 = mul_add(V(T(8.0 / 65.0)), g[0], V(T(18.0 / 65.0)) * g[2]);
    const V o3 = V(T(12.0 / 65.0)) * g[1];
    u[0] = g[0];
    u[1] = e1 + o1;
    u[2] = e1 - o1;
    u[3] = e3 + o3;
    u[4] = e3 - o3;
    u[5] = g[2];
  }
}

// The weight gradient's transforms, the transposes of wino_out and wino_flt.
// m = A y (wino_outs values of an output-gradient row or column to wino_pts)
template <int TM, class V>
FASTDL_SIMD_INLINE void wino_out_t(const V* y, V* m) {
  using T = typename V::T;
  if constexpr (TM == kWinoS2) {
    m[0] = y[0];
    m[1] = y[0] + y[1];
    m[2] = y[1];
    m[3] = y[0];
    m[4] = y[1];
  } else if constexpr (TM == 2) {
    m[0] = y[0];
    m[1] = y[0] + y[1];
    m[2] = y[0] - y[1];
    m[3] = -y[1];
  } else {
    const V e1 = mul_add(V(T(4.0 / 9.0)), y[2], y[0]);
    const V o1 = mul_add(V(T(2.0 / 3.0)), y[1], V(T(8.0 / 27.0)) * y[3]);
    const V e3 = mul_add(V(T(9.0 / 4.0)), y[2], y[0]);
    const V o3 = mul_add(V(T(1.5)), y[1], V(T(27.0 / 8.0)) * y[3]);
    m[0] = y[0];
    m[1] = e1 + o1;
    m[2] = e1 - o1;
    m[3] = e3 + o3;
    m[4] = e3 - o3;
    m[5] = y[3];
  }
}

// g = Gᵀ u (wino_pts values to 3)
template <int TM, class V>
FASTDL_SIMD_INLINE void wino_flt_t(const V* u, V* g) {
  using T = typename V::T;
  if constexpr (TM == kWinoS2) {
    g[0] = u[0] + u[1];
    g[1] = u[3] + u[4];
    g[2] = u[1] + u[2];
  } else if constexpr (TM == 2) {
    const V h = V(T(0.5)) * (u[1] + u[2]);
    g[0] = u[0] + h;
    g[1] = V(T(0.5)) * (u[1] - u[2]);
    g[2] = h + u[3];
  } else {
    const V s12 = u[1] + u[2], d12 = u[1] - u[2], s34 = u[3] + u[4], d34 = u[3] - u[4];
    g[0] = mul_add(V(T(-81.0 / 130.0)), s12, mul_add(V(T(8.0 / 65.0)), s34, u[0]));
    g[1] = mul_add(V(T(-27.0 / 65.0)), d12, V(T(12.0 / 65.0)) * d34);
    g[2] = mul_add(V(T(18.0 / 65.0)), s34 - s12, u[5]);
  }
}

// The product's layout: NR produced channels per panel, J produced channels padded to JP.
template <class T>
constexpr int64_t wino_nr() {
  return kWinoNV * simd::Vec<T>::N;
}
template <class T>
inline int64_t wino_padded(int64_t J) {
  return (J + wino_nr<T>() - 1) / wino_nr<T>() * wino_nr<T>();
}

// The 3×3 filters of summed channels [i0, i0 + ni) and produced channels [j0, j0 + nj) (nj
// <= NR), gathered produced-channel-interleaved: g[ii][t][l] = tap t of the filter from
// summed channel i0 + ii to produced channel j0 + l (flip: the filter rotated by 180°), zero
// for l >= nj. Forward (flip = false): lane l reads the 9·ni consecutive weights of output
// channel j0 + l, a (lanes × 9·ni) block transposed 16×16 at a time on AVX-512; input
// gradient: summed channel i0 + ii's 9·nj consecutive weights, a (lanes × 9) block
// transposed.
template <class T>
void wino_gather(const T* w, int64_t C, bool flip, int64_t i0, int64_t ni, int64_t j0,
                 int64_t nj, T (*g)[9][wino_nr<T>()]) {
  constexpr int64_t NR = wino_nr<T>(), IB = kWinoFltBlock;
  if (nj < NR) std::memset(g, 0, sizeof(T) * IB * 9 * NR);
#if FASTDL_SIMD_LEVEL == 2
  if constexpr (sizeof(T) == 4) {
    T* gf = &g[0][0][0];  // g as [ii·9 + t][NR]
    if (!flip) {
      for (int64_t l0 = 0; l0 < nj; l0 += 16) {
        const int rows = static_cast<int>(wmin(16, nj - l0));
        const float* src = w + ((j0 + l0) * C + i0) * 9;
        for (int64_t f0 = 0; f0 < 9 * ni; f0 += 16) {
          const int64_t nf = wmin(16, 9 * ni - f0);
          __m512 r[16];
          simd::load_transpose16(src + f0, C * 9, rows, simd::lane_mask(nf), r);
          for (int64_t c = 0; c < nf; ++c) _mm512_store_ps(gf + (f0 + c) * NR + l0, r[c]);
        }
      }
    } else {
      for (int64_t ii = 0; ii < ni; ++ii)
        for (int64_t l0 = 0; l0 < nj; l0 += 16) {
          __m512 r[16];  // lane l's 9 taps are row l of a (lanes × 9) block
          simd::load_transpose16(w + ((i0 + ii) * C + j0 + l0) * 9, 9,
                                 static_cast<int>(wmin(16, nj - l0)), 0x1FF, r);
          for (int t = 0; t < 9; ++t) _mm512_store_ps(&g[ii][8 - t][l0], r[t]);
        }
    }
    return;
  }
#endif
  if (!flip) {
    for (int64_t l = 0; l < nj; ++l) {
      const T* src = w + ((j0 + l) * C + i0) * 9;
      for (int64_t ii = 0; ii < ni; ++ii)
        for (int t = 0; t < 9; ++t) g[ii][t][l] = src[ii * 9 + t];
    }
  } else {
    for (int64_t ii = 0; ii < ni; ++ii) {
      const T* src = w + ((i0 + ii) * C + j0) * 9;
      for (int64_t l = 0; l < nj; ++l)
        for (int t = 0; t < 9; ++t) g[ii][8 - t][l] = src[l * 9 + t];
    }
  }
}

// Transformed filters of F(TM, 3) into U[e][j / NR][i][j % NR] (E·I·JP elements, JP = J
// padded to NR, the padding zero). flip = false (forward): i = input channel c (I = C), j =
// output channel k (J = K), the filter w[k][c]; flip = true (input gradient): i = k (I = K),
// j = c (J = C), the filter w[k][c] rotated by 180°. Tasks of (kWinoFltBlock summed channels
// × one panel of NR produced channels), so that each task writes whole rows of U's panels.
template <int TM, class T>
void wino_filters(const T* w, int64_t K, int64_t C, bool flip, T* U) {
  using V = simd::Vec<T>;
  constexpr int64_t L = V::N, NR = wino_nr<T>(), IB = kWinoFltBlock;
  constexpr int N6 = wino_pts<TM>();
  const int64_t I = flip ? K : C, J = flip ? C : K, JP = wino_padded<T>(J);
  const int64_t nib = (I + IB - 1) / IB, njp = JP / NR;
  parallel_for(njp * nib, 2, [&](int64_t t0, int64_t t1) {
    alignas(64) T gbuf[IB][9][NR];
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t jp = task / nib, i0 = (task % nib) * IB;
      const int64_t ni = wmin(IB, I - i0);
      wino_gather<T>(w, C, flip, i0, ni, jp * NR, wmin(NR, J - jp * NR), gbuf);
      for (int64_t ii = 0; ii < ni; ++ii)
        for (int64_t v = 0; v < kWinoNV; ++v) {
          V g[3][3], t6[N6][3];
          for (int r = 0; r < 3; ++r)
            for (int q = 0; q < 3; ++q) g[r][q] = V::load(gbuf[ii][r * 3 + q] + v * L);
          for (int q = 0; q < 3; ++q) {  // columns: G g
            const V col[3] = {g[0][q], g[1][q], g[2][q]};
            V u[N6];
            wino_flt<TM>(col, u);
            for (int r = 0; r < N6; ++r) t6[r][q] = u[r];
          }
          for (int r = 0; r < N6; ++r) {  // rows: (G g) Gᵀ
            V u[N6];
            wino_flt<TM>(t6[r], u);
            for (int q = 0; q < N6; ++q)
              u[q].store(U + (((r * N6 + q) * njp + jp) * I + i0 + ii) * NR + v * L);
          }
        }
    }
  });
}

// M (kMR × NR, row stride ldm) = A (kMR × I) · B (I × NR, packed rows of NR), the I
// products of each element summed in order from zero; with acc_in that sum is then added to
// M (a two-level sum: the weight gradient's blocks of tiles). A's element (r, i) at
// A[r·lda + i], or at A[i·lda + r] with kTransA (the weight gradient: A = the transformed
// input tiles V[e] (tiles × channels), read as Vᵀ). pf: a panel of B's shape to bring
// toward L2 meanwhile, row i with row i of B (the product's next filter panel: at batch 1
// the prepacked U streams from memory, panel after panel, and the hardware prefetcher
// alone fetches it at 13–25 GB/s; figures at wino_block).
template <class T, bool kTransA = false, int kMR = kWinoMR>
FASTDL_SIMD_INLINE void wino_mk(int64_t I, const T* A, int64_t lda, const T* B, T* M,
                                int64_t ldm, bool acc_in = false, const T* pf = nullptr) {
  using V = simd::Vec<T>;
  constexpr int64_t L = V::N, NR = wino_nr<T>();
  V acc[kMR][kWinoNV];
#pragma GCC unroll 16
  for (int r = 0; r < kMR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < kWinoNV; ++v) acc[r][v] = V(T(0));
  for (int64_t i = 0; i < I; ++i) {
    V b[kWinoNV];
#pragma GCC unroll 4
    for (int v = 0; v < kWinoNV; ++v) b[v] = V::load(B + i * NR + v * L);
    if (pf) {
      const char* q = reinterpret_cast<const char*>(pf + i * NR);
#pragma GCC unroll 4
      for (int64_t o = 0; o < int64_t(sizeof(T)) * NR; o += 64) __builtin_prefetch(q + o, 0, 2);
    }
#pragma GCC unroll 16
    for (int r = 0; r < kMR; ++r) {
      const V a(kTransA ? A[i * lda + r] : A[r * lda + i]);
#pragma GCC unroll 4
      for (int v = 0; v < kWinoNV; ++v) acc[r][v] = mul_add(a, b[v], acc[r][v]);
    }
  }
#pragma GCC unroll 16
  for (int r = 0; r < kMR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < kWinoNV; ++v) {
      T* m = M + r * ldm + v * L;
      (acc_in ? V::load(m) + acc[r][v] : acc[r][v]).store(m);
    }
}

// wino_mk on `rows` rows (a multiple of kWinoRowStep up to kWinoMR): the last row block of
// a product takes the smallest instantiation that covers it. Each element's sum is the same
// whichever instantiation computes it.
constexpr int64_t kWinoRowStep = kWinoMR % 4 == 0 ? 4 : 2;
template <class T, bool kTransA>
FASTDL_SIMD_INLINE void wino_mk_rows(int64_t rows, int64_t I, const T* A, int64_t lda,
                                     const T* B, T* M, int64_t ldm, bool acc = false,
                                     const T* pf = nullptr) {
  switch (rows) {
    case 2: return wino_mk<T, kTransA, 2>(I, A, lda, B, M, ldm, acc, pf);
    case 4: return wino_mk<T, kTransA, 4>(I, A, lda, B, M, ldm, acc, pf);
    case 8: return wino_mk<T, kTransA, 8>(I, A, lda, B, M, ldm, acc, pf);
    default: return wino_mk<T, kTransA>(I, A, lda, B, M, ldm, acc, pf);
  }
}

// The input transform of tiles [p0, p1) (tile p: image p / (th·tw), tile row p / tw % th,
// tile column p % tw; its P² window, P = wino_pts, starts at (S·row − pt, S·column − pl) of
// x (N, C, H, W), S = wino_step, zero outside): V[e][p − p0][c] = (Bᵀ d B)[e] at
// Vt[e·lde + (p − p0)·ldv + c],
// vectorised over channels (a segment of at most kWinoSeg tiles of one tile row gathered
// channel-interleaved into a stack buffer). Row stride ldv >= C: the channels C..ldv−1 are
// written as zeros.
template <int TM, class T>
void wino_input_tiles(const T* x, int64_t C, int64_t H, int64_t W, int64_t th, int64_t tw,
                      int64_t pt, int64_t pl, int64_t p0, int64_t p1, T* Vt, int64_t lde,
                      int64_t ldv, int64_t xn) {
  using V = simd::Vec<T>;
  constexpr int64_t L = V::N;
  constexpr int N6 = wino_pts<TM>(), ST = wino_step<TM>();
  const int64_t ncb = (ldv + L - 1) / L;
  for (int64_t p = p0; p < p1;) {
    const int64_t row = p / tw;  // image · th + tile row
    const int64_t t0 = p % tw, t1 = wmin(tw, wmin(t0 + kWinoSeg, t0 + (p1 - p)));
    const int64_t n = row / th, h0 = ST * (row % th) - pt;
    const int64_t ncol = ST * (t1 - t0) + N6 - ST, wb = ST * t0 - pl;  // wb: column of q = 0
    int64_t lo = wmax(0, -wb), hi = wmin(ncol, W - wb);
    if (hi < lo) hi = lo = 0;
    alignas(64) T buf[N6][ST * kWinoSeg + N6 - ST][L];
    for (int64_t cb = 0; cb < ncb; ++cb) {
      const int64_t c0 = cb * L, nl = wmax(0, wmin(L, C - c0)), ns = wmin(L, ldv - c0);
      if (nl < L) std::memset(buf, 0, sizeof(buf));
      for (int a = 0; a < N6; ++a) {
        const int64_t hh = h0 + a;
        const bool in = hh >= 0 && hh < H;
        for (int64_t l = 0; l < nl; ++l) {
          if (!in) {
            for (int64_t q = 0; q < ncol; ++q) buf[a][q][l] = T(0);
            continue;
          }
          const T* xr = x + n * xn + ((c0 + l) * H + hh) * W + wb;
          for (int64_t q = 0; q < lo; ++q) buf[a][q][l] = T(0);
          for (int64_t q = lo; q < hi; ++q) buf[a][q][l] = xr[q];
          for (int64_t q = hi; q < ncol; ++q) buf[a][q][l] = T(0);
        }
      }
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t q0 = ST * (t - t0), pr = p - p0 + (t - t0);
        V r6[N6][N6];
        for (int q = 0; q < N6; ++q) {  // columns: Bᵀ d
          V d[N6], v[N6];
          for (int a = 0; a < N6; ++a) d[a] = V::load(buf[a][q0 + q]);
          wino_in<TM>(d, v);
          for (int a = 0; a < N6; ++a) r6[a][q] = v[a];
        }
        for (int a = 0; a < N6; ++a) {  // rows: (Bᵀ d) B
          V v[N6];
          wino_in<TM>(r6[a], v);
          for (int q = 0; q < N6; ++q) {
            T* dst = Vt + (a * N6 + q) * lde + pr * ldv + c0;
            if (ns == L)
              v[q].store(dst);
            else
              v[q].store(dst, ns);
          }
        }
      }
    }
    p += t1 - t0;
  }
}

// The stride of a block's planes V[e] and M[e] (rows · ld elements each): rounded up to
// a multiple of 128 bytes plus 64, so that the E planes' rows at one tile fall into E
// different L1 sets. The output transform reads one tile's E rows of M together, and the
// input transform writes one tile's E rows of V; with a plane of a multiple of 4 KB (12
// tiles × 256 channels, 24 × 128) all of them map to one set and miss the 12-way L1 one
// after another; the same for the weight gradient's transforms. (A/B, 1 thread: ResNet-50
// 128→128 28² at batch 8, forward 3.2 → 2.7 ms; ResNet-18 64→64 32² at batch 32, weight
// gradient 7.4 → 5.1 ms.)
template <class T>
inline int64_t wino_plane(int64_t rows, int64_t ld) {
  constexpr int64_t q = 128 / static_cast<int64_t>(sizeof(T));
  return (rows * ld + q - 1) / q * q + q / 2;
}

// Tiles per block: V and M of a block about kWinoBlockBytes, a multiple of MR, at least MR,
// and at most a kWinoMinBlocks-th of the tiles (rounded up to MR) so that the threads share
// the work. With fewer tiles than kWinoMinBlocks row blocks (small maps at batch 1), where
// wino_run splits the produced channels too, and kWinoShareMinK produced channels or more
// (a U larger than the L2 cache), only as many blocks as needed for
// kWinoMinBlocks tasks of whole NR panels (njp of them): every task reads its panels of the
// transformed filters U, which at batch 1 stream from memory (the inference path holds
// every layer's U, more than the L3 cache), so fewer blocks read U fewer times. A function
// of the shape only. With wino_mk's prefetch of the next panel, A/B against neither, batch
// 1, prepacked filters, the automatic tile, 96 MB flushed before each call, ms 1 thread /
// 2 threads: 64→64 56² 0.62 → 0.53 / 0.46 → 0.36, 128→128 28² 0.67 → 0.55 / 0.55 → 0.38,
// 256→256 14² 0.80 → 0.71 / 0.71 → 0.43, 512→512 7² F(2×2) 1.23 → 1.08 / 0.76 → 0.59,
// 128→128 16² 0.27 → 0.22 / 0.28 → 0.16, 256→256 8² 0.34 → 0.33 / 0.37 → 0.27;
// 512→512 4² F(2×2) 0.51 / 0.44 → 0.42 (ResNet-50 inference batch 1, 2 threads, whole
// model: 1.04–1.06×).
template <class T>
inline int64_t wino_block(int64_t tiles, int64_t E, int64_t C, int64_t KP) {
  const int64_t per_tile = E * (C + KP) * static_cast<int64_t>(sizeof(T));
  const int64_t njp = KP / wino_nr<T>();  // NR panels of produced channels
  int64_t pb = wmax(1, kWinoBlockBytes / wmax(1, per_tile));
  int64_t parts = kWinoMinBlocks;
  if (tiles < kWinoMinBlocks * kWinoMR && KP >= kWinoShareMinK)
    parts = (kWinoMinBlocks + njp - 1) / wmax(1, njp);
  const int64_t share = (tiles + parts - 1) / parts;
  pb = wmin(pb, share);
  return wmax(1, (pb + kWinoMR - 1) / kWinoMR) * kWinoMR;
}

// y (N, K, OH, OW) = the stride-1 3×3 correlation of x (N, C, H, W) placed at offset
// (−pt, −pl) (zero outside; pt, pl may be negative), plus b (may be nullptr), by F(TM, 3);
// U from wino_filters<TM> (summed channels C, produced channels K).
template <int TM, class T>
void wino_run(int64_t N, int64_t C, int64_t H, int64_t W, int64_t K, int64_t OH, int64_t OW,
              int64_t pt, int64_t pl, const T* x, const T* U, const T* b, T* y, int64_t xn,
              int64_t yn) {
  using V = simd::Vec<T>;
  constexpr int64_t L = V::N, NR = wino_nr<T>(), MR = kWinoMR;
  constexpr int N6 = wino_pts<TM>(), E = N6 * N6, TO = wino_outs<TM>();
  const int64_t th = (OH + TO - 1) / TO, tw = (OW + TO - 1) / TO, tiles = N * th * tw;
  const int64_t OHW = OH * OW, KP = wino_padded<T>(K), njp = KP / NR;
  const int64_t nkb = (K + L - 1) / L;
  const int64_t PB = wino_block<T>(tiles, E, C, KP);
  const int64_t nblocks = (tiles + PB - 1) / PB;
  // Too few blocks to share out (small maps at batch 1): each block's produced channels are
  // also split into nks slices of whole NR panels, one task each, computing only its slice's
  // products and outputs. With kWinoShareMinK produced channels or more the blocks' input
  // transforms are done first, once, into a shared V (threads over runs of tiles), which the
  // slices read; with fewer, each slice repeats its block's input transform in its own
  // cache (the products are too short to pay for reading V from the other core's). Every
  // output element is still one fixed sequence of operations (and nks may depend on the
  // thread count: one thread takes whole blocks). Two threads, batch 1, ms repeated /
  // shared, forward with prepacked filters: 256→256 14² 0.549 / 0.458, 256→256 8² 0.196 /
  // 0.145, 512→512 4² 0.284 / 0.231, 128→128 16² 0.164 / 0.137; but 64→64 32² 0.163 /
  // 0.172, 64→64 8² 0.014 / 0.022.
  const int64_t nks = nblocks >= kWinoMinBlocks || num_threads() == 1 ? 1
                      : wmin(njp, (kWinoMinBlocks + nblocks - 1) / nblocks);
  const bool shared = nks > 1 && K >= kWinoShareMinK;
  // input transform of tiles [q0, q1) of block blk into its V (Vb: [e][p − blk·PB][c]); the
  // rows from the block's last tile to its micro-kernel rows' end (npr) zeroed with its
  // last run
  const int64_t VS = wino_plane<T>(PB, C), MS = wino_plane<T>(PB, KP);  // plane strides
  auto in_tiles = [&](int64_t blk, int64_t q0, int64_t q1, T* Vb) {
    const int64_t p0 = blk * PB, np = wmin(tiles, p0 + PB) - p0;
    const int64_t npr = (np + MR - 1) / MR * MR;
    wino_input_tiles<TM>(x, C, H, W, th, tw, pt, pl, q0, q1, Vb + (q0 - p0) * C, VS, C, xn);
    if (q1 == p0 + np && npr > np)  // the last micro-kernel rows: zero tiles
      for (int64_t e = 0; e < E; ++e)
        std::memset(Vb + e * VS + np * C, 0, sizeof(T) * (npr - np) * C);
  };
  PoolBuf vshared(shared ? sizeof(T) * nblocks * E * VS + 64 : 0);
  if (shared) {  // the shared V: tasks of kWinoInTiles tiles
    T* Vs = vshared.as<T>();
    const int64_t nseg = (PB + kWinoInTiles - 1) / kWinoInTiles;
    const int nt = static_cast<int>(wmin(num_threads(), nblocks * nseg));
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int64_t t = 0; t < nblocks * nseg; ++t) {
      const int64_t blk = t / nseg, p0 = blk * PB, p1 = wmin(tiles, p0 + PB);
      const int64_t q0 = p0 + (t % nseg) * kWinoInTiles, q1 = wmin(p1, q0 + kWinoInTiles);
      if (q0 < q1) in_tiles(blk, q0, q1, Vs + blk * E * VS);
    }
  }
  // One task, all three phases (two with a shared V), on the calling thread. No result
  // depends on which thread runs a task or on the blocking (see the header), so the tasks
  // are handed out dynamically: a thread that the shared machine preempts does not hold up
  // the others.
  // With whole blocks (nks 1) that the threads cannot share evenly (11 blocks on 2
  // threads: ResNet-50's 256→256 14² and 512→512 7² at batch 8), the last nblocks mod nt
  // blocks are split into slices of produced channels too, one task each, so that every
  // thread ends with the same work (the blocks' own split: one thread took 6 of 11).
  const int nthr = num_threads();
  const int64_t rem = nks == 1 && nthr > 1 && nblocks > nthr ? nblocks % nthr : 0;
  const int64_t nls = rem ? wmin(nthr, njp) : 1;  // slices of each of the last rem blocks
  const int64_t nwhole = nblocks - rem;
  auto block = [&](int64_t task) {
    const bool whole = task < nwhole * nks;
    const int64_t j = task - nwhole * nks, ns = whole ? nks : nls;
    const int64_t blk = whole ? task / nks : nwhole + j / nls;
    const int64_t ks = whole ? task % nks : j % nls;
    const int64_t jp0 = ks * njp / ns, jp1 = (ks + 1) * njp / ns;
    const int64_t kb0 = jp0 * NR / L, kb1 = wmin(nkb, jp1 * NR / L);
    // the block's V[e][p][c] and M[e][p][k] (conv's column slots: this path runs no im2col)
    T* Vt = shared ? vshared.as<T>() + blk * E * VS
                   : static_cast<T*>(thread_scratch(sizeof(T) * E * VS, kScratchConvCol));
    T* Mt = static_cast<T*>(thread_scratch(sizeof(T) * E * MS, kScratchConvGCol));
    {
      const int64_t p0 = blk * PB, p1 = wmin(tiles, p0 + PB), np = p1 - p0;
      // ---- input transform: V[e][p - p0][c]
      if (!shared) in_tiles(blk, p0, p1, Vt);
      // ---- the E products M[e] (npr × KP) = V[e] (npr × C) · U[e] (C × KP); the last row
      // block only as many rows (a multiple of kWinoRowStep) as it has tiles (batch 1: a
      // 14×14 map is 16 tiles of F(4×4), 12 + 4 rows rather than 12 + 12); the first row
      // block prefetches the task's next panel of U
      for (int64_t e = 0; e < E; ++e)
        for (int64_t jp = jp0; jp < jp1; ++jp) {
          const T* Ue = U + (e * njp + jp) * C * NR;
          const T* next = jp + 1 < jp1 ? Ue + C * NR
                          : e + 1 < E  ? U + ((e + 1) * njp + jp0) * C * NR
                                       : nullptr;
          for (int64_t r = 0; r < np; r += MR) {
            const int64_t rows = wmin(MR, (np - r + kWinoRowStep - 1) / kWinoRowStep *
                                              kWinoRowStep);
            wino_mk_rows<T, false>(rows, C, Vt + e * VS + r * C, C, Ue,
                                   Mt + e * MS + r * KP + jp * NR, KP, false,
                                   r == 0 ? next : nullptr);
          }
        }
      // ---- output transform: y = Aᵀ M A + b
      for (int64_t p = p0; p < p1;) {
        const int64_t row = p / tw;
        const int64_t t0 = p % tw, t1 = wmin(tw, wmin(t0 + kWinoSeg, t0 + (p1 - p)));
        const int64_t n = row / th, oh0 = TO * (row % th), ow0 = TO * t0;
        const int64_t nrow = wmin(TO, OH - oh0), ncol = wmin(TO * (t1 - t0), OW - ow0);
        alignas(64) T obuf[TO][TO * kWinoSeg][L];
        for (int64_t kb = kb0; kb < kb1; ++kb) {
          const int64_t k0 = kb * L, nl = wmin(L, K - k0);
          for (int64_t t = t0; t < t1; ++t) {
            const int64_t pr = p - p0 + (t - t0);
            V s6[TO][N6];
            for (int q = 0; q < N6; ++q) {  // columns: Aᵀ m
              V m[N6], o[TO];
              for (int a = 0; a < N6; ++a)
                m[a] = V::load(Mt + (a * N6 + q) * MS + pr * KP + k0);
              wino_out<TM>(m, o);
              for (int a = 0; a < TO; ++a) s6[a][q] = o[a];
            }
            for (int a = 0; a < TO; ++a) {  // rows: (Aᵀ m) A
              V o[TO];
              wino_out<TM>(s6[a], o);
              for (int q = 0; q < TO; ++q) o[q].store(obuf[a][TO * (t - t0) + q]);
            }
          }
          for (int64_t l = 0; l < nl; ++l) {
            const T bk = b ? b[k0 + l] : T(0);
            T* yk = y + n * yn + (k0 + l) * OHW + oh0 * OW + ow0;
            for (int64_t a = 0; a < nrow; ++a)
              for (int64_t q = 0; q < ncol; ++q) yk[a * OW + q] = obuf[a][q][l] + bk;
          }
        }
        p += t1 - t0;
      }
    }
  };
  const int64_t ntasks = nwhole * nks + rem * nls;
  const int nt = static_cast<int>(wmin(nthr, ntasks));
  if (nt <= 1) {
    for (int64_t t = 0; t < ntasks; ++t) block(t);
    return;
  }
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
  for (int64_t t = 0; t < ntasks; ++t) block(t);
}

inline bool wino_ok(const Conv2dParams& p) {
  return winograd_applies(p) && p.N > 0 && p.K > 0 && p.C > 0;
}
inline bool wino_s2_ok(const Conv2dParams& p) {
  return winograd_s2_applies(p) && p.N > 0 && p.K > 0 && p.C > 0;
}

// in_n, out_n: the input's and the output's elements per image (a group's planes sit in
// images of all the layer's channels).
template <int TM, class T>
void wino_conv(const Conv2dParams& p, const T* w, bool flip, const T* in, const T* b, T* out,
               int64_t in_n, int64_t out_n) {
  constexpr int64_t E = wino_pts<TM>() * wino_pts<TM>();
  const int64_t I = flip ? p.K : p.C, J = flip ? p.C : p.K;
  PoolBuf ub(sizeof(T) * E * I * wino_padded<T>(J) + 64);
  T* U = ub.as<T>();
  wino_filters<TM>(w, p.K, p.C, flip, U);
  if (!flip)
    wino_run<TM>(p.N, p.C, p.H, p.W, p.K, p.OH, p.OW, p.pt, p.pl, in, U, b, out, in_n, out_n);
  else  // dx: the correlation of dy at offset −(2 − pt), −(2 − pl), output H × W
    wino_run<TM>(p.N, p.K, p.OH, p.OW, p.C, p.H, p.W, 2 - p.pt, 2 - p.pl, in, U, b, out, in_n,
                 out_n);
}

// Runs fn(i) for the groups i of p: in turn, each group's kernels threaded; or, with at
// least two groups per thread (a whole number each, or four or more), the groups shared out
// among the threads, each group's kernels on its thread alone (the nested parallel regions
// get one thread). A group's result does not depend on the thread count either way (the
// kernels' own blocking is a function of the shape). Measured, 2 threads, forward + both
// gradients, ms in turn / shared out, AMD Zen 4 VM, 2026-12-07: batch 8, 256 28² 4 groups
// 12.47 / 11.96, 8 groups 9.33 / 8.23; 512 14² 16 groups 6.61 / 5.39; 1024 7² 32 groups
// 5.13 / 3.30; 128 56² 4 groups 15.93 / 15.91; batch 1, 256 14² 8 groups 0.89 / 0.41.
template <class F>
void wino_groups(const Conv2dParams& p, F&& fn) {
  const int64_t nt = num_threads();
  const bool across = p.groups >= 4 * nt || (p.groups >= 2 * nt && p.groups % nt == 0);
  if (nt > 1 && across) {
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
    for (int64_t i = 0; i < p.groups; ++i) fn(i);
    return;
  }
  for (int64_t i = 0; i < p.groups; ++i) fn(i);
}

// A grouped layer runs group after group, each a convolution of its Cg input and Kg output
// channels (winograd_group) on the planes of its channels inside the whole images: group i
// reads channels [i·Cg, (i+1)·Cg) of x, its weights are rows [i·Kg, (i+1)·Kg) of w (K × Cg ×
// 3 × 3), and it writes channels [i·Kg, (i+1)·Kg) of y.
template <class T>
bool winograd_forward(const Conv2dParams& p, const T* x, const T* w, const T* b, T* y) {
  const Conv2dParams g = winograd_group(p);
  const bool s2 = wino_s2_ok(g);
  if (!s2 && !wino_ok(g)) return false;
  const int64_t HW = p.H * p.W, OHW = p.OH * p.OW;
  const bool f4 = !s2 && winograd_tile_for(g, false) == 4;
  wino_groups(p, [&](int64_t i) {
    const T* xi = x + i * g.C * HW;
    const T* wi = w + i * g.K * g.C * 9;
    const T* bi = b ? b + i * g.K : nullptr;
    T* yi = y + i * g.K * OHW;
    if (s2)
      wino_conv<kWinoS2>(g, wi, false, xi, bi, yi, p.C * HW, p.K * OHW);
    else if (f4)
      wino_conv<4>(g, wi, false, xi, bi, yi, p.C * HW, p.K * OHW);
    else
      wino_conv<2>(g, wi, false, xi, bi, yi, p.C * HW, p.K * OHW);
  });
  return true;
}

// dx = the stride-1 correlation of dy with the rotated, transposed filters: the same routine
// (per group: dy's channels of the group in, dx's out).
template <class T>
bool winograd_backward_input(const Conv2dParams& p, const T* w, const T* dy, T* dx) {
  const Conv2dParams g = winograd_group(p);
  if (!wino_ok(g)) return false;
  const T* none = nullptr;
  const int64_t HW = p.H * p.W, OHW = p.OH * p.OW;
  const bool f4 = winograd_tile_for(g, true) == 4;
  wino_groups(p, [&](int64_t i) {
    const T* dyi = dy + i * g.K * OHW;
    const T* wi = w + i * g.K * g.C * 9;
    T* dxi = dx + i * g.C * HW;
    if (f4)
      wino_conv<4>(g, wi, true, dyi, none, dxi, p.K * OHW, p.C * HW);
    else
      wino_conv<2>(g, wi, true, dyi, none, dxi, p.K * OHW, p.C * HW);
  });
  return true;
}

// ---- weight gradient ----------------------------------------------------------------------
// The forward is linear in the transformed filters U, so with dM = A dY Aᵀ per output tile
// (the adjoint of the output transform; the tile's rows and columns beyond OH, OW are zero)
//   dU[e] (C × K) = Σ_tiles V[e]ᵀ · dM[e],   dW[k][c] = Gᵀ dU[·][c][k] G  (6×6 / 4×4 / the
//   stride-2 tile's 5×5 → 3×3),
// the exact adjoint of F(TM×TM, 3×3)'s forward, summed over the N·th·tw tiles of the batch.
// Scheme, per call:
//  * the tiles in blocks of PB (a function of the shape only: about kWgBlockBytes of V and
//    dM, at least kWgMinTiles tiles: the micro-kernel's reduction length), block after block
//    (threads: below):
//      - transforms (runs of kWinoSeg tiles): V[e][p][c] by wino_input_tiles (the
//        forward's), channel stride CP (wg_mk: zeros beyond C); dM[e][k / NR][p]
//        [k % NR] (the micro-kernel's B panels, K padded to NR with zeros), vectorised over
//        output channels like the forward's output transform;
//      - dU[e] (CP × KP) += Vᵀ dM (threaded: tasks of (e, NR output channels)):
//        wino_mk<T, true> sums the block's tiles in order from zero in registers, then adds
//        that sum to the previous blocks' (two levels: the float32 error grows with the block
//        length plus the block count, not with the N·th·tw tiles of a one-level sum);
//  * dW = Gᵀ dU G (threads over input channels), vectorised over output channels.
// With several blocks, the blocks form min(blocks, kWgChunks) chunks of consecutive blocks,
// each run by one thread alone (transforms and products) into its own partial dU, and
// Gᵀ dU G reads the partials summed in chunk order; one block, or a few that the threads
// cannot share evenly, run in turn with their phases threaded. Every dU element is one
// fixed sequence of operations (tile after tile, block after block, chunk after chunk, all
// fixed by the shape), so the result is bitwise identical for any thread count.
constexpr int64_t kWgBlockBytes = 1024 * 1024;  // V + dM of one block of tiles (about)
constexpr int64_t kWgMinTiles = 128;            // tiles per block at least (when there are)
// The stride-2 tile's blocks: at least 512 tiles (fewer, larger partial dU; ResNet-50's
// 256→256 28² s2 at batch 8, 392 tiles, one block instead of three: 1 thread 22.5 → 17.0
// ms, where the strided direct kernel takes 20.3).
constexpr int64_t kWgMinTilesS2 = 512;
constexpr int64_t kWgChunks = 8;                // chunks of blocks (each its partial dU)

// A parallel loop over tasks [0, n), handed out dynamically; on the calling thread alone
// when nt <= 1.
template <class F>
void wg_tasks(int nt, int64_t n, F&& fn) {
  if (nt <= 1 || n <= 1) {
    for (int64_t t = 0; t < n; ++t) fn(t);
    return;
  }
#pragma omp parallel for num_threads(nt) schedule(dynamic, 1)
  for (int64_t t = 0; t < n; ++t) fn(t);
}

// dM of tiles [p0, p1) of dy (N, K, OH, OW) into Mt[e][k / NR][p − p0][k % NR] (panel
// (e, k / NR) at Mt + (e·njp + k / NR)·lds), vectorised over output channels: a segment of
// at most kWinoSeg tiles of one tile row gathered channel-interleaved (zeros beyond OH, OW
// and K), then per tile dM = A dY Aᵀ.
template <int TM, class T>
void wino_grad_tiles(const T* dy, int64_t K, int64_t OH, int64_t OW, int64_t th, int64_t tw,
                     int64_t p0, int64_t p1, T* Mt, int64_t lds, int64_t dyn) {
  using V = simd::Vec<T>;
  constexpr int64_t L = V::N, NR = wino_nr<T>();
  constexpr int N6 = wino_pts<TM>(), TO = wino_outs<TM>();
  const int64_t KP = wino_padded<T>(K), njp = KP / NR, nkb = KP / L, OHW = OH * OW;
  for (int64_t p = p0; p < p1;) {
    const int64_t row = p / tw;
    const int64_t t0 = p % tw, t1 = wmin(tw, wmin(t0 + kWinoSeg, t0 + (p1 - p)));
    const int64_t n = row / th, oh0 = TO * (row % th), ow0 = TO * t0;
    const int64_t nrow = wmin(TO, OH - oh0), ncol = wmin(TO * (t1 - t0), OW - ow0);
    alignas(64) T buf[TO][TO * kWinoSeg][L];
    for (int64_t kb = 0; kb < nkb; ++kb) {
      const int64_t k0 = kb * L, nl = wmax(0, wmin(L, K - k0));
      if (nl < L || nrow < TO || ncol < TO * (t1 - t0)) std::memset(buf, 0, sizeof(buf));
      for (int64_t l = 0; l < nl; ++l) {
        const T* yk = dy + n * dyn + (k0 + l) * OHW + oh0 * OW + ow0;
        for (int64_t a = 0; a < nrow; ++a)
          for (int64_t q = 0; q < ncol; ++q) buf[a][q][l] = yk[a * OW + q];
      }
      const int64_t jp = k0 / NR, jo = k0 % NR;
      for (int64_t t = t0; t < t1; ++t) {
        const int64_t q0 = TO * (t - t0), pr = p - p0 + (t - t0);
        V c6[N6][TO];
        for (int q = 0; q < TO; ++q) {  // columns: A dY
          V yv[TO], m[N6];
          for (int a = 0; a < TO; ++a) yv[a] = V::load(buf[a][q0 + q]);
          wino_out_t<TM>(yv, m);
          for (int a = 0; a < N6; ++a) c6[a][q] = m[a];
        }
        for (int a = 0; a < N6; ++a) {  // rows: (A dY) Aᵀ
          V m[N6];
          wino_out_t<TM>(c6[a], m);
          for (int q = 0; q < N6; ++q)
            m[q].store(Mt + ((a * N6 + q) * njp + jp) * lds + pr * NR + jo);
        }
      }
    }
    p += t1 - t0;
  }
}

template <int TM, class T>
void wino_weight_grad(const Conv2dParams& p, const T* x, const T* dy, T* dw, int64_t xn,
                      int64_t dyn) {
  using V = simd::Vec<T>;
  constexpr int64_t L = V::N, NR = wino_nr<T>(), MR = kWinoMR;
  constexpr int N6 = wino_pts<TM>(), E = N6 * N6, TO = wino_outs<TM>();
  const int64_t C = p.C, K = p.K;
  const int64_t th = (p.OH + TO - 1) / TO, tw = (p.OW + TO - 1) / TO, tiles = p.N * th * tw;
  // Rows of the product: the input channels, padded to a multiple of kWinoRowStep (CP); the
  // last block of rows has CP mod MR rows (a multiple of kWinoRowStep) when that is not zero
  // (wino_mk_rows), so a layer of 64 channels computes 64 rows, not 72.
  const int64_t CP = (C + kWinoRowStep - 1) / kWinoRowStep * kWinoRowStep;
  const int64_t KP = wino_padded<T>(K);
  const int64_t njp = KP / NR, ncbm = (CP + MR - 1) / MR;
  // tiles per block: a function of the shape only; blocks of (nearly) equal size
  const int64_t per_tile = E * (CP + KP) * static_cast<int64_t>(sizeof(T));
  const int64_t min_tiles = TM == kWinoS2 ? kWgMinTilesS2 : kWgMinTiles;
  const int64_t want = wmax(min_tiles, kWgBlockBytes / per_tile);
  const int64_t nblocks = wmax(1, tiles / want), PB = (tiles + nblocks - 1) / nblocks;
  const int nt = static_cast<int>(wmax(1, num_threads()));
  const int64_t usize = E * CP * KP;
  // strides of V's planes and of dM's panels (wino_plane: distinct L1 sets)
  const int64_t VS = wino_plane<T>(PB, CP), PS = wino_plane<T>(PB, NR);
  // Several blocks: nch chunks of consecutive blocks (a function of the shape only), each
  // run by one thread from start to end into its own partial dU (no barrier per block: a
  // thread that the shared machine preempts does not stall the others), the partials summed
  // in chunk order below. One block, or (with several threads) fewer blocks than kWgChunks
  // that the threads cannot share evenly: the blocks in turn, each one's phases threaded,
  // block b > 0 added into dU as it is summed -- with one block per chunk, the same
  // operations in the same order as the chunks' partials summed in chunk order, so the
  // choice may depend on the thread count. (ResNet-50's 128→128 28² at batch 8 is 3 blocks:
  // as chunks two threads ran it 1.4× faster than one.)
  const int64_t nch = nblocks == 1 ? 1 : wmin(nblocks, kWgChunks);
  const bool in_turn = nch == 1 || (nt > 1 && nblocks <= kWgChunks && nblocks % nt != 0);
  PoolBuf ub(sizeof(T) * (in_turn ? 1 : nch) * usize + 64);
  T* dU = ub.as<T>();
  if (in_turn) {
    PoolBuf vb(sizeof(T) * E * VS + 64), mb(sizeof(T) * E * njp * PS + 64);
    T *Vt = vb.as<T>(), *Mt = mb.as<T>();
    for (int64_t blk = 0; blk < nblocks; ++blk) {
      const int64_t p0 = blk * PB, np = wmin(tiles, p0 + PB) - p0;
      const int64_t nseg = (np + kWinoSeg - 1) / kWinoSeg;
      wg_tasks(nt, nseg, [&](int64_t sg) {
        const int64_t s0 = p0 + sg * kWinoSeg, s1 = wmin(p0 + np, s0 + kWinoSeg);
        wino_input_tiles<TM>(x, C, p.H, p.W, th, tw, p.pt, p.pl, s0, s1,
                             Vt + (s0 - p0) * CP, VS, CP, xn);
        wino_grad_tiles<TM>(dy, K, p.OH, p.OW, th, tw, s0, s1, Mt + (s0 - p0) * NR, PS, dyn);
      });
      // tasks of (e, NR output channels), all the input channels' row blocks in each: with
      // one row block per task (0.3 µs of work) two threads ran 256→256 14² at batch 8 in
      // 2.60 ms against 2.26 (1 thread: 4.5)
      wg_tasks(nt, E * njp, [&](int64_t task) {
        const int64_t jp = task % njp, e = task / njp;
        for (int64_t cb = 0; cb < ncbm; ++cb)
          wino_mk_rows<T, true>(wmin(MR, CP - cb * MR), np, Vt + e * VS + cb * MR, CP,
                                Mt + (e * njp + jp) * PS,
                                dU + (e * CP + cb * MR) * KP + jp * NR, KP, blk > 0);
      });
    }
  } else {
    // The chunks hold nblocks / nch blocks rounded down or up; the longer ones are handed
    // out first, so that the dynamic schedule ends balanced (12 blocks in 8 chunks, 2
    // threads: 6 blocks each, where chunk order gave one thread 7; ResNet-50's 64→64 56² at
    // batch 8). Which thread runs a chunk changes no result.
    const int64_t lo = nblocks / nch;
    auto blocks_of = [&](int64_t ch) { return (ch + 1) * nblocks / nch - ch * nblocks / nch; };
    int64_t order[kWgChunks], no = 0;
    for (const int64_t len : {lo + 1, lo})
      for (int64_t ch = 0; ch < nch; ++ch)
        if (blocks_of(ch) == len) order[no++] = ch;
    wg_tasks(static_cast<int>(wmin(nt, nch)), nch, [&](int64_t task) {
      const int64_t ch = order[task];
      // this thread's V and dM of one block (conv's column slots: this path runs no im2col)
      T* Vt = static_cast<T*>(thread_scratch(sizeof(T) * E * VS, kScratchConvCol));
      T* Mt = static_cast<T*>(thread_scratch(sizeof(T) * E * njp * PS, kScratchConvGCol));
      T* dUc = dU + ch * usize;
      const int64_t b0 = ch * nblocks / nch, b1 = (ch + 1) * nblocks / nch;
      for (int64_t blk = b0; blk < b1; ++blk) {
        const int64_t p0 = blk * PB, p1 = wmin(tiles, p0 + PB), np = p1 - p0;
        wino_input_tiles<TM>(x, C, p.H, p.W, th, tw, p.pt, p.pl, p0, p1, Vt, VS, CP, xn);
        wino_grad_tiles<TM>(dy, K, p.OH, p.OW, th, tw, p0, p1, Mt, PS, dyn);
        for (int64_t e = 0; e < E; ++e)
          for (int64_t jp = 0; jp < njp; ++jp)
            for (int64_t cb = 0; cb < ncbm; ++cb)
              wino_mk_rows<T, true>(wmin(MR, CP - cb * MR), np,
                                    Vt + e * VS + cb * MR, CP,
                                    Mt + (e * njp + jp) * PS,
                                    dUc + (e * CP + cb * MR) * KP + jp * NR, KP, blk > b0);
      }
    });
  }
  // dW[k][c] = Gᵀ dU[·][c][k] G, lanes = output channels
  const int64_t nkb = (K + L - 1) / L;
  wg_tasks(nt, (C + 15) / 16, [&](int64_t task) {
    alignas(64) T out[9][L];
    for (int64_t c = task * 16; c < wmin(C, task * 16 + 16); ++c)
      for (int64_t kb = 0; kb < nkb; ++kb) {
        const int64_t k0 = kb * L, nl = wmin(L, K - k0);
        V t3[3][N6];
        for (int q = 0; q < N6; ++q) {  // columns: Gᵀ dU
          V u[N6], g[3];
          for (int a = 0; a < N6; ++a) {
            const T* src = dU + ((a * N6 + q) * CP + c) * KP + k0;
            u[a] = V::load(src);
            for (int64_t ch = 1; ch < (in_turn ? 1 : nch); ++ch)
              u[a] = u[a] + V::load(src + ch * usize);
          }
          wino_flt_t<TM>(u, g);
          for (int r = 0; r < 3; ++r) t3[r][q] = g[r];
        }
        for (int r = 0; r < 3; ++r) {  // rows: (Gᵀ dU) G
          V g[3];
          wino_flt_t<TM>(t3[r], g);
          for (int s = 0; s < 3; ++s) g[s].store(out[r * 3 + s]);
        }
        for (int64_t l = 0; l < nl; ++l) {
          T* d = dw + ((k0 + l) * C + c) * 9;
          for (int t = 0; t < 9; ++t) d[t] = out[t][l];
        }
      }
  });
}

// The tile of the weight gradient: FASTDL_WINOGRAD_TILE when set, else F(4×4) when both
// channel counts are at most kWinoF4MaxSum (the layers whose forward takes F(4×4) too), else
// F(2×2). F(4×4) is 1.1–1.5× faster on maps of 8² and more; its float32 error, 1.0e-6 to
// 1.7e-6 of max |dW| (2.5–3× F(2×2)'s; conv.py's conv_algorithm docstring), is that of the
// forward's F(4×4). At 512 channels the maps are small and F(4×4) gains nothing (4²: 13.6 vs
// 13.8 ms) or loses (2²: 12.3 vs 5.3).
inline int winograd_tile_for_weight(const Conv2dParams& p) {
  const int t = winograd_tile_setting();
  if (t) return t;
  return p.C <= kWinoF4MaxSum && p.K <= kWinoF4MaxSum ? 4 : 2;
}

template <class T>
bool winograd_backward_weight(const Conv2dParams& p, const T* x, const T* dy, T* dw) {
  const Conv2dParams g = winograd_group(p);
  const bool s2 = wino_s2_ok(g);
  if (!s2 && !wino_ok(g)) return false;
  const int64_t HW = p.H * p.W, OHW = p.OH * p.OW;
  const bool f4 = !s2 && winograd_tile_for_weight(g) == 4;
  wino_groups(p, [&](int64_t i) {
    const T* xi = x + i * g.C * HW;
    const T* dyi = dy + i * g.K * OHW;
    T* dwi = dw + i * g.K * g.C * 9;
    if (s2)
      wino_weight_grad<kWinoS2>(g, xi, dyi, dwi, p.C * HW, p.K * OHW);
    else if (f4)
      wino_weight_grad<4>(g, xi, dyi, dwi, p.C * HW, p.K * OHW);
    else
      wino_weight_grad<2>(g, xi, dyi, dwi, p.C * HW, p.K * OHW);
  });
  return true;
}

}  // namespace
}  // namespace FASTDL_SIMD_ISA
}  // namespace conv
}  // namespace fastdl
