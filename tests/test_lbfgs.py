"""fastdl.optim.LBFGS against torch.optim.LBFGS (float64, the same iterates step by step, with
and without the strong-Wolfe line search), convergence without torch, state_dict, errors."""
import numpy as np
import pytest

import fastdl
import fastdl.optim as optim
from fastdl.nn import Parameter


def _rosenbrock(a, b):
    return (1 - a) ** 2 + 100 * (b - a * a) ** 2


def _least_squares_problem(seed=0):
    rng = np.random.default_rng(seed)
    A = rng.standard_normal((30, 6))
    b = rng.standard_normal((30, 1))
    return A, b


def _run(lib, kw, steps, problem):
    """LBFGS on `problem` with `lib` (fastdl or torch: the same code, torch's API) for
    `steps` steps; returns (the parameters after each step, the optimiser, the closure)."""
    def param(a):
        return lib.tensor(a, dtype=lib.float64, requires_grad=True)

    if problem == "rosenbrock":
        ps = [param(np.array([-1.2])), param(np.array([1.0]))]

        def loss_fn():
            return _rosenbrock(ps[0], ps[1]).sum()
    else:
        A, b = _least_squares_problem()
        At, bt = lib.from_numpy(A), lib.from_numpy(b)
        ps = [param(np.zeros((6, 1))), param(np.zeros((1,)))]

        def loss_fn():
            r = At @ ps[0] + ps[1] - bt
            return (r * r).mean() + 0.1 * (ps[0] ** 4).sum()
    opt = lib.optim.LBFGS(ps, **kw)

    def closure():
        opt.zero_grad()
        loss = loss_fn()
        loss.backward()
        return loss
    traj = []
    for _ in range(steps):
        opt.step(closure)
        traj.append(np.concatenate([p.detach().numpy().ravel() for p in ps]))
    return traj, opt, closure


def _fastdl_run(kw, steps, problem):
    return _run(fastdl, kw, steps, problem)


@pytest.mark.parametrize("problem", ["rosenbrock", "least_squares"])
@pytest.mark.parametrize("kw", [dict(lr=0.1, max_iter=5), dict(line_search_fn="strong_wolfe"),
                                dict(lr=0.5, max_iter=7, history_size=3,
                                     line_search_fn="strong_wolfe")])
def test_same_iterates_as_torch(kw, problem):
    torch = pytest.importorskip("torch")
    ours, _, _ = _fastdl_run(kw, 6, problem)
    theirs, _, _ = _run(torch, kw, 6, problem)
    for i, (a, b) in enumerate(zip(ours, theirs)):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-12, err_msg=f"step {i}")


def test_converges_on_rosenbrock():
    traj, opt, _ = _fastdl_run(dict(line_search_fn="strong_wolfe", max_iter=50), 5,
                               "rosenbrock")
    assert np.allclose(traj[-1], [1.0, 1.0], atol=1e-4)  # from (-1.2, 1): the classic start
    assert float(_rosenbrock(traj[-1][0], traj[-1][1])) < 1e-8
    st = opt.state[opt.param_groups[0]["params"][0]]
    assert st["n_iter"] > 0 and st["func_evals"] >= st["n_iter"]


def test_state_dict_resume():
    _, opt, closure = _fastdl_run(dict(line_search_fn="strong_wolfe", max_iter=3), 2,
                                  "least_squares")
    sd = opt.state_dict()
    ps = opt.param_groups[0]["params"]
    saved = [p._array.copy() for p in ps]
    opt.step(closure)
    after = [p._array.copy() for p in ps]
    for p, s in zip(ps, saved):
        np.copyto(p._array, s)
    opt.load_state_dict(sd)
    opt.step(closure)
    for p, a in zip(ps, after):
        assert np.array_equal(p._array, a)


def test_errors():
    p = Parameter(np.ones(2))
    with pytest.raises(ValueError, match="learning rate"):
        optim.LBFGS([p], lr=-1)
    with pytest.raises(ValueError, match="line_search_fn"):
        optim.LBFGS([p], line_search_fn="armijo")
    with pytest.raises(ValueError, match="parameter groups"):
        optim.LBFGS([{"params": [p]}, {"params": [Parameter(np.ones(1))]}])
    with pytest.raises(RuntimeError, match="closure"):
        optim.LBFGS([p]).step(None)
