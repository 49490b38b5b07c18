"""Every kernel family under concurrency and under whatever team OpenMP grants.

* 4 Python threads running the same kernel at once give the serial result bitwise (each
  thread's OpenMP team, scratch buffers and allocator traffic are independent).
* Under ``OMP_THREAD_LIMIT=1`` and ``OMP_DYNAMIC=true`` OpenMP may grant fewer threads than a
  kernel asks for; every kernel must still compute all of its output. Checked in a child
  process (OpenMP reads those variables once, at start-up) against the NumPy references,
  with ``fastdl.set_num_threads`` of 1, 2, 3 and 8 (more threads than this machine's cores).

Run as a script (``python tests/test_kernel_threads.py``) it performs the reference check
in the current process and prints one line per case.
"""
from __future__ import annotations

import os
import subprocess
import sys
import threading

import numpy as np
import pytest

import fastdl
import fastdl.nn.functional as F
from fastdl.testing import reference as R


def _t(a, grad=False):
    return fastdl.tensor(a, requires_grad=grad)


# ---- the cases: name -> (make inputs, run with fastdl, NumPy reference) -------------------
# Sizes are chosen so that every case takes its parallel path (more than one chunk, GEMM above
# its parallel threshold) while staying fast.

def _gemm(dt):
    def make(rng):
        return rng.standard_normal((300, 200)).astype(dt), rng.standard_normal((200, 260)).astype(dt)

    def run(a, b):
        return [(_t(a) @ _t(b)).numpy()]

    def ref(a, b):
        return [R.matmul_ref(a, b)]
    return make, run, ref


def _linear():
    def make(rng):
        return (rng.standard_normal((64, 784)).astype("f4"),
                rng.standard_normal((128, 784)).astype("f4") * 0.05,
                rng.standard_normal(128).astype("f4"))

    def run(x, w, b):
        xt, wt = _t(x, True), _t(w, True)
        y = F.linear(xt, wt, _t(b))
        y.sum().backward()
        return [y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()]

    def ref(x, w, b):
        g = np.ones((64, 128), "f4")
        gx, gw = R.linear_backward_ref(x, w, g)[:2]
        return [R.linear_ref(x, w, b), gx, gw]
    return make, run, ref


def _conv():
    def make(rng):
        return (rng.standard_normal((8, 3, 20, 20)).astype("f4"),
                rng.standard_normal((16, 3, 3, 3)).astype("f4"))

    def run(x, w):
        xt, wt = _t(x, True), _t(w, True)
        y = F.conv2d(xt, wt, padding=1)
        y.sum().backward()
        return [y.detach().numpy(), xt.grad.numpy(), wt.grad.numpy()]

    def ref(x, w):
        y = R.conv2d_ref(x, w, padding=1)
        gx, gw = R.conv2d_backward_ref(x, w, np.ones_like(y), padding=1)[:2]
        return [y, gx, gw]
    return make, run, ref


def _pool():
    def make(rng):
        return (rng.standard_normal((8, 16, 21, 21)).astype("f4"),)

    def run(x):
        xt = _t(x)
        return [F.max_pool2d(xt, 2).numpy(),
                F.avg_pool2d(xt, 3, 2, ceil_mode=True).numpy(),
                F.adaptive_avg_pool2d(xt, (5, 7)).numpy()]

    def ref(x):
        return [R.max_pool2d_ref(x, 2)[0],
                R.avg_pool2d_ref(x, 3, 2, ceil_mode=True),
                R.adaptive_avg_pool2d_ref(x, (5, 7))]
    return make, run, ref


def _eltwise():
    def make(rng):
        return (rng.standard_normal((64, 4000)).astype("f4") * 3,)

    def run(x):
        xt = _t(x, True)
        y = F.gelu(xt)
        y.sum().backward()
        return [F.relu(_t(x)).numpy(), y.detach().numpy(), F.sigmoid(_t(x)).numpy(),
                F.softmax(_t(x), 1).numpy(), xt.grad.numpy()]

    return make, run, None


def _eltwise_ref(x):
    x64 = x.astype(np.float64)
    sig = 1 / (1 + np.exp(-x64))
    gelu = R.gelu_ref(x64)
    # d/dx gelu(x) = Φ(x) + x φ(x), Φ from the reference itself: Φ(x) = gelu(x) / x
    phi = np.exp(-0.5 * x64 * x64) / np.sqrt(2 * np.pi)
    with np.errstate(invalid="ignore", divide="ignore"):
        cdf = np.where(x64 != 0, gelu / x64, 0.5)
    return [R.relu_ref(x), gelu, sig, R.softmax_ref(x64, 1), cdf + x64 * phi]


def _norm():
    def make(rng):
        return (rng.standard_normal((16, 32, 10, 10)).astype("f4"),
                rng.standard_normal((64, 512)).astype("f4"))

    def run(x, z):
        xt = _t(x, True)
        y = F.batch_norm(xt, None, None, training=True)
        (y * y).sum().backward()
        return [y.detach().numpy(), xt.grad.numpy(), F.layer_norm(_t(z), (512,)).numpy(),
                F.group_norm(_t(x), 4).numpy()]

    def ref(x, z):
        y = R.batch_norm_ref(x, training=True)[0]
        gx = R.batch_norm_backward_ref(2 * y, x, training=True)[0]
        return [y, gx, R.layer_norm_nd_ref(z, (512,)), R.group_norm_ref(x, 4)]
    return make, run, ref


def _loss():
    def make(rng):
        return (rng.standard_normal((512, 100)).astype("f4"),
                rng.integers(0, 100, 512).astype(np.int64),
                rng.standard_normal(100000).astype("f4"),
                rng.standard_normal(100000).astype("f4"))

    def run(x, t, a, b):
        xt = _t(x, True)
        ce = F.cross_entropy(xt, _t(t))
        ce.backward()
        return [ce.detach().numpy(), xt.grad.numpy(), F.mse_loss(_t(a), _t(b)).numpy(),
                F.l1_loss(_t(a), _t(b), reduction="none").numpy()]

    def ref(x, t, a, b):
        return [R.cross_entropy_ref(x, t), R.cross_entropy_backward_ref(x, t, 1.0),
                R.mse_loss_ref(a, b), R.l1_loss_ref(a, b, reduction="none")]
    return make, run, ref


def _optim():
    def make(rng):
        return ([rng.standard_normal(n).astype("f4") for n in (70000, 3000, 40000)],
                [rng.standard_normal(n).astype("f4") for n in (70000, 3000, 40000)])

    def run(ps, gs):
        params = [fastdl.nn.Parameter(_t(p)) for p in ps]
        opt = fastdl.optim.Adam(params, lr=1e-2)
        for _ in range(2):
            for p, g in zip(params, gs):
                p.grad = _t(g)
            opt.step()
        return [p.detach().numpy() for p in params]

    def ref(ps, gs):
        out = []
        for p, g in zip(ps, gs):
            p, st = p.copy(), {}
            for _ in range(2):
                R.adam_step(p, g, st, lr=1e-2)  # updates p in place
            out.append(p)
        return out
    return make, run, ref


def _lstm():
    def make(rng):
        # the weights are drawn here, once: threads must not share the global generator
        fastdl.manual_seed(0)
        state = {k: v.detach().numpy().copy() for k, v in fastdl.nn.LSTM(32, 64).state_dict().items()}
        return rng.standard_normal((12, 16, 32)).astype("f4"), state

    def run(x, state):
        m = fastdl.nn.LSTM(32, 64)
        m.load_state_dict({k: fastdl.tensor(v) for k, v in state.items()})
        xt = _t(x, True)
        out, (h, c) = m(xt)
        out.sum().backward()
        return [out.detach().numpy(), h.detach().numpy(), c.detach().numpy()]

    def ref(x, state):
        params = {k: v.astype(np.float64) for k, v in state.items()}
        out, h, c = R.rnn_ref("LSTM", params, x.astype(np.float64))
        return [out, h, c]
    return make, run, ref


CASES = {
    "gemm_f32": _gemm("f4"), "gemm_f64": _gemm("f8"), "linear": _linear(), "conv2d": _conv(),
    "pool": _pool(), "eltwise": (_eltwise()[0], _eltwise()[1], _eltwise_ref), "norm": _norm(),
    "loss": _loss(), "optim": _optim(), "lstm": _lstm(),
}


def _inputs(name):
    return CASES[name][0](np.random.default_rng(7))


def check_against_references(threads=(1, 2, 3, 8), out=None):
    """Run every case at each thread count and compare with the NumPy reference; returns a
    list of failure strings (empty when all agree)."""
    failures = []
    inputs = {name: c[0](np.random.default_rng(7)) for name, c in CASES.items()}
    refs = {name: c[2](*inputs[name]) for name, c in CASES.items()}  # thread-independent
    for n in threads:
        fastdl.set_num_threads(n)
        for name, (make, run, ref) in CASES.items():
            args = inputs[name]
            got, exp = run(*args), refs[name]
            for i, (g, e) in enumerate(zip(got, exp)):
                g64, e64 = np.asarray(g, np.float64), np.asarray(e, np.float64)
                tol = 1e-9 if np.asarray(g).dtype == np.float64 else 2e-4
                err = float(np.max(np.abs(g64 - e64) / (1 + np.abs(e64)))) if g64.size else 0.0
                if g64.shape != e64.shape or not err <= tol:
                    failures.append(f"{name}[{i}] threads={n}: max rel err {err:.3g} "
                                    f"(shape {g64.shape} vs {e64.shape})")
            if out is not None:
                print(f"threads={n} {name}: ok", file=out)
    return failures


# ---- 4 Python threads at once ------------------------------------------------------------

@pytest.mark.parametrize("name", list(CASES))
def test_four_python_threads_bitwise_equal_serial(name):
    before = fastdl.get_num_threads()
    fastdl.set_num_threads(2)
    try:
        args = _inputs(name)
        serial = CASES[name][1](*args)
        results, errors = [None] * 4, []

        def work(i):
            try:
                for _ in range(3):
                    results[i] = CASES[name][1](*args)
            except BaseException as e:  # pragma: no cover - reported below
                errors.append(e)

        ts = [threading.Thread(target=work, args=(i,)) for i in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        assert not errors, errors
        for r in results:
            for a, b in zip(r, serial):
                assert a.dtype == b.dtype and a.shape == b.shape
                assert np.array_equal(a, b, equal_nan=True), f"{name}: thread result differs"
    finally:
        fastdl.set_num_threads(before)


# ---- OpenMP granting fewer threads than asked --------------------------------------------

_ENVS = {
    "thread_limit_1": {"OMP_THREAD_LIMIT": "1", "FASTDL_NUM_THREADS": "8"},
    "dynamic": {"OMP_DYNAMIC": "true", "FASTDL_NUM_THREADS": "8"},
    "plain_3": {"FASTDL_NUM_THREADS": "3"},
}


@pytest.mark.parametrize("env", list(_ENVS))
def test_every_kernel_right_when_openmp_grants_fewer_threads(env):
    e = dict(os.environ)
    for k in ("OMP_THREAD_LIMIT", "OMP_DYNAMIC", "OMP_NUM_THREADS", "FASTDL_NUM_THREADS"):
        e.pop(k, None)
    e.update(_ENVS[env])
    root = os.path.dirname(os.path.dirname(os.path.abspath(fastdl.__file__)))  # the fastdl under test
    e["PYTHONPATH"] = root + os.pathsep + e.get("PYTHONPATH", "")
    r = subprocess.run([sys.executable, os.path.abspath(__file__)], env=e, cwd=root,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, f"{env}: rc={r.returncode}\n{r.stdout[-3000:]}\n{r.stderr[-3000:]}"
    assert "ALL OK" in r.stdout


def test_env_thread_count_is_read():
    e = dict(os.environ, FASTDL_NUM_THREADS="3")
    r = subprocess.run([sys.executable, "-c", "import fastdl; print(fastdl.get_num_threads())"],
                       env=e, capture_output=True, text=True, timeout=120)
    assert r.stdout.strip() == "3", r.stderr


if __name__ == "__main__":
    fails = check_against_references(out=sys.stdout)
    for f in fails:
        print("FAIL", f)
    print("ALL OK" if not fails else f"{len(fails)} FAILURES")
    sys.exit(1 if fails else 0)
