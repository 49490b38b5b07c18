// Bindings of the 3-D convolution kernels (csrc/kernels/conv3d/): shapes, dtypes, strides,
// paddings, dilations and groups are validated here before a kernel runs.
#include <string>

#include "bindings/util.h"
#include "common/checks.h"
#include "kernels/conv3d/conv3d.h"

namespace fastdl {
namespace {

using conv3d::Conv3dParams;

std::string P(const char* fn) { return std::string(fn) + ": "; }

// out = the caller's output size (OD, OH, OW); s, pad (front/top/left), d as triples.
Conv3dParams check(const py::array& x, const py::array& w, const py::object& b,
                   const Shape& out, const Shape& s, const Shape& pad, const Shape& d,
                   int64_t groups, const char* fn) {
  require_float(x, fn, "input");
  require_float(w, fn, "weight");
  require_same_dtype(x, w, fn, "input", "weight");
  if (x.ndim() != 5)
    throw py::value_error(P(fn) + "input must be (N, C, D, H, W), got " + shape_str(x));
  if (w.ndim() != 5)
    throw py::value_error(P(fn) + "weight must be (C_out, C_in/groups, kD, kH, kW), got " +
                          shape_str(w));
  if (out.size() != 3 || s.size() != 3 || pad.size() != 3 || d.size() != 3)
    throw py::value_error(P(fn) + "output size, stride, padding and dilation must be triples");
  if (groups < 1)
    throw py::value_error(P(fn) + "groups must be >= 1, got " + std::to_string(groups));
  Conv3dParams p{x.shape(0), x.shape(1), x.shape(2), x.shape(3), x.shape(4),
                 w.shape(0), w.shape(2), w.shape(3), w.shape(4),
                 out[0], out[1], out[2], s[0], s[1], s[2], pad[0], pad[1], pad[2],
                 d[0], d[1], d[2], groups};
  if (p.C % groups || p.K % groups || w.shape(1) * groups != p.C)
    throw py::value_error(P(fn) + "weight " + shape_str(w) + " with groups=" +
                          std::to_string(groups) + " does not fit input " + shape_str(x));
  for (int i = 0; i < 3; ++i) {
    if (s[i] < 1 || d[i] < 1 || pad[i] < 0 || out[i] < 1)
      throw py::value_error(P(fn) + "stride and dilation must be >= 1, padding >= 0 and the "
                            "output size >= 1");
  }
  if (p.kd < 1 || p.kh < 1 || p.kw < 1)
    throw py::value_error(P(fn) + "empty kernel " + shape_str(w));
  if (!b.is_none()) {
    py::array ba = b.cast<py::array>();
    require_float(ba, fn, "bias");
    require_same_dtype(x, ba, fn, "input", "bias");
    if (ba.ndim() != 1 || ba.shape(0) != p.K)
      throw py::value_error(P(fn) + "bias must have shape (" + std::to_string(p.K) +
                            ",), got " + shape_str(ba));
  }
  checked_mul(checked_mul(checked_mul(p.N, p.K, fn), p.OD * p.OH, fn), p.OW, fn);
  checked_mul(checked_mul(p.C / groups * p.kd * p.kh * p.kw, p.OH * p.OW, fn), p.OD, fn);
  return p;
}

template <class T>
py::array fwd(const py::array& x, const py::array& w, const py::object& b,
              const Conv3dParams& p) {
  py::array y = pool_array({p.N, p.K, p.OD, p.OH, p.OW}, x.dtype());
  const T* pb = b.is_none() ? nullptr : cptr<T>(b.cast<py::array>());
  {
    py::gil_scoped_release nogil;
    conv3d::forward<T>(p, cptr<T>(x), cptr<T>(w), pb, ptr<T>(y));
  }
  return y;
}

template <class T>
py::tuple bwd(const py::array& dy, const py::array& x, const py::array& w, bool nx, bool nw,
              bool nb, const Conv3dParams& p) {
  py::object gx = py::none(), gw = py::none(), gb = py::none();
  T *px = nullptr, *pw = nullptr, *pb = nullptr;
  if (nx) {
    py::array a = pool_array(shape_of(x), x.dtype());
    px = ptr<T>(a);
    gx = a;
  }
  if (nw) {
    py::array a = pool_array(shape_of(w), x.dtype());
    pw = ptr<T>(a);
    gw = a;
  }
  if (nb) {
    py::array a = pool_array({p.K}, x.dtype());
    pb = ptr<T>(a);
    gb = a;
  }
  {
    py::gil_scoped_release nogil;
    conv3d::backward<T>(p, cptr<T>(x), cptr<T>(w), cptr<T>(dy), px, pw, pb);
  }
  return py::make_tuple(gx, gw, gb);
}

}  // namespace

void bind_conv3d(py::module_& m) {
  m.def(
      "conv3d",
      [](const py::array& x, const py::array& w, const py::object& b, const Shape& out,
         const Shape& s, const Shape& pad, const Shape& d, int64_t groups) {
        Conv3dParams p = check(x, w, b, out, s, pad, d, groups, "conv3d");
        return is_f32(x) ? fwd<float>(x, w, b, p) : fwd<double>(x, w, b, p);
      },
      py::arg("input"), py::arg("weight"), py::arg("bias"), py::arg("output_size"),
      py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("groups"),
      "3-D convolution of (N, C, D, H, W) to (N, K, *output_size); padding is the front/top/"
      "left padding (the output size implies the rest).");
  m.def(
      "conv3d_backward",
      [](const py::array& dy, const py::array& x, const py::array& w, const Shape& s,
         const Shape& pad, const Shape& d, int64_t groups, bool nx, bool nw, bool nb) {
        const char* fn = "conv3d backward";
        require_float(dy, fn, "grad_output");
        require_same_dtype(x, dy, fn, "input", "grad_output");
        if (dy.ndim() != 5)
          throw py::value_error(P(fn) + "grad_output must be 5-D, got " + shape_str(dy));
        Conv3dParams p = check(x, w, py::none(), {dy.shape(2), dy.shape(3), dy.shape(4)}, s,
                               pad, d, groups, fn);
        if (dy.shape(0) != p.N || dy.shape(1) != p.K)
          throw py::value_error(P(fn) + "grad_output has shape " + shape_str(dy) +
                                ", expected (" + std::to_string(p.N) + ", " +
                                std::to_string(p.K) + ", …)");
        return is_f32(x) ? bwd<float>(dy, x, w, nx, nw, nb, p)
                         : bwd<double>(dy, x, w, nx, nw, nb, p);
      },
      py::arg("grad_output"), py::arg("input"), py::arg("weight"), py::arg("stride"),
      py::arg("padding"), py::arg("dilation"), py::arg("groups"), py::arg("need_input"),
      py::arg("need_weight"), py::arg("need_bias"),
      "(grad_input or None, grad_weight or None, grad_bias or None).");
}

}  // namespace fastdl
