// Convolution: the generic path and the dispatch table (see conv.h).
#include "kernels/conv/conv.h"

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <stdexcept>
#include <string>

#include "common/allocator.h"
#include "common/dispatch.h"
#include "common/parallel.h"
#include "kernels/gemm/gemm.h"

namespace fastdl {
namespace conv {
namespace generic {
namespace {
// This ISA has no direct convolution: everything runs on im2col + GEMM.
template <class T>
bool direct_forward(const Conv2dParams&, const T*, const T*, const T*, T*) { return false; }
template <class T>
bool direct_backward_input(const Conv2dParams&, const T*, const T*, T*) { return false; }
template <class T>
bool direct_backward_weight(const Conv2dParams&, const T*, const T*, T*) { return false; }
template <class T>
bool direct_dw_forward(const Conv2dParams&, const T*, const T*, const T*, T*) { return false; }
template <class T>
bool direct_dw_backward(const Conv2dParams&, const T*, const T*, const T*, T*, T*) {
  return false;
}
#include "kernels/conv/conv_impl.inc"
}  // namespace
const ConvOps ops = {fwd_f, fwd_d, bwd_f, bwd_d};
}  // namespace generic

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

// The rule (measured on this machine's ResNet-18 layers, bench/bench_models.py): the direct
// AVX-512 kernels win on wide maps with few channels; batched im2col + GEMM wins on small
// maps and on strided layers (where the direct kernels do not apply).
Algo algorithm_for(const Conv2dParams& p, int elem, Pass pass) {
  if (depthwise(p)) return Algo::direct;
  const Algo f = forced_algorithm();
  if (f == Algo::direct || f == Algo::gemm) return f;
  if (f == Algo::winograd && winograd_ok(p) && pass != Pass::weight_grad) return Algo::winograd;
  const int64_t ohw = p.OH * p.OW;
  const bool has_direct = elem == 4 && current_isa() == Isa::avx512 && p.sh == 1 &&
                          p.sw == 1 && p.dh == 1 && p.dw == 1;
  if (!has_direct) return ohw < 2048 ? Algo::gemm : Algo::direct;
  (void)pass;
  return ohw <= 256 ? Algo::gemm : Algo::direct;
}

namespace {
const ConvOps* const table[kNumIsa] = {
    &generic::ops,
#ifdef FASTDL_X86
    &avx2::ops, &avx512::ops,
#else
    nullptr, nullptr,
#endif
};
}  // namespace

void conv2d_forward(const Conv2dParams& p, const float* x, const float* w, const float* b,
                    float* y) {
  pick(table)->fwd_f(p, x, w, b, y);
}
void conv2d_forward(const Conv2dParams& p, const double* x, const double* w, const double* b,
                    double* y) {
  pick(table)->fwd_d(p, x, w, b, y);
}
void conv2d_backward(const Conv2dParams& p, const float* x, const float* w, const float* dy,
                     float* dx, float* dw, float* db) {
  pick(table)->bwd_f(p, x, w, dy, dx, dw, db);
}
void conv2d_backward(const Conv2dParams& p, const double* x, const double* w, const double* dy,
                     double* dx, double* dw, double* db) {
  pick(table)->bwd_d(p, x, w, dy, dx, dw, db);
}

}  // namespace conv
}  // namespace fastdl
