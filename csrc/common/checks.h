// Size arithmetic that cannot overflow silently.
#pragma once
#include <cstdint>
#include <initializer_list>
#include <stdexcept>
#include <string>

namespace fastdl {

// Product of sizes; throws std::overflow_error (ValueError in Python) on overflow or a
// negative size.
inline int64_t checked_numel(std::initializer_list<int64_t> dims, const char* what = "size") {
  int64_t n = 1;
  for (int64_t d : dims) {
    if (d < 0) throw std::invalid_argument(std::string(what) + ": negative dimension");
    if (__builtin_mul_overflow(n, d, &n))
      throw std::overflow_error(std::string(what) + ": size overflows int64");
  }
  return n;
}

inline int64_t checked_mul(int64_t a, int64_t b, const char* what = "size") {
  int64_t r;
  if (a < 0 || b < 0) throw std::invalid_argument(std::string(what) + ": negative size");
  if (__builtin_mul_overflow(a, b, &r))
    throw std::overflow_error(std::string(what) + ": size overflows int64");
  return r;
}

}  // namespace fastdl
