// Bindings of the gemm kernel family (csrc/kernels/gemm/): matmul with NumPy's broadcasting
// rules (and transposed operands, for backward), linear (x·Wᵀ + b), an in-place BLAS-style gemm
// on strided 2-D views, and the FMA peak probe used by bench/bench_peak.py.
#include <omp.h>

#include <algorithm>
#include <cstring>
#include <string>

#include "bindings/util.h"
#include "common/checks.h"
#include "common/parallel.h"
#include "kernels/gemm/gemm.h"

namespace fastdl {
namespace {

template <class T>
void gemm_t(bool parallel, bool ta, bool tb, int64_t m, int64_t n, int64_t k, T alpha,
            const T* A, int64_t lda, const T* B, int64_t ldb, T beta, T* C, int64_t ldc);
template <>
void gemm_t<float>(bool parallel, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                   float alpha, const float* A, int64_t lda, const float* B, int64_t ldb,
                   float beta, float* C, int64_t ldc) {
  (parallel ? gemm::sgemm : gemm::sgemm_serial)(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta,
                                                  C, ldc);
}
template <>
void gemm_t<double>(bool parallel, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                    double alpha, const double* A, int64_t lda, const double* B, int64_t ldb,
                    double beta, double* C, int64_t ldc) {
  (parallel ? gemm::dgemm : gemm::dgemm_serial)(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta,
                                                  C, ldc);
}

std::string pair_str(const py::array& a, const py::array& b) {
  return shape_str(a) + " @ " + shape_str(b);
}

// Whether a batch of nb products of `macs` multiply-adds each runs one product per task, each
// single-threaded, rather than one threaded product after another: for small products, and
// whenever every thread gets at least two (one fork/join for the batch instead of one per
// product; 64 products of 128³ took 147x torch's time on 2 threads when each was split).
inline bool split_over_batch(int64_t nb, double macs) {
  const int64_t nt = num_threads();
  return nt > 1 && (macs < 128.0 * 128 * 128 || nb >= 2 * nt);
}

// Batched product plan: offsets of each batch's A/B matrices (broadcast strides).
template <class T>
void run_matmul(const T* A, const T* B, T* C, const Shape& batch, const Shape& sa,
                const Shape& sb, bool ta, bool tb, int64_t m, int64_t n, int64_t k) {
  const int64_t nb = [&] {
    int64_t p = 1;
    for (int64_t d : batch) p *= d;
    return p;
  }();
  if (nb == 0 || m == 0 || n == 0) return;
  const int64_t lda = ta ? m : k, ldb = tb ? k : n, ldc = n;
  const int64_t msa = m * k, msb = k * n, msc = m * n;
  const size_t nd = batch.size();
  // Strides in matrices for each batch dim (0 where broadcast); sa/sb are right-aligned.
  std::vector<int64_t> stra(nd, 0), strb(nd, 0);
  {
    int64_t s = 1;
    for (size_t i = 0; i < nd; ++i) {
      const size_t d = nd - 1 - i;
      if (i < sa.size()) {
        const int64_t e = sa[sa.size() - 1 - i];
        stra[d] = e == 1 ? 0 : s;
        s *= e;
      }
    }
    s = 1;
    for (size_t i = 0; i < nd; ++i) {
      const size_t d = nd - 1 - i;
      if (i < sb.size()) {
        const int64_t e = sb[sb.size() - 1 - i];
        strb[d] = e == 1 ? 0 : s;
        s *= e;
      }
    }
  }
  bool b_shared = true;  // every batch uses the same B
  for (size_t d = 0; d < nd; ++d) b_shared = b_shared && (strb[d] == 0 || batch[d] == 1);
  bool a_dense = true;   // batch i uses A matrix i
  {
    int64_t s = 1;
    for (size_t i = 0; i < nd; ++i) {
      const size_t d = nd - 1 - i;
      if (batch[d] != 1 && stra[d] != s) a_dense = false;
      s *= batch[d];
    }
  }
  if (nb == 1 || (b_shared && a_dense && !ta)) {
    // One product: (nb·m × k) @ (k × n) when B is shared and A's batches are stacked rows.
    const int64_t mm = b_shared && a_dense && !ta ? nb * m : m;
    gemm_t<T>(true, ta, tb, mm, n, k, T(1), A, lda, B, ldb, T(0), C, ldc);
    return;
  }
  auto offsets = [&](int64_t bi, int64_t& oa, int64_t& ob) {
    oa = ob = 0;
    for (size_t i = 0; i < nd; ++i) {
      const size_t d = nd - 1 - i;
      const int64_t idx = bi % batch[d];
      bi /= batch[d];
      oa += idx * stra[d];
      ob += idx * strb[d];
    }
  };
  const double macs = static_cast<double>(m) * n * k;
  if (split_over_batch(nb, macs)) {
    // Many small products, or at least two per thread: one per task, each single-threaded.
    const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(64.0 * 64 * 64 / (macs + 1)));
    parallel_for(nb, grain, [&](int64_t b0, int64_t b1) {
      for (int64_t bi = b0; bi < b1; ++bi) {
        int64_t oa, ob;
        offsets(bi, oa, ob);
        gemm_t<T>(false, ta, tb, m, n, k, T(1), A + oa * msa, lda, B + ob * msb, ldb, T(0),
                  C + bi * msc, ldc);
      }
    });
  } else {
    for (int64_t bi = 0; bi < nb; ++bi) {
      int64_t oa, ob;
      offsets(bi, oa, ob);
      gemm_t<T>(true, ta, tb, m, n, k, T(1), A + oa * msa, lda, B + ob * msb, ldb, T(0),
                C + bi * msc, ldc);
    }
  }
}

py::array matmul(const py::array& a, const py::array& b, bool ta, bool tb) {
  const char* fn = "matmul";
  if (a.ndim() == 0 || b.ndim() == 0)
    throw py::value_error(std::string(fn) + ": both operands need at least 1 dimension, got " +
                          pair_str(a, b));
  require_float(a, fn, "a");
  require_float(b, fn, "b");
  require_same_dtype(a, b, fn, "a", "b");
  if ((ta && a.ndim() < 2) || (tb && b.ndim() < 2))
    throw py::value_error(std::string(fn) + ": trans_a/trans_b need a 2-D or batched operand, "
                          "got " + pair_str(a, b));
  Shape sa = shape_of(a), sb = shape_of(b);
  const bool a1 = a.ndim() == 1, b1 = b.ndim() == 1;
  if (a1) sa.insert(sa.begin(), 1);
  if (b1) sb.push_back(1);
  const size_t ra = sa.size(), rb = sb.size();
  const int64_t m = ta ? sa[ra - 1] : sa[ra - 2], ka = ta ? sa[ra - 2] : sa[ra - 1];
  const int64_t kb = tb ? sb[rb - 1] : sb[rb - 2], n = tb ? sb[rb - 2] : sb[rb - 1];
  if (ka != kb)
    throw py::value_error(std::string(fn) + ": inner dimensions disagree: " + pair_str(a, b) +
                          " (" + std::to_string(ka) + " != " + std::to_string(kb) + ")" +
                          (ta || tb ? std::string(" with trans_a=") + (ta ? "True" : "False") +
                                          ", trans_b=" + (tb ? "True" : "False")
                                    : std::string()));
  Shape ba(sa.begin(), sa.end() - 2), bb(sb.begin(), sb.end() - 2);
  const size_t nd = std::max(ba.size(), bb.size());
  Shape batch(nd, 1);
  for (size_t i = 0; i < nd; ++i) {
    const int64_t da = i < ba.size() ? ba[ba.size() - 1 - i] : 1;
    const int64_t db = i < bb.size() ? bb[bb.size() - 1 - i] : 1;
    if (da != db && da != 1 && db != 1)
      throw py::value_error(std::string(fn) + ": batch dimensions do not broadcast: " +
                            pair_str(a, b));
    batch[nd - 1 - i] = da == 1 ? db : da;
  }
  Shape out = batch;
  if (!a1) out.push_back(m);
  if (!b1) out.push_back(n);
  {
    Shape full = batch;
    full.push_back(m);
    full.push_back(n);
    int64_t tot = 1;
    for (int64_t d : full) tot = checked_mul(tot, d, "matmul output");
  }
  py::array c = pool_array(out, a.dtype());
  {
    py::gil_scoped_release nogil;
    if (is_f32(a))
      run_matmul<float>(cptr<float>(a), cptr<float>(b), ptr<float>(c), batch, ba, bb, ta, tb,
                        m, n, ka);
    else
      run_matmul<double>(cptr<double>(a), cptr<double>(b), ptr<double>(c), batch, ba, bb, ta,
                         tb, m, n, ka);
  }
  return c;
}

py::array linear(const py::array& x, const py::array& w, const py::object& bias_obj) {
  const char* fn = "linear";
  require_float(x, fn, "input");
  require_float(w, fn, "weight");
  require_same_dtype(x, w, fn, "input", "weight");
  if (x.ndim() != 2 || w.ndim() != 2)
    throw py::value_error(std::string(fn) + ": input must be 2-D and weight 2-D, got input " +
                          shape_str(x) + " and weight " + shape_str(w));
  const int64_t m = x.shape(0), in = x.shape(1), out = w.shape(0);
  if (w.shape(1) != in)
    throw py::value_error(std::string(fn) + ": input " + shape_str(x) + " has " +
                          std::to_string(in) + " features but weight " + shape_str(w) +
                          " expects " + std::to_string(w.shape(1)));
  py::array bias;
  const bool has_bias = !bias_obj.is_none();
  if (has_bias) {
    bias = py::cast<py::array>(bias_obj);
    require_float(bias, fn, "bias");
    require_same_dtype(x, bias, fn, "input", "bias");
    if (bias.ndim() != 1 || bias.shape(0) != out)
      throw py::value_error(std::string(fn) + ": bias " + shape_str(bias) + " must have shape (" +
                            std::to_string(out) + ",) for weight " + shape_str(w));
  }
  checked_mul(m, out, "linear output");
  py::array y = pool_array({m, out}, x.dtype());
  auto go = [&](auto tag) {
    using T = decltype(tag);
    T* Y = ptr<T>(y);
    const T* bp = has_bias ? cptr<T>(bias) : nullptr;
    py::gil_scoped_release nogil;
    if (bp && in > 0)
      for (int64_t i = 0; i < m; ++i) std::memcpy(Y + i * out, bp, sizeof(T) * out);
    if (bp && in == 0) {
      for (int64_t i = 0; i < m; ++i) std::memcpy(Y + i * out, bp, sizeof(T) * out);
      return;
    }
    gemm_t<T>(true, false, true, m, out, in, T(1), cptr<T>(x), in, cptr<T>(w), in,
              bp ? T(1) : T(0), Y, out);
  };
  if (is_f32(x))
    go(float());
  else
    go(double());
  return y;
}

// A 2-D view with unit column stride: returns the row stride in elements.
int64_t row_stride(const py::array& a, const char* fn, const char* name) {
  if (!is_f32(a) && !is_f64(a))
    throw py::type_error(std::string(fn) + ": " + name + " must be float32 or float64, got " +
                         std::string(py::str(a.dtype())));
  if (a.ndim() != 2)
    throw py::value_error(std::string(fn) + ": " + name + " must be 2-D, got shape " +
                          shape_str(a));
  const int64_t isz = a.itemsize();
  const int64_t r = a.shape(0), cdim = a.shape(1);
  if (r == 0 || cdim == 0) return std::max<int64_t>(cdim, 1);  // no element is read
  if (cdim > 1 && a.strides(1) != isz)
    throw py::value_error(std::string(fn) + ": " + name + " with shape " + shape_str(a) +
                          " must have unit column stride");
  if (r <= 1) return std::max<int64_t>(cdim, 1);
  if (a.strides(0) % isz != 0 || a.strides(0) / isz < cdim)
    throw py::value_error(std::string(fn) + ": " + name + " with shape " + shape_str(a) +
                          " has a row stride below its width");
  return a.strides(0) / isz;
}

// Byte ranges [first, last] spanned by two 2-D views intersect.
bool overlaps(const py::array& x, const py::array& y) {
  auto range = [](const py::array& a, const char*& lo, const char*& hi) {
    lo = static_cast<const char*>(a.data());
    hi = lo + (a.shape(0) - 1) * a.strides(0) + (a.shape(1) - 1) * a.strides(1) + a.itemsize();
  };
  const char *xl, *xh, *yl, *yh;
  if (x.size() == 0 || y.size() == 0) return false;
  range(x, xl, xh);
  range(y, yl, yh);
  return xl < yh && yl < xh;
}

void gemm_inplace(const py::array& a, const py::array& b, py::array& c, bool ta, bool tb,
                  double alpha, double beta) {
  const char* fn = "gemm";
  const int64_t lda = row_stride(a, fn, "a"), ldb = row_stride(b, fn, "b");
  const int64_t ldc = row_stride(c, fn, "c");
  require_same_dtype(a, b, fn, "a", "b");
  require_same_dtype(a, c, fn, "a", "c");
  require_writeable(c, fn, "c");
  const int64_t m = ta ? a.shape(1) : a.shape(0), ka = ta ? a.shape(0) : a.shape(1);
  const int64_t kb = tb ? b.shape(1) : b.shape(0), n = tb ? b.shape(0) : b.shape(1);
  if (ka != kb)
    throw py::value_error(std::string(fn) + ": inner dimensions disagree: " + pair_str(a, b) +
                          " (" + std::to_string(ka) + " != " + std::to_string(kb) + ")");
  if (c.shape(0) != m || c.shape(1) != n)
    throw py::value_error(std::string(fn) + ": c has shape " + shape_str(c) + ", expected (" +
                          std::to_string(m) + ", " + std::to_string(n) + ") for " +
                          pair_str(a, b));
  if (m > 0 && n > 0 && ka > 0 && (overlaps(c, a) || overlaps(c, b)))
    throw py::value_error(std::string(fn) + ": c must not overlap a or b");
  py::gil_scoped_release nogil;
  if (is_f32(a))
    gemm::sgemm(ta, tb, m, n, ka, static_cast<float>(alpha), cptr<float>(a), lda,
                cptr<float>(b), ldb, static_cast<float>(beta), ptr<float>(c), ldc);
  else
    gemm::dgemm(ta, tb, m, n, ka, alpha, cptr<double>(a), lda, cptr<double>(b), ldb, beta,
                ptr<double>(c), ldc);
}

}  // namespace

void bind_gemm(py::module_& m) {
  m.def("matmul", &matmul, py::arg("a"), py::arg("b"), py::arg("trans_a") = false,
        py::arg("trans_b") = false,
        "np.matmul(op(a), op(b)) with op = swap of the last two axes when trans_*; batch "
        "dimensions broadcast; 1-D operands as in NumPy. C-contiguous float32/float64.");
  m.def("linear", &linear, py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(),
        "input (m, in) @ weight(out, in).T + bias(out,)");
  m.def("gemm", &gemm_inplace, py::arg("a"), py::arg("b"), py::arg("c"),
        py::arg("trans_a") = false, py::arg("trans_b") = false, py::arg("alpha") = 1.0,
        py::arg("beta") = 0.0,
        "In place: c := alpha·op(a)·op(b) + beta·c on 2-D views with unit column stride "
        "(any row strides).");
  m.def("_gemm_blocking", [](int itemsize) {
    if (itemsize != 4 && itemsize != 8)
      throw py::value_error("_gemm_blocking: itemsize must be 4 or 8");
    gemm::Blocking b = gemm::blocking(itemsize);
    py::dict d;
    d["mr"] = b.mr;
    d["nr"] = b.nr;
    d["kc"] = b.kc;
    d["mc"] = b.mc;
    d["nc"] = b.nc;
    return d;
  }, py::arg("itemsize"));
  m.def("_gemm_path", [](int itemsize, int64_t m, int64_t n, int64_t k, bool trans_b) {
    if (itemsize != 4 && itemsize != 8)
      throw py::value_error("_gemm_path: itemsize must be 4 or 8");
    return std::string(gemm::path_name(itemsize, true, trans_b, m, n, k));
  }, py::arg("itemsize"), py::arg("m"), py::arg("n"), py::arg("k"), py::arg("trans_b") = false,
     "The loop nest fastdl's GEMM runs for an (m, k) x (k, n) product on the active ISA.");
  m.def("_fma_peak", [](int64_t iters, int threads) {
    if (iters < 1) throw py::value_error("_fma_peak: iters must be >= 1");
    if (threads < 1) throw py::value_error("_fma_peak: threads must be >= 1");
    double flops = 0, secs = 0;
    {
      py::gil_scoped_release nogil;
      double t0 = omp_get_wtime();
#pragma omp parallel num_threads(threads) reduction(+ : flops)
      flops += gemm::fma_probe(iters);
      secs = omp_get_wtime() - t0;
    }
    return py::make_tuple(flops, secs);
  }, py::arg("iters"), py::arg("threads"),
     "FMA-throughput probe (active ISA, float32) on `threads` threads: (flops, seconds).");
}

}  // namespace fastdl
