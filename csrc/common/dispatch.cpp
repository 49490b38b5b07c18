#include "common/dispatch.h"

#include <atomic>
#include <cstdlib>
#include <stdexcept>

namespace fastdl {
namespace {

std::atomic<int>& active() {
  static std::atomic<int> isa{[] {
    const char* env = std::getenv("FASTDL_ISA");
    if (env && *env) {
      Isa want;
      try {
        want = isa_from_name(env);  // unknown name: throws at import, naming the variable
      } catch (const std::invalid_argument& e) {
        throw std::invalid_argument(std::string("FASTDL_ISA: ") + e.what());
      }
      if (!isa_supported(want))
        throw std::invalid_argument(std::string("FASTDL_ISA=") + env +
                                    " is not supported by this CPU or build (best: " +
                                    isa_name(detect_isa()) + ")");
      return static_cast<int>(want);
    }
    return static_cast<int>(detect_isa());
  }()};
  return isa;
}

}  // namespace

Isa detect_isa() {
#if defined(FASTDL_X86) && (defined(__GNUC__) || defined(__clang__))
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl"))
    return Isa::avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return Isa::avx2;
#endif
  return Isa::generic;
}

bool isa_supported(Isa isa) { return static_cast<int>(isa) <= static_cast<int>(detect_isa()); }

Isa current_isa() { return static_cast<Isa>(active().load(std::memory_order_relaxed)); }

void set_isa(Isa isa) {
  if (!isa_supported(isa))
    throw std::invalid_argument(std::string("ISA '") + isa_name(isa) +
                                "' is not supported by this CPU or build (best: " +
                                isa_name(detect_isa()) + ")");
  active().store(static_cast<int>(isa), std::memory_order_relaxed);
}

Isa isa_from_name(const std::string& name) {
  if (name == "generic") return Isa::generic;
  if (name == "avx2") return Isa::avx2;
  if (name == "avx512") return Isa::avx512;
  throw std::invalid_argument("unknown ISA '" + name + "': expected generic, avx2 or avx512");
}

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::avx2: return "avx2";
    case Isa::avx512: return "avx512";
    default: return "generic";
  }
}

}  // namespace fastdl
