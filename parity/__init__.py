"""parity: the only package that imports both scratchnet and torch.

- ``check_module(scratch, torch_twin, *inputs)`` compares one module's forward and backward;
- ``train_side_by_side(...)`` trains two models in lockstep and compares every step;
- ``torch_to_scratch`` / ``scratch_to_torch`` copy weights between them;
- ``export_torch_state_dict`` / ``import_torch_state_dict`` exchange them through torch files;
- ``tolerances`` holds every tolerance, once, with its reason.
"""

from parity import tolerances
from parity.compare import ParityReport, TensorDiff, compare
from parity.harness import check_module
from parity.interchange import export_torch_state_dict, import_torch_state_dict
from parity.training import TrainingReport, train_side_by_side
from parity.transfer import scratch_to_torch, to_numpy, to_torch, torch_to_scratch

__all__ = [
    "ParityReport",
    "TensorDiff",
    "TrainingReport",
    "check_module",
    "compare",
    "export_torch_state_dict",
    "import_torch_state_dict",
    "scratch_to_torch",
    "to_numpy",
    "to_torch",
    "tolerances",
    "torch_to_scratch",
    "train_side_by_side",
]
