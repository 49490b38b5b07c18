// The gate math of the recurrences, compiled for AVX-512 (see rnn_impl.h).
#include "kernels/rnn/rnn_impl.h"
