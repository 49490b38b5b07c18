// Tensor-ops kernels compiled for AVX-512 (this file gets the ISA's flags; see
// tensorops_impl.h).
#include "kernels/tensorops/tensorops_impl.h"
