// Tensor ops kernels (see tensorops.h for the semantics of each).
#include "kernels/tensorops/tensorops.h"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "common/parallel.h"

namespace fastdl {
namespace tensorops {

namespace {
// rows of (outer, ·, inner) per chunk: about 64K elements of work each
int64_t grain_rows(int64_t per_row) {
  const int64_t g = (int64_t(1) << 16) / (per_row > 0 ? per_row : 1);
  return g > 0 ? g : 1;
}
}  // namespace

template <class T>
int64_t gather(const T* x, int64_t outer, int64_t n, int64_t inner, const int64_t* idx,
               int64_t m, T* out) {
  std::atomic<int64_t> bad{-1};
  parallel_for(outer, grain_rows(m * inner), [&](int64_t ob, int64_t oe) {
    for (int64_t o = ob; o < oe; ++o) {
      const T* xo = x + o * n * inner;
      const int64_t base = o * m * inner;
      for (int64_t j = 0; j < m; ++j) {
        const int64_t* ij = idx + base + j * inner;
        T* oj = out + base + j * inner;
        for (int64_t i = 0; i < inner; ++i) {
          int64_t t = ij[i];
          if (t < 0) t += n;
          if (static_cast<uint64_t>(t) >= static_cast<uint64_t>(n)) {
            int64_t expect = -1;
            bad.compare_exchange_strong(expect, base + j * inner + i);
            return;
          }
          oj[i] = xo[t * inner + i];
        }
      }
    }
  });
  return bad.load();
}

namespace {
template <class T, bool IS_MAX>
inline bool takes(T c, T p) {  // torch's rule: a NaN always, else a new (or tied) extremum
  return std::isnan(c) || (!std::isnan(p) && (IS_MAX ? c >= p : c <= p));
}

template <class T, bool IS_MAX>
void cumext_impl(const T* x, int64_t outer, int64_t n, int64_t inner, T* vals, int64_t* idx) {
  parallel_for(outer, grain_rows(n * inner), [&](int64_t ob, int64_t oe) {
    for (int64_t o = ob; o < oe; ++o) {
      const int64_t base = o * n * inner;
      if (inner == 1) {  // along the last dimension: one running value per row
        const T* xr = x + base;
        T* vr = vals + base;
        int64_t* ir = idx + base;
        T best = xr[0];
        int64_t bi = 0;
        for (int64_t j = 0; j < n; ++j) {
          const T c = xr[j];
          if (takes<T, IS_MAX>(c, best)) {
            best = c;
            bi = j;
          }
          vr[j] = best;
          ir[j] = bi;
        }
        continue;
      }
      for (int64_t i = 0; i < inner; ++i) {  // j = 0 starts every running extremum
        vals[base + i] = x[base + i];
        idx[base + i] = 0;
      }
      for (int64_t j = 1; j < n; ++j) {
        const T* xj = x + base + j * inner;
        const T* vp = vals + base + (j - 1) * inner;
        const int64_t* ip = idx + base + (j - 1) * inner;
        T* vj = vals + base + j * inner;
        int64_t* ijj = idx + base + j * inner;
        for (int64_t i = 0; i < inner; ++i) {
          const bool take = takes<T, IS_MAX>(xj[i], vp[i]);
          vj[i] = take ? xj[i] : vp[i];
          ijj[i] = take ? j : ip[i];
        }
      }
    }
  });
}
}  // namespace

template <class T>
void cumext(const T* x, int64_t outer, int64_t n, int64_t inner, bool is_max, T* vals,
            int64_t* idx) {
  if (is_max)
    cumext_impl<T, true>(x, outer, n, inner, vals, idx);
  else
    cumext_impl<T, false>(x, outer, n, inner, vals, idx);
}

namespace {
inline double fmod1(double a, double b) { return std::fmod(a, b); }
inline float fmod1(float a, float b) { return std::fmod(a, b); }

template <class T>
inline T mod1(T a, T b, bool python_mod) {
  T r = fmod1(a, b);
  if (python_mod && r != 0 && ((r < 0) != (b < 0))) r += b;
  if (python_mod && r == 0) r = std::copysign(T(0), b);
  return r;
}

// float32 in double arithmetic, vectorisable (no calls, no branches): for |a/b| < 2^24 the
// quotient's integer part is exact, t·b is exact in double (24 + 24 bits) and so is a − t·b
// (see tensorops.h); other elements (huge quotients, b = 0, inf, NaN) are marked NaN and
// redone by std::fmod in a second pass.
template <bool PY>
void fmod_f32(const float* a, const float* b, int64_t bstep, int64_t s, int64_t e, float* out) {
  for (int64_t k = s; k < e; ++k) {
    const double ad = a[k], bd = b[k * bstep];
    const double q = ad / bd;
    const bool ok = std::fabs(q) < 16777216.0;
    const double t = static_cast<double>(static_cast<int32_t>(ok ? q : 0.0));
    double r = ad - t * bd;
    if (PY) {
      r = (r != 0.0 && ((r < 0.0) != (bd < 0.0))) ? r + bd : r;
      r = r == 0.0 ? std::copysign(0.0, bd) : r;
    } else {
      r = r == 0.0 ? std::copysign(0.0, ad) : r;
    }
    out[k] = ok ? static_cast<float>(r) : std::numeric_limits<float>::quiet_NaN();
  }
  for (int64_t k = s; k < e; ++k)
    if (std::isnan(out[k])) out[k] = mod1(a[k], b[k * bstep], PY);
}
}  // namespace

template <class T>
void fmod(const T* a, const T* b, int64_t n, bool b_scalar, bool python_mod, T* out) {
  const int64_t bstep = b_scalar ? 0 : 1;
  parallel_for(n, int64_t(1) << 15, [&](int64_t s, int64_t e) {
    if constexpr (std::is_same_v<T, float>) {
      if (python_mod)
        fmod_f32<true>(a, b, bstep, s, e, out);
      else
        fmod_f32<false>(a, b, bstep, s, e, out);
    } else {
      for (int64_t k = s; k < e; ++k) out[k] = mod1(a[k], b[k * bstep], python_mod);
    }
  });
}

template <class T>
int multinomial_replacement(const T* w, int64_t rows, int64_t n, const double* u, int64_t k,
                            int64_t* out) {
  std::atomic<int> err{0};
  parallel_for(rows, grain_rows(n), [&](int64_t rb, int64_t re) {
    std::vector<double> cdf(static_cast<size_t>(n));
    for (int64_t r = rb; r < re; ++r) {
      const T* wr = w + r * n;
      double acc = 0.0;
      int64_t last = -1;  // the last category with weight
      for (int64_t j = 0; j < n; ++j) {
        const double v = static_cast<double>(wr[j]);
        if (!(v >= 0.0) || std::isinf(v)) {
          err.store(1);
          return;
        }
        acc += v;
        cdf[j] = acc;
        if (v > 0.0) last = j;
      }
      if (!(acc > 0.0)) {
        int expect = 0;
        err.compare_exchange_strong(expect, 2);
        return;
      }
      for (int64_t s = 0; s < k; ++s) {
        const double t = u[r * k + s] * acc;
        int64_t lo = 0, hi = n;  // first j with cdf[j] > t
        while (lo < hi) {
          const int64_t mid = (lo + hi) / 2;
          if (cdf[mid] > t) hi = mid; else lo = mid + 1;
        }
        out[r * k + s] = lo < n ? lo : last;  // t rounded up to the total: the last weight
      }
    }
  });
  return err.load();
}

template <class T>
void topk(const T* x, int64_t rows, int64_t n, int64_t k, bool largest, int64_t* idx) {
  parallel_for(rows, grain_rows(n), [&](int64_t rb, int64_t re) {
    std::vector<int64_t> order(static_cast<size_t>(n));
    for (int64_t r = rb; r < re; ++r) {
      const T* xr = x + r * n;
      for (int64_t j = 0; j < n; ++j) order[j] = j;
      // "a before b": the better value first (NaN the largest), ties by lower index
      auto before = [xr, largest](int64_t a, int64_t b) {
        const T va = xr[a], vb = xr[b];
        const bool na = std::isnan(va), nb = std::isnan(vb);
        if (na || nb) {
          if (na && nb) return a < b;
          return largest ? na : nb;
        }
        if (va != vb) return largest ? va > vb : va < vb;
        return a < b;
      };
      std::partial_sort(order.begin(), order.begin() + k, order.end(), before);
      for (int64_t s = 0; s < k; ++s) idx[r * k + s] = order[s];
    }
  });
}

template <class T>
bool spmm_coo(const int64_t* rows, const int64_t* cols, const T* vals, int64_t nnz, int64_t m,
              const T* x, int64_t k, int64_t n, T* out) {
  std::vector<int64_t> start(static_cast<size_t>(m) + 1, 0);
  for (int64_t e = 0; e < nnz; ++e) {
    const int64_t r = rows[e], c = cols[e];
    if (r < 0 || r >= m || c < 0 || c >= k) return false;
    ++start[r + 1];
  }
  for (int64_t r = 0; r < m; ++r) start[r + 1] += start[r];
  std::vector<int64_t> perm(static_cast<size_t>(nnz));
  {
    std::vector<int64_t> fill(start.begin(), start.end() - 1);
    for (int64_t e = 0; e < nnz; ++e) perm[fill[rows[e]]++] = e;
  }
  parallel_for(m, grain_rows(n * (nnz / (m > 0 ? m : 1) + 1)), [&](int64_t rb, int64_t re) {
    for (int64_t r = rb; r < re; ++r) {
      T* o = out + r * n;
      for (int64_t j = 0; j < n; ++j) o[j] = T(0);
      for (int64_t p = start[r]; p < start[r + 1]; ++p) {
        const int64_t e = perm[p];
        const T v = vals[e];
        const T* xr = x + cols[e] * n;
        for (int64_t j = 0; j < n; ++j) o[j] += v * xr[j];
      }
    }
  });
  return true;
}

#define FASTDL_TENSOROPS(T)                                                                   \
  template int64_t gather<T>(const T*, int64_t, int64_t, int64_t, const int64_t*, int64_t, T*); \
  template void cumext<T>(const T*, int64_t, int64_t, int64_t, bool, T*, int64_t*);            \
  template void fmod<T>(const T*, const T*, int64_t, bool, bool, T*);                          \
  template int multinomial_replacement<T>(const T*, int64_t, int64_t, const double*, int64_t,  \
                                          int64_t*);                                           \
  template void topk<T>(const T*, int64_t, int64_t, int64_t, bool, int64_t*);                  \
  template bool spmm_coo<T>(const int64_t*, const int64_t*, const T*, int64_t, int64_t, const T*, \
                            int64_t, int64_t, T*);
FASTDL_TENSOROPS(float)
FASTDL_TENSOROPS(double)
#undef FASTDL_TENSOROPS

}  // namespace tensorops
}  // namespace fastdl
