# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 2. Backprop through softmax and cross-entropy
#
# For logits `z` (N, C), probabilities `p = softmax(z)` and true classes `y`, the mean cross-entropy is
# `L = -(1/N) Σₙ log p[n, yₙ]`. Its gradient has a famously simple form:
#
# `∂L/∂z = (p − onehot(y)) / N`.
#
# We derive it, check it against central differences and against torch, and then see why the loss must be
# computed with log-sum-exp rather than as `log(softmax(z))`.

# %%
import numpy as np
import torch
import matplotlib.pyplot as plt

import scratchnet
from scratchnet.nn import functional as F

rng = np.random.default_rng(0)
N, C = 4, 3
z = rng.standard_normal((N, C))
y = np.array([0, 2, 1, 2])

# %% [markdown]
# ## The derivation
# For one sample, `log p_k = z_k − log Σ_j exp(z_j)`, so
# `∂(−log p_y)/∂z_k = −[k = y] + exp(z_k) / Σ_j exp(z_j) = p_k − [k = y]`.
# The mean over N samples divides by N. In code, one line:

# %%
def softmax(z):
    e = np.exp(z - z.max(axis=1, keepdims=True))  # subtracting the row max changes nothing but avoids overflow
    return e / e.sum(axis=1, keepdims=True)


def loss(z):
    return -np.mean(np.log(softmax(z)[np.arange(N), y]))


p = softmax(z)
dz = (p - np.eye(C)[y]) / N
print(dz)

# %% [markdown]
# ## Check 1: central differences
# Nudge each logit by ±h and measure the loss: `(L(z + h eₖ) − L(z − h eₖ)) / 2h` approximates the derivative
# with an error of order h².

# %%
h = 1e-6
numeric = np.zeros_like(z)
for index in np.ndindex(z.shape):
    step = np.zeros_like(z)
    step[index] = h
    numeric[index] = (loss(z + step) - loss(z - step)) / (2 * h)
print(f"largest |analytic − numeric| = {np.abs(dz - numeric).max():.1e}")

# %% [markdown]
# scratchnet ships the same check as `scratchnet.gradcheck.gradcheck`, which every layer's tests run:

# %%
from scratchnet.gradcheck import gradcheck

print("gradcheck failures:", gradcheck(scratchnet.nn.CrossEntropyLoss(), z, y))

# %% [markdown]
# ## Check 2: torch's autograd

# %%
zt = torch.tensor(z, requires_grad=True)
torch.nn.functional.cross_entropy(zt, torch.tensor(y)).backward()
print(f"largest |ours − torch| = {np.abs(dz - zt.grad.numpy()).max():.1e}")

criterion = scratchnet.nn.CrossEntropyLoss()
criterion(z, y)
print(f"scratchnet.nn.CrossEntropyLoss.backward() vs ours: {np.abs(criterion.backward() - dz).max():.1e}")

# %% [markdown]
# ## Where a naive `log(softmax(z))` breaks
# Scale the logits up. A probability far below the best one underflows to exactly 0 (float64 cannot hold
# `exp(−746)`), and `log(0) = −inf`: subtracting the max first, which saves `exp(z)` from overflowing past
# `z ≈ 709`, does not save the log. The log-sum-exp form `log p = (z − m) − log Σ exp(z − m)`, `m = max z`,
# never takes the log of a rounded-away probability. The printout says where each form first fails.

# %%
def naive_log_softmax(z):
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        return np.log(np.exp(z) / np.exp(z).sum(axis=1, keepdims=True))


def shifted_then_log(z):
    with np.errstate(divide="ignore"):
        return np.log(softmax(z))


row = np.array([[2.0, -1.0, 0.5]])
scales = np.logspace(0, 3.5, 60)
results = {"naive log(exp(z) / Σ exp(z))": naive_log_softmax, "log(softmax(z)), max-shifted": shifted_then_log,
           "log-sum-exp (scratchnet, torch)": lambda z: F.log_softmax(z, dim=1)}
fig, ax = plt.subplots(figsize=(7, 3.8))
for (label, function), style in zip(results.items(), ["-", "--", ":"]):
    values = [function(s * row)[0, 1] for s in scales]  # log p of the smallest logit
    finite = np.isfinite(values)
    ax.plot(scales[finite], np.array(values)[finite], style, linewidth=2, label=label)
    first_bad = scales[~finite][0] if (~finite).any() else None
    print(f"{label:<34} first non-finite at scale {first_bad if first_bad is None else round(first_bad, 1)}")
ax.set_xscale("log")
ax.set_xlabel("scale s of the logits s · (2, −1, 0.5)")
ax.set_ylabel("log p of the class with logit −s")
ax.set_title("Lines stop where the value became −inf or NaN")
ax.legend(fontsize=8)
plt.show()

# %%
big = 800.0 * row
t_log_p = torch.log_softmax(torch.tensor(big), dim=1).numpy()
print("log-sum-exp:", F.log_softmax(big, dim=1), " torch:", t_log_p)
print("loss at scale 800, scratchnet:", scratchnet.nn.CrossEntropyLoss()(big, np.array([1])),
      " torch:", torch.nn.functional.cross_entropy(torch.tensor(big), torch.tensor([1])).item())

# %% [markdown]
# The gradient `(p − onehot(y)) / N` needs only `p`, which the shifted softmax computes safely; the loss
# needs `log p`, which only log-sum-exp computes safely. scratchnet's `CrossEntropyLoss` uses both, as torch's does.
