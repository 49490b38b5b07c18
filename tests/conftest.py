import os
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
