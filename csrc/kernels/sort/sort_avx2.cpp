// Sorting kernels compiled for AVX2 + FMA (this file gets the ISA's flags; see sort_impl.h).
#include "kernels/sort/sort_impl.h"
