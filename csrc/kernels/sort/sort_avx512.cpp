// Sorting kernels compiled for AVX-512 (this file gets the ISA's flags; see sort_impl.h).
#include "kernels/sort/sort_impl.h"
