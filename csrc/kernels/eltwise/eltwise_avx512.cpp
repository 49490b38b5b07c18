// AVX-512 build of the eltwise kernels (see eltwise_impl.h).
#include "kernels/eltwise/eltwise_impl.h"
