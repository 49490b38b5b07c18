"""Runner of ``python -m fastdl.examples.autoencoder`` (the code lives in
fastdl/examples/autoencoder.py, installed with fastdl): ``python examples/autoencoder.py --help``."""
import os
import sys

try:
    import fastdl  # noqa: F401
except ImportError:  # run from a source checkout with an in-tree build
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from fastdl.examples.autoencoder import main

if __name__ == "__main__":
    main()
