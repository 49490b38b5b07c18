// fastdl._C: one extension module; each kernel family binds itself in bind_<family>.cpp.
#include <pybind11/pybind11.h>

namespace py = pybind11;

namespace fastdl {
void bind_common(py::module_& m);
void bind_gemm(py::module_& m);
void bind_conv(py::module_& m);
void bind_pool(py::module_& m);
void bind_eltwise(py::module_& m);
void bind_loss(py::module_& m);
void bind_norm(py::module_& m);
void bind_optim(py::module_& m);
void bind_rnn(py::module_& m);
void bind_ctc(py::module_& m);
void bind_sample(py::module_& m);
void bind_embag(py::module_& m);
void bind_conv3d(py::module_& m);
void bind_pool3d(py::module_& m);
void bind_tensorops(py::module_& m);
void bind_sort(py::module_& m);
}  // namespace fastdl

PYBIND11_MODULE(_C, m) {
  m.doc() = "fastdl's C++ kernels. Use the public API in fastdl; this module is private.";
  fastdl::bind_common(m);
  fastdl::bind_gemm(m);
  fastdl::bind_conv(m);
  fastdl::bind_pool(m);
  fastdl::bind_eltwise(m);
  fastdl::bind_loss(m);
  fastdl::bind_norm(m);
  fastdl::bind_optim(m);
  fastdl::bind_rnn(m);
  fastdl::bind_ctc(m);
  fastdl::bind_sample(m);
  fastdl::bind_embag(m);
  fastdl::bind_conv3d(m);
  fastdl::bind_pool3d(m);
  fastdl::bind_tensorops(m);
  fastdl::bind_sort(m);
}
