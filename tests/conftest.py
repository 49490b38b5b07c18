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
