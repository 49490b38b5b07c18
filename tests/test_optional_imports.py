"""``import fastdl`` pulls in none of the optional packages (they load only with the
subpackage that needs them)."""
import os
import subprocess
import sys

import fastdl

OPTIONAL = ("sklearn", "optuna", "optuna_integration", "gymnasium", "matplotlib", "PIL",
            "torch", "tqdm", "safetensors")


def test_import_fastdl_loads_no_optional_package():
    code = ("import sys, fastdl, fastdl.metrics, fastdl.distributions, fastdl.utils; "
            f"print(sorted(m for m in {OPTIONAL!r} if m in sys.modules))")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(fastdl.__file__)))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=env, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"
