"""fastdl.optim: every optimizer against its NumPy reference (fastdl.testing.reference) and
against torch.optim for 100 steps, on every ISA path, 1 vs 2 threads bitwise, regression
problems, param groups, state_dict round trips, argument errors."""
import copy

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import fastdl
import fastdl.optim as optim
from fastdl import _C
from fastdl.nn import Parameter
from fastdl.tensor import Tensor
from fastdl.testing import assert_close, use_threads
from fastdl.testing.reference import REFERENCE_STEPS

CASES = [
    ("SGD", dict(lr=0.1)),
    ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01)),
    ("SGD", dict(lr=0.05, momentum=0.9, nesterov=True, maximize=True)),
    ("Adam", dict(lr=1e-2)),
    ("Adam", dict(lr=1e-2, amsgrad=True, weight_decay=0.1, maximize=True)),
    ("Adam", dict(lr=1e-2, betas=(0.3, 0.9))),
    ("Adam", dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True)),
    ("AdamW", dict(lr=1e-2)),
    ("AdamW", dict(lr=1e-2, amsgrad=True, weight_decay=0.05)),
    ("Adagrad", dict(lr=0.1)),
    ("Adagrad", dict(lr=0.1, lr_decay=0.01, weight_decay=0.1, initial_accumulator_value=0.1,
                     maximize=True)),
    ("RMSprop", dict(lr=1e-2)),
    ("RMSprop", dict(lr=1e-2, momentum=0.9, centered=True, weight_decay=0.1)),
    ("RMSprop", dict(lr=1e-2, alpha=0.3, centered=True, maximize=True)),
    ("Adadelta", dict()),
    ("Adadelta", dict(lr=0.5, rho=0.8, weight_decay=0.1, maximize=True)),
    ("Adamax", dict(lr=2e-2)),
    ("Adamax", dict(lr=2e-2, weight_decay=0.1, betas=(0.3, 0.9))),
    ("NAdam", dict()),
    ("NAdam", dict(lr=1e-2, weight_decay=0.1)),
    ("NAdam", dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True,
                   momentum_decay=1e-2)),
    ("RAdam", dict()),
    ("RAdam", dict(lr=1e-2, betas=(0.9, 0.9), weight_decay=0.1)),
    ("RAdam", dict(lr=1e-2, weight_decay=0.1, decoupled_weight_decay=True, maximize=True)),
    ("Rprop", dict()),
    ("Rprop", dict(lr=0.05, etas=(0.3, 1.5), step_sizes=(1e-3, 0.2), maximize=True)),
    ("ASGD", dict()),
    ("ASGD", dict(lr=0.05, lambd=0.01, alpha=0.5, t0=10, weight_decay=0.1, maximize=True)),
]
IDS = [f"{n}-{i}" for i, (n, _) in enumerate(CASES)]
NAMES = sorted({n for n, _ in CASES})
# Sizes: tiny, vector tails, several chunks with a tail (kChunk = 16384).
SHAPES = [(1,), (7,), (3, 17), (33,), (16411,)]


def _params(shapes, dtype, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s).astype(dtype) for s in shapes]


def _grads(shapes, dtype, steps, seed=1):
    rng = np.random.default_rng(seed)
    return [[rng.standard_normal(s).astype(dtype) for s in shapes] for _ in range(steps)]


def _run(name, kw, init, grads, **opt_kw):
    ps = [Parameter(a.copy()) for a in init]
    opt = getattr(optim, name)(ps, **kw, **opt_kw)
    for gs in grads:
        for p, g in zip(ps, gs):
            p.grad = Tensor._make(g)
        opt.step()
    return [p._array for p in ps], opt


def _run_ref(name, kw, init, grads):
    ref = REFERENCE_STEPS[name]
    ps = [a.copy() for a in init]
    states = [{} for _ in ps]
    for gs in grads:
        for p, g, st in zip(ps, gs, states):
            ref(p, g, st, **kw)
    return ps


_INIT32 = _params(SHAPES, np.float32)
_GRADS32 = _grads(SHAPES, np.float32, 100)
_REF32 = {}


@pytest.fixture(scope="module")
def torch1():
    """torch on one thread (its OpenMP pool spins badly when the machine is busy)."""
    torch = pytest.importorskip("torch")
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    yield torch
    torch.set_num_threads(prev)


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_against_reference_float32(name, kw, isa):
    init, grads = _INIT32, _GRADS32
    got, _ = _run(name, kw, init, grads)
    key = (name, repr(kw))
    if key not in _REF32:
        _REF32[key] = _run_ref(name, kw, init, grads)
    exp = _REF32[key]
    for a, e in zip(got, exp):
        assert a.dtype == np.float32
        assert_close(a, e, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_against_reference_float64(name, kw):
    shapes = [(5,), (3, 9)]
    init = _params(shapes, np.float64)
    grads = _grads(shapes, np.float64, 100)
    got, _ = _run(name, kw, init, grads)
    exp = _run_ref(name, kw, init, grads)
    for a, e in zip(got, exp):
        assert a.dtype == np.float64
        assert_close(a, e, rtol=1e-11, atol=1e-12)


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_against_torch(name, kw, torch1):
    torch = torch1
    init, grads = _INIT32, _GRADS32
    got, _ = _run(name, kw, init, grads)
    tp = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    topt = getattr(torch.optim, name)(tp, **kw)
    for gs in grads:
        for t, g in zip(tp, gs):
            t.grad = torch.from_numpy(g.copy())
        topt.step()
    for a, t in zip(got, tp):
        assert_close(a, t.detach().numpy(), rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("kw", [dict(t0=5, lambd=0.01), dict(t0=0, alpha=0.5, maximize=True)])
def test_asgd_average_against_torch(kw, torch1):
    """ASGD's running average ``ax`` (its point: the averaged iterate) follows torch's."""
    torch = torch1
    init, grads = _INIT32, _GRADS32
    _, opt = _run("ASGD", kw, init, grads)
    tp = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    topt = torch.optim.ASGD(tp, **kw)
    for gs in grads:
        for t, g in zip(tp, gs):
            t.grad = torch.from_numpy(g.copy())
        topt.step()
    for p, t in zip(opt.param_groups[0]["params"], tp):
        assert_close(opt.state[p]["ax"], topt.state[t]["ax"].numpy(), rtol=1e-5, atol=1e-6)
        assert float(opt.state[p]["step"]) == float(topt.state[t]["step"])


@pytest.mark.parametrize("name,kw", CASES, ids=IDS)
def test_threads_bitwise(name, kw, isa):
    shapes = [(50000,), (3, 1001), (17,)]
    init = _params(shapes, np.float32)
    grads = _grads(shapes, np.float32, 5)
    with use_threads(1):
        one, _ = _run(name, kw, init, grads)
    with use_threads(2):
        two, _ = _run(name, kw, init, grads)
    for a, b in zip(one, two):
        assert np.array_equal(a, b)


# Learning rates that solve the regression below in 300 full-batch steps.
SOLVE = {"SGD": dict(lr=0.1, momentum=0.9), "Adam": dict(lr=0.05), "AdamW": dict(lr=0.05),
         "Adagrad": dict(lr=0.5), "RMSprop": dict(lr=0.01), "Adadelta": dict(lr=1.0, rho=0.5),
         "Adamax": dict(lr=0.1), "NAdam": dict(lr=0.05), "RAdam": dict(lr=0.05),
         "Rprop": dict(lr=0.01), "ASGD": dict(lr=0.05, t0=100)}


@pytest.mark.parametrize("name", sorted(SOLVE))
def test_solves_linear_regression(name):
    rng = np.random.default_rng(3)
    X = rng.standard_normal((128, 5)).astype(np.float32)
    w_true = rng.standard_normal((5, 1)).astype(np.float32)
    y = X @ w_true + 0.5
    x_t, y_t = fastdl.tensor(X), fastdl.tensor(y)
    w = Parameter(np.zeros((5, 1), np.float32))
    b = Parameter(np.zeros((1,), np.float32))
    opt = getattr(optim, name)([w, b], **SOLVE[name])
    for _ in range(300):
        opt.zero_grad()
        loss = ((x_t @ w + b - y_t) ** 2).mean()
        loss.backward()
        opt.step()
    final = float(((X @ w._array + b._array - y) ** 2).mean())
    assert final < 1e-3, f"{name}: loss {final}"
    assert_close(w._array, w_true, atol=0.05, rtol=0.05)


RESUME_KW = {"SGD": dict(lr=0.1, momentum=0.9, dampening=0.1), "Adam": dict(amsgrad=True),
             "RMSprop": dict(momentum=0.9, centered=True), "NAdam": dict(weight_decay=0.1),
             "Adagrad": dict(lr_decay=0.1, initial_accumulator_value=0.5)}


@pytest.mark.parametrize("name", NAMES)
def test_state_dict_resume_bitwise(name):
    kw = RESUME_KW.get(name, {})
    shapes = [(6,), (2, 40)]
    init = _params(shapes, np.float32)
    grads = _grads(shapes, np.float32, 10)
    ps = [Parameter(a.copy()) for a in init]
    opt = getattr(optim, name)(ps, **kw)

    def steps(params, o, gs):
        for g5 in gs:
            for p, g in zip(params, g5):
                p.grad = Tensor._make(g)
            o.step()

    steps(ps, opt, grads[:5])
    sd = opt.state_dict()
    saved = [p._array.copy() for p in ps]
    steps(ps, opt, grads[5:])
    ps2 = [Parameter(a.copy()) for a in saved]
    opt2 = getattr(optim, name)(ps2, lr=123.0)  # options come from the state dict
    opt2.load_state_dict(copy.deepcopy(sd))
    assert opt2.param_groups[0]["lr"] == opt.param_groups[0]["lr"]
    steps(ps2, opt2, grads[5:])
    for a, b in zip(ps, ps2):
        assert np.array_equal(a._array, b._array)
    # the saved dict did not change with the later steps
    assert sd["state"][0].keys() == opt.state_dict()["state"][0].keys()


def test_state_dict_format():
    ps = [Parameter(np.ones(3, np.float32)), Parameter(np.ones(2, np.float32))]
    q = Parameter(np.ones(4, np.float32))
    opt = optim.Adam([{"params": ps}, {"params": [q], "lr": 0.5}])
    for p in ps + [q]:
        p.grad = fastdl.ones(*p.shape)
    opt.step()
    sd = opt.state_dict()
    assert [g["params"] for g in sd["param_groups"]] == [[0, 1], [2]]
    assert sd["param_groups"][1]["lr"] == 0.5
    assert set(sd["state"][2]) == {"step", "exp_avg", "exp_avg_sq"}
    assert float(sd["state"][2]["step"]) == 1.0
    with pytest.raises(ValueError, match="number of parameter groups"):
        optim.Adam(ps).load_state_dict(sd)
    with pytest.raises(ValueError, match="doesn't match the size"):
        optim.Adam([{"params": ps[:1]}, {"params": [q]}]).load_state_dict(sd)


def test_load_torch_state_dict_continues_like_torch(torch1):
    torch = torch1
    init = _params([(4, 3), (5,)], np.float32)
    grads = _grads([(4, 3), (5,)], np.float32, 10)
    tp = [torch.tensor(a.copy(), requires_grad=True) for a in init]
    topt = torch.optim.Adam(tp, lr=0.01, amsgrad=True)
    for gs in grads[:5]:
        for t, g in zip(tp, gs):
            t.grad = torch.from_numpy(g.copy())
        topt.step()
    ps = [Parameter(t.detach().numpy().copy()) for t in tp]
    opt = optim.Adam(ps)
    opt.load_state_dict(topt.state_dict())
    for gs in grads[5:]:
        for t, p, g in zip(tp, ps, gs):
            t.grad = torch.from_numpy(g.copy())
            p.grad = Tensor._make(g)
        topt.step()
        opt.step()
    for p, t in zip(ps, tp):
        assert_close(p._array, t.detach().numpy(), rtol=1e-5, atol=1e-6)


def test_params_without_grad_are_skipped():
    a, b = Parameter(np.ones(3, np.float32)), Parameter(np.ones(3, np.float32))
    opt = optim.Adam([a, b], lr=0.1)
    a.grad = fastdl.ones(3)
    opt.step()
    assert np.array_equal(b._array, np.ones(3, np.float32))
    assert b not in opt.state and float(opt.state[a]["step"]) == 1
    b.grad = fastdl.ones(3)
    opt.step()  # b's first step: same update as a's first step
    assert float(opt.state[a]["step"]) == 2 and float(opt.state[b]["step"]) == 1
    assert_close(b._array, np.full(3, 0.9, np.float32))
    a.grad = None
    b.grad = None
    before = a._array.copy()
    opt.step()
    assert np.array_equal(a._array, before)


def test_duplicate_parameters_rejected():
    p, q = Parameter(np.ones(2, np.float32)), Parameter(np.ones(2, np.float32))
    with pytest.raises(ValueError, match="duplicate"):
        optim.SGD([p, q, p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        optim.SGD([{"params": [p]}, {"params": [q, p]}], lr=0.1)
    opt = optim.SGD([p], lr=0.1)
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [p]})


@pytest.mark.parametrize("name,kw,match", [
    ("SGD", dict(lr=-0.1), "learning rate"),
    ("SGD", dict(lr=0.1, momentum=-1), "momentum"),
    ("SGD", dict(lr=0.1, nesterov=True), "Nesterov"),
    ("SGD", dict(lr=0.1, weight_decay=-1), "weight_decay"),
    ("Adam", dict(lr=-1e-3), "learning rate"),
    ("Adam", dict(betas=(1.0, 0.999)), "beta parameter at index 0"),
    ("Adam", dict(betas=(0.9, -0.1)), "beta parameter at index 1"),
    ("Adam", dict(eps=-1e-8), "epsilon"),
    ("AdamW", dict(weight_decay=-1), "weight_decay"),
    ("Adagrad", dict(lr_decay=-1), "lr_decay"),
    ("Adagrad", dict(initial_accumulator_value=-1), "initial_accumulator_value"),
    ("RMSprop", dict(alpha=-0.5), "alpha"),
    ("Adadelta", dict(rho=1.5), "rho"),
    ("Adamax", dict(betas=(0.9, 1.0)), "beta"),
    ("NAdam", dict(momentum_decay=-1), "momentum_decay"),
    ("RAdam", dict(eps=-1), "epsilon"),
    ("Rprop", dict(etas=(1.2, 0.5)), "eta values"),
    ("Rprop", dict(step_sizes=(1.0, 0.1)), "step_sizes"),
    ("ASGD", dict(weight_decay=-1), "weight_decay"),
    ("Adam", dict(lr=float("nan")), "learning rate"),
])
def test_hyperparameter_validation(name, kw, match):
    with pytest.raises(ValueError, match=match):
        getattr(optim, name)([Parameter(np.ones(2, np.float32))], **kw)


def test_bad_params():
    with pytest.raises(ValueError, match="empty parameter list"):
        optim.SGD([], lr=0.1)
    with pytest.raises(TypeError, match="ordered collections"):
        optim.SGD({Parameter(np.ones(2, np.float32))}, lr=0.1)
    with pytest.raises(TypeError, match="Tensors"):
        optim.SGD([np.ones(2)], lr=0.1)
    x = fastdl.ones(2, requires_grad=True)
    with pytest.raises(ValueError, match="non-leaf"):
        optim.SGD([x * 2], lr=0.1)


def test_zero_grad():
    p = Parameter(np.ones(3, np.float32))
    opt = optim.SGD([p], lr=0.1)
    p.grad = fastdl.ones(3)
    opt.zero_grad(set_to_none=False)
    assert p.grad is not None and np.array_equal(p.grad._array, np.zeros(3, np.float32))
    opt.zero_grad()
    assert p.grad is None


def test_param_groups_and_add_param_group():
    init = _params([(4,), (6,)], np.float32)
    grads = _grads([(4,), (6,)], np.float32, 3)
    a, b = Parameter(init[0].copy()), Parameter(init[1].copy())
    opt = optim.Adam([{"params": [a]}], lr=0.01)
    opt.add_param_group({"params": b, "lr": 0.1, "betas": (0.5, 0.9)})
    assert opt.param_groups[1]["eps"] == 1e-8 and opt.param_groups[1]["lr"] == 0.1
    ea, eb = init[0].copy(), init[1].copy()
    sa, sb = {}, {}
    for ga, gb in grads:
        a.grad, b.grad = Tensor._make(ga), Tensor._make(gb)
        opt.step()
        REFERENCE_STEPS["Adam"](ea, ga, sa, lr=0.01)
        REFERENCE_STEPS["Adam"](eb, gb, sb, lr=0.1, betas=(0.5, 0.9))
    assert_close(a._array, ea)
    assert_close(b._array, eb)


def test_one_kernel_call_per_group(monkeypatch):
    calls = []
    real = _C.optim_step

    def counting(*args, **kwargs):
        calls.append(len(args[1]))
        return real(*args, **kwargs)

    monkeypatch.setattr(_C, "optim_step", counting)
    groups = [{"params": [Parameter(np.ones(10, np.float32)) for _ in range(50)]}
              for _ in range(3)]
    opt = optim.Adam(groups)
    for g in groups:
        for p in g["params"]:
            p.grad = fastdl.ones(10)
    opt.step()
    opt.step()
    assert calls == [50, 50, 50] * 2


def test_noncontiguous_grad_and_mixed_dtypes():
    a = Parameter(np.ones((3, 4), np.float32))
    b = Parameter(np.ones(5, np.float64))
    opt = optim.SGD([a, b], lr=0.5)
    g = np.arange(12, dtype=np.float32).reshape(4, 3).T  # non-contiguous
    a.grad = Tensor._make(g)
    b.grad = Tensor._make(np.ones(5, np.float64))
    opt.step()
    assert_close(a._array, 1 - 0.5 * g)
    assert b._array.dtype == np.float64
    assert_close(b._array, np.full(5, 0.5))


def test_grad_shape_mismatch_is_an_error_and_changes_nothing():
    a = Parameter(np.ones(3, np.float32))
    opt = optim.SGD([a], lr=0.5, momentum=0.9, dampening=0.5)
    a.grad = Tensor._make(np.ones(4, np.float32))
    with pytest.raises(ValueError, match="does not match"):
        opt.step()
    assert np.array_equal(a._array, np.ones(3, np.float32))
    a.grad = Tensor._make(np.ones(3, np.float32))
    opt.step()  # the momentum buffer still starts from this first gradient
    assert_close(a._array, np.full(3, 0.5, np.float32))


def test_step_closure_and_version_bump():
    p = Parameter(np.ones(2, np.float32))
    opt = optim.SGD([p], lr=0.1)

    def closure():
        opt.zero_grad()
        loss = (p * p).sum()
        loss.backward()
        return loss

    v = p._version
    loss = opt.step(closure)
    assert float(loss.item()) == 2.0
    assert_close(p._array, np.full(2, 0.8, np.float32))
    assert p._version > v


def test_binding_errors():
    p = np.ones(4, np.float32)
    g = np.ones(4, np.float32)
    st = [[np.zeros(4, np.float32)], [np.zeros(4, np.float32)], None]
    steps = [np.zeros((), np.float64)]
    with pytest.raises(TypeError, match=r"grads\[0\] is float64"):
        _C.optim_step("adam", [p], [g.astype(np.float64)], st, steps)
    with pytest.raises(ValueError, match=r"states\[1\]\[0\] has shape \(5,\)"):
        _C.optim_step("adam", [p], [g], [st[0], [np.zeros(5, np.float32)], None], steps)
    with pytest.raises(ValueError, match="needs states"):
        _C.optim_step("adam", [p], [g], [st[0], None, None], steps)
    ro = np.ones(4, np.float32)
    ro.flags.writeable = False
    with pytest.raises(ValueError, match="read-only"):
        _C.optim_step("adam", [ro], [g], st, steps)
    with pytest.raises(ValueError, match="C-contiguous"):
        _C.optim_step("sgd", [np.ones(8, np.float32)[::2]], [g], [None, None, None])
    with pytest.raises(TypeError, match="float32 or float64"):
        _C.optim_step("sgd", [np.ones(4, np.int64)], [g], [None, None, None])
    with pytest.raises(ValueError, match="one element"):
        _C.optim_step("adam", [p], [g], st, [np.zeros(2)])
    with pytest.raises(ValueError, match="unknown algorithm"):
        _C.optim_step("lion", [p], [g], st, steps)
    with pytest.raises(ValueError, match="has 2 arrays"):
        _C.optim_step("sgd", [p], [g, g], [None, None, None])
    assert np.array_equal(p, np.ones(4, np.float32)) and float(steps[0]) == 0.0


def test_repr_and_defaults():
    opt = optim.AdamW([Parameter(np.ones(2, np.float32))])
    assert opt.defaults["weight_decay"] == 1e-2 and opt.defaults["decoupled_weight_decay"]
    assert "AdamW (" in repr(opt) and "lr: 0.001" in repr(opt)
    assert optim.SGD([Parameter(np.ones(1))]).defaults["lr"] == 1e-3
    assert optim.NAdam([Parameter(np.ones(1))]).defaults["lr"] == 2e-3
    assert optim.Adamax([Parameter(np.ones(1))]).defaults["lr"] == 2e-3


class _Tiny(fastdl.nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = Parameter(np.zeros((1, 2), np.float32))


def test_early_stopping_restores_best_weights():
    model = _Tiny()
    stopper = optim.EarlyStopping(patience=2, min_delta=0.1)
    losses = [1.0, 0.5, 0.45, 0.6, 0.3]
    snapshots = []
    stopped_at = None
    for epoch, loss in enumerate(losses):
        with fastdl.no_grad():
            model.weight._array += 1.0  # "training" changes the weights every epoch
        snapshots.append(model.weight._array.copy())
        if stopper.step(loss, model):
            stopped_at = epoch
            break
    assert stopped_at == 3  # 0.45 and 0.6 do not improve on 0.5 by more than 0.1
    assert stopper.best == 0.5 and stopper.best_epoch == 1
    assert np.array_equal(model.weight._array, snapshots[1])


def test_early_stopping_max_mode_and_errors():
    s = optim.EarlyStopping(patience=1, mode="max", restore_best_weights=False)
    assert not s.step(0.5)
    assert not s.step(0.7)
    assert s.step(float("nan"))
    s2 = optim.EarlyStopping(patience=3)
    s2.load_state_dict(s.state_dict())
    assert s2.best == 0.7 and s2.should_stop
    with pytest.raises(ValueError, match="mode"):
        optim.EarlyStopping(mode="up")
    with pytest.raises(ValueError, match="patience"):
        optim.EarlyStopping(patience=0)


@settings(max_examples=25, deadline=None)
@given(sizes=st.lists(st.integers(0, 3000), min_size=1, max_size=5),
       name=st.sampled_from(NAMES),
       lr=st.floats(1e-4, 0.1), wd=st.sampled_from([0.0, 0.01]),
       maximize=st.booleans(), dtype=st.sampled_from([np.float32, np.float64]))
def test_property_against_reference(sizes, name, lr, wd, maximize, dtype):
    shapes = [(s,) for s in sizes]
    init = _params(shapes, dtype, seed=len(sizes))
    grads = _grads(shapes, dtype, 4, seed=sum(sizes))
    kw = dict(lr=lr, weight_decay=wd, maximize=maximize)
    if name == "Rprop":  # no weight decay in Rprop
        del kw["weight_decay"]
    got, opt = _run(name, kw, init, grads)
    exp = _run_ref(name, kw, init, grads)
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-13)
    for a, e in zip(got, exp):
        assert_close(a, e, **tol)
    if name != "SGD":
        assert all(float(s["step"]) == 4 for s in opt.state.values())


def test_empty_lists_and_zero_size():
    _C.optim_step("adam", [], [], [None, None, None])
    z = np.zeros(0, np.float32)
    steps = [np.zeros((), np.float64)]
    _C.optim_step("adam", [z], [z], [[z.copy()], [z.copy()], None], steps)
    assert float(steps[0]) == 1.0
    assert _C.multi_tensor_norm([], 2.0) == 0.0
