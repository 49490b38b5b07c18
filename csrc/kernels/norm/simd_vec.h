// Per-ISA vector traits `Vec<T>` shared by the norm and loss kernels.
//
// Usage (one per translation unit, see norm_avx512.cpp):
//
//     #include "kernels/norm/simd_prelude.h"      // system headers, at global scope
//     namespace fastdl { namespace norm { namespace avx512 {
//     #define FASTDL_VEC_ISA 2                      // 0 generic, 1 AVX2+FMA, 2 AVX-512
//     #include "kernels/norm/simd_vec.h"
//     ...kernels written once against Vec<T>...
//     }}}
//
// Everything below sits in an anonymous namespace, so each ISA's copy has internal linkage and
// no AVX-compiled inline function can be merged into the generic path by the linker. No std::
// algorithm is used here for the same reason.
//
// Vec<T>: R (register type), W (lanes), load/loadn (n < W lanes, the rest `fill`), store/storen,
// set1, zero, add, sub, mul, div, fma(a, b, c) = a·b + c, fnma(a, b, c) = c − a·b, max, min, abs,
// hsum, hmax, exp, log, log1p, and lane predicates through blend helpers.
#ifndef FASTDL_VEC_ISA
#error "define FASTDL_VEC_ISA before including simd_vec.h"
#endif

namespace {

template <class A>
inline A vmax_s(A a, A b) { return a > b ? a : b; }
template <class A>
inline A vmin_s(A a, A b) { return a < b ? a : b; }
template <class A>
inline A vabs_s(A a) { return a < A(0) ? -a : a; }

inline float sexp(float x) { return __builtin_expf(x); }
inline double sexp(double x) { return __builtin_exp(x); }
inline float slog(float x) { return __builtin_logf(x); }
inline double slog(double x) { return __builtin_log(x); }
inline float slog1p(float x) { return __builtin_log1pf(x); }
inline double slog1p(double x) { return __builtin_log1p(x); }
inline float ssqrt(float x) { return __builtin_sqrtf(x); }
inline double ssqrt(double x) { return __builtin_sqrt(x); }

// ---------------------------------------------------------------------------------------
// Scalar lanes: the generic path, and the tails' reference semantics.
template <class T>
struct ScalarVec {
  using R = T;
  static constexpr int W = 1;
  static R load(const T* p) { return *p; }
  static R loadn(const T* p, int64_t n, T fill) { return n > 0 ? *p : fill; }
  static void store(T* p, R v) { *p = v; }
  static void storen(T* p, R v, int64_t n) { if (n > 0) *p = v; }
  static R set1(T v) { return v; }
  static R zero() { return T(0); }
  static R add(R a, R b) { return a + b; }
  static R sub(R a, R b) { return a - b; }
  static R mul(R a, R b) { return a * b; }
  static R div(R a, R b) { return a / b; }
  static R fma(R a, R b, R c) { return a * b + c; }
  static R fnma(R a, R b, R c) { return c - a * b; }
  static R max(R a, R b) { return vmax_s(a, b); }
  static R min(R a, R b) { return vmin_s(a, b); }
  static R abs(R a) { return vabs_s(a); }
  static T hsum(R a) { return a; }
  static T hmax(R a) { return a; }
  // where(a > b, x, y), where(a < b, x, y), where(a == b, x, y)
  static R gt_sel(R a, R b, R x, R y) { return a > b ? x : y; }
  static R lt_sel(R a, R b, R x, R y) { return a < b ? x : y; }
  static R eq_sel(R a, R b, R x, R y) { return a == b ? x : y; }
  static R exp(R a) { return sexp(a); }
  static R log(R a) { return slog(a); }
  static R log1p(R a) { return slog1p(a); }
};

#if FASTDL_VEC_ISA == 0
template <class T>
struct Vec : ScalarVec<T> {};
#endif

#if FASTDL_VEC_ISA == 1
template <class T>
struct Vec;

template <>
struct Vec<float> {
  using T = float;
  using R = __m256;
  static constexpr int W = 8;
  static __m256i lane_mask(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static R load(const T* p) { return _mm256_loadu_ps(p); }
  static R loadn(const T* p, int64_t n, T fill) {
    __m256i m = lane_mask(n);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, m),
                            _mm256_castsi256_ps(m));
  }
  static void store(T* p, R v) { _mm256_storeu_ps(p, v); }
  static void storen(T* p, R v, int64_t n) { _mm256_maskstore_ps(p, lane_mask(n), v); }
  static R set1(T v) { return _mm256_set1_ps(v); }
  static R zero() { return _mm256_setzero_ps(); }
  static R add(R a, R b) { return _mm256_add_ps(a, b); }
  static R sub(R a, R b) { return _mm256_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm256_mul_ps(a, b); }
  static R div(R a, R b) { return _mm256_div_ps(a, b); }
  static R fma(R a, R b, R c) { return _mm256_fmadd_ps(a, b, c); }
  static R fnma(R a, R b, R c) { return _mm256_fnmadd_ps(a, b, c); }
  // max/min with x86 semantics (second operand when either is NaN); callers order operands
  // so that NaN propagates where it must.
  static R max(R a, R b) { return _mm256_max_ps(a, b); }
  static R min(R a, R b) { return _mm256_min_ps(a, b); }
  static R abs(R a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static T hsum(R a) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static T hmax(R a) {
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(a), _mm256_extractf128_ps(a, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static R gt_sel(R a, R b, R x, R y) { return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_GT_OQ)); }
  static R lt_sel(R a, R b, R x, R y) { return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_LT_OQ)); }
  static R eq_sel(R a, R b, R x, R y) { return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_EQ_OQ)); }
  static R exp(R a);
  static R log(R a);
  static R log1p(R a);
};

template <>
struct Vec<double> {
  using T = double;
  using R = __m256d;
  static constexpr int W = 4;
  static __m256i lane_mask(int64_t n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  static R load(const T* p) { return _mm256_loadu_pd(p); }
  static R loadn(const T* p, int64_t n, T fill) {
    __m256i m = lane_mask(n);
    return _mm256_blendv_pd(_mm256_set1_pd(fill), _mm256_maskload_pd(p, m),
                            _mm256_castsi256_pd(m));
  }
  static void store(T* p, R v) { _mm256_storeu_pd(p, v); }
  static void storen(T* p, R v, int64_t n) { _mm256_maskstore_pd(p, lane_mask(n), v); }
  static R set1(T v) { return _mm256_set1_pd(v); }
  static R zero() { return _mm256_setzero_pd(); }
  static R add(R a, R b) { return _mm256_add_pd(a, b); }
  static R sub(R a, R b) { return _mm256_sub_pd(a, b); }
  static R mul(R a, R b) { return _mm256_mul_pd(a, b); }
  static R div(R a, R b) { return _mm256_div_pd(a, b); }
  static R fma(R a, R b, R c) { return _mm256_fmadd_pd(a, b, c); }
  static R fnma(R a, R b, R c) { return _mm256_fnmadd_pd(a, b, c); }
  static R max(R a, R b) { return _mm256_max_pd(a, b); }
  static R min(R a, R b) { return _mm256_min_pd(a, b); }
  static R abs(R a) { return _mm256_andnot_pd(_mm256_set1_pd(-0.0), a); }
  static T hsum(R a) {
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
  }
  static T hmax(R a) {
    __m128d s = _mm_max_pd(_mm256_castpd256_pd128(a), _mm256_extractf128_pd(a, 1));
    s = _mm_max_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
  }
  static R gt_sel(R a, R b, R x, R y) { return _mm256_blendv_pd(y, x, _mm256_cmp_pd(a, b, _CMP_GT_OQ)); }
  static R lt_sel(R a, R b, R x, R y) { return _mm256_blendv_pd(y, x, _mm256_cmp_pd(a, b, _CMP_LT_OQ)); }
  static R eq_sel(R a, R b, R x, R y) { return _mm256_blendv_pd(y, x, _mm256_cmp_pd(a, b, _CMP_EQ_OQ)); }
  static R exp(R a);
  static R log(R a);
  static R log1p(R a);
};
#endif  // FASTDL_VEC_ISA == 1

#if FASTDL_VEC_ISA == 2
template <class T>
struct Vec;

template <>
struct Vec<float> {
  using T = float;
  using R = __m512;
  static constexpr int W = 16;
  static __mmask16 lane_mask(int64_t n) {
    return static_cast<__mmask16>(n >= 16 ? 0xFFFFu : ((1u << n) - 1u));
  }
  static R load(const T* p) { return _mm512_loadu_ps(p); }
  static R loadn(const T* p, int64_t n, T fill) {
    return _mm512_mask_loadu_ps(_mm512_set1_ps(fill), lane_mask(n), p);
  }
  static void store(T* p, R v) { _mm512_storeu_ps(p, v); }
  static void storen(T* p, R v, int64_t n) { _mm512_mask_storeu_ps(p, lane_mask(n), v); }
  static R set1(T v) { return _mm512_set1_ps(v); }
  static R zero() { return _mm512_setzero_ps(); }
  static R add(R a, R b) { return _mm512_add_ps(a, b); }
  static R sub(R a, R b) { return _mm512_sub_ps(a, b); }
  static R mul(R a, R b) { return _mm512_mul_ps(a, b); }
  static R div(R a, R b) { return _mm512_div_ps(a, b); }
  static R fma(R a, R b, R c) { return _mm512_fmadd_ps(a, b, c); }
  static R fnma(R a, R b, R c) { return _mm512_fnmadd_ps(a, b, c); }
  static R max(R a, R b) { return _mm512_max_ps(a, b); }
  static R min(R a, R b) { return _mm512_min_ps(a, b); }
  static R abs(R a) { return _mm512_abs_ps(a); }
  static T hsum(R a) {
    __m256 h = _mm256_add_ps(_mm512_castps512_ps256(a),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static T hmax(R a) {
    __m256 h = _mm256_max_ps(_mm512_castps512_ps256(a),
                             _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(a), 1)));
    __m128 s = _mm_max_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
    s = _mm_max_ps(s, _mm_movehl_ps(s, s));
    s = _mm_max_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
  static R gt_sel(R a, R b, R x, R y) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_GT_OQ), y, x); }
  static R lt_sel(R a, R b, R x, R y) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), y, x); }
  static R eq_sel(R a, R b, R x, R y) { return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ), y, x); }
  static R exp(R a);
  static R log(R a);
  static R log1p(R a);
};

template <>
struct Vec<double> {
  using T = double;
  using R = __m512d;
  static constexpr int W = 8;
  static __mmask8 lane_mask(int64_t n) {
    return static_cast<__mmask8>(n >= 8 ? 0xFFu : ((1u << n) - 1u));
  }
  static R load(const T* p) { return _mm512_loadu_pd(p); }
  static R loadn(const T* p, int64_t n, T fill) {
    return _mm512_mask_loadu_pd(_mm512_set1_pd(fill), lane_mask(n), p);
  }
  static void store(T* p, R v) { _mm512_storeu_pd(p, v); }
  static void storen(T* p, R v, int64_t n) { _mm512_mask_storeu_pd(p, lane_mask(n), v); }
  static R set1(T v) { return _mm512_set1_pd(v); }
  static R zero() { return _mm512_setzero_pd(); }
  static R add(R a, R b) { return _mm512_add_pd(a, b); }
  static R sub(R a, R b) { return _mm512_sub_pd(a, b); }
  static R mul(R a, R b) { return _mm512_mul_pd(a, b); }
  static R div(R a, R b) { return _mm512_div_pd(a, b); }
  static R fma(R a, R b, R c) { return _mm512_fmadd_pd(a, b, c); }
  static R fnma(R a, R b, R c) { return _mm512_fnmadd_pd(a, b, c); }
  static R max(R a, R b) { return _mm512_max_pd(a, b); }
  static R min(R a, R b) { return _mm512_min_pd(a, b); }
  static R abs(R a) { return _mm512_abs_pd(a); }
  static T hsum(R a) {
    __m256d h = _mm256_add_pd(_mm512_castpd512_pd256(a), _mm512_extractf64x4_pd(a, 1));
    __m128d s = _mm_add_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
    s = _mm_add_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
  }
  static T hmax(R a) {
    __m256d h = _mm256_max_pd(_mm512_castpd512_pd256(a), _mm512_extractf64x4_pd(a, 1));
    __m128d s = _mm_max_pd(_mm256_castpd256_pd128(h), _mm256_extractf128_pd(h, 1));
    s = _mm_max_sd(s, _mm_unpackhi_pd(s, s));
    return _mm_cvtsd_f64(s);
  }
  static R gt_sel(R a, R b, R x, R y) { return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(a, b, _CMP_GT_OQ), y, x); }
  static R lt_sel(R a, R b, R x, R y) { return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(a, b, _CMP_LT_OQ), y, x); }
  static R eq_sel(R a, R b, R x, R y) { return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(a, b, _CMP_EQ_OQ), y, x); }
  static R exp(R a);
  static R log(R a);
  static R log1p(R a);
};
#endif  // FASTDL_VEC_ISA == 2

// ---------------------------------------------------------------------------------------
// Transcendentals of the vector paths: float from the shared vectorised math
// (kernels/eltwise/vec_math.h, <= 2e-7 relative, IEEE special values); double lane by lane
// through libm (float64 is the gradcheck path, as in vec_math).
#if FASTDL_VEC_ISA != 0
template <class V, class F>
inline typename V::R lanewise(typename V::R a, F f) {
  alignas(64) typename V::T buf[V::W];
  V::store(buf, a);
  for (int i = 0; i < V::W; ++i) buf[i] = f(buf[i]);
  return V::load(buf);
}
inline Vec<float>::R Vec<float>::exp(R a) { return fastdl::simd::exp(fastdl::simd::Vf(a)).v; }
inline Vec<float>::R Vec<float>::log(R a) { return fastdl::simd::log(fastdl::simd::Vf(a)).v; }
inline Vec<float>::R Vec<float>::log1p(R a) { return fastdl::simd::log1p(fastdl::simd::Vf(a)).v; }
inline Vec<double>::R Vec<double>::exp(R a) { return lanewise<Vec<double>>(a, [](double v) { return sexp(v); }); }
inline Vec<double>::R Vec<double>::log(R a) { return lanewise<Vec<double>>(a, [](double v) { return slog(v); }); }
inline Vec<double>::R Vec<double>::log1p(R a) { return lanewise<Vec<double>>(a, [](double v) { return slog1p(v); }); }
#endif

// ---------------------------------------------------------------------------------------
// Reductions over contiguous spans, in a fixed order for a given ISA.

// Σ x[0..n)
template <class T>
inline T vsum(const T* x, int64_t n) {
  using V = Vec<T>;
  constexpr int W = V::W;
  typename V::R a0 = V::zero(), a1 = V::zero(), a2 = V::zero(), a3 = V::zero();
  int64_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    a0 = V::add(a0, V::load(x + i));
    a1 = V::add(a1, V::load(x + i + W));
    a2 = V::add(a2, V::load(x + i + 2 * W));
    a3 = V::add(a3, V::load(x + i + 3 * W));
  }
  for (; i + W <= n; i += W) a0 = V::add(a0, V::load(x + i));
  if (i < n) a1 = V::add(a1, V::loadn(x + i, n - i, T(0)));
  return V::hsum(V::add(V::add(a0, a1), V::add(a2, a3)));
}

// Σ (x − m)²
template <class T>
inline T vm2(const T* x, int64_t n, T m) {
  using V = Vec<T>;
  constexpr int W = V::W;
  const typename V::R vm = V::set1(m);
  typename V::R a0 = V::zero(), a1 = V::zero(), a2 = V::zero(), a3 = V::zero();
  int64_t i = 0;
  for (; i + 4 * W <= n; i += 4 * W) {
    typename V::R d0 = V::sub(V::load(x + i), vm), d1 = V::sub(V::load(x + i + W), vm);
    typename V::R d2 = V::sub(V::load(x + i + 2 * W), vm), d3 = V::sub(V::load(x + i + 3 * W), vm);
    a0 = V::fma(d0, d0, a0);
    a1 = V::fma(d1, d1, a1);
    a2 = V::fma(d2, d2, a2);
    a3 = V::fma(d3, d3, a3);
  }
  for (; i + W <= n; i += W) {
    typename V::R d = V::sub(V::load(x + i), vm);
    a0 = V::fma(d, d, a0);
  }
  if (i < n) {
    typename V::R d = V::sub(V::loadn(x + i, n - i, m), vm);
    a1 = V::fma(d, d, a1);
  }
  return V::hsum(V::add(V::add(a0, a1), V::add(a2, a3)));
}

// Mean and M2 = Σ(x − mean)² of a contiguous span: exact two-pass per block of 128·W values
// (cache resident; each of vsum's 4·W lanes sums at most 32 terms in T, so a block's sum is
// within 32·eps even when every term rounds the same way), blocks combined in double with
// Chan's formula, in order.
struct Moments {
  double count, mean, m2;
};

inline void moments_merge(Moments& a, double nb, double mb, double m2b) {
  const double tot = a.count + nb;
  if (tot == 0) return;
  if (a.count == 0) {
    a = Moments{nb, mb, m2b};
    return;
  }
  const double d = mb - a.mean;
  if (!(d - d == 0)) {
    // an infinite (or NaN) mean on either side: the weighted mean keeps +inf + finite = +inf
    // (torch's running mean of a channel holding +inf is inf, not the NaN of inf - inf)
    a.mean = a.mean * (a.count / tot) + mb * (nb / tot);
    a.m2 = d * d + m2b + a.m2;
    a.count = tot;
    return;
  }
  a.mean += d * (nb / tot);
  a.m2 += m2b + d * d * (a.count * nb / tot);
  a.count = tot;
}

template <class T>
inline Moments span_moments(const T* x, int64_t n) {
  Moments r{0, 0, 0};
  constexpr int64_t B = 128 * Vec<T>::W;
  for (int64_t b = 0; b < n; b += B) {
    const int64_t nb = n - b < B ? n - b : B;
    const double mb = static_cast<double>(vsum(x + b, nb)) / static_cast<double>(nb);
    const T mt = static_cast<T>(mb);
    double q = static_cast<double>(vm2(x + b, nb, mt));
    const double c = mb - static_cast<double>(mt);
    q -= static_cast<double>(nb) * c * c;  // Σ(x − mt)² = Σ(x − mb)² + nb (mb − mt)²
    if (q < 0) q = 0;
    moments_merge(r, static_cast<double>(nb), mb, q);
  }
  return r;
}

// y = x·s + t over n values
template <class T>
inline void vaffine(const T* x, int64_t n, T s, T t, T* y) {
  using V = Vec<T>;
  constexpr int W = V::W;
  const typename V::R vs = V::set1(s), vt = V::set1(t);
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    V::store(y + i, V::fma(V::load(x + i), vs, vt));
    V::store(y + i + W, V::fma(V::load(x + i + W), vs, vt));
  }
  for (; i + W <= n; i += W) V::store(y + i, V::fma(V::load(x + i), vs, vt));
  if (i < n) V::storen(y + i, V::fma(V::loadn(x + i, n - i, T(0)), vs, vt), n - i);
}

}  // namespace
