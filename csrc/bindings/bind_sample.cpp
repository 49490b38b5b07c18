// Bindings of the sampling kernel family (csrc/kernels/sample/): grid_sample on 2-D images,
// forward and backward. Shapes, dtypes, modes and contiguity are validated here.
#include <string>

#include "bindings/util.h"
#include "common/checks.h"
#include "kernels/sample/sample.h"

namespace fastdl {
namespace {

std::string P(const char* fn) { return std::string(fn) + ": "; }

struct Geo {
  int64_t N, C, H, W, Ho, Wo;
};

Geo check(const py::array& input, const py::array& grid, int mode, int padding,
          const char* fn) {
  require_float(input, fn, "input");
  require_float(grid, fn, "grid");
  require_same_dtype(input, grid, fn, "input", "grid");
  if (input.ndim() != 4)
    throw py::value_error(P(fn) + "input must be (N, C, H, W), got " + shape_str(input));
  if (grid.ndim() != 4 || grid.shape(3) != 2)
    throw py::value_error(P(fn) + "grid must be (N, H_out, W_out, 2), got " + shape_str(grid));
  if (grid.shape(0) != input.shape(0))
    throw py::value_error(P(fn) + "grid and input must have the same batch size, got grid " +
                          shape_str(grid) + " and input " + shape_str(input));
  if (mode < 0 || mode > 1) throw py::value_error(P(fn) + "invalid mode code " + std::to_string(mode));
  if (padding < 0 || padding > 2)
    throw py::value_error(P(fn) + "invalid padding code " + std::to_string(padding));
  Geo g{input.shape(0), input.shape(1), input.shape(2), input.shape(3), grid.shape(1),
        grid.shape(2)};
  if (g.H < 1 || g.W < 1)
    throw py::value_error(P(fn) + "input spatial size must be >= 1, got " + shape_str(input));
  checked_mul(checked_mul(checked_mul(g.N, g.C, fn), g.Ho, fn), g.Wo, fn);
  return g;
}

template <class T>
py::array fwd(const py::array& input, const py::array& grid, int mode, int padding, bool ac,
              const Geo& g) {
  py::array out = pool_array({g.N, g.C, g.Ho, g.Wo}, input.dtype());
  {
    py::gil_scoped_release nogil;
    sample::grid_sample2d_forward<T>(cptr<T>(input), cptr<T>(grid), g.N, g.C, g.H, g.W, g.Ho,
                                     g.Wo, mode, padding, ac, ptr<T>(out));
  }
  return out;
}

template <class T>
py::tuple bwd(const py::array& go, const py::array& input, const py::array& grid, int mode,
              int padding, bool ac, bool need_input, bool need_grid, const Geo& g) {
  py::object gi = py::none(), gg = py::none();
  T* pi = nullptr;
  T* pg = nullptr;
  if (need_input) {
    py::array a = pool_array({g.N, g.C, g.H, g.W}, input.dtype());
    pi = ptr<T>(a);
    gi = a;
  }
  if (need_grid) {
    py::array a = pool_array({g.N, g.Ho, g.Wo, 2}, input.dtype());
    pg = ptr<T>(a);
    gg = a;
  }
  {
    py::gil_scoped_release nogil;
    sample::grid_sample2d_backward<T>(cptr<T>(go), cptr<T>(input), cptr<T>(grid), g.N, g.C,
                                      g.H, g.W, g.Ho, g.Wo, mode, padding, ac, pi, pg);
  }
  return py::make_tuple(gi, gg);
}

}  // namespace

void bind_sample(py::module_& m) {
  m.def(
      "grid_sample2d",
      [](const py::array& input, const py::array& grid, int mode, int padding, bool ac) {
        Geo g = check(input, grid, mode, padding, "grid_sample");
        return is_f32(input) ? fwd<float>(input, grid, mode, padding, ac, g)
                             : fwd<double>(input, grid, mode, padding, ac, g);
      },
      py::arg("input"), py::arg("grid"), py::arg("mode"), py::arg("padding_mode"),
      py::arg("align_corners"),
      "grid_sample of (N, C, H, W) at grid (N, Ho, Wo, 2): mode 0 bilinear / 1 nearest, "
      "padding 0 zeros / 1 border / 2 reflection.");
  m.def(
      "grid_sample2d_backward",
      [](const py::array& go, const py::array& input, const py::array& grid, int mode,
         int padding, bool ac, bool need_input, bool need_grid) {
        const char* fn = "grid_sample backward";
        Geo g = check(input, grid, mode, padding, fn);
        require_float(go, fn, "grad_output");
        require_same_dtype(input, go, fn, "input", "grad_output");
        if (shape_of(go) != Shape{g.N, g.C, g.Ho, g.Wo})
          throw py::value_error(P(fn) + "grad_output has shape " + shape_str(go) + ", expected " +
                                shape_str(Shape{g.N, g.C, g.Ho, g.Wo}));
        return is_f32(input) ? bwd<float>(go, input, grid, mode, padding, ac, need_input,
                                          need_grid, g)
                             : bwd<double>(go, input, grid, mode, padding, ac, need_input,
                                           need_grid, g);
      },
      py::arg("grad_output"), py::arg("input"), py::arg("grid"), py::arg("mode"),
      py::arg("padding_mode"), py::arg("align_corners"), py::arg("need_input"),
      py::arg("need_grid"), "(grad_input or None, grad_grid or None).");
}

}  // namespace fastdl
