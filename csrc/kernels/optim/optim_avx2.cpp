// Optimizer chunk kernels compiled for AVX2 + FMA (8 floats / 4 doubles per vector, masked tails); see optim_impl.h.
#include "kernels/optim/optim_impl.h"
