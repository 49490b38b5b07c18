// 3-D convolution compiled for AVX-512 (this file gets the ISA's flags; see conv3d_impl.h).
#include "kernels/conv3d/conv3d_impl.h"
