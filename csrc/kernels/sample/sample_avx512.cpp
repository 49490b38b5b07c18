// grid_sample for AVX-512: sample_impl.h with the AVX-512 tap blend (masked gathers,
// float32).
#include "kernels/sample/sample_impl.h"
