// The time loops of the recurrences (GEMM per step + the dispatched gate pass) and the
// generic gate math. See rnn.h.
#include "kernels/rnn/rnn.h"

#include <cstring>

#include "common/dispatch.h"
#include "common/parallel.h"
#include "kernels/gemm/gemm.h"
#include "kernels/rnn/rnn_impl.h"  // the generic gate math and its RnnOps table

namespace fastdl {
namespace rnn {

FASTDL_DEFINE_OPS(RnnOps)

namespace {

inline auto pick_step(float*) { return ops().step_f; }
inline auto pick_step(double*) { return ops().step_d; }

inline void mm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* A, int64_t lda,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm::sgemm(ta, tb, m, n, k, 1.0f, A, lda, B, ldb, beta, C, ldc);
}
inline void mm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const double* A,
               int64_t lda, const double* B, int64_t ldb, double beta, double* C,
               int64_t ldc) {
  gemm::dgemm(ta, tb, m, n, k, 1.0, A, lda, B, ldb, beta, C, ldc);
}

// Rows of the batch per chunk. Every batch row runs its own recurrence, so a chunk of rows
// runs the whole time loop on its own: the threads split the batch once per sequence (one
// fork/join in all, not several per time step), and each chunk's per-step GEMMs run on the
// calling thread. The chunk size depends only on B, so results are bitwise the same for any
// thread count. 32 rows keep the GEMM tiles (MR = 6 / 12) nearly full.
constexpr int64_t kRowChunk = 32;

}  // namespace

template <class T>
void forward(int mode, int64_t T_, int64_t B, int64_t H, const T* xp, const T* w_hh,
             const T* b_hh, const T* h0, const T* c0, bool reverse, T* hs, T* cs, T* acts,
             T* aux, T* aux2, T* scratch) {
  const int64_t G = gates(mode) * H, BH = B * H, BG = B * G;
  auto fn = pick_step(static_cast<T*>(nullptr));
  std::memcpy(hs, h0, sizeof(T) * BH);
  if (mode == kLstm) std::memcpy(cs, c0, sizeof(T) * BH);
  parallel_for(B, kRowChunk, [&](int64_t b0, int64_t b1) {
    const int64_t nb = b1 - b0;
    for (int64_t s = 0; s < T_; ++s) {
      const int64_t t = reverse ? T_ - 1 - s : s;
      // pointers are shifted to row b0, so the row kernels run on rows [0, nb)
      Step<T> st{};
      st.H = H;
      st.x = xp + t * BG + b0 * G;
      st.b = b_hh;
      st.h_prev = hs + s * BH + b0 * H;
      st.h = hs + (s + 1) * BH + b0 * H;
      if (mode == kLstm) {
        st.a = acts + s * BG + b0 * G;
        st.c_prev = cs + s * BH + b0 * H;
        st.c = cs + (s + 1) * BH + b0 * H;
        st.tc = aux + s * BH + b0 * H;
        mm(false, true, nb, G, H, st.h_prev, H, w_hh, H, T(0), st.a, G);
      } else if (mode == kGru) {
        T* hp = scratch + b0 * G;
        st.hp = hp;
        st.rz = acts + s * 2 * BH + b0 * 2 * H;
        st.n = aux + s * BH + b0 * H;
        st.hn = aux2 + s * BH + b0 * H;
        mm(false, true, nb, G, H, st.h_prev, H, w_hh, H, T(0), hp, G);
      } else {
        st.a = st.h;
        mm(false, true, nb, H, H, st.h_prev, H, w_hh, H, T(0), st.a, H);
      }
      fn(mode, false, st, 0, nb);
    }
  });
}

template <class T>
void backward(int mode, int64_t T_, int64_t B, int64_t H, const T* w_hh, const T* hs,
              const T* cs, const T* acts, const T* aux, const T* aux2, const T* gout,
              const T* ghT, const T* gcT, bool reverse, T* dX, T* dHh, T* dh0, T* dc0) {
  const int64_t G = gates(mode) * H, BH = B * H, BG = B * G;
  auto fn = pick_step(static_cast<T*>(nullptr));
  // the running gradient of h lives in the dh0 output (of c in dc0)
  if (ghT)
    std::memcpy(dh0, ghT, sizeof(T) * BH);
  else
    std::memset(dh0, 0, sizeof(T) * BH);
  if (mode == kLstm) {
    if (gcT)
      std::memcpy(dc0, gcT, sizeof(T) * BH);
    else
      std::memset(dc0, 0, sizeof(T) * BH);
  }
  parallel_for(B, kRowChunk, [&](int64_t b0, int64_t b1) {
    const int64_t nb = b1 - b0;
    T* dh = dh0 + b0 * H;
    for (int64_t s = T_ - 1; s >= 0; --s) {
      const int64_t t = reverse ? T_ - 1 - s : s;
      Step<T> st{};
      st.H = H;
      st.gout = gout ? gout + t * BH + b0 * H : nullptr;
      st.dh = dh;
      st.dx = dX + s * BG + b0 * G;
      st.h_prev = hs + s * BH + b0 * H;
      if (mode == kLstm) {
        st.ga = acts + s * BG + b0 * G;
        st.tc = const_cast<T*>(aux + s * BH + b0 * H);
        st.c_prev = cs + s * BH + b0 * H;
        st.dc = dc0 + b0 * H;
        fn(mode, true, st, 0, nb);
        mm(false, false, nb, H, G, st.dx, G, w_hh, H, T(0), dh, H);
      } else if (mode == kGru) {
        st.ga = acts + s * 2 * BH + b0 * 2 * H;
        st.n = const_cast<T*>(aux + s * BH + b0 * H);
        st.hn = const_cast<T*>(aux2 + s * BH + b0 * H);
        st.dhh = dHh + s * BG + b0 * G;
        fn(mode, true, st, 0, nb);
        mm(false, false, nb, H, G, st.dhh, G, w_hh, H, T(1), dh, H);
      } else {
        st.ga = hs + (s + 1) * BH + b0 * H;
        fn(mode, true, st, 0, nb);
        mm(false, false, nb, H, H, st.dx, H, w_hh, H, T(0), dh, H);
      }
    }
  });
}

template void forward<float>(int, int64_t, int64_t, int64_t, const float*, const float*,
                             const float*, const float*, const float*, bool, float*, float*,
                             float*, float*, float*, float*);
template void forward<double>(int, int64_t, int64_t, int64_t, const double*, const double*,
                              const double*, const double*, const double*, bool, double*,
                              double*, double*, double*, double*, double*);
template void backward<float>(int, int64_t, int64_t, int64_t, const float*, const float*,
                              const float*, const float*, const float*, const float*,
                              const float*, const float*, const float*, bool, float*, float*,
                              float*, float*);
template void backward<double>(int, int64_t, int64_t, int64_t, const double*, const double*,
                               const double*, const double*, const double*, const double*,
                               const double*, const double*, const double*, bool, double*,
                               double*, double*, double*);

}  // namespace rnn
}  // namespace fastdl
