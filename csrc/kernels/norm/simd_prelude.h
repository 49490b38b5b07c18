// System headers the per-ISA kernel files need before opening their ISA namespace and
// including simd_vec.h (which must not include anything itself).
#pragma once
#include <cstddef>
#include <cstdint>
#if defined(FASTDL_X86)
#include <immintrin.h>
#endif
#include "common/simd.h"  // float exp/log/log1p per ISA (flags of the includer)
