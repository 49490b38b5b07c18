#include "common/parallel.h"

#include <omp.h>

#include <atomic>
#include <cstdlib>
#include <thread>

namespace fastdl {
namespace {
std::atomic<int>& threads() {
  static std::atomic<int> n{[] {
    if (const char* env = std::getenv("FASTDL_NUM_THREADS")) {
      int v = std::atoi(env);
      if (v >= 1) return v;
    }
    int hw = omp_get_num_procs();
    if (hw < 1) hw = static_cast<int>(std::thread::hardware_concurrency());
    return hw < 1 ? 1 : hw;
  }()};
  return n;
}
}  // namespace

int num_threads() { return threads().load(std::memory_order_relaxed); }
void set_num_threads(int n) { threads().store(n < 1 ? 1 : n, std::memory_order_relaxed); }

}  // namespace fastdl
