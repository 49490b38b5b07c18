// Pooling for AVX2: pool_impl.h's loops vectorised by the compiler for this ISA.
#include "kernels/pool/pool_impl.h"
