// CPU dispatch: which instruction set the kernels use.
//
// The ISA is chosen once, at import, from the CPU's features (or FASTDL_ISA); every kernel
// family keeps a table indexed by `Isa` and looks the active entry up per call (one relaxed
// atomic load). Tests switch the path with `set_isa` to run every path the machine has.
#pragma once
#include <string>

namespace fastdl {

enum class Isa : int { generic = 0, avx2 = 1, avx512 = 2 };
constexpr int kNumIsa = 3;

// Best ISA this CPU (and OS) supports.
Isa detect_isa();
// True when the CPU can run `isa` and this build compiled it.
bool isa_supported(Isa isa);
// The active ISA (initialised from FASTDL_ISA or detect_isa()).
Isa current_isa();
// Switch the active ISA; throws std::invalid_argument when unsupported.
void set_isa(Isa isa);
Isa isa_from_name(const std::string& name);  // throws std::invalid_argument
const char* isa_name(Isa isa);

// Picks `table[current_isa()]`, falling back towards generic for entries a family did not
// provide (nullptr), so a family may ship only generic + avx512, say.
template <class Fn>
inline Fn pick(Fn const (&table)[kNumIsa]) {
  for (int i = static_cast<int>(current_isa()); i >= 0; --i)
    if (table[i]) return table[i];
  return table[0];
}

}  // namespace fastdl
