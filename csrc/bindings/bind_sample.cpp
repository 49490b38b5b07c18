// Bindings of the sampling kernel family (csrc/kernels/sample/): grid_sample on 2-D images
// and 3-D volumes, forward and backward. Shapes, dtypes, modes and contiguity are validated
// here.
#include <string>

#include "bindings/util.h"
#include "common/checks.h"
#include "kernels/sample/sample.h"

namespace fastdl {
namespace {

using sample::SampleParams;

std::string P(const char* fn) { return std::string(fn) + ": "; }

SampleParams check(const py::array& input, const py::array& grid, int mode, int padding,
                   bool ac, const char* fn) {
  require_float(input, fn, "input");
  require_float(grid, fn, "grid");
  require_same_dtype(input, grid, fn, "input", "grid");
  const int nd = static_cast<int>(input.ndim());
  if (nd != 4 && nd != 5)
    throw py::value_error(P(fn) + "input must be (N, C, H, W) or (N, C, D, H, W), got " +
                          shape_str(input));
  const int dims = nd - 2;
  if (grid.ndim() != nd || grid.shape(nd - 1) != dims)
    throw py::value_error(P(fn) + (dims == 2 ? "grid must be (N, H_out, W_out, 2)"
                                             : "grid must be (N, D_out, H_out, W_out, 3)") +
                          " for input " + shape_str(input) + ", got " + shape_str(grid));
  if (grid.shape(0) != input.shape(0))
    throw py::value_error(P(fn) + "grid and input must have the same batch size, got grid " +
                          shape_str(grid) + " and input " + shape_str(input));
  if (mode < 0 || mode > 2)
    throw py::value_error(P(fn) + "invalid mode code " + std::to_string(mode));
  if (mode == sample::kBicubic && dims != 2)
    throw py::value_error(P(fn) + "bicubic interpolation only supports 4-D input, got " +
                          shape_str(input));
  if (padding < 0 || padding > 2)
    throw py::value_error(P(fn) + "invalid padding code " + std::to_string(padding));
  SampleParams p;
  p.N = input.shape(0);
  p.C = input.shape(1);
  p.D = dims == 3 ? input.shape(2) : 1;
  p.H = input.shape(nd - 2);
  p.W = input.shape(nd - 1);
  p.Do = dims == 3 ? grid.shape(1) : 1;
  p.Ho = grid.shape(nd - 3);
  p.Wo = grid.shape(nd - 2);
  p.dims = dims;
  p.mode = mode;
  p.padding = padding;
  p.align_corners = ac;
  if (p.D < 1 || p.H < 1 || p.W < 1)
    throw py::value_error(P(fn) + "input spatial size must be >= 1, got " + shape_str(input));
  const int64_t plane = checked_mul(checked_mul(p.D, p.H, fn), p.W, fn);
  if (plane >= (int64_t(1) << 31))
    throw py::value_error(P(fn) + "input planes of 2^31 or more elements are not supported, "
                          "got " + shape_str(input));
  checked_mul(checked_mul(checked_mul(p.N, p.C, fn), p.Do * p.Ho, fn), p.Wo, fn);
  return p;
}

Shape out_shape(const SampleParams& p) {
  if (p.dims == 3) return {p.N, p.C, p.Do, p.Ho, p.Wo};
  return {p.N, p.C, p.Ho, p.Wo};
}

template <class T>
py::array fwd(const py::array& input, const py::array& grid, const SampleParams& p) {
  py::array out = pool_array(out_shape(p), input.dtype());
  {
    py::gil_scoped_release nogil;
    sample::grid_sample_forward<T>(p, cptr<T>(input), cptr<T>(grid), ptr<T>(out));
  }
  return out;
}

template <class T>
py::tuple bwd(const py::array& go, const py::array& input, const py::array& grid,
              bool need_input, bool need_grid, const SampleParams& p) {
  py::object gi = py::none(), gg = py::none();
  T* pi = nullptr;
  T* pg = nullptr;
  if (need_input) {
    py::array a = pool_array(shape_of(input), input.dtype());
    pi = ptr<T>(a);
    gi = a;
  }
  if (need_grid) {
    py::array a = pool_array(shape_of(grid), input.dtype());
    pg = ptr<T>(a);
    gg = a;
  }
  {
    py::gil_scoped_release nogil;
    sample::grid_sample_backward<T>(p, cptr<T>(go), cptr<T>(input), cptr<T>(grid), pi, pg);
  }
  return py::make_tuple(gi, gg);
}

}  // namespace

void bind_sample(py::module_& m) {
  m.def(
      "grid_sample",
      [](const py::array& input, const py::array& grid, int mode, int padding, bool ac) {
        SampleParams p = check(input, grid, mode, padding, ac, "grid_sample");
        return is_f32(input) ? fwd<float>(input, grid, p) : fwd<double>(input, grid, p);
      },
      py::arg("input"), py::arg("grid"), py::arg("mode"), py::arg("padding_mode"),
      py::arg("align_corners"),
      "grid_sample of (N, C, [D,] H, W) at grid (N, [Do,] Ho, Wo, 2 or 3): mode 0 bilinear / "
      "1 nearest / 2 bicubic (4-D only), padding 0 zeros / 1 border / 2 reflection.");
  m.def(
      "grid_sample_backward",
      [](const py::array& go, const py::array& input, const py::array& grid, int mode,
         int padding, bool ac, bool need_input, bool need_grid) {
        const char* fn = "grid_sample backward";
        SampleParams p = check(input, grid, mode, padding, ac, fn);
        require_float(go, fn, "grad_output");
        require_same_dtype(input, go, fn, "input", "grad_output");
        if (shape_of(go) != out_shape(p))
          throw py::value_error(P(fn) + "grad_output has shape " + shape_str(go) + ", expected " +
                                shape_str(out_shape(p)));
        return is_f32(input) ? bwd<float>(go, input, grid, need_input, need_grid, p)
                             : bwd<double>(go, input, grid, need_input, need_grid, p);
      },
      py::arg("grad_output"), py::arg("input"), py::arg("grid"), py::arg("mode"),
      py::arg("padding_mode"), py::arg("align_corners"), py::arg("need_input"),
      py::arg("need_grid"), "(grad_input or None, grad_grid or None).");
}

}  // namespace fastdl
