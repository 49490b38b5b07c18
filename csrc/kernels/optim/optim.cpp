// Optimizer kernels: the generic (scalar) chunk kernels, the per-tensor coefficients, the
// multi-tensor driver (chunking, threads) and the ISA dispatch tables.
#include "kernels/optim/optim.h"

#include <cmath>
#include <vector>

#include "common/dispatch.h"
#include "common/parallel.h"

namespace fastdl {
namespace optim {

// ---- generic chunk kernels: Vec is one scalar lane ------------------------------------------
namespace generic {
namespace {
template <class T>
struct Vec;
#include "kernels/optim/optim_math.inc"

template <class T>
struct Vec {
  using R = T;
  static constexpr int64_t W = 1;
  static R set(double x) { return static_cast<T>(x); }
  static R ld(const T* p, Full) { return *p; }
  static R ld(const T* p, Part) { return *p; }
  static void st(T* p, R v, Full) { *p = v; }
  static void st(T* p, R v, Part) { *p = v; }
  static R sqrt(R a) { return std::sqrt(a); }
  static R max(R a, R b) { return a > b ? a : b; }  // b when unordered, as x86 maxps
  static R min(R a, R b) { return a < b ? a : b; }
  static R abs(R a) { return std::fabs(a); }
  static R sign3(R s, R pos, R neg, R zero) {
    return s > 0 ? pos : s < 0 ? neg : s == 0 ? zero : s;
  }
  static R where_eq(R a, R b, R x, R y) { return a == b ? x : y; }
};

template <class T>
double norm_impl(const T* x, int64_t n, int kind) {
  if (kind == 3) {
    double m = 0;
    bool nan = false;
    for (int64_t i = 0; i < n; ++i) {
      const double a = std::fabs(static_cast<double>(x[i]));
      if (a != a) nan = true;
      else if (a > m) m = a;
    }
    return nan ? NAN : m;
  }
  double s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  int64_t i = 0;
  if (kind == 2) {
    for (; i + 4 <= n; i += 4) {
      const double a = x[i], b = x[i + 1], c = x[i + 2], d = x[i + 3];
      s0 += a * a; s1 += b * b; s2 += c * c; s3 += d * d;
    }
    for (; i < n; ++i) { const double a = x[i]; s0 += a * a; }
  } else {
    for (; i + 4 <= n; i += 4) {
      s0 += std::fabs(double(x[i])); s1 += std::fabs(double(x[i + 1]));
      s2 += std::fabs(double(x[i + 2])); s3 += std::fabs(double(x[i + 3]));
    }
    for (; i < n; ++i) s0 += std::fabs(double(x[i]));
  }
  return (s0 + s1) + (s2 + s3);
}
}  // namespace

void step_f32(Algo al, const Hyper& h, const Coef& c, const ChunkArgs<float>& a) { run_step<float>(al, h, c, a); }
void step_f64(Algo al, const Hyper& h, const Coef& c, const ChunkArgs<double>& a) { run_step<double>(al, h, c, a); }
double norm_f32(const float* x, int64_t n, int kind) { return norm_impl(x, n, kind); }
double norm_f64(const double* x, int64_t n, int kind) { return norm_impl(x, n, kind); }
void map_f32(float* x, int64_t n, int kind, double a, double b) { run_map<float>(x, n, kind, a, b); }
void map_f64(double* x, int64_t n, int kind, double a, double b) { run_map<double>(x, n, kind, a, b); }
}  // namespace generic

// ---- dispatch tables ---------------------------------------------------------------------
namespace {
#ifdef FASTDL_X86
#define FASTDL_OPTIM_TABLE(name) {generic::name, avx2::name, avx512::name}
#else
#define FASTDL_OPTIM_TABLE(name) {generic::name, nullptr, nullptr}
#endif
StepFn<float> const kStepF32[kNumIsa] = FASTDL_OPTIM_TABLE(step_f32);
StepFn<double> const kStepF64[kNumIsa] = FASTDL_OPTIM_TABLE(step_f64);
NormFn<float> const kNormF32[kNumIsa] = FASTDL_OPTIM_TABLE(norm_f32);
NormFn<double> const kNormF64[kNumIsa] = FASTDL_OPTIM_TABLE(norm_f64);
MapFn<float> const kMapF32[kNumIsa] = FASTDL_OPTIM_TABLE(map_f32);
MapFn<double> const kMapF64[kNumIsa] = FASTDL_OPTIM_TABLE(map_f64);
#undef FASTDL_OPTIM_TABLE

inline StepFn<float> step_fn(float*) { return pick(kStepF32); }
inline StepFn<double> step_fn(double*) { return pick(kStepF64); }
inline NormFn<float> norm_fn(const float*) { return pick(kNormF32); }
inline NormFn<double> norm_fn(const double*) { return pick(kNormF64); }
inline MapFn<float> map_fn(float*) { return pick(kMapF32); }
inline MapFn<double> map_fn(double*) { return pick(kMapF64); }

// Work items: (tensor, begin, end) with end - begin <= kChunk; boundaries depend only on sizes.
struct Chunk {
  int64_t tensor, begin, end;
};

std::vector<Chunk> make_chunks(int64_t n, const int64_t* numel, int64_t* total) {
  std::vector<Chunk> chunks;
  int64_t count = 0, tot = 0;
  for (int64_t t = 0; t < n; ++t) count += (numel[t] + kChunk - 1) / kChunk;
  chunks.reserve(static_cast<size_t>(count));
  for (int64_t t = 0; t < n; ++t) {
    tot += numel[t];
    for (int64_t b = 0; b < numel[t]; b += kChunk)
      chunks.push_back({t, b, b + kChunk < numel[t] ? b + kChunk : numel[t]});
  }
  *total = tot;
  return chunks;
}

// Below this many elements in all, one thread does the work (same chunks, same results).
constexpr int64_t kSerialBelow = 1 << 15;

// Chunks are handed out dynamically (a few at a time): a thread that is descheduled on a
// busy machine does not hold the others up at the barrier. Which thread runs a chunk never
// changes its result, so this stays bitwise deterministic.
template <class F>
void run_chunks(const std::vector<Chunk>& chunks, int64_t total, F&& fn) {
  const int64_t nc = static_cast<int64_t>(chunks.size());
  const int nt = num_threads();
  if (total < kSerialBelow || nt == 1 || nc == 1) {
    for (int64_t c = 0; c < nc; ++c) fn(chunks[c]);
    return;
  }
#pragma omp parallel for num_threads(nt) schedule(dynamic, 4)
  for (int64_t c = 0; c < nc; ++c) fn(chunks[c]);
}

template <class T>
void step_impl(Algo algo, const Hyper& h, int64_t n, const int64_t* numel, T* const* param,
               const T* const* grad, T* const* const* state, const Coef* coef) {
  int64_t total = 0;
  const std::vector<Chunk> chunks = make_chunks(n, numel, &total);
  const StepFn<T> fn = step_fn(static_cast<T*>(nullptr));
  run_chunks(chunks, total, [&](const Chunk& c) {
    const int64_t t = c.tensor, b = c.begin;
    ChunkArgs<T> a;
    a.p = param[t] + b;
    a.g = grad[t] + b;
    a.s0 = state[0] ? state[0][t] + b : nullptr;
    a.s1 = state[1] ? state[1][t] + b : nullptr;
    a.s2 = state[2] ? state[2][t] + b : nullptr;
    a.n = c.end - b;
    fn(algo, h, coef[t], a);
  });
}

template <class T>
double norm_impl(int64_t n, const int64_t* numel, const T* const* x, double p) {
  int64_t total = 0;
  const std::vector<Chunk> chunks = make_chunks(n, numel, &total);
  const NormFn<T> fn = norm_fn(static_cast<const T*>(nullptr));
  const int kind = std::isinf(p) ? 3 : p == 2.0 ? 2 : p == 1.0 ? 1 : 0;
  std::vector<double> part(chunks.size());
  run_chunks(chunks, total, [&](const Chunk& c) {
    const T* src = x[c.tensor] + c.begin;
    const int64_t len = c.end - c.begin;
    double r;
    if (kind) {
      r = fn(src, len, kind);
    } else {  // general p: plain loop
      r = 0;
      for (int64_t i = 0; i < len; ++i) r += std::pow(std::fabs(double(src[i])), p);
    }
    part[&c - chunks.data()] = r;
  });
  if (kind == 3) {
    double m = 0;
    for (double v : part) {
      if (v != v) return NAN;
      if (v > m) m = v;
    }
    return m;
  }
  double s = 0;
  for (double v : part) s += v;
  if (kind == 1) return s;
  if (kind == 2) return std::sqrt(s);
  return std::pow(s, 1.0 / p);
}

template <class T>
void map_impl(int64_t n, const int64_t* numel, T* const* x, int kind, double a, double b) {
  int64_t total = 0;
  const std::vector<Chunk> chunks = make_chunks(n, numel, &total);
  const MapFn<T> fn = map_fn(static_cast<T*>(nullptr));
  run_chunks(chunks, total, [&](const Chunk& c) {
    fn(x[c.tensor] + c.begin, c.end - c.begin, kind, a, b);
  });
}
}  // namespace

Coef coefficients(Algo algo, const Hyper& h, double step, double* mu_product, bool first) {
  Coef c;
  switch (algo) {
    case Algo::sgd:
      c.a = first ? 1.0 : 0.0;
      break;
    case Algo::adam:
      c.a = h.lr / (1.0 - std::pow(h.beta1, step));
      c.b = std::sqrt(1.0 - std::pow(h.beta2, step));
      break;
    case Algo::adagrad:
      c.a = h.lr / (1.0 + (step - 1.0) * h.lr_decay);
      break;
    case Algo::adamax:
      c.a = h.lr / (1.0 - std::pow(h.beta1, step));
      break;
    case Algo::nadam: {
      const double mu = h.beta1 * (1.0 - 0.5 * std::pow(0.96, step * h.momentum_decay));
      const double mu_next =
          h.beta1 * (1.0 - 0.5 * std::pow(0.96, (step + 1.0) * h.momentum_decay));
      const double prod = *mu_product * mu;
      *mu_product = prod;
      c.a = 1.0 - std::pow(h.beta2, step);
      c.b = -h.lr * (1.0 - mu) / (1.0 - prod);
      c.c = -h.lr * mu_next / (1.0 - prod * mu_next);
      break;
    }
    case Algo::radam: {
      const double bc1 = 1.0 - std::pow(h.beta1, step);
      const double bc2 = 1.0 - std::pow(h.beta2, step);
      const double rho_inf = 2.0 / (1.0 - h.beta2) - 1.0;
      const double rho_t = rho_inf - 2.0 * step * std::pow(h.beta2, step) / bc2;
      c.a = bc1;
      c.b = std::sqrt(bc2);
      if (rho_t > 5.0) {
        c.c = std::sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf /
                        ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t));
        c.d = 1.0;
      }
      break;
    }
    case Algo::asgd: {
      const double eta = h.lr / std::pow(1.0 + h.lambd * h.lr * (step - 1.0), h.asgd_alpha);
      const double d = step - 1.0 - h.t0;
      c.a = static_cast<double>(static_cast<float>(eta));
      c.b = static_cast<double>(static_cast<float>(1.0 / (d > 1.0 ? d : 1.0)));
      break;
    }
    case Algo::rmsprop:
    case Algo::adadelta:
    case Algo::rprop:
      break;
  }
  return c;
}

void multi_tensor_step(Algo algo, const Hyper& h, int64_t n, const int64_t* numel,
                       float* const* param, const float* const* grad,
                       float* const* const* state, const Coef* coef) {
  step_impl<float>(algo, h, n, numel, param, grad, state, coef);
}
void multi_tensor_step(Algo algo, const Hyper& h, int64_t n, const int64_t* numel,
                       double* const* param, const double* const* grad,
                       double* const* const* state, const Coef* coef) {
  step_impl<double>(algo, h, n, numel, param, grad, state, coef);
}
double multi_tensor_norm(int64_t n, const int64_t* numel, const float* const* x, double p) {
  return norm_impl<float>(n, numel, x, p);
}
double multi_tensor_norm(int64_t n, const int64_t* numel, const double* const* x, double p) {
  return norm_impl<double>(n, numel, x, p);
}
void multi_tensor_scale(int64_t n, const int64_t* numel, float* const* x, double c) {
  map_impl<float>(n, numel, x, 0, c, 0);
}
void multi_tensor_scale(int64_t n, const int64_t* numel, double* const* x, double c) {
  map_impl<double>(n, numel, x, 0, c, 0);
}
void multi_tensor_clamp(int64_t n, const int64_t* numel, float* const* x, double lo, double hi) {
  map_impl<float>(n, numel, x, 1, lo, hi);
}
void multi_tensor_clamp(int64_t n, const int64_t* numel, double* const* x, double lo, double hi) {
  map_impl<double>(n, numel, x, 1, lo, hi);
}

}  // namespace optim
}  // namespace fastdl
