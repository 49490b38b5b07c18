// Bindings of the eltwise kernel family (csrc/kernels/eltwise/).
#include "bindings/util.h"

namespace fastdl {
void bind_eltwise(py::module_& m) { (void)m; }
}  // namespace fastdl
