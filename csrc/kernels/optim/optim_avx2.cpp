// Optimizer chunk kernels, AVX2 + FMA (8 floats / 4 doubles per vector, masked tails).
#include <immintrin.h>

#include <cmath>

#include "kernels/optim/optim.h"

namespace fastdl {
namespace optim {
namespace avx2 {
namespace {
template <class T>
struct Vec;
#include "kernels/optim/optim_math.inc"

template <>
struct Vec<float> {
  using R = __m256;
  static constexpr int64_t W = 8;
  static __m256i mask(int64_t n) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(n)),
                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static R set(double x) { return _mm256_set1_ps(static_cast<float>(x)); }
  static R ld(const float* p, Full) { return _mm256_loadu_ps(p); }
  static R ld(const float* p, Part m) { return _mm256_maskload_ps(p, mask(m.n)); }
  static void st(float* p, R v, Full) { _mm256_storeu_ps(p, v); }
  static void st(float* p, R v, Part m) { _mm256_maskstore_ps(p, mask(m.n), v); }
  static R sqrt(R a) { return _mm256_sqrt_ps(a); }
  static R max(R a, R b) { return _mm256_max_ps(a, b); }
  static R min(R a, R b) { return _mm256_min_ps(a, b); }
  static R sign3(R s, R pos, R neg, R zero) {
    const R z = _mm256_setzero_ps();
    R r = _mm256_blendv_ps(s, pos, _mm256_cmp_ps(s, z, _CMP_GT_OQ));
    r = _mm256_blendv_ps(r, neg, _mm256_cmp_ps(s, z, _CMP_LT_OQ));
    return _mm256_blendv_ps(r, zero, _mm256_cmp_ps(s, z, _CMP_EQ_OQ));
  }
  static R where_eq(R a, R b, R x, R y) {
    return _mm256_blendv_ps(y, x, _mm256_cmp_ps(a, b, _CMP_EQ_OQ));
  }
  static R abs(R a) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a); }
  static bool any_nan(R a) { return _mm256_movemask_ps(_mm256_cmp_ps(a, a, _CMP_UNORD_Q)) != 0; }
};

template <>
struct Vec<double> {
  using R = __m256d;
  static constexpr int64_t W = 4;
  static __m256i mask(int64_t n) {
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  static R set(double x) { return _mm256_set1_pd(x); }
  static R ld(const double* p, Full) { return _mm256_loadu_pd(p); }
  static R ld(const double* p, Part m) { return _mm256_maskload_pd(p, mask(m.n)); }
  static void st(double* p, R v, Full) { _mm256_storeu_pd(p, v); }
  static void st(double* p, R v, Part m) { _mm256_maskstore_pd(p, mask(m.n), v); }
  static R sqrt(R a) { return _mm256_sqrt_pd(a); }
  static R max(R a, R b) { return _mm256_max_pd(a, b); }
  static R min(R a, R b) { return _mm256_min_pd(a, b); }
  static R sign3(R s, R pos, R neg, R zero) {
    const R z = _mm256_setzero_pd();
    R r = _mm256_blendv_pd(s, pos, _mm256_cmp_pd(s, z, _CMP_GT_OQ));
    r = _mm256_blendv_pd(r, neg, _mm256_cmp_pd(s, z, _CMP_LT_OQ));
    return _mm256_blendv_pd(r, zero, _mm256_cmp_pd(s, z, _CMP_EQ_OQ));
  }
  static R where_eq(R a, R b, R x, R y) {
    return _mm256_blendv_pd(y, x, _mm256_cmp_pd(a, b, _CMP_EQ_OQ));
  }
  static R abs(R a) { return _mm256_andnot_pd(_mm256_set1_pd(-0.0), a); }
  static bool any_nan(R a) { return _mm256_movemask_pd(_mm256_cmp_pd(a, a, _CMP_UNORD_Q)) != 0; }
};

inline double hsum(__m256d v) {
  __m128d s = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
  return _mm_cvtsd_f64(_mm_add_sd(s, _mm_unpackhi_pd(s, s)));
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
    alignas(32) T buf[8];
    V::st(buf, m, Full{});
    for (int64_t k = 0; k < V::W; ++k) r = buf[k] > r ? buf[k] : r;
    return nan ? NAN : r;
  }
  __m256d s0 = _mm256_setzero_pd(), s1 = _mm256_setzero_pd();
  const __m256d sign = _mm256_set1_pd(-0.0);
  for (int64_t i = 0; i < n; i += 8) {
    __m256d lo, hi;
    const int64_t cnt = n - i < 8 ? n - i : 8;
    if constexpr (sizeof(T) == 4) {
      __m256 v = cnt >= 8 ? _mm256_loadu_ps(x + i) : Vec<float>::ld(x + i, Part{cnt});
      lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
      hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    } else {
      lo = cnt >= 4 ? _mm256_loadu_pd(x + i) : Vec<double>::ld(x + i, Part{cnt});
      hi = cnt >= 8 ? _mm256_loadu_pd(x + i + 4)
                    : cnt > 4 ? Vec<double>::ld(x + i + 4, Part{cnt - 4}) : _mm256_setzero_pd();
    }
    if (kind == 2) {
      s0 = _mm256_fmadd_pd(lo, lo, s0);
      s1 = _mm256_fmadd_pd(hi, hi, s1);
    } else {
      s0 = _mm256_add_pd(s0, _mm256_andnot_pd(sign, lo));
      s1 = _mm256_add_pd(s1, _mm256_andnot_pd(sign, hi));
    }
  }
  return hsum(_mm256_add_pd(s0, s1));
}
}  // namespace

void step_f32(Algo al, const Hyper& h, const Coef& c, const ChunkArgs<float>& a) { run_step<float>(al, h, c, a); }
void step_f64(Algo al, const Hyper& h, const Coef& c, const ChunkArgs<double>& a) { run_step<double>(al, h, c, a); }
double norm_f32(const float* x, int64_t n, int kind) { return norm_impl<float>(x, n, kind); }
double norm_f64(const double* x, int64_t n, int kind) { return norm_impl<double>(x, n, kind); }
void map_f32(float* x, int64_t n, int kind, double a, double b) { run_map<float>(x, n, kind, a, b); }
void map_f64(double* x, int64_t n, int kind, double a, double b) { run_map<double>(x, n, kind, a, b); }
}  // namespace avx2
}  // namespace optim
}  // namespace fastdl
