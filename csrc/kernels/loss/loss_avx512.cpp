// Loss kernels compiled for AVX-512 (this file gets the ISA's flags; see loss_impl.h).
#include "kernels/loss/loss_impl.h"
