#include "common/allocator.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

namespace fastdl {
namespace {

constexpr size_t kAlign = 64;
constexpr size_t kHugeAlign = size_t(2) << 20;
constexpr size_t kHugeFrom = size_t(4) << 20;

int64_t parse_limit() {
  const char* env = std::getenv("FASTDL_CACHE_LIMIT");
  int64_t def = int64_t(4) << 30;
  if (!env || !*env) return def;
  char* end = nullptr;
  double v = std::strtod(env, &end);
  if (end == env || v < 0) return def;
  switch (*end) {
    case 'k': case 'K': v *= 1024.0; break;
    case 'm': case 'M': v *= 1024.0 * 1024.0; break;
    case 'g': case 'G': v *= 1024.0 * 1024.0 * 1024.0; break;
    default: break;
  }
  return static_cast<int64_t>(v);
}

struct Pool {
  std::mutex mu;
  std::unordered_map<void*, size_t> live;               // pointer -> size class
  std::unordered_map<size_t, std::vector<void*>> free;  // size class -> cached buffers
  MemoryStats st;
  Pool() { st.limit = parse_limit(); }

  static void* system_alloc(size_t cls) {
    size_t align = cls >= kHugeFrom ? kHugeAlign : kAlign;
    void* p = nullptr;
    if (posix_memalign(&p, align, cls) != 0 || !p) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    if (cls >= kHugeFrom) madvise(p, cls, MADV_HUGEPAGE);
#endif
    return p;
  }

  void trim_locked(int64_t target) {
    for (auto it = free.begin(); it != free.end() && st.cached > target;) {
      auto& v = it->second;
      while (!v.empty() && st.cached > target) {
        std::free(v.back());
        v.pop_back();
        st.cached -= static_cast<int64_t>(it->first);
      }
      it = v.empty() ? free.erase(it) : std::next(it);
    }
  }
};

Pool& pool() {
  static Pool* p = new Pool();  // never destroyed: arrays may outlive static destruction
  return *p;
}

}  // namespace

size_t pool_size_class(size_t bytes) {
  if (bytes <= 256) return 256;
  // four classes per power of two: round up to a multiple of 2^(floor(log2)-2)
  int lg = 63 - __builtin_clzll(static_cast<unsigned long long>(bytes));
  size_t step = size_t(1) << (lg - 2);
  size_t cls = (bytes + step - 1) & ~(step - 1);
  return (cls + kAlign - 1) & ~(kAlign - 1);
}

void* pool_alloc(size_t bytes) {
  size_t cls = pool_size_class(bytes);
  Pool& P = pool();
  void* p = nullptr;
  {
    std::lock_guard<std::mutex> lock(P.mu);
    auto it = P.free.find(cls);
    if (it != P.free.end() && !it->second.empty()) {
      p = it->second.back();
      it->second.pop_back();
      P.st.cached -= static_cast<int64_t>(cls);
      P.st.n_reused++;
    }
  }
  if (!p) {
    try {
      p = Pool::system_alloc(cls);
    } catch (const std::bad_alloc&) {
      pool_empty_cache();  // give cached memory back and try once more
      p = Pool::system_alloc(cls);
    }
    std::lock_guard<std::mutex> lock(P.mu);
    P.st.n_system++;
  }
  std::lock_guard<std::mutex> lock(P.mu);
  P.live.emplace(p, cls);
  P.st.n_alloc++;
  P.st.in_use += static_cast<int64_t>(cls);
  if (P.st.in_use > P.st.peak) P.st.peak = P.st.in_use;
  return p;
}

void pool_free(void* p) {
  if (!p) return;
  Pool& P = pool();
  std::lock_guard<std::mutex> lock(P.mu);
  auto it = P.live.find(p);
  if (it == P.live.end()) return;  // not ours: ignore rather than corrupt the heap
  size_t cls = it->second;
  P.live.erase(it);
  P.st.in_use -= static_cast<int64_t>(cls);
  if (P.st.cached + static_cast<int64_t>(cls) <= P.st.limit) {
    P.free[cls].push_back(p);
    P.st.cached += static_cast<int64_t>(cls);
  } else {
    std::free(p);
  }
}

MemoryStats pool_stats() {
  Pool& P = pool();
  std::lock_guard<std::mutex> lock(P.mu);
  return P.st;
}

void pool_empty_cache() {
  Pool& P = pool();
  std::lock_guard<std::mutex> lock(P.mu);
  P.trim_locked(0);
}

void pool_set_limit(int64_t bytes) {
  Pool& P = pool();
  std::lock_guard<std::mutex> lock(P.mu);
  P.st.limit = bytes < 0 ? 0 : bytes;
  P.trim_locked(P.st.limit);
}

void pool_reset_peak() {
  Pool& P = pool();
  std::lock_guard<std::mutex> lock(P.mu);
  P.st.peak = P.st.in_use;
}

namespace {
struct ThreadScratch {
  void* ptr[kScratchSlots] = {};
  size_t size[kScratchSlots] = {};
  ~ThreadScratch() {
    for (int i = 0; i < kScratchSlots; ++i) pool_free(ptr[i]);
  }
};
}  // namespace

void* thread_scratch(size_t bytes, int slot) {
  thread_local ThreadScratch ts;
  if (slot < 0 || slot >= kScratchSlots) throw std::out_of_range("thread_scratch: bad slot");
  if (ts.size[slot] < bytes) {
    pool_free(ts.ptr[slot]);
    ts.ptr[slot] = nullptr;
    ts.ptr[slot] = pool_alloc(bytes);
    ts.size[slot] = pool_size_class(bytes);
  }
  return ts.ptr[slot];
}

}  // namespace fastdl
