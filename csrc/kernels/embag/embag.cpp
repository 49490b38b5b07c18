// embedding_bag kernels (see embag.h). The inner loops run over the D contiguous columns of
// a row and are left to the compiler's vectoriser (one generic path).
#include "kernels/embag/embag.h"

#include <cstring>

#include "common/parallel.h"

namespace fastdl {
namespace embag {

template <class T>
void forward(const T* weight, int64_t D, const int64_t* idx, const int64_t* start,
             const int64_t* count, int64_t B, const T* psw, int mode, T* out, int64_t* arg) {
  const int64_t grain = D >= 256 ? 4 : 64;
  parallel_for(B, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      T* o = out + b * D;
      const int64_t s = start[b], c = count[b];
      if (c == 0) {
        std::memset(o, 0, sizeof(T) * D);
        if (arg)
          for (int64_t d = 0; d < D; ++d) arg[b * D + d] = -1;
        continue;
      }
      if (mode == kMax) {
        int64_t* a = arg + b * D;
        const T* r0 = weight + idx[s] * D;
        for (int64_t d = 0; d < D; ++d) {
          o[d] = r0[d];
          a[d] = s;
        }
        for (int64_t e = s + 1; e < s + c; ++e) {
          const T* r = weight + idx[e] * D;
          for (int64_t d = 0; d < D; ++d) {
            if (r[d] > o[d] || (r[d] != r[d] && o[d] == o[d])) {  // NaN wins, first max kept
              o[d] = r[d];
              a[d] = e;
            }
          }
        }
        continue;
      }
      std::memset(o, 0, sizeof(T) * D);
      for (int64_t e = s; e < s + c; ++e) {
        const T* r = weight + idx[e] * D;
        const T w = psw ? psw[e] : T(1);
        for (int64_t d = 0; d < D; ++d) o[d] += w * r[d];
      }
      if (mode == kMean) {
        const T inv = T(1) / T(c);
        for (int64_t d = 0; d < D; ++d) o[d] *= inv;
      }
    }
  });
}

template <class T>
void backward_weight(const T* g, int64_t D, const int64_t* idx, const int64_t* start,
                     const int64_t* count, int64_t B, const T* psw, int mode,
                     const int64_t* arg, int64_t n, T* gw) {
  // columns in blocks of 16: each chunk owns its columns of gw
  const int64_t blk = 16, nblk = (D + blk - 1) / blk;
  parallel_for(nblk, 1, [&](int64_t k0, int64_t k1) {
    const int64_t d0 = k0 * blk, d1 = k1 * blk < D ? k1 * blk : D;
    for (int64_t r = 0; r < n; ++r) std::memset(gw + r * D + d0, 0, sizeof(T) * (d1 - d0));
    for (int64_t b = 0; b < B; ++b) {
      const T* gb = g + b * D;
      if (mode == kMax) {
        const int64_t* a = arg + b * D;
        for (int64_t d = d0; d < d1; ++d)
          if (a[d] >= 0) gw[idx[a[d]] * D + d] += gb[d];
        continue;
      }
      const int64_t s = start[b], c = count[b];
      const T scale = mode == kMean && c > 0 ? T(1) / T(c) : T(1);
      for (int64_t e = s; e < s + c; ++e) {
        T* row = gw + idx[e] * D;
        const T w = (psw ? psw[e] : T(1)) * scale;
        for (int64_t d = d0; d < d1; ++d) row[d] += w * gb[d];
      }
    }
  });
}

template <class T>
void backward_psw(const T* g, const T* weight, int64_t D, const int64_t* idx,
                  const int64_t* start, const int64_t* count, int64_t B, T* gpsw) {
  parallel_for(B, 64, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const T* gb = g + b * D;
      for (int64_t e = start[b]; e < start[b] + count[b]; ++e) {
        const T* r = weight + idx[e] * D;
        T acc = 0;
        for (int64_t d = 0; d < D; ++d) acc += gb[d] * r[d];
        gpsw[e] = acc;
      }
    }
  });
}

#define FASTDL_EMBAG_INST(T)                                                                  \
  template void forward<T>(const T*, int64_t, const int64_t*, const int64_t*, const int64_t*,  \
                           int64_t, const T*, int, T*, int64_t*);                              \
  template void backward_weight<T>(const T*, int64_t, const int64_t*, const int64_t*,          \
                                   const int64_t*, int64_t, const T*, int, const int64_t*,     \
                                   int64_t, T*);                                               \
  template void backward_psw<T>(const T*, const T*, int64_t, const int64_t*, const int64_t*,   \
                                const int64_t*, int64_t, T*);
FASTDL_EMBAG_INST(float)
FASTDL_EMBAG_INST(double)
#undef FASTDL_EMBAG_INST

}  // namespace embag
}  // namespace fastdl
