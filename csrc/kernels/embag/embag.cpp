// embedding_bag: the generic build of embag_impl.h, the dispatch and the API (see embag.h).
#include "kernels/embag/embag.h"

#include "common/dispatch.h"
#include "kernels/embag/embag_impl.h"  // the generic build and its EmbagOps table

namespace fastdl {
namespace embag {

FASTDL_DEFINE_OPS(EmbagOps)

template <class T>
int64_t forward(const Bags& g, const T* weight, int64_t D, const T* psw, int mode, T* out,
                int64_t* arg) {
  return by_dtype<T>(ops()).forward(g, weight, D, psw, mode, out, arg);
}

template <class T>
void backward_weight(const Bags& g, const T* gy, int64_t D, const T* psw, int mode,
                     const int64_t* arg, T* gw) {
  by_dtype<T>(ops()).backward_weight(g, gy, D, psw, mode, arg, gw);
}

template <class T>
void backward_psw(const Bags& g, const T* gy, const T* weight, int64_t D, T* gpsw) {
  by_dtype<T>(ops()).backward_psw(g, gy, weight, D, gpsw);
}

#define FASTDL_EMBAG_INST(T)                                                                \
  template int64_t forward<T>(const Bags&, const T*, int64_t, const T*, int, T*, int64_t*); \
  template void backward_weight<T>(const Bags&, const T*, int64_t, const T*, int,           \
                                   const int64_t*, T*);                                     \
  template void backward_psw<T>(const Bags&, const T*, const T*, int64_t, T*);
FASTDL_EMBAG_INST(float)
FASTDL_EMBAG_INST(double)
#undef FASTDL_EMBAG_INST

}  // namespace embag
}  // namespace fastdl
