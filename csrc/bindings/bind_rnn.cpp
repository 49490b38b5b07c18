// Recurrences of RNN/LSTM/GRU layers: _C.rnn_forward / _C.rnn_backward (see
// csrc/kernels/rnn/rnn.h for the math and the layouts).
#include <string>

#include "bindings/util.h"
#include "kernels/rnn/rnn.h"

namespace fastdl {
namespace {

const char* const kFwd = "rnn_forward";
const char* const kBwd = "rnn_backward";

std::string str(int64_t v) { return std::to_string(v); }

// ValueError unless `a` is float (same dtype as `like`), C-contiguous, of exactly `shape`.
void require(const py::array& a, const py::array& like, const char* fn, const char* name,
             const Shape& shape) {
  require_float(a, fn, name);
  require_same_dtype(a, like, fn, name, "w_hh");
  if (shape_of(a) != shape)
    throw py::value_error(std::string(fn) + ": " + name + " has shape " + shape_str(a) +
                          ", expected " + shape_str(shape));
}

py::array opt_array(const py::object& o, const char* fn, const char* name) {
  if (!py::isinstance<py::array>(o))
    throw py::type_error(std::string(fn) + ": " + name + " must be a NumPy array or None");
  return py::reinterpret_borrow<py::array>(o);
}

void check_mode(int mode, const char* fn) {
  if (mode < rnn::kRnnTanh || mode > rnn::kGru)
    throw py::value_error(std::string(fn) + ": mode must be 0 (tanh), 1 (relu), 2 (LSTM) or "
                          "3 (GRU), got " + str(mode));
}

// (hs, cs, acts, aux, aux2) — see rnn.h; None where the mode keeps no such array.
py::tuple rnn_forward(int mode, const py::array& xp, const py::array& w_hh,
                      const py::object& b_hh_o, const py::array& h0, const py::object& c0_o,
                      bool reverse) {
  const char* fn = kFwd;
  check_mode(mode, fn);
  require_float(w_hh, fn, "w_hh");
  if (w_hh.ndim() != 2)
    throw py::value_error(std::string(fn) + ": w_hh must be 2-D (G*H, H), got shape " +
                          shape_str(w_hh));
  const int64_t H = w_hh.shape(1), G = rnn::gates(mode) * H;
  if (H < 1 || w_hh.shape(0) != G)
    throw py::value_error(std::string(fn) + ": w_hh has shape " + shape_str(w_hh) +
                          ", expected (" + str(rnn::gates(mode)) + "*H, H) with H >= 1");
  require_float(xp, fn, "xp");
  if (xp.ndim() != 3 || xp.shape(2) != G || xp.shape(0) < 1)
    throw py::value_error(std::string(fn) + ": xp has shape " + shape_str(xp) +
                          ", expected (T >= 1, B, " + str(G) + ")");
  const int64_t T = xp.shape(0), B = xp.shape(1);
  require(xp, w_hh, fn, "xp", {T, B, G});
  require(h0, w_hh, fn, "h0", {B, H});
  py::array b_hh, c0;
  const bool has_b = !b_hh_o.is_none();
  if (has_b) {
    b_hh = opt_array(b_hh_o, fn, "b_hh");
    require(b_hh, w_hh, fn, "b_hh", {G});
  }
  const bool lstm = mode == rnn::kLstm, gru = mode == rnn::kGru;
  if (lstm) {
    if (c0_o.is_none()) throw py::value_error(std::string(fn) + ": LSTM needs c0");
    c0 = opt_array(c0_o, fn, "c0");
    require(c0, w_hh, fn, "c0", {B, H});
  }
  const py::dtype dt = w_hh.dtype();
  py::array hs = pool_array({T + 1, B, H}, dt);
  py::object cs = py::none(), acts = py::none(), aux = py::none(), aux2 = py::none();
  py::array cs_a, acts_a, aux_a, aux2_a, scratch;
  if (lstm) {
    cs_a = pool_array({T + 1, B, H}, dt);
    acts_a = pool_array({T, B, G}, dt);
    aux_a = pool_array({T, B, H}, dt);
    cs = cs_a, acts = acts_a, aux = aux_a;
  } else if (gru) {
    acts_a = pool_array({T, B, 2 * H}, dt);
    aux_a = pool_array({T, B, H}, dt);
    aux2_a = pool_array({T, B, H}, dt);
    scratch = pool_array({B, G}, dt);
    acts = acts_a, aux = aux_a, aux2 = aux2_a;
  }
  auto run = [&](auto* tag) {
    using T_ = std::remove_pointer_t<decltype(tag)>;
    // (a default-constructed py::array is an empty array, not null: test the flags)
    auto p = [](bool has, py::array& a) { return has ? ptr<T_>(a) : static_cast<T_*>(nullptr); };
    const bool any = lstm || gru;
    py::gil_scoped_release nogil;
    rnn::forward<T_>(mode, T, B, H, cptr<T_>(xp), cptr<T_>(w_hh),
                     has_b ? cptr<T_>(b_hh) : nullptr, cptr<T_>(h0),
                     lstm ? cptr<T_>(c0) : nullptr, reverse, ptr<T_>(hs), p(lstm, cs_a),
                     p(any, acts_a), p(any, aux_a), p(gru, aux2_a), p(gru, scratch));
  };
  if (is_f32(w_hh))
    run(static_cast<float*>(nullptr));
  else
    run(static_cast<double*>(nullptr));
  return py::make_tuple(hs, cs, acts, aux, aux2);
}

// (dX, dHh, dh0, dc0) — see rnn.h; dHh only for GRU, dc0 only for LSTM (else None).
py::tuple rnn_backward(int mode, const py::array& w_hh, const py::array& hs,
                       const py::object& cs_o, const py::object& acts_o,
                       const py::object& aux_o, const py::object& aux2_o,
                       const py::object& gout_o, const py::object& ghT_o,
                       const py::object& gcT_o, bool reverse) {
  const char* fn = kBwd;
  check_mode(mode, fn);
  require_float(w_hh, fn, "w_hh");
  if (w_hh.ndim() != 2)
    throw py::value_error(std::string(fn) + ": w_hh must be 2-D, got shape " +
                          shape_str(w_hh));
  const int64_t H = w_hh.shape(1), G = rnn::gates(mode) * H;
  if (H < 1 || w_hh.shape(0) != G)
    throw py::value_error(std::string(fn) + ": w_hh has shape " + shape_str(w_hh) +
                          ", expected (" + str(rnn::gates(mode)) + "*H, H) with H >= 1");
  require_float(hs, fn, "hs");
  if (hs.ndim() != 3 || hs.shape(0) < 2 || hs.shape(2) != H)
    throw py::value_error(std::string(fn) + ": hs has shape " + shape_str(hs) +
                          ", expected (T+1 >= 2, B, " + str(H) + ")");
  const int64_t T = hs.shape(0) - 1, B = hs.shape(1);
  require(hs, w_hh, fn, "hs", {T + 1, B, H});
  const bool lstm = mode == rnn::kLstm, gru = mode == rnn::kGru;
  py::array cs, acts, aux, aux2, gout, ghT, gcT;
  auto need = [&](const py::object& o, const char* name, const Shape& sh) {
    if (o.is_none()) throw py::value_error(std::string(fn) + ": " + name + " is required");
    py::array a = opt_array(o, fn, name);
    require(a, w_hh, fn, name, sh);
    return a;
  };
  if (lstm) {
    cs = need(cs_o, "cs", {T + 1, B, H});
    acts = need(acts_o, "acts", {T, B, G});
    aux = need(aux_o, "aux", {T, B, H});
  } else if (gru) {
    acts = need(acts_o, "acts", {T, B, 2 * H});
    aux = need(aux_o, "aux", {T, B, H});
    aux2 = need(aux2_o, "aux2", {T, B, H});
  }
  const bool has_gout = !gout_o.is_none(), has_ghT = !ghT_o.is_none();
  const bool has_gcT = lstm && !gcT_o.is_none();
  if (has_gout) gout = need(gout_o, "gout", {T, B, H});
  if (has_ghT) ghT = need(ghT_o, "ghT", {B, H});
  if (has_gcT) gcT = need(gcT_o, "gcT", {B, H});
  const py::dtype dt = w_hh.dtype();
  py::array dX = pool_array({T, B, G}, dt);
  py::array dh0 = pool_array({B, H}, dt);
  py::array dHh, dc0;
  if (gru) dHh = pool_array({T, B, G}, dt);
  if (lstm) dc0 = pool_array({B, H}, dt);
  auto run = [&](auto* tag) {
    using T_ = std::remove_pointer_t<decltype(tag)>;
    // (a default-constructed py::array is an empty array, not null: test the flags)
    auto p = [](bool has, py::array& a) { return has ? ptr<T_>(a) : static_cast<T_*>(nullptr); };
    auto cp = [](bool has, const py::array& a) {
      return has ? cptr<T_>(a) : static_cast<const T_*>(nullptr);
    };
    const bool any = lstm || gru;
    py::gil_scoped_release nogil;
    rnn::backward<T_>(mode, T, B, H, cptr<T_>(w_hh), cptr<T_>(hs), cp(lstm, cs), cp(any, acts),
                      cp(any, aux), cp(gru, aux2), cp(has_gout, gout), cp(has_ghT, ghT),
                      cp(has_gcT, gcT), reverse, ptr<T_>(dX), p(gru, dHh), ptr<T_>(dh0),
                      p(lstm, dc0));
  };
  if (is_f32(w_hh))
    run(static_cast<float*>(nullptr));
  else
    run(static_cast<double*>(nullptr));
  return py::make_tuple(dX, gru ? py::object(dHh) : py::object(py::none()), dh0,
                        lstm ? py::object(dc0) : py::object(py::none()));
}

}  // namespace

void bind_rnn(py::module_& m) {
  m.def("rnn_forward", &rnn_forward, py::arg("mode"), py::arg("xp"), py::arg("w_hh"),
        py::arg("b_hh"), py::arg("h0"), py::arg("c0"), py::arg("reverse"),
        "Time loop of one RNN/LSTM/GRU layer and direction: returns the saved states "
        "(hs, cs, acts, aux, aux2); see csrc/kernels/rnn/rnn.h.");
  m.def("rnn_backward", &rnn_backward, py::arg("mode"), py::arg("w_hh"), py::arg("hs"),
        py::arg("cs"), py::arg("acts"), py::arg("aux"), py::arg("aux2"), py::arg("gout"),
        py::arg("ghT"), py::arg("gcT"), py::arg("reverse"),
        "Backpropagation through time of rnn_forward: returns (dX, dHh, dh0, dc0) in step "
        "order; see csrc/kernels/rnn/rnn.h.");
}

}  // namespace fastdl
