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
# # 1. The lecture's network by hand
#
# The lecture trains a multilayer perceptron 20 → 64 → 64 → 2 on `make_classification` data with
# cross-entropy and Adam. Here we compute one training step ourselves, one equation per cell, and print
# each quantity beside what PyTorch computes from the same weights. Then we train the whole 20 epochs
# in scratchnet and in torch and draw both loss curves.
#
# Everything is float64, so "agree" means to about 1e-15: the same arithmetic, rounded the same way.

# %%
import numpy as np
import torch
import matplotlib.pyplot as plt

import scratchnet
import torchnet
from parity import to_numpy, torch_to_scratch
from scratchnet.data import load_lecture_data

X_train, X_test, y_train, y_test = load_lecture_data(np.float64)
print("X_train", X_train.shape, "y_train", y_train.shape, "classes", np.unique(y_train))


def side_by_side(name, mine, theirs):
    """Print a quantity's shape and the largest |scratchnet - torch| of its elements."""
    theirs = to_numpy(theirs) if isinstance(theirs, torch.Tensor) else theirs
    print(f"{name:<14} {str(np.shape(mine)):<10} largest |difference| {np.max(np.abs(mine - theirs)):.1e}")


# %% [markdown]
# ## The two models, with the same weights
# torch draws the initial weights (as in the lecture); `torch_to_scratch` copies them into scratchnet's model.
# The state_dict keys are the same on both sides: `net.0.weight`, `net.0.bias`, ..., `net.4.bias`.

# %%
torch.manual_seed(0)
torch_model = torchnet.MLP(20, 64, 2).double()
model = scratchnet.models.MLP(20, 64, 2, dtype=np.float64)
torch_to_scratch(torch_model, model)
W1, b1 = model.net[0].weight.data, model.net[0].bias.data
W2, b2 = model.net[2].weight.data, model.net[2].bias.data
W3, b3 = model.net[4].weight.data, model.net[4].bias.data
print({name: tuple(value.shape) for name, value in model.state_dict().items()})

# %% [markdown]
# ## Forward, one layer at a time
# `z = x Wᵀ + b`, then ReLU, twice; the last layer gives the logits; softmax turns them into probabilities.

# %%
X = X_train
z1 = X @ W1.T + b1
a1 = np.maximum(z1, 0)
z2 = a1 @ W2.T + b2
a2 = np.maximum(z2, 0)
logits = a2 @ W3.T + b3
p = np.exp(logits - logits.max(axis=1, keepdims=True))
p = p / p.sum(axis=1, keepdims=True)

Xt = torch.from_numpy(X)
t_z1 = torch_model.net[0](Xt)
t_a1 = torch.relu(t_z1)
t_z2 = torch_model.net[2](t_a1)
t_a2 = torch.relu(t_z2)
t_logits = torch_model.net[4](t_a2)
for name, mine, theirs in [("z1", z1, t_z1), ("a1", a1, t_a1), ("z2", z2, t_z2), ("a2", a2, t_a2),
                           ("logits", logits, t_logits), ("p", p, torch.softmax(t_logits, dim=1))]:
    side_by_side(name, mine, theirs)

# %% [markdown]
# ## Cross-entropy
# `L = -(1/N) Σₙ log p[n, yₙ]`: the mean, over the samples, of minus the log-probability of the true class.

# %%
N = len(y_train)
loss = -np.mean(np.log(p[np.arange(N), y_train]))
t_loss = torch.nn.functional.cross_entropy(t_logits, torch.from_numpy(y_train))
print(f"scratchnet {loss:.15f}\ntorch      {t_loss.item():.15f}")
print("scratchnet.nn.CrossEntropyLoss gives", scratchnet.nn.CrossEntropyLoss()(model(X), y_train))

# %% [markdown]
# ## Backward, line by line
# The chain rule from the loss back to every weight. For softmax with cross-entropy the gradient of the
# logits is `(p − onehot(y)) / N` (notebook 2 derives it). For a linear layer `z = a Wᵀ + b` with
# upstream gradient `g`: `dW = gᵀ a`, `db = Σₙ g`, `da = g W`. ReLU passes the gradient where `z > 0`.

# %%
onehot = np.eye(2)[y_train]
dlogits = (p - onehot) / N
dW3 = dlogits.T @ a2
db3 = dlogits.sum(axis=0)
da2 = dlogits @ W3
dz2 = da2 * (z2 > 0)
dW2 = dz2.T @ a1
db2 = dz2.sum(axis=0)
da1 = dz2 @ W2
dz1 = da1 * (z1 > 0)
dW1 = dz1.T @ X
db1 = dz1.sum(axis=0)

torch_model.zero_grad()
torch.nn.functional.cross_entropy(torch_model(Xt), torch.from_numpy(y_train)).backward()
mine = {"net.0.weight": dW1, "net.0.bias": db1, "net.2.weight": dW2, "net.2.bias": db2,
        "net.4.weight": dW3, "net.4.bias": db3}
for name, param in torch_model.named_parameters():
    side_by_side(name, mine[name], param.grad)

# %% [markdown]
# scratchnet's layers do the same in their `backward` methods (read `scratchnet/nn/linear.py`):

# %%
model.zero_grad()
criterion = scratchnet.nn.CrossEntropyLoss()
criterion(model(X), y_train)
model.backward(criterion.backward())
for name, param in model.named_parameters():
    side_by_side(name, param.grad, mine[name])

# %% [markdown]
# ## One Adam step
# With gradient `g` at step `t = 1`: `m = β₁ m + (1 − β₁) g`, `v = β₂ v + (1 − β₂) g²`,
# `m̂ = m / (1 − β₁ᵗ)`, `v̂ = v / (1 − β₂ᵗ)`, and `W ← W − lr · m̂ / (√v̂ + ε)`.

# %%
lr, beta1, beta2, eps, t = 1e-3, 0.9, 0.999, 1e-8, 1
updated = {}
for name, g in mine.items():
    m = (1 - beta1) * g  # m starts at 0
    v = (1 - beta2) * g**2  # and so does v
    m_hat = m / (1 - beta1**t)
    v_hat = v / (1 - beta2**t)
    updated[name] = model.state_dict()[name] - lr * m_hat / (np.sqrt(v_hat) + eps)

torch.optim.Adam(torch_model.parameters(), lr=lr).step()
scratchnet.optim.Adam(model.parameters(), lr=lr).step()
for name, param in torch_model.named_parameters():
    side_by_side(name, updated[name], param)
print("scratchnet's Adam:", max(np.max(np.abs(model.state_dict()[n] - updated[n])) for n in updated))

# %% [markdown]
# ## The lecture's 20 epochs on both sides
# Fresh models from the same initial weights, full-batch Adam (lr 1e-3), 20 epochs, as the lecture trains.

# %%
torch.manual_seed(0)
torch_model = torchnet.MLP(20, 64, 2).double()
model = scratchnet.models.MLP(20, 64, 2, dtype=np.float64)
torch_to_scratch(torch_model, model)
losses = scratchnet.training.fit(model, X_train, y_train, num_epochs=20, log=None)
torch_losses = torchnet.training.fit(torch_model, torch.from_numpy(X_train), torch.from_numpy(y_train),
                                     num_epochs=20, log=None)
print(f"largest |loss difference| over the epochs: {max(abs(a - b) for a, b in zip(losses, torch_losses)):.1e}")

fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(range(1, 21), losses, color="tab:blue", linewidth=4, alpha=0.6, label="scratchnet (NumPy)")
ax.plot(range(1, 21), torch_losses, color="tab:orange", linestyle="--", marker="o", markersize=3, label="torch")
ax.set_xlabel("epoch")
ax.set_ylabel("cross-entropy (training set)")
ax.set_title("The lecture's run on both sides: one curve")
ax.legend()
plt.show()

# %% [markdown]
# Try it: change the learning rate, the hidden width, or `np.float64` to `np.float32` at the top; the
# differences printed above grow from ~1e-16 to ~1e-7, float32's rounding, and the curves still coincide.
