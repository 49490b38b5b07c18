// Norm kernels compiled for AVX2 + FMA (this file gets the ISA's flags; see norm_impl.h).
#include "kernels/norm/norm_impl.h"
