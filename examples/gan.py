"""Runner of ``python -m fastdl.examples.gan`` (the code lives in
fastdl/examples/gan.py, installed with fastdl): ``python examples/gan.py --help``."""
import os
import sys

try:
    import fastdl  # noqa: F401
except ImportError:  # run from a source checkout with an in-tree build
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fastdl.examples.gan import main

if __name__ == "__main__":
    main()
