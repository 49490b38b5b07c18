// GEMM driver (BLIS loops, threads, the small-problem path), the generic path's GemmOps and
// the dispatch. The per-ISA micro-kernels live in gemm_impl.h (generic, AVX2) and
// gemm_avx512.cpp; the block sizes in gemm_blocks.h.
#include "kernels/gemm/gemm.h"

#include <omp.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>

#include "common/allocator.h"
#include "common/dispatch.h"
#include "common/parallel.h"
#include "kernels/gemm/gemm_impl.h"
#include "kernels/gemm/gemm_internal.h"

namespace fastdl {
namespace gemm {

// The generic path: gemm_impl.h's micro-kernel on one-lane simd vectors (plain C++ the
// compiler vectorises).
namespace generic {
const GemmOps ops = {make_kernel<simd::Vf, kBlocksGeneric>(),
                     make_kernel<simd::Vd, kBlocksGeneric>(), &fma_probe};
}  // namespace generic

FASTDL_DEFINE_OPS(GemmOps)

namespace {
template <class T>
inline const Kernel<T>* active_kernel() { return &by_dtype<T>(ops()); }

// Below this many multiply-adds (m*n*k) a product runs single-threaded; below kDirectMacs it
// skips packing (the micro-kernel reads A and B in place; only edge panels are copied).
constexpr double kParallelMacs = 48.0 * 48 * 48;
constexpr double kDirectMacs = 64.0 * 64 * 64;
constexpr double kPackMacs = 16.0;  // see run_grid
constexpr int64_t kThinM = 128, kThinK = 800;  // see choose_path

inline int64_t round_up(int64_t x, int64_t r) { return (x + r - 1) / r * r; }

template <class T>
T* scratch(int64_t elems, ScratchSlot slot) {
  return static_cast<T*>(thread_scratch(static_cast<size_t>(elems) * sizeof(T) + 64, slot));
}

// C := beta*C (beta == 0: zeros), the k == 0 / alpha == 0 case.
template <class T>
void scale_c(int64_t m, int64_t n, T beta, T* C, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    T* c = C + i * ldc;
    if (beta == T(0))
      std::memset(c, 0, sizeof(T) * n);
    else if (beta != T(1))
      for (int64_t j = 0; j < n; ++j) c[j] *= beta;
  }
}

// Where the packed loop nests get B's NR-column panels from: DenseB packs them from a matrix
// in memory; CallbackB asks an implicit-GEMM packing routine (gemm.h: sgemm_implicit) for
// them. Both are called as packb(pc, kc, jc, nc, bp) with jc relative to the thread's block.
template <class T>
struct DenseB {
  const Kernel<T>& K;
  bool tb;
  const T* B;
  int64_t ldb;
  void operator()(int64_t pc, int64_t kc, int64_t jc, int64_t nc, T* bp) const {
    if (!bp) {  // the prefetch hint (gemm.h: PackBFn): op(B)'s rows, or B's rows when tb
      for (int64_t q = 0; q < (tb ? nc : kc); ++q)
        prefetch_l2(tb ? B + (jc + q) * ldb + pc : B + (pc + q) * ldb + jc,
                    sizeof(T) * (tb ? kc : nc));
      return;
    }
    K.pack_b(tb, kc, nc, tb ? B + jc * ldb + pc : B + pc * ldb + jc, ldb, bp);
  }
  const T* view(int64_t) const { return nullptr; }  // panels are packed, never read in place
};
template <class T>
struct CallbackB {
  PackBFn<T> fn;
  const void* ctx;
  int64_t j0, nr;  // the thread block's first column; the panel width
  void operator()(int64_t pc, int64_t kc, int64_t jc, int64_t nc, T* bp) const {
    fn(ctx, pc, kc, j0 + jc, nc, nr, bp);
  }
  const T* view(int64_t) const { return nullptr; }
};
// PanelB: B already in the micro-kernel's panel layout (gemm.h: sgemm_prepacked), full-k
// panels read in place by run_stream (view); called only for the prefetch hint.
template <class T>
struct PanelB {
  const T* panels;  // the thread block's first panel
  int64_t k, nr;
  void operator()(int64_t pc, int64_t kc, int64_t jc, int64_t nc, T* bp) const {
    if (bp) return;
    for (int64_t j = 0; j < nc; j += nr)
      prefetch_l2(view(jc + j) + pc * nr, sizeof(T) * nr * kc);
  }
  const T* view(int64_t jr) const { return panels + jr / nr * nr * k; }
};

// Where column j of the thread's block of C sits in a row of C, and the micro-kernel call that
// writes a tile there: tile(K, kc, a, b, c, ldc, j, mr, nr, alpha, beta, slot, first, last),
// c = C's row of the tile, `first` / `last` whether this is the first / last k block of the
// tile's sum, `slot` an MR×NR buffer of the caller's reserved for this tile across its k
// blocks (kSide). PlainC writes at c + j (C offset to the block's first column). SegC (gemm.h,
// c_seg): in segments of `seg` columns `stride` elements apart, counted from the product's
// column 0 (C not offset by the block's j0); a tile that straddles segments (seg not a
// multiple of NR: 7×7 maps, 49 columns) accumulates its k blocks in its slot (C gathered into
// it first when beta != 0) and is scattered to its segments after the last one. The
// micro-kernel's per-element arithmetic does not depend on ldc, so every element is the same
// as in place. (Gathering and scattering the tile around every k block instead cost 15 % of
// a 960→160 7×7 forward.)
struct PlainC {
  static constexpr bool kSide = false;
  template <class T>
  void tile(const Kernel<T>& K, int64_t kc, const T* a, const T* b, T* c, int64_t ldc,
            int64_t j, int64_t mr, int64_t nr, T alpha, T beta, T*, bool, bool) const {
    K.packed(kc, a, 1, K.mr, b, K.nr, c + j, ldc, mr, nr, alpha, beta);
  }
};
// With `epi` (a `const RowEpilogue<T>*`, gemm.h), each tile after its last k block goes
// through the kernel's row_epi with the bias of its rows (`c0`: the product's C, to count
// rows from).
struct SegC {
  static constexpr bool kSide = true;
  int64_t j0, seg, stride;
  const void* epi = nullptr;
  const void* c0 = nullptr;
  template <class T>
  void finish(const Kernel<T>& K, T* c, int64_t ldc, int64_t mr, int64_t nr,
              int64_t row) const {
    const RowEpilogue<T>& e = *static_cast<const RowEpilogue<T>*>(epi);
    K.row_epi(c, ldc, mr, nr, e.bias ? e.bias + row : nullptr, e.lo, e.hi);
  }
  template <class T>
  void tile(const Kernel<T>& K, int64_t kc, const T* a, const T* b, T* c, int64_t ldc,
            int64_t j, int64_t mr, int64_t nr, T alpha, T beta, T* slot, bool first,
            bool last) const {
    const int64_t g = j0 + j, q0 = g % seg, NR = K.nr;
    const int64_t row = epi ? (c - static_cast<const T*>(c0)) / ldc : 0;
    if (q0 + nr <= seg) {
      T* cc = c + g / seg * stride + q0;
      K.packed(kc, a, 1, K.mr, b, NR, cc, ldc, mr, nr, alpha, beta);
      if (last && epi) finish(K, cc, ldc, mr, nr, row);
      return;
    }
    const bool gather = first && beta != T(0);
    if (gather || last) {
      // the tile's columns as pieces within one segment: (column in the tile, offset in C,
      // length)
      int64_t at[64], off[64], len[64], np = 0;
      for (int64_t jj = 0, q = q0; jj < nr; ++np) {
        at[np] = jj;
        off[np] = (g + jj) / seg * stride + q;
        len[np] = nr - jj < seg - q ? nr - jj : seg - q;
        jj += len[np];
        q = 0;
      }
      if (gather)
        for (int64_t i = 0; i < mr; ++i)
          for (int64_t e = 0; e < np; ++e)
            std::memcpy(slot + i * NR + at[e], c + i * ldc + off[e], sizeof(T) * len[e]);
      K.packed(kc, a, 1, K.mr, b, NR, slot, NR, mr, nr, alpha, beta);
      if (last && epi) finish(K, slot, NR, mr, nr, row);
      if (last)
        for (int64_t i = 0; i < mr; ++i)
          for (int64_t e = 0; e < np; ++e)
            std::memcpy(c + i * ldc + off[e], slot + i * NR + at[e], sizeof(T) * len[e]);
      return;
    }
    K.packed(kc, a, 1, K.mr, b, NR, slot, NR, mr, nr, alpha, beta);
  }
};

// Whether run_packed prefetches each next block of B (toward L2, a slice of its rows per
// micro-tile, as run_stream does per panel): when B as a whole is at least kPrefetchMinB
// (likely not in cache), and only blocks of at most kPrefetchBlock (the packed block and the
// next one's source share L2 with A). Measured, one thread, CPU time, GFLOP/s without / with,
// ResNet-50 1×1 convolutions at batch 8: 64→256 56² forward 96.9 / 101.9, 256→64 56² input
// gradient 98.3 / 102.6, weight gradient 78.8 / 87.1; with B of 1 MB or less (128→512 28²,
// 256→1024 14² weight gradients) it cost 2 %, hence the threshold.
constexpr int64_t kPrefetchMinB = 2 << 20, kPrefetchBlock = 256 << 10;
template <class T>
bool prefetch_blocks(int64_t n, int64_t k) {
  return static_cast<double>(n) * static_cast<double>(k) * sizeof(T) >= kPrefetchMinB;
}

// One thread's share, packed BLIS loops.
template <class T, class PackB, class CMap = PlainC>
void run_packed(const Kernel<T>& K, bool ta, int64_t m, int64_t n, int64_t k, T alpha,
                const T* A, int64_t lda, const PackB& packb, T beta, T* C, int64_t ldc,
                bool prefetch, CMap cm = CMap()) {
  const int64_t MR = K.mr, NR = K.nr;
  const int64_t MC = K.mc;
  // column blocks of (nearly) equal width, at most K.nc (a 1568-column product is blocks of
  // 416, 416, 416 and 320, not 512, 512, 512 and 32, where the last block repacks A for one
  // panel)
  const int64_t njb = (n + K.nc - 1) / K.nc;
  const int64_t NC = njb == 1 ? n : round_up((n + njb - 1) / njb, NR);
  // k blocks of (nearly) equal depth, at most K.kc: a function of k only (never of threads),
  // so every element sees the same blocking of its sum.
  const int64_t nkb = (k + K.kc - 1) / K.kc;
  const int64_t KC = nkb == 1 ? k : round_up((k + nkb - 1) / nkb, 8);
  const int64_t kcmax = k < KC ? k : KC;
  T* ap = scratch<T>(round_up(m < MC ? m : MC, MR) * kcmax, kScratchGemmA);
  T* bp = scratch<T>(round_up(n < NC ? n : NC, NR) * kcmax, kScratchGemmB);
  // CMap's per-tile slots (SegC): [row tile][panel of the NC block][MR×NR]
  const int64_t spr = round_up(n < NC ? n : NC, NR) / NR;
  T* side = CMap::kSide ? scratch<T>(round_up(m, MR) * spr * NR, kScratchGemmX) : nullptr;
  for (int64_t jc = 0; jc < n; jc += NC) {
    const int64_t nc = n - jc < NC ? n - jc : NC;
    for (int64_t pc = 0; pc < k; pc += KC) {
      const int64_t kc = k - pc < KC ? k - pc : KC;
      const T beta_k = pc == 0 ? beta : T(1);
      packb(pc, kc, jc, nc, bp);
      // the next block of B, prefetched a slice of rows per tile (see run_stream)
      const bool last_k = pc + KC >= k;
      const int64_t npc = last_k ? 0 : pc + KC, njc = last_k ? jc + NC : jc;
      const int64_t nkc = k - npc < KC ? k - npc : KC, nnc = n - njc < NC ? n - njc : NC;
      const int64_t slots = (m + MR - 1) / MR * ((nc + NR - 1) / NR);
      const bool pf_next = prefetch && njc < n &&
                           nkc * nnc * static_cast<int64_t>(sizeof(T)) <= kPrefetchBlock;
      int64_t u = 0;
      for (int64_t ic = 0; ic < m; ic += MC) {
        const int64_t mc = m - ic < MC ? m - ic : MC;
        K.pack_a(ta, mc, kc, ta ? A + pc * lda + ic : A + ic * lda + pc, lda, ap);
        for (int64_t ir = 0; ir < mc; ir += MR) {
          const int64_t mr = mc - ir < MR ? mc - ir : MR;
          const T* a = ap + ir * kc;
          T* c = C + (ic + ir) * ldc;
          for (int64_t jr = 0; jr < nc; jr += NR, ++u) {
            const int64_t nr = nc - jr < NR ? nc - jr : NR;
            if (pf_next) {
              const int64_t p0 = nkc * u / slots, p1 = nkc * (u + 1) / slots;
              if (p1 > p0) packb(npc + p0, p1 - p0, njc, nnc, nullptr);
            }
            T* slot = CMap::kSide ? side + ((ic + ir) / MR * spr + jr / NR) * MR * NR : nullptr;
            cm.tile(K, kc, a, bp + jr * kc, c, ldc, jc + jr, mr, nr, alpha, beta_k, slot,
                    pc == 0, pc + kc >= k);
          }
        }
      }
    }
  }
}

// One thread's share of a product with few rows (m <= kStreamM; the packed A of all of k fits
// in L2): A is packed once, whole; B one NR-column micro-panel (all of k) at a time, right
// before the m/MR row tiles that use it, so the packed panel is read back while it is hot in
// L1 and no KC×NC block of B makes a round trip through L2 (nor is A packed again per NC
// block). Per panel the k blocks (the balanced KC blocking of run_packed) run one after the
// other on a C panel that stays in cache. While a panel's tiles run, the next panel's source
// is prefetched toward L2, a slice of its k rows before each tile: packing it would otherwise
// wait on memory for every row (a panel is k rows of NR columns each, as many streams as
// rows, which the hardware prefetcher does not follow). Measured, one thread, CPU time, 1×1
// convolutions of ResNet-50 at batch 8 (activations in DRAM): 256→64 56² forward 85 -> 101
// GFLOP/s, 256→128 56² 95 -> 107 (prefetching into L1 instead: no gain).
template <class T, class PackB, class CMap = PlainC>
void run_stream(const Kernel<T>& K, bool ta, int64_t m, int64_t n, int64_t k, T alpha,
                const T* A, int64_t lda, const PackB& packb, T beta, T* C, int64_t ldc,
                CMap cm = CMap()) {
  const int64_t MR = K.mr, NR = K.nr;
  const int64_t nkb = (k + K.kc - 1) / K.kc;
  const int64_t KC = nkb == 1 ? k : round_up((k + nkb - 1) / nkb, 8);
  T* ap = scratch<T>(round_up(m, MR) * k, kScratchGemmA);
  T* bp = scratch<T>(NR * k, kScratchGemmB);
  T* side = CMap::kSide ? scratch<T>(round_up(m, MR) * NR, kScratchGemmX) : nullptr;  // slots
  const int64_t slots = nkb * ((m + MR - 1) / MR);  // tiles per panel
  K.pack_a(ta, m, k, A, lda, ap);
  for (int64_t jr = 0; jr < n; jr += NR) {
    const int64_t nr = n - jr < NR ? n - jr : NR;
    const int64_t jn = jr + NR, nn = n - jn < NR ? n - jn : NR;  // the next panel
    const T* bpan = packb.view(jr);  // in place (PanelB), else packed here
    if (!bpan) {
      packb(0, k, jr, nr, bp);
      bpan = bp;
    }
    int64_t u = 0;
    for (int64_t pc = 0; pc < k; pc += KC) {
      const int64_t kc = k - pc < KC ? k - pc : KC;
      const T beta_k = pc == 0 ? beta : T(1);
      for (int64_t ir = 0; ir < m; ir += MR, ++u) {
        const int64_t mr = m - ir < MR ? m - ir : MR;
        if (jn < n) {
          const int64_t p0 = k * u / slots, p1 = k * (u + 1) / slots;
          if (p1 > p0) packb(p0, p1 - p0, jn, nn, nullptr);
        }
        // panel ir of the whole-k packing: element (i, p) at ir*k + p*MR + i
        cm.tile(K, kc, ap + ir * k + pc * MR, bpan + pc * NR, C + ir * ldc, ldc, jr, mr, nr,
                alpha, beta_k, CMap::kSide ? side + ir * NR : nullptr, pc == 0, pc + kc >= k);
      }
    }
  }
}

// One thread's share with A read in place (gemm.h: sgemm_implicit_a_inplace): per k block
// (run_packed's balanced KC blocking), B's whole block (kc × n, its NR-column panels) packed
// once, then each MR-row tile of A against every panel, A's rows broadcast straight from
// memory by the strided micro-kernel (the tile's kc-slice of A stays in L1 across the
// panels). A partial last row tile goes through a packed copy (the strided kernel's edge
// instantiations read whole groups of 4 rows). Every element gets the FMA sequence run_packed
// gives it.
template <class T, class PackB>
void run_a_inplace(const Kernel<T>& K, int64_t m, int64_t n, int64_t k, const T* A,
                   int64_t lda, const PackB& packb, T beta, T* C, int64_t ldc) {
  const int64_t MR = K.mr, NR = K.nr;
  const int64_t nkb = (k + K.kc - 1) / K.kc;
  const int64_t KC = nkb == 1 ? k : round_up((k + nkb - 1) / nkb, 8);
  const int64_t kcmax = k < KC ? k : KC;
  T* bp = scratch<T>(round_up(n, NR) * kcmax, kScratchGemmB);
  T* ap = scratch<T>(MR * kcmax, kScratchGemmA);
  const int64_t mfull = m / MR * MR;
  for (int64_t pc = 0; pc < k; pc += KC) {
    const int64_t kc = k - pc < KC ? k - pc : KC;
    const T beta_k = pc == 0 ? beta : T(1);
    packb(pc, kc, 0, n, bp);
    for (int64_t ir = 0; ir < m; ir += MR) {
      const int64_t mr = m - ir < MR ? m - ir : MR;
      const T* a = A + ir * lda + pc;
      if (ir >= mfull) K.pack_a(false, mr, kc, a, lda, ap);
      for (int64_t jr = 0; jr < n; jr += NR) {
        const int64_t nr = n - jr < NR ? n - jr : NR;
        T* c = C + ir * ldc + jr;
        if (ir >= mfull)
          K.packed(kc, ap, 1, MR, bp + jr * kc, NR, c, ldc, mr, nr, T(1), beta_k);
        else
          K.strided(kc, a, lda, 1, bp + jr * kc, NR, c, ldc, mr, nr, T(1), beta_k);
      }
    }
  }
}

// One thread's share of a small product: no packing except zero-padded copies of the edge
// panels (and of B when it is transposed, which the micro-kernel cannot read in place).
template <class T>
void run_direct(const Kernel<T>& K, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                T alpha, const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C,
                int64_t ldc) {
  const int64_t MR = K.mr, NR = K.nr;
  const int64_t mfull = m / MR * MR, nfull = n / NR * NR;
  // A edge panel (rows mfull..m), packed.
  T* aedge = nullptr;
  if (mfull < m) {
    aedge = scratch<T>(MR * k, kScratchGemmA);
    K.pack_a(ta, m - mfull, k, ta ? A + mfull : A + mfull * lda, lda, aedge);
  }
  // B: packed whole when transposed, else only its edge panel.
  T* bpk = nullptr;
  if (tb) {
    bpk = scratch<T>(round_up(n, NR) * k, kScratchGemmB);
    K.pack_b(true, k, n, B, ldb, bpk);
  } else if (nfull < n) {
    bpk = scratch<T>(NR * k, kScratchGemmB);
    K.pack_b(false, k, n - nfull, B + nfull, ldb, bpk);
  }
  const int64_t rsa = ta ? 1 : lda, csa = ta ? lda : 1;
  for (int64_t jr = 0; jr < n; jr += NR) {
    const int64_t nr = n - jr < NR ? n - jr : NR;
    const T* b;
    int64_t rsb;
    if (tb) {
      b = bpk + jr * k;
      rsb = NR;
    } else if (jr < nfull) {
      b = B + jr;
      rsb = ldb;
    } else {
      b = bpk;
      rsb = NR;
    }
    for (int64_t ir = 0; ir < m; ir += MR) {
      T* c = C + ir * ldc + jr;
      if (ir < mfull)
        K.strided(k, ta ? A + ir : A + ir * lda, rsa, csa, b, rsb, c, ldc, MR, nr, alpha, beta);
      else
        K.strided(k, aedge, 1, MR, b, rsb, c, ldc, m - ir, nr, alpha, beta);
    }
  }
}

// ---- Matrix-vector products (m == 1 or n == 1): memory-bound, so plain code with fixed
// 8-wide partial sums (vectorisable without reassociation). Each output is computed by one
// thread in a fixed order: thread-count independent.

// y[r*incy] = alpha * Σ_p M[r*ldm + p] x[p] + beta*y  (rows contiguous in p; x contiguous)
template <class T>
void gemv_dot(bool parallel, int64_t rows, int64_t k, T alpha, const T* M, int64_t ldm,
              const T* x, T beta, T* y, int64_t incy) {
  auto body = [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* mr = M + r * ldm;
      T acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      int64_t p = 0;
      for (; p + 8 <= k; p += 8)
        for (int q = 0; q < 8; ++q) acc[q] += mr[p + q] * x[p + q];
      for (int q = 0; p < k; ++p, ++q) acc[q] += mr[p] * x[p];
      const T s = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
      T* yr = y + r * incy;
      *yr = beta == T(0) ? alpha * s : beta * *yr + alpha * s;
    }
  };
  const int64_t grain = 64;
  if (parallel && static_cast<double>(rows) * k >= 65536.0 && omp_get_level() == 0)
    parallel_for(rows, grain, body);
  else
    body(0, rows);
}

// y[r*incy] = alpha * Σ_p x[p] M[p*ldm + r] + beta*y  (rows of M contiguous in r)
template <class T>
void gemv_axpy(bool parallel, int64_t cols, int64_t k, T alpha, const T* M, int64_t ldm,
               const T* x, T beta, T* y, int64_t incy) {
  constexpr int64_t kBlock = 512;
  auto body = [&](int64_t c0, int64_t c1) {
    for (int64_t b0 = c0; b0 < c1; b0 += kBlock) {
      const int64_t w = c1 - b0 < kBlock ? c1 - b0 : kBlock;
      T acc[kBlock];
      for (int64_t j = 0; j < w; ++j) acc[j] = T(0);
      for (int64_t p = 0; p < k; ++p) {
        const T xp = x[p];
        const T* mp = M + p * ldm + b0;
        for (int64_t j = 0; j < w; ++j) acc[j] += xp * mp[j];
      }
      for (int64_t j = 0; j < w; ++j) {
        T* yj = y + (b0 + j) * incy;
        *yj = beta == T(0) ? alpha * acc[j] : beta * *yj + alpha * acc[j];
      }
    }
  };
  if (parallel && static_cast<double>(cols) * k >= 65536.0 && omp_get_level() == 0)
    parallel_for(cols, kBlock, body);
  else
    body(0, cols);
}

// m == 1 or n == 1.
template <class T>
void gemv_impl(bool parallel, bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha,
               const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (n == 1) {
    // c[i] = Σ_p op(A)(i, p) x[p], x[p] = op(B)(p, 0) = tb ? B[p] : B[p*ldb]
    const T* x = B;
    if (!tb && k > 1 && ldb != 1) {
      T* xs = scratch<T>(k, kScratchGemmX);
      for (int64_t p = 0; p < k; ++p) xs[p] = B[p * ldb];
      x = xs;
    }
    if (!ta)
      gemv_dot(parallel, m, k, alpha, A, lda, x, beta, C, ldc);
    else
      gemv_axpy(parallel, m, k, alpha, A, lda, x, beta, C, ldc);
  } else {
    // c[j] = Σ_p a[p] op(B)(p, j), a[p] = op(A)(0, p) = ta ? A[p*lda] : A[p]
    const T* x = A;
    if (ta && k > 1 && lda != 1) {
      T* xs = scratch<T>(k, kScratchGemmX);
      for (int64_t p = 0; p < k; ++p) xs[p] = A[p * lda];
      x = xs;
    }
    if (tb)
      gemv_dot(parallel, n, k, alpha, B, ldb, x, beta, C, 1);
    else
      gemv_axpy(parallel, n, k, alpha, B, ldb, x, beta, C, 1);
  }
}

// Which loop nest runs a product: a function of the sizes and of B's row stride only, never
// of the thread count, so results are bitwise the same for any number of threads.
//  * gemv: m == 1 or n == 1.
//  * direct (nothing packed but edge panels): products up to 64³ multiply-adds, and thin
//    top-level products (at most 128 rows times a weight with k <= 800, B not transposed)
//    whose B rows do not sit a multiple of 4 KiB apart. Each B micro-panel (k × NR) is then
//    reused from L2 in place by all m/MR row tiles and packing B -- one extra pass over the
//    whole of it, which m <= 128 rows cannot amortise -- is skipped (measured, 1 thread:
//    128×784×512 fastdl packed 120-140 GFLOP/s, in place 160). With rows 4 KiB apart (an
//    im2col matrix of 1024 or 2048 columns) the k rows of a panel share a handful of cache
//    sets and are evicted before their reuse: 64×576×2048 ran at 50-65 GFLOP/s in place.
//  * stream (run_stream): other products of at most kStreamM rows whose packed A fits in
//    kStreamBytes: 64×576×2048 at 110-118 GFLOP/s, 128×576×2048 at 118-138 (packed: ~same as
//    in place before); with more rows the column of C tiles one B panel writes is too tall
//    (576×64×2048: stream 125, packed 148).
//    Not for k <= kStreamMaxThinK: a tile then does so few multiply-adds per output that the
//    writes of C decide, and the stream loop writes the m rows' next NR columns for every B
//    panel (m interleaved write streams of NR values each) where the packed loop writes an
//    NC-long run of each row tile's MR rows. Measured on the Zen 5 VM, 1 thread, caches
//    flushed, 1×1 convolutions of MobileNetV2 at batch 16 (implicit GEMM), ms stream /
//    packed: 16→96 112² forward (m 96, k 16) 6.27 / 3.98, 32→16 112² forward 2.36 / 1.61 and
//    input gradient (m 32, k 16) 2.82 / 1.64, 96→24 56² input gradient (m 96, k 24) 1.84 /
//    1.22; 64→64 56² (k 64) 1.03 / 0.99; k of 96 to 384 0.8-0.9× packed (kept on stream).
//  * packed: the BLIS loops (run_packed).
// (Figures: one thread, CPU time, 2-core Xeon (Emerald Rapids) VM shared with other jobs,
// 2026-12-03; the FMA probe gives 169 GFLOP/s there. bench/bench_gemm.py has the shapes.)
enum class Path { gemv, direct, stream, packed };
constexpr int64_t kStreamM = 128;
constexpr int64_t kStreamBytes = 512 * 1024;
constexpr int64_t kStreamMaxThinK = 32;
template <class T>
bool stream_fits(const Kernel<T>& K, int64_t m, int64_t k) {
  return m <= kStreamM && k > kStreamMaxThinK &&
         round_up(m, K.mr) * k * static_cast<int64_t>(sizeof(T)) <= kStreamBytes;
}
template <class T>
Path choose_path(const Kernel<T>& K, bool parallel, bool tb, int64_t m, int64_t n, int64_t k,
                 int64_t ldb) {
  if (m == 1 || n == 1) return Path::gemv;
  const double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  if (macs <= kDirectMacs) return Path::direct;
  if (parallel && m <= kThinM && k <= kThinK && !tb &&
      (ldb * static_cast<int64_t>(sizeof(T))) % 4096 != 0)
    return Path::direct;
  if (stream_fits(K, m, k)) return Path::stream;
  return Path::packed;
}

// Runs run(i0, i1, j0, j1) over a 2-D grid of blocks of C (one per thread; one block when
// single-threaded). The grid depends on the thread count, but each element of C is computed
// by the same loop nest with the same k blocking in any block, and an edge tile gives its
// elements the same FMAs as a full one: bitwise thread-independent.
template <class T, class Run>
void run_grid(bool parallel, const Kernel<T>& K, int64_t m, int64_t n, int64_t k,
              const Run& run, bool whole_panels = false) {
  const double macs = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k);
  int nt = 1;
  if (parallel && macs >= kParallelMacs && omp_get_level() == 0) nt = num_threads();
  // the grid's units: K.er rows, K.en columns (edge tiles of those sizes waste nothing);
  // whole NR-column panels when B is given as panels (sgemm_prepacked)
  const int64_t en = whole_panels ? K.nr : K.en;
  const int64_t um = (m + K.er - 1) / K.er, un = (n + en - 1) / en;
  if (nt > um * un) nt = static_cast<int>(um * un);
  if (nt <= 1) {
    run(0, m, 0, n);
    return;
  }
  // 2-D grid tm × tn = nt minimising the largest block: its multiply-adds plus kPackMacs per
  // element of A and B the grid makes threads pack (each row block of A is packed by every
  // column block, and B the other way round). Packing an element (a load from wherever the
  // operand is, a store to the thread's buffer) costs about as much as 16 multiply-adds of
  // the micro-kernel: with it counted at 1, a ResNet-50 1×1 weight gradient at batch 8 (dW
  // 2048×512 += dY·Xᵀ, 392 pixels deep) split dW's columns and had both threads pack all of
  // dY, the larger operand; at 16 it splits dW's rows and both pack X (the grid duplicates
  // the smaller operand's packing). Measured, 2 threads, the weight 1 -> 5: 512→2048 7²
  // weight gradient 384 -> 472 GFLOP/s, 128→512 28² 441 -> 500, the 1024→256 14² forward
  // 471 -> 492; 20, 50 and 200 alike. (The grid of weight 1 ran these shapes at either rate
  // from run to run; this one at the higher every time.)
  // The blocks split the units as evenly as whole units allow: on whole MR×NR panels, 2
  // threads had 132 and 124 of 256 rows, 72 and 56 of 128, 224 and 168 of a 7²×8 map's 392
  // columns; in units of 4 rows / 16 columns (AVX-512) 128 and 128, 64 and 64, 192 and 200.
  int tm = 1, tn = nt;
  double best = 1e300;
  for (int d = 1; d <= nt; ++d) {
    if (nt % d) continue;
    const int64_t bm = (um + d - 1) / d, bn = (un + nt / d - 1) / (nt / d);
    const double cost = static_cast<double>(bm * K.er) * static_cast<double>(bn * en) *
                            static_cast<double>(k) +
                        kPackMacs * (static_cast<double>(m) * k * (nt / d) +
                                     static_cast<double>(n) * k * d);
    if (cost < best - 1e-9) {
      best = cost;
      tm = d;
      tn = nt / d;
    }
  }
  // The grid has nt blocks, but OpenMP may grant a smaller team (OMP_THREAD_LIMIT,
  // OMP_DYNAMIC, nesting): each thread takes blocks t, t + granted, ... so every block is
  // computed whatever the team size. A block's result does not depend on which thread runs it.
#pragma omp parallel num_threads(nt)
  {
    const int granted = omp_get_num_threads();
    for (int t = omp_get_thread_num(); t < nt; t += granted) {
      const int64_t tr = t / tn, tc = t % tn;
      const int64_t i0 = tr * um / tm * K.er, j0 = tc * un / tn * en;
      int64_t i1 = (tr + 1) * um / tm * K.er, j1 = (tc + 1) * un / tn * en;
      if (i1 > m) i1 = m;
      if (j1 > n) j1 = n;
      if (i0 < i1 && j0 < j1) run(i0, i1, j0, j1);
    }
  }
}

template <class T>
void gemm_impl(bool parallel, bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha,
               const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0 || alpha == T(0)) {
    scale_c(m, n, beta, C, ldc);
    return;
  }
  if (m == 1 || n == 1) {
    gemv_impl(parallel, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  const Kernel<T>& K = *active_kernel<T>();
  const Path path = choose_path(K, parallel, tb, m, n, k, ldb);
  const bool pf = prefetch_blocks<T>(n, k);
  run_grid(parallel, K, m, n, k, [&](int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    if (i0 >= i1 || j0 >= j1) return;
    const T* a = ta ? A + i0 : A + i0 * lda;
    const T* b = tb ? B + j0 * ldb : B + j0;
    T* c = C + i0 * ldc + j0;
    const DenseB<T> pb{K, tb, b, ldb};
    if (path == Path::direct)
      run_direct(K, ta, tb, i1 - i0, j1 - j0, k, alpha, a, lda, b, ldb, beta, c, ldc);
    else if (path == Path::stream)
      run_stream(K, ta, i1 - i0, j1 - j0, k, alpha, a, lda, pb, beta, c, ldc);
    else
      run_packed(K, ta, i1 - i0, j1 - j0, k, alpha, a, lda, pb, beta, c, ldc, pf);
  });
}

// Implicit GEMM (gemm.h): B only through its packing callback, so the stream or packed
// loop nest (the same choice as a dense B's, without the in-place direct path).
template <class T>
void gemm_implicit_impl(bool ta, int64_t m, int64_t n, int64_t k, const T* A, int64_t lda,
                        PackBFn<T> pack, const void* ctx, T beta, T* C, int64_t ldc,
                        int64_t c_seg, int64_t c_seg_stride, const RowEpilogue<T>* epi) {
  if (m <= 0 || n <= 0) return;
  const Kernel<T>& K = *active_kernel<T>();
  if (c_seg > 0 && c_seg_stride < c_seg)
    throw std::invalid_argument("gemm_implicit: c_seg_stride must be >= c_seg");
  if (epi && (c_seg <= 0 || k <= 0))  // (only SegC's tiles apply it: gemm.h)
    throw std::invalid_argument("gemm_implicit: an epilogue needs c_seg > 0 and k > 0");
  if (k <= 0) {
    if (c_seg <= 0) {
      scale_c(m, n, beta, C, ldc);
    } else {
      for (int64_t j = 0; j < n; j += c_seg)
        scale_c(m, n - j < c_seg ? n - j : c_seg, beta, C + j / c_seg * c_seg_stride, ldc);
    }
    return;
  }
  const bool stream = stream_fits(K, m, k);
  const bool pf = prefetch_blocks<T>(n, k);
  run_grid(true, K, m, n, k, [&](int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    if (i0 >= i1 || j0 >= j1) return;
    const CallbackB<T> pb{pack, ctx, j0, K.nr};
    const T* a = ta ? A + i0 : A + i0 * lda;
    if (c_seg > 0) {
      const SegC cm{j0, c_seg, c_seg_stride, epi, C};
      if (stream)
        run_stream(K, ta, i1 - i0, j1 - j0, k, T(1), a, lda, pb, beta, C + i0 * ldc, ldc, cm);
      else
        run_packed(K, ta, i1 - i0, j1 - j0, k, T(1), a, lda, pb, beta, C + i0 * ldc, ldc, pf,
                   cm);
      return;
    }
    if (stream)
      run_stream(K, ta, i1 - i0, j1 - j0, k, T(1), a, lda, pb, beta, C + i0 * ldc + j0, ldc);
    else
      run_packed(K, ta, i1 - i0, j1 - j0, k, T(1), a, lda, pb, beta, C + i0 * ldc + j0, ldc,
                 pf);
  });
}
}  // namespace

void sgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* A,
           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm_impl(true, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
void dgemm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha, const double* A,
           int64_t lda, const double* B, int64_t ldb, double beta, double* C, int64_t ldc) {
  gemm_impl(true, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
void sgemm_serial(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha,
                  const float* A, int64_t lda, const float* B, int64_t ldb, float beta,
                  float* C, int64_t ldc) {
  gemm_impl(false, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}
void dgemm_serial(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
                  const double* A, int64_t lda, const double* B, int64_t ldb, double beta,
                  double* C, int64_t ldc) {
  gemm_impl(false, ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc);
}

void sgemm_prepacked(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda,
                     bool trans_a, const float* panels, float beta, float* C, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) return scale_c(m, n, beta, C, ldc);
  const Kernel<float>& K = *active_kernel<float>();
  run_grid(true, K, m, n, k, [&](int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    if (i0 >= i1 || j0 >= j1) return;
    const PanelB<float> pb{panels + j0 / K.nr * K.nr * k, k, K.nr};
    run_stream(K, trans_a, i1 - i0, j1 - j0, k, 1.0f, trans_a ? A + i0 : A + i0 * lda, lda, pb,
               beta, C + i0 * ldc + j0, ldc);
  }, true);
}

template <class T>
void gemm_a_inplace_impl(int64_t m, int64_t n, int64_t k, const T* A, int64_t lda,
                         PackBFn<T> pack, const void* ctx, T beta, T* C, int64_t ldc) {
  if (m <= 0 || n <= 0) return;
  if (k <= 0) return scale_c(m, n, beta, C, ldc);
  const Kernel<T>& K = *active_kernel<T>();
  run_grid(true, K, m, n, k, [&](int64_t i0, int64_t i1, int64_t j0, int64_t j1) {
    if (i0 >= i1 || j0 >= j1) return;
    const CallbackB<T> pb{pack, ctx, j0, K.nr};
    run_a_inplace(K, i1 - i0, j1 - j0, k, A + i0 * lda, lda, pb, beta, C + i0 * ldc + j0, ldc);
  });
}

void sgemm_implicit_a_inplace(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda,
                              PackBFn<float> pack, const void* ctx, float beta, float* C,
                              int64_t ldc) {
  gemm_a_inplace_impl(m, n, k, A, lda, pack, ctx, beta, C, ldc);
}
void dgemm_implicit_a_inplace(int64_t m, int64_t n, int64_t k, const double* A, int64_t lda,
                              PackBFn<double> pack, const void* ctx, double beta, double* C,
                              int64_t ldc) {
  gemm_a_inplace_impl(m, n, k, A, lda, pack, ctx, beta, C, ldc);
}

void sgemm_implicit(int64_t m, int64_t n, int64_t k, const float* A, int64_t lda,
                    PackBFn<float> pack, const void* ctx, float beta, float* C, int64_t ldc,
                    int64_t c_seg, int64_t c_seg_stride, bool trans_a,
                    const RowEpilogue<float>* epi) {
  gemm_implicit_impl(trans_a, m, n, k, A, lda, pack, ctx, beta, C, ldc, c_seg, c_seg_stride,
                     epi);
}
void dgemm_implicit(int64_t m, int64_t n, int64_t k, const double* A, int64_t lda,
                    PackBFn<double> pack, const void* ctx, double beta, double* C,
                    int64_t ldc, int64_t c_seg, int64_t c_seg_stride, bool trans_a,
                    const RowEpilogue<double>* epi) {
  gemm_implicit_impl(trans_a, m, n, k, A, lda, pack, ctx, beta, C, ldc, c_seg, c_seg_stride,
                     epi);
}

void spack_b(bool trans, int64_t kc, int64_t nc, const float* B, int64_t ldb, float* bp) {
  active_kernel<float>()->pack_b(trans, kc, nc, B, ldb, bp);
}
void dpack_b(bool trans, int64_t kc, int64_t nc, const double* B, int64_t ldb, double* bp) {
  active_kernel<double>()->pack_b(trans, kc, nc, B, ldb, bp);
}

Blocking blocking(int dtype_size) {
  if (dtype_size == 8) {
    const Kernel<double>& K = *active_kernel<double>();
    return {K.mr, K.nr, K.kc, K.mc, K.nc};
  }
  const Kernel<float>& K = *active_kernel<float>();
  return {K.mr, K.nr, K.kc, K.mc, K.nc};
}

const char* path_name(int dtype_size, bool parallel, bool trans_b, int64_t m, int64_t n,
                      int64_t k) {
  if (m <= 0 || n <= 0 || k <= 0) return "none";
  const int64_t ldb = trans_b ? k : n;  // a contiguous B
  const Path p =
      dtype_size == 8 ? choose_path(*active_kernel<double>(), parallel, trans_b, m, n, k, ldb)
                      : choose_path(*active_kernel<float>(), parallel, trans_b, m, n, k, ldb);
  switch (p) {
    case Path::gemv: return "gemv";
    case Path::direct: return "direct";
    case Path::stream: return "stream";
    default: return "packed";
  }
}

double fma_probe(int64_t iters) { return ops().fma_probe(iters); }

}  // namespace gemm
}  // namespace fastdl
