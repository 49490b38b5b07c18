// grid_sample (see sample.h). A gather with data-dependent addresses: one generic path (the
// taps of neighbouring output points are not contiguous, so SIMD gathers buy little here).
#include "kernels/sample/sample.h"

#include <cmath>
#include <cstring>

#include "common/parallel.h"

namespace fastdl {
namespace sample {
namespace {

constexpr int64_t kGrain = 256;  // output points per chunk

// Pixel coordinate of normalised g along a dim of `size`, and d(coordinate)/d(g).
template <class T>
inline T unnormalize(T g, int64_t size, bool ac, T* d) {
  if (ac) {
    *d = T(size - 1) / 2;
    return (g + 1) / 2 * T(size - 1);
  }
  *d = T(size) / 2;
  return ((g + 1) * T(size) - 1) / 2;
}

template <class T>
inline T clip(T x, int64_t size, T* d) {
  // PyTorch's convention: the derivative is 0 on the edges themselves too
  if (x <= T(0)) {
    *d = T(0);
    return T(0);
  }
  const T hi = T(size - 1);
  if (x >= hi) {
    *d = T(0);
    return hi;
  }
  *d = T(1);
  return x;
}

// Mirror x into [lo2/2, hi2/2] (coordinates doubled so both conventions are integers).
template <class T>
inline T reflect(T x, int64_t lo2, int64_t hi2, T* d) {
  if (lo2 == hi2) {
    *d = T(0);
    return T(0);
  }
  const T mn = T(lo2) / 2, span = T(hi2 - lo2) / 2;
  T sign = T(1);
  x -= mn;
  if (x < T(0)) {
    x = -x;
    sign = T(-1);
  }
  const T extra = std::fmod(x, span);
  const int64_t flips = static_cast<int64_t>(std::floor(x / span));
  if (flips % 2 == 0) {
    *d = sign;
    return extra + mn;
  }
  *d = -sign;
  return span - extra + mn;
}

// Source coordinate of g after padding, with its derivative with respect to g.
template <class T>
inline T source(T g, int64_t size, int padding, bool ac, T* d) {
  T du;
  T x = unnormalize(g, size, ac, &du);
  T dp = T(1), dc = T(1);
  if (padding == kBorder) {
    x = clip(x, size, &dc);
  } else if (padding == kReflection) {
    x = ac ? reflect(x, 0, 2 * (size - 1), &dp) : reflect(x, -1, 2 * size - 1, &dp);
    x = clip(x, size, &dc);
  }
  *d = du * dp * dc;
  return x;
}

inline bool inside(int64_t y, int64_t x, int64_t H, int64_t W) {
  return y >= 0 && y < H && x >= 0 && x < W;
}

}  // namespace

template <class T>
void grid_sample2d_forward(const T* input, const T* grid, int64_t N, int64_t C, int64_t H,
                           int64_t W, int64_t Ho, int64_t Wo, int mode, int padding,
                           bool align_corners, T* out) {
  const int64_t P = Ho * Wo, plane = H * W;
  parallel_for(N * P, kGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const int64_t n = i / P, p = i % P;
      T dx, dy;
      const T ix = source(grid[2 * i], W, padding, align_corners, &dx);
      const T iy = source(grid[2 * i + 1], H, padding, align_corners, &dy);
      const T* in = input + n * C * plane;
      T* o = out + n * C * P + p;
      if (mode == kNearest) {
        const int64_t x = static_cast<int64_t>(std::nearbyint(ix));
        const int64_t y = static_cast<int64_t>(std::nearbyint(iy));
        const bool ok = inside(y, x, H, W);
        for (int64_t c = 0; c < C; ++c) o[c * P] = ok ? in[c * plane + y * W + x] : T(0);
        continue;
      }
      if (std::isnan(ix) || std::isnan(iy)) {
        for (int64_t c = 0; c < C; ++c) o[c * P] = ix + iy;  // NaN, as PyTorch
        continue;
      }
      const int64_t x0 = static_cast<int64_t>(std::floor(ix)), y0 = static_cast<int64_t>(std::floor(iy));
      const T tx = ix - T(x0), ty = iy - T(y0);
      const T w00 = (1 - tx) * (1 - ty), w01 = tx * (1 - ty), w10 = (1 - tx) * ty, w11 = tx * ty;
      const bool k00 = inside(y0, x0, H, W), k01 = inside(y0, x0 + 1, H, W);
      const bool k10 = inside(y0 + 1, x0, H, W), k11 = inside(y0 + 1, x0 + 1, H, W);
      const int64_t a = y0 * W + x0;
      for (int64_t c = 0; c < C; ++c) {
        const T* ic = in + c * plane;
        T v = 0;
        if (k00) v += w00 * ic[a];
        if (k01) v += w01 * ic[a + 1];
        if (k10) v += w10 * ic[a + W];
        if (k11) v += w11 * ic[a + W + 1];
        o[c * P] = v;
      }
    }
  });
}

template <class T>
void grid_sample2d_backward(const T* grad_out, const T* input, const T* grid, int64_t N,
                            int64_t C, int64_t H, int64_t W, int64_t Ho, int64_t Wo, int mode,
                            int padding, bool align_corners, T* grad_input, T* grad_grid) {
  const int64_t P = Ho * Wo, plane = H * W;
  if (grad_input) {
    // one (n, c) plane per chunk: its scatter touches only its own plane
    parallel_for(N * C, 1, [&](int64_t b, int64_t e) {
      for (int64_t nc = b; nc < e; ++nc) {
        const int64_t n = nc / C;
        T* gi = grad_input + nc * plane;
        std::memset(gi, 0, sizeof(T) * plane);
        const T* go = grad_out + nc * P;
        const T* gr = grid + n * P * 2;
        for (int64_t p = 0; p < P; ++p) {
          T dx, dy;
          const T ix = source(gr[2 * p], W, padding, align_corners, &dx);
          const T iy = source(gr[2 * p + 1], H, padding, align_corners, &dy);
          const T g = go[p];
          if (mode == kNearest) {
            const int64_t x = static_cast<int64_t>(std::nearbyint(ix));
            const int64_t y = static_cast<int64_t>(std::nearbyint(iy));
            if (inside(y, x, H, W)) gi[y * W + x] += g;
            continue;
          }
          if (std::isnan(ix) || std::isnan(iy)) continue;
          const int64_t x0 = static_cast<int64_t>(std::floor(ix)), y0 = static_cast<int64_t>(std::floor(iy));
          const T tx = ix - T(x0), ty = iy - T(y0);
          if (inside(y0, x0, H, W)) gi[y0 * W + x0] += (1 - tx) * (1 - ty) * g;
          if (inside(y0, x0 + 1, H, W)) gi[y0 * W + x0 + 1] += tx * (1 - ty) * g;
          if (inside(y0 + 1, x0, H, W)) gi[(y0 + 1) * W + x0] += (1 - tx) * ty * g;
          if (inside(y0 + 1, x0 + 1, H, W)) gi[(y0 + 1) * W + x0 + 1] += tx * ty * g;
        }
      }
    });
  }
  if (grad_grid) {
    parallel_for(N * P, kGrain, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) {
        T* gg = grad_grid + 2 * i;
        gg[0] = gg[1] = T(0);
        if (mode == kNearest) continue;
        const int64_t n = i / P, p = i % P;
        T dx, dy;
        const T ix = source(grid[2 * i], W, padding, align_corners, &dx);
        const T iy = source(grid[2 * i + 1], H, padding, align_corners, &dy);
        if (std::isnan(ix) || std::isnan(iy)) continue;
        const int64_t x0 = static_cast<int64_t>(std::floor(ix)), y0 = static_cast<int64_t>(std::floor(iy));
        const T tx = ix - T(x0), ty = iy - T(y0);
        const bool k00 = inside(y0, x0, H, W), k01 = inside(y0, x0 + 1, H, W);
        const bool k10 = inside(y0 + 1, x0, H, W), k11 = inside(y0 + 1, x0 + 1, H, W);
        const int64_t a = y0 * W + x0;
        T gx = 0, gy = 0;
        for (int64_t c = 0; c < C; ++c) {
          const T* ic = input + (n * C + c) * plane;
          const T g = grad_out[(n * C + c) * P + p];
          const T v00 = k00 ? ic[a] : T(0), v01 = k01 ? ic[a + 1] : T(0);
          const T v10 = k10 ? ic[a + W] : T(0), v11 = k11 ? ic[a + W + 1] : T(0);
          gx += g * ((v01 - v00) * (1 - ty) + (v11 - v10) * ty);
          gy += g * ((v10 - v00) * (1 - tx) + (v11 - v01) * tx);
        }
        gg[0] = gx * dx;
        gg[1] = gy * dy;
      }
    });
  }
}

#define FASTDL_SAMPLE_INST(T)                                                                 \
  template void grid_sample2d_forward<T>(const T*, const T*, int64_t, int64_t, int64_t,        \
                                         int64_t, int64_t, int64_t, int, int, bool, T*);        \
  template void grid_sample2d_backward<T>(const T*, const T*, const T*, int64_t, int64_t,      \
                                          int64_t, int64_t, int64_t, int64_t, int, int, bool,  \
                                          T*, T*);
FASTDL_SAMPLE_INST(float)
FASTDL_SAMPLE_INST(double)
#undef FASTDL_SAMPLE_INST

}  // namespace sample
}  // namespace fastdl
