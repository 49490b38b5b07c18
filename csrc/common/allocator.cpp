#include "common/allocator.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

namespace fastdl {
namespace {

constexpr size_t kAlign = 64;
constexpr size_t kHugeAlign = size_t(2) << 20;
constexpr size_t kHugeFrom = size_t(4) << 20;

}  // namespace

// Strict: digits, optionally a fraction, then at most one suffix K/M/G/T (powers of 1024,
// either case, an optional trailing "B"/"iB"). Anything else -- "4X", "1e30", "inf", "nan",
// "-1", "", a value past int64 -- is refused with the reason.
bool parse_byte_count(const char* s, int64_t* out, std::string* err) {
  const char* p = s;
  unsigned __int128 whole = 0;
  int digits = 0;
  const unsigned __int128 kMax = static_cast<unsigned __int128>(INT64_MAX);
  for (; *p >= '0' && *p <= '9'; ++p, ++digits) {
    whole = whole * 10 + static_cast<unsigned>(*p - '0');
    if (whole > kMax * 1024 * 1024 * 1024 * 1024) {
      *err = "is too large (more than 2^63 - 1 bytes)";
      return false;
    }
  }
  double frac = 0, scale = 0.1;
  int fdigits = 0;
  if (*p == '.') {
    for (++p; *p >= '0' && *p <= '9'; ++p, ++fdigits, scale *= 0.1)
      frac += scale * static_cast<double>(*p - '0');
  }
  if (digits == 0) {
    *err = "is not a byte count";
    return false;
  }
  unsigned __int128 mult = 1;
  switch (*p) {
    case 'k': case 'K': mult = 1024; ++p; break;
    case 'm': case 'M': mult = 1024 * 1024; ++p; break;
    case 'g': case 'G': mult = 1024ull * 1024 * 1024; ++p; break;
    case 't': case 'T': mult = 1024ull * 1024 * 1024 * 1024; ++p; break;
    default: break;
  }
  if (mult > 1 && (*p == 'i' || *p == 'I') && (p[1] == 'b' || p[1] == 'B')) p += 2;
  else if (*p == 'b' || *p == 'B') ++p;
  if (*p != '\0') {
    *err = "has trailing characters";
    return false;
  }
  if (fdigits > 0 && mult == 1) {
    *err = "has a fraction of a byte";
    return false;
  }
  const unsigned __int128 v =
      whole * mult + static_cast<unsigned __int128>(frac * static_cast<double>(mult));
  if (v > kMax) {
    *err = "is too large (more than 2^63 - 1 bytes)";
    return false;
  }
  *out = static_cast<int64_t>(v);
  return true;
}

namespace {

constexpr int64_t kDefaultLimit = int64_t(4) << 30;

int64_t parse_limit() {
  const char* env = std::getenv("FASTDL_CACHE_LIMIT");
  if (!env) return kDefaultLimit;
  int64_t v;
  std::string err;
  // a bad value is reported at import (check_cache_limit_env); here it keeps the default
  return parse_byte_count(env, &v, &err) ? v : kDefaultLimit;
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

void check_cache_limit_env() {
  const char* env = std::getenv("FASTDL_CACHE_LIMIT");
  if (!env) return;
  int64_t v;
  std::string err;
  if (!parse_byte_count(env, &v, &err))
    throw std::invalid_argument("FASTDL_CACHE_LIMIT='" + std::string(env) + "' " + err +
                                "; expected bytes as an integer with an optional K/M/G/T "
                                "suffix, e.g. 2G or 536870912");
}

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
