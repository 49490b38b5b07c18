import os
import signal

import numpy as np
import pytest

import fastdl
from fastdl.testing import isa_paths, use_isa


@pytest.fixture(params=isa_paths())
def isa(request):
    """Run the test once on every ISA path this machine supports."""
    with use_isa(request.param):
        yield request.param


@pytest.fixture
def rng():
    return np.random.default_rng(1234)


@pytest.fixture(autouse=True)
def _seed():
    fastdl.manual_seed(0)
    yield


@pytest.fixture
def hang_guard(request):
    """Fail a test that hangs: SIGALRM after the module's ``HANG_GUARD_SECONDS`` (default 60)
    raises TimeoutError in it. Use it with ``pytestmark = pytest.mark.usefixtures("hang_guard")``
    (a no-op where SIGALRM does not exist)."""
    seconds = getattr(request.module, "HANG_GUARD_SECONDS", 60)
    if not hasattr(signal, "SIGALRM"):
        yield
        return

    def boom(signum, frame):
        raise TimeoutError(f"hang guard: the test took more than {seconds} s")
    old = signal.signal(signal.SIGALRM, boom)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


@pytest.fixture(scope="module")
def torch_one_thread():
    """PyTorch on one thread for a module of (tiny) comparisons: its idle worker threads only
    compete with fastdl's for the cores. Yields torch (None when it is not installed);
    restored after the module."""
    try:
        import torch
    except ImportError:
        yield None
        return
    prev = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield torch
    finally:
        torch.set_num_threads(prev)


@pytest.fixture
def one_thread():
    """fastdl on one thread for the test (no thread barriers to wait on on a busy machine)."""
    n = fastdl.get_num_threads()
    fastdl.set_num_threads(1)
    try:
        yield
    finally:
        fastdl.set_num_threads(n)


# Hypothesis profiles for the property tests: "ci" (default, quick) and "long" (on demand:
# HYPOTHESIS_PROFILE=long). No example database is written into the tree.
try:
    import os as _os

    from hypothesis import HealthCheck as _HC, settings as _hsettings

    _hsettings.register_profile("ci", max_examples=20, deadline=None, database=None,
                                suppress_health_check=[_HC.too_slow, _HC.filter_too_much])
    _hsettings.register_profile("long", max_examples=1000, deadline=None, database=None,
                                suppress_health_check=[_HC.too_slow, _HC.filter_too_much])
    _hsettings.load_profile(_os.environ.get("HYPOTHESIS_PROFILE", "ci"))
except ImportError:  # hypothesis is in the test extra; without it the property tests skip
    pass


# Subprocesses started by the tests (`python -c ...`, worker processes) must import the same
# fastdl as the test run. Python puts the working directory first on a `-c` child's path, and
# from the repository root that is the source tree's fastdl/ without its compiled _C;
# PYTHONSAFEPATH (Python >= 3.11) leaves the working directory out.
os.environ.setdefault("PYTHONSAFEPATH", "1")
