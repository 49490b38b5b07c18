"""fastdl.optim.lr_scheduler against torch.optim.lr_scheduler: the same learning rates (and
cycled momenta) every step, state_dict round trips, argument errors."""
import numpy as np
import pytest

import fastdl.optim as optim
from fastdl.nn import Parameter
from fastdl.optim import lr_scheduler as S


def _fastdl_opt(kind="SGD"):
    groups = [{"params": [Parameter(np.ones(2, np.float32))]},
              {"params": [Parameter(np.ones(3, np.float32))], "lr": 0.5}]
    if kind == "SGD":
        return optim.SGD(groups, lr=0.1, momentum=0.9)
    return optim.Adam(groups, lr=0.1)


def _torch_opt(torch, kind="SGD"):
    groups = [{"params": [torch.ones(2, requires_grad=True)]},
              {"params": [torch.ones(3, requires_grad=True)], "lr": 0.5}]
    if kind == "SGD":
        return torch.optim.SGD(groups, lr=0.1, momentum=0.9)
    return torch.optim.Adam(groups, lr=0.1)


def _lam(e):
    return 1.0 / (e + 1)


# (name, kwargs factory given the scheduler module, optimizer kind, steps)
CASES = [
    ("StepLR", lambda m: dict(step_size=3, gamma=0.5), "SGD", 20),
    ("MultiStepLR", lambda m: dict(milestones=[2, 5, 5, 9], gamma=0.3), "SGD", 15),
    ("ExponentialLR", lambda m: dict(gamma=0.9), "SGD", 20),
    ("CosineAnnealingLR", lambda m: dict(T_max=7, eta_min=0.01), "SGD", 30),
    ("CosineAnnealingLR", lambda m: dict(T_max=10), "Adam", 12),
    ("LinearLR", lambda m: dict(start_factor=0.25, total_iters=6), "SGD", 12),
    ("LinearLR", lambda m: dict(start_factor=1.0, end_factor=0.1, total_iters=4), "SGD", 8),
    ("LambdaLR", lambda m: dict(lr_lambda=_lam), "SGD", 10),
    ("LambdaLR", lambda m: dict(lr_lambda=[_lam, lambda e: 0.5 ** e]), "SGD", 10),
    ("MultiplicativeLR", lambda m: dict(lr_lambda=lambda e: 0.95), "SGD", 10),
    ("ConstantLR", lambda m: dict(factor=0.5, total_iters=4), "SGD", 8),
    ("OneCycleLR", lambda m: dict(max_lr=[0.5, 1.0], total_steps=30), "SGD", 30),
    ("OneCycleLR", lambda m: dict(max_lr=0.3, epochs=4, steps_per_epoch=5,
                                  anneal_strategy="linear", three_phase=True), "Adam", 20),
    ("OneCycleLR", lambda m: dict(max_lr=0.3, total_steps=10, cycle_momentum=False,
                                  pct_start=0.5), "SGD", 10),
    ("PolynomialLR", lambda m: dict(total_iters=6), "SGD", 10),
    ("PolynomialLR", lambda m: dict(total_iters=8, power=2.5), "Adam", 12),
    ("CosineAnnealingWarmRestarts", lambda m: dict(T_0=4), "SGD", 14),
    ("CosineAnnealingWarmRestarts", lambda m: dict(T_0=3, T_mult=2, eta_min=0.01), "SGD", 25),
    ("CyclicLR", lambda m: dict(base_lr=0.01, max_lr=0.1, step_size_up=4), "SGD", 20),
    ("CyclicLR", lambda m: dict(base_lr=[0.01, 0.02], max_lr=[0.1, 0.4], step_size_up=3,
                                step_size_down=5, mode="triangular2"), "SGD", 30),
    ("CyclicLR", lambda m: dict(base_lr=0.001, max_lr=0.1, step_size_up=2, mode="exp_range",
                                gamma=0.9), "Adam", 15),
    ("CyclicLR", lambda m: dict(base_lr=0.01, max_lr=0.1, step_size_up=3,
                                scale_fn=lambda x: 0.5 ** x, scale_mode="iterations",
                                cycle_momentum=False), "SGD", 12),
]


def _momenta(opt):
    return [g["betas"][0] if "betas" in g else g["momentum"] for g in opt.param_groups]


@pytest.mark.parametrize("name,kw,kind,steps", CASES,
                         ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_against_torch(name, kw, kind, steps):
    torch = pytest.importorskip("torch")
    opt, topt = _fastdl_opt(kind), _torch_opt(torch, kind)
    sched = getattr(S, name)(opt, **kw(S))
    tsched = getattr(torch.optim.lr_scheduler, name)(topt, **kw(None))
    assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-15, abs=0)
    for _ in range(steps):
        opt.step()
        topt.step()
        sched.step()
        tsched.step()
        assert sched.get_last_lr() == pytest.approx(tsched.get_last_lr(), rel=1e-14, abs=0)
        assert [g["lr"] for g in opt.param_groups] == sched.get_last_lr()
        assert _momenta(opt) == pytest.approx(_momenta(topt), rel=1e-14)


def test_sequential_against_torch():
    torch = pytest.importorskip("torch")
    opt, topt = _fastdl_opt(), _torch_opt(torch)
    s = S.SequentialLR(opt, [S.LinearLR(opt, start_factor=0.1, total_iters=5),
                             S.CosineAnnealingLR(opt, T_max=10),
                             S.ExponentialLR(opt, gamma=0.8)], milestones=[5, 15])
    tl = torch.optim.lr_scheduler
    ts = tl.SequentialLR(topt, [tl.LinearLR(topt, start_factor=0.1, total_iters=5),
                                tl.CosineAnnealingLR(topt, T_max=10),
                                tl.ExponentialLR(topt, gamma=0.8)], milestones=[5, 15])
    assert s.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-15)
    for _ in range(25):
        opt.step()
        topt.step()
        s.step()
        ts.step()
        assert s.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-14)


def test_chained_against_torch():
    torch = pytest.importorskip("torch")
    opt, topt = _fastdl_opt(), _torch_opt(torch)
    s = S.ChainedScheduler([S.ConstantLR(opt, factor=0.1, total_iters=3),
                            S.ExponentialLR(opt, gamma=0.9),
                            S.CosineAnnealingLR(opt, T_max=7)])
    tl = torch.optim.lr_scheduler
    ts = tl.ChainedScheduler([tl.ConstantLR(topt, factor=0.1, total_iters=3),
                              tl.ExponentialLR(topt, gamma=0.9),
                              tl.CosineAnnealingLR(topt, T_max=7)])
    assert s.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-15)
    for _ in range(15):
        opt.step()
        topt.step()
        s.step()
        ts.step()
        assert s.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-14)


def test_chained_values_and_errors():
    opt = _fastdl_opt()
    s = S.ChainedScheduler([S.ConstantLR(opt, factor=0.5, total_iters=2),
                            S.ExponentialLR(opt, gamma=0.5)])
    lrs = []
    for _ in range(4):
        lrs.append(s.get_last_lr()[0])
        s.step()
    assert lrs == pytest.approx([0.05, 0.025, 0.025, 0.0125])
    with pytest.raises(ValueError, match="at least one"):
        S.ChainedScheduler([])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        S.ChainedScheduler([S.ReduceLROnPlateau(_fastdl_opt())])
    with pytest.raises(ValueError, match="same optimizer"):
        S.ChainedScheduler([S.StepLR(_fastdl_opt(), 1), S.StepLR(_fastdl_opt(), 1)])


@pytest.mark.parametrize("kw", [dict(), dict(mode="max", threshold_mode="abs", patience=1,
                                            cooldown=2, factor=0.5, min_lr=[0.01, 0.2]),
                                dict(patience=0, factor=0.1, min_lr=1e-3, eps=1e-3)])
def test_reduce_on_plateau_against_torch(kw):
    torch = pytest.importorskip("torch")
    opt, topt = _fastdl_opt(), _torch_opt(torch)
    s = S.ReduceLROnPlateau(opt, **kw)
    ts = torch.optim.lr_scheduler.ReduceLROnPlateau(topt, **kw)
    metrics = np.random.default_rng(0).standard_normal(40).cumsum()
    metrics[20:] = metrics[20]  # a plateau
    for m in metrics:
        opt.step()
        topt.step()
        s.step(float(m))
        ts.step(float(m))
        assert s.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-15)
    assert s.num_bad_epochs == ts.num_bad_epochs and s.best == ts.best


def test_reduce_on_plateau_semantics():
    opt = _fastdl_opt()
    s = S.ReduceLROnPlateau(opt, patience=2, factor=0.5)
    for m in [1.0, 1.0, 1.0]:
        s.step(m)
    assert s.get_last_lr() == [0.1, 0.5]
    s.step(1.0)  # fourth epoch without improvement: > patience bad epochs
    assert s.get_last_lr() == [0.05, 0.25]
    s.step(0.5)  # improvement resets the count
    assert s.num_bad_epochs == 0 and s.best == 0.5


@pytest.mark.parametrize("make", [
    lambda o: S.StepLR(o, step_size=2, gamma=0.5),
    lambda o: S.CosineAnnealingLR(o, T_max=5),
    lambda o: S.OneCycleLR(o, max_lr=1.0, total_steps=20),
    lambda o: S.LambdaLR(o, _lam),
    lambda o: S.SequentialLR(o, [S.ConstantLR(o, factor=0.5, total_iters=2),
                                 S.ExponentialLR(o, gamma=0.9)], milestones=[3]),
    lambda o: S.ReduceLROnPlateau(o, patience=1),
    lambda o: S.PolynomialLR(o, total_iters=8, power=2.0),
    lambda o: S.CosineAnnealingWarmRestarts(o, T_0=3, T_mult=2),
    lambda o: S.CyclicLR(o, base_lr=0.01, max_lr=0.1, step_size_up=3, mode="triangular2"),
])
def test_state_dict_round_trip(make):
    opt = _fastdl_opt()
    s = make(opt)
    plateau = isinstance(s, S.ReduceLROnPlateau)
    for i in range(6):
        s.step(float(i % 2)) if plateau else s.step()
    sd = s.state_dict()
    assert "optimizer" not in sd
    opt2 = _fastdl_opt()
    s2 = make(opt2)  # as when resuming: build both, then load both
    opt2.load_state_dict(opt.state_dict())
    s2.load_state_dict(sd)
    for i in range(6):
        if plateau:
            s.step(1.0)
            s2.step(1.0)
        else:
            s.step()
            s2.step()
        assert s.get_last_lr() == s2.get_last_lr()


@pytest.mark.parametrize("T_mult", [1, 2])
def test_warm_restarts_step_epoch_against_torch(T_mult):
    """step(epoch) with fractional epochs (per-batch use) lands on torch's schedule."""
    torch = pytest.importorskip("torch")
    opt, topt = _fastdl_opt(), _torch_opt(torch)
    s = S.CosineAnnealingWarmRestarts(opt, T_0=3, T_mult=T_mult, eta_min=0.001)
    ts = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(topt, T_0=3, T_mult=T_mult,
                                                              eta_min=0.001)
    for epoch in [0.5, 1.25, 2.9, 3.0, 4.5, 8.75, 10.0, 21.3, 2.0]:
        s.step(epoch)
        ts.step(epoch)
        assert s.get_last_lr() == pytest.approx(ts.get_last_lr(), rel=1e-14)
        assert s.T_i == ts.T_i and s.last_epoch == ts.last_epoch


def test_new_schedules_values():
    """Spot values from the formulas (no torch needed)."""
    s = S.PolynomialLR(_fastdl_opt(), total_iters=4, power=2.0)
    lrs = []
    for _ in range(6):
        lrs.append(s.get_last_lr()[0])
        s.step()
    assert lrs == pytest.approx([0.1, 0.1 * 0.75 ** 2, 0.1 * 0.5 ** 2, 0.1 * 0.25 ** 2, 0, 0])
    opt = _fastdl_opt()
    s = S.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=2)
    lrs = []
    for _ in range(7):
        lrs.append(s.get_last_lr()[0])
        s.step()
    assert lrs == pytest.approx([0.1, 0.05, 0.1, 0.1 * (1 + 2 ** -0.5) / 2, 0.05,
                                 0.1 * (1 - 2 ** -0.5) / 2, 0.1])
    opt = _fastdl_opt()
    s = S.CyclicLR(opt, base_lr=0.0, max_lr=1.0, step_size_up=2, mode="triangular2")
    lrs, moms = [], []
    for _ in range(9):
        lrs.append(s.get_last_lr()[0])
        moms.append(opt.param_groups[0]["momentum"])
        s.step()
    assert lrs == pytest.approx([0, 0.5, 1, 0.5, 0, 0.25, 0.5, 0.25, 0])
    assert moms == pytest.approx([0.9, 0.85, 0.8, 0.85, 0.9, 0.875, 0.85, 0.875, 0.9])


def test_new_schedules_errors():
    opt = _fastdl_opt()
    with pytest.raises(ValueError, match="T_0"):
        S.CosineAnnealingWarmRestarts(opt, T_0=0)
    with pytest.raises(ValueError, match="T_mult"):
        S.CosineAnnealingWarmRestarts(opt, T_0=2, T_mult=0)
    with pytest.raises(ValueError, match="non-negative epoch"):
        S.CosineAnnealingWarmRestarts(opt, T_0=2).step(-1)
    with pytest.raises(ValueError, match="mode is invalid"):
        S.CyclicLR(opt, 0.01, 0.1, mode="square")
    with pytest.raises(ValueError, match="expected 2 values for max_lr"):
        S.CyclicLR(opt, 0.01, [0.1])
    with pytest.raises(ValueError, match="momentum"):
        S.CyclicLR(optim.Adagrad([Parameter(np.ones(1))], lr=0.1), 0.01, 0.1)
    with pytest.raises(ValueError, match="positive"):
        S.CyclicLR(opt, 0.01, 0.1, step_size_up=0)


def test_closed_form_step_epoch():
    opt = _fastdl_opt()
    s = S.StepLR(opt, step_size=3, gamma=0.5)
    s.step(7)
    assert s.get_last_lr() == [0.1 * 0.25, 0.5 * 0.25]
    s = S.MultiStepLR(_fastdl_opt(), milestones=[2, 4], gamma=0.1)
    s.step(5)
    assert s.get_last_lr() == pytest.approx([0.1 * 0.01, 0.5 * 0.01])


def test_scheduler_changes_what_the_optimizer_uses():
    p = Parameter(np.zeros(1, np.float32))
    opt = optim.SGD([p], lr=1.0)
    s = S.StepLR(opt, step_size=1, gamma=0.5)
    for lr in [1.0, 0.5, 0.25]:
        p.grad = Parameter(np.ones(1, np.float32))
        before = float(p._array[0])
        opt.step()
        assert float(p._array[0]) == pytest.approx(before - lr)
        s.step()


def test_errors():
    opt = _fastdl_opt()
    with pytest.raises(TypeError, match="not an Optimizer"):
        S.StepLR(object(), step_size=1)
    with pytest.raises(ValueError, match="Starting multiplicative factor"):
        S.LinearLR(opt, start_factor=0)
    with pytest.raises(ValueError, match="Factor should be < 1.0"):
        S.ReduceLROnPlateau(opt, factor=1.0)
    with pytest.raises(ValueError, match="mode"):
        S.ReduceLROnPlateau(opt, mode="up")
    with pytest.raises(ValueError, match="total_steps"):
        S.OneCycleLR(opt, max_lr=0.1)
    with pytest.raises(ValueError, match="pct_start"):
        S.OneCycleLR(opt, max_lr=0.1, total_steps=10, pct_start=1.5)
    with pytest.raises(ValueError, match="lr_lambdas"):
        S.LambdaLR(opt, [_lam])
    with pytest.raises(ValueError, match="milestone"):
        S.SequentialLR(opt, [S.StepLR(opt, 1), S.StepLR(opt, 2)], milestones=[])
    with pytest.raises(ValueError, match="ReduceLROnPlateau"):
        S.SequentialLR(opt, [S.ReduceLROnPlateau(opt)], milestones=[])
    with pytest.raises(KeyError, match="initial_lr"):
        S.StepLR(optim.SGD([Parameter(np.ones(1))], lr=0.1), step_size=1, last_epoch=3)
    s = S.OneCycleLR(opt, max_lr=0.1, total_steps=2)
    s.step()
    s.step()
    with pytest.raises(ValueError, match="Tried to step 3 times"):
        s.step()
