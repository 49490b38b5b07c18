// CPU dispatch: which instruction set the kernels use.
//
// The ISA is chosen once, at import, from the CPU's features (or FASTDL_ISA); tests switch the
// path with `set_isa` to run every path the machine has.
//
// One dispatch style for every kernel family: the family's header declares a struct of
// function pointers (its Ops) and one instance per ISA,
//
//     struct NormOps { void (*layer_norm_f)(...); ... };
//     FASTDL_DECLARE_OPS(NormOps)        // generic::ops, avx2::ops, avx512::ops, ops()
//
// each ISA's translation unit fills its instance once (`namespace FASTDL_SIMD_ISA { const
// NormOps ops = {...}; }`, the same text compiled with that ISA's flags), and the family's
// generic .cpp defines the getter with FASTDL_DEFINE_OPS(NormOps). A call is `ops().fn(...)`:
// one relaxed atomic load and an indirect call.
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

// The float or double half of a family's Ops (members `f` and `d`): by_dtype<T>(ops()).
template <class T, class Ops>
constexpr const auto& by_dtype(const Ops& o) {
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "float or double");
  if constexpr (sizeof(T) == 4)
    return o.f;
  else
    return o.d;
}

// Declares the family's per-ISA Ops instances and its getter (in the family's namespace).
#define FASTDL_DECLARE_OPS(Ops)           \
  namespace generic {                     \
  extern const Ops ops;                   \
  }                                       \
  namespace avx2 {                        \
  extern const Ops ops;                   \
  }                                       \
  namespace avx512 {                      \
  extern const Ops ops;                   \
  }                                       \
  /* the active ISA's table */            \
  const Ops& ops();

// Defines ops() (in one .cpp of the family, in the family's namespace). The table holds
// addresses only, so it is constant-initialised (no guard on the call path).
#ifdef FASTDL_X86
#define FASTDL_OPS_TABLE_ENTRIES &generic::ops, &avx2::ops, &avx512::ops
#else
#define FASTDL_OPS_TABLE_ENTRIES &generic::ops, nullptr, nullptr
#endif
#define FASTDL_DEFINE_OPS(Ops)                                                            \
  namespace {                                                                             \
  const Ops* const ops_table[::fastdl::kNumIsa] = {FASTDL_OPS_TABLE_ENTRIES};            \
  }                                                                                       \
  const Ops& ops() { return *::fastdl::pick(ops_table); }

}  // namespace fastdl
