// Optimizer chunk kernels, AVX-512 (16 floats / 8 doubles per vector, masked tails).
#include <immintrin.h>

#include <cmath>

#include "kernels/optim/optim.h"

namespace fastdl {
namespace optim {
namespace avx512 {
namespace {
template <class T>
struct Vec;
#include "kernels/optim/optim_math.inc"

template <>
struct Vec<float> {
  using R = __m512;
  static constexpr int64_t W = 16;
  static __mmask16 mask(int64_t n) { return static_cast<__mmask16>((1u << n) - 1u); }
  static R set(double x) { return _mm512_set1_ps(static_cast<float>(x)); }
  static R ld(const float* p, Full) { return _mm512_loadu_ps(p); }
  static R ld(const float* p, Part m) { return _mm512_maskz_loadu_ps(mask(m.n), p); }
  static void st(float* p, R v, Full) { _mm512_storeu_ps(p, v); }
  static void st(float* p, R v, Part m) { _mm512_mask_storeu_ps(p, mask(m.n), v); }
  static R sqrt(R a) { return _mm512_sqrt_ps(a); }
  static R max(R a, R b) { return _mm512_max_ps(a, b); }
  static R min(R a, R b) { return _mm512_min_ps(a, b); }
  static R sign3(R s, R pos, R neg, R zero) {
    const R z = _mm512_setzero_ps();
    R r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(s, z, _CMP_GT_OQ), s, pos);
    r = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(s, z, _CMP_LT_OQ), r, neg);
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(s, z, _CMP_EQ_OQ), r, zero);
  }
  static R where_eq(R a, R b, R x, R y) {
    return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_EQ_OQ), y, x);
  }
  static R abs(R a) { return _mm512_abs_ps(a); }
  static bool any_nan(R a) { return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q) != 0; }
};

template <>
struct Vec<double> {
  using R = __m512d;
  static constexpr int64_t W = 8;
  static __mmask8 mask(int64_t n) { return static_cast<__mmask8>((1u << n) - 1u); }
  static R set(double x) { return _mm512_set1_pd(x); }
  static R ld(const double* p, Full) { return _mm512_loadu_pd(p); }
  static R ld(const double* p, Part m) { return _mm512_maskz_loadu_pd(mask(m.n), p); }
  static void st(double* p, R v, Full) { _mm512_storeu_pd(p, v); }
  static void st(double* p, R v, Part m) { _mm512_mask_storeu_pd(p, mask(m.n), v); }
  static R sqrt(R a) { return _mm512_sqrt_pd(a); }
  static R max(R a, R b) { return _mm512_max_pd(a, b); }
  static R min(R a, R b) { return _mm512_min_pd(a, b); }
  static R sign3(R s, R pos, R neg, R zero) {
    const R z = _mm512_setzero_pd();
    R r = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(s, z, _CMP_GT_OQ), s, pos);
    r = _mm512_mask_blend_pd(_mm512_cmp_pd_mask(s, z, _CMP_LT_OQ), r, neg);
    return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(s, z, _CMP_EQ_OQ), r, zero);
  }
  static R where_eq(R a, R b, R x, R y) {
    return _mm512_mask_blend_pd(_mm512_cmp_pd_mask(a, b, _CMP_EQ_OQ), y, x);
  }
  static R abs(R a) { return _mm512_abs_pd(a); }
  static bool any_nan(R a) { return _mm512_cmp_pd_mask(a, a, _CMP_UNORD_Q) != 0; }
};

// Widen 16 floats (or pass 8 doubles) to double vectors for the norm accumulators.
inline void widen(const float* p, int64_t cnt, __m512d& lo, __m512d& hi) {
  __m512 v = cnt >= 16 ? _mm512_loadu_ps(p) : Vec<float>::ld(p, Part{cnt});
  lo = _mm512_cvtps_pd(_mm512_castps512_ps256(v));
  hi = _mm512_cvtps_pd(_mm512_extractf32x8_ps(v, 1));
}

template <class T>
double norm_impl(const T* x, int64_t n, int kind) {
  using V = Vec<T>;
  if (kind == 3) {
    typename V::R m = V::set(0);
    bool nan = false;
    for_each_vec<T>(n, [&](int64_t i, auto mk) {
      typename V::R a = V::abs(V::ld(x + i, mk));
      nan |= V::any_nan(a);
      m = V::max(a, m);
    });
    double r = 0;
    alignas(64) T buf[16];
    V::st(buf, m, Full{});
    for (int64_t k = 0; k < V::W; ++k) r = buf[k] > r ? buf[k] : r;
    return nan ? NAN : r;
  }
  __m512d s0 = _mm512_setzero_pd(), s1 = _mm512_setzero_pd();
  for (int64_t i = 0; i < n; i += 16) {
    __m512d lo, hi;
    const int64_t cnt = n - i < 16 ? n - i : 16;
    if constexpr (sizeof(T) == 4) {
      widen(x + i, cnt, lo, hi);
    } else {
      const double* d = x + i;
      lo = cnt >= 8 ? _mm512_loadu_pd(d) : Vec<double>::ld(d, Part{cnt});
      hi = cnt >= 16 ? _mm512_loadu_pd(d + 8)
                     : cnt > 8 ? Vec<double>::ld(d + 8, Part{cnt - 8}) : _mm512_setzero_pd();
    }
    if (kind == 2) {
      s0 = _mm512_fmadd_pd(lo, lo, s0);
      s1 = _mm512_fmadd_pd(hi, hi, s1);
    } else {
      s0 = _mm512_add_pd(s0, _mm512_abs_pd(lo));
      s1 = _mm512_add_pd(s1, _mm512_abs_pd(hi));
    }
  }
  return _mm512_reduce_add_pd(_mm512_add_pd(s0, s1));
}
}  // namespace

void step_f32(Algo al, const Hyper& h, const Coef& c, const ChunkArgs<float>& a) { run_step<float>(al, h, c, a); }
void step_f64(Algo al, const Hyper& h, const Coef& c, const ChunkArgs<double>& a) { run_step<double>(al, h, c, a); }
double norm_f32(const float* x, int64_t n, int kind) { return norm_impl<float>(x, n, kind); }
double norm_f64(const double* x, int64_t n, int kind) { return norm_impl<double>(x, n, kind); }
void map_f32(float* x, int64_t n, int kind, double a, double b) { run_map<float>(x, n, kind, a, b); }
void map_f64(double* x, int64_t n, int kind, double a, double b) { run_map<double>(x, n, kind, a, b); }
}  // namespace avx512
}  // namespace optim
}  // namespace fastdl
