// Bindings of the norm kernel family (csrc/kernels/norm/).
#include "bindings/util.h"

namespace fastdl {
void bind_norm(py::module_& m) { (void)m; }
}  // namespace fastdl
