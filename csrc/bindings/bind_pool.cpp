// Bindings of the pool kernel family (csrc/kernels/pool/): argument validation (PyTorch's
// rules), output sizes, GIL release. Inputs are 4-D (N, C, H, W) C-contiguous arrays; the
// Python layer (fastdl/nn/functional/pooling.py) handles unbatched inputs and argument forms.
#include <string>

#include "bindings/util.h"
#include "common/checks.h"
#include "kernels/pool/pool.h"

namespace fastdl {
namespace {

using pool::Pool2dParams;

std::string S(int64_t v) { return std::to_string(v); }

int64_t div_floor(int64_t a, int64_t b) {  // b > 0
  int64_t q = a / b;
  if ((a % b != 0) && (a < 0)) --q;
  return q;
}

// PyTorch's pooling output size: floor (or ceil, dropping a last window that would start
// beyond the input and its left padding) of (in + 2p − d(k−1) − 1)/s, plus 1.
int64_t pool_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  const int64_t num = in + 2 * p - d * (k - 1) - 1;
  int64_t o = div_floor(num + (ceil_mode ? s - 1 : 0), s) + 1;
  if (ceil_mode && (o - 1) * s >= in + p) --o;
  return o;
}

void require_input(const py::array& x, const char* fn) {
  require_float(x, fn, "input");
  if (x.ndim() != 4)
    throw py::value_error(std::string(fn) + ": input must be 4-D (N, C, H, W), got shape " +
                          shape_str(x));
  if (x.shape(2) < 1 || x.shape(3) < 1)
    throw py::value_error(std::string(fn) + ": input spatial size must be >= 1, got shape " +
                          shape_str(x));
}

Pool2dParams make_params(const char* fn, int64_t N, int64_t C, int64_t H, int64_t W,
                         int64_t kh, int64_t kw, int64_t sh, int64_t sw, int64_t ph,
                         int64_t pw, int64_t dh, int64_t dw, bool ceil_mode) {
  const std::string f(fn);
  if (kh < 1 || kw < 1)
    throw py::value_error(f + ": kernel_size must be >= 1, got (" + S(kh) + ", " + S(kw) + ")");
  if (sh < 1 || sw < 1)
    throw py::value_error(f + ": stride must be >= 1, got (" + S(sh) + ", " + S(sw) + ")");
  if (dh < 1 || dw < 1)
    throw py::value_error(f + ": dilation must be >= 1, got (" + S(dh) + ", " + S(dw) + ")");
  if (ph < 0 || pw < 0)
    throw py::value_error(f + ": padding must be >= 0, got (" + S(ph) + ", " + S(pw) + ")");
  const int64_t eh = (kh - 1) * dh + 1, ew = (kw - 1) * dw + 1;
  // PyTorch checks both pad <= effective kernel / 2 and pad <= kernel_size / 2.
  if (ph > eh / 2 || pw > ew / 2 || ph > kh / 2 || pw > kw / 2)
    throw py::value_error(f + ": padding (" + S(ph) + ", " + S(pw) +
                          ") must be at most half of kernel_size (" + S(kh) + ", " + S(kw) +
                          ")");
  Pool2dParams p{};
  p.NC = checked_mul(N, C, fn);
  p.H = H; p.W = W;
  p.OH = pool_out(H, kh, sh, ph, dh, ceil_mode);
  p.OW = pool_out(W, kw, sw, pw, dw, ceil_mode);
  if (p.OH < 1 || p.OW < 1)
    throw py::value_error(f + ": output size (" + S(p.OH) + ", " + S(p.OW) +
                          ") is too small for input (" + S(H) + ", " + S(W) + ")");
  p.kh = kh; p.kw = kw; p.sh = sh; p.sw = sw; p.ph = ph; p.pw = pw; p.dh = dh; p.dw = dw;
  checked_numel({p.NC, p.OH, p.OW, 8}, fn);
  return p;
}

// The shared tail of the max-pooling forwards: output (and optional int64 indices) from the
// pool, then the float32 or float64 kernel with the GIL released.
template <class Kernel>
py::tuple max_forward(const Pool2dParams& p, const py::array& x, const Shape& osh,
                      bool return_indices, Kernel kernel) {
  py::array y = pool_array(osh, x.dtype());
  py::object io = py::none();
  int64_t* ip = nullptr;
  if (return_indices) {
    py::array ia = pool_array(osh, py::dtype::of<int64_t>());
    ip = ptr<int64_t>(ia);
    io = ia;
  }
  if (is_f32(x)) {
    const float* xp = cptr<float>(x);
    float* yp = ptr<float>(y);
    py::gil_scoped_release nogil;
    kernel(p, xp, yp, ip);
  } else {
    const double* xp = cptr<double>(x);
    double* yp = ptr<double>(y);
    py::gil_scoped_release nogil;
    kernel(p, xp, yp, ip);
  }
  return py::make_tuple(y, io);
}

py::tuple max_pool2d(const py::array& x, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                     int64_t ph, int64_t pw, int64_t dh, int64_t dw, bool ceil_mode,
                     bool return_indices) {
  require_input(x, "max_pool2d");
  Pool2dParams p = make_params("max_pool2d", x.shape(0), x.shape(1), x.shape(2), x.shape(3),
                               kh, kw, sh, sw, ph, pw, dh, dw, ceil_mode);
  Shape osh{x.shape(0), x.shape(1), p.OH, p.OW};
  return max_forward(p, x, osh, return_indices,
                     [](const auto&... a) { pool::max_pool2d_forward(a...); });
}

py::tuple adaptive_max_pool2d(const py::array& x, int64_t oh, int64_t ow, bool return_indices) {
  require_input(x, "adaptive_max_pool2d");
  if (oh < 1 || ow < 1)
    throw py::value_error("adaptive_max_pool2d: output_size must be >= 1, got (" + S(oh) +
                          ", " + S(ow) + ")");
  Pool2dParams p{};
  p.NC = checked_mul(x.shape(0), x.shape(1), "adaptive_max_pool2d");
  p.H = x.shape(2); p.W = x.shape(3); p.OH = oh; p.OW = ow;
  checked_numel({p.NC, oh, ow, 8}, "adaptive_max_pool2d");
  Shape osh{x.shape(0), x.shape(1), oh, ow};
  return max_forward(p, x, osh, return_indices,
                     [](const auto&... a) { pool::adaptive_max_pool2d_forward(a...); });
}

// Scatter-add backward of max pooling (plain and adaptive): dx of shape (N, C, H, W).
py::array max_pool2d_backward(const py::array& dy, const py::array& idx, int64_t H,
                              int64_t W) {
  const char* fn = "max_pool2d_backward";
  require_float(dy, fn, "grad_output");
  if (dy.ndim() != 4)
    throw py::value_error(std::string(fn) + ": grad_output must be 4-D, got " + shape_str(dy));
  if (!is_i64(idx))
    throw py::type_error(std::string(fn) + ": indices must be int64");
  if (!(idx.flags() & py::array::c_style))
    throw py::value_error(std::string(fn) + ": indices must be C-contiguous");
  if (shape_of(idx) != shape_of(dy))
    throw py::value_error(std::string(fn) + ": indices " + shape_str(idx) +
                          " and grad_output " + shape_str(dy) + " differ in shape");
  if (H < 1 || W < 1)
    throw py::value_error(std::string(fn) + ": input size must be >= 1");
  const int64_t HW = checked_mul(H, W, fn);
  const int64_t NC = checked_mul(dy.shape(0), dy.shape(1), fn);
  const int64_t OHW = dy.shape(2) * dy.shape(3);
  const int64_t* ip = cptr<int64_t>(idx);
  const int64_t total = NC * OHW;
  for (int64_t i = 0; i < total; ++i)
    if (ip[i] < 0 || ip[i] >= HW)
      throw py::index_error(std::string(fn) + ": index " + S(ip[i]) + " outside the " +
                            S(H) + "x" + S(W) + " input plane");
  py::array dx = pool_array({dy.shape(0), dy.shape(1), H, W}, dy.dtype());
  if (is_f32(dy)) {
    const float* gp = cptr<float>(dy);
    float* dp = ptr<float>(dx);
    py::gil_scoped_release nogil;
    pool::max_pool2d_backward(NC, HW, OHW, gp, ip, dp);
  } else {
    const double* gp = cptr<double>(dy);
    double* dp = ptr<double>(dx);
    py::gil_scoped_release nogil;
    pool::max_pool2d_backward(NC, HW, OHW, gp, ip, dp);
  }
  return dx;
}

py::array avg_pool2d(const py::array& x, int64_t kh, int64_t kw, int64_t sh, int64_t sw,
                     int64_t ph, int64_t pw, bool ceil_mode, bool count_include_pad,
                     int64_t divisor_override) {
  require_input(x, "avg_pool2d");
  Pool2dParams p = make_params("avg_pool2d", x.shape(0), x.shape(1), x.shape(2), x.shape(3),
                               kh, kw, sh, sw, ph, pw, 1, 1, ceil_mode);
  py::array y = pool_array({x.shape(0), x.shape(1), p.OH, p.OW}, x.dtype());
  if (is_f32(x)) {
    const float* xp = cptr<float>(x);
    float* yp = ptr<float>(y);
    py::gil_scoped_release nogil;
    pool::avg_pool2d_forward(p, xp, yp, count_include_pad, divisor_override);
  } else {
    const double* xp = cptr<double>(x);
    double* yp = ptr<double>(y);
    py::gil_scoped_release nogil;
    pool::avg_pool2d_forward(p, xp, yp, count_include_pad, divisor_override);
  }
  return y;
}

py::array avg_pool2d_backward(const py::array& dy, int64_t H, int64_t W, int64_t kh,
                              int64_t kw, int64_t sh, int64_t sw, int64_t ph, int64_t pw,
                              bool ceil_mode, bool count_include_pad,
                              int64_t divisor_override) {
  const char* fn = "avg_pool2d_backward";
  require_float(dy, fn, "grad_output");
  if (dy.ndim() != 4)
    throw py::value_error(std::string(fn) + ": grad_output must be 4-D, got " + shape_str(dy));
  if (H < 1 || W < 1) throw py::value_error(std::string(fn) + ": input size must be >= 1");
  Pool2dParams p = make_params(fn, dy.shape(0), dy.shape(1), H, W, kh, kw, sh, sw, ph, pw, 1,
                               1, ceil_mode);
  if (dy.shape(2) != p.OH || dy.shape(3) != p.OW)
    throw py::value_error(std::string(fn) + ": grad_output " + shape_str(dy) +
                          " does not match the output size (" + S(p.OH) + ", " + S(p.OW) + ")");
  py::array dx = pool_array({dy.shape(0), dy.shape(1), H, W}, dy.dtype());
  if (is_f32(dy)) {
    const float* gp = cptr<float>(dy);
    float* dp = ptr<float>(dx);
    py::gil_scoped_release nogil;
    pool::avg_pool2d_backward(p, gp, dp, count_include_pad, divisor_override);
  } else {
    const double* gp = cptr<double>(dy);
    double* dp = ptr<double>(dx);
    py::gil_scoped_release nogil;
    pool::avg_pool2d_backward(p, gp, dp, count_include_pad, divisor_override);
  }
  return dx;
}

py::array adaptive_avg_pool2d(const py::array& x, int64_t oh, int64_t ow) {
  require_input(x, "adaptive_avg_pool2d");
  if (oh < 1 || ow < 1)
    throw py::value_error("adaptive_avg_pool2d: output_size must be >= 1, got (" + S(oh) +
                          ", " + S(ow) + ")");
  Pool2dParams p{};
  p.NC = checked_mul(x.shape(0), x.shape(1), "adaptive_avg_pool2d");
  p.H = x.shape(2); p.W = x.shape(3); p.OH = oh; p.OW = ow;
  checked_numel({p.NC, oh, ow, 8}, "adaptive_avg_pool2d");
  py::array y = pool_array({x.shape(0), x.shape(1), oh, ow}, x.dtype());
  if (is_f32(x)) {
    const float* xp = cptr<float>(x);
    float* yp = ptr<float>(y);
    py::gil_scoped_release nogil;
    pool::adaptive_avg_pool2d_forward(p, xp, yp);
  } else {
    const double* xp = cptr<double>(x);
    double* yp = ptr<double>(y);
    py::gil_scoped_release nogil;
    pool::adaptive_avg_pool2d_forward(p, xp, yp);
  }
  return y;
}

py::array adaptive_avg_pool2d_backward(const py::array& dy, int64_t H, int64_t W) {
  const char* fn = "adaptive_avg_pool2d_backward";
  require_float(dy, fn, "grad_output");
  if (dy.ndim() != 4 || dy.shape(2) < 1 || dy.shape(3) < 1)
    throw py::value_error(std::string(fn) + ": grad_output must be 4-D with output size >= 1, got " + shape_str(dy));
  if (H < 1 || W < 1) throw py::value_error(std::string(fn) + ": input size must be >= 1");
  Pool2dParams p{};
  p.NC = checked_mul(dy.shape(0), dy.shape(1), fn);
  p.H = H; p.W = W; p.OH = dy.shape(2); p.OW = dy.shape(3);
  checked_numel({p.NC, H, W, 8}, fn);
  py::array dx = pool_array({dy.shape(0), dy.shape(1), H, W}, dy.dtype());
  if (is_f32(dy)) {
    const float* gp = cptr<float>(dy);
    float* dp = ptr<float>(dx);
    py::gil_scoped_release nogil;
    pool::adaptive_avg_pool2d_backward(p, gp, dp);
  } else {
    const double* gp = cptr<double>(dy);
    double* dp = ptr<double>(dx);
    py::gil_scoped_release nogil;
    pool::adaptive_avg_pool2d_backward(p, gp, dp);
  }
  return dx;
}

}  // namespace

void bind_pool(py::module_& m) {
  m.def("pool_output_size", &pool_out, py::arg("size"), py::arg("kernel_size"),
        py::arg("stride"), py::arg("padding"), py::arg("dilation"), py::arg("ceil_mode"),
        "The kernels' pooling output size (PyTorch's rule); may be < 1.");
  m.def("max_pool2d", &max_pool2d, py::arg("input"), py::arg("kh"), py::arg("kw"),
        py::arg("sh"), py::arg("sw"), py::arg("ph"), py::arg("pw"), py::arg("dh"),
        py::arg("dw"), py::arg("ceil_mode"), py::arg("return_indices"),
        "(output, indices | None) of 2-D max pooling on (N, C, H, W).");
  m.def("max_pool2d_backward", &max_pool2d_backward, py::arg("grad_output"),
        py::arg("indices"), py::arg("H"), py::arg("W"),
        "grad_input of (adaptive) max pooling: scatter-add at the indices.");
  m.def("avg_pool2d", &avg_pool2d, py::arg("input"), py::arg("kh"), py::arg("kw"),
        py::arg("sh"), py::arg("sw"), py::arg("ph"), py::arg("pw"), py::arg("ceil_mode"),
        py::arg("count_include_pad"), py::arg("divisor_override"),
        "2-D average pooling on (N, C, H, W); divisor_override 0 means none.");
  m.def("avg_pool2d_backward", &avg_pool2d_backward, py::arg("grad_output"), py::arg("H"),
        py::arg("W"), py::arg("kh"), py::arg("kw"), py::arg("sh"), py::arg("sw"),
        py::arg("ph"), py::arg("pw"), py::arg("ceil_mode"), py::arg("count_include_pad"),
        py::arg("divisor_override"), "grad_input of avg_pool2d.");
  m.def("adaptive_avg_pool2d", &adaptive_avg_pool2d, py::arg("input"), py::arg("oh"),
        py::arg("ow"), "Adaptive 2-D average pooling on (N, C, H, W).");
  m.def("adaptive_avg_pool2d_backward", &adaptive_avg_pool2d_backward,
        py::arg("grad_output"), py::arg("H"), py::arg("W"),
        "grad_input of adaptive_avg_pool2d.");
  m.def("adaptive_max_pool2d", &adaptive_max_pool2d, py::arg("input"), py::arg("oh"),
        py::arg("ow"), py::arg("return_indices"),
        "(output, indices | None) of adaptive 2-D max pooling on (N, C, H, W).");
}

}  // namespace fastdl
