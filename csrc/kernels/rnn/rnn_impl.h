// The gate math of one step on rows [b0, b1), written once on the simd:: vector types and
// compiled once per ISA: rnn.cpp (generic), rnn_avx2.cpp and rnn_avx512.cpp each include this
// file, which ends with that ISA's RnnOps table (declared in rnn.h).
// (No std containers or algorithms here: nothing AVX-compiled may leak into generic code.)
#pragma once
#include <cstdint>

#include "common/simd.h"
#include "kernels/rnn/rnn.h"

namespace fastdl {
namespace rnn {
namespace FASTDL_SIMD_ISA {
namespace {

template <class V, class T>
inline V ld(const T* p, int64_t n) {
  return n == V::N ? V::load(p) : V::load(p, n);
}
template <class V, class T>
inline void st(V v, T* p, int64_t n) {
  if (n == V::N)
    v.store(p);
  else
    v.store(p, n);
}
template <class V, class T>
inline V ld_or0(const T* p, int64_t n) {
  return p ? ld<V>(p, n) : V(T(0));
}

template <class T>
void lstm_fwd(const Step<T>& s, int64_t b0, int64_t b1) {
  using V = simd::Vec<T>;
  const int64_t H = s.H, G = 4 * H;
  for (int64_t r = b0; r < b1; ++r) {
    T* a = s.a + r * G;
    const T* x = s.x + r * G;
    const T* cp = s.c_prev + r * H;
    T* c = s.c + r * H;
    T* tc = s.tc + r * H;
    T* h = s.h + r * H;
    for (int64_t j = 0; j < H; j += V::N) {
      const int64_t n = H - j < V::N ? H - j : V::N;
      V pi = ld<V>(a + j, n) + ld<V>(x + j, n);
      V pf = ld<V>(a + H + j, n) + ld<V>(x + H + j, n);
      V pg = ld<V>(a + 2 * H + j, n) + ld<V>(x + 2 * H + j, n);
      V po = ld<V>(a + 3 * H + j, n) + ld<V>(x + 3 * H + j, n);
      if (s.b) {
        pi = pi + ld<V>(s.b + j, n);
        pf = pf + ld<V>(s.b + H + j, n);
        pg = pg + ld<V>(s.b + 2 * H + j, n);
        po = po + ld<V>(s.b + 3 * H + j, n);
      }
      V i = simd::sigmoid(pi), f = simd::sigmoid(pf), g = simd::tanh(pg), o = simd::sigmoid(po);
      V cn = simd::fma(f, ld<V>(cp + j, n), i * g);
      V t = simd::tanh(cn);
      st(i, a + j, n);
      st(f, a + H + j, n);
      st(g, a + 2 * H + j, n);
      st(o, a + 3 * H + j, n);
      st(cn, c + j, n);
      st(t, tc + j, n);
      st(o * t, h + j, n);
    }
  }
}

template <class T>
void lstm_bwd(const Step<T>& s, int64_t b0, int64_t b1) {
  using V = simd::Vec<T>;
  const int64_t H = s.H, G = 4 * H;
  const V one(T(1));
  for (int64_t r = b0; r < b1; ++r) {
    const T* a = s.ga + r * G;
    const T* tc = s.tc + r * H;
    const T* cp = s.c_prev + r * H;
    const T* go = s.gout ? s.gout + r * H : nullptr;
    const T* dh = s.dh + r * H;
    T* dc = s.dc + r * H;
    T* dx = s.dx + r * G;
    for (int64_t j = 0; j < H; j += V::N) {
      const int64_t n = H - j < V::N ? H - j : V::N;
      V i = ld<V>(a + j, n), f = ld<V>(a + H + j, n);
      V g = ld<V>(a + 2 * H + j, n), o = ld<V>(a + 3 * H + j, n);
      V t = ld<V>(tc + j, n);
      V d = ld<V>(dh + j, n);
      if (go) d = d + ld<V>(go + j, n);
      V dct = ld<V>(dc + j, n) + d * o * (one - t * t);
      st(dct * g * i * (one - i), dx + j, n);
      st(dct * ld<V>(cp + j, n) * f * (one - f), dx + H + j, n);
      st(dct * i * (one - g * g), dx + 2 * H + j, n);
      st(d * t * o * (one - o), dx + 3 * H + j, n);
      st(dct * f, dc + j, n);
    }
  }
}

template <class T>
void gru_fwd(const Step<T>& s, int64_t b0, int64_t b1) {
  using V = simd::Vec<T>;
  const int64_t H = s.H, G = 3 * H;
  for (int64_t r = b0; r < b1; ++r) {
    const T* x = s.x + r * G;
    const T* hp = s.hp + r * G;
    const T* hpr = s.h_prev + r * H;
    T* rz = s.rz + r * 2 * H;
    T* nn = s.n + r * H;
    T* hn = s.hn + r * H;
    T* h = s.h + r * H;
    for (int64_t j = 0; j < H; j += V::N) {
      const int64_t n = H - j < V::N ? H - j : V::N;
      V pr = ld<V>(x + j, n) + ld<V>(hp + j, n);
      V pz = ld<V>(x + H + j, n) + ld<V>(hp + H + j, n);
      V hv = ld<V>(hp + 2 * H + j, n);
      if (s.b) {
        pr = pr + ld<V>(s.b + j, n);
        pz = pz + ld<V>(s.b + H + j, n);
        hv = hv + ld<V>(s.b + 2 * H + j, n);
      }
      V rr = simd::sigmoid(pr), z = simd::sigmoid(pz);
      V nv = simd::tanh(simd::fma(rr, hv, ld<V>(x + 2 * H + j, n)));
      st(rr, rz + j, n);
      st(z, rz + H + j, n);
      st(nv, nn + j, n);
      st(hv, hn + j, n);
      st(simd::fma(z, ld<V>(hpr + j, n) - nv, nv), h + j, n);
    }
  }
}

template <class T>
void gru_bwd(const Step<T>& s, int64_t b0, int64_t b1) {
  using V = simd::Vec<T>;
  const int64_t H = s.H, G = 3 * H;
  const V one(T(1));
  for (int64_t r = b0; r < b1; ++r) {
    const T* rz = s.ga + r * 2 * H;
    const T* nn = s.n + r * H;
    const T* hn = s.hn + r * H;
    const T* hpr = s.h_prev + r * H;
    const T* go = s.gout ? s.gout + r * H : nullptr;
    T* dh = s.dh + r * H;
    T* dx = s.dx + r * G;
    T* dhh = s.dhh + r * G;
    for (int64_t j = 0; j < H; j += V::N) {
      const int64_t n = H - j < V::N ? H - j : V::N;
      V rr = ld<V>(rz + j, n), z = ld<V>(rz + H + j, n), nv = ld<V>(nn + j, n);
      V d = ld<V>(dh + j, n);
      if (go) d = d + ld<V>(go + j, n);
      V dn = d * (one - z) * (one - nv * nv);
      V dz = d * (ld<V>(hpr + j, n) - nv) * z * (one - z);
      V dr = dn * ld<V>(hn + j, n) * rr * (one - rr);
      st(dr, dx + j, n);
      st(dz, dx + H + j, n);
      st(dn, dx + 2 * H + j, n);
      st(dr, dhh + j, n);
      st(dz, dhh + H + j, n);
      st(dn * rr, dhh + 2 * H + j, n);
      st(d * z, dh + j, n);
    }
  }
}

template <class T>
void rnn_fwd(const Step<T>& s, bool relu, int64_t b0, int64_t b1) {
  using V = simd::Vec<T>;
  const int64_t H = s.H;
  for (int64_t r = b0; r < b1; ++r) {
    T* a = s.a + r * H;
    const T* x = s.x + r * H;
    for (int64_t j = 0; j < H; j += V::N) {
      const int64_t n = H - j < V::N ? H - j : V::N;
      V p = ld<V>(a + j, n) + ld<V>(x + j, n);
      if (s.b) p = p + ld<V>(s.b + j, n);
      st(relu ? simd::max(V(T(0)), p) : simd::tanh(p), a + j, n);
    }
  }
}

template <class T>
void rnn_bwd(const Step<T>& s, bool relu, int64_t b0, int64_t b1) {
  using V = simd::Vec<T>;
  const int64_t H = s.H;
  const V one(T(1)), zero(T(0));
  for (int64_t r = b0; r < b1; ++r) {
    const T* h = s.ga + r * H;
    const T* go = s.gout ? s.gout + r * H : nullptr;
    const T* dh = s.dh + r * H;
    T* dx = s.dx + r * H;
    for (int64_t j = 0; j < H; j += V::N) {
      const int64_t n = H - j < V::N ? H - j : V::N;
      V d = ld<V>(dh + j, n);
      if (go) d = d + ld<V>(go + j, n);
      V hv = ld<V>(h + j, n);
      st(relu ? simd::select(hv > zero, d, zero) : d * (one - hv * hv), dx + j, n);
    }
  }
}

template <class T>
void step_impl(int mode, bool backward, const Step<T>& s, int64_t b0, int64_t b1) {
  if (mode == kLstm) {
    if (backward)
      lstm_bwd(s, b0, b1);
    else
      lstm_fwd(s, b0, b1);
  } else if (mode == kGru) {
    if (backward)
      gru_bwd(s, b0, b1);
    else
      gru_fwd(s, b0, b1);
  } else {
    if (backward)
      rnn_bwd(s, mode == kRnnRelu, b0, b1);
    else
      rnn_fwd(s, mode == kRnnRelu, b0, b1);
  }
}

}  // namespace

// This ISA's table (declared in rnn.h).
const RnnOps ops = {&step_impl<float>, &step_impl<double>};

}  // namespace FASTDL_SIMD_ISA
}  // namespace rnn
}  // namespace fastdl
