// Bindings of the conv kernel family (csrc/kernels/conv/).
#include "bindings/util.h"

namespace fastdl {
void bind_conv(py::module_& m) { (void)m; }
}  // namespace fastdl
