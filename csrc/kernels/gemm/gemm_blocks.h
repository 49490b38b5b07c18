// GEMM block sizes, one table per architecture (as BLIS's bli_cntx_init_<arch>.c): the
// register blocking MR x NR of the micro-kernel and the cache blocking KC, MC, NC, in
// elements, per dtype. Each ISA's GemmOps (gemm_internal.h) is built from its table, and
// tests read the active one back through fastdl::gemm::blocking.
//
// Sized for AMD Zen 4 (L1d 32 KiB, L2 1 MiB per core, 32 MiB L3):
//
//   path / dtype      MR  NR   KC   MC   NC    A micro-panel   B block
//   avx512 float32    12  32  256  144  512    12 KiB (L1)     512 KiB (L2)
//   avx512 float64    12  16  192   96  256    18 KiB (L1)     384 KiB (L2)
//   avx2   float32     6  16  256  144  512     6 KiB (L1)     512 KiB (L2)
//   avx2   float64     6   8  256   96  256    12 KiB (L1)     512 KiB (L2)
//   generic float32    6   8  256  120  512     6 KiB (L1)     512 KiB (L2)
//   generic float64    6   4  256   96  256    12 KiB (L1)     512 KiB (L2)
//
// Checked on the Intel Xeon of the benchmarks (AVX-512, L1d 48 KiB, L2 2 MiB per core), float32,
// one thread, CPU time, each configuration in its own process, 3 rounds interleaved, the
// minimum per case (a machine shared with other jobs, 2026-12-03), over 8 GEMMs (1024³, the
// ResNet-18 conv products 64..512 × 576..4608 × 512..2048 and their transposed backward
// products) and the forward, input and weight gradients of five ResNet-18 conv layers on the
// implicit GEMM: geometric mean of the speedup against KC 256, MC 144, NC 512 --
//   KC/MC/NC  384/144/512 0.93   512/144/512 0.97   256/144/1024 0.91   384/144/672 0.96
//             512/96/512  0.98   384/240/1024 0.92  256/288/1024 0.95
// so the AVX-512 float32 row stays (single cases vary by ±20 % between rounds on that machine:
// no configuration wins consistently). The B block (512 KiB) fills a quarter of the Xeon's L2.
//
// NR is a whole number of the ISA's vectors (simd::Vf::N / Vd::N: 16 / 8 on AVX-512, 8 / 4
// on AVX2, 1 on the generic path); the AVX-512 micro-kernel is written for MR = 12 and two
// vectors.
#pragma once
#include <cstdint>

namespace fastdl {
namespace gemm {

struct Blocks {
  int64_t mr, nr, kc, mc, nc;
  // The steps of the threads' grid of C (gemm.cpp, run_grid): rows and columns at which an
  // edge tile computes no padding (the AVX-512 micro-kernel has 4- and 8-row and one-vector
  // instantiations; the others compute the whole MR×NR tile for any edge).
  int64_t er, en;
};
struct ArchBlocks {
  Blocks f;  // float32
  Blocks d;  // float64
};

//                                     MR  NR   KC   MC   NC  ER  EN
constexpr ArchBlocks kBlocksAvx512 = {{12, 32, 256, 144, 512, 4, 16},
                                      {12, 16, 192, 96, 256, 4, 8}};
constexpr ArchBlocks kBlocksAvx2 = {{6, 16, 256, 144, 512, 6, 16},
                                    {6, 8, 256, 96, 256, 6, 8}};
constexpr ArchBlocks kBlocksGeneric = {{6, 8, 256, 120, 512, 6, 8},
                                       {6, 4, 256, 96, 256, 6, 4}};

}  // namespace gemm
}  // namespace fastdl
