// Bindings of the pool kernel family (csrc/kernels/pool/).
#include "bindings/util.h"

namespace fastdl {
void bind_pool(py::module_& m) { (void)m; }
}  // namespace fastdl
