// Bindings of the 3-D pooling kernels (csrc/kernels/pool3d/): shapes and dtypes are
// validated here before a kernel runs.
#include <algorithm>
#include <string>

#include "bindings/util.h"
#include "common/checks.h"
#include "kernels/pool3d/pool3d.h"

namespace fastdl {
namespace {

std::string P(const char* fn) { return std::string(fn) + ": "; }

// x (N, C, D, H, W) float, C-contiguous; out = (OD, OH, OW), each >= 1.
pool3d::Dims dims(const py::array& x, const Shape& out, const char* fn, const char* name) {
  require_float(x, fn, name);
  if (x.ndim() != 5)
    throw py::value_error(P(fn) + name + " must be (N, C, D, H, W), got " + shape_str(x));
  if (out.size() != 3 || out[0] < 1 || out[1] < 1 || out[2] < 1)
    throw py::value_error(P(fn) + "output_size must be three sizes >= 1, got " +
                          shape_str(out));
  const int64_t P_ = checked_mul(x.shape(0), x.shape(1), fn);
  checked_mul(checked_mul(P_, checked_mul(out[0], out[1], fn), fn), out[2], fn);
  return {P_, x.shape(2), x.shape(3), x.shape(4), out[0], out[1], out[2]};
}

// The windows of one axis, held by the binding while the kernel runs.
struct AxisTable {
  Shape lo, hi, div;
  pool3d::Axis view() const { return {lo.data(), hi.data(), div.data()}; }
};

// Adaptive windows: output i of o over n averages [floor(i·n/o), ceil((i+1)·n/o)).
AxisTable adaptive_axis(int64_t n, int64_t o) {
  AxisTable a{Shape(o), Shape(o), Shape(o)};
  for (int64_t i = 0; i < o; ++i) {
    a.lo[i] = i * n / o;
    a.hi[i] = ((i + 1) * n + o - 1) / o;
    a.div[i] = a.hi[i] - a.lo[i];
  }
  return a;
}

// avg_pool windows (PyTorch's): [i·s − p, i·s − p + k) clipped to the padded input
// [−p, n + p) gives the padded count, clipped to [0, n) the window and the inside count.
AxisTable avg_axis(int64_t n, int64_t o, int64_t k, int64_t s, int64_t p, bool include_pad) {
  AxisTable a{Shape(o), Shape(o), Shape(o)};
  for (int64_t i = 0; i < o; ++i) {
    const int64_t start = i * s - p, end = std::min(start + k, n + p);
    a.lo[i] = std::min(std::max(start, int64_t(0)), n);
    a.hi[i] = std::max(a.lo[i], std::min(end, n));
    a.div[i] = include_pad ? end - start : a.hi[i] - a.lo[i];
    if (a.div[i] < 1) a.div[i] = 1;
  }
  return a;
}

struct BoxWindows {
  AxisTable d, h, w;
  pool3d::Windows view() const { return {d.view(), h.view(), w.view()}; }
};

BoxWindows adaptive_windows(const pool3d::Dims& s) {
  return {adaptive_axis(s.D, s.OD), adaptive_axis(s.H, s.OH), adaptive_axis(s.W, s.OW)};
}

// avg_pool3d: kernel, stride, padding (3 each, checked by the Python layer: kernel and stride
// >= 1, 0 <= padding <= kernel / 2); divisor_override (0 = none) replaces the whole divisor.
BoxWindows avg_windows(const pool3d::Dims& s, const Shape& k, const Shape& st, const Shape& pad,
                       bool include_pad, int64_t divisor_override, const char* fn) {
  for (const Shape* v : {&k, &st, &pad})
    if (v->size() != 3)
      throw py::value_error(P(fn) + "kernel_size, stride and padding must have 3 entries");
  for (int a = 0; a < 3; ++a)
    if (k[a] < 1 || st[a] < 1 || pad[a] < 0 || 2 * pad[a] > k[a])
      throw py::value_error(P(fn) + "bad window: kernel " + shape_str(k) + ", stride " +
                            shape_str(st) + ", padding " + shape_str(pad));
  BoxWindows b{avg_axis(s.D, s.OD, k[0], st[0], pad[0], include_pad),
               avg_axis(s.H, s.OH, k[1], st[1], pad[1], include_pad),
               avg_axis(s.W, s.OW, k[2], st[2], pad[2], include_pad)};
  if (divisor_override != 0) {
    for (auto& v : b.d.div) v = divisor_override;
    for (auto& v : b.h.div) v = 1;
    for (auto& v : b.w.div) v = 1;
  }
  return b;
}

template <class T>
py::array fwd(const py::array& x, const pool3d::Dims& s, const BoxWindows& win) {
  py::array y = pool_array({x.shape(0), x.shape(1), s.OD, s.OH, s.OW}, x.dtype());
  const pool3d::Windows w = win.view();
  {
    py::gil_scoped_release nogil;
    pool3d::box_avg_forward<T>(s, w, cptr<T>(x), ptr<T>(y));
  }
  return y;
}

template <class T>
py::array bwd(const py::array& gy, const Shape& in, const pool3d::Dims& s,
              const BoxWindows& win) {
  py::array gx = pool_array(in, gy.dtype());
  const pool3d::Windows w = win.view();
  {
    py::gil_scoped_release nogil;
    pool3d::box_avg_backward<T>(s, w, cptr<T>(gy), ptr<T>(gx));
  }
  return gx;
}

// The dims of a backward: grad_output (N, C, OD, OH, OW) against the input shape.
pool3d::Dims backward_dims(const py::array& gy, const Shape& in, const char* fn) {
  if (in.size() != 5)
    throw py::value_error(P(fn) + "input shape must have 5 sizes, got " + shape_str(in));
  for (int64_t v : in)
    if (v < 1)
      throw py::value_error(P(fn) + "input shape " + shape_str(in) + " has an empty "
                            "dimension");
  const pool3d::Dims s = dims(gy, {gy.ndim() == 5 ? gy.shape(2) : 0,
                                   gy.ndim() == 5 ? gy.shape(3) : 0,
                                   gy.ndim() == 5 ? gy.shape(4) : 0},
                              fn, "grad_output");
  if (gy.shape(0) != in[0] || gy.shape(1) != in[1])
    throw py::value_error(P(fn) + "grad_output " + shape_str(gy) +
                          " does not match the input shape " + shape_str(in));
  checked_numel({in[0], in[1], in[2], in[3], in[4]}, fn);
  pool3d::Dims d = s;
  d.D = in[2];
  d.H = in[3];
  d.W = in[4];
  return d;
}

}  // namespace

void bind_pool3d(py::module_& m) {
  m.def(
      "adaptive_avg_pool3d",
      [](const py::array& x, const Shape& out) {
        const pool3d::Dims s = dims(x, out, "adaptive_avg_pool3d", "input");
        if (s.D < 1 || s.H < 1 || s.W < 1)
          throw py::value_error("adaptive_avg_pool3d: input " + shape_str(x) +
                                " has an empty spatial dimension");
        const BoxWindows win = adaptive_windows(s);
        return is_f32(x) ? fwd<float>(x, s, win) : fwd<double>(x, s, win);
      },
      py::arg("input"), py::arg("output_size"),
      "Adaptive average pooling of (N, C, D, H, W) to (N, C, *output_size).");
  m.def(
      "adaptive_avg_pool3d_backward",
      [](const py::array& gy, const Shape& in) {
        const pool3d::Dims d = backward_dims(gy, in, "adaptive_avg_pool3d backward");
        const BoxWindows win = adaptive_windows(d);
        return is_f32(gy) ? bwd<float>(gy, in, d, win) : bwd<double>(gy, in, d, win);
      },
      py::arg("grad_output"), py::arg("input_shape"),
      "Gradient of adaptive_avg_pool3d: (N, C, D, H, W) from grad_output (N, C, OD, OH, OW).");
  m.def(
      "avg_pool3d",
      [](const py::array& x, const Shape& out, const Shape& k, const Shape& st,
         const Shape& pad, bool count_include_pad, int64_t divisor_override) {
        const char* fn = "avg_pool3d";
        const pool3d::Dims s = dims(x, out, fn, "input");
        const BoxWindows win =
            avg_windows(s, k, st, pad, count_include_pad, divisor_override, fn);
        return is_f32(x) ? fwd<float>(x, s, win) : fwd<double>(x, s, win);
      },
      py::arg("input"), py::arg("output_size"), py::arg("kernel_size"), py::arg("stride"),
      py::arg("padding"), py::arg("count_include_pad"), py::arg("divisor_override"),
      "3-D average pooling of (N, C, D, H, W) to (N, C, *output_size) (the caller computes "
      "the output size; divisor_override 0 = none).");
  m.def(
      "avg_pool3d_backward",
      [](const py::array& gy, const Shape& in, const Shape& k, const Shape& st,
         const Shape& pad, bool count_include_pad, int64_t divisor_override) {
        const char* fn = "avg_pool3d backward";
        const pool3d::Dims d = backward_dims(gy, in, fn);
        const BoxWindows win =
            avg_windows(d, k, st, pad, count_include_pad, divisor_override, fn);
        return is_f32(gy) ? bwd<float>(gy, in, d, win) : bwd<double>(gy, in, d, win);
      },
      py::arg("grad_output"), py::arg("input_shape"), py::arg("kernel_size"),
      py::arg("stride"), py::arg("padding"), py::arg("count_include_pad"),
      py::arg("divisor_override"),
      "Gradient of avg_pool3d: (N, C, D, H, W) from grad_output (N, C, OD, OH, OW).");
}

}  // namespace fastdl
