"""Runner of ``python -m fastdl.examples.train_lenet`` (the code lives in
fastdl/examples/train_lenet.py, installed with fastdl): ``python examples/train_lenet.py --help``."""
import os
import sys

try:
    import fastdl  # noqa: F401
except ImportError:  # run from a source checkout with an in-tree build
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fastdl.examples.train_lenet import main

if __name__ == "__main__":
    main()
