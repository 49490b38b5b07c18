// Tensor ops that NumPy has no single fast pass for: gather along a dimension, running
// max/min with indices, C's fmod and Python's remainder, top-k selection, the mode of a row,
// multinomial sampling with and without replacement, sparse (COO) × dense products, fused
// elementwise passes (sign, rsqrt, reciprocal, frac, lerp, logaddexp, outer, nansum) and
// byte-copying layout kernels of any dtype (flip, tril/triu, diag_embed, batched transpose).
// Raw pointers; the binding validates shapes and dtypes.
//
// Layout: an array reduced or indexed along one dimension is viewed as (outer, n, inner),
// C-contiguous: element (o, j, i) at o·n·inner + j·inner + i. Work is split over `outer`
// (and `inner`) in chunks whose size depends only on the shape, so results do not depend on
// the thread count. T = float or double (the mode also int64).
//
// The kernels are written once in tensorops_impl.h and compiled per ISA (tensorops.cpp:
// generic, tensorops_avx2.cpp, tensorops_avx512.cpp); the functions below call the active
// ISA's TensorOps table.
#pragma once
#include <cstdint>

#include "common/dispatch.h"

namespace fastdl {
namespace tensorops {

// out[o, j, i] = x[o, idx[o, j, i], i] for x (outer, n, inner) and idx/out (outer, m, inner);
// an index in [-n, 0) counts from the end. Returns -1 when every index is in [-n, n), else the
// flat position in idx of the first out-of-range index (out is then incomplete).
template <class T>
int64_t gather(const T* x, int64_t outer, int64_t n, int64_t inner, const int64_t* idx,
               int64_t m, T* out);

// Running maximum (is_max) or minimum along the middle axis of (outer, n, inner), as torch:
//   vals[j] = x[j] and idx[j] = j when x[j] is NaN, or when vals[j-1] is not NaN and
//   x[j] >= vals[j-1] (<= for the minimum: ties take the latest index); else vals[j-1], idx[j-1].
template <class T>
void cumext(const T* x, int64_t outer, int64_t n, int64_t inner, bool is_max, T* vals,
            int64_t* idx);

// out[k] = fmod(a[k], b[k]) (the sign of the dividend), or with python_mod the remainder with
// the sign of the divisor (fmod, plus b when the signs differ and the result is not 0).
// b_scalar: b is one value for every k. float: exact through double arithmetic when the
// quotient is below 2^24 (std::fmod otherwise); double: std::fmod.
template <class T>
void fmod(const T* a, const T* b, int64_t n, bool b_scalar, bool python_mod, T* out);

// Draw k categories per row of the weights w (rows, n) with replacement: out[r, s] is the
// first j with Σ_{i ≤ j} w[r, i] > u[r, s] · Σ_i w[r, i] (u uniform in [0, 1)), so a zero
// weight is never drawn. Returns 0, or 1 when some weight is negative, inf or NaN, or 2 when
// some row sums to 0 (out is then incomplete).
template <class T>
int multinomial_replacement(const T* w, int64_t rows, int64_t n, const double* u, int64_t k,
                            int64_t* out);

// Draw k distinct categories per row of w (rows, n) without replacement, by the exponential
// race: with E_j = −log u[r, j] (u uniform in [0, 1), one per weight), out[r, ·] are the
// indices of the k largest keys w_j / E_j in decreasing order, which is the order a
// draw-one-then-renormalise sampler would pick them in. A zero weight is drawn only when a
// row has fewer than k positive weights, after them and in index order (as torch).
// Returns 0; 1 when a weight is negative, inf or NaN; 2 when a row has no positive weight
// (out is then incomplete).
template <class T>
int multinomial_noreplace(const T* w, int64_t rows, int64_t n, const T* u, int64_t k,
                          int64_t* out);

// The indices of the k largest (smallest with !largest) entries along the middle axis of x
// (outer, n, inner), in order: by value (NaN counts as larger than every number, as torch),
// ties by lower index. idx is (outer, k, inner).
template <class T>
void topk(const T* x, int64_t outer, int64_t n, int64_t inner, int64_t k, bool largest,
          int64_t* idx);

// The most frequent value of each row of x (rows, n), n >= 1 (the smallest among equally
// frequent ones; NaNs count as equal and larger than every number) and the index of its last
// occurrence in the row. T = float, double or int64_t.
template <class T>
void mode(const T* x, int64_t rows, int64_t n, T* vals, int64_t* idx);

// Sparse (m, ·) in COO form times dense x (k, n): out (m, n) = Σ_e vals[e] · x[cols[e], :] into
// row rows[e] (duplicates add). Entries are bucketed by row first (a counting sort, O(nnz + m)),
// then rows are summed in parallel in entry order. Returns false when an index is outside
// [0, m) × [0, k) (out is then incomplete).
template <class T>
bool spmm_coo(const int64_t* rows, const int64_t* cols, const T* vals, int64_t nnz, int64_t m,
              const T* x, int64_t k, int64_t n, T* out);

// out (outer, n, inner) += src (outer, m, inner) at the index along the middle axis:
// out[o, idx[o, j, i], i] += src[o, j, i], in j order for each element (deterministic); an
// index in [-n, 0) counts from the end. Returns -1, or the flat position in idx of the first
// out-of-range index (that entry is skipped).
template <class T>
int64_t scatter_add(T* out, int64_t outer, int64_t n, int64_t inner, const int64_t* idx,
                    const T* src, int64_t m);

// out[k] = nan for NaN x[k], posinf for +inf, neginf for -inf, else x[k].
template <class T>
void nan_to_num(const T* x, int64_t n, T nan, T posinf, T neginf, T* out);

// out[k] = √(a[k]² + b[k]²) without intermediate overflow (float: in double arithmetic;
// double: std::hypot); +inf when either operand is infinite, even beside a NaN.
template <class T>
void hypot(const T* a, const T* b, int64_t n, T* out);

// Running sum (prod: running product) of x (outer, n, inner) along the middle axis into out,
// accumulated in double (as torch's CPU scan), rounded once per element; rows and column
// blocks are fixed chunks, so the result does not depend on the thread count.
template <class T>
void cumop(const T* x, int64_t outer, int64_t n, int64_t inner, bool prod, T* out);

// index_add: out (outer, n, inner) += src (outer, m, inner) with row j of src added to row
// idx[j] of out along the middle axis (idx: m entries, negative ones count from the end);
// rows with a repeated index add in j order. Returns the first j whose index is out of
// [-n, n) (nothing written for it), or -1.
template <class T>
int64_t index_add(T* out, int64_t outer, int64_t n, int64_t inner, const int64_t* idx,
                  const T* src, int64_t m);

// The inverse error function of float32 x[0..n) (Giles' approximation, within 2.7e-7
// relative): ±inf at ±1, NaN outside [-1, 1] and for NaN.
void erfinv_f32(const float* x, int64_t n, float* out);

// ---- streaming elementwise passes over contiguous data (T = float or double) ---------------
// The codes of `unary`: out[k] = f(x[k]) with
//   kSign: 1 for x > 0, -1 for x < 0, +0 for ±0 and NaN (torch's sign);
//   kRsqrt: 1/√x (an exact division: +inf at +0, -inf at -0, NaN below 0);
//   kReciprocal: 1/x;  kFrac: x − trunc(x) (NaN for ±inf).
enum UnaryCode : int { kSign = 0, kRsqrt = 1, kReciprocal = 2, kFrac = 3 };
template <class T>
void unary(const T* x, int64_t n, int code, T* out);

// out[k] = lerp(a[k], b[k], w) by torch's formula: a + w·(b − a) for |w| < 0.5, else
// b − (b − a)·(1 − w), each a multiply-add (fused on AVX2/AVX-512).
template <class T>
void lerp(const T* a, const T* b, T w, int64_t n, T* out);

// out[k] = log(exp(a[k]) + exp(b[k])) = max + log1p(exp(−|a − b|)); equal infinities give
// themselves, a NaN operand NaN.
template <class T>
void logaddexp(const T* a, const T* b, int64_t n, T* out);

// out (m, n) = a (m) ⊗ b (n): out[i, j] = a[i]·b[j].
template <class T>
void outer(const T* a, int64_t m, const T* b, int64_t n, T* out);

// Σ x[k] over the non-NaN elements (0 when all are NaN), each vector lane summing at most
// simd::kLaneTerms terms in T before they go into a double; fixed chunks, so the same for
// any thread count.
template <class T>
double nansum(const T* x, int64_t n);

// ---- byte-copying kernels (any dtype: `size` bytes per element, C-contiguous) --------------
// out = x with the dimensions whose flag is set reversed; x and out of `shape` (ndim >= 1).
void flip_bytes(const void* x, int ndim, const int64_t* shape, const unsigned char* flipped,
                int64_t size, void* out);
// tril (upper = false: keeps j − i <= k) or triu (keeps j − i >= k) of (batch, r, c)
// matrices; the other elements are zero bytes.
void tri_bytes(const void* x, int64_t batch, int64_t r, int64_t c, int64_t k, bool upper,
               int64_t size, void* out);
// out (batch, n, n), n = m + |offset|: x (batch, m) on the offset diagonal (above the main one
// for offset > 0), zero bytes elsewhere.
void diag_embed_bytes(const void* x, int64_t batch, int64_t m, int64_t offset, int64_t size,
                      void* out);
// out (batch, c, r) = x (batch, r, c) with each matrix transposed (both C-contiguous): the
// NCHW <-> NHWC layout copies (r = C, c = H·W and back).
void transpose_bytes(const void* x, int64_t batch, int64_t r, int64_t c, int64_t size, void* out);

// Baseline helpers the per-ISA kernels call for sorting and selection (std algorithms are
// kept out of tensorops_impl.h, see there), defined in tensorops.cpp:
// sort_values: v[0..n) ascending, NaNs last (T = float, double, int64_t).
template <class T>
void sort_values(T* v, int64_t n);
// select_k: order[0..k) = the indices of the k largest (smallest with !largest) of x[0..n)
// in order, NaN the largest, ties by lower index; order has room for n entries.
template <class T>
void select_k(const T* x, int64_t n, int64_t k, bool largest, int64_t* order);

// The family's per-ISA table: the functions above for one element type.
template <class T>
struct TensorOpsT {
  int64_t (*gather)(const T*, int64_t, int64_t, int64_t, const int64_t*, int64_t, T*);
  void (*cumext)(const T*, int64_t, int64_t, int64_t, bool, T*, int64_t*);
  void (*fmod)(const T*, const T*, int64_t, bool, bool, T*);
  int (*multinomial_replacement)(const T*, int64_t, int64_t, const double*, int64_t, int64_t*);
  int (*multinomial_noreplace)(const T*, int64_t, int64_t, const T*, int64_t, int64_t*);
  void (*topk)(const T*, int64_t, int64_t, int64_t, int64_t, bool, int64_t*);
  void (*mode)(const T*, int64_t, int64_t, T*, int64_t*);
  bool (*spmm_coo)(const int64_t*, const int64_t*, const T*, int64_t, int64_t, const T*,
                   int64_t, int64_t, T*);
  int64_t (*scatter_add)(T*, int64_t, int64_t, int64_t, const int64_t*, const T*, int64_t);
  void (*nan_to_num)(const T*, int64_t, T, T, T, T*);
  void (*hypot)(const T*, const T*, int64_t, T*);
  void (*cumop)(const T*, int64_t, int64_t, int64_t, bool, T*);
  int64_t (*index_add)(T*, int64_t, int64_t, int64_t, const int64_t*, const T*, int64_t);
  void (*unary)(const T*, int64_t, int, T*);
  void (*lerp)(const T*, const T*, T, int64_t, T*);
  void (*logaddexp)(const T*, const T*, int64_t, T*);
  void (*outer)(const T*, int64_t, const T*, int64_t, T*);
  double (*nansum)(const T*, int64_t);
};
struct TensorOps {
  TensorOpsT<float> f;
  TensorOpsT<double> d;
  void (*mode_i64)(const int64_t*, int64_t, int64_t, int64_t*, int64_t*);
  void (*erfinv_f32)(const float*, int64_t, float*);
  void (*flip_bytes)(const void*, int, const int64_t*, const unsigned char*, int64_t, void*);
  void (*tri_bytes)(const void*, int64_t, int64_t, int64_t, int64_t, bool, int64_t, void*);
  void (*diag_embed_bytes)(const void*, int64_t, int64_t, int64_t, int64_t, void*);
  void (*transpose_bytes)(const void*, int64_t, int64_t, int64_t, int64_t, void*);
};
FASTDL_DECLARE_OPS(TensorOps)

}  // namespace tensorops
}  // namespace fastdl
