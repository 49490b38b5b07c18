// Threads. All kernels run on OpenMP with `num_threads()` threads and split their work into
// chunks whose size does not depend on the thread count, so every result is bitwise the same
// for any number of threads.
#pragma once
#include <cstdint>

namespace fastdl {

int num_threads();           // FASTDL_NUM_THREADS, else the machine's cores
void set_num_threads(int n); // n >= 1 (checked by the binding)
// std::invalid_argument unless FASTDL_NUM_THREADS is unset or an integer in [1, 4096]
// (called once at import, so a typo is an error rather than a silent default).
void check_num_threads_env();

// Run fn(begin, end) over [0, n) in chunks of `grain` items, in parallel when there is more
// than one chunk and more than one thread. Chunk boundaries depend only on n and grain.
template <class F>
inline void parallel_for(int64_t n, int64_t grain, F&& fn) {
  if (n <= 0) return;
  if (grain < 1) grain = 1;
  const int64_t chunks = (n + grain - 1) / grain;
  const int nt = num_threads();
  if (chunks == 1 || nt == 1) {
    for (int64_t c = 0; c < chunks; ++c) {
      const int64_t b = c * grain, e = b + grain < n ? b + grain : n;
      fn(b, e);
    }
    return;
  }
#pragma omp parallel for num_threads(nt) schedule(static)
  for (int64_t c = 0; c < chunks; ++c) {
    const int64_t b = c * grain, e = b + grain < n ? b + grain : n;
    fn(b, e);
  }
}

// Items per chunk when each item costs `unit` elements of work: chunks of about kChunkWork
// elements (at least one item), a size that depends only on the shape.
constexpr int64_t kChunkWork = 32768;
inline int64_t grain_for(int64_t unit) {
  const int64_t g = kChunkWork / (unit > 0 ? unit : 1);
  return g < 1 ? 1 : g;
}

}  // namespace fastdl
