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

// The rule, measured on this machine's ResNet-18 (CIFAR) layers at batch 32, one thread, CPU
// time (bench/bench_models.py; ms forward / forward+backward, direct vs gemm vs winograd):
//   64→64 32²        28 / 84    44 / 121    56 / 137    → direct
//   128→128 16²      28 / 79    36 / 101    38 / 106    → direct
//   64→128 32² s2    18 / 52    24 / 54       —         → direct (per-image im2col + GEMM)
//   256→256 8²       47 / 133   38 / 125    28 / 98     → winograd (forward, input grad)
//   256→512 8² s2    25 / 96    17 / 55       —         → gemm
//   128→256 16² s2   16 / 49    18 / 54       —         → direct
//   512→512 4²      124 / 347   36 / 94     63 / 139    → gemm
//   3→64 32²          2 / 14     5 / 11     10 / 62     → direct forward, gemm backward
// i.e. batched GEMM once the output map is 8×8 or smaller (4×4 for strided layers) and the
// reduction C·R·S is at least 512 (the per-image GEMMs get too narrow; LeNet's 6→16 5×5 on 8×8 stays direct),
// Winograd for 3×3 stride-1 layers with 8×8 outputs and >= 64 channels (at 4×4 the
// 2×2 tiles cover half the map's padding and the GEMMs are 128 rows), and the gradients of a
// layer with a tiny reduction and many outputs (C·R·S <= 32, K >= 32: an RGB stem) on GEMM.
// ResNet-50's layers at batch 8 (same clock; direct / gemm / winograd, torch):
//   512→512 7²       52 / 206   26 / 64     50 / 114    (torch 14 / 57) → gemm
//   512→512 14² s2   37 / 127   27 / 77     34 / 121    (torch 20 / 88) → gemm
//   128→128 56² s2   32 / 114   30 / 91     32 / 108    (torch 20 / 95) → direct (kept)
// so Winograd also needs at least 512 tiles (8×8 maps at batch 32; at batch 8 or 1 its
// 16 GEMMs are too short: 256→256 8² at batch 1 took 10 ms against 1 ms on GEMM), and
// strided layers take the batched GEMM up to 7×7 outputs.
Algo algorithm_for(const Conv2dParams& p, int elem, Pass pass) {
  (void)elem;
  if (depthwise(p)) return Algo::direct;
  const Algo f = forced_algorithm();
  if (f == Algo::direct || f == Algo::gemm) return f;
  if (f == Algo::winograd && winograd_ok(p) && pass != Pass::weight_grad) return Algo::winograd;
  const int64_t ohw = p.OH * p.OW, red = p.C / p.groups * p.R * p.S;
  const int64_t tiles = p.N * ((p.OH + 1) / 2) * ((p.OW + 1) / 2);
  if (winograd_ok(p) && pass != Pass::weight_grad && ohw > 16 && ohw <= 64 && p.C >= 64 &&
      p.K >= 64 && tiles >= 512)
    return Algo::winograd;
  if (ohw <= 64 && red >= 512 && (p.sh == 1 || ohw <= 49)) return Algo::gemm;
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
