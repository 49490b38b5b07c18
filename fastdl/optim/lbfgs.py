"""L-BFGS (``fastdl.optim.LBFGS``): PyTorch's algorithm and options.

L-BFGS works on all parameters as one flat vector and needs the loss several times per step,
so ``step`` takes a ``closure`` that clears the gradients, computes the loss, calls
``backward()`` and returns it. The vector work (dot products and axpy over the flattened
parameters) is NumPy's: a few passes per iteration, memory-bound, no kernel of its own.
"""
from __future__ import annotations

import math

import numpy as np

from . import _checks
from .optimizer import Optimizer

__all__ = ["LBFGS"]


def _cubic_min(x1, f1, g1, x2, f2, g2, bounds=None):
    """Minimiser of the cubic through (x1, f1) and (x2, f2) with slopes g1, g2, clipped to
    ``bounds`` (default: the interval between x1 and x2); the midpoint when the cubic has no
    real minimiser."""
    lo, hi = bounds if bounds is not None else (min(x1, x2), max(x1, x2))
    d1 = g1 + g2 - 3.0 * (f1 - f2) / (x1 - x2)
    disc = d1 * d1 - g1 * g2
    if disc < 0:
        return (lo + hi) / 2.0
    d2 = math.sqrt(disc)
    if x1 <= x2:
        x = x2 - (x2 - x1) * ((g2 + d2 - d1) / (g2 - g1 + 2.0 * d2))
    else:
        x = x1 - (x1 - x2) * ((g1 + d2 - d1) / (g1 - g2 + 2.0 * d2))
    return min(max(x, lo), hi)


def _strong_wolfe(evaluate, t, d, f, g, gtd, c1=1e-4, c2=0.9, tolerance_change=1e-9,
                  max_ls=25):
    """Line search for a step t along d satisfying the strong Wolfe conditions (sufficient
    decrease c1, curvature c2): bracketing, then zoom by cubic interpolation (Nocedal &
    Wright, algorithms 3.5/3.6, with the safeguards PyTorch uses). ``evaluate(t)`` returns
    (loss, flat gradient) at x + t·d. Returns (loss, gradient, t, evaluations)."""
    d_norm = float(np.abs(d).max())
    f_new, g_new = evaluate(t)
    evals = 1
    gtd_new = float(g_new @ d)
    t_prev, f_prev, g_prev, gtd_prev = 0.0, f, g.copy(), gtd
    done = False
    it = 0
    # phase 1: find an interval containing acceptable steps
    while it < max_ls:
        if f_new > f + c1 * t * gtd or (it > 1 and f_new >= f_prev):
            br, br_f, br_g, br_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new.copy()], \
                [gtd_prev, gtd_new]
            break
        if abs(gtd_new) <= -c2 * gtd:
            br, br_f, br_g, br_gtd = [t], [f_new], [g_new], [gtd_new]
            done = True
            break
        if gtd_new >= 0:
            br, br_f, br_g, br_gtd = [t_prev, t], [f_prev, f_new], [g_prev, g_new.copy()], \
                [gtd_prev, gtd_new]
            break
        # extrapolate
        t_next = _cubic_min(t_prev, f_prev, gtd_prev, t, f_new, gtd_new,
                            bounds=(t + 0.01 * (t - t_prev), t * 10))
        t_prev, f_prev, g_prev, gtd_prev = t, f_new, g_new.copy(), gtd_new
        t = t_next
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = float(g_new @ d)
        it += 1
    if it == max_ls:
        br, br_f, br_g, br_gtd = [0.0, t], [f, f_new], [g, g_new], [gtd, gtd_new]
    # phase 2: zoom into the interval
    insufficient = False
    lo_i, hi_i = (0, 1) if br_f[0] <= br_f[-1] else (1, 0)
    while not done and it < max_ls:
        if abs(br[1] - br[0]) * d_norm < tolerance_change:
            break
        t = _cubic_min(br[0], br_f[0], br_gtd[0], br[1], br_f[1], br_gtd[1])
        # keep away from the interval's ends unless progress is being made
        eps = 0.1 * (max(br) - min(br))
        if min(max(br) - t, t - min(br)) < eps:
            if insufficient or t >= max(br) or t <= min(br):
                t = max(br) - eps if abs(t - max(br)) < abs(t - min(br)) else min(br) + eps
                insufficient = False
            else:
                insufficient = True
        else:
            insufficient = False
        f_new, g_new = evaluate(t)
        evals += 1
        gtd_new = float(g_new @ d)
        it += 1
        if f_new > f + c1 * t * gtd or f_new >= br_f[lo_i]:
            br[hi_i], br_f[hi_i], br_g[hi_i], br_gtd[hi_i] = t, f_new, g_new.copy(), gtd_new
            lo_i, hi_i = (0, 1) if br_f[0] <= br_f[1] else (1, 0)
        else:
            if abs(gtd_new) <= -c2 * gtd:
                done = True
            elif gtd_new * (br[hi_i] - br[lo_i]) >= 0:
                br[hi_i], br_f[hi_i], br_g[hi_i], br_gtd[hi_i] = \
                    br[lo_i], br_f[lo_i], br_g[lo_i], br_gtd[lo_i]
            br[lo_i], br_f[lo_i], br_g[lo_i], br_gtd[lo_i] = t, f_new, g_new.copy(), gtd_new
    return br_f[lo_i], br_g[lo_i], br[lo_i], evals


class LBFGS(Optimizer):
    r"""Limited-memory BFGS (Nocedal), PyTorch's algorithm and defaults.

    Per ``step(closure)``: up to ``max_iter`` iterations, each a quasi-Newton direction from
    the last ``history_size`` pairs (s = Δx, y = Δgrad) by the two-loop recursion, then a step
    of ``lr`` (the very first: ``min(1, 1/‖g‖₁)·lr``) or, with
    ``line_search_fn='strong_wolfe'``, a strong-Wolfe line search. Stops early when
    ``max|g| ≤ tolerance_grad``, the step or the loss change falls below
    ``tolerance_change``, or after ``max_eval`` loss evaluations (default ``max_iter·5/4``).
    One parameter group only; the history lives in the state of the first parameter.

    Example::

        opt = fastdl.optim.LBFGS(model.parameters(), lr=1, line_search_fn="strong_wolfe")
        def closure():
            opt.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            return loss
        opt.step(closure)
    """

    _stepped = False

    def __init__(self, params, lr=1, max_iter=20, max_eval=None, tolerance_grad=1e-7,
                 tolerance_change=1e-9, history_size=100, line_search_fn=None):
        _checks.check_lr({"lr": lr})
        if max_eval is None:
            max_eval = max_iter * 5 // 4
        if line_search_fn not in (None, "strong_wolfe"):
            raise ValueError(f"line_search_fn must be None or 'strong_wolfe', got "
                             f"{line_search_fn!r}")
        defaults = dict(lr=lr, max_iter=max_iter, max_eval=max_eval,
                        tolerance_grad=tolerance_grad, tolerance_change=tolerance_change,
                        history_size=history_size, line_search_fn=line_search_fn)
        super().__init__(params, defaults)
        if len(self.param_groups) != 1:
            raise ValueError("LBFGS doesn't support per-parameter options (parameter groups)")
        self._params = self.param_groups[0]["params"]
        self._dtype = np.result_type(*[p._array.dtype for p in self._params])

    # ---- the flat view of all parameters ------------------------------------------------------
    def _flat_grad(self):
        return np.concatenate([
            (np.asarray(p.grad._array, dtype=self._dtype) if p.grad is not None
             else np.zeros(p._array.size, self._dtype)).ravel() for p in self._params])

    def _add(self, t, d):
        """x += t·d over the flattened parameters."""
        off = 0
        for p in self._params:
            n = p._array.size
            p._array += (t * d[off:off + n]).reshape(p._array.shape).astype(p._array.dtype, copy=False)
            p._vc[0] += 1
            off += n

    def _set(self, xs):
        for p, x in zip(self._params, xs):
            np.copyto(p._array, x)
            p._vc[0] += 1

    def step(self, closure):
        """One L-BFGS step (up to ``max_iter`` iterations); returns the loss of the first
        closure call."""
        if closure is None:
            raise RuntimeError("LBFGS.step requires a closure that reevaluates the model")
        g = self.param_groups[0]
        lr, max_iter, max_eval = g["lr"], g["max_iter"], g["max_eval"]
        tol_grad, tol_change = g["tolerance_grad"], g["tolerance_change"]
        history, line_search = g["history_size"], g["line_search_fn"]
        state = self.state.setdefault(self._params[0], {})
        state.setdefault("func_evals", 0)
        state.setdefault("n_iter", 0)

        orig_loss = closure()
        loss = float(orig_loss)
        evals = 1
        state["func_evals"] += 1
        flat_grad = self._flat_grad()
        if float(np.abs(flat_grad).max(initial=0.0)) <= tol_grad:
            return orig_loss

        d, t = state.get("d"), state.get("t")
        old_dirs, old_stps, ro = state.get("old_dirs"), state.get("old_stps"), state.get("ro")
        h_diag, prev_grad = state.get("H_diag"), state.get("prev_flat_grad")
        prev_loss = state.get("prev_loss")
        n_iter = 0
        while n_iter < max_iter:
            n_iter += 1
            state["n_iter"] += 1
            if state["n_iter"] == 1:
                d = -flat_grad
                old_dirs, old_stps, ro, h_diag = [], [], [], 1.0
            else:
                y = flat_grad - prev_grad
                s = d * t
                ys = float(y @ s)
                if ys > 1e-10:  # curvature pair kept only when positive
                    if len(old_dirs) == history:
                        old_dirs.pop(0)
                        old_stps.pop(0)
                        ro.pop(0)
                    old_dirs.append(y)
                    old_stps.append(s)
                    ro.append(1.0 / ys)
                    h_diag = ys / float(y @ y)
                # two-loop recursion: d = -H·g
                al = [0.0] * len(old_dirs)
                q = -flat_grad
                for i in range(len(old_dirs) - 1, -1, -1):
                    al[i] = float(old_stps[i] @ q) * ro[i]
                    q = q - al[i] * old_dirs[i]
                d = q * h_diag
                for i in range(len(old_dirs)):
                    be = float(old_dirs[i] @ d) * ro[i]
                    d = d + (al[i] - be) * old_stps[i]
            prev_grad = flat_grad.copy()
            prev_loss = loss
            if state["n_iter"] == 1:
                t = min(1.0, 1.0 / float(np.abs(flat_grad).sum())) * lr
            else:
                t = lr
            gtd = float(flat_grad @ d)
            if gtd > -tol_change:  # not a descent direction
                break

            ls_evals = 0
            if line_search == "strong_wolfe":
                x0 = [p._array.copy() for p in self._params]

                def evaluate(step, x0=x0, d=d):
                    self._add(step, d)
                    f_ = float(closure())
                    g_ = self._flat_grad()
                    self._set(x0)
                    return f_, g_

                loss, flat_grad, t, ls_evals = _strong_wolfe(evaluate, t, d, loss, flat_grad,
                                                             gtd, tolerance_change=tol_change)
                self._add(t, d)
                opt_cond = float(np.abs(flat_grad).max()) <= tol_grad
            else:
                self._add(t, d)
                opt_cond = False
                if n_iter != max_iter:
                    loss = float(closure())
                    flat_grad = self._flat_grad()
                    opt_cond = float(np.abs(flat_grad).max()) <= tol_grad
                    ls_evals = 1
            evals += ls_evals
            state["func_evals"] += ls_evals

            if n_iter == max_iter or evals >= max_eval or opt_cond:
                break
            if float(np.abs(d * t).max()) <= tol_change:
                break
            if abs(loss - prev_loss) < tol_change:
                break

        state.update(d=d, t=t, old_dirs=old_dirs, old_stps=old_stps, ro=ro, H_diag=h_diag,
                     prev_flat_grad=prev_grad, prev_loss=prev_loss)
        return orig_loss

    def state_dict(self):
        """As ``Optimizer.state_dict``, with the history lists copied too."""
        sd = super().state_dict()
        for st in sd["state"].values():
            for k in ("old_dirs", "old_stps", "ro"):
                if k in st and st[k] is not None:
                    st[k] = [v.copy() if isinstance(v, np.ndarray) else v for v in st[k]]
        return sd

    def load_state_dict(self, state_dict):
        """Restore options and the L-BFGS history saved by ``state_dict()``."""
        groups = state_dict["param_groups"]
        if len(groups) != 1 or len(groups[0]["params"]) != len(self._params):
            raise ValueError("loaded state dict does not match this LBFGS's parameters")
        for k, v in groups[0].items():
            if k != "params":
                self.param_groups[0][k] = v
        self.state = {}
        for i, st in state_dict["state"].items():
            p = self._params[int(i)]
            self.state[p] = {k: ([x.copy() if isinstance(x, np.ndarray) else x for x in v]
                                 if isinstance(v, list) else
                                 (v.copy() if isinstance(v, np.ndarray) else v))
                             for k, v in st.items()}
