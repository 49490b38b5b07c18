#include "kernels/ctc/ctc_impl.h"  // the recursions compiled for AVX-512
