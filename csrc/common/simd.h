// The one SIMD layer of the kernels: a vector type per instruction set and element type, and
// the math on it (exp/expm1/log/log1p/tanh/erf/erfc/normcdf/sigmoid/softplus/log_sigmoid),
// one copy per instruction set.
//
// ISA selection: the flags a translation unit is compiled with (its file name decides them,
// see CMakeLists.txt) set one macro, FASTDL_SIMD_ISA, and with it the vector types:
//   *_avx512.cpp  ->  FASTDL_SIMD_ISA = avx512   Vf = 16 x float (__m512),  Vd = 8 x double
//   *_avx2.cpp    ->  FASTDL_SIMD_ISA = avx2     Vf = 8 x float (__m256),   Vd = 4 x double
//   anything else ->  FASTDL_SIMD_ISA = generic  Vf = 1 x float,            Vd = 1 x double
// (FASTDL_SIMD_LEVEL is 2 / 1 / 0 for #if.) Vec<float> = Vf and Vec<double> = Vd, for code
// templated on the element type. Functions: exp expm1 log log1p tanh erf erfc normcdf sigmoid
// softplus log_sigmoid, and exp_nonpos (e^x for x <= 0: the cheap exp of x - max).
//
// fastdl::simd::<isa> is an inline namespace, so code writes `simd::Vf`, `simd::exp(v)` and
// gets the flavour of its own translation unit. Every function and type has the ISA in its
// mangled name, so the AVX-512 copy of an inline function can never be merged by the linker
// into generic code (no ODR clash). Rule for includers: put your own inline functions and
// templates that use simd:: inside your per-ISA namespace too, which is spelt
// `namespace FASTDL_SIMD_ISA { ... }` inside the family's namespace (fastdl::<family>::avx512
// ...), where the family's Ops table for that ISA is defined (see common/dispatch.h).
//
// Interface of V in {Vf, Vd} (T = float or double, N lanes, M = V::Mask):
//   V(T s) broadcast;  V::load(p), V::load(p, n) (first n < N lanes, rest 0), V::load(p, n,
//   fill) (rest = fill), v.store(p), v.stream(p) (non-temporal, p aligned to the vector size;
//   follow a run of streams with stream_fence()),
//   v.store(p, n);  + - * / unary-;  fma(a, b, c) = a*b + c;  fms(a, b, c) = a*b - c;
//   mul_add(a, b, c) = a*b + c and fnma(a, b, c) = c - a*b (fused where the ISA has FMA, a
//   multiply and an add on the generic path);
//   min(a, b), max(a, b) (return b when either is NaN, like x86 minps/maxps: max(V(0), x)
//   propagates a NaN x);  abs, sqrt,
//   copysign(mag, sgn), round (to nearest even);  comparisons -> M;  M & | ~;  any(m), all(m);
//   select(m, a, b) = m ? a : b;  isnan(v);  hsum(v), hmax(v) (fixed order: deterministic);
//   load_widen(const float* p[, n]) -> Vd (Vd::N floats widened to double);
//   plain(v) (an optimisation barrier: keeps a load of v from being fused into a masked load).
// AVX-512 only, for hand-written intrinsics: tail16(n) / tail8(n) (the low n lanes, 0 <= n <=
// N) and lane_mask(n) (the low n of 16 lanes for any n, clamped to 0 .. 16).
//
// Float accuracy (tests/test_eltwise.py sweeps on every ISA; offline runs against double
// libm/scipy over every 3rd float32 bit pattern, and every 97th for exp, expm1, tanh, sigmoid,
// softplus, log_sigmoid and normcdf): exp 8.6e-8, expm1 1.2e-7, log 8.1e-8, log1p 1.0e-7, tanh
// 1.7e-7, erf 1.1e-7, sigmoid 1.7e-7, softplus 1.8e-7, log_sigmoid 1.8e-7 relative over the
// whole domain (all within 2e-7, about 1-2 ulp); erfc 3.4e-7 and normcdf 3.1e-7 relative down
// to 1e-37 (denormal results are only as precise as denormals allow).
// Special values as IEEE/libm: exp(-inf)=0, exp(inf)=inf, log(0)=-inf, log(x<0)=NaN,
// tanh(+-inf)=+-1, erf(+-inf)=+-1, erfc(inf)=0, erfc(-inf)=2; NaN in -> NaN out; no overflow
// or NaN for large finite inputs (exp(1e4)=inf, tanh(1e4)=1, erf(-1e4)=-1, ...).
// Double: arithmetic is vectorised; the transcendental functions call libm per lane
// (float64 is the gradcheck path, not the fast path).
#pragma once
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#if defined(__AVX512F__) && defined(__AVX512DQ__) && defined(__AVX512BW__) && \
    defined(__AVX512VL__) && defined(__FMA__)
#define FASTDL_SIMD_ISA avx512
#define FASTDL_SIMD_LEVEL 2
#include <immintrin.h>
#elif defined(__AVX2__) && defined(__FMA__)
#define FASTDL_SIMD_ISA avx2
#define FASTDL_SIMD_LEVEL 1
#include <immintrin.h>
#else
#define FASTDL_SIMD_ISA generic
#define FASTDL_SIMD_LEVEL 0
#endif

// The float math functions are always inlined: GCC left tanh, sigmoid, softplus and the
// normal tail out of line, and each call inside a vector loop spilled every live vector and
// kept the loop's independent vectors from overlapping.
#if defined(__GNUC__)
#define FASTDL_SIMD_INLINE inline __attribute__((always_inline))
#else
#define FASTDL_SIMD_INLINE inline
#endif

namespace fastdl {
namespace simd {

// Long sums (softmax, norm and loss statistics) go kLaneTerms terms per vector lane in the
// element type, then each lane is added into a double. A lane never holds more than
// kLaneTerms terms (relative error at most kLaneTerms·eps, 2e-6 in float32, even for the
// correlated rounding of equal terms), so the total stays exact to the element type's
// rounding however long the row: a float lane summing a whole row drifts after ~10^5 terms
// and stops growing at 2^24.
constexpr int64_t kLaneTerms = 32;

inline namespace FASTDL_SIMD_ISA {

// ======================================================================================
// Wrapper types
// ======================================================================================
#if FASTDL_SIMD_LEVEL == 2

struct Mf {
  __mmask16 m;
};
struct Md {
  __mmask8 m;
};
inline __mmask16 tail16(int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }
inline __mmask8 tail8(int64_t n) { return static_cast<__mmask8>((1u << n) - 1u); }
// The low n of 16 lanes for any n: none when n <= 0, all when n >= 16 (a row tail of n
// elements, where n may run past either end).
inline __mmask16 lane_mask(int64_t n) {
  return n >= 16 ? static_cast<__mmask16>(0xFFFF)
                 : n <= 0 ? static_cast<__mmask16>(0) : tail16(n);
}

struct Vf {
  using T = float;
  using Mask = Mf;
  static constexpr int N = 16;
  __m512 v;
  Vf() = default;
  Vf(__m512 x) : v(x) {}
  Vf(float s) : v(_mm512_set1_ps(s)) {}
  static Vf load(const float* p) { return _mm512_loadu_ps(p); }
  static Vf load(const float* p, int64_t n) { return _mm512_maskz_loadu_ps(tail16(n), p); }
  static Vf load(const float* p, int64_t n, float fill) {
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), tail16(n), p);
  }
  void store(float* p) const { _mm512_storeu_ps(p, v); }
  void store(float* p, int64_t n) const { _mm512_mask_storeu_ps(p, tail16(n), v); }
  void stream(float* p) const { _mm512_stream_ps(p, v); }  // p 64-byte aligned
};
struct Vd {
  using T = double;
  using Mask = Md;
  static constexpr int N = 8;
  __m512d v;
  Vd() = default;
  Vd(__m512d x) : v(x) {}
  Vd(double s) : v(_mm512_set1_pd(s)) {}
  static Vd load(const double* p) { return _mm512_loadu_pd(p); }
  static Vd load(const double* p, int64_t n) { return _mm512_maskz_loadu_pd(tail8(n), p); }
  static Vd load(const double* p, int64_t n, double fill) {
    return _mm512_mask_loadu_pd(_mm512_set1_pd(fill), tail8(n), p);
  }
  void store(double* p) const { _mm512_storeu_pd(p, v); }
  void store(double* p, int64_t n) const { _mm512_mask_storeu_pd(p, tail8(n), v); }
  void stream(double* p) const { _mm512_stream_pd(p, v); }
};

inline Vf operator+(Vf a, Vf b) { return _mm512_add_ps(a.v, b.v); }
inline Vf operator-(Vf a, Vf b) { return _mm512_sub_ps(a.v, b.v); }
inline Vf operator*(Vf a, Vf b) { return _mm512_mul_ps(a.v, b.v); }
inline Vf operator/(Vf a, Vf b) { return _mm512_div_ps(a.v, b.v); }
inline Vf operator-(Vf a) { return _mm512_xor_ps(a.v, _mm512_set1_ps(-0.0f)); }
inline Vf fma(Vf a, Vf b, Vf c) { return _mm512_fmadd_ps(a.v, b.v, c.v); }
inline Vf fms(Vf a, Vf b, Vf c) { return _mm512_fmsub_ps(a.v, b.v, c.v); }
inline Vf min(Vf a, Vf b) { return _mm512_min_ps(a.v, b.v); }
inline Vf max(Vf a, Vf b) { return _mm512_max_ps(a.v, b.v); }
inline Vf abs(Vf a) { return _mm512_andnot_ps(_mm512_set1_ps(-0.0f), a.v); }
inline Vf sqrt(Vf a) { return _mm512_sqrt_ps(a.v); }
inline Vf copysign(Vf mag, Vf sgn) {
  const __m512 s = _mm512_set1_ps(-0.0f);
  return _mm512_or_ps(_mm512_andnot_ps(s, mag.v), _mm512_and_ps(s, sgn.v));
}
inline Vf round(Vf a) { return _mm512_roundscale_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline Mf operator<(Vf a, Vf b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_LT_OQ)}; }
inline Mf operator<=(Vf a, Vf b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_LE_OQ)}; }
inline Mf operator>(Vf a, Vf b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GT_OQ)}; }
inline Mf operator>=(Vf a, Vf b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_GE_OQ)}; }
inline Mf operator==(Vf a, Vf b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_EQ_OQ)}; }
inline Mf operator!=(Vf a, Vf b) { return {_mm512_cmp_ps_mask(a.v, b.v, _CMP_NEQ_UQ)}; }
inline Mf isnan(Vf a) { return {_mm512_cmp_ps_mask(a.v, a.v, _CMP_UNORD_Q)}; }
inline Mf operator&(Mf a, Mf b) { return {static_cast<__mmask16>(a.m & b.m)}; }
inline Mf operator|(Mf a, Mf b) { return {static_cast<__mmask16>(a.m | b.m)}; }
inline Mf operator~(Mf a) { return {static_cast<__mmask16>(~a.m)}; }
inline bool any(Mf a) { return a.m != 0; }
inline bool all(Mf a) { return a.m == 0xFFFF; }
inline Vf select(Mf m, Vf a, Vf b) { return _mm512_mask_blend_ps(m.m, b.v, a.v); }
inline float hsum(Vf a) { return _mm512_reduce_add_ps(a.v); }
inline float hmax(Vf a) { return _mm512_reduce_max_ps(a.v); }

inline Vd operator+(Vd a, Vd b) { return _mm512_add_pd(a.v, b.v); }
inline Vd operator-(Vd a, Vd b) { return _mm512_sub_pd(a.v, b.v); }
inline Vd operator*(Vd a, Vd b) { return _mm512_mul_pd(a.v, b.v); }
inline Vd operator/(Vd a, Vd b) { return _mm512_div_pd(a.v, b.v); }
inline Vd operator-(Vd a) { return _mm512_xor_pd(a.v, _mm512_set1_pd(-0.0)); }
inline Vd fma(Vd a, Vd b, Vd c) { return _mm512_fmadd_pd(a.v, b.v, c.v); }
inline Vd fms(Vd a, Vd b, Vd c) { return _mm512_fmsub_pd(a.v, b.v, c.v); }
inline Vd min(Vd a, Vd b) { return _mm512_min_pd(a.v, b.v); }
inline Vd max(Vd a, Vd b) { return _mm512_max_pd(a.v, b.v); }
inline Vd abs(Vd a) { return _mm512_andnot_pd(_mm512_set1_pd(-0.0), a.v); }
inline Vd sqrt(Vd a) { return _mm512_sqrt_pd(a.v); }
inline Vd copysign(Vd mag, Vd sgn) {
  const __m512d s = _mm512_set1_pd(-0.0);
  return _mm512_or_pd(_mm512_andnot_pd(s, mag.v), _mm512_and_pd(s, sgn.v));
}
inline Vd round(Vd a) { return _mm512_roundscale_pd(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline Md operator<(Vd a, Vd b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_LT_OQ)}; }
inline Md operator<=(Vd a, Vd b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_LE_OQ)}; }
inline Md operator>(Vd a, Vd b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_GT_OQ)}; }
inline Md operator>=(Vd a, Vd b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_GE_OQ)}; }
inline Md operator==(Vd a, Vd b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_EQ_OQ)}; }
inline Md operator!=(Vd a, Vd b) { return {_mm512_cmp_pd_mask(a.v, b.v, _CMP_NEQ_UQ)}; }
inline Md isnan(Vd a) { return {_mm512_cmp_pd_mask(a.v, a.v, _CMP_UNORD_Q)}; }
inline Md operator&(Md a, Md b) { return {static_cast<__mmask8>(a.m & b.m)}; }
inline Md operator|(Md a, Md b) { return {static_cast<__mmask8>(a.m | b.m)}; }
inline Md operator~(Md a) { return {static_cast<__mmask8>(~a.m)}; }
inline bool any(Md a) { return a.m != 0; }
inline bool all(Md a) { return a.m == 0xFF; }
inline Vd select(Md m, Vd a, Vd b) { return _mm512_mask_blend_pd(m.m, b.v, a.v); }
inline double hsum(Vd a) { return _mm512_reduce_add_pd(a.v); }
inline double hmax(Vd a) { return _mm512_reduce_max_pd(a.v); }

namespace detail {
// table[bits(k) & 7] per lane (k a float whose low mantissa bits hold a small integer, as
// fma(y, c, kRoundMagic) leaves them): the coefficient of a piecewise polynomial.
inline Vf lookup8(const float* table, Vf k) {
  return _mm512_permutexvar_ps(_mm512_castps_si512(k.v),
                               _mm512_broadcast_f32x8(_mm256_loadu_ps(table)));
}
// p * 2^n for integral n in [-152, 128], rounding once (over/underflow as IEEE).
inline Vf scale(Vf p, Vf n) { return _mm512_scalef_ps(p.v, n.v); }
// 2^n for integral n in [-126, 127].
inline Vf pow2i(Vf n) {
  __m512i i = _mm512_cvtps_epi32(n.v);
  return _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(i, _mm512_set1_epi32(127)), 23));
}
// x = m * 2^e with m in [sqrt(1/2), sqrt(2)), for finite x > 0 (denormals included).
inline void frexp(Vf x, Vf& m, Vf& e) {
  __m512 mm = _mm512_getmant_ps(x.v, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_zero);
  __m512 ee = _mm512_getexp_ps(x.v);
  __mmask16 big = _mm512_cmp_ps_mask(mm, _mm512_set1_ps(1.41421356f), _CMP_GE_OQ);
  m = _mm512_mask_mul_ps(mm, big, mm, _mm512_set1_ps(0.5f));
  e = _mm512_mask_add_ps(ee, big, ee, _mm512_set1_ps(1.0f));
}
}  // namespace detail

// r[0..15] rows -> r[c] = column c: a 16×16 float (or any 4-byte) transpose in registers
// (the GEMM's transposing packs, the NCHW <-> NHWC copies of tensorops).
inline void transpose16(__m512 r[16]) {
  __m512 t[16];
#pragma GCC unroll 8
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
  }
  __m512 u[16];
#pragma GCC unroll 4
  for (int i = 0; i < 4; ++i) {
    const __m512d a0 = _mm512_castps_pd(t[4 * i]), a1 = _mm512_castps_pd(t[4 * i + 1]);
    const __m512d a2 = _mm512_castps_pd(t[4 * i + 2]), a3 = _mm512_castps_pd(t[4 * i + 3]);
    u[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a0, a2));
    u[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a0, a2));
    u[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(a1, a3));
    u[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(a1, a3));
  }
  // u[4i+q], 128-bit lane L = column 4L+q of rows 4i..4i+3
#pragma GCC unroll 4
  for (int q = 0; q < 4; ++q) {
    const __m512 v0 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0x44);
    const __m512 v1 = _mm512_shuffle_f32x4(u[q], u[4 + q], 0xEE);
    const __m512 w0 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0x44);
    const __m512 w1 = _mm512_shuffle_f32x4(u[8 + q], u[12 + q], 0xEE);
    r[0 + q] = _mm512_shuffle_f32x4(v0, w0, 0x88);
    r[4 + q] = _mm512_shuffle_f32x4(v0, w0, 0xDD);
    r[8 + q] = _mm512_shuffle_f32x4(v1, w1, 0x88);
    r[12 + q] = _mm512_shuffle_f32x4(v1, w1, 0xDD);
  }
}

// The 16×16 block of rows src[i·ld + 0..16) (lanes outside `mask` and rows from `rows` on
// read as zero), transposed: r[c] = column c of the block (masked loads: no access past a
// row's last wanted lane). The transposing copies of gemm's packs, tensorops' layout copies
// and conv's weight packing.
inline void load_transpose16(const float* src, int64_t ld, int rows, __mmask16 mask,
                             __m512 r[16]) {
#pragma GCC unroll 16
  for (int i = 0; i < 16; ++i)
    r[i] = i < rows ? _mm512_maskz_loadu_ps(mask, src + i * ld) : _mm512_setzero_ps();
  transpose16(r);
}

#elif FASTDL_SIMD_LEVEL == 1

struct Mf {
  __m256 m;
};
struct Md {
  __m256d m;
};
inline __m256i tail_i32(int64_t n) {
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}
inline __m256i tail_i64(int64_t n) {
  return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
}

struct Vf {
  using T = float;
  using Mask = Mf;
  static constexpr int N = 8;
  __m256 v;
  Vf() = default;
  Vf(__m256 x) : v(x) {}
  Vf(float s) : v(_mm256_set1_ps(s)) {}
  static Vf load(const float* p) { return _mm256_loadu_ps(p); }
  static Vf load(const float* p, int64_t n) { return _mm256_maskload_ps(p, tail_i32(n)); }
  static Vf load(const float* p, int64_t n, float fill) {
    __m256i m = tail_i32(n);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m), _mm256_castsi256_ps(m));
  }
  void store(float* p) const { _mm256_storeu_ps(p, v); }
  void store(float* p, int64_t n) const { _mm256_maskstore_ps(p, tail_i32(n), v); }
  void stream(float* p) const { _mm256_stream_ps(p, v); }  // p 32-byte aligned
};
struct Vd {
  using T = double;
  using Mask = Md;
  static constexpr int N = 4;
  __m256d v;
  Vd() = default;
  Vd(__m256d x) : v(x) {}
  Vd(double s) : v(_mm256_set1_pd(s)) {}
  static Vd load(const double* p) { return _mm256_loadu_pd(p); }
  static Vd load(const double* p, int64_t n) { return _mm256_maskload_pd(p, tail_i64(n)); }
  static Vd load(const double* p, int64_t n, double fill) {
    __m256i m = tail_i64(n);
    return _mm256_blendv_pd(_mm256_set1_pd(fill), _mm256_maskload_pd(p, m), _mm256_castsi256_pd(m));
  }
  void store(double* p) const { _mm256_storeu_pd(p, v); }
  void store(double* p, int64_t n) const { _mm256_maskstore_pd(p, tail_i64(n), v); }
  void stream(double* p) const { _mm256_stream_pd(p, v); }
};

inline Vf operator+(Vf a, Vf b) { return _mm256_add_ps(a.v, b.v); }
inline Vf operator-(Vf a, Vf b) { return _mm256_sub_ps(a.v, b.v); }
inline Vf operator*(Vf a, Vf b) { return _mm256_mul_ps(a.v, b.v); }
inline Vf operator/(Vf a, Vf b) { return _mm256_div_ps(a.v, b.v); }
inline Vf operator-(Vf a) { return _mm256_xor_ps(a.v, _mm256_set1_ps(-0.0f)); }
inline Vf fma(Vf a, Vf b, Vf c) { return _mm256_fmadd_ps(a.v, b.v, c.v); }
inline Vf fms(Vf a, Vf b, Vf c) { return _mm256_fmsub_ps(a.v, b.v, c.v); }
inline Vf min(Vf a, Vf b) { return _mm256_min_ps(a.v, b.v); }
inline Vf max(Vf a, Vf b) { return _mm256_max_ps(a.v, b.v); }
inline Vf abs(Vf a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a.v); }
inline Vf sqrt(Vf a) { return _mm256_sqrt_ps(a.v); }
inline Vf copysign(Vf mag, Vf sgn) {
  const __m256 s = _mm256_set1_ps(-0.0f);
  return _mm256_or_ps(_mm256_andnot_ps(s, mag.v), _mm256_and_ps(s, sgn.v));
}
inline Vf round(Vf a) { return _mm256_round_ps(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline Mf operator<(Vf a, Vf b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LT_OQ)}; }
inline Mf operator<=(Vf a, Vf b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_LE_OQ)}; }
inline Mf operator>(Vf a, Vf b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GT_OQ)}; }
inline Mf operator>=(Vf a, Vf b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_GE_OQ)}; }
inline Mf operator==(Vf a, Vf b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_EQ_OQ)}; }
inline Mf operator!=(Vf a, Vf b) { return {_mm256_cmp_ps(a.v, b.v, _CMP_NEQ_UQ)}; }
inline Mf isnan(Vf a) { return {_mm256_cmp_ps(a.v, a.v, _CMP_UNORD_Q)}; }
inline Mf operator&(Mf a, Mf b) { return {_mm256_and_ps(a.m, b.m)}; }
inline Mf operator|(Mf a, Mf b) { return {_mm256_or_ps(a.m, b.m)}; }
inline Mf operator~(Mf a) {
  return {_mm256_xor_ps(a.m, _mm256_castsi256_ps(_mm256_set1_epi32(-1)))};
}
inline bool any(Mf a) { return _mm256_movemask_ps(a.m) != 0; }
inline bool all(Mf a) { return _mm256_movemask_ps(a.m) == 0xFF; }
inline Vf select(Mf m, Vf a, Vf b) { return _mm256_blendv_ps(b.v, a.v, m.m); }
inline float hsum(Vf a) {
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  s = _mm_add_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}
inline float hmax(Vf a) {
  __m128 s = _mm_max_ps(_mm256_castps256_ps128(a.v), _mm256_extractf128_ps(a.v, 1));
  s = _mm_max_ps(s, _mm_movehl_ps(s, s));
  s = _mm_max_ss(s, _mm_movehdup_ps(s));
  return _mm_cvtss_f32(s);
}

inline Vd operator+(Vd a, Vd b) { return _mm256_add_pd(a.v, b.v); }
inline Vd operator-(Vd a, Vd b) { return _mm256_sub_pd(a.v, b.v); }
inline Vd operator*(Vd a, Vd b) { return _mm256_mul_pd(a.v, b.v); }
inline Vd operator/(Vd a, Vd b) { return _mm256_div_pd(a.v, b.v); }
inline Vd operator-(Vd a) { return _mm256_xor_pd(a.v, _mm256_set1_pd(-0.0)); }
inline Vd fma(Vd a, Vd b, Vd c) { return _mm256_fmadd_pd(a.v, b.v, c.v); }
inline Vd fms(Vd a, Vd b, Vd c) { return _mm256_fmsub_pd(a.v, b.v, c.v); }
inline Vd min(Vd a, Vd b) { return _mm256_min_pd(a.v, b.v); }
inline Vd max(Vd a, Vd b) { return _mm256_max_pd(a.v, b.v); }
inline Vd abs(Vd a) { return _mm256_andnot_pd(_mm256_set1_pd(-0.0), a.v); }
inline Vd sqrt(Vd a) { return _mm256_sqrt_pd(a.v); }
inline Vd copysign(Vd mag, Vd sgn) {
  const __m256d s = _mm256_set1_pd(-0.0);
  return _mm256_or_pd(_mm256_andnot_pd(s, mag.v), _mm256_and_pd(s, sgn.v));
}
inline Vd round(Vd a) { return _mm256_round_pd(a.v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline Md operator<(Vd a, Vd b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_LT_OQ)}; }
inline Md operator<=(Vd a, Vd b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_LE_OQ)}; }
inline Md operator>(Vd a, Vd b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_GT_OQ)}; }
inline Md operator>=(Vd a, Vd b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_GE_OQ)}; }
inline Md operator==(Vd a, Vd b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_EQ_OQ)}; }
inline Md operator!=(Vd a, Vd b) { return {_mm256_cmp_pd(a.v, b.v, _CMP_NEQ_UQ)}; }
inline Md isnan(Vd a) { return {_mm256_cmp_pd(a.v, a.v, _CMP_UNORD_Q)}; }
inline Md operator&(Md a, Md b) { return {_mm256_and_pd(a.m, b.m)}; }
inline Md operator|(Md a, Md b) { return {_mm256_or_pd(a.m, b.m)}; }
inline Md operator~(Md a) {
  return {_mm256_xor_pd(a.m, _mm256_castsi256_pd(_mm256_set1_epi64x(-1)))};
}
inline bool any(Md a) { return _mm256_movemask_pd(a.m) != 0; }
inline bool all(Md a) { return _mm256_movemask_pd(a.m) == 0xF; }
inline Vd select(Md m, Vd a, Vd b) { return _mm256_blendv_pd(b.v, a.v, m.m); }
inline double hsum(Vd a) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(a.v), _mm256_extractf128_pd(a.v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
}
inline double hmax(Vd a) {
  __m128d s = _mm_max_pd(_mm256_castpd256_pd128(a.v), _mm256_extractf128_pd(a.v, 1));
  return _mm_cvtsd_f64(_mm_max_sd(s, _mm_unpackhi_pd(s, s)));
}

namespace detail {
inline Vf lookup8(const float* table, Vf k) {
  return _mm256_permutevar8x32_ps(_mm256_loadu_ps(table), _mm256_castps_si256(k.v));
}
inline Vf pow2i(Vf n) {
  __m256i i = _mm256_cvtps_epi32(n.v);
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(i, _mm256_set1_epi32(127)), 23));
}
inline Vf scale(Vf p, Vf n) {
  Vf n1 = _mm256_floor_ps(_mm256_mul_ps(n.v, _mm256_set1_ps(0.5f)));
  return (p * pow2i(n1)) * pow2i(n - n1);
}
inline void frexp(Vf x, Vf& m, Vf& e) {
  Mf tiny = x < Vf(1.17549435e-38f);
  x = select(tiny, x * Vf(8388608.0f), x);
  __m256i xi = _mm256_castps_si256(x.v);
  __m256i ei = _mm256_sub_epi32(_mm256_srli_epi32(xi, 23), _mm256_set1_epi32(127));
  Vf mm = _mm256_castsi256_ps(_mm256_or_si256(
      _mm256_and_si256(xi, _mm256_set1_epi32(0x007FFFFF)), _mm256_set1_epi32(0x3F800000)));
  Vf ee = _mm256_cvtepi32_ps(ei);
  ee = select(tiny, ee - Vf(23.0f), ee);
  Mf big = mm >= Vf(1.41421356f);
  m = select(big, mm * Vf(0.5f), mm);
  e = select(big, ee + Vf(1.0f), ee);
}
}  // namespace detail

#else  // generic: one lane, plain C++

struct Mf {
  bool m;
};
struct Md {
  bool m;
};
struct Vf {
  using T = float;
  using Mask = Mf;
  static constexpr int N = 1;
  float v;
  Vf() = default;
  Vf(float s) : v(s) {}
  static Vf load(const float* p) { return *p; }
  static Vf load(const float* p, int64_t n) { return n > 0 ? *p : 0.0f; }
  static Vf load(const float* p, int64_t n, float fill) { return n > 0 ? *p : fill; }
  void store(float* p) const { *p = v; }
  void store(float* p, int64_t n) const {
    if (n > 0) *p = v;
  }
  void stream(float* p) const { *p = v; }
};
struct Vd {
  using T = double;
  using Mask = Md;
  static constexpr int N = 1;
  double v;
  Vd() = default;
  Vd(double s) : v(s) {}
  static Vd load(const double* p) { return *p; }
  static Vd load(const double* p, int64_t n) { return n > 0 ? *p : 0.0; }
  static Vd load(const double* p, int64_t n, double fill) { return n > 0 ? *p : fill; }
  void store(double* p) const { *p = v; }
  void store(double* p, int64_t n) const {
    if (n > 0) *p = v;
  }
  void stream(double* p) const { *p = v; }
};

// round: |a| < 2^22 (float) / 2^51 (double) via the 1.5 * 2^(mantissa bits) trick (no libm
// call on baseline x86-64); larger values are already integers.
#define FASTDL_SIMD_SCALAR_OPS(V, M, T, MAGIC)                                            \
  inline V operator+(V a, V b) { return a.v + b.v; }                                    \
  inline V operator-(V a, V b) { return a.v - b.v; }                                    \
  inline V operator*(V a, V b) { return a.v * b.v; }                                    \
  inline V operator/(V a, V b) { return a.v / b.v; }                                    \
  inline V operator-(V a) { return -a.v; }                                              \
  inline V fma(V a, V b, V c) { return std::fma(a.v, b.v, c.v); }                       \
  inline V fms(V a, V b, V c) { return std::fma(a.v, b.v, -c.v); }                      \
  inline V min(V a, V b) { return a.v < b.v ? a.v : b.v; }                              \
  inline V max(V a, V b) { return a.v > b.v ? a.v : b.v; }                              \
  inline V abs(V a) { return std::fabs(a.v); }                                          \
  inline V sqrt(V a) { return std::sqrt(a.v); }                                         \
  inline V copysign(V a, V b) { return std::copysign(a.v, b.v); }                       \
  inline V round(V a) {                                                                 \
    return std::fabs(a.v) < T(MAGIC / 3) ? (a.v + T(MAGIC)) - T(MAGIC) : a.v;           \
  }                                                                                     \
  inline M operator<(V a, V b) { return {a.v < b.v}; }                                  \
  inline M operator<=(V a, V b) { return {a.v <= b.v}; }                                \
  inline M operator>(V a, V b) { return {a.v > b.v}; }                                  \
  inline M operator>=(V a, V b) { return {a.v >= b.v}; }                                \
  inline M operator==(V a, V b) { return {a.v == b.v}; }                                \
  inline M operator!=(V a, V b) { return {!(a.v == b.v)}; }                             \
  inline M isnan(V a) { return {a.v != a.v}; }                                          \
  inline M operator&(M a, M b) { return {a.m && b.m}; }                                 \
  inline M operator|(M a, M b) { return {a.m || b.m}; }                                 \
  inline M operator~(M a) { return {!a.m}; }                                            \
  inline bool any(M a) { return a.m; }                                                  \
  inline bool all(M a) { return a.m; }                                                  \
  inline V select(M m, V a, V b) { return m.m ? a : b; }                                \
  inline T hsum(V a) { return a.v; }                                                    \
  inline T hmax(V a) { return a.v; }
FASTDL_SIMD_SCALAR_OPS(Vf, Mf, float, 12582912.0f)
FASTDL_SIMD_SCALAR_OPS(Vd, Md, double, 6755399441055744.0)
#undef FASTDL_SIMD_SCALAR_OPS

namespace detail {
inline Vf lookup8(const float* table, Vf k) {
  uint32_t b;
  std::memcpy(&b, &k.v, 4);
  return table[b & 7u];
}
inline Vf pow2i(Vf n) {
  uint32_t b = static_cast<uint32_t>(static_cast<int32_t>(n.v) + 127) << 23;
  float f;
  std::memcpy(&f, &b, 4);
  return f;
}
inline Vf scale(Vf p, Vf n) {
  if (!(n.v == n.v)) return n;  // NaN (exp_neg propagates it; the cast below would be UB)
  int32_t ni = static_cast<int32_t>(n.v), n1 = ni >> 1;  // arithmetic shift: floor(n / 2)
  return (p * pow2i(static_cast<float>(n1))) * pow2i(static_cast<float>(ni - n1));
}
inline void frexp(Vf x, Vf& m, Vf& e) {
  bool tiny = x.v < 1.17549435e-38f;
  float xv = tiny ? x.v * 8388608.0f : x.v;
  uint32_t b;
  std::memcpy(&b, &xv, 4);
  int32_t ei = static_cast<int32_t>(b >> 23) - 127 - (tiny ? 23 : 0);
  b = (b & 0x007FFFFFu) | 0x3F800000u;
  float mm;
  std::memcpy(&mm, &b, 4);
  if (mm >= 1.41421356f) {
    mm *= 0.5f;
    ++ei;
  }
  m = mm;
  e = static_cast<float>(ei);
}
}  // namespace detail

#endif

namespace detail {
// 1/x to >= 11 bits (for small correction terms only).
inline Vf rcp_approx(Vf x) {
#if FASTDL_SIMD_LEVEL == 2
  return _mm512_rcp14_ps(x.v);
#elif FASTDL_SIMD_LEVEL == 1
  return _mm256_rcp_ps(x.v);
#else
  return 1.0f / x.v;
#endif
}
}  // namespace detail

// v itself, opaque to the compiler: a value loaded from memory stays a plain load. Without
// it, select(m, v, V(0)) of a just-loaded v compiles to a zero-masking load, and on Zen 5
// a masked load that misses the cache runs at about half the speed of a plain one (the
// activations' masked gradients in batch norm's fused backward: 1.2-1.5x, measured).
template <class V>
inline V plain(V v) {
#if FASTDL_SIMD_LEVEL > 0
  asm("" : "+v"(v.v));
#endif
  return v;
}

// Orders this thread's non-temporal stores before later stores (call after a stream run).
inline void stream_fence() {
#if FASTDL_SIMD_LEVEL > 0
  _mm_sfence();
#endif
}

// One full vector to p: a non-temporal store when St (p aligned to the vector size).
template <bool St, class V>
inline void put(const V& v, typename V::T* p) {
  if constexpr (St)
    v.stream(p);
  else
    v.store(p);
}

// The output size from which the kernels that measured a gain (eltwise, batch norm, the
// channels-last depthwise forward) write a fresh output with non-temporal stores: far past
// the caches, where they skip the read-for-ownership of the output's lines.
constexpr int64_t kStreamBytes = int64_t(16) << 20;

// ======================================================================================
// float: exp / expm1 / log / log1p / tanh / erf / erfc / sigmoid / softplus / log_sigmoid
// ======================================================================================
namespace detail {
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;       // 9 significant bits: n * kLn2Hi is exact
constexpr float kLn2Lo = -2.12194440e-4f;    // ln2 - kLn2Hi
constexpr float kInf = std::numeric_limits<float>::infinity();
// fma(y, c, kRoundMagic) - kRoundMagic rounds y*c to the nearest integer for |y*c| < 2^22 in
// one multiply-add and one add (instead of a multiply and a round, both on the FMA ports).
constexpr float kRoundMagic = 12582912.0f;  // 1.5 * 2^23

// e^r - 1 for |r| <= ln2/2 + a bit: r + r^2 q(r) (minimax, abs error 7e-11).
FASTDL_SIMD_INLINE Vf expm1_poly(Vf r) {
  Vf q = fma(Vf(1.978716900e-04f), r, Vf(1.394786173e-03f));
  q = fma(q, r, Vf(8.333517238e-03f));
  q = fma(q, r, Vf(4.166625068e-02f));
  q = fma(q, r, Vf(1.666666567e-01f));
  q = fma(q, r, Vf(5.000000000e-01f));
  return fma(q, r * r, r);
}

// e^r for |r| <= ln2/2 + a bit: degree-6 minimax in Horner form (rel. error 2e-9; 7e-8
// evaluated in float).
FASTDL_SIMD_INLINE Vf exp_poly(Vf r) {
  Vf p = fma(Vf(1.383654424e-03f), r, Vf(8.375054225e-03f));
  p = fma(p, r, Vf(4.166824371e-02f));
  p = fma(p, r, Vf(1.666641682e-01f));
  p = fma(p, r, Vf(4.999999106e-01f));
  p = fma(p, r, Vf(1.0f));
  return fma(p, r, Vf(1.0f));
}

// e^(a + b) for finite-or-inf a and |b| << 1 (b carries the low part of an argument given
// as a sum, as in exp(-x^2) = exp(-hi - lo)). NaN a is not handled here.
FASTDL_SIMD_INLINE Vf exp_ab(Vf a, Vf b) {
  Vf ac = min(max(a, Vf(-104.0f)), Vf(89.0f));
  Vf n = fma(ac + b, Vf(kLog2e), Vf(kRoundMagic)) - Vf(kRoundMagic);
  Vf r = fma(n, Vf(-kLn2Hi), ac);
  r = fma(n, Vf(-kLn2Lo), r) + b;
  return scale(exp_poly(r), n);
}

// e^a for a in [-104, 0] or NaN (the caller bounds a: nothing is clamped here; NaN
// propagates), and e^(a + b) with a small low part b. The cheap exp of the kernels whose
// argument is -|x| or x - max.
FASTDL_SIMD_INLINE Vf exp_neg(Vf a) {
  Vf n = fma(a, Vf(kLog2e), Vf(kRoundMagic)) - Vf(kRoundMagic);
  Vf r = fma(n, Vf(-kLn2Hi), a);
  r = fma(n, Vf(-kLn2Lo), r);
  return scale(exp_poly(r), n);
}
FASTDL_SIMD_INLINE Vf exp_neg(Vf a, Vf b) {
  Vf n = fma(a, Vf(kLog2e), Vf(kRoundMagic)) - Vf(kRoundMagic);
  Vf r = fma(n, Vf(-kLn2Hi), a);
  r = fma(n, Vf(-kLn2Lo), r) + b;
  return scale(exp_poly(r), n);
}

// log(1 + f) - f + f^2/2 = f^3 P(f) for f in [sqrt(1/2) - 1, sqrt(2) - 1] (rel. error 8e-10).
FASTDL_SIMD_INLINE Vf log_tail(Vf f) {
  Vf p = fma(Vf(6.757573038e-02f), f, Vf(-1.169433966e-01f));
  p = fma(p, f, Vf(1.189351380e-01f));
  p = fma(p, f, Vf(-1.240308285e-01f));
  p = fma(p, f, Vf(1.421855390e-01f));
  p = fma(p, f, Vf(-1.666809022e-01f));
  p = fma(p, f, Vf(2.000216693e-01f));
  p = fma(p, f, Vf(-2.500000894e-01f));
  p = fma(p, f, Vf(3.333331048e-01f));
  Vf f2 = f * f;
  return fma(p, f2 * f, Vf(-0.5f) * f2);
}

// e*ln2 + log(1 + f) + c, for f in [sqrt(1/2) - 1, sqrt(2) - 1] and a small correction c.
FASTDL_SIMD_INLINE Vf log_core(Vf f, Vf e, Vf c) {
  Vf y = log_tail(f) + c;
  y = fma(e, Vf(kLn2Lo), y);
  return fma(e, Vf(kLn2Hi), f + y);
}

// erfc(x) for x >= 1 (any x >= 1, inf included): exp(-x^2) * t * K(t - 0.55), t = 1/x,
// with K(t) = x erfcx(x) fitted on t in [1/10.1, 1] (rel. error 1e-8); exp(-x^2) is taken
// as exp(-hi - lo) with hi + lo = x^2 exactly.
FASTDL_SIMD_INLINE Vf erfc_big(Vf x) {
  x = min(x, Vf(12.0f));  // erfc(12) underflows; keeps x*x finite (inf*inf - inf = NaN)
  Vf t = Vf(1.0f) / x;
  Vf u = t - Vf(0.55f);
  Vf k = fma(Vf(1.214447543e-01f), u, Vf(-4.858473688e-02f));
  k = fma(k, u, Vf(-9.723328054e-02f));
  k = fma(k, u, Vf(1.059112325e-01f));
  k = fma(k, u, Vf(-6.015139073e-02f));
  k = fma(k, u, Vf(9.613070637e-03f));
  k = fma(k, u, Vf(4.982431978e-02f));
  k = fma(k, u, Vf(-9.691192955e-02f));
  k = fma(k, u, Vf(9.835904837e-02f));
  k = fma(k, u, Vf(-2.036567777e-02f));
  k = fma(k, u, Vf(-1.700351387e-01f));
  k = fma(k, u, Vf(5.023534298e-01f));
  Vf hi = x * x;
  Vf lo = fma(x, x, -hi);
  return exp_ab(-hi, -lo) * (t * k);
}

// erf(x) = x c0 + x (c0_lo + z Q(z)), z = x^2, for |x| <= 1 (c0 = 2/sqrt(pi) split in two
// floats; Q minimax, rel. error 4e-11). erf_tail returns the second term, so erf and
// 1 - erf are both formed with one final rounding.
constexpr float kErfC0Hi = 1.128379226e+00f, kErfC0Lo = -5.863538277e-08f;
FASTDL_SIMD_INLINE Vf erf_tail(Vf x) {
  Vf z = x * x;
  Vf q = fma(Vf(-9.684212273e-06f), z, Vf(1.127302021e-04f));
  q = fma(q, z, Vf(-8.485249127e-04f));
  q = fma(q, z, Vf(5.221130792e-03f));
  q = fma(q, z, Vf(-2.686547674e-02f));
  q = fma(q, z, Vf(1.128378361e-01f));
  q = fma(q, z, Vf(-3.761263788e-01f));
  return x * fma(q, z, Vf(kErfC0Lo));
}
FASTDL_SIMD_INLINE Vf erf_small(Vf x) { return fma(x, Vf(kErfC0Hi), erf_tail(x)); }
FASTDL_SIMD_INLINE Vf erfc_small(Vf x) { return fma(-x, Vf(kErfC0Hi), Vf(1.0f)) - erf_tail(x); }
}  // namespace detail

// e^x. Overflows to inf above 88.72, underflows (through the denormals) to 0.
FASTDL_SIMD_INLINE Vf exp(Vf x) {
  Vf r = detail::exp_ab(x, Vf(0.0f));
  return select(isnan(x), x, r);
}

// e^x - 1, accurate near 0.
FASTDL_SIMD_INLINE Vf expm1(Vf x) {
  using namespace detail;
  Vf xc = min(max(x, Vf(-87.0f)), Vf(89.0f));
  Vf n = round(xc * Vf(kLog2e));
  Vf r = fma(n, Vf(-kLn2Hi), xc);
  r = fma(n, Vf(-kLn2Lo), r);
  Vf pm = expm1_poly(r);
  Mf top = n > Vf(127.0f);
  Vf s = pow2i(min(n, Vf(127.0f)));
  Vf y = fma(pm, s, s - Vf(1.0f));
  y = select(top, y * Vf(2.0f), y);
  return select(isnan(x), x, y);
}

// Natural log: log(0) = -inf, log(x < 0) = NaN, log(inf) = inf.
FASTDL_SIMD_INLINE Vf log(Vf x) {
  using namespace detail;
  Vf m, e;
  frexp(max(x, Vf(1e-45f)), m, e);
  Vf y = log_core(m - Vf(1.0f), e, Vf(0.0f));
  y = select(x == Vf(kInf), x, y);
  y = select(x == Vf(0.0f), Vf(-kInf), y);
  return select((x < Vf(0.0f)) | isnan(x), Vf(std::numeric_limits<float>::quiet_NaN()), y);
}

// log(1 + x), accurate near 0: log1p(-1) = -inf, log1p(x < -1) = NaN.
FASTDL_SIMD_INLINE Vf log1p(Vf x) {
  using namespace detail;
  Vf one(1.0f);
  Vf u = one + x;
  Vf bb = u - x;  // TwoSum: c = exact rounding error of 1 + x
  Vf c = (one - bb) + (x - (u - bb));
  Vf m, e;
  frexp(max(u, Vf(1e-45f)), m, e);
  Vf r = rcp_approx(u);
  r = r * fma(-u, r, Vf(2.0f));  // one Newton step: 1/u to ~2^-24 (c/u may be the whole answer)
  Vf y = log_core(m - one, e, c * r);
  y = select(x == Vf(kInf), x, y);
  y = select(u == Vf(0.0f), Vf(-kInf), y);
  return select((u < Vf(0.0f)) | isnan(x), Vf(std::numeric_limits<float>::quiet_NaN()), y);
}

// tanh(x) = sign(x) * -m / (2 + m), m = expm1(-2|x|) in (-1, 0]: one expm1 for the whole
// range, relative-accurate near 0 too (max rel. error 1.7e-7; the former two-branch version,
// a polynomial below 0.9 and 1 - 2e/(1+e) above, cost 1.6x as much).
FASTDL_SIMD_INLINE Vf tanh(Vf x) {
  using namespace detail;
  Vf y = Vf(-2.0f) * min(Vf(10.0f), abs(x));  // tanh(10) rounds to 1; NaN passes
  Vf n = fma(y, Vf(kLog2e), Vf(kRoundMagic)) - Vf(kRoundMagic);
  Vf r = fma(n, Vf(-kLn2Hi), y);
  r = fma(n, Vf(-kLn2Lo), r);
  Vf s = scale(Vf(1.0f), n);
  Vf em = fma(expm1_poly(r), s, s - Vf(1.0f));  // e^y - 1, accurate near 0
  return copysign(em / (Vf(-2.0f) - em), x);
}

// erf(x): x P(x^2) below |x| = 1, 1 - erfc(|x|) above.
FASTDL_SIMD_INLINE Vf erf(Vf x) {
  Vf ax = abs(x);
  Mf sm = ax < Vf(1.0f);
  Vf y;
  if (all(sm)) {
    y = detail::erf_small(ax);
  } else {
    Vf big = Vf(1.0f) - detail::erfc_big(max(ax, Vf(1.0f)));
    y = select(sm, detail::erf_small(ax), big);
  }
  return select(isnan(x), x, copysign(y, x));
}

// erfc(x) = 1 - erf(x), accurate (relative) for large positive x too.
FASTDL_SIMD_INLINE Vf erfc(Vf x) {
  Vf ax = abs(x);
  Mf sm = ax < Vf(1.0f);
  Vf y;
  if (all(sm)) {
    y = detail::erfc_small(x);
  } else {
    Vf b = detail::erfc_big(max(ax, Vf(1.0f)));
    b = select(x < Vf(0.0f), Vf(2.0f) - b, b);
    y = select(sm, detail::erfc_small(x), b);
  }
  return select(isnan(x), x, y);
}

namespace detail {
// The upper normal tail Q(a) = Phi(-a) = (1 - erf(a / sqrt 2)) / 2 of a = |x|, and e =
// exp(-a^2 / 2) (the density without its 1/sqrt(2 pi)) through `e`. Q = e * t * P(t) with
// t = 2 / (2 + a) in (0.12, 1]: P, the Mills ratio Q/phi divided by t sqrt(2 pi), is a
// piecewise quartic on the 8 intervals |t - j/8| <= 1/16 (j = round(8t), coefficients looked
// up per lane; fitted on a in [0, 14.5], rel. error 2.5e-8, 1.2e-7 evaluated in float) --
// 4 multiply-adds instead of the 9 one polynomial over all of t needs. a^2 / 2 goes to the
// exp as an exact pair hi + lo, so the far tail keeps its relative accuracy (about 3e-7 down
// to 1e-37). a is clamped at 14.5, where Q has underflowed to 0 (so x * Q at x = -inf is NaN,
// as in PyTorch's float64 gelu); NaN propagates.
// Slot s of each table holds interval j with j & 7 == s (j = 8 in slot 0).
alignas(32) constexpr float kMills0[8] = {
    5.000000000e-01f, 2.268212885e-01f, 2.591172457e-01f, 2.959608138e-01f,
    3.362039924e-01f, 3.782447278e-01f, 4.204333723e-01f, 4.613646269e-01f};
alignas(32) constexpr float kMills1[8] = {
    2.978845835e-01f, 2.385835648e-01f, 2.776292264e-01f, 3.102908432e-01f,
    3.314039409e-01f, 3.390077651e-01f, 3.341212869e-01f, 3.193954527e-01f};
alignas(32) constexpr float kMills2[8] = {
    -9.576524794e-02f, 1.602395922e-01f, 1.476672143e-01f, 1.100346819e-01f,
    5.759629235e-02f, 4.017193336e-03f, -4.125677794e-02f, -7.446796447e-02f};
alignas(32) constexpr float kMills3[8] = {
    -4.232610762e-02f, 1.676305314e-03f, -6.905882061e-02f, -1.257573366e-01f,
    -1.463494003e-01f, -1.343823969e-01f, -1.051891968e-01f, -7.211139053e-02f};
alignas(32) constexpr float kMills4[8] = {
    5.628654733e-02f, -1.381543428e-01f, -1.388668269e-01f, -8.029858023e-02f,
    -4.386241082e-03f, 4.642601311e-02f, 6.574840099e-02f, 6.416948140e-02f};
FASTDL_SIMD_INLINE Vf normal_tail(Vf x, Vf& e) {
  Vf a = min(Vf(14.5f), abs(x));
  Vf t = Vf(2.0f) / (Vf(2.0f) + a);
  Vf k = fma(t, Vf(8.0f), Vf(kRoundMagic));           // j = round(8t) in the low bits
  Vf u = fma(k - Vf(kRoundMagic), Vf(-0.125f), t);    // t - j/8, exact
  Vf p = fma(lookup8(kMills4, k), u, lookup8(kMills3, k));
  p = fma(p, u, lookup8(kMills2, k));
  p = fma(p, u, lookup8(kMills1, k));
  p = fma(p, u, lookup8(kMills0, k));
  Vf ah = Vf(-0.5f) * a;  // -a^2/2 = hi + lo exactly
  Vf hi = ah * a;
  Vf lo = fms(ah, a, hi);
  e = exp_neg(hi, lo);
  return e * (t * p);
}
}  // namespace detail

// Phi(x), the standard normal CDF: Q(|x|) for x <= 0 (relative accuracy in the left tail),
// 1 - Q(x) above (see detail::normal_tail).
FASTDL_SIMD_INLINE Vf normcdf(Vf x) {
  Vf e;
  Vf q = detail::normal_tail(x, e);
  return select(x > Vf(0.0f), Vf(1.0f) - q, q);
}

// e^x for x <= 0 (and NaN, -inf): the cheap exp of softmax-like arguments x - max.
FASTDL_SIMD_INLINE Vf exp_nonpos(Vf x) { return detail::exp_neg(max(Vf(-104.0f), x)); }

namespace detail {
// e^-|x| in [0, 1] (0 below -104); NaN propagates.
FASTDL_SIMD_INLINE Vf exp_nabs(Vf x) { return exp_neg(max(Vf(-104.0f), -abs(x))); }
}  // namespace detail

// 1 / (1 + e^-x), relative accuracy also for very negative x (down into the denormals).
FASTDL_SIMD_INLINE Vf sigmoid(Vf x) {
  Vf e = detail::exp_nabs(x);
  return select(x >= Vf(0.0f), Vf(1.0f), e) / (Vf(1.0f) + e);
}

namespace detail {
// log(1 + e) for e in [0, 1] (NaN passes): e L(e - 1/2), L the minimax fit of log1p(e) / e
// (degree 9, rel. error 5e-9; 8e-8 evaluated in float). No division.
FASTDL_SIMD_INLINE Vf log1p_unit(Vf e) {
  Vf u = e - Vf(0.5f);
  Vf p = fma(Vf(-3.244011197e-03f), u, Vf(5.253351759e-03f));
  p = fma(p, u, Vf(-6.749919150e-03f));
  p = fma(p, u, Vf(1.157614961e-02f));
  p = fma(p, u, Vf(-2.057029493e-02f));
  p = fma(p, u, Vf(3.663547337e-02f));
  p = fma(p, u, Vf(-6.768769771e-02f));
  p = fma(p, u, Vf(1.326090097e-01f));
  p = fma(p, u, Vf(-2.885271013e-01f));
  p = fma(p, u, Vf(8.109301925e-01f));
  return e * p;
}
}  // namespace detail

// log(1 + e^x) = max(x, 0) + log1p(e^-|x|): no overflow, exact-ish for very negative x.
FASTDL_SIMD_INLINE Vf softplus(Vf x) {
  return max(Vf(0.0f), x) + detail::log1p_unit(detail::exp_nabs(x));
}

// log(sigmoid(x)) = min(x, 0) - log1p(e^-|x|).
FASTDL_SIMD_INLINE Vf log_sigmoid(Vf x) {
  return min(Vf(0.0f), x) - detail::log1p_unit(detail::exp_nabs(x));
}

// ======================================================================================
// double: libm per lane
// ======================================================================================
namespace detail {
template <class F>
inline Vd per_lane(Vd x, F f) {
  alignas(64) double buf[Vd::N];
  x.store(buf);
  for (int i = 0; i < Vd::N; ++i) buf[i] = f(buf[i]);
  return Vd::load(buf);
}
inline double sigmoid_d(double x) {
  double e = std::exp(-std::fabs(x));
  double r = 1.0 / (1.0 + e);
  return x >= 0 ? r : (x < 0 ? e * r : x);
}
inline double softplus_d(double x) {
  return x != x ? x : (x > 0 ? x : 0.0) + std::log1p(std::exp(-std::fabs(x)));
}
inline double log_sigmoid_d(double x) {
  return x != x ? x : (x < 0 ? x : 0.0) - std::log1p(std::exp(-std::fabs(x)));
}
}  // namespace detail
inline Vd exp(Vd x) { return detail::per_lane(x, [](double v) { return std::exp(v); }); }
inline Vd expm1(Vd x) { return detail::per_lane(x, [](double v) { return std::expm1(v); }); }
inline Vd log(Vd x) { return detail::per_lane(x, [](double v) { return std::log(v); }); }
inline Vd log1p(Vd x) { return detail::per_lane(x, [](double v) { return std::log1p(v); }); }
inline Vd tanh(Vd x) { return detail::per_lane(x, [](double v) { return std::tanh(v); }); }
inline Vd erf(Vd x) { return detail::per_lane(x, [](double v) { return std::erf(v); }); }
inline Vd erfc(Vd x) { return detail::per_lane(x, [](double v) { return std::erfc(v); }); }
namespace detail {
inline Vd exp_ab(Vd a, Vd b) { return exp(a + b); }
}  // namespace detail
inline Vd sigmoid(Vd x) { return detail::per_lane(x, detail::sigmoid_d); }
inline Vd normcdf(Vd x) {
  return detail::per_lane(x, [](double v) { return 0.5 * std::erfc(-v * 0.70710678118654752); });
}
inline Vd exp_nonpos(Vd x) { return exp(x); }
namespace detail {
inline Vd exp_nabs(Vd x) { return exp(-abs(x)); }
// As the float version: Q(|x|) = Phi(-|x|), and e = exp(-x^2 / 2).
inline Vd normal_tail(Vd x, Vd& e) {
  e = per_lane(x, [](double v) { return std::exp(-0.5 * v * v); });
  return per_lane(x, [](double v) { return 0.5 * std::erfc(std::fabs(v) * 0.70710678118654752); });
}
}  // namespace detail
inline Vd softplus(Vd x) { return detail::per_lane(x, detail::softplus_d); }
inline Vd log_sigmoid(Vd x) { return detail::per_lane(x, detail::log_sigmoid_d); }


// Vd::N floats from p widened to double (sums of floats accumulated in double); the masked
// form reads the first n < Vd::N and gives 0 in the other lanes.
#if FASTDL_SIMD_LEVEL == 2
inline Vd load_widen(const float* p) { return _mm512_cvtps_pd(_mm256_loadu_ps(p)); }
inline Vd load_widen(const float* p, int64_t n) {
  return _mm512_cvtps_pd(_mm256_maskz_loadu_ps(tail8(n), p));
}
#elif FASTDL_SIMD_LEVEL == 1
inline Vd load_widen(const float* p) { return _mm256_cvtps_pd(_mm_loadu_ps(p)); }
inline Vd load_widen(const float* p, int64_t n) {
  const __m128i m = _mm_cmpgt_epi32(_mm_set1_epi32(static_cast<int>(n)), _mm_setr_epi32(0, 1, 2, 3));
  return _mm256_cvtps_pd(_mm_maskload_ps(p, m));
}
#else
inline Vd load_widen(const float* p) { return Vd(static_cast<double>(*p)); }
inline Vd load_widen(const float* p, int64_t n) {
  return Vd(n > 0 ? static_cast<double>(*p) : 0.0);
}
#endif
inline Vd load_widen(const double* p) { return Vd::load(p); }
inline Vd load_widen(const double* p, int64_t n) { return Vd::load(p, n); }

// a*b + c: one fused rounding where the ISA has FMA, a multiply and an add on the generic
// path (fma() there is std::fma, exact but a libm call on baseline x86-64).
#if FASTDL_SIMD_LEVEL > 0
inline Vf mul_add(Vf a, Vf b, Vf c) { return fma(a, b, c); }
inline Vd mul_add(Vd a, Vd b, Vd c) { return fma(a, b, c); }
#else
inline Vf mul_add(Vf a, Vf b, Vf c) { return a * b + c; }
inline Vd mul_add(Vd a, Vd b, Vd c) { return a * b + c; }
#endif

// c - a*b (one rounding where the ISA has FMA, as mul_add).
inline Vf fnma(Vf a, Vf b, Vf c) { return mul_add(-a, b, c); }
inline Vd fnma(Vd a, Vd b, Vd c) { return mul_add(-a, b, c); }

// Scalar libm for the values a kernel handles one at a time, through the builtins (no inline
// std:: function is instantiated per ISA).
inline float sexp(float x) { return __builtin_expf(x); }
inline double sexp(double x) { return __builtin_exp(x); }
inline float slog(float x) { return __builtin_logf(x); }
inline double slog(double x) { return __builtin_log(x); }
inline float slog1p(float x) { return __builtin_log1pf(x); }
inline double slog1p(double x) { return __builtin_log1p(x); }
inline float ssqrt(float x) { return __builtin_sqrtf(x); }
inline double ssqrt(double x) { return __builtin_sqrt(x); }

// The vector type of element type T: Vec<float> = Vf, Vec<double> = Vd.
template <class T>
struct VecOf;
template <>
struct VecOf<float> {
  using type = Vf;
};
template <>
struct VecOf<double> {
  using type = Vd;
};
template <class T>
using Vec = typename VecOf<T>::type;

}  // namespace FASTDL_SIMD_ISA
}  // namespace simd
}  // namespace fastdl
