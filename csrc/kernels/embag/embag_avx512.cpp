// embedding_bag compiled for AVX-512 (this file gets the ISA's flags; see embag_impl.h).
#include "kernels/embag/embag_impl.h"
