// Recurrences of RNN (tanh/relu), LSTM and GRU layers: the whole time loop of one layer and
// direction, forward and backward (backpropagation through time), in one call.
//
// Per step the hidden-state product h·W_hhᵀ is one GEMM (fastdl::gemm) and the gate math is
// one fused pass over the batch rows (sigmoid/tanh from common/simd.h, products, the cell
// update), dispatched per ISA. The input projection xp = x·W_ihᵀ + b_ih of all steps is
// computed before (one GEMM per layer and direction, by the caller).
//
// Layouts (all C-contiguous, G = 1 / 4 / 3 gates for RNN / LSTM / GRU, gate order of
// PyTorch: LSTM i, f, g, o; GRU r, z, n):
//   xp (T, B, G·H) in time order; w_hh (G·H, H); b_hh (G·H) or nullptr.
//   Saved state, in STEP order (step s processes time t = reverse ? T-1-s : s):
//     hs (T+1, B, H): hs[0] = h0, hs[s+1] = h after step s; LSTM cs (T+1, B, H) likewise;
//     LSTM acts (T, B, 4H) = activated gates i, f, g, o; tcs (T, B, H) = tanh(c);
//     GRU rz (T, B, 2H) = r, z; ns (T, B, H) = n; hn (T, B, H) = W_hn h + b_hn;
//     GRU scratch (B, 3H).
//   Backward: gout (T, B, H) in time order or nullptr; ghT, gcT (B, H) or nullptr. Outputs
//     dX (T, B, G·H) in step order = d(loss)/d(pre-activation from xp) (flip for time order);
//     GRU dHh (T, B, 3H) step order = d(loss)/d(h·W_hhᵀ + b_hh); dh0, dc0 (B, H).
//   The caller forms dW_hh = Σ_s dHᵀ·hs[s] (one GEMM) and db_hh = Σ dH, where dH = dX for
//   RNN/LSTM and dHh for GRU.
// Threads split the batch into fixed chunks of rows, each running the whole time loop (one
// fork/join per call); results do not depend on the thread count.
#pragma once
#include <cstdint>

#include "common/dispatch.h"

namespace fastdl {
namespace rnn {

enum Mode : int { kRnnTanh = 0, kRnnRelu = 1, kLstm = 2, kGru = 3 };

inline int gates(int mode) { return mode == kLstm ? 4 : mode == kGru ? 3 : 1; }

template <class T>
void forward(int mode, int64_t T_, int64_t B, int64_t H, const T* xp, const T* w_hh,
             const T* b_hh, const T* h0, const T* c0, bool reverse, T* hs, T* cs, T* acts,
             T* aux, T* aux2, T* scratch);

template <class T>
void backward(int mode, int64_t T_, int64_t B, int64_t H, const T* w_hh, const T* hs,
              const T* cs, const T* acts, const T* aux, const T* aux2, const T* gout,
              const T* ghT, const T* gcT, bool reverse, T* dX, T* dHh, T* dh0, T* dc0);

// The row kernels of one step (exposed for the dispatch table; rows [b0, b1)).
template <class T>
struct Step {
  int64_t H;
  // forward
  T* a;              // LSTM: (B, 4H) h·W_hhᵀ in, activated gates out; RNN: (B, H) in, h out
  const T* x;        // xp row block of this step (B, G·H)
  const T* b;        // b_hh or nullptr
  const T* hp;       // GRU: (B, 3H) h·W_hhᵀ
  const T* h_prev;   // (B, H)
  const T* c_prev;   // LSTM (B, H)
  T* c;              // LSTM (B, H)
  T* tc;             // LSTM (B, H) tanh(c)
  T* h;              // (B, H)
  T* rz;             // GRU (B, 2H)
  T* n;              // GRU (B, H)
  T* hn;             // GRU (B, H)
  // backward
  const T* ga;       // saved activations of the step (LSTM acts / RNN h / GRU rz)
  const T* gout;     // (B, H) or nullptr
  T* dh;             // (B, H) running gradient of h
  T* dc;             // LSTM (B, H) running gradient of c
  T* dx;             // (B, G·H)
  T* dhh;            // GRU (B, 3H)
};

// ---- dispatch (common/dispatch.h): one table per ISA, filled in rnn_impl.h --------------
struct RnnOps {
  void (*step_f)(int mode, bool backward, const Step<float>& s, int64_t b0, int64_t b1);
  void (*step_d)(int mode, bool backward, const Step<double>& s, int64_t b0, int64_t b1);
};
FASTDL_DECLARE_OPS(RnnOps)

}  // namespace rnn
}  // namespace fastdl
