// The gate math of the recurrences, compiled for AVX2 + FMA (see rnn_impl.h).
#include "kernels/rnn/rnn_impl.h"
