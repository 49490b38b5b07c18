// Tensor-ops kernels compiled for AVX2 + FMA (this file gets the ISA's flags; see
// tensorops_impl.h).
#include "kernels/tensorops/tensorops_impl.h"
