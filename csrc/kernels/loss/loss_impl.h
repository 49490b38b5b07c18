// The loss kernels, written once against Vec<T> (kernels/norm/simd_vec.h) and compiled once
// per ISA: included inside `fastdl::loss::<isa>` after simd_vec.h by loss.cpp /
// loss_avx2.cpp / loss_avx512.cpp. Internal linkage throughout (anonymous namespace).
//
// Threading: rows (or blocks of spatial positions) are independent; sums over elements are
// taken per fixed chunk of kChunk elements and the chunk sums added in order, so results do
// not depend on the thread count.

namespace {

constexpr int64_t kChunk = 32768;  // elements per parallel chunk of the pointwise kernels
// Sums go kLaneTerms terms per vector lane (2·W lanes) in T, then into double: the relative
// error of a block stays below kLaneTerms·eps even when every term rounds the same way (equal
// terms), so long sums are exact to T's rounding.
constexpr int64_t kLaneTerms = 32;
constexpr int64_t kRowGrain = 32768;

inline int64_t row_grain(int64_t unit) {
  const int64_t g = kRowGrain / (unit > 0 ? unit : 1);
  return g < 1 ? 1 : g;
}

struct LossBuf {
  void* p;
  explicit LossBuf(size_t bytes) : p(fastdl::pool_alloc(bytes ? bytes : 1)) {}
  ~LossBuf() { fastdl::pool_free(p); }
  LossBuf(const LossBuf&) = delete;
  LossBuf& operator=(const LossBuf&) = delete;
  template <class U>
  U* as() { return static_cast<U*>(p); }
};

template <class T>
inline T neg_inf() { return -__builtin_inf(); }

// Per-lane sums over the class axis of W spatial positions (the spatial paths): terms go
// into `v` in T, and flush() (every kLaneTerms classes) adds them into the double lanes `d`.
template <class T>
struct LaneSum {
  using V = Vec<T>;
  typename V::R v = V::zero();
  double d[V::W] = {};
  void flush() {
    alignas(64) T t[V::W];
    V::store(t, v);
    for (int j = 0; j < V::W; ++j) d[j] += static_cast<double>(t[j]);
    v = V::zero();
  }
};

// ---------------------------------------------------------------------------------------
// Rows (S == 1): contiguous classes

template <class T>
inline T row_max(const T* x, int64_t C) {
  using V = Vec<T>;
  constexpr int W = V::W;
  typename V::R m0 = V::set1(neg_inf<T>()), m1 = m0;
  int64_t i = 0;
  for (; i + 2 * W <= C; i += 2 * W) {
    m0 = V::max(V::load(x + i), m0);
    m1 = V::max(V::load(x + i + W), m1);
  }
  for (; i + W <= C; i += W) m0 = V::max(V::load(x + i), m0);
  if (i < C) m1 = V::max(V::loadn(x + i, C - i, neg_inf<T>()), m1);
  return V::hmax(V::max(m0, m1));
}

// se = Σ exp(x − m); when want_sx, sx = Σ w[c]·x[c] (w == nullptr: Σ x[c]).
template <class T>
inline void row_sumexp(const T* x, int64_t C, T m, const T* w, bool want_sx, double& se,
                       double& sx) {
  using V = Vec<T>;
  constexpr int W = V::W;
  const typename V::R vm = V::set1(m);
  double tse = 0, tsx = 0;
  for (int64_t b = 0; b < C; b += (2 * W * kLaneTerms)) {
    const int64_t e = C - b < (2 * W * kLaneTerms) ? C : b + (2 * W * kLaneTerms);
    typename V::R s0 = V::zero(), s1 = V::zero(), q0 = V::zero(), q1 = V::zero();
    int64_t i = b;
    if (!want_sx) {
      for (; i + 2 * W <= e; i += 2 * W) {
        s0 = V::add(s0, V::exp(V::sub(V::load(x + i), vm)));
        s1 = V::add(s1, V::exp(V::sub(V::load(x + i + W), vm)));
      }
      for (; i + W <= e; i += W) s0 = V::add(s0, V::exp(V::sub(V::load(x + i), vm)));
      if (i < e) s1 = V::add(s1, V::exp(V::sub(V::loadn(x + i, e - i, neg_inf<T>()), vm)));
    } else {
      for (; i + W <= e; i += W) {
        typename V::R xv = V::load(x + i);
        s0 = V::add(s0, V::exp(V::sub(xv, vm)));
        q0 = w ? V::fma(V::load(w + i), xv, q0) : V::add(q0, xv);
      }
      if (i < e) {
        s1 = V::add(s1, V::exp(V::sub(V::loadn(x + i, e - i, neg_inf<T>()), vm)));
        typename V::R xv = V::loadn(x + i, e - i, T(0));
        q1 = w ? V::fma(V::loadn(w + i, e - i, T(0)), xv, q1) : V::add(q1, xv);
      }
    }
    tse += static_cast<double>(V::hsum(V::add(s0, s1)));
    tsx += static_cast<double>(V::hsum(V::add(q0, q1)));
  }
  se = tse;
  sx = tsx;
}

inline double wsum_of(const float* w, int64_t C) {
  double s = 0;
  for (int64_t c = 0; c < C; ++c) s += static_cast<double>(w[c]);
  return s;
}
inline double wsum_of(const double* w, int64_t C) {
  double s = 0;
  for (int64_t c = 0; c < C; ++c) s += w[c];
  return s;
}

template <class T>
inline double ce_sample_loss(double l, double xt, double wt, double eps, double ks, double wall,
                             double sx) {
  double v = (1.0 - eps) * wt * (l - xt);
  if (eps != 0) v += ks * (wall * l - sx);
  return v;
}

// ---------------------------------------------------------------------------------------
// Cross entropy, class-index targets

template <class T>
void ce_forward_k(const T* x, int64_t N, int64_t C, int64_t S, const int64_t* tgt,
                  const T* w, int64_t ignore, double eps, T* loss, T* lse) {
  using V = Vec<T>;
  constexpr int W = V::W;
  const double wall = eps != 0 ? (w ? wsum_of(w, C) : static_cast<double>(C)) : 0.0;
  const double ks = eps / static_cast<double>(C);
  const bool want_sx = eps != 0;
  if (S == 1) {
    fastdl::parallel_for(N, row_grain(C), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = x + r * C;
        const T m = row_max(xr, C);
        double se, sx;
        row_sumexp(xr, C, m, w, want_sx, se, sx);
        const T l = static_cast<T>(static_cast<double>(m) + slog(se));
        lse[r] = l;
        const int64_t t = tgt[r];
        if (t == ignore) {
          loss[r] = T(0);
          continue;
        }
        const double wt = w ? static_cast<double>(w[t]) : 1.0;
        loss[r] = static_cast<T>(ce_sample_loss<T>(static_cast<double>(l),
                                                   static_cast<double>(xr[t]), wt, eps, ks,
                                                   wall, sx));
      }
    });
    return;
  }
  // Spatial: vectorise along s, W positions at a time; classes strided by S.
  constexpr int64_t SB = 4 * W;
  const int64_t nsb = (S + SB - 1) / SB;
  fastdl::parallel_for(N * nsb, row_grain(C * SB), [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t n = u / nsb, sb = u % nsb;
      const int64_t se_end = (sb + 1) * SB < S ? (sb + 1) * SB : S;
      for (int64_t s0 = sb * SB; s0 < se_end; s0 += W) {
        const int64_t nl = se_end - s0 < W ? se_end - s0 : W;
        const T* base = x + n * C * S + s0;
        typename V::R m = V::set1(neg_inf<T>());
        for (int64_t c = 0; c < C; ++c) m = V::max(V::loadn(base + c * S, nl, T(0)), m);
        LaneSum<T> s, q;
        for (int64_t cb = 0; cb < C; cb += kLaneTerms) {
          const int64_t ce = C - cb < kLaneTerms ? C : cb + kLaneTerms;
          for (int64_t c = cb; c < ce; ++c) {
            typename V::R xv = V::loadn(base + c * S, nl, T(0));
            s.v = V::add(s.v, V::exp(V::sub(xv, m)));
            if (want_sx) q.v = w ? V::fma(V::set1(w[c]), xv, q.v) : V::add(q.v, xv);
          }
          s.flush();
          if (want_sx) q.flush();
        }
        alignas(64) T mb[W];
        V::store(mb, m);
        for (int64_t j = 0; j < nl; ++j) {
          const int64_t i = n * S + s0 + j;
          const double l = static_cast<double>(mb[j]) + slog(s.d[j]);
          lse[i] = static_cast<T>(l);
          const int64_t t = tgt[i];
          if (t == ignore) {
            loss[i] = T(0);
            continue;
          }
          const double wt = w ? static_cast<double>(w[t]) : 1.0;
          loss[i] = static_cast<T>(ce_sample_loss<T>(l, static_cast<double>(base[t * S + j]), wt,
                                                     eps, ks, wall, q.d[j]));
        }
      }
    }
  });
}

template <class T>
void ce_backward_k(const T* x, int64_t N, int64_t C, int64_t S, const int64_t* tgt, const T* w,
                   int64_t ignore, double eps, const T* lse, const T* g, int64_t gstride,
                   double gscale, T* gx) {
  using V = Vec<T>;
  constexpr int W = V::W;
  const double wall = eps != 0 ? (w ? wsum_of(w, C) : static_cast<double>(C)) : 0.0;
  const double ks = eps / static_cast<double>(C);
  if (S == 1) {
    fastdl::parallel_for(N, row_grain(2 * C), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = x + r * C;
        T* gr = gx + r * C;
        const int64_t t = tgt[r];
        if (t == ignore) {
          for (int64_t c = 0; c < C; ++c) gr[c] = T(0);
          continue;
        }
        const double gi = gscale * static_cast<double>(g[r * gstride]);
        const double wt = w ? static_cast<double>(w[t]) : 1.0;
        const typename V::R va = V::set1(static_cast<T>(gi * ((1.0 - eps) * wt + ks * wall)));
        const typename V::R vb = V::set1(static_cast<T>(gi * ks));
        const typename V::R vl = V::set1(lse[r]);
        int64_t i = 0;
        if (eps == 0) {
          for (; i + W <= C; i += W)
            V::store(gr + i, V::mul(va, V::exp(V::sub(V::load(xr + i), vl))));
          if (i < C)
            V::storen(gr + i, V::mul(va, V::exp(V::sub(V::loadn(xr + i, C - i, T(0)), vl))),
                      C - i);
        } else {
          for (; i + W <= C; i += W) {
            typename V::R wc = w ? V::load(w + i) : V::set1(T(1));
            V::store(gr + i, V::fnma(vb, wc, V::mul(va, V::exp(V::sub(V::load(xr + i), vl)))));
          }
          if (i < C) {
            typename V::R wc = w ? V::loadn(w + i, C - i, T(0)) : V::set1(T(1));
            V::storen(gr + i,
                      V::fnma(vb, wc, V::mul(va, V::exp(V::sub(V::loadn(xr + i, C - i, T(0)), vl)))),
                      C - i);
          }
        }
        gr[t] = static_cast<T>(static_cast<double>(gr[t]) - gi * (1.0 - eps) * wt);
      }
    });
    return;
  }
  constexpr int64_t SB = 4 * W;
  const int64_t nsb = (S + SB - 1) / SB;
  fastdl::parallel_for(N * nsb, row_grain(2 * C * SB), [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t n = u / nsb, sb = u % nsb;
      const int64_t se_end = (sb + 1) * SB < S ? (sb + 1) * SB : S;
      for (int64_t s0 = sb * SB; s0 < se_end; s0 += W) {
        const int64_t nl = se_end - s0 < W ? se_end - s0 : W;
        const T* base = x + n * C * S + s0;
        T* gbase = gx + n * C * S + s0;
        alignas(64) T ab[W], bb[W], lb[W], vb[W];
        for (int64_t j = 0; j < W; ++j) ab[j] = bb[j] = lb[j] = vb[j] = T(0);
        for (int64_t j = 0; j < nl; ++j) {
          const int64_t i = n * S + s0 + j;
          const int64_t t = tgt[i];
          lb[j] = lse[i];
          if (t == ignore) continue;
          const double gi = gscale * static_cast<double>(g[i * gstride]);
          const double wt = w ? static_cast<double>(w[t]) : 1.0;
          ab[j] = static_cast<T>(gi * ((1.0 - eps) * wt + ks * wall));
          bb[j] = static_cast<T>(gi * ks);
          vb[j] = T(1);
        }
        const typename V::R va = V::load(ab), vbk = V::load(bb), vl = V::load(lb);
        const typename V::R valid = V::load(vb), one = V::set1(T(1)), zero = V::zero();
        for (int64_t c = 0; c < C; ++c) {
          typename V::R p = V::exp(V::sub(V::loadn(base + c * S, nl, T(0)), vl));
          typename V::R r = V::mul(va, p);
          if (eps != 0) r = V::fnma(vbk, V::set1(w ? w[c] : T(1)), r);
          V::storen(gbase + c * S, V::eq_sel(valid, one, r, zero), nl);
        }
        for (int64_t j = 0; j < nl; ++j) {
          const int64_t i = n * S + s0 + j;
          const int64_t t = tgt[i];
          if (t == ignore) continue;
          const double gi = gscale * static_cast<double>(g[i * gstride]);
          const double wt = w ? static_cast<double>(w[t]) : 1.0;
          T& d = gbase[t * S + j];
          d = static_cast<T>(static_cast<double>(d) - gi * (1.0 - eps) * wt);
        }
      }
    }
  });
}

// ---------------------------------------------------------------------------------------
// Cross entropy, class-probability targets

// P = Σ w·p', Q = Σ w·p'·x, se = Σ exp(x − m) over a row, p' = a·p + b
template <class T>
inline void prob_row_sums(const T* x, const T* p, const T* w, int64_t C, T m, T a, T b,
                          double& se, double& P, double& Q) {
  using V = Vec<T>;
  constexpr int W = V::W;
  const typename V::R vm = V::set1(m), va = V::set1(a), vb = V::set1(b);
  double tse = 0, tp = 0, tq = 0;
  for (int64_t bb = 0; bb < C; bb += (2 * W * kLaneTerms)) {
    const int64_t e = C - bb < (2 * W * kLaneTerms) ? C : bb + (2 * W * kLaneTerms);
    typename V::R s0 = V::zero(), p0 = V::zero(), q0 = V::zero();
    int64_t i = bb;
    for (; i + W <= e; i += W) {
      typename V::R xv = V::load(x + i);
      typename V::R pv = V::fma(V::load(p + i), va, vb);
      if (w) pv = V::mul(pv, V::load(w + i));
      s0 = V::add(s0, V::exp(V::sub(xv, vm)));
      p0 = V::add(p0, pv);
      q0 = V::fma(pv, xv, q0);
    }
    double ts = static_cast<double>(V::hsum(s0)), pp = static_cast<double>(V::hsum(p0)),
           qq = static_cast<double>(V::hsum(q0));
    for (; i < e; ++i) {  // tail, scalar
      T pv = p[i] * a + b;
      if (w) pv *= w[i];
      ts += static_cast<double>(sexp(x[i] - m));
      pp += static_cast<double>(pv);
      qq += static_cast<double>(pv) * static_cast<double>(x[i]);
    }
    tse += ts;
    tp += pp;
    tq += qq;
  }
  se = tse;
  P = tp;
  Q = tq;
}

template <class T>
void ce_prob_forward_k(const T* x, int64_t N, int64_t C, int64_t S, const T* p, const T* w,
                       double eps, T* loss, T* lse) {
  using V = Vec<T>;
  constexpr int W = V::W;
  const T a = static_cast<T>(1.0 - eps), b = static_cast<T>(eps / static_cast<double>(C));
  if (S == 1) {
    fastdl::parallel_for(N, row_grain(2 * C), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = x + r * C;
        const T m = row_max(xr, C);
        double se, P, Q;
        prob_row_sums(xr, p + r * C, w, C, m, a, b, se, P, Q);
        const double l = static_cast<double>(m) + slog(se);
        lse[r] = static_cast<T>(l);
        loss[r] = static_cast<T>(l * P - Q);
      }
    });
    return;
  }
  constexpr int64_t SB = 4 * W;
  const int64_t nsb = (S + SB - 1) / SB;
  const typename V::R va = V::set1(a), vbb = V::set1(b);
  fastdl::parallel_for(N * nsb, row_grain(2 * C * SB), [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t n = u / nsb, sb = u % nsb;
      const int64_t se_end = (sb + 1) * SB < S ? (sb + 1) * SB : S;
      for (int64_t s0 = sb * SB; s0 < se_end; s0 += W) {
        const int64_t nl = se_end - s0 < W ? se_end - s0 : W;
        const T* base = x + n * C * S + s0;
        const T* pbase = p + n * C * S + s0;
        typename V::R m = V::set1(neg_inf<T>());
        for (int64_t c = 0; c < C; ++c) m = V::max(V::loadn(base + c * S, nl, T(0)), m);
        LaneSum<T> s, P, Q;
        for (int64_t cb = 0; cb < C; cb += kLaneTerms) {
          const int64_t ce = C - cb < kLaneTerms ? C : cb + kLaneTerms;
          for (int64_t c = cb; c < ce; ++c) {
            typename V::R xv = V::loadn(base + c * S, nl, T(0));
            typename V::R pv = V::fma(V::loadn(pbase + c * S, nl, T(0)), va, vbb);
            if (w) pv = V::mul(pv, V::set1(w[c]));
            s.v = V::add(s.v, V::exp(V::sub(xv, m)));
            P.v = V::add(P.v, pv);
            Q.v = V::fma(pv, xv, Q.v);
          }
          s.flush();
          P.flush();
          Q.flush();
        }
        alignas(64) T mb[W];
        V::store(mb, m);
        for (int64_t j = 0; j < nl; ++j) {
          const double l = static_cast<double>(mb[j]) + slog(s.d[j]);
          lse[n * S + s0 + j] = static_cast<T>(l);
          loss[n * S + s0 + j] = static_cast<T>(l * P.d[j] - Q.d[j]);
        }
      }
    }
  });
}

template <class T>
void ce_prob_backward_k(const T* x, int64_t N, int64_t C, int64_t S, const T* p, const T* w,
                        double eps, const T* lse, const T* g, int64_t gstride, double gscale,
                        T* gx) {
  using V = Vec<T>;
  constexpr int W = V::W;
  const T a = static_cast<T>(1.0 - eps), b = static_cast<T>(eps / static_cast<double>(C));
  const typename V::R va = V::set1(a), vbb = V::set1(b);
  if (S == 1) {
    fastdl::parallel_for(N, row_grain(3 * C), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const T* xr = x + r * C;
        const T* pr = p + r * C;
        T* gr = gx + r * C;
        // P = Σ w·p'
        double P = 0;
        for (int64_t bb = 0; bb < C; bb += W * kLaneTerms) {
          const int64_t e = C - bb < W * kLaneTerms ? C : bb + W * kLaneTerms;
          typename V::R p0 = V::zero();
          int64_t i = bb;
          for (; i + W <= e; i += W) {
            typename V::R pv = V::fma(V::load(pr + i), va, vbb);
            if (w) pv = V::mul(pv, V::load(w + i));
            p0 = V::add(p0, pv);
          }
          P += static_cast<double>(V::hsum(p0));
          for (; i < e; ++i) P += static_cast<double>((pr[i] * a + b) * (w ? w[i] : T(1)));
        }
        const double gi = gscale * static_cast<double>(g[r * gstride]);
        const typename V::R vP = V::set1(static_cast<T>(gi * P)), vg = V::set1(static_cast<T>(gi));
        const typename V::R vl = V::set1(lse[r]);
        int64_t i = 0;
        for (; i + W <= C; i += W) {
          typename V::R pv = V::fma(V::load(pr + i), va, vbb);
          if (w) pv = V::mul(pv, V::load(w + i));
          V::store(gr + i, V::fnma(vg, pv, V::mul(vP, V::exp(V::sub(V::load(xr + i), vl)))));
        }
        for (; i < C; ++i) {
          const T pv = (pr[i] * a + b) * (w ? w[i] : T(1));
          gr[i] = static_cast<T>(gi * P) * sexp(xr[i] - lse[r]) - static_cast<T>(gi) * pv;
        }
      }
    });
    return;
  }
  constexpr int64_t SB = 4 * W;
  const int64_t nsb = (S + SB - 1) / SB;
  fastdl::parallel_for(N * nsb, row_grain(3 * C * SB), [&](int64_t u0, int64_t u1) {
    for (int64_t u = u0; u < u1; ++u) {
      const int64_t n = u / nsb, sb = u % nsb;
      const int64_t se_end = (sb + 1) * SB < S ? (sb + 1) * SB : S;
      for (int64_t s0 = sb * SB; s0 < se_end; s0 += W) {
        const int64_t nl = se_end - s0 < W ? se_end - s0 : W;
        const T* base = x + n * C * S + s0;
        const T* pbase = p + n * C * S + s0;
        T* gbase = gx + n * C * S + s0;
        LaneSum<T> P;
        for (int64_t cb = 0; cb < C; cb += kLaneTerms) {
          const int64_t ce = C - cb < kLaneTerms ? C : cb + kLaneTerms;
          for (int64_t c = cb; c < ce; ++c) {
            typename V::R pv = V::fma(V::loadn(pbase + c * S, nl, T(0)), va, vbb);
            if (w) pv = V::mul(pv, V::set1(w[c]));
            P.v = V::add(P.v, pv);
          }
          P.flush();
        }
        alignas(64) T gb[W], gp[W];
        for (int64_t j = 0; j < W; ++j) gb[j] = gp[j] = T(0);
        for (int64_t j = 0; j < nl; ++j) {
          const double gi = gscale * static_cast<double>(g[(n * S + s0 + j) * gstride]);
          gb[j] = static_cast<T>(gi);
          gp[j] = static_cast<T>(gi * P.d[j]);
        }
        const typename V::R vg = V::load(gb), vP = V::load(gp);
        const typename V::R vl = V::loadn(lse + n * S + s0, nl, T(0));
        for (int64_t c = 0; c < C; ++c) {
          typename V::R pv = V::fma(V::loadn(pbase + c * S, nl, T(0)), va, vbb);
          if (w) pv = V::mul(pv, V::set1(w[c]));
          typename V::R e = V::exp(V::sub(V::loadn(base + c * S, nl, T(0)), vl));
          V::storen(gbase + c * S, V::fnma(vg, pv, V::mul(vP, e)), nl);
        }
      }
    }
  });
}

// ---------------------------------------------------------------------------------------
// NLL

template <class T>
void nll_forward_k(const T* x, int64_t N, int64_t C, int64_t S, const int64_t* tgt, const T* w,
                   int64_t ignore, T* loss) {
  fastdl::parallel_for(N * S, kChunk, [&](int64_t i0, int64_t i1) {
    for (int64_t i = i0; i < i1; ++i) {
      const int64_t t = tgt[i];
      if (t == ignore) {
        loss[i] = T(0);
        continue;
      }
      const int64_t n = i / S, s = i % S;
      const T wt = w ? w[t] : T(1);
      loss[i] = -wt * x[(n * C + t) * S + s];
    }
  });
}

template <class T>
void nll_backward_k(int64_t N, int64_t C, int64_t S, const int64_t* tgt, const T* w,
                    int64_t ignore, const T* g, int64_t gstride, double gscale, T* gx) {
  fastdl::parallel_for(N, row_grain(C * S), [&](int64_t n0, int64_t n1) {
    for (int64_t n = n0; n < n1; ++n) {
      T* gn = gx + n * C * S;
      for (int64_t k = 0; k < C * S; ++k) gn[k] = T(0);
      for (int64_t s = 0; s < S; ++s) {
        const int64_t i = n * S + s, t = tgt[i];
        if (t == ignore) continue;
        const double wt = w ? static_cast<double>(w[t]) : 1.0;
        gn[t * S + s] = static_cast<T>(-gscale * static_cast<double>(g[i * gstride]) * wt);
      }
    }
  });
}

// ---------------------------------------------------------------------------------------
// Pointwise losses

template <class T>
struct PwParam {
  T p, half_p, inv_p, half_inv_p;
};

template <int K, class T>
inline typename Vec<T>::R pw_fwd(typename Vec<T>::R x, typename Vec<T>::R y, typename Vec<T>::R w,
                                 typename Vec<T>::R pw, const PwParam<T>& P) {
  using V = Vec<T>;
  using R = typename V::R;
  (void)w;
  (void)pw;
  (void)P;
  if constexpr (K == kMSE) {
    R d = V::sub(x, y);
    return V::mul(d, d);
  } else if constexpr (K == kL1) {
    return V::abs(V::sub(x, y));
  } else if constexpr (K == kSmoothL1) {
    R d = V::abs(V::sub(x, y));
    return V::lt_sel(d, V::set1(P.p), V::mul(V::mul(d, d), V::set1(P.half_inv_p)),
                     V::sub(d, V::set1(P.half_p)));
  } else if constexpr (K == kHuber) {
    R d = V::abs(V::sub(x, y));
    return V::lt_sel(d, V::set1(P.p), V::mul(V::mul(d, d), V::set1(T(0.5))),
                     V::mul(V::set1(P.p), V::sub(d, V::set1(P.half_p))));
  } else if constexpr (K == kBCE) {
    const R lo = V::set1(T(-100));
    R lx = V::max(lo, V::log(x));
    R l1x = V::max(lo, V::log1p(V::sub(V::zero(), x)));
    // (y − 1)·l1x − y·lx
    R v = V::fnma(y, lx, V::mul(V::sub(y, V::set1(T(1))), l1x));
    return V::mul(w, v);
  } else if constexpr (K == kBCELogits) {
    R sp = V::add(V::log1p(V::exp(V::sub(V::zero(), V::abs(x)))), V::max(V::sub(V::zero(), x), V::zero()));
    R lw = V::fma(V::sub(pw, V::set1(T(1))), y, V::set1(T(1)));
    R v = V::fma(lw, sp, V::mul(V::sub(V::set1(T(1)), y), x));
    return V::mul(w, v);
  } else if constexpr (K == kKLDiv) {
    R t = V::mul(y, V::log(y));
    t = V::eq_sel(y, V::zero(), V::zero(), t);
    return V::fnma(y, x, t);
  } else {  // kKLDivLog
    return V::mul(V::exp(y), V::sub(y, x));
  }
}

template <class T>
inline typename Vec<T>::R vsign(typename Vec<T>::R d) {
  using V = Vec<T>;
  // sign with sign(0) = 0 and NaN -> NaN
  return V::gt_sel(d, V::zero(), V::set1(T(1)),
                   V::lt_sel(d, V::zero(), V::set1(T(-1)), V::mul(d, V::zero())));
}

template <int K, class T>
inline typename Vec<T>::R pw_bwd(typename Vec<T>::R x, typename Vec<T>::R y, typename Vec<T>::R w,
                                 typename Vec<T>::R pw, const PwParam<T>& P) {
  using V = Vec<T>;
  using R = typename V::R;
  (void)w;
  (void)pw;
  (void)P;
  if constexpr (K == kMSE) {
    R d = V::sub(x, y);
    return V::add(d, d);
  } else if constexpr (K == kL1) {
    return vsign<T>(V::sub(x, y));
  } else if constexpr (K == kSmoothL1) {
    R d = V::sub(x, y);
    return V::lt_sel(V::abs(d), V::set1(P.p), V::mul(d, V::set1(P.inv_p)), vsign<T>(d));
  } else if constexpr (K == kHuber) {
    R d = V::sub(x, y);
    return V::lt_sel(V::abs(d), V::set1(P.p), d, V::mul(V::set1(P.p), vsign<T>(d)));
  } else if constexpr (K == kBCE) {
    R den = V::max(V::mul(V::sub(V::set1(T(1)), x), x), V::set1(T(1e-12)));
    return V::mul(w, V::div(V::sub(x, y), den));
  } else if constexpr (K == kBCELogits) {
    const R one = V::set1(T(1));
    R sig = V::div(one, V::add(one, V::exp(V::sub(V::zero(), x))));
    R lw = V::fma(V::sub(pw, one), y, one);
    return V::mul(w, V::fnma(pw, y, V::mul(sig, lw)));
  } else if constexpr (K == kKLDiv) {
    return V::sub(V::zero(), y);
  } else {
    return V::sub(V::zero(), V::exp(y));
  }
}

template <int K, class T>
double pw_forward_t(const T* x, const T* y, const T* w, const T* pw, int64_t n, const PwParam<T>& P,
                    T* out, int64_t* bad) {
  using V = Vec<T>;
  using R = typename V::R;
  constexpr int W = V::W;
  const int64_t nch = (n + kChunk - 1) / kChunk;
  LossBuf buf(sizeof(double) * 2 * static_cast<size_t>(nch));
  double* part = buf.as<double>();
  double* badp = part + nch;
  fastdl::parallel_for(nch, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t ch = c0; ch < c1; ++ch) {
      const int64_t b = ch * kChunk, e = b + kChunk < n ? b + kChunk : n;
      double acc = 0, nbad = 0;
      const R one = V::set1(T(1)), zero = V::zero();
      for (int64_t sb = b; sb < e; sb += (2 * W * kLaneTerms)) {
        const int64_t se = sb + (2 * W * kLaneTerms) < e ? sb + (2 * W * kLaneTerms) : e;
        R a0 = zero, a1 = zero, bd = zero;
        int64_t i = sb;
        for (; i + 2 * W <= se; i += 2 * W) {
          R xv = V::load(x + i), yv = V::load(y + i);
          R x1 = V::load(x + i + W), y1 = V::load(y + i + W);
          R wv = w ? V::load(w + i) : one, pv = pw ? V::load(pw + i) : one;
          R w1 = w ? V::load(w + i + W) : one, p1 = pw ? V::load(pw + i + W) : one;
          R l = pw_fwd<K, T>(xv, yv, wv, pv, P);
          R l1 = pw_fwd<K, T>(x1, y1, w1, p1, P);
          if (out) {
            V::store(out + i, l);
            V::store(out + i + W, l1);
          }
          a0 = V::add(a0, l);
          a1 = V::add(a1, l1);
          if constexpr (K == kBCE) {
            bd = V::add(bd, V::add(V::add(V::lt_sel(xv, zero, one, zero), V::gt_sel(xv, one, one, zero)),
                                   V::eq_sel(xv, xv, zero, one)));
            bd = V::add(bd, V::add(V::add(V::lt_sel(x1, zero, one, zero), V::gt_sel(x1, one, one, zero)),
                                   V::eq_sel(x1, x1, zero, one)));
          }
        }
        for (; i + W <= se; i += W) {
          R xv = V::load(x + i), yv = V::load(y + i);
          R wv = w ? V::load(w + i) : one, pv = pw ? V::load(pw + i) : one;
          R l = pw_fwd<K, T>(xv, yv, wv, pv, P);
          if (out) V::store(out + i, l);
          a0 = V::add(a0, l);
          if constexpr (K == kBCE)
            bd = V::add(bd, V::add(V::add(V::lt_sel(xv, zero, one, zero), V::gt_sel(xv, one, one, zero)),
                                   V::eq_sel(xv, xv, zero, one)));
        }
        double tacc = static_cast<double>(V::hsum(V::add(a0, a1)));
        if (i < se) {
          const int64_t t = se - i;
          const T half = T(0.5);
          R xv = V::loadn(x + i, t, half), yv = V::loadn(y + i, t, half);
          R wv = w ? V::loadn(w + i, t, T(1)) : one, pv = pw ? V::loadn(pw + i, t, T(1)) : one;
          R l = pw_fwd<K, T>(xv, yv, wv, pv, P);
          if (out) V::storen(out + i, l, t);
          alignas(64) T lb[W];
          V::store(lb, l);
          for (int64_t j = 0; j < t; ++j) tacc += static_cast<double>(lb[j]);
          if constexpr (K == kBCE)
            bd = V::add(bd, V::add(V::add(V::lt_sel(xv, zero, one, zero), V::gt_sel(xv, one, one, zero)),
                                   V::eq_sel(xv, xv, zero, one)));
        }
        acc += tacc;
        if constexpr (K == kBCE) nbad += static_cast<double>(V::hsum(bd));
      }
      part[ch] = acc;
      badp[ch] = nbad;
    }
  });
  double total = 0, tb = 0;
  for (int64_t ch = 0; ch < nch; ++ch) {
    total += part[ch];
    tb += badp[ch];
  }
  if (bad) *bad = static_cast<int64_t>(tb);
  return total;
}

template <int K, class T>
void pw_backward_t(const T* x, const T* y, const T* w, const T* pw, int64_t n, const PwParam<T>& P,
                   const T* g, int64_t gstride, double gscale, T* gx) {
  using V = Vec<T>;
  using R = typename V::R;
  constexpr int W = V::W;
  fastdl::parallel_for(n, kChunk, [&](int64_t b, int64_t e) {
    const R one = V::set1(T(1));
    const R vs = V::set1(static_cast<T>(gscale));
    const R g0 = V::set1(static_cast<T>(gscale * static_cast<double>(g[0])));
    int64_t i = b;
    for (; i + W <= e; i += W) {
      R xv = V::load(x + i), yv = V::load(y + i);
      R wv = w ? V::load(w + i) : one, pv = pw ? V::load(pw + i) : one;
      R gv = gstride ? V::mul(vs, V::load(g + i)) : g0;
      V::store(gx + i, V::mul(gv, pw_bwd<K, T>(xv, yv, wv, pv, P)));
    }
    if (i < e) {
      const int64_t t = e - i;
      const T half = T(0.5);
      R xv = V::loadn(x + i, t, half), yv = V::loadn(y + i, t, half);
      R wv = w ? V::loadn(w + i, t, T(1)) : one, pv = pw ? V::loadn(pw + i, t, T(1)) : one;
      R gv = gstride ? V::mul(vs, V::loadn(g + i, t, T(0))) : g0;
      V::storen(gx + i, V::mul(gv, pw_bwd<K, T>(xv, yv, wv, pv, P)), t);
    }
  });
}

template <class T>
PwParam<T> make_param(double p) {
  PwParam<T> P;
  P.p = static_cast<T>(p);
  P.half_p = static_cast<T>(0.5 * p);
  P.inv_p = static_cast<T>(1.0 / p);       // inf when p == 0 (never selected then)
  P.half_inv_p = static_cast<T>(0.5 / p);
  return P;
}

template <class T>
double pw_forward_k(int kind, const T* x, const T* y, const T* w, const T* pw, int64_t n,
                    double param, T* out, int64_t* bad) {
  const PwParam<T> P = make_param<T>(param);
  if (bad) *bad = 0;
  switch (kind) {
    case kMSE: return pw_forward_t<kMSE, T>(x, y, w, pw, n, P, out, bad);
    case kL1: return pw_forward_t<kL1, T>(x, y, w, pw, n, P, out, bad);
    case kSmoothL1: return pw_forward_t<kSmoothL1, T>(x, y, w, pw, n, P, out, bad);
    case kHuber: return pw_forward_t<kHuber, T>(x, y, w, pw, n, P, out, bad);
    case kBCE: return pw_forward_t<kBCE, T>(x, y, w, pw, n, P, out, bad);
    case kBCELogits: return pw_forward_t<kBCELogits, T>(x, y, w, pw, n, P, out, bad);
    case kKLDiv: return pw_forward_t<kKLDiv, T>(x, y, w, pw, n, P, out, bad);
    default: return pw_forward_t<kKLDivLog, T>(x, y, w, pw, n, P, out, bad);
  }
}

template <class T>
void pw_backward_k(int kind, const T* x, const T* y, const T* w, const T* pw, int64_t n,
                   double param, const T* g, int64_t gstride, double gscale, T* gx) {
  const PwParam<T> P = make_param<T>(param);
  switch (kind) {
    case kMSE: return pw_backward_t<kMSE, T>(x, y, w, pw, n, P, g, gstride, gscale, gx);
    case kL1: return pw_backward_t<kL1, T>(x, y, w, pw, n, P, g, gstride, gscale, gx);
    case kSmoothL1: return pw_backward_t<kSmoothL1, T>(x, y, w, pw, n, P, g, gstride, gscale, gx);
    case kHuber: return pw_backward_t<kHuber, T>(x, y, w, pw, n, P, g, gstride, gscale, gx);
    case kBCE: return pw_backward_t<kBCE, T>(x, y, w, pw, n, P, g, gstride, gscale, gx);
    case kBCELogits: return pw_backward_t<kBCELogits, T>(x, y, w, pw, n, P, g, gstride, gscale, gx);
    case kKLDiv: return pw_backward_t<kKLDiv, T>(x, y, w, pw, n, P, g, gstride, gscale, gx);
    default: return pw_backward_t<kKLDivLog, T>(x, y, w, pw, n, P, g, gstride, gscale, gx);
  }
}

template <class T>
const LossKernels<T>* make_table() {
  static const LossKernels<T> t = {
      &ce_forward_k<T>,  &ce_backward_k<T>,  &ce_prob_forward_k<T>, &ce_prob_backward_k<T>,
      &nll_forward_k<T>, &nll_backward_k<T>, &pw_forward_k<T>,      &pw_backward_k<T>,
  };
  return &t;
}

}  // namespace

const LossKernels<float>* kernels_f32() { return make_table<float>(); }
const LossKernels<double>* kernels_f64() { return make_table<double>(); }
