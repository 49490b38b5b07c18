// Bindings of the optim kernel family (csrc/kernels/optim/).
#include "bindings/util.h"

namespace fastdl {
void bind_optim(py::module_& m) { (void)m; }
}  // namespace fastdl
