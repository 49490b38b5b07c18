// embedding_bag compiled for AVX2 + FMA (this file gets the ISA's flags; see embag_impl.h).
#include "kernels/embag/embag_impl.h"
