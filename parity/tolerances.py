"""Every tolerance parity uses, defined once, per dtype, each with the reason for its value.

A pair of arrays agrees when, element-wise, |scratch - torch| <= atol + rtol * |torch|
(numpy.allclose's rule, with NaNs required in the same places).
"""

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    atol: float
    rtol: float


F32, F64 = np.dtype(np.float32), np.dtype(np.float64)

# One module's forward and backward from identical weights and inputs. The two sides
# differ only in the order of floating-point sums (BLAS blocking, pairwise vs. sequential
# reduction), an error of a few ulps times log2(terms): ~1e-15 relative in float64 and
# ~1e-6 in float32 for the reductions of up to ~1e4 terms used here. atol covers outputs
# that cancel to ~0, whose relative error is meaningless.
MODULE = {
    F64: Tolerance(atol=1e-12, rtol=1e-10),
    F32: Tolerance(atol=1e-5, rtol=1e-4),
}

# A whole training run, compared after every step. In float64 the per-step rounding
# (~1e-16) stays far below what the optimizers amplify: the lecture's 20-epoch Adam trajectory
# agrees to ~1e-16 (measured). The largest amplification is an adaptive optimizer's division
# by sqrt(v) + eps on a gradient element that sums to ~0: a rounding difference of ~1e-17
# between the two sides (summation order) moves that parameter by lr * 1e-17 / eps per step --
# 1e-12 for Adam (eps 1e-8, lr 1e-3) but 1e-9 for Adagrad at its default lr 1e-2 (eps 1e-10)
# and 1e-8 at lr 0.1, which the fuzzer met. atol 1e-7 holds such runs; a wrong formula moves
# parameters by ~lr (1e-3 and up), and the per-step check from shared weights (STEP) stays at 1e-12.
# float32 cannot hold a trajectory that tightly: Adam divides m by sqrt(v) + 1e-8, so a
# gradient element near 0 whose float32 rounding differs between the two sides can move
# its parameter by up to lr in opposite directions, and the runs drift apart. There the
# per-step forward and gradients are checked closely from shared weights (STEP below) and
# the free-running trajectory only loosely: its loss curve to 1e-3, its logits, gradients
# and parameters to 5e-2 -- enough to catch a wrong formula, which moves them by O(1).
TRAJECTORY = {
    F64: {kind: Tolerance(atol=1e-7, rtol=1e-9) for kind in ("logits", "loss", "grad", "param")},
    F32: {
        "loss": Tolerance(atol=1e-3, rtol=0.0),
        "logits": Tolerance(atol=5e-2, rtol=0.0),
        "grad": Tolerance(atol=5e-2, rtol=0.0),
        "param": Tolerance(atol=5e-2, rtol=0.0),
    },
}

# Attention is held to MODULE's tolerances too, which requires both sides to run the same math.
# torch switches MultiheadAttention, TransformerEncoderLayer and TransformerEncoder to a fused
# "fast path" (torch._native_multi_head_attention, torch._transformer_encoder_layer_fwd, nested
# tensors) in eval mode when no gradient is needed. That is other code, not the layers' equations:
# its sums round differently, and TransformerEncoder given a src_key_padding_mask returns 0 at the
# padded positions where the equations give ordinary values (test_torch_fast_path_is_other_math in
# tests/test_transformer.py). So parity runs torch with torch.backends.mha.set_fastpath_enabled(False),
# restoring the flag afterwards (the tests' no_torch_fastpath fixture). check_module's runs would
# miss the fast path anyway (their tensors require gradients); forward-only comparisons in eval
# mode under torch.no_grad(), such as decoding, would not.

# Each training step's forward, loss and gradients recomputed by scratchnet from torch's
# current weights: a single step's rounding only, so MODULE's tolerances apply.
STEP = MODULE

# Share of test predictions that must agree: in float64 the logits agree to ~1e-13 so only a
# sample exactly on the decision boundary could flip; in float32 the drift above may flip a
# few samples that lie within ~1e-3 of the boundary.
PREDICTION_AGREEMENT = {F64: 1.0, F32: 0.98}


def for_dtype(table, dtype):
    dtype = np.dtype(dtype)
    if dtype not in table:
        raise ValueError(f"no parity tolerances for dtype {dtype}; expected float32 or float64")
    return table[dtype]
