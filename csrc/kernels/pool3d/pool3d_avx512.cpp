// 3-D pooling compiled for AVX-512 (this file gets the ISA's flags; see pool3d_impl.h).
#include "kernels/pool3d/pool3d_impl.h"
