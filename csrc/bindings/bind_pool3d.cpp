// Bindings of the 3-D pooling kernels (csrc/kernels/pool3d/): shapes and dtypes are
// validated here before a kernel runs.
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

template <class T>
py::array fwd(const py::array& x, const pool3d::Dims& s) {
  py::array y = pool_array({x.shape(0), x.shape(1), s.OD, s.OH, s.OW}, x.dtype());
  {
    py::gil_scoped_release nogil;
    pool3d::adaptive_avg_forward<T>(s, cptr<T>(x), ptr<T>(y));
  }
  return y;
}

template <class T>
py::array bwd(const py::array& gy, const Shape& in, const pool3d::Dims& s) {
  py::array gx = pool_array(in, gy.dtype());
  {
    py::gil_scoped_release nogil;
    pool3d::adaptive_avg_backward<T>(s, cptr<T>(gy), ptr<T>(gx));
  }
  return gx;
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
        return is_f32(x) ? fwd<float>(x, s) : fwd<double>(x, s);
      },
      py::arg("input"), py::arg("output_size"),
      "Adaptive average pooling of (N, C, D, H, W) to (N, C, *output_size).");
  m.def(
      "adaptive_avg_pool3d_backward",
      [](const py::array& gy, const Shape& in) {
        const char* fn = "adaptive_avg_pool3d backward";
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
        return is_f32(gy) ? bwd<float>(gy, in, d) : bwd<double>(gy, in, d);
      },
      py::arg("grad_output"), py::arg("input_shape"),
      "Gradient of adaptive_avg_pool3d: (N, C, D, H, W) from grad_output (N, C, OD, OH, OW).");
}

}  // namespace fastdl
