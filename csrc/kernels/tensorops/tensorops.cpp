// Tensor ops kernels (see tensorops.h for the semantics of each).
#include "kernels/tensorops/tensorops.h"

#include <algorithm>
#include <atomic>
#include <cmath>
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

template <class T>
void cumext(const T* x, int64_t outer, int64_t n, int64_t inner, bool is_max, T* vals,
            int64_t* idx) {
  parallel_for(outer, grain_rows(n * inner), [&](int64_t ob, int64_t oe) {
    for (int64_t o = ob; o < oe; ++o) {
      const int64_t base = o * n * inner;
      // j = 0: the first element starts every running extremum
      for (int64_t i = 0; i < inner; ++i) {
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
          const T c = xj[i], p = vp[i];
          const bool take = std::isnan(c) || (!std::isnan(p) && (is_max ? c >= p : c <= p));
          vj[i] = take ? c : p;
          ijj[i] = take ? j : ip[i];
        }
      }
    }
  });
}

namespace {
inline float fmod1(float a, float b) {
  const double q = static_cast<double>(a) / static_cast<double>(b);
  if (std::fabs(q) < 16777216.0)  // exact: see tensorops.h
    return static_cast<float>(static_cast<double>(a) - std::trunc(q) * static_cast<double>(b));
  return std::fmod(a, b);
}
inline double fmod1(double a, double b) { return std::fmod(a, b); }

template <class T>
inline T mod1(T a, T b, bool python_mod) {
  T r = fmod1(a, b);
  if (python_mod && r != 0 && ((r < 0) != (b < 0))) r += b;
  return r;
}
}  // namespace

template <class T>
void fmod(const T* a, const T* b, int64_t n, bool b_scalar, bool python_mod, T* out) {
  parallel_for(n, int64_t(1) << 15, [&](int64_t s, int64_t e) {
    if (b_scalar) {
      const T bv = b[0];
      for (int64_t k = s; k < e; ++k) out[k] = mod1(a[k], bv, python_mod);
    } else {
      for (int64_t k = s; k < e; ++k) out[k] = mod1(a[k], b[k], python_mod);
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
