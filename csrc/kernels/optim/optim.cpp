// Optimizer kernels: the generic build of optim_impl.h, the per-tensor coefficients, the
// multi-tensor driver (chunking, threads) and the ISA dispatch (OptimOps, see optim.h).
#include "kernels/optim/optim.h"
#include "kernels/optim/optim_impl.h"  // the generic chunk kernels and their OptimOps table

#include <cmath>
#include <vector>

#include "common/dispatch.h"
#include "common/parallel.h"

namespace fastdl {
namespace optim {

FASTDL_DEFINE_OPS(OptimOps)

namespace {
template <class T>
inline const auto& ops_t() { return by_dtype<T>(ops()); }

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
  const auto fn = ops_t<T>().step;
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
  const auto fn = ops_t<T>().norm;
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
  const auto fn = ops_t<T>().map;
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
