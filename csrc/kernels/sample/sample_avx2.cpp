// grid_sample for AVX2: sample_impl.h with the AVX2 tap blend (masked gathers, float32).
#include "kernels/sample/sample_impl.h"
