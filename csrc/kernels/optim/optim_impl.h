// The optimizer update formulas, written once on the simd:: vector types and compiled once
// per ISA: optim.cpp (generic), optim_avx2.cpp and optim_avx512.cpp each include this file,
// which ends with that ISA's OptimOps table (declared in optim.h).
// Full marks a whole vector, Part{n} the first n < V::N lanes (tails, via masked loads and
// stores), so the tail is computed by the same instructions as the body.
// (No std containers or algorithms here: nothing AVX-compiled may leak into generic code.)
#pragma once
#include <cmath>
#include <cstdint>

#include "common/simd.h"
#include "kernels/optim/optim.h"

namespace fastdl {
namespace optim {
namespace FASTDL_SIMD_ISA {
namespace {

struct Full {};
struct Part {
  int64_t n;
};

template <class T, class F>
inline void for_each_vec(int64_t n, F&& f) {
  constexpr int64_t W = simd::Vec<T>::N;
  int64_t i = 0;
  for (; i + W <= n; i += W) f(i, Full{});
  if (i < n) f(i, Part{n - i});
}

template <class T>
inline simd::Vec<T> set(double x) {
  return simd::Vec<T>(static_cast<T>(x));
}
template <class V>
inline V ld(const typename V::T* p, Full) {
  return V::load(p);
}
template <class V>
inline V ld(const typename V::T* p, Part m) {
  return V::load(p, m.n);
}
template <class V>
inline void st(typename V::T* p, V v, Full) {
  v.store(p);
}
template <class V>
inline void st(typename V::T* p, V v, Part m) {
  v.store(p, m.n);
}
// pos where s > 0, neg where s < 0, zero where s == 0, s itself (NaN) otherwise.
template <class V>
inline V sign3(V s, V pos, V neg, V zero) {
  const V z(0);
  return simd::select(s == z, zero, simd::select(s < z, neg, simd::select(s > z, pos, s)));
}

// grad with maximize and coupled weight decay applied: g' = ±g + wd·p.
template <class T, class M>
inline simd::Vec<T> load_grad(const ChunkArgs<T>& a, int64_t i, M m, const Hyper& h,
                              bool coupled_wd, simd::Vec<T> p) {
  using V = simd::Vec<T>;
  V g = ld<V>(a.g + i, m);
  if (h.maximize) g = -g;
  if (coupled_wd) g = g + p * set<T>(h.weight_decay);
  return g;
}

// torch's lerp: start + w (end - start) for w < 0.5, else end - (end - start)(1 - w).
template <class T>
inline simd::Vec<T> lerp(simd::Vec<T> s, simd::Vec<T> e, simd::Vec<T> w, simd::Vec<T> omw,
                         bool small) {
  return small ? s + w * (e - s) : e - (e - s) * omw;
}

template <class T>
void run_sgd(const Hyper& h, const Coef& c, const ChunkArgs<T>& a) {
  using V = simd::Vec<T>;
  const bool wd = h.weight_decay != 0, mom = h.momentum != 0, first = c.a != 0;
  const V lr = set<T>(h.lr), mu = set<T>(h.momentum), omd = set<T>(1.0 - h.dampening);
  for_each_vec<T>(a.n, [&](int64_t i, auto m) {
    V p = ld<V>(a.p + i, m);
    V g = load_grad(a, i, m, h, wd, p);
    if (mom) {
      V buf = first ? g : ld<V>(a.s0 + i, m) * mu + omd * g;
      st(a.s0 + i, buf, m);
      g = h.nesterov ? g + mu * buf : buf;
    }
    st(a.p + i, p - lr * g, m);
  });
}

// The part the Adam family (Adam/AdamW, NAdam, RAdam) shares: p after decoupled weight decay,
// g after maximize and coupled weight decay, and the moments m_t = lerp(m, g, 1 − β1),
// v_t = β2·v + (1 − β2)·g², stored back into s0 and s1.
template <class T>
struct AdamMoments {
  using V = simd::Vec<T>;
  bool coupled, dec, small;
  V W1, OMW1, B2, OMB2, DECAY;
  explicit AdamMoments(const Hyper& h) {
    const bool wd = h.weight_decay != 0;
    coupled = wd && !h.decoupled;
    dec = wd && h.decoupled;
    const double w1 = 1.0 - h.beta1;
    small = w1 < 0.5;
    W1 = set<T>(w1);
    OMW1 = set<T>(1.0 - w1);
    B2 = set<T>(h.beta2);
    OMB2 = set<T>(1.0 - h.beta2);
    DECAY = set<T>(1.0 - h.lr * h.weight_decay);
  }
  template <class M>
  void update(const Hyper& h, const ChunkArgs<T>& a, int64_t i, M m, V& p, V& g, V& mt,
              V& vt) const {
    p = ld<V>(a.p + i, m);
    g = load_grad(a, i, m, h, coupled, p);
    if (dec) p = p * DECAY;
    mt = lerp<T>(ld<V>(a.s0 + i, m), g, W1, OMW1, small);
    vt = ld<V>(a.s1 + i, m) * B2 + OMB2 * g * g;
    st(a.s0 + i, mt, m);
    st(a.s1 + i, vt, m);
  }
};

template <class T>
void run_adam(const Hyper& h, const Coef& c, const ChunkArgs<T>& a) {
  using V = simd::Vec<T>;
  const AdamMoments<T> am(h);
  const V NSTEP = set<T>(-c.a), BC2 = set<T>(c.b), EPS = set<T>(h.eps);
  for_each_vec<T>(a.n, [&](int64_t i, auto m) {
    V p, g, mt, vt;
    am.update(h, a, i, m, p, g, mt, vt);
    if (h.amsgrad) {
      vt = simd::max(ld<V>(a.s2 + i, m), vt);
      st(a.s2 + i, vt, m);
    }
    V denom = simd::sqrt(vt) / BC2 + EPS;
    st(a.p + i, p + NSTEP * (mt / denom), m);
  });
}

template <class T>
void run_adagrad(const Hyper& h, const Coef& c, const ChunkArgs<T>& a) {
  using V = simd::Vec<T>;
  const bool wd = h.weight_decay != 0;
  const V NCLR = set<T>(-c.a), EPS = set<T>(h.eps);
  for_each_vec<T>(a.n, [&](int64_t i, auto m) {
    V p = ld<V>(a.p + i, m);
    V g = load_grad(a, i, m, h, wd, p);
    V s = ld<V>(a.s0 + i, m) + g * g;
    st(a.s0 + i, s, m);
    st(a.p + i, p + NCLR * (g / (simd::sqrt(s) + EPS)), m);
  });
}

template <class T>
void run_rmsprop(const Hyper& h, const Coef&, const ChunkArgs<T>& a) {
  using V = simd::Vec<T>;
  const bool wd = h.weight_decay != 0, mom = h.momentum > 0;
  const double w = 1.0 - h.beta2;  // beta2 carries alpha
  const bool small = w < 0.5;
  const V AL = set<T>(h.beta2), OMA = set<T>(w), OMW = set<T>(1.0 - w), EPS = set<T>(h.eps),
          LR = set<T>(h.lr), NLR = set<T>(-h.lr), MU = set<T>(h.momentum);
  for_each_vec<T>(a.n, [&](int64_t i, auto m) {
    V p = ld<V>(a.p + i, m);
    V g = load_grad(a, i, m, h, wd, p);
    V sq = ld<V>(a.s0 + i, m) * AL + OMA * g * g;
    st(a.s0 + i, sq, m);
    V avg;
    if (h.centered) {
      V ga = lerp<T>(ld<V>(a.s2 + i, m), g, OMA, OMW, small);
      st(a.s2 + i, ga, m);
      avg = simd::sqrt(sq - ga * ga);
    } else {
      avg = simd::sqrt(sq);
    }
    avg = avg + EPS;
    if (mom) {
      V buf = ld<V>(a.s1 + i, m) * MU + g / avg;
      st(a.s1 + i, buf, m);
      st(a.p + i, p - LR * buf, m);
    } else {
      st(a.p + i, p + NLR * (g / avg), m);
    }
  });
}

template <class T>
void run_adadelta(const Hyper& h, const Coef&, const ChunkArgs<T>& a) {
  using V = simd::Vec<T>;
  const bool wd = h.weight_decay != 0;
  const V RHO = set<T>(h.beta2), OMR = set<T>(1.0 - h.beta2), EPS = set<T>(h.eps),
          LR = set<T>(h.lr);
  for_each_vec<T>(a.n, [&](int64_t i, auto m) {
    V p = ld<V>(a.p + i, m);
    V g = load_grad(a, i, m, h, wd, p);
    V sq = ld<V>(a.s0 + i, m) * RHO + OMR * g * g;
    st(a.s0 + i, sq, m);
    V acc = ld<V>(a.s1 + i, m);
    V delta = simd::sqrt(acc + EPS) / simd::sqrt(sq + EPS) * g;
    st(a.s1 + i, acc * RHO + OMR * delta * delta, m);
    st(a.p + i, p - LR * delta, m);
  });
}

template <class T>
void run_adamax(const Hyper& h, const Coef& c, const ChunkArgs<T>& a) {
  using V = simd::Vec<T>;
  const bool wd = h.weight_decay != 0;
  const double w1 = 1.0 - h.beta1;
  const bool small = w1 < 0.5;
  const V W1 = set<T>(w1), OMW1 = set<T>(1.0 - w1), B2 = set<T>(h.beta2), EPS = set<T>(h.eps),
          NCLR = set<T>(-c.a);
  for_each_vec<T>(a.n, [&](int64_t i, auto m) {
    V p = ld<V>(a.p + i, m);
    V g = load_grad(a, i, m, h, wd, p);
    V mt = lerp<T>(ld<V>(a.s0 + i, m), g, W1, OMW1, small);
    V u = simd::max(ld<V>(a.s1 + i, m) * B2, simd::abs(g) + EPS);
    st(a.s0 + i, mt, m);
    st(a.s1 + i, u, m);
    st(a.p + i, p + NCLR * (mt / u), m);
  });
}

template <class T>
void run_nadam(const Hyper& h, const Coef& c, const ChunkArgs<T>& a) {
  using V = simd::Vec<T>;
  const AdamMoments<T> am(h);
  const V BC2 = set<T>(c.a), CG = set<T>(c.b), CM = set<T>(c.c), EPS = set<T>(h.eps);
  for_each_vec<T>(a.n, [&](int64_t i, auto m) {
    V p, g, mt, vt;
    am.update(h, a, i, m, p, g, mt, vt);
    V denom = simd::sqrt(vt / BC2) + EPS;
    p = p + CG * (g / denom);
    st(a.p + i, p + CM * (mt / denom), m);
  });
}

template <class T>
void run_radam(const Hyper& h, const Coef& c, const ChunkArgs<T>& a) {
  using V = simd::Vec<T>;
  const bool rect = c.d != 0;
  const AdamMoments<T> am(h);
  const V BC1 = set<T>(c.a), BC2S = set<T>(c.b), RECT = set<T>(c.c), LR = set<T>(h.lr),
          EPS = set<T>(h.eps);
  for_each_vec<T>(a.n, [&](int64_t i, auto m) {
    V p, g, mt, vt;
    am.update(h, a, i, m, p, g, mt, vt);
    V upd = mt / BC1 * LR;
    if (rect) upd = upd * (BC2S / (simd::sqrt(vt) + EPS)) * RECT;
    st(a.p + i, p - upd, m);
  });
}

// torch's Rprop: factor = eta_plus / eta_minus / 1 by the sign of g·prev (NaN stays NaN),
// step_size = clamp(step_size·factor, step_min, step_max); where the factor is eta_minus the
// gradient is taken as 0; p -= sign(g)·step_size; prev = g.
template <class T>
void run_rprop(const Hyper& h, const Coef&, const ChunkArgs<T>& a) {
  using V = simd::Vec<T>;
  const V EM = set<T>(h.eta_minus), EP = set<T>(h.eta_plus), ONE = set<T>(1.0),
          MONE = set<T>(-1.0), ZERO = set<T>(0.0), SMIN = set<T>(h.step_min),
          SMAX = set<T>(h.step_max);
  for_each_vec<T>(a.n, [&](int64_t i, auto m) {
    V p = ld<V>(a.p + i, m);
    V g = ld<V>(a.g + i, m);
    if (h.maximize) g = -g;
    const V f = sign3(g * ld<V>(a.s0 + i, m), EP, EM, ONE);
    const V step = simd::min(SMAX, simd::max(SMIN, ld<V>(a.s1 + i, m) * f));
    g = simd::select(f == EM, ZERO, g);
    st(a.s1 + i, step, m);
    st(a.s0 + i, g, m);
    st(a.p + i, p - sign3(g, ONE, MONE, ZERO) * step, m);
  });
}

// torch's ASGD: p ← p·(1 − lambd·eta) − eta·g, then the average ax ← p (mu = 1) or
// ax + (p − ax)·mu.
template <class T>
void run_asgd(const Hyper& h, const Coef& c, const ChunkArgs<T>& a) {
  using V = simd::Vec<T>;
  const bool wd = h.weight_decay != 0, copy = c.b == 1.0;
  const V DEC = set<T>(1.0 - h.lambd * c.a), NETA = set<T>(-c.a), MU = set<T>(c.b);
  for_each_vec<T>(a.n, [&](int64_t i, auto m) {
    V p = ld<V>(a.p + i, m);
    V g = load_grad(a, i, m, h, wd, p);
    p = p * DEC;
    p = p + NETA * g;
    st(a.p + i, p, m);
    if (copy) {
      st(a.s0 + i, p, m);
    } else {
      const V ax = ld<V>(a.s0 + i, m);
      st(a.s0 + i, ax + (p - ax) * MU, m);
    }
  });
}

template <class T>
void run_step(Algo algo, const Hyper& h, const Coef& c, const ChunkArgs<T>& a) {
  switch (algo) {
#define FASTDL_OPTIM_CASE(name) \
  case Algo::name: run_##name<T>(h, c, a); break;
    FASTDL_OPTIMIZERS(FASTDL_OPTIM_CASE)
#undef FASTDL_OPTIM_CASE
  }
}

// kind 0: x *= a; kind 1: x = clamp(x, a, b) with NaN kept.
template <class T>
void run_map(T* x, int64_t n, int kind, double a, double b) {
  using V = simd::Vec<T>;
  const V A = set<T>(a), B = set<T>(b);
  if (kind == 0) {
    for_each_vec<T>(n, [&](int64_t i, auto m) { st(x + i, ld<V>(x + i, m) * A, m); });
  } else {
    // min(hi, max(lo, x)) as torch.clamp (hi wins when lo > hi); the x86 min/max return
    // their second operand when unordered, so a NaN x passes through both.
    for_each_vec<T>(n, [&](int64_t i, auto m) {
      st(x + i, simd::min(B, simd::max(A, ld<V>(x + i, m))), m);
    });
  }
}

// Norm pieces of one chunk, accumulated in double: two double vectors per step (floats are
// widened on load), summed at the end.
template <class T>
double norm_impl(const T* x, int64_t n, int kind) {
  using V = simd::Vec<T>;
  if (kind == 3) {
    V m(0);
    bool nan = false;
    for_each_vec<T>(n, [&](int64_t i, auto mk) {
      V a = simd::abs(ld<V>(x + i, mk));
      nan |= simd::any(simd::isnan(a));
      m = simd::max(a, m);
    });
    return nan ? NAN : static_cast<double>(simd::hmax(m));
  }
  using D = simd::Vd;
  constexpr int64_t W = D::N;
  D s0(0.0), s1(0.0);
  int64_t i = 0;
  for (; i + 2 * W <= n; i += 2 * W) {
    const D lo = simd::load_widen(x + i), hi = simd::load_widen(x + i + W);
    if (kind == 2) {
      s0 = s0 + lo * lo;
      s1 = s1 + hi * hi;
    } else {
      s0 = s0 + simd::abs(lo);
      s1 = s1 + simd::abs(hi);
    }
  }
  for (; i < n; i += W) {
    const D lo = n - i >= W ? simd::load_widen(x + i) : simd::load_widen(x + i, n - i);
    s0 = kind == 2 ? s0 + lo * lo : s0 + simd::abs(lo);
  }
  return simd::hsum(s0 + s1);
}

template <class T>
constexpr OptimOpsT<T> ops_t() {
  return {&run_step<T>, &norm_impl<T>, &run_map<T>};
}

}  // namespace

// This ISA's table (declared in optim.h).
const OptimOps ops = {ops_t<float>(), ops_t<double>()};

}  // namespace FASTDL_SIMD_ISA
}  // namespace optim
}  // namespace fastdl
