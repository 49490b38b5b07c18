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
    check_cache_limit_env();  // and a bad FASTDL_CACHE_LIMIT or FASTDL_NUM_THREADS
    check_num_threads_env();
  } catch (const std::invalid_argument& e) {
    throw py::value_error(e.what());
  }

  m.def("get_num_threads", &num_threads);
  m.def("set_num_threads", [](py::object obj) {
    if (!py::isinstance<py::int_>(obj) || py::isinstance<py::bool_>(obj))
      throw py::type_error("set_num_threads: n must be an int, got " +
                           std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
    const py::int_ n = py::reinterpret_borrow<py::int_>(obj);
    if (n < py::int_(1) || n > py::int_(4096))  // more would only exhaust the OS's threads
      throw py::value_error("set_num_threads: n must be >= 1 and <= 4096, got " +
                            std::string(py::str(obj)));
    set_num_threads(n.cast<int>());
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
  m.def("set_cache_limit", [](py::object obj) {
    if (!py::isinstance<py::int_>(obj) || py::isinstance<py::bool_>(obj))
      throw py::type_error("set_cache_limit: bytes must be an int, got " +
                           std::string(py::str(py::type::handle_of(obj).attr("__name__"))));
    const py::int_ big = py::reinterpret_borrow<py::int_>(obj);
    if (big < py::int_(0) || big > py::int_(INT64_MAX))
      throw py::value_error("set_cache_limit: bytes must be in [0, 2^63 - 1], got " +
                            std::string(py::str(obj)));
    pool_set_limit(big.cast<int64_t>());
  }, py::arg("bytes"));
  m.def("_parse_byte_count", [](const std::string& s) {
    int64_t v;
    std::string err;
    if (!parse_byte_count(s.c_str(), &v, &err))
      throw py::value_error("'" + s + "' " + err);
    return v;
  }, py::arg("text"), "The FASTDL_CACHE_LIMIT syntax: bytes with an optional K/M/G/T suffix.");
  m.def("reset_peak_memory_stats", [] { pool_reset_peak(); });
  m.def("size_class", [](int64_t bytes) { return static_cast<int64_t>(pool_size_class(bytes)); });
}

}  // namespace fastdl
