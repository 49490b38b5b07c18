// The eltwise kernels, written once on the simd:: vector types and compiled once per ISA:
// eltwise.cpp (generic), eltwise_avx2.cpp and eltwise_avx512.cpp each include this file,
// and common/simd.h gives each its own vector types. Everything lands in
// fastdl::eltwise::<isa> (templates in an anonymous namespace inside it), so no inline copy
// compiled for one ISA can be merged into another's code. The file ends with that ISA's
// EltwiseOps table (declared in eltwise.h, picked per call in eltwise.cpp).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "common/parallel.h"
#include "kernels/eltwise/eltwise.h"
#include "common/simd.h"

namespace fastdl {
namespace eltwise {
namespace FASTDL_SIMD_ISA {
namespace {

namespace simd = ::fastdl::simd;
using simd::Vd;
using simd::Vf;

constexpr int64_t kGrain = 1 << 14;  // elements per parallel chunk (a multiple of 64)

// The loops below are flattened: everything they call (the op, the simd:: math) is inlined, so
// the four independent vectors of a step overlap (GCC otherwise calls Gelu::fwd out of line
// and spills every live vector around the call).
#if defined(__GNUC__)
#define FASTDL_FLATTEN __attribute__((flatten))
#else
#define FASTDL_FLATTEN
#endif

template <class V>
using Elem = typename V::T;

using simd::put;  // a non-temporal store when its template argument is true

// y[i] = f(x[i]) over [b, e), four vectors per step, masked tail. Stream: non-temporal
// stores ([b, e) starts 64-byte aligned in y), then a fence.
template <class V, bool Stream = false, class F>
FASTDL_FLATTEN inline void map1(const Elem<V>* x, Elem<V>* y, int64_t b, int64_t e,
                                const F& f) {
  constexpr int N = V::N;
  int64_t i = b;
  for (; i + 4 * N <= e; i += 4 * N) {
    V a0 = V::load(x + i), a1 = V::load(x + i + N), a2 = V::load(x + i + 2 * N),
      a3 = V::load(x + i + 3 * N);
    put<Stream>(f(a0), y + i);
    put<Stream>(f(a1), y + i + N);
    put<Stream>(f(a2), y + i + 2 * N);
    put<Stream>(f(a3), y + i + 3 * N);
  }
  for (; i + N <= e; i += N) put<Stream>(f(V::load(x + i)), y + i);
  if (i < e) f(V::load(x + i, e - i)).store(y + i, e - i);
  if constexpr (Stream) simd::stream_fence();
}

// Non-temporal output stores (from simd::kStreamBytes) pay off for fresh outputs far larger
// than the caches: they skip the read-for-ownership of the output's lines. Not in place (the
// output one of the inputs): there each line was just loaded into L1, and a non-temporal
// store to a cached line costs more than writing it back later -- measured on Zen 5, ms 1 thread / 2 threads, streaming
// vs plain stores: relu_ on 16M floats 2.93 / 1.77 vs 1.76 / 1.50, on 6.4M floats (a
// ResNet-50 activation at batch 8) 1.01 / 0.52 vs 0.34 / 0.18, the in-place add of two 6.4M
// float tensors 0.98 / 0.66 vs 0.80 / 0.55. (Zen 4 measured relu_ 2.14 -> 1.97 ms the other
// way, 16M floats on 2 threads.)
template <class T>
inline bool use_stream(const T* y, int64_t n) {
  return FASTDL_SIMD_LEVEL > 0 && n * static_cast<int64_t>(sizeof(T)) >= simd::kStreamBytes &&
         (reinterpret_cast<uintptr_t>(y) % 64) == 0;
}

// z[i] = f(x[i], y[i]) over [b, e), two vectors per step; Stream as map1.
template <class V, bool Stream = false, class F>
FASTDL_FLATTEN inline void map2(const Elem<V>* x, const Elem<V>* y, Elem<V>* z, int64_t b,
                                int64_t e, const F& f) {
  constexpr int N = V::N;
  int64_t i = b;
  for (; i + 2 * N <= e; i += 2 * N) {
    V a0 = V::load(x + i), a1 = V::load(x + i + N);
    V b0 = V::load(y + i), b1 = V::load(y + i + N);
    put<Stream>(f(a0, b0), z + i);
    put<Stream>(f(a1, b1), z + i + N);
  }
  for (; i + N <= e; i += N) put<Stream>(f(V::load(x + i), V::load(y + i)), z + i);
  if (i < e) f(V::load(x + i, e - i), V::load(y + i, e - i)).store(z + i, e - i);
  if constexpr (Stream) simd::stream_fence();
}

// z[i] = f(x[i], y[i] + w[i]) over [b, e): map2 whose second operand is the sum of two arrays
// (an activation's backward on two gradients reaching its output, summed as the separate add
// would: y[i] + w[i] rounded once, then f). Stream as map1.
template <class V, bool Stream = false, class F>
FASTDL_FLATTEN inline void map2_sum(const Elem<V>* x, const Elem<V>* y, const Elem<V>* w,
                                    Elem<V>* z, int64_t b, int64_t e, const F& f) {
  constexpr int N = V::N;
  int64_t i = b;
  for (; i + 2 * N <= e; i += 2 * N) {
    V a0 = V::load(x + i), a1 = V::load(x + i + N);
    V b0 = V::load(y + i) + V::load(w + i), b1 = V::load(y + i + N) + V::load(w + i + N);
    put<Stream>(f(a0, b0), z + i);
    put<Stream>(f(a1, b1), z + i + N);
  }
  for (; i + N <= e; i += N)
    put<Stream>(f(V::load(x + i), V::load(y + i) + V::load(w + i)), z + i);
  if (i < e)
    f(V::load(x + i, e - i), V::load(y + i, e - i) + V::load(w + i, e - i)).store(z + i, e - i);
  if constexpr (Stream) simd::stream_fence();
}

// map1 / map2 over [0, n) in parallel chunks of kGrain, streaming when use_stream(output, n)
// and the output is not one of the inputs.
template <class V, class F>
void par_map1(const Elem<V>* x, Elem<V>* y, int64_t n, const F& f) {
  if (use_stream(y, n) && y != x)
    parallel_for(n, kGrain, [&](int64_t b, int64_t e) { map1<V, true>(x, y, b, e, f); });
  else
    parallel_for(n, kGrain, [&](int64_t b, int64_t e) { map1<V>(x, y, b, e, f); });
}
template <class V, class F>
void par_map2(const Elem<V>* x, const Elem<V>* y, Elem<V>* z, int64_t n, const F& f) {
  if (use_stream(z, n) && z != x && z != y)
    parallel_for(n, kGrain, [&](int64_t b, int64_t e) { map2<V, true>(x, y, z, b, e, f); });
  else
    parallel_for(n, kGrain, [&](int64_t b, int64_t e) { map2<V>(x, y, z, b, e, f); });
}
// map2 over [0, n), its second operand y + w when w is given (map2_sum); as par_map2.
template <class V, class F>
void par_map2_sum(const Elem<V>* x, const Elem<V>* y, const Elem<V>* w, Elem<V>* z, int64_t n,
                  const F& f) {
  if (!w) return par_map2<V>(x, y, z, n, f);
  if (use_stream(z, n) && z != x && z != y && z != w)
    parallel_for(n, kGrain,
                 [&](int64_t b, int64_t e) { map2_sum<V, true>(x, y, w, z, b, e, f); });
  else
    parallel_for(n, kGrain, [&](int64_t b, int64_t e) { map2_sum<V>(x, y, w, z, b, e, f); });
}

// --------------------------------------------------------------------------------------
// Activations: fwd(x) and bwd(saved, g).
// --------------------------------------------------------------------------------------
template <class V>
struct Relu {
  explicit Relu(const double*) {}
  V fwd(V x) const { return simd::max(V(0), x); }
  // torch's threshold_backward: 0 where s <= 0, else g -- so a NaN input passes g through
  // (g kept a plain load: simd::plain)
  V bwd(V s, V g) const { return simd::select(s <= V(0), V(0), simd::plain(g)); }
};
template <class V>
struct LeakyRelu {
  V a;
  explicit LeakyRelu(const double* p) : a(Elem<V>(p[0])) {}
  V fwd(V x) const { return simd::select(x > V(0), x, x * a); }
  V bwd(V s, V g) const { return simd::select(s > V(0), g, g * a); }
};
template <class V>
struct Hardtanh {
  V lo, hi;
  explicit Hardtanh(const double* p) : lo(Elem<V>(p[0])), hi(Elem<V>(p[1])) {}
  V fwd(V x) const { return simd::min(hi, simd::max(lo, x)); }
  V bwd(V s, V g) const { return simd::select((s > lo) & (s < hi), simd::plain(g), V(0)); }
};
template <class V, bool kFromOutput>
struct EluImpl {
  V neg, pos, is;  // alpha * scale, scale, input_scale
  explicit EluImpl(const double* p)
      : neg(Elem<V>(p[0] * p[1])), pos(Elem<V>(p[1])), is(Elem<V>(p[2])) {}
  V fwd(V x) const { return simd::select(x > V(0), x * pos, neg * simd::expm1(x * is)); }
  V bwd(V s, V g) const {
    V d = kFromOutput ? is * (s + neg) : is * neg * simd::exp(s * is);
    return simd::select(s > V(0), g * pos, g * d);
  }
};
template <class V>  // the table's row; ActRun below picks EluImpl<V, true> for y-saved backward
struct Elu : EluImpl<V, false> {
  using EluImpl<V, false>::EluImpl;
};
template <class V>
struct Gelu {
  explicit Gelu(const double*) {}
  V fwd(V x) const { return x * simd::normcdf(x); }
  V bwd(V x, V g) const {  // Phi(x) + x phi(x), both from one exp
    V e;
    V q = simd::detail::normal_tail(x, e);
    V cdf = simd::select(x > V(0), V(1) - q, q);
    return g * simd::fma(x * V(0.39894228040143268), e, cdf);
  }
};
template <class V>
struct GeluTanh {  // x (1 + tanh u) / 2 = x sigmoid(2u), 2u = x (2k + 2k c x^2)
  explicit GeluTanh(const double*) {}
  static V two_u(V x) {
    return x * simd::fma(V(2 * 0.7978845608028654 * 0.044715) * x, x, V(2 * 0.7978845608028654));
  }
  V fwd(V x) const { return x * simd::sigmoid(two_u(x)); }
  V bwd(V x, V g) const {
    V s = simd::sigmoid(two_u(x));
    V du = simd::fma(V(2 * 0.7978845608028654 * 3 * 0.044715) * x, x, V(2 * 0.7978845608028654));
    return g * simd::fma(x * s * (V(1) - s), du, s);
  }
};
template <class V>
struct Silu {
  explicit Silu(const double*) {}
  V fwd(V x) const { return x * simd::sigmoid(x); }
  V bwd(V x, V g) const {
    V s = simd::sigmoid(x);
    return g * (s * simd::fma(x, V(1) - s, V(1)));
  }
};
template <class V>
struct Mish {  // tanh(softplus(x)) from e = exp(-|x|), no overflow
  explicit Mish(const double*) {}
  static V t_of(V x, V e, typename V::Mask pos) {
    V num = simd::select(pos, simd::fma(V(2), e, V(1)), e * (e + V(2)));
    V den = simd::select(pos, simd::fma(V(2) * e, e, num), num + V(2));
    return num / den;
  }
  V fwd(V x) const {
    V e = simd::detail::exp_nabs(x);
    return x * t_of(x, e, x > V(0));
  }
  V bwd(V x, V g) const {
    auto pos = x > V(0);
    V e = simd::detail::exp_nabs(x);
    V t = t_of(x, e, pos);
    V sg = simd::select(pos, V(1), e) / (V(1) + e);
    return g * simd::fma(x * simd::fma(-t, t, V(1)), sg, t);
  }
};
template <class V>
struct Sigmoid {  // backward from the output
  explicit Sigmoid(const double*) {}
  V fwd(V x) const { return simd::sigmoid(x); }
  V bwd(V y, V g) const { return g * (y * (V(1) - y)); }
};
template <class V>
struct Tanh {  // backward from the output
  explicit Tanh(const double*) {}
  V fwd(V x) const { return simd::tanh(x); }
  V bwd(V y, V g) const { return g * simd::fma(-y, y, V(1)); }
};
template <class V, bool kUnitBeta>  // kUnitBeta: beta == 1 (the default), no scaling
struct SoftplusImpl {
  V beta, th;
  explicit SoftplusImpl(const double* p) : beta(Elem<V>(p[0])), th(Elem<V>(p[1])) {}
  V fwd(V x) const {
    if (kUnitBeta) return simd::select(x > th, x, simd::softplus(x));
    V z = x * beta;
    return simd::select(z > th, x, simd::softplus(z) / beta);
  }
  V bwd(V x, V g) const {
    V z = kUnitBeta ? x : x * beta;
    return simd::select(z > th, g, g * simd::sigmoid(z));
  }
};
template <class V>  // the table's row; ActRun below picks SoftplusImpl<V, true> for beta == 1
struct Softplus : SoftplusImpl<V, false> {
  using SoftplusImpl<V, false>::SoftplusImpl;
};
template <class V>
struct Softsign {
  explicit Softsign(const double*) {}
  V fwd(V x) const { return x / (V(1) + simd::abs(x)); }
  V bwd(V x, V g) const {
    V d = V(1) + simd::abs(x);
    return g / (d * d);
  }
};
template <class V>
struct Hardsigmoid {
  explicit Hardsigmoid(const double*) {}
  V fwd(V x) const { return simd::min(V(6), simd::max(V(0), x + V(3))) / V(6); }
  V bwd(V x, V g) const {
    return simd::select((x > V(-3)) & (x < V(3)), g * V(Elem<V>(1) / Elem<V>(6)), V(0));
  }
};
template <class V>
struct Hardswish {
  explicit Hardswish(const double*) {}
  V fwd(V x) const { return x * simd::min(V(6), simd::max(V(0), x + V(3))) / V(6); }
  V bwd(V x, V g) const {
    V mid = g * simd::fma(x, V(Elem<V>(1) / Elem<V>(3)), V(0.5));
    // torch's (vectorised) rule: 0 for x <= -3, g for x >= 3, the slope between; NaN takes
    // the middle branch and stays NaN
    return simd::select(x <= V(-3), V(0), simd::select(x >= V(3), g, mid));
  }
};
template <class V>
struct LogSigmoid {
  explicit LogSigmoid(const double*) {}
  V fwd(V x) const { return simd::log_sigmoid(x); }
  V bwd(V x, V g) const { return g * simd::sigmoid(-x); }
};

template <class V, class Op>
void run_fwd(const Elem<V>* x, Elem<V>* y, int64_t n, const double* p) {
  const Op op(p);
  par_map1<V>(x, y, n, [&](V v) { return op.fwd(v); });
}
// gx = act'(s)·g, with g = g + g2 when g2 is given (eltwise.h: act_backward)
template <class V, class Op>
void run_bwd(const Elem<V>* s, const Elem<V>* g, const Elem<V>* g2, Elem<V>* gx, int64_t n,
             const double* p) {
  const Op op(p);
  par_map2_sum<V>(s, g, g2, gx, n, [&](V a, V c) { return op.bwd(a, c); });
}

// How one table row runs: Op<V> forward and backward; a row whose kernel has variants
// specialises this (Elu: from the output; Softplus: beta == 1).
template <class V, template <class> class Op>
struct ActRun {
  static void fwd(const Elem<V>* x, Elem<V>* y, int64_t n, const double* p) {
    run_fwd<V, Op<V>>(x, y, n, p);
  }
  static void bwd(bool, const Elem<V>* s, const Elem<V>* g, const Elem<V>* g2, Elem<V>* gx,
                  int64_t n, const double* p) {
    run_bwd<V, Op<V>>(s, g, g2, gx, n, p);
  }
};
template <class V>
struct ActRun<V, Elu> {
  static void fwd(const Elem<V>* x, Elem<V>* y, int64_t n, const double* p) {
    run_fwd<V, EluImpl<V, false>>(x, y, n, p);
  }
  static void bwd(bool out, const Elem<V>* s, const Elem<V>* g, const Elem<V>* g2,
                  Elem<V>* gx, int64_t n, const double* p) {
    if (out) run_bwd<V, EluImpl<V, true>>(s, g, g2, gx, n, p);
    else run_bwd<V, EluImpl<V, false>>(s, g, g2, gx, n, p);
  }
};
template <class V>
struct ActRun<V, Softplus> {
  static void fwd(const Elem<V>* x, Elem<V>* y, int64_t n, const double* p) {
    if (p[0] == 1.0) run_fwd<V, SoftplusImpl<V, true>>(x, y, n, p);
    else run_fwd<V, SoftplusImpl<V, false>>(x, y, n, p);
  }
  static void bwd(bool, const Elem<V>* s, const Elem<V>* g, const Elem<V>* g2, Elem<V>* gx,
                  int64_t n, const double* p) {
    if (p[0] == 1.0) run_bwd<V, SoftplusImpl<V, true>>(s, g, g2, gx, n, p);
    else run_bwd<V, SoftplusImpl<V, false>>(s, g, g2, gx, n, p);
  }
};

// The switches over the activation table (eltwise.h's FASTDL_ACTIVATIONS).
template <class V>
void act_fwd(int act, const Elem<V>* x, Elem<V>* y, int64_t n, const double* p) {
  switch (act) {
#define FASTDL_ACT_CASE(Name, name, saved) \
  case k##Name: return ActRun<V, Name>::fwd(x, y, n, p);
    FASTDL_ACTIVATIONS(FASTDL_ACT_CASE)
#undef FASTDL_ACT_CASE
    default: return;
  }
}

template <class V>
void act_bwd(int act, bool out, const Elem<V>* s, const Elem<V>* g, const Elem<V>* g2,
             Elem<V>* gx, int64_t n, const double* p) {
  switch (act) {
#define FASTDL_ACT_CASE(Name, name, saved) \
  case k##Name: return ActRun<V, Name>::bwd(out, s, g, g2, gx, n, p);
    FASTDL_ACTIVATIONS(FASTDL_ACT_CASE)
#undef FASTDL_ACT_CASE
    default: return;
  }
}

// --------------------------------------------------------------------------------------
// Softmax / log_softmax
// --------------------------------------------------------------------------------------
// Sums along the softmax dimension go in blocks summed in vector lanes, each block's total
// then added into a double (see simd::kLaneTerms in common/simd.h).
using simd::kLaneTerms;

template <class V>
FASTDL_FLATTEN void softmax_row(bool lg, const Elem<V>* x, Elem<V>* y, int64_t d) {
  using T = Elem<V>;
  constexpr int N = V::N;
  const T ninf = -std::numeric_limits<T>::infinity();
  V m0(ninf), m1(ninf);
  int64_t i = 0;
  for (; i + 2 * N <= d; i += 2 * N) {
    m0 = simd::max(V::load(x + i), m0);
    m1 = simd::max(V::load(x + i + N), m1);
  }
  for (; i + N <= d; i += N) m0 = simd::max(V::load(x + i), m0);
  if (i < d) m1 = simd::max(V::load(x + i, d - i, ninf), m1);
  const V m(simd::hmax(simd::max(m0, m1)));
  constexpr int64_t kSumBlock = 2 * N * kLaneTerms;
  double tot = 0;
  for (int64_t b = 0; b < d; b += kSumBlock) {
    const int64_t e = d - b < kSumBlock ? d : b + kSumBlock;
    V s0(T(0)), s1(T(0));
    i = b;
    if (lg) {
      for (; i + 2 * N <= e; i += 2 * N) {
        s0 = s0 + simd::exp_nonpos(V::load(x + i) - m);
        s1 = s1 + simd::exp_nonpos(V::load(x + i + N) - m);
      }
      for (; i + N <= e; i += N) s0 = s0 + simd::exp_nonpos(V::load(x + i) - m);
      if (i < e) s1 = s1 + simd::exp_nonpos(V::load(x + i, e - i, ninf) - m);
    } else {
      for (; i + 2 * N <= e; i += 2 * N) {
        V e0 = simd::exp_nonpos(V::load(x + i) - m), e1 = simd::exp_nonpos(V::load(x + i + N) - m);
        e0.store(y + i);
        e1.store(y + i + N);
        s0 = s0 + e0;
        s1 = s1 + e1;
      }
      for (; i + N <= e; i += N) {
        V e0 = simd::exp_nonpos(V::load(x + i) - m);
        e0.store(y + i);
        s0 = s0 + e0;
      }
      if (i < e) {
        V e1 = simd::exp_nonpos(V::load(x + i, e - i, ninf) - m);
        e1.store(y + i, e - i);
        s1 = s1 + e1;
      }
    }
    tot += static_cast<double>(simd::hsum(s0 + s1));
  }
  if (lg) {
    const V ls(static_cast<T>(std::log(tot)));
    map1<V>(x, y, 0, d, [&](V v) { return (v - m) - ls; });
  } else {
    const V inv(static_cast<T>(1.0 / tot));
    map1<V>(y, y, 0, d, [&](V v) { return v * inv; });
  }
}

template <class V>
FASTDL_FLATTEN void softmax_row_bwd(bool lg, const Elem<V>* y, const Elem<V>* g, Elem<V>* gx,
                                    int64_t d) {
  using T = Elem<V>;
  constexpr int N = V::N;
  constexpr int64_t kSumBlock = 2 * N * kLaneTerms;
  double tot = 0;
  for (int64_t b = 0; b < d; b += kSumBlock) {
    const int64_t e = d - b < kSumBlock ? d : b + kSumBlock;
    V s0(T(0)), s1(T(0));
    int64_t i = b;
    if (lg) {
      for (; i + 2 * N <= e; i += 2 * N) {
        s0 = s0 + V::load(g + i);
        s1 = s1 + V::load(g + i + N);
      }
      for (; i + N <= e; i += N) s0 = s0 + V::load(g + i);
      if (i < e) s1 = s1 + V::load(g + i, e - i);
    } else {
      for (; i + 2 * N <= e; i += 2 * N) {
        s0 = simd::fma(V::load(g + i), V::load(y + i), s0);
        s1 = simd::fma(V::load(g + i + N), V::load(y + i + N), s1);
      }
      for (; i + N <= e; i += N) s0 = simd::fma(V::load(g + i), V::load(y + i), s0);
      if (i < e) s1 = simd::fma(V::load(g + i, e - i), V::load(y + i, e - i), s1);
    }
    tot += static_cast<double>(simd::hsum(s0 + s1));
  }
  const V sum(static_cast<T>(tot));
  if (lg)
    map2<V>(y, g, gx, 0, d, [&](V yv, V gv) { return gv - simd::exp_nonpos(yv) * sum; });
  else
    map2<V>(y, g, gx, 0, d, [&](V yv, V gv) { return yv * (gv - sum); });
}

// A block of w <= kCols columns of a (dim, inner) slab, vectorised across the columns.
template <class V>
struct ColBlock {
  static constexpr int kVecs = 4;
  static constexpr int kCols = kVecs * V::N;
};

// Column sums as in the rows: kLaneTerms rows at a time in vector lanes, then per
// column into double.
template <class V>
struct ColSums {
  using T = Elem<V>;
  static constexpr int N = V::N, K = ColBlock<V>::kVecs;
  static constexpr int64_t kRows = kLaneTerms;
  double acc[ColBlock<V>::kCols] = {};
  void add(const V* s, int nv) {
    alignas(64) T b[ColBlock<V>::kCols];
    for (int k = 0; k < nv; ++k) s[k].store(b + k * N);
    for (int c = 0; c < nv * N; ++c) acc[c] += static_cast<double>(b[c]);
  }
  // v[k] = f(column total) for each vector k
  template <class F>
  void finish(V* v, int nv, const F& f) const {
    alignas(64) T b[ColBlock<V>::kCols];
    for (int c = 0; c < nv * N; ++c) b[c] = static_cast<T>(f(acc[c]));
    for (int k = 0; k < nv; ++k) v[k] = V::load(b + k * N);
  }
};

template <class V>
FASTDL_FLATTEN void softmax_cols(bool lg, const Elem<V>* x, Elem<V>* y, int64_t d, int64_t inner,
                                 int64_t w) {
  using T = Elem<V>;
  constexpr int N = V::N, K = ColBlock<V>::kVecs;
  const T ninf = -std::numeric_limits<T>::infinity();
  const int nv = static_cast<int>((w + N - 1) / N);
  const int64_t last = w - static_cast<int64_t>(nv - 1) * N;
  auto ld = [&](const T* p, int k, T fill) {
    return k < nv - 1 ? V::load(p + k * N) : V::load(p + k * N, last, fill);
  };
  auto st = [&](V v, T* p, int k) {
    if (k < nv - 1) v.store(p + k * N); else v.store(p + k * N, last);
  };
  V m[K], s[K];
  for (int k = 0; k < K; ++k) {
    m[k] = V(ninf);
    s[k] = V(T(0));
  }
  for (int64_t j = 0; j < d; ++j)
    for (int k = 0; k < nv; ++k) m[k] = simd::max(ld(x + j * inner, k, ninf), m[k]);
  ColSums<V> cs;
  for (int64_t j0 = 0; j0 < d; j0 += ColSums<V>::kRows) {
    const int64_t j1 = d - j0 < ColSums<V>::kRows ? d : j0 + ColSums<V>::kRows;
    for (int k = 0; k < K; ++k) s[k] = V(T(0));
    for (int64_t j = j0; j < j1; ++j)
      for (int k = 0; k < nv; ++k) {
        V e = simd::exp_nonpos(ld(x + j * inner, k, ninf) - m[k]);
        if (!lg) st(e, y + j * inner, k);
        s[k] = s[k] + e;
      }
    cs.add(s, nv);
  }
  if (lg) {
    cs.finish(s, nv, [](double t) { return std::log(t); });
    for (int64_t j = 0; j < d; ++j)
      for (int k = 0; k < nv; ++k) st((ld(x + j * inner, k, T(0)) - m[k]) - s[k], y + j * inner, k);
  } else {
    cs.finish(s, nv, [](double t) { return 1.0 / t; });
    for (int64_t j = 0; j < d; ++j)
      for (int k = 0; k < nv; ++k) st(ld(y + j * inner, k, T(0)) * s[k], y + j * inner, k);
  }
}

template <class V>
FASTDL_FLATTEN void softmax_cols_bwd(bool lg, const Elem<V>* y, const Elem<V>* g, Elem<V>* gx,
                                     int64_t d, int64_t inner, int64_t w) {
  using T = Elem<V>;
  constexpr int N = V::N, K = ColBlock<V>::kVecs;
  const int nv = static_cast<int>((w + N - 1) / N);
  const int64_t last = w - static_cast<int64_t>(nv - 1) * N;
  auto ld = [&](const T* p, int k) {
    return k < nv - 1 ? V::load(p + k * N) : V::load(p + k * N, last);
  };
  auto st = [&](V v, T* p, int k) {
    if (k < nv - 1) v.store(p + k * N); else v.store(p + k * N, last);
  };
  V s[K];
  ColSums<V> cs;
  for (int64_t j0 = 0; j0 < d; j0 += ColSums<V>::kRows) {
    const int64_t j1 = d - j0 < ColSums<V>::kRows ? d : j0 + ColSums<V>::kRows;
    for (int k = 0; k < K; ++k) s[k] = V(T(0));
    for (int64_t j = j0; j < j1; ++j)
      for (int k = 0; k < nv; ++k)
        s[k] = lg ? s[k] + ld(g + j * inner, k)
                  : simd::fma(ld(g + j * inner, k), ld(y + j * inner, k), s[k]);
    cs.add(s, nv);
  }
  cs.finish(s, nv, [](double t) { return t; });
  for (int64_t j = 0; j < d; ++j)
    for (int k = 0; k < nv; ++k) {
      V yv = ld(y + j * inner, k), gv = ld(g + j * inner, k);
      st(lg ? gv - simd::exp_nonpos(yv) * s[k] : yv * (gv - s[k]), gx + j * inner, k);
    }
}

// The chunking both softmax passes share: whole rows (inner == 1) or blocks of W columns of one
// outer slice; row(off, d) and cols(off, width) do the work at element offset off.
template <class V, class Row, class Cols>
void smax_chunks(int64_t outer, int64_t d, int64_t inner, const Row& row, const Cols& cols) {
  if (outer <= 0 || d <= 0 || inner <= 0) return;
  if (inner == 1) {
    const int64_t grain = d >= kGrain ? 1 : kGrain / d;
    parallel_for(outer, grain, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) row(r * d);
    });
    return;
  }
  constexpr int64_t W = ColBlock<V>::kCols;
  const int64_t nb = (inner + W - 1) / W;
  const int64_t per = d * W, grain = per >= kGrain ? 1 : kGrain / per;
  parallel_for(outer * nb, grain, [&](int64_t b, int64_t e) {
    for (int64_t it = b; it < e; ++it) {
      const int64_t r = it / nb, c = (it % nb) * W;
      cols(r * d * inner + c, inner - c < W ? inner - c : W);
    }
  });
}

template <class V>
void smax_fwd(bool lg, const Elem<V>* x, Elem<V>* y, int64_t outer, int64_t d, int64_t inner) {
  smax_chunks<V>(
      outer, d, inner, [&](int64_t off) { softmax_row<V>(lg, x + off, y + off, d); },
      [&](int64_t off, int64_t w) { softmax_cols<V>(lg, x + off, y + off, d, inner, w); });
}

template <class V>
void smax_bwd(bool lg, const Elem<V>* y, const Elem<V>* g, Elem<V>* gx, int64_t outer, int64_t d,
              int64_t inner) {
  smax_chunks<V>(
      outer, d, inner,
      [&](int64_t off) { softmax_row_bwd<V>(lg, y + off, g + off, gx + off, d); },
      [&](int64_t off, int64_t w) {
        softmax_cols_bwd<V>(lg, y + off, g + off, gx + off, d, inner, w);
      });
}

// --------------------------------------------------------------------------------------
// PReLU
// --------------------------------------------------------------------------------------
// Calls f(begin, end, channel) for the channel segments of the flat range [b, e).
template <class F>
inline void segments(int64_t b, int64_t e, int64_t C, int64_t inner, const F& f) {
  int64_t i = b;
  while (i < e) {
    const int64_t row = i / inner;
    const int64_t end = (row + 1) * inner < e ? (row + 1) * inner : e;
    f(i, end, row % C);
    i = end;
  }
}

template <class V>
void prelu_fwd(const Elem<V>* x, const Elem<V>* w, Elem<V>* y, int64_t outer, int64_t C,
               int64_t inner) {
  const int64_t n = outer * C * inner;
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    segments(b, e, C, inner, [&](int64_t sb, int64_t se, int64_t c) {
      const V wc(w[c]);
      map1<V>(x, y, sb, se, [&](V v) { return simd::select(v > V(0), v, v * wc); });
    });
  });
}

// Work items for the weight gradient: chunks of the flat range for large inner (one partial
// per (row, channel, piece)), row blocks x channels for small inner.
inline bool prelu_by_rows(int64_t inner) { return inner < 1024; }
inline int64_t prelu_rows_per_block(int64_t C, int64_t inner) {
  const int64_t per = C * inner;
  return per >= kGrain ? 1 : kGrain / per;
}

template <class V>
void prelu_bwd(const Elem<V>* x, const Elem<V>* w, const Elem<V>* g, Elem<V>* gx, Elem<V>* gw,
               double* work, int64_t outer, int64_t C, int64_t inner) {
  using T = Elem<V>;
  const int64_t n = outer * C * inner;
  if (gx) {
    parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
      segments(b, e, C, inner, [&](int64_t sb, int64_t se, int64_t c) {
        const V wc(w[c]);
        map2<V>(x, g, gx, sb, se, [&](V xv, V gv) { return simd::select(xv > V(0), gv, gv * wc); });
      });
    });
  }
  if (!gw) return;
  auto seg_sum = [&](int64_t sb, int64_t se) {
    constexpr int N = V::N;
    V acc(T(0));
    int64_t i = sb;
    for (; i + N <= se; i += N) {
      V xv = V::load(x + i);
      acc = acc + simd::select(xv > V(0), V(0), xv * V::load(g + i));
    }
    if (i < se) {
      V xv = V::load(x + i, se - i);
      acc = acc + simd::select(xv > V(0), V(0), xv * V::load(g + i, se - i));
    }
    return static_cast<double>(simd::hsum(acc));
  };
  if (prelu_by_rows(inner)) {
    const int64_t rpb = prelu_rows_per_block(C, inner);
    const int64_t nblk = (outer + rpb - 1) / rpb;
    parallel_for(nblk, 1, [&](int64_t b, int64_t e) {
      for (int64_t blk = b; blk < e; ++blk) {
        double* part = work + blk * C;
        for (int64_t c = 0; c < C; ++c) part[c] = 0.0;
        const int64_t r1 = (blk + 1) * rpb < outer ? (blk + 1) * rpb : outer;
        for (int64_t r = blk * rpb; r < r1; ++r)
          for (int64_t c = 0; c < C; ++c) {
            const int64_t off = (r * C + c) * inner;
            part[c] += seg_sum(off, off + inner);
          }
      }
    });
    for (int64_t c = 0; c < C; ++c) {
      double s = 0.0;
      for (int64_t blk = 0; blk < nblk; ++blk) s += work[blk * C + c];
      gw[c] = static_cast<T>(s);
    }
  } else {
    const int64_t np = (inner + kGrain - 1) / kGrain;
    parallel_for(outer * C * np, 1, [&](int64_t b, int64_t e) {
      for (int64_t it = b; it < e; ++it) {
        const int64_t rc = it / np, pc = it % np;
        const int64_t sb = rc * inner + pc * kGrain;
        const int64_t se = sb + kGrain < (rc + 1) * inner ? sb + kGrain : (rc + 1) * inner;
        work[it] = seg_sum(sb, se);
      }
    });
    for (int64_t c = 0; c < C; ++c) {
      double s = 0.0;
      for (int64_t r = 0; r < outer; ++r)
        for (int64_t pc = 0; pc < np; ++pc) s += work[(r * C + c) * np + pc];
      gw[c] = static_cast<T>(s);
    }
  }
}

// --------------------------------------------------------------------------------------
// Philox4x32-10 and dropout
// --------------------------------------------------------------------------------------
constexpr uint32_t kPhiloxM0 = 0xD2511F53u, kPhiloxM1 = 0xCD9E8D57u;
constexpr uint32_t kPhiloxW0 = 0x9E3779B9u, kPhiloxW1 = 0xBB67AE85u;

inline void philox_scalar(uint32_t c[4], uint32_t k0, uint32_t k1) {
  for (int r = 0; r < 10; ++r) {
    const uint64_t p0 = static_cast<uint64_t>(kPhiloxM0) * c[0];
    const uint64_t p1 = static_cast<uint64_t>(kPhiloxM1) * c[2];
    const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c[1] ^ k0;
    const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c[3] ^ k1;
    c[1] = static_cast<uint32_t>(p1);
    c[3] = static_cast<uint32_t>(p0);
    c[0] = n0;
    c[2] = n2;
    k0 += kPhiloxW0;
    k1 += kPhiloxW1;
  }
}

// The 64 words of group grp: out[16 w + l] = word w of counter 16 grp + l.
inline void philox_group(uint64_t seed, uint64_t grp, uint32_t* out) {
  const uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  const uint64_t base = grp * 16;
#if FASTDL_SIMD_LEVEL == 2
  const __m512i M0 = _mm512_set1_epi32(static_cast<int>(kPhiloxM0));
  const __m512i M1 = _mm512_set1_epi32(static_cast<int>(kPhiloxM1));
  __m512i c0 = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(base))),
                                _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15));
  __m512i c1 = _mm512_set1_epi32(static_cast<int>(static_cast<uint32_t>(base >> 32)));
  __m512i c2 = _mm512_setzero_si512(), c3 = _mm512_setzero_si512();
  uint32_t kk0 = k0, kk1 = k1;
  for (int r = 0; r < 10; ++r) {
    __m512i e0 = _mm512_mul_epu32(c0, M0), o0 = _mm512_mul_epu32(_mm512_srli_epi64(c0, 32), M0);
    __m512i e1 = _mm512_mul_epu32(c2, M1), o1 = _mm512_mul_epu32(_mm512_srli_epi64(c2, 32), M1);
    __m512i lo0 = _mm512_mask_blend_epi32(0xAAAA, e0, _mm512_slli_epi64(o0, 32));
    __m512i hi0 = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(e0, 32), o0);
    __m512i lo1 = _mm512_mask_blend_epi32(0xAAAA, e1, _mm512_slli_epi64(o1, 32));
    __m512i hi1 = _mm512_mask_blend_epi32(0xAAAA, _mm512_srli_epi64(e1, 32), o1);
    __m512i n0 = _mm512_xor_si512(_mm512_xor_si512(hi1, c1), _mm512_set1_epi32(static_cast<int>(kk0)));
    __m512i n2 = _mm512_xor_si512(_mm512_xor_si512(hi0, c3), _mm512_set1_epi32(static_cast<int>(kk1)));
    c0 = n0;
    c1 = lo1;
    c2 = n2;
    c3 = lo0;
    kk0 += kPhiloxW0;
    kk1 += kPhiloxW1;
  }
  _mm512_storeu_si512(out, c0);
  _mm512_storeu_si512(out + 16, c1);
  _mm512_storeu_si512(out + 32, c2);
  _mm512_storeu_si512(out + 48, c3);
#elif FASTDL_SIMD_LEVEL == 1
  const __m256i M0 = _mm256_set1_epi32(static_cast<int>(kPhiloxM0));
  const __m256i M1 = _mm256_set1_epi32(static_cast<int>(kPhiloxM1));
  for (int h = 0; h < 2; ++h) {
    const uint64_t bh = base + 8 * h;
    __m256i c0 = _mm256_add_epi32(_mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(bh))),
                                  _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
    __m256i c1 = _mm256_set1_epi32(static_cast<int>(static_cast<uint32_t>(bh >> 32)));
    __m256i c2 = _mm256_setzero_si256(), c3 = _mm256_setzero_si256();
    uint32_t kk0 = k0, kk1 = k1;
    for (int r = 0; r < 10; ++r) {
      __m256i e0 = _mm256_mul_epu32(c0, M0), o0 = _mm256_mul_epu32(_mm256_srli_epi64(c0, 32), M0);
      __m256i e1 = _mm256_mul_epu32(c2, M1), o1 = _mm256_mul_epu32(_mm256_srli_epi64(c2, 32), M1);
      __m256i lo0 = _mm256_blend_epi32(e0, _mm256_slli_epi64(o0, 32), 0xAA);
      __m256i hi0 = _mm256_blend_epi32(_mm256_srli_epi64(e0, 32), o0, 0xAA);
      __m256i lo1 = _mm256_blend_epi32(e1, _mm256_slli_epi64(o1, 32), 0xAA);
      __m256i hi1 = _mm256_blend_epi32(_mm256_srli_epi64(e1, 32), o1, 0xAA);
      __m256i n0 = _mm256_xor_si256(_mm256_xor_si256(hi1, c1), _mm256_set1_epi32(static_cast<int>(kk0)));
      __m256i n2 = _mm256_xor_si256(_mm256_xor_si256(hi0, c3), _mm256_set1_epi32(static_cast<int>(kk1)));
      c0 = n0;
      c1 = lo1;
      c2 = n2;
      c3 = lo0;
      kk0 += kPhiloxW0;
      kk1 += kPhiloxW1;
    }
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8 * h), c0);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 16 + 8 * h), c1);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 32 + 8 * h), c2);
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 48 + 8 * h), c3);
  }
#else
  for (int l = 0; l < 16; ++l) {
    const uint64_t c = base + l;
    uint32_t w[4] = {static_cast<uint32_t>(c), static_cast<uint32_t>(c >> 32), 0u, 0u};
    philox_scalar(w, k0, k1);
    for (int j = 0; j < 4; ++j) out[16 * j + l] = w[j];
  }
#endif
}

inline uint32_t philox_one(uint64_t seed, uint64_t k) {
  const uint64_t c = (k / 64) * 16 + k % 16;
  uint32_t w[4] = {static_cast<uint32_t>(c), static_cast<uint32_t>(c >> 32), 0u, 0u};
  philox_scalar(w, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  return w[(k % 64) / 16];
}

inline uint32_t keep_threshold(double p) {
  double t = (1.0 - p) * 16777216.0 + 0.5;
  if (t < 0) t = 0;
  if (t > 16777216.0) t = 16777216.0;
  return static_cast<uint32_t>(t);
}

template <class T>
void dropout_impl(const T* x, T* y, int64_t n, int64_t group, uint64_t seed, double p) {
  const uint32_t th = keep_threshold(p);
  const T scale = p < 1.0 ? static_cast<T>(1.0 / (1.0 - p)) : T(0);
  if (group == 1) {
    parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
      const uint32_t thl = th;  // locals: the compiler may not assume the captures are unaliased
      const T sc = scale;
      const uint64_t sd = seed;
      const T* __restrict xs = x;
      T* __restrict ys = y;
      alignas(64) uint32_t words[64];
      for (int64_t g0 = b; g0 < e; g0 += 64) {
        philox_group(sd, static_cast<uint64_t>(g0) / 64, words);
        const int64_t m = e - g0 < 64 ? e - g0 : 64;
        if (m == 64) {
          for (int j = 0; j < 64; ++j) ys[g0 + j] = xs[g0 + j] * ((words[j] >> 8) < thl ? sc : T(0));
        } else {
          for (int64_t j = 0; j < m; ++j) ys[g0 + j] = xs[g0 + j] * ((words[j] >> 8) < thl ? sc : T(0));
        }
      }
    });
  } else {
    parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
      segments(b, e, std::numeric_limits<int64_t>::max(), group,
               [&](int64_t sb, int64_t se, int64_t k) {
                 const T f = (philox_one(seed, static_cast<uint64_t>(k)) >> 8) < th ? scale : T(0);
                 using V = typename std::conditional<sizeof(T) == 4, Vf, Vd>::type;
                 const V fv(f);
                 map1<V>(x, y, sb, se, [&](V v) { return v * fv; });
               });
    });
  }
}

// --------------------------------------------------------------------------------------
// simd.h math on arrays, bandwidth probes
// --------------------------------------------------------------------------------------
template <class V>
void vm_eval_impl(int fn, const Elem<V>* x, Elem<V>* y, int64_t n) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    map1<V>(x, y, b, e, [&](V v) {
      switch (fn) {
        case 0: return simd::exp(v);
        case 1: return simd::expm1(v);
        case 2: return simd::log(v);
        case 3: return simd::log1p(v);
        case 4: return simd::tanh(v);
        case 5: return simd::erf(v);
        case 6: return simd::erfc(v);
        case 7: return simd::sigmoid(v);
        case 8: return simd::softplus(v);
        case 9: return simd::log_sigmoid(v);
        default: return simd::normcdf(v);
      }
    });
  });
}

void dropout_words(uint32_t* out, int64_t n, uint64_t seed) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
    alignas(64) uint32_t words[64];
    for (int64_t g0 = b; g0 < e; g0 += 64) {
      philox_group(seed, static_cast<uint64_t>(g0) / 64, words);
      const int64_t m = e - g0 < 64 ? e - g0 : 64;
      for (int64_t j = 0; j < m; ++j) out[g0 + j] = words[j];
    }
  });
}
// Same store policy as the kernels (streaming for large outputs).
void bw_copy(const float* src, float* dst, int64_t n) {
  par_map1<Vf>(src, dst, n, [](Vf v) { return v; });
}
void bw_triad(float* a, const float* b, const float* c, float s, int64_t n) {
  const Vf sv(s);
  par_map2<Vf>(b, c, a, n, [&](Vf bv, Vf cv) { return simd::fma(sv, cv, bv); });
}

template <class V>
void add_impl(const Elem<V>* a, const Elem<V>* b, Elem<V>* y, int64_t n) {
  par_map2<V>(a, b, y, n, [](V u, V v) { return u + v; });
}

template <class V>
constexpr EltwiseOpsT<Elem<V>> ops_t() {
  return {&act_fwd<V>,   &act_bwd<V>,   &smax_fwd<V>,           &smax_bwd<V>,
          &prelu_fwd<V>, &prelu_bwd<V>, &dropout_impl<Elem<V>>, &vm_eval_impl<V>,
          &add_impl<V>};
}

}  // namespace

// This ISA's table (declared in eltwise.h).
const EltwiseOps ops = {ops_t<Vf>(), ops_t<Vd>(), &dropout_words, &bw_copy, &bw_triad};

}  // namespace FASTDL_SIMD_ISA
}  // namespace eltwise
}  // namespace fastdl
