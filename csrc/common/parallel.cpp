#include "common/parallel.h"

#include <omp.h>

#include <atomic>
#include <cstdlib>
#include <stdexcept>
#include <string>
#include <thread>

namespace fastdl {
namespace {

// FASTDL_NUM_THREADS as a whole decimal number in [1, 4096]; false when unset or invalid.
bool parse_threads(const char* s, int* out) {
  if (!s || !*s) return false;
  long v = 0;
  for (const char* p = s; *p; ++p) {
    if (*p < '0' || *p > '9') return false;
    v = v * 10 + (*p - '0');
    if (v > 4096) return false;
  }
  if (v < 1) return false;
  *out = static_cast<int>(v);
  return true;
}

bool env_num_threads(int* out) { return parse_threads(std::getenv("FASTDL_NUM_THREADS"), out); }
std::atomic<int>& threads() {
  static std::atomic<int> n{[] {
    int v;
    if (env_num_threads(&v)) return v;
    int hw = omp_get_num_procs();
    if (hw < 1) hw = static_cast<int>(std::thread::hardware_concurrency());
    return hw < 1 ? 1 : hw;
  }()};
  return n;
}
}  // namespace

void check_num_threads_env() {
  const char* env = std::getenv("FASTDL_NUM_THREADS");
  int v;
  if (env && !parse_threads(env, &v))
    throw std::invalid_argument("FASTDL_NUM_THREADS='" + std::string(env) +
                                "' is not a thread count; expected an integer in [1, 4096]");
}

int num_threads() { return threads().load(std::memory_order_relaxed); }
void set_num_threads(int n) { threads().store(n < 1 ? 1 : n, std::memory_order_relaxed); }

}  // namespace fastdl
