// Bindings of the loss kernel family (csrc/kernels/loss/).
#include "bindings/util.h"

namespace fastdl {
void bind_loss(py::module_& m) { (void)m; }
}  // namespace fastdl
