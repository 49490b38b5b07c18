// Threads, CPU dispatch, the caching allocator and build facts.
#include <stdexcept>

#include "bindings/util.h"
#include "common/dispatch.h"
#include "common/parallel.h"

#ifndef FASTDL_COMPILER
#define FASTDL_COMPILER "unknown"
#endif
#ifndef FASTDL_VERSION
#define FASTDL_VERSION ""
#endif

namespace fastdl {

void bind_common(py::module_& m) {
  py::register_exception<std::overflow_error>(m, "SizeOverflowError", PyExc_ValueError);
  try {
    (void)current_isa();  // decide the ISA at import: a bad FASTDL_ISA fails here, clearly
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }

  m.def("get_num_threads", &num_threads);
  m.def("set_num_threads", [](int n) {
    if (n < 1) throw py::value_error("set_num_threads: n must be >= 1, got " + std::to_string(n));
    set_num_threads(n);
  }, py::arg("n"));

  m.def("detect_isa", [] { return std::string(isa_name(detect_isa())); });
  m.def("get_isa", [] { return std::string(isa_name(current_isa())); });
  m.def("set_isa", [](const std::string& name) {
    try {
      set_isa(isa_from_name(name));
    } catch (const std::invalid_argument& e) {
      throw py::value_error(e.what());
    }
  }, py::arg("name"));
  m.def("supported_isas", [] {
    py::list out;
    for (int i = 0; i < kNumIsa; ++i)
      if (isa_supported(static_cast<Isa>(i))) out.append(isa_name(static_cast<Isa>(i)));
    return out;
  });
  m.attr("compiler") = FASTDL_COMPILER;
  m.attr("build_version") = FASTDL_VERSION;

  m.def("empty", [](const Shape& shape, py::dtype dtype) { return pool_array(shape, dtype); },
        py::arg("shape"), py::arg("dtype"));
  m.def("memory_stats", [] {
    MemoryStats s = pool_stats();
    py::dict d;
    d["in_use"] = s.in_use;
    d["cached"] = s.cached;
    d["peak"] = s.peak;
    d["limit"] = s.limit;
    d["n_alloc"] = s.n_alloc;
    d["n_reused"] = s.n_reused;
    d["n_system"] = s.n_system;
    return d;
  });
  m.def("empty_cache", [] { pool_empty_cache(); });
  m.def("set_cache_limit", [](int64_t bytes) {
    if (bytes < 0) throw py::value_error("set_cache_limit: bytes must be >= 0");
    pool_set_limit(bytes);
  }, py::arg("bytes"));
  m.def("reset_peak_memory_stats", [] { pool_reset_peak(); });
  m.def("size_class", [](int64_t bytes) { return static_cast<int64_t>(pool_size_class(bytes)); });
}

}  // namespace fastdl
