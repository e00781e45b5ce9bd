import subprocess
import sys


def test_importing_scratchnet_imports_neither_torch_nor_sklearn():
    code = (
        "import sys, scratchnet, scratchnet.nn, scratchnet.optim, scratchnet.data, scratchnet.training, "
        "scratchnet.gradcheck; print(sorted(m for m in ('torch', 'sklearn') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
