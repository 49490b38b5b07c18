"""The torch-namespace ops (``fastdl/ops/``) against PyTorch on 1M-element float32 inputs.

Each case runs both sides in the same process, on the same thread count, with interleaved
rounds (fastdl, torch, fastdl, torch, ...; on several threads with a 0.1 s pause before each
side, so neither is timed while the other's worker threads still spin); the minimum of each side is kept and the ratio
fastdl/torch goes into ``extra_info`` (and the table printed by ``python
bench/bench_tensor_ops.py``). pytest-benchmark times the fastdl side.

Run: PYTHONPATH=. python -m pytest bench/bench_tensor_ops.py --benchmark-only -p no:randomly
     PYTHONPATH=. python bench/bench_tensor_ops.py [name ...]     # the ratio table
     PYTHONPATH=. python bench/bench_tensor_ops.py --one-thread [name ...]
         # 1 thread on both sides (fastdl, torch, NumPy's BLAS), timed by the calling thread's
         # CPU time: the figure to take on a shared machine
     PYTHONPATH=. python bench/bench_tensor_ops.py --pause-study [name]
         # one op after pauses of 0-100 ms (see pause_study)
     PYTHONPATH=. python bench/bench_tensor_ops.py --small [name ...]
         # per-call microseconds on 100-element inputs, no grad (the Python layer's cost)
"""
import time

import numpy as np
import pytest

import fastdl
from fastdl.bench import SMOKE

# The timed inputs are the same random data on every side: log2/log10 of its negative entries
# and det of a large random matrix give NaN/inf on both libraries, which is part of the work
# timed, not a failure of the benchmark.
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning",
                                        "ignore:overflow encountered:RuntimeWarning")

try:
    import torch
    HAVE_TORCH = True
except Exception:  # pragma: no cover
    HAVE_TORCH = False

N = 1 << 20
ROUNDS = 7


def _data():
    rng = np.random.default_rng(0)
    d = {
        "x": rng.uniform(-0.9, 0.9, N).astype(np.float32),
        "y": rng.uniform(0.5, 2.0, N).astype(np.float32),
        "z": rng.standard_normal(N).astype(np.float32),
        "m": rng.standard_normal((1024, 1024)).astype(np.float32),
        "m2": rng.standard_normal((1024, 1024)).astype(np.float32),
        "b1": rng.standard_normal((64, 128, 128)).astype(np.float32),
        "b2": rng.standard_normal((64, 128, 128)).astype(np.float32),
        "idx": rng.integers(0, N, N),
        "small": rng.integers(0, 1000, N),
        "mask": rng.random(N) > 0.5,
        "rows": rng.integers(0, 1024, (1024, 1024)),
        "probs": rng.random((1024, 1024)).astype(np.float32),
        "seq": np.sort(rng.standard_normal(1024)).astype(np.float32),
    }
    spd = d["m"] @ d["m"].T / 1024 + np.eye(1024, dtype=np.float32)
    d["spd"] = spd.astype(np.float32)
    e = rng.integers(0, 16384, (2, N))
    d["sp_idx"], d["sp_val"] = e, rng.standard_normal(N).astype(np.float32)
    d["dense"] = rng.standard_normal((16384, 16)).astype(np.float32)
    return d


def _unary(name, tname=None):
    return (lambda F, T: getattr(F, name)(T("x")), lambda t, T: getattr(t, tname or name)(T("x")))


# name -> (fastdl call(F, T), torch call(torch, T)); T(key) gives the side's tensor
CASES = {n: _unary(n) for n in (
    "sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "asinh", "atanh", "log2",
    "log10", "log1p", "expm1", "exp2", "erf", "erfc", "erfinv", "floor", "ceil", "trunc",
    "frac", "sign", "reciprocal", "square", "sigmoid", "tanh", "exp", "abs")}
CASES.update({
    "rsqrt": (lambda F, T: F.rsqrt(T("y")), lambda t, T: t.rsqrt(T("y"))),
    "acosh": (lambda F, T: F.acosh(T("y") + 1), lambda t, T: t.acosh(T("y") + 1)),
    "round_decimals": (lambda F, T: F.round(T("z"), decimals=2),
                       lambda t, T: t.round(T("z"), decimals=2)),
    "sin_": (lambda F, T: T("x").sin_(), lambda t, T: T("x").sin_()),
    "atan2": (lambda F, T: F.atan2(T("x"), T("y")), lambda t, T: t.atan2(T("x"), T("y"))),
    "hypot": (lambda F, T: F.hypot(T("x"), T("y")), lambda t, T: t.hypot(T("x"), T("y"))),
    "logaddexp": (lambda F, T: F.logaddexp(T("x"), T("y")),
                  lambda t, T: t.logaddexp(T("x"), T("y"))),
    "fmod": (lambda F, T: F.fmod(T("z"), T("y")), lambda t, T: t.fmod(T("z"), T("y"))),
    "fmod_scalar": (lambda F, T: F.fmod(T("z"), 0.7), lambda t, T: t.fmod(T("z"), 0.7)),
    "remainder_op": (lambda F, T: T("z") % T("y"), lambda t, T: T("z") % T("y")),
    "remainder": (lambda F, T: F.remainder(T("z"), T("y")),
                  lambda t, T: t.remainder(T("z"), T("y"))),
    "lerp": (lambda F, T: F.lerp(T("x"), T("y"), 0.3), lambda t, T: t.lerp(T("x"), T("y"), 0.3)),
    "addcmul": (lambda F, T: F.addcmul(T("x"), T("y"), T("z"), value=0.5),
                lambda t, T: t.addcmul(T("x"), T("y"), T("z"), value=0.5)),
    "addcdiv": (lambda F, T: F.addcdiv(T("x"), T("z"), T("y"), value=0.5),
                lambda t, T: t.addcdiv(T("x"), T("z"), T("y"), value=0.5)),
    "nan_to_num": (lambda F, T: F.nan_to_num(T("z")), lambda t, T: t.nan_to_num(T("z"))),
    "clamp": (lambda F, T: F.clamp(T("z"), -1, 1), lambda t, T: t.clamp(T("z"), -1, 1)),
    "cumsum": (lambda F, T: F.cumsum(T("m"), 1), lambda t, T: t.cumsum(T("m"), 1)),
    "cumprod": (lambda F, T: F.cumprod(T("m"), 1), lambda t, T: t.cumprod(T("m"), 1)),
    "cummax": (lambda F, T: F.cummax(T("m"), 1), lambda t, T: t.cummax(T("m"), 1)),
    "cummin": (lambda F, T: F.cummin(T("m"), 1), lambda t, T: t.cummin(T("m"), 1)),
    "cummax_dim0": (lambda F, T: F.cummax(T("m"), 0), lambda t, T: t.cummax(T("m"), 0)),
    "logcumsumexp": (lambda F, T: F.logcumsumexp(T("m"), 1),
                     lambda t, T: t.logcumsumexp(T("m"), 1)),
    "logsumexp": (lambda F, T: F.logsumexp(T("m"), 1), lambda t, T: t.logsumexp(T("m"), 1)),
    "median_dim": (lambda F, T: F.median(T("m"), 1), lambda t, T: t.median(T("m"), 1)),
    "mode": (lambda F, T: F.mode(T("rows"), 1), lambda t, T: t.mode(T("rows"), 1)),
    "quantile": (lambda F, T: F.quantile(T("m"), 0.3, dim=1),
                 lambda t, T: t.quantile(T("m"), 0.3, dim=1)),
    "nansum": (lambda F, T: F.nansum(T("z")), lambda t, T: t.nansum(T("z"))),
    "nanmean": (lambda F, T: F.nanmean(T("m"), 1), lambda t, T: t.nanmean(T("m"), 1)),
    "count_nonzero": (lambda F, T: F.count_nonzero(T("m"), 1),
                      lambda t, T: t.count_nonzero(T("m"), 1)),
    "std": (lambda F, T: F.std(T("m"), 1), lambda t, T: t.std(T("m"), 1)),
    "var_mean": (lambda F, T: F.var_mean(T("m"), 1), lambda t, T: t.var_mean(T("m"), 1)),
    "aminmax": (lambda F, T: F.aminmax(T("m"), dim=1), lambda t, T: t.aminmax(T("m"), dim=1)),
    "norm": (lambda F, T: F.norm(T("z")), lambda t, T: t.norm(T("z"))),
    "norm_p3_dim": (lambda F, T: F.norm(T("m"), 3, dim=1), lambda t, T: t.norm(T("m"), 3, dim=1)),
    "any_dim": (lambda F, T: F.any(T("mask").reshape(1024, 1024), 1),
                lambda t, T: t.any(T("mask").reshape(1024, 1024), 1)),
    "sort": (lambda F, T: F.sort(T("z")), lambda t, T: t.sort(T("z"))),
    "sort_rows": (lambda F, T: F.sort(T("m"), 1), lambda t, T: t.sort(T("m"), 1)),
    "argsort": (lambda F, T: F.argsort(T("z")), lambda t, T: t.argsort(T("z"))),
    "topk": (lambda F, T: F.topk(T("m"), 5, 1), lambda t, T: t.topk(T("m"), 5, 1)),
    "topk_smallest_dim0": (lambda F, T: F.topk(T("m"), 5, 0, largest=False),
                           lambda t, T: t.topk(T("m"), 5, 0, largest=False)),
    "kthvalue": (lambda F, T: F.kthvalue(T("m"), 5, 1), lambda t, T: t.kthvalue(T("m"), 5, 1)),
    "unique": (lambda F, T: F.unique(T("small")), lambda t, T: t.unique(T("small"))),
    "unique_counts": (lambda F, T: F.unique(T("small"), return_inverse=True,
                                            return_counts=True),
                      lambda t, T: t.unique(T("small"), return_inverse=True,
                                            return_counts=True)),
    "searchsorted": (lambda F, T: F.searchsorted(T("seq"), T("z")),
                     lambda t, T: t.searchsorted(T("seq"), T("z"))),
    "bucketize": (lambda F, T: F.bucketize(T("z"), T("seq")),
                  lambda t, T: t.bucketize(T("z"), T("seq"))),
    "bincount": (lambda F, T: F.bincount(T("small")), lambda t, T: t.bincount(T("small"))),
    "histc": (lambda F, T: F.histc(T("z"), 100, -3, 3), lambda t, T: t.histc(T("z"), 100, -3, 3)),
    "gather": (lambda F, T: F.gather(T("m"), 1, T("rows")),
               lambda t, T: t.gather(T("m"), 1, T("rows"))),
    "scatter_add": (lambda F, T: F.scatter_add(T("m"), 1, T("rows"), T("m2")),
                    lambda t, T: t.scatter_add(T("m"), 1, T("rows"), T("m2"))),
    "scatter_amax": (lambda F, T: F.scatter_reduce(T("m"), 1, T("rows"), T("m2"), "amax"),
                     lambda t, T: t.scatter_reduce(T("m"), 1, T("rows"), T("m2"), "amax")),
    "index_add": (lambda F, T: F.index_add(T("m"), 0, T("rows")[0], T("m2")),
                  lambda t, T: t.index_add(T("m"), 0, T("rows")[0], T("m2"))),
    "index_select": (lambda F, T: F.index_select(T("m"), 0, T("rows")[0]),
                     lambda t, T: t.index_select(T("m"), 0, T("rows")[0])),
    "masked_fill": (lambda F, T: F.masked_fill(T("z"), T("mask"), 0.0),
                    lambda t, T: t.masked_fill(T("z"), T("mask"), 0.0)),
    "masked_select": (lambda F, T: F.masked_select(T("z"), T("mask")),
                      lambda t, T: t.masked_select(T("z"), T("mask"))),
    "nonzero": (lambda F, T: F.nonzero(T("mask")), lambda t, T: t.nonzero(T("mask"))),
    "where": (lambda F, T: F.where(T("mask"), T("x"), T("y")),
              lambda t, T: t.where(T("mask"), T("x"), T("y"))),
    "take": (lambda F, T: F.take(T("z"), T("idx")), lambda t, T: t.take(T("z"), T("idx"))),
    "flip": (lambda F, T: F.flip(T("m"), (0, 1)), lambda t, T: t.flip(T("m"), (0, 1))),
    "roll": (lambda F, T: F.roll(T("m"), 3, 1), lambda t, T: t.roll(T("m"), 3, 1)),
    "rot90": (lambda F, T: F.rot90(T("m")), lambda t, T: t.rot90(T("m")).contiguous()),
    "tril": (lambda F, T: F.tril(T("m")), lambda t, T: t.tril(T("m"))),
    "triu": (lambda F, T: F.triu(T("m"), 1), lambda t, T: t.triu(T("m"), 1)),
    "diag_embed": (lambda F, T: F.diag_embed(T("m")[:, :64]),
                   lambda t, T: t.diag_embed(T("m")[:, :64])),
    "repeat_interleave": (lambda F, T: F.repeat_interleave(T("z"), 2),
                          lambda t, T: t.repeat_interleave(T("z"), 2)),
    "tile": (lambda F, T: F.tile(T("m"), (2, 1)), lambda t, T: t.tile(T("m"), (2, 1))),
    "hstack": (lambda F, T: F.hstack([T("m"), T("m2")]), lambda t, T: t.hstack([T("m"), T("m2")])),
    "tensor_split": (lambda F, T: [p.contiguous() for p in F.tensor_split(T("m"), 3, 1)],
                     lambda t, T: [p.contiguous() for p in t.tensor_split(T("m"), 3, 1)]),
    "dot": (lambda F, T: F.dot(T("x"), T("y")), lambda t, T: t.dot(T("x"), T("y"))),
    "outer": (lambda F, T: F.outer(T("seq"), T("seq")), lambda t, T: t.outer(T("seq"), T("seq"))),
    "addmm": (lambda F, T: F.addmm(T("m"), T("m"), T("m2")),
              lambda t, T: t.addmm(T("m"), T("m"), T("m2"))),
    "einsum_mm": (lambda F, T: F.einsum("ij,jk->ik", T("m"), T("m2")),
                  lambda t, T: t.einsum("ij,jk->ik", T("m"), T("m2"))),
    "einsum_bmm": (lambda F, T: F.einsum("bij,bkj->bik", T("b1"), T("b2")),
                   lambda t, T: t.einsum("bij,bkj->bik", T("b1"), T("b2"))),
    "tensordot": (lambda F, T: F.tensordot(T("b1"), T("b2"), ([0, 2], [0, 1])),
                  lambda t, T: t.tensordot(T("b1"), T("b2"), ([0, 2], [0, 1]))),
    "cdist": (lambda F, T: F.cdist(T("m")[:256, :64], T("m2")[:256, :64]),
              lambda t, T: t.cdist(T("m")[:256, :64], T("m2")[:256, :64])),
    "linalg_inv": (lambda F, T: F.linalg.inv(T("spd")), lambda t, T: t.linalg.inv(T("spd"))),
    "linalg_det": (lambda F, T: F.linalg.det(T("spd")), lambda t, T: t.linalg.det(T("spd"))),
    "linalg_cholesky": (lambda F, T: F.linalg.cholesky(T("spd")),
                        lambda t, T: t.linalg.cholesky(T("spd"))),
    "linalg_solve": (lambda F, T: F.linalg.solve(T("spd"), T("m2")),
                     lambda t, T: t.linalg.solve(T("spd"), T("m2"))),
    "multinomial": (lambda F, T: F.multinomial(T("probs"), 8, True),
                    lambda t, T: t.multinomial(T("probs"), 8, True)),
    "multinomial_norepl": (lambda F, T: F.multinomial(T("probs"), 8),
                           lambda t, T: t.multinomial(T("probs"), 8)),
    "bernoulli": (lambda F, T: F.bernoulli(T("probs")), lambda t, T: t.bernoulli(T("probs"))),
    "normal_": (lambda F, T: T("z").normal_(), lambda t, T: T("z").normal_()),
    "uniform_": (lambda F, T: T("z").uniform_(), lambda t, T: T("z").uniform_()),
    "exponential_": (lambda F, T: T("z").exponential_(), lambda t, T: T("z").exponential_()),
    "spmm": (lambda F, T: F.sparse.mm(F.sparse_coo_tensor(T("sp_idx"), T("sp_val"),
                                                          (16384, 16384)), T("dense")),
             lambda t, T: t.sparse.mm(t.sparse_coo_tensor(T("sp_idx"), T("sp_val"),
                                                          (16384, 16384),
                                                          check_invariants=False), T("dense"))),
    "spmm_coalesced": (lambda F, T: F.sparse.mm(T("sp_fd"), T("dense")),
                       lambda t, T: t.sparse.mm(T("sp_fd"), T("dense"))),
})


_DATA = {}


def _sides():
    if not _DATA:
        _DATA.update(_data())
        f_cache = {k: fastdl.from_numpy(np.ascontiguousarray(v)) if v.dtype != np.uint8 else v
                   for k, v in _DATA.items()}
        t_cache = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in _DATA.items()}
        f_cache["sp_fd"] = fastdl.sparse_coo_tensor(f_cache["sp_idx"], f_cache["sp_val"],
                                                    (16384, 16384)).coalesce()
        t_cache["sp_fd"] = torch.sparse_coo_tensor(t_cache["sp_idx"], t_cache["sp_val"],
                                                   (16384, 16384),
                                                   check_invariants=False).coalesce()
        _DATA["_f"], _DATA["_t"] = f_cache, t_cache
    f, t = _DATA["_f"], _DATA["_t"]
    # in-place cases write into their input: hand out fresh copies for those
    return (lambda k: f[k].clone() if k in ("x", "z") else f[k],
            lambda k: t[k].clone() if k in ("x", "z") else t[k])


def measure(name, rounds=ROUNDS, timer=time.perf_counter, pause=0.0):
    """(fastdl seconds, torch seconds): the minimum over interleaved rounds. ``pause``
    seconds of sleep before each side lets the other side's worker threads (torch's OpenMP
    pool, fastdl's) stop spinning first: on a 2-core machine a call timed while the other
    library's threads still spin gets one core, not two."""
    ff, tf = CASES[name]
    Tf, Tt = _sides()
    ff(fastdl, Tf)  # warm up both sides
    tf(torch, Tt)
    best_f = best_t = float("inf")
    for _ in range(rounds):
        if pause:
            time.sleep(pause)
        t0 = timer()
        ff(fastdl, Tf)
        t1 = timer()
        if pause:
            time.sleep(pause)
        t2 = timer()
        tf(torch, Tt)
        t3 = timer()
        best_f, best_t = min(best_f, t1 - t0), min(best_t, t3 - t2)
    return best_f, best_t


# between sides when both run on several threads (wall time); none under FASTDL_BENCH_SMOKE
PAUSE = 0.0 if SMOKE else 0.1


@pytest.mark.skipif(not HAVE_TORCH, reason="needs torch for the comparison")
@pytest.mark.parametrize("name", sorted(CASES))
def test_op(benchmark, name):
    n = fastdl.get_num_threads()
    torch.set_num_threads(n)
    bf, bt = measure(name, pause=PAUSE if n > 1 else 0.0)
    benchmark.group = name
    benchmark.extra_info.update(fastdl_ms=bf * 1e3, torch_ms=bt * 1e3, ratio=bf / bt,
                                threads=n)
    ff, _ = CASES[name]
    Tf, _ = _sides()
    benchmark.pedantic(lambda: ff(fastdl, Tf), rounds=3, iterations=1)


def main(names=None, one_thread=False):
    timer = time.perf_counter
    if one_thread:
        from threadpoolctl import threadpool_limits
        try:  # loaded first, so that the limit reaches SciPy's LAPACK (fastdl.linalg's float32)
            import scipy.linalg.lapack  # noqa: F401
        except ImportError:
            pass
        threadpool_limits(1)  # NumPy's and SciPy's BLAS/LAPACK in the calling thread
        fastdl.set_num_threads(1)
        timer = time.thread_time
    n = fastdl.get_num_threads()
    torch.set_num_threads(n)
    names = names or sorted(CASES)
    print(f"threads: {n}; {'thread CPU time' if one_thread else 'wall time'}, min of {ROUNDS} "
          f"interleaved rounds; 1M-element float32 inputs")
    print(f"{'op':22s} {'fastdl ms':>10s} {'torch ms':>10s} {'ratio':>7s}")
    slow = []
    for name in names:
        bf, bt = measure(name, timer=timer, pause=0.0 if one_thread else PAUSE)
        r = bf / bt
        flag = "  SLOW" if r > 1.5 else ""
        if r > 1.5:
            slow.append(name)
        print(f"{name:22s} {bf * 1e3:10.3f} {bt * 1e3:10.3f} {r:7.2f}{flag}", flush=True)
    print("slower than 1.5x torch:", ", ".join(slow) or "none")


# per-call cost on tiny inputs (100 elements, 10x10): name -> (fastdl call, torch call) on the
# side's tensors from SMALL_DATA; the Python layer's overhead, not the kernels, decides these
SMALL_CASES = {
    **{n: (lambda F, T, n=n: getattr(F, n)(T("x")), lambda t, T, n=n: getattr(t, n)(T("x")))
       for n in ("sign", "frac", "nansum")},
    **{n: (lambda F, T, n=n: getattr(F, n)(T("y")), lambda t, T, n=n: getattr(t, n)(T("y")))
       for n in ("rsqrt", "reciprocal")},
    **{n: (lambda F, T, n=n: getattr(F, n)(T("x"), T("y")),
           lambda t, T, n=n: getattr(t, n)(T("x"), T("y")))
       for n in ("logaddexp", "hypot", "remainder", "fmod")},
    "lerp": (lambda F, T: F.lerp(T("x"), T("y"), 0.3), lambda t, T: t.lerp(T("x"), T("y"), 0.3)),
    "addcdiv": (lambda F, T: F.addcdiv(T("x"), T("x"), T("y"), value=0.5),
                lambda t, T: t.addcdiv(T("x"), T("x"), T("y"), value=0.5)),
    "outer": (lambda F, T: F.outer(T("v"), T("v")), lambda t, T: t.outer(T("v"), T("v"))),
    "flip": (lambda F, T: F.flip(T("m"), (0, 1)), lambda t, T: t.flip(T("m"), (0, 1))),
    "triu": (lambda F, T: F.triu(T("m"), 1), lambda t, T: t.triu(T("m"), 1)),
    "tril": (lambda F, T: F.tril(T("m")), lambda t, T: t.tril(T("m"))),
    "diag_embed": (lambda F, T: F.diag_embed(T("m")), lambda t, T: t.diag_embed(T("m"))),
    "roll": (lambda F, T: F.roll(T("m"), 3, 1), lambda t, T: t.roll(T("m"), 3, 1)),
    "index_select": (lambda F, T: F.index_select(T("m"), 0, T("i1")),
                     lambda t, T: t.index_select(T("m"), 0, T("i1"))),
    "gather": (lambda F, T: F.gather(T("m"), 1, T("ix")), lambda t, T: t.gather(T("m"), 1, T("ix"))),
    "nan_to_num": (lambda F, T: F.nan_to_num(T("x")), lambda t, T: t.nan_to_num(T("x"))),
}


def small(names=None, calls=2000, rounds=7):
    """Per-call microseconds of SMALL_CASES on both sides, one thread, no grad: the minimum
    over interleaved rounds of ``calls`` back-to-back calls (wall time)."""
    rng = np.random.default_rng(0)
    d = {"x": rng.standard_normal(100).astype(np.float32),
         "y": rng.uniform(0.5, 2.0, 100).astype(np.float32),
         "m": rng.standard_normal((10, 10)).astype(np.float32),
         "v": rng.standard_normal(10).astype(np.float32),
         "ix": rng.integers(0, 10, (10, 10)), "i1": rng.integers(0, 10, 10)}
    f = {k: fastdl.from_numpy(v) for k, v in d.items()}
    t = {k: torch.from_numpy(v) for k, v in d.items()}
    fastdl.set_num_threads(1)
    torch.set_num_threads(1)
    print(f"1 thread, tiny inputs (100 elements / 10x10), us per call, min of {rounds} "
          f"interleaved rounds of {calls} calls")
    print(f"{'op':14s} {'fastdl us':>10s} {'torch us':>10s} {'ratio':>7s}")
    for name in names or sorted(SMALL_CASES):
        ff, tf = SMALL_CASES[name]
        best = [float("inf"), float("inf")]
        for _ in range(rounds):
            for side, fn in ((0, lambda: ff(fastdl, f.__getitem__)),
                             (1, lambda: tf(torch, t.__getitem__))):
                t0 = time.perf_counter()
                for _ in range(calls):
                    fn()
                best[side] = min(best[side], (time.perf_counter() - t0) / calls)
        print(f"{name:14s} {best[0] * 1e6:10.2f} {best[1] * 1e6:10.2f} {best[0] / best[1]:7.2f}",
              flush=True)


def pause_study(name="hypot", rounds=15):
    """Why a paired side timed after a pause can be several times slower than back to back
    on several threads: the same call after pauses of 0 .. 100 ms, wall and process CPU time,
    minor page faults, and the call on one thread. Run it under each ``OMP_WAIT_POLICY``
    (unset, ``active``, ``passive``) on the quiet machine:

        PYTHONPATH=. OMP_WAIT_POLICY=passive python bench/bench_tensor_ops.py --pause-study

    Reading it: page faults 0 rule out fresh outputs (they come from the caching pool); a
    one-thread call as fast after a pause as back to back rules out the pause itself (caches,
    clock); what remains is the OpenMP worker: after libgomp's spin phase it sleeps on a
    futex and must be woken and scheduled before the parallel region (static schedule) can
    finish — microseconds on an idle core, a scheduler time slice when other processes are
    runnable."""
    import resource
    ff, _ = CASES[name]
    Tf, _ = _sides()
    import os
    print(f"{name}; OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}; "
          f"load average {os.getloadavg()[0]:.1f}")
    for nt in (fastdl.get_num_threads(), 1):
        fastdl.set_num_threads(nt)
        for _ in range(3):
            ff(fastdl, Tf)
        for pause in (0.0, 1e-3, 1e-2, 0.1):
            wall, cpu, flt = [], [], []
            for _ in range(rounds):
                if pause:
                    time.sleep(pause)
                r0 = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
                t0, c0 = time.perf_counter(), time.process_time()
                ff(fastdl, Tf)
                t1, c1 = time.perf_counter(), time.process_time()
                flt.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - r0)
                wall.append(t1 - t0)
                cpu.append(c1 - c0)
            print(f"threads {nt} pause {pause * 1e3:6.1f} ms: wall min {min(wall) * 1e3:6.2f} "
                  f"median {np.median(wall) * 1e3:6.2f} ms; process CPU min "
                  f"{min(cpu) * 1e3:6.2f} ms; page faults median {np.median(flt):.0f}",
                  flush=True)


if __name__ == "__main__":
    import sys
    args = sys.argv[1:]
    if "--pause-study" in args:
        pause_study(*[a for a in args if a != "--pause-study"][:1])
        sys.exit(0)
    if "-h" in args or "--help" in args:
        print("python bench/bench_tensor_ops.py [--one-thread] [op ...] | --pause-study [op] | "
              "--small [op ...]\nops: " + " ".join(sorted(CASES)) + "\n--small ops: " +
              " ".join(sorted(SMALL_CASES)))
        sys.exit(0)
    if "--small" in args:
        small([a for a in args if a != "--small"] or None)
        sys.exit(0)
    one = "--one-thread" in args
    names = [a for a in args if a != "--one-thread"]
    unknown = [a for a in names if a not in CASES]
    if unknown:
        sys.exit(f"unknown op(s) {', '.join(unknown)}; --help lists them")
    main(names or None, one_thread=one)
