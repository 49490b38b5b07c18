// Convolution: the generic build of conv_impl.h, the algorithm rule, the dispatch and the
// API (see conv.h).
#include "kernels/conv/conv.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "common/dispatch.h"
#include "kernels/conv/conv_impl.h"  // the generic build and its ConvOps table

namespace fastdl {
namespace conv {
FASTDL_DEFINE_OPS(ConvOps)

// ---- algorithm choice ----------------------------------------------------------------------
namespace {
std::atomic<int>& forced() {
  static std::atomic<int> a{[] {
    const char* env = std::getenv("FASTDL_CONV_ALGO");
    return static_cast<int>(env && *env ? algorithm_from_name(env) : Algo::automatic);
  }()};
  return a;
}

bool depthwise(const Conv2dParams& p) { return p.groups > 1 && p.C == p.groups; }

// A 1×1 convolution without padding, every output inside the input: the batched GEMM of
// pointwise_impl.h (see the rule's comment).
bool pointwise_gemm(const Conv2dParams& p) {
  return p.R == 1 && p.S == 1 && p.pt == 0 && p.pl == 0 && p.OH > 0 && p.OW > 0 &&
         (p.OH - 1) * p.sh < p.H && (p.OW - 1) * p.sw < p.W;
}

// The float32 shapes of the strided direct kernel (AVX-512, strided_impl.h: strided_ok);
// 1×1 layers excluded (measured on their own above).
bool strided_direct(const Conv2dParams& p, int elem) {
  return elem == 4 && (p.sh > 1 || p.sw > 1) && p.sh <= 4 && p.dh == 1 && p.dw == 1 &&
         p.R * p.S > 1;
}

// (a grouped layer runs group by group; depthwise layers never get here: algorithm_for)
// The forward and the weight gradient also for 3×3 stride 2 (winograd_impl.h's stride-2
// tile).
bool winograd_ok(const Conv2dParams& p, Pass pass) {
  const bool s1 = p.sh == 1 && p.sw == 1;
  const bool s2 = p.sh == 2 && p.sw == 2 && pass != Pass::input_grad;
  return p.R == 3 && p.S == 3 && (s1 || s2) && p.dh == 1 && p.dw == 1;
}
}  // namespace

Algo forced_algorithm() { return static_cast<Algo>(forced().load(std::memory_order_relaxed)); }
void set_forced_algorithm(Algo a) { forced().store(static_cast<int>(a), std::memory_order_relaxed); }

Algo algorithm_from_name(const char* name) {
  if (!std::strcmp(name, "auto")) return Algo::automatic;
  if (!std::strcmp(name, "direct")) return Algo::direct;
  if (!std::strcmp(name, "gemm")) return Algo::gemm;
  if (!std::strcmp(name, "winograd")) return Algo::winograd;
  throw std::invalid_argument(std::string("unknown convolution algorithm '") + name +
                              "': expected auto, direct, gemm or winograd");
}

const char* algorithm_name(Algo a) {
  switch (a) {
    case Algo::direct: return "direct";
    case Algo::gemm: return "gemm";
    case Algo::winograd: return "winograd";
    default: return "auto";
  }
}

// The rule, measured with the batched GEMM on implicit GEMM (im2col packed straight into the
// GEMM's panels, conv_impl.h), one thread, CPU time, interleaved rounds, ms forward / weight
// gradient (forward + dW minus forward), direct vs gemm, on a 2-core Xeon (Emerald Rapids)
// VM shared with other jobs, 2026-12-03:
//   ResNet-18 CIFAR, batch 32        forward        weight gradient
//   64→64 32²                        27.3 / 40.2    18.7 / 23.8   → direct
//   64→128 32² s2                    17.8 / 18.2    13.0 / 11.4   → direct, gemm dW
//   128→128 16²                      26.9 / 24.4    27.7 / 29.3   → gemm, direct dW
//   128→256 16² s2                   14.8 / 12.8    14.8 / 10.5   → gemm
//   256→256 8² (winograd 31.0 fwd)   52.0 / 20.6    41.9 / 22.5   → gemm
//   512→512 4² (winograd 59.6 fwd)   91.4 / 21.5   157.3 / 20.7   → gemm
//   64→128 32² 1×1 s2                 3.4 / 5.3      3.8 / 3.3    (1×1: see below)
//   256→512 8² 1×1 s2                 2.9 / 2.2      3.8 / 2.0    (1×1: see below)
//   ResNet-50 3×3 at batch 8: 64 56² 23.3 / 24.3, 18.8 / 29.0 → direct; 128 28² 20.8 /
//   18.6, 24.0 / 27.6 → gemm, direct dW; 256 14² 23.9 / 20.4, 31.1 / 22.0 → gemm.
// 1×1 without padding (any stride; pointwise_gemm): always "gemm", which for these shapes is
// pointwise_impl.h's one GEMM over the batch (B packed from the NCHW planes, C written in
// place). Measured against the per-image GEMMs ("direct"), ms, one thread, CPU time, the
// minimum of 5 interleaved rounds, forward / input gradient / weight gradient (each alone,
// no bias), AMD EPYC (Zen 4) 2-core VM shared with other jobs, 2026-12-04:
//   MobileNetV2 batch 16        gemm               direct
//   32→16 112²                  6.23  6.31  5.54   6.79  7.25  5.61
//   96→24 56²                   4.37  3.37  4.19   6.96  4.21  4.27
//   24→144 56²                  4.79  6.09  7.14   4.61 10.65  7.03
//   144→24 56²                  6.25  4.42  6.15  10.59  4.19  6.26
//   144→32 28²                  1.59  1.32  1.76   2.13  1.27  1.61
//   192→32 28²                  2.28  1.78  2.71   3.04  1.71  2.51
//   192→64 14²                  0.82  0.84  0.80   0.80  0.82  0.85
//   576→96 14²                  4.32  4.09  4.17   4.91  3.78  4.40
//   576→160 7²                  1.47  1.42  1.49   2.00  1.93  2.04
//   960→160 7²                  2.59  2.64  2.45   3.35  3.27  3.43
//   320→1280 7²                 6.98  6.86  6.70   8.95  9.00  8.86
//   ResNet-50 batch 8 / ResNet-18 CIFAR batch 32
//   64→256 56²                  9.29  9.90 10.02   8.98 11.41 10.02
//   512→128 28²                 8.87  8.30  8.90  10.33  8.10  9.14
//   512→1024 28² s2            18.16 17.60 16.98  20.12 21.18 21.32
//   2048→512 7²                 8.28  8.73  8.18  11.49 13.69 13.13
//   64→128 32² s2        1.71  1.93  1.77   1.71  1.89  1.92
//   256→512 8² s2        1.42  1.43  1.43   1.86  2.10  2.41
// (the rest of these models' 1×1 layers alike: gemm up to 1.7× faster, at most ~5 % slower,
// within this machine's round-to-round spread).
// Otherwise the batched GEMM for the forward and input gradient once the reduction C/g·R·S is
// 1024 or more (not for a stride-1 1×1, which is already a GEMM per image), or 256 or more
// on maps of at most 64 outputs (strided layers up to 7×7); for the weight gradient from a
// reduction of 2304 (or 512 for strided layers), 256 on small maps, and for a tiny reduction
// with many outputs (C·R·S <= 32, K >= 32: an RGB stem: 2.4 vs 4.3 ms). Before all of these,
// float32 3×3 stride-1 layers with at least 32 channels each way and enough output pixels in
// the batch take Winograd for all three passes (winograd_preferred in winograd_impl.h, which
// holds the small-batch thresholds). The weight gradient, measured with
// bench/bench_winograd.py --cpu --algos --passes dw (one thread, CPU time, minimum of 3 rounds,
// AMD Zen 4 shared with other jobs, 2026-12-04), ms F(2×2) / F(4×4) / gemm / direct → choice:
//   ResNet-18 CIFAR, batch 32   64 32²    18.5 / 12.5 / 36.6 /  25.4   → winograd
//                               128 16²   15.2 / 10.8 / 30.5 /  26.5   → winograd
//                               256 8²    14.2 / 10.0 / 26.1 /  37.7   → winograd
//                               512 4²    13.8 / 13.6 / 24.2 / 167.1   → winograd
//   VGG-11, batch 32            64→128 16²  9.4 / 6.7 / 15.6 / 13.7   → winograd
//                               128→256 8²  6.9 / 5.7 / 13.3 / 18.2   → winograd
//                               256→512 4²  7.5 / 7.2 / 12.1 / 40.9   → winograd
//                               512 2²      5.3 / 12.3 / 6.2 / 148.2  → winograd
//                               3→64 32²    5.7 / 4.6 / 2.9 / 4.0     → gemm (3 channels)
//   ResNet-50, batch 8          64 56²    14.7 /  8.8 / 29.0 / 19.3   → winograd
//                               128 28²   10.9 /  8.2 / 22.6 / 19.0   → winograd
//                               256 14²   12.2 /  9.9 / 21.3 / 23.9   → winograd
//                               512 7²    13.9 / 13.3 / 18.7 / 61.5   → winograd
// (the tiles compared; the automatic tile is winograd_tile_for_weight's: F(4×4) up to 256
// channels each way, F(2×2) above.)
// Strided float32 layers (stride 2..4 rows, dilation 1, not 1×1) have their own direct kernel
// (strided_impl.h: pixels of one output row × output-channel vectors, broadcast inputs from
// column-phase planes); its forward, one thread, CPU time, the minimum of 3 interleaved
// rounds of 5, ms torch / direct / gemm, AMD EPYC (Zen 4) 2-core VM, 2026-12-05:
//   ResNet-50 batch 8:  128 56² s2  17.55 / 17.74 / 24.62
//                       256 28² s2  16.32 / 17.01 / 21.87
//                       512 14² s2  16.51 / 17.50 / 19.39
//   ResNet-18 CIFAR b32: 64→128 32² s2  11.15 / 11.92 / 15.38
//                       128→256 16² s2  10.42 / 11.50 / 13.09
//                       256→512 8² s2    9.79 / 11.57 / 11.98
//   MobileNetV2 stem 3→32 224² s2 b16     5.73 /  6.68 / 12.02
//   ResNet-50 stem 3→64 224² 7×7 s2 b8   19.07 / 20.16 / 29.52
// and on output rows of at most 3 pixels (its blocks of one row fill 8–12 accumulators):
//   b32 512→512 4² s2 (2² out)  direct 8.44 / gemm 6.28; 512 2² (1²) 4.22 / 1.92;
//   128 6² (3²) 1.21 / 1.02; b8 1024 6² 22.9 / 16.7; but batch 1: 512 4² 0.67 / 1.09,
//   256 6² 0.19 / 0.29
// → direct for the forward, except rows of at most 3 pixels in a batch of more than one, and
// 3×3 stride-2 layers of 32–256 channels each way with 256+ output pixels, whose forward
// takes Winograd's stride-2 tile before all of these (winograd_impl.h:
// winograd_s2_preferred, with its measurements).
// The input gradient runs the same micro-kernel on the phases of dx (strided_impl.h); ms
// torch / direct / gemm, same conditions (minimum of 4): R18 b32 64→128 32² s2 11.71 / 12.73
// / 14.60, 128→256 16² s2 10.88 / 12.03 / 13.16, 256→512 8² s2 11.33 / 12.66 / 12.62; R50 b8
// 128 56² s2 17.41 / 18.50 / 22.34, 256 28² s2 17.93 / 18.00 / 20.82, 512 14² s2 18.18 /
// 19.01 / 19.65 → direct likewise, except rows of at most 3 output pixels at any batch (dx
// of 512 4² s2 b32 10.2 / 7.8 ms, b1 1.84 / 1.30).
// The weight gradient (the stride-1 dW tiles on shifted planes, strided_impl.h), ms torch /
// direct / gemm (gemm's spread was wide), same VM, 2026-12-04:
//   ResNet-50 b8 128 56² s2 21.0–21.2 / 26.1–32.0 / 44.2–65.2; 256 28² s2 26.3–26.5 /
//   36.4–37.5 / 32.2–34.8; 512 14² s2 31.6–32.9 / 59.0–63.0 / 23.8–29.5;
//   ResNet-18 b32 64→128 32² s2 14.0 / 23.9 / 36.2; 128→256 16² s2 14.6 / 22.1 / 21.7;
//   256→512 8² s2 18.6 / 57.0 / 19.5; MobileNetV2 stem 7.3–8.7 / 11.4–13.4 / 28.9–67.8
// With the tiles' sums added tap-major (whole vectors, conv_avx512.cpp: wgrad_run), one
// thread, CPU time, minimum of 3, ms torch / direct / gemm, same VM, 2026-12-05 (torch from
// a separate run of the same hour): R18 b32 64→128 32² s2 13.5 / 13.3 / 15.0; 128→256 16² s2
// 13.2 / 13.5 / 14.6; 256→512 8² s2 14.5 / 18.2 / 12.2; R50 b8 128 56² s2 19.2 / 18.7 /
// 23.4; 256 28² s2 19.8 / 20.1 / 20.6; 512 14² s2 28.0 / 30.2 / 19.6. Each image adds its
// sums into the chunk's whole partial dW, so the direct kernel needs enough pixels per image
// for the size of the weight: 256→256 (2.4 MB) at 196 pixels is even, 512→512 (9.4 MB) at 49
// loses.
// → direct for the weight gradient on output maps of 256 pixels or more, or of 64 or more
// with a weight of at most kWgDirectMaxW floats per group; else the rules below. On AMD Zen 5
// (2026-12-05, minimum of 7 interleaved rounds, ms direct / gemm, 1 | 2 threads): R50 b8 256
// 28² s2 (196 pixels, 0.59 M floats) 8.59 / 9.70 | 4.37 / 4.74, 512 14² s2 (2.4 M floats)
// 15.22 / 8.27 | 9.29 / 4.25: the bound is 2²⁰ floats (2¹⁹ left the former to gemm).

Algo algorithm_for(const Conv2dParams& p, int elem, Pass pass) {
  if (depthwise(p)) return Algo::direct;
  const Algo f = forced_algorithm();
  if (f == Algo::direct || f == Algo::gemm) return f;
  if (f == Algo::winograd && winograd_ok(p, pass)) return Algo::winograd;
  if (f == Algo::automatic && elem == 4 && winograd_preferred(p, pass)) return Algo::winograd;
  if (pointwise_gemm(p)) {
    // one image, stride 1, a thin product: the plain GEMM reads the image in place (gemm.cpp's
    // "direct" path for m <= 128, k <= 800), which packing B cannot beat (batch 1, forward:
    // 32→16 112² 0.160 vs 0.188 ms, 144→24 56² 0.213 vs 0.249, 192→32 28² 0.093 vs 0.104)
    // (at most 64 output pixels: pointwise_impl.h's transposed product, a gemm)
    const bool thin = p.K / p.groups <= 128 && p.C / p.groups <= 800 && (p.H * p.W) % 1024 &&
                      p.OH * p.OW > 64;
    if (pass == Pass::forward && p.N == 1 && p.sh == 1 && p.sw == 1 && thin) return Algo::direct;
    return Algo::gemm;
  }
  const int64_t ohw = p.OH * p.OW, red = p.C / p.groups * p.R * p.S;
  const bool strided = p.sh > 1 || p.sw > 1;
  const bool pointwise = p.R * p.S == 1 && !strided;
  const bool small_map = ohw <= 64 && (!strided || ohw <= 49);
  if (pass == Pass::weight_grad) {
    constexpr int64_t kWgDirectMaxW = int64_t(1) << 20;
    if (strided_direct(p, elem) &&
        (ohw >= 256 || (ohw >= 64 && p.K / p.groups * red <= kWgDirectMaxW)))
      return Algo::direct;
    if ((red >= 2304 && !pointwise) || (strided && red >= 512) || (small_map && red >= 256))
      return Algo::gemm;
  } else if (strided_direct(p, elem)) {  // forward and input gradient
    if (p.OW <= 3 && (p.N > 1 || pass == Pass::input_grad)) return Algo::gemm;
  } else {
    if ((red >= 1024 && !pointwise) || (small_map && red >= 256)) return Algo::gemm;
  }
  if (pass != Pass::forward && red <= 32 && p.K >= 32) return Algo::gemm;
  return Algo::direct;
}

void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                    float* y, Act act) {
  ops().fwd_f(p, x, w, b, y, act);
}
void conv2d_forward(const Conv2dParams& p, const double* x, const double* w, const double* b,
                    double* y) {
  ops().fwd_d(p, x, w, b, y);
}
int64_t conv2d_packed_size(const Conv2dParams& p) { return ops().packed_size(p); }
void conv2d_pack_weight(const Conv2dParams& p, const float* w, float* wp) {
  ops().pack_f(p, w, wp);
}
void conv2d_forward_packed(const Conv2dParams& p, const float* x, const float* w,
                           const float* wp, const float* b, float* y, Act act) {
  ops().fwd_packed_f(p, x, w, wp, b, y, act);
}
bool conv2d_pw_dw_forward(const Conv2dParams& p, int64_t Ci, const float* x, const float* w1,
                          const float* b1, Act a1, const float* w2, const float* b2, Act a2,
                          float* y, bool nhwc) {
  return ops().pwdw_f(p, Ci, x, w1, b1, a1, w2, b2, a2, y, nhwc);
}
bool conv2d_depthwise_nhwc_forward(const Conv2dParams& p, const float* x, const float* w,
                                   const float* b, float* y, Act act) {
  return ops().dwn_fwd_f(p, x, w, b, y, act);
}
bool conv2d_depthwise_nhwc_forward(const Conv2dParams& p, const double* x, const double* w,
                                   const double* b, double* y) {
  return ops().dwn_fwd_d(p, x, w, b, y);
}
bool conv2d_depthwise_nhwc_backward(const Conv2dParams& p, const float* x, const float* w,
                                    const float* dy, float* dx, float* dw, float* db) {
  return ops().dwn_bwd_f(p, x, w, dy, dx, dw, db);
}
bool conv2d_depthwise_nhwc_backward(const Conv2dParams& p, const double* x, const double* w,
                                    const double* dy, double* dx, double* dw, double* db) {
  return ops().dwn_bwd_d(p, x, w, dy, dx, dw, db);
}
void conv2d_backward(const Conv2dParams& p, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db) {
  ops().bwd_f(p, x, w, dy, dx, dw, db);
}
void conv2d_backward(const Conv2dParams& p, const double* x, const double* w, const double* dy,
                     double* dx, double* dw, double* db) {
  ops().bwd_d(p, x, w, dy, dx, dw, db);
}

}  // namespace conv
}  // namespace fastdl
