// Integer index helpers shared by the convolution and pooling kernels.
#pragma once
#include <cstdint>

namespace fastdl {

inline int64_t imin(int64_t a, int64_t b) { return a < b ? a : b; }
inline int64_t imax(int64_t a, int64_t b) { return a > b ? a : b; }

// The outputs o in [lo, hi) (clipped to [0, out)) for which i = o·stride + off lies in
// [0, size): e.g. the output columns whose first tap column is inside the input.
inline void valid_range(int64_t off, int64_t stride, int64_t size, int64_t out, int64_t& lo,
                        int64_t& hi) {
  lo = off >= 0 ? 0 : (-off + stride - 1) / stride;
  hi = (size - 1 - off) < 0 ? 0 : (size - 1 - off) / stride + 1;
  lo = imin(lo, out);
  hi = imax(lo, imin(hi, out));
}

}  // namespace fastdl
