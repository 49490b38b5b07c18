"""Runner of ``python -m fastdl.examples.tune_mlp`` (the code lives in
fastdl/examples/tune_mlp.py, installed with fastdl): ``python examples/tune_mlp.py --help``."""
import os
import sys

try:
    import fastdl  # noqa: F401
except ImportError:  # run from a source checkout with an in-tree build
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fastdl.examples.tune_mlp import main

if __name__ == "__main__":
    main()
