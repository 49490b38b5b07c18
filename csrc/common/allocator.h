// The caching allocator behind tensor storage and kernel scratch.
//
// Buffers are 64-byte aligned (2 MiB aligned and advised for transparent huge pages from
// 4 MiB up), rounded to a size class (four classes per power of two), and kept in a per-class
// free list when released, so the next request of that class costs nothing: a fresh 64 MB
// output costs ~25 ms of page faults on the reference machine, a reused one none. What is
// cached is bounded by a limit (FASTDL_CACHE_LIMIT, bytes with an optional K/M/G suffix;
// default 4G); past it, released buffers go straight back to the system. Thread-safe.
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

namespace fastdl {

struct MemoryStats {
  int64_t in_use = 0;       // bytes handed out and not yet released (size-class rounded)
  int64_t cached = 0;       // bytes kept for reuse
  int64_t peak = 0;         // highest in_use since start (or reset_peak)
  int64_t limit = 0;        // cache limit in bytes
  int64_t n_alloc = 0;      // allocations served
  int64_t n_reused = 0;     // ... of which from the cache
  int64_t n_system = 0;     // ... of which from the system
};

void* pool_alloc(size_t bytes);  // never nullptr: throws std::bad_alloc
void pool_free(void* p);         // p from pool_alloc (nullptr is a no-op)
size_t pool_size_class(size_t bytes);
MemoryStats pool_stats();
void pool_empty_cache();         // return every cached buffer to the system
void pool_set_limit(int64_t bytes);
void pool_reset_peak();

// FASTDL_CACHE_LIMIT: std::invalid_argument naming the variable and its value unless it is a
// valid byte count (see parse_byte_count); called once at import.
void check_cache_limit_env();
// "512", "2G", "1.5M", "64KiB" -> bytes; false with the reason in *err otherwise.
bool parse_byte_count(const char* s, int64_t* out, std::string* err);

// A kernel's scratch buffer from the caching pool, given back at scope exit: 64-byte aligned,
// contents undefined; PoolBuf(0) holds nothing (p == nullptr). Use: PoolBuf b(n * sizeof(T));
// T* t = b.as<T>();
struct PoolBuf {
  void* p = nullptr;
  explicit PoolBuf(size_t bytes) : p(bytes ? pool_alloc(bytes) : nullptr) {}
  ~PoolBuf() { pool_free(p); }
  PoolBuf(const PoolBuf&) = delete;
  PoolBuf& operator=(const PoolBuf&) = delete;
  // the buffer, or a part of it from `byte_offset` on, as T*
  template <class T>
  T* as(size_t byte_offset = 0) const {
    return reinterpret_cast<T*>(static_cast<char*>(p) + byte_offset);
  }
};

// Per-thread scratch kept across calls (no allocation in the steady state): slot s of the
// calling thread, grown to at least `bytes`, 64-byte aligned. Contents are not preserved
// when it grows. A kernel that calls another (conv -> gemm) must use other slots than its
// callee, hence one list of who uses which slot:
enum ScratchSlot : int {
  kScratchGemmA = 0,     // gemm: packed A panels / the direct path's edge panel
  kScratchGemmB = 1,     // gemm: packed B block / the direct path's B panels
  kScratchGemmX = 2,     // gemm: gathered vector of the matrix-vector path; the running
                         // sums of micro-tiles straddling two output segments (c_seg)
  kScratchSampleTaps = 3,  // grid_sample: a block's tap offsets and weights
  kScratchConvDyT = 4,   // conv (AVX-512): transposed output gradient; conv_impl.h's
                         // gemm_backward_grouped: a chunk's regrouped output gradient
  kScratchConvPad = 5,   // conv (AVX-512): padded input
  kScratchConvCol = 6,   // conv: im2col columns
  kScratchSamplePartial = 6,  // grid_sample: partial grid gradients (never runs inside conv)
  kScratchConvGCol = 7,  // conv: column gradient (also gemm_backward_grouped's)
  kScratchCtc = 8,       // ctc: the β rows and per-class sums of the backward
  kScratchSlots = 9
};
void* thread_scratch(size_t bytes, int slot = 0);

}  // namespace fastdl
