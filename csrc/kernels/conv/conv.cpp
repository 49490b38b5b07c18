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

// The float32 shapes of the strided direct kernel (AVX-512, strided_impl.h: strided_ok);
// 1×1 layers excluded (measured on their own above).
bool strided_direct(const Conv2dParams& p, int elem) {
  return elem == 4 && (p.sh > 1 || p.sw > 1) && p.sh <= 4 && p.dh == 1 && p.dw == 1 &&
         p.R * p.S > 1;
}

bool winograd_ok(const Conv2dParams& p) {
  return p.R == 3 && p.S == 3 && p.sh == 1 && p.sw == 1 && p.dh == 1 && p.dw == 1 &&
         p.groups == 1;
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
//   64→128 32² 1×1 s2                 3.4 / 5.3      3.8 / 3.3    → direct
//   256→512 8² 1×1 s2                 2.9 / 2.2      3.8 / 2.0    → gemm
//   ResNet-50 3×3 at batch 8: 64 56² 23.3 / 24.3, 18.8 / 29.0 → direct; 128 28² 20.8 /
//   18.6, 24.0 / 27.6 → gemm, direct dW; 256 14² 23.9 / 20.4, 31.1 / 22.0 → gemm.
// i.e. the batched GEMM for the forward and input gradient once the reduction C/g·R·S is
// 1024 or more (not for a stride-1 1×1, which is already a GEMM per image), or 256 or more
// on maps of at most 64 outputs (strided layers up to 7×7); for the weight gradient from a
// reduction of 2304 (or 512 for strided layers), 256 on small maps, and for a tiny reduction
// with many outputs (C·R·S <= 32, K >= 32: an RGB stem: 2.4 vs 4.3 ms). Before all of these,
// float32 3×3 stride-1 layers with at least 32 channels each way and enough output pixels in
// the batch take Winograd for the forward and the input gradient (winograd_preferred in
// winograd_impl.h, measured with bench/bench_winograd.py); never for the weight gradient.
// Strided float32 layers (stride 2..4 rows, dilation 1, not 1×1) have their own direct kernel
// (strided_impl.h: shifted planes of the input, flattened pixels); its forward, one thread,
// CPU time, interleaved rounds, min of 8, ms torch / direct / gemm, on a 2-core AMD EPYC
// (Zen 4) VM shared with other jobs, 2026-12-04:
//   ResNet-50 batch 8:  128 56² s2  19.3–20.6 / 19.7–23.8 / 32.3–34.6
//                       256 28² s2  18.5–22.8 / 23.4–27.4 / 25.9–37.3
//                       512 14² s2  17.5–20.3 / 23.3–32.0 / 29.3
//   ResNet-18 CIFAR b32: 64→128 32² s2  12.9–14.7 / 11.6–15.2 / 19.8–31.7
//                       128→256 16² s2  11.1–13.1 / 11.8–15.1 / 16.0–16.8
//                       256→512 8² s2   10.6–12.7 / 13.4–16.0 / 10.9
//   MobileNetV2 stem 3→32 224² s2 b16   29.2–35.7 / 4.1–7.5 / 83.6
// i.e. the direct kernel for the forward except on small maps (the small_map rule below:
// 256→512 8² s2 and 512 14² s2 stay on gemm). Its weight gradient (the stride-1 dW tiles on
// the same planes), same conditions, ms torch / direct / gemm (gemm's spread was wide):
//   ResNet-50 b8 128 56² s2 21.0–21.2 / 26.1–32.0 / 44.2–65.2; 256 28² s2 26.3–26.5 /
//   36.4–37.5 / 32.2–34.8; 512 14² s2 31.6–32.9 / 59.0–63.0 / 23.8–29.5;
//   ResNet-18 b32 64→128 32² s2 14.0 / 23.9 / 36.2; 128→256 16² s2 14.6 / 22.1 / 21.7;
//   256→512 8² s2 18.6 / 57.0 / 19.5; MobileNetV2 stem 7.3–8.7 / 11.4–13.4 / 28.9–67.8
// → direct for the weight gradient on output maps of 256 pixels or more, else the rules
// below. The input gradient keeps the rules below (no strided direct kernel for it).

Algo algorithm_for(const Conv2dParams& p, int elem, Pass pass) {
  if (depthwise(p)) return Algo::direct;
  const Algo f = forced_algorithm();
  if (f == Algo::direct || f == Algo::gemm) return f;
  if (f == Algo::winograd && winograd_ok(p) && pass != Pass::weight_grad) return Algo::winograd;
  if (f == Algo::automatic && elem == 4 && winograd_preferred(p, pass)) return Algo::winograd;
  const int64_t ohw = p.OH * p.OW, red = p.C / p.groups * p.R * p.S;
  const bool strided = p.sh > 1 || p.sw > 1;
  const bool pointwise = p.R * p.S == 1 && !strided;
  const bool small_map = ohw <= 64 && (!strided || ohw <= 49);
  if (pass == Pass::weight_grad) {
    if (strided_direct(p, elem) && ohw >= 256) return Algo::direct;
    if ((red >= 2304 && !pointwise) || (strided && red >= 512) || (small_map && red >= 256))
      return Algo::gemm;
  } else if (pass == Pass::forward && strided_direct(p, elem)) {
    if (small_map && red >= 256) return Algo::gemm;
  } else {
    if ((red >= 1024 && !pointwise) || (small_map && red >= 256)) return Algo::gemm;
  }
  if (pass != Pass::forward && red <= 32 && p.K >= 32) return Algo::gemm;
  return Algo::direct;
}

void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                    float* y) {
  ops().fwd_f(p, x, w, b, y);
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
                           const float* wp, const float* b, float* y) {
  ops().fwd_packed_f(p, x, w, wp, b, y);
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
