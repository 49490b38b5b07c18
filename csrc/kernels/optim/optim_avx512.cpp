// Optimizer chunk kernels compiled for AVX-512 (16 floats / 8 doubles per vector, masked tails); see optim_impl.h.
#include "kernels/optim/optim_impl.h"
