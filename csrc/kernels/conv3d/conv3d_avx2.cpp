// 3-D convolution compiled for AVX2 + FMA (this file gets the ISA's flags; see conv3d_impl.h).
#include "kernels/conv3d/conv3d_impl.h"
