// Bindings of the CTC kernel family (csrc/kernels/ctc/): ctc_forward returns the per-sample
// negative log-likelihoods and the log-α table the backward needs; ctc_backward returns the
// gradient with respect to log_probs. Every length, offset and label is validated here
// before a kernel reads anything.
#include <string>

#include "bindings/util.h"
#include "common/checks.h"
#include "kernels/ctc/ctc.h"

namespace fastdl {
namespace {

std::string P(const char* fn) { return std::string(fn) + ": "; }

struct Dims {
  int64_t T, N, C, Lmax;
};

const int64_t* i64(const py::array& a, const char* fn, const char* name, int64_t n) {
  if (!a.dtype().is(py::dtype::of<int64_t>()))
    throw py::type_error(P(fn) + name + " must be int64, got " + std::string(py::str(a.dtype())));
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(P(fn) + name + " must be C-contiguous");
  if (n >= 0 && (a.ndim() != 1 || a.shape(0) != n))
    throw py::value_error(P(fn) + name + " must have shape (" + std::to_string(n) + ",), got " +
                          shape_str(a));
  return cptr<int64_t>(a);
}

// Check every argument; return the sizes.
Dims check(const py::array& lp, const py::array& targets, const py::array& offs,
           const py::array& ilen, const py::array& tlen, int64_t blank, const char* fn) {
  require_float(lp, fn, "log_probs");
  if (lp.ndim() != 3)
    throw py::value_error(P(fn) + "log_probs must be (T, N, C), got " + shape_str(lp));
  Dims d{lp.shape(0), lp.shape(1), lp.shape(2), 0};
  checked_mul(checked_mul(d.T, d.N, fn), d.C, fn);
  if (blank < 0 || blank >= d.C)
    throw py::value_error(P(fn) + "blank " + std::to_string(blank) + " must be in [0, " +
                          std::to_string(d.C) + ")");
  const int64_t* tg = i64(targets, fn, "targets", -1);
  if (targets.ndim() != 1) throw py::value_error(P(fn) + "targets must be 1-D (concatenated)");
  const int64_t* of = i64(offs, fn, "target offsets", d.N);
  const int64_t* il = i64(ilen, fn, "input_lengths", d.N);
  const int64_t* tl = i64(tlen, fn, "target_lengths", d.N);
  const int64_t nt = targets.shape(0);
  for (int64_t n = 0; n < d.N; ++n) {
    if (il[n] < 0 || il[n] > d.T)
      throw py::value_error(P(fn) + "input_lengths[" + std::to_string(n) + "] = " +
                            std::to_string(il[n]) + " must be in [0, " + std::to_string(d.T) +
                            "] (log_probs has " + std::to_string(d.T) + " time steps)");
    if (tl[n] < 0 || of[n] < 0 || of[n] > nt || tl[n] > nt - of[n])
      throw py::value_error(P(fn) + "target_lengths[" + std::to_string(n) + "] = " +
                            std::to_string(tl[n]) + " does not fit the targets");
    if (tl[n] > d.Lmax) d.Lmax = tl[n];
    for (int64_t i = 0; i < tl[n]; ++i) {
      const int64_t v = tg[of[n] + i];
      if (v < 0 || v >= d.C || v == blank)
        throw py::value_error(P(fn) + "target " + std::to_string(v) + " of sample " +
                              std::to_string(n) + " must be a class in [0, " +
                              std::to_string(d.C) + ") other than blank (" +
                              std::to_string(blank) + ")");
    }
  }
  checked_mul(checked_mul(d.N, d.T, fn), 2 * d.Lmax + 1, fn);
  return d;
}

template <class T>
py::tuple forward_t(const py::array& lp, const py::array& targets, const py::array& offs,
                    const py::array& ilen, const py::array& tlen, int64_t blank, const Dims& d) {
  py::array nll = pool_array({d.N}, lp.dtype());
  py::array la = pool_array({d.N, d.T, 2 * d.Lmax + 1}, lp.dtype());
  {
    py::gil_scoped_release nogil;
    ctc::ctc_forward<T>(cptr<T>(lp), d.T, d.N, d.C, cptr<int64_t>(targets), cptr<int64_t>(offs),
                        cptr<int64_t>(ilen), cptr<int64_t>(tlen), d.Lmax, blank, ptr<T>(nll),
                        ptr<T>(la));
  }
  return py::make_tuple(nll, la);
}

template <class T>
py::array backward_t(const py::array& lp, const py::array& targets, const py::array& offs,
                     const py::array& ilen, const py::array& tlen, int64_t blank,
                     const py::array& nll, const py::array& la, const py::array& g,
                     bool zero_infinity, const Dims& d) {
  py::array grad = pool_array({d.T, d.N, d.C}, lp.dtype());
  {
    py::gil_scoped_release nogil;
    ctc::ctc_backward<T>(cptr<T>(lp), d.T, d.N, d.C, cptr<int64_t>(targets), cptr<int64_t>(offs),
                         cptr<int64_t>(ilen), cptr<int64_t>(tlen), d.Lmax, blank, cptr<T>(nll),
                         cptr<T>(la), cptr<T>(g), zero_infinity, ptr<T>(grad));
  }
  return grad;
}

}  // namespace

void bind_ctc(py::module_& m) {
  m.def(
      "ctc_forward",
      [](const py::array& lp, const py::array& targets, const py::array& offs,
         const py::array& ilen, const py::array& tlen, int64_t blank) {
        const char* fn = "ctc_loss";
        Dims d = check(lp, targets, offs, ilen, tlen, blank, fn);
        return is_f32(lp) ? forward_t<float>(lp, targets, offs, ilen, tlen, blank, d)
                          : forward_t<double>(lp, targets, offs, ilen, tlen, blank, d);
      },
      py::arg("log_probs"), py::arg("targets"), py::arg("target_offsets"),
      py::arg("input_lengths"), py::arg("target_lengths"), py::arg("blank"),
      "CTC forward: (nll (N,), log_alpha (N, T, 2·Lmax+1)).");
  m.def(
      "ctc_backward",
      [](const py::array& lp, const py::array& targets, const py::array& offs,
         const py::array& ilen, const py::array& tlen, int64_t blank, const py::array& nll,
         const py::array& la, const py::array& g, bool zero_infinity) {
        const char* fn = "ctc_loss backward";
        Dims d = check(lp, targets, offs, ilen, tlen, blank, fn);
        for (const py::array* a : {&nll, &g}) {
          require_float(*a, fn, "nll/grad");
          require_same_dtype(lp, *a, fn, "log_probs", "nll/grad");
          if (a->ndim() != 1 || a->shape(0) != d.N)
            throw py::value_error(P(fn) + "nll and grad must have shape (N,), got " +
                                  shape_str(*a));
        }
        require_float(la, fn, "log_alpha");
        require_same_dtype(lp, la, fn, "log_probs", "log_alpha");
        if (shape_of(la) != Shape{d.N, d.T, 2 * d.Lmax + 1})
          throw py::value_error(P(fn) + "log_alpha has shape " + shape_str(la) +
                                ", expected " + shape_str(Shape{d.N, d.T, 2 * d.Lmax + 1}));
        return is_f32(lp)
                   ? backward_t<float>(lp, targets, offs, ilen, tlen, blank, nll, la, g,
                                       zero_infinity, d)
                   : backward_t<double>(lp, targets, offs, ilen, tlen, blank, nll, la, g,
                                        zero_infinity, d);
      },
      py::arg("log_probs"), py::arg("targets"), py::arg("target_offsets"),
      py::arg("input_lengths"), py::arg("target_lengths"), py::arg("blank"), py::arg("nll"),
      py::arg("log_alpha"), py::arg("grad"), py::arg("zero_infinity"),
      "CTC backward: gradient (T, N, C) of Σ grad[n]·nll[n] with respect to log_probs.");
}

}  // namespace fastdl
