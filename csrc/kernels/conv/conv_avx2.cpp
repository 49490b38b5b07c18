// Convolution for AVX2: conv_impl.h's loops vectorised by the compiler for this ISA.
#include "kernels/conv/conv_impl.h"
