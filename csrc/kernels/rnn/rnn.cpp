// The time loops of the recurrences (GEMM per step + the dispatched gate pass) and the
// generic gate math. See rnn.h.
#include "kernels/rnn/rnn.h"

#include <cstring>

#include "common/dispatch.h"
#include "common/parallel.h"
#include "kernels/eltwise/vec_math.h"
#include "kernels/gemm/gemm.h"

namespace fastdl {
namespace rnn {

namespace generic {
namespace {
#include "kernels/rnn/rnn_rows.inc"
}  // namespace
void step(int mode, bool backward, const Step<float>& s, int64_t b0, int64_t b1) {
  step_impl(mode, backward, s, b0, b1);
}
void step(int mode, bool backward, const Step<double>& s, int64_t b0, int64_t b1) {
  step_impl(mode, backward, s, b0, b1);
}
}  // namespace generic

namespace {

const StepFnF kStepF[kNumIsa] = {
    static_cast<StepFnF>(&generic::step),
#ifdef FASTDL_X86
    static_cast<StepFnF>(&avx2::step), static_cast<StepFnF>(&avx512::step),
#else
    nullptr, nullptr,
#endif
};
const StepFnD kStepD[kNumIsa] = {
    static_cast<StepFnD>(&generic::step),
#ifdef FASTDL_X86
    static_cast<StepFnD>(&avx2::step), static_cast<StepFnD>(&avx512::step),
#else
    nullptr, nullptr,
#endif
};

inline StepFnF pick_step(float*) { return pick(kStepF); }
inline StepFnD pick_step(double*) { return pick(kStepD); }

inline void mm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const float* A, int64_t lda,
               const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  gemm::sgemm(ta, tb, m, n, k, 1.0f, A, lda, B, ldb, beta, C, ldc);
}
inline void mm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, const double* A,
               int64_t lda, const double* B, int64_t ldb, double beta, double* C,
               int64_t ldc) {
  gemm::dgemm(ta, tb, m, n, k, 1.0, A, lda, B, ldb, beta, C, ldc);
}

// Run the gate pass over the B rows in chunks of about 16K gate values (boundaries depend
// only on the sizes; rows are independent anyway).
template <class T, class Fn>
inline void rows(Fn fn, int mode, bool bwd, const Step<T>& s, int64_t B, int64_t width) {
  int64_t grain = width > 0 ? 16384 / width : B;
  if (grain < 1) grain = 1;
  parallel_for(B, grain, [&](int64_t b0, int64_t b1) { fn(mode, bwd, s, b0, b1); });
}

}  // namespace

template <class T>
void forward(int mode, int64_t T_, int64_t B, int64_t H, const T* xp, const T* w_hh,
             const T* b_hh, const T* h0, const T* c0, bool reverse, T* hs, T* cs, T* acts,
             T* aux, T* aux2, T* scratch) {
  const int64_t G = gates(mode) * H, BH = B * H, BG = B * G;
  auto fn = pick_step(static_cast<T*>(nullptr));
  std::memcpy(hs, h0, sizeof(T) * BH);
  if (mode == kLstm) std::memcpy(cs, c0, sizeof(T) * BH);
  for (int64_t s = 0; s < T_; ++s) {
    const int64_t t = reverse ? T_ - 1 - s : s;
    Step<T> st{};
    st.H = H;
    st.x = xp + t * BG;
    st.b = b_hh;
    st.h_prev = hs + s * BH;
    st.h = hs + (s + 1) * BH;
    if (mode == kLstm) {
      st.a = acts + s * BG;
      st.c_prev = cs + s * BH;
      st.c = cs + (s + 1) * BH;
      st.tc = aux + s * BH;
      mm(false, true, B, G, H, st.h_prev, H, w_hh, H, T(0), st.a, G);
      rows(fn, mode, false, st, B, G);
    } else if (mode == kGru) {
      st.hp = scratch;
      st.rz = acts + s * 2 * BH;
      st.n = aux + s * BH;
      st.hn = aux2 + s * BH;
      mm(false, true, B, G, H, st.h_prev, H, w_hh, H, T(0), scratch, G);
      rows(fn, mode, false, st, B, G);
    } else {
      st.a = st.h;
      mm(false, true, B, H, H, st.h_prev, H, w_hh, H, T(0), st.a, H);
      rows(fn, mode, false, st, B, H);
    }
  }
}

template <class T>
void backward(int mode, int64_t T_, int64_t B, int64_t H, const T* w_hh, const T* hs,
              const T* cs, const T* acts, const T* aux, const T* aux2, const T* gout,
              const T* ghT, const T* gcT, bool reverse, T* dX, T* dHh, T* dh0, T* dc0) {
  const int64_t G = gates(mode) * H, BH = B * H, BG = B * G;
  auto fn = pick_step(static_cast<T*>(nullptr));
  T* dh = dh0;  // the running gradient of h lives in the dh0 output
  if (ghT)
    std::memcpy(dh, ghT, sizeof(T) * BH);
  else
    std::memset(dh, 0, sizeof(T) * BH);
  if (mode == kLstm) {
    if (gcT)
      std::memcpy(dc0, gcT, sizeof(T) * BH);
    else
      std::memset(dc0, 0, sizeof(T) * BH);
  }
  for (int64_t s = T_ - 1; s >= 0; --s) {
    const int64_t t = reverse ? T_ - 1 - s : s;
    Step<T> st{};
    st.H = H;
    st.gout = gout ? gout + t * BH : nullptr;
    st.dh = dh;
    st.dx = dX + s * BG;
    st.h_prev = hs + s * BH;
    if (mode == kLstm) {
      st.ga = acts + s * BG;
      st.tc = const_cast<T*>(aux + s * BH);
      st.c_prev = cs + s * BH;
      st.dc = dc0;
      rows(fn, mode, true, st, B, G);
      mm(false, false, B, H, G, st.dx, G, w_hh, H, T(0), dh, H);
    } else if (mode == kGru) {
      st.ga = acts + s * 2 * BH;
      st.n = const_cast<T*>(aux + s * BH);
      st.hn = const_cast<T*>(aux2 + s * BH);
      st.dhh = dHh + s * BG;
      rows(fn, mode, true, st, B, G);
      mm(false, false, B, H, G, st.dhh, G, w_hh, H, T(1), dh, H);
    } else {
      st.ga = hs + (s + 1) * BH;
      rows(fn, mode, true, st, B, H);
      mm(false, false, B, H, H, st.dx, H, w_hh, H, T(0), dh, H);
    }
  }
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
