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
# # 4. An LSTM, one step at a time
#
# A recurrent network reads a sequence one step at a time, carrying a state. Here the sequence is a
# handwritten digit read **row by row**: 8 steps, each the 8 pixels of one row. We compute one LSTM step's
# gates by hand and compare them with torch, watch the gates over the eight rows, backpropagate through
# time, and see why a plain RNN's gradient vanishes over long sequences while the LSTM's cell state carries it.

# %%
import numpy as np
import torch
import matplotlib.pyplot as plt

import scratchnet
from parity import torch_to_scratch
from scratchnet.data import load_dataset

digits = load_dataset("digits-seq")  # (N, 8, 8): 8 steps of 8 pixels, scaled to [0, 1]
x_seq = digits.split.X_train[0]  # (8, 8)
print("label:", digits.split.y_train[0], " sequence:", x_seq.shape)

# %% [markdown]
# ## One step, by hand
# With input `x_t` and the previous state `(h, c)`, torch's LSTM computes four gate blocks from one product
# `a = x_t W_ihᵀ + b_ih + h W_hhᵀ + b_hh`, split as `i | f | g | o`:
#
# `i = σ(a_i)` (input gate), `f = σ(a_f)` (forget gate), `g = tanh(a_g)` (candidate), `o = σ(a_o)` (output gate),
# `c' = f ⊙ c + i ⊙ g`, `h' = o ⊙ tanh(c')`.

# %%
H = 6
torch.manual_seed(0)
torch_cell = torch.nn.LSTMCell(8, H).double()
cell = scratchnet.nn.LSTMCell(8, H, dtype=np.float64)
torch_to_scratch(torch_cell, cell)
W_ih, W_hh = cell.weight_ih.data, cell.weight_hh.data
b = cell.bias_ih.data + cell.bias_hh.data


def sigmoid(a):
    return 1 / (1 + np.exp(-a))


def lstm_step(x_t, h, c):
    a = x_t @ W_ih.T + h @ W_hh.T + b
    a_i, a_f, a_g, a_o = np.split(a, 4, axis=-1)
    i, f, g, o = sigmoid(a_i), sigmoid(a_f), np.tanh(a_g), sigmoid(a_o)
    c_next = f * c + i * g
    h_next = o * np.tanh(c_next)
    return h_next, c_next, dict(i=i, f=f, g=g, o=o)


h, c = np.zeros((1, H)), np.zeros((1, H))
h1, c1, _ = lstm_step(x_seq[:1], h, c)
t_h1, t_c1 = torch_cell(torch.tensor(x_seq[:1]))
s_h1, s_c1 = cell(x_seq[:1])
print(f"h: |ours − torch| {np.abs(h1 - t_h1.detach().numpy()).max():.1e},"
      f" |scratchnet − torch| {np.abs(s_h1 - t_h1.detach().numpy()).max():.1e}")
print(f"c: |ours − torch| {np.abs(c1 - t_c1.detach().numpy()).max():.1e}")

# %% [markdown]
# ## The gates over the eight rows
# Run the step over the whole digit and draw each gate's values (rows: hidden units, columns: time steps).

# %%
gates, h, c = [], np.zeros((1, H)), np.zeros((1, H))
for t in range(8):
    h, c, gate_values = lstm_step(x_seq[t:t + 1], h, c)
    gates.append(gate_values)
fig, axes = plt.subplots(1, 5, figsize=(13, 2.8))
axes[0].imshow(x_seq, cmap="gray_r")
axes[0].set_title("input: row t is step t")
axes[0].set_ylabel("t")
for ax, name in zip(axes[1:], "ifgo"):
    values = np.concatenate([g[name] for g in gates]).T  # (H, 8)
    image = ax.imshow(values, cmap="viridis", vmin=-1 if name == "g" else 0, vmax=1, aspect="auto")
    ax.set_title({"i": "input gate i", "f": "forget gate f", "g": "candidate g", "o": "output gate o"}[name])
    ax.set_xlabel("time step t")
    ax.set_ylabel("hidden unit")
fig.colorbar(image, ax=axes, shrink=0.8)
plt.show()

# %% [markdown]
# ## Backpropagation through time
# The loss at the end depends on every step through the chain of states. scratchnet's `LSTM` runs the steps
# forward, keeps each step's cache, and its `backward` walks them in reverse (`scratchnet/nn/rnn.py`, with one
# step's derivative in `scratchnet/nn/recurrent_steps.py`). Here: the gradient of the last hidden state's sum
# with respect to each input row, scratchnet beside torch.

# %%
torch.manual_seed(0)
torch_lstm = torch.nn.LSTM(8, H, batch_first=True).double()
lstm = scratchnet.nn.LSTM(8, H, batch_first=True, dtype=np.float64)
torch_to_scratch(torch_lstm, lstm)

output, (h_n, c_n) = lstm(x_seq[None])
grad_output = np.zeros_like(output)
grad_output[:, -1] = 1.0  # L = sum of the last step's hidden state
dx = lstm.backward((grad_output, None))  # dL/d input (with an initial state given, also dL/d (h0, c0))

xt = torch.tensor(x_seq[None], requires_grad=True)
torch_lstm(xt)[0][:, -1].sum().backward()
print(f"dL/dx: largest |scratchnet − torch| = {np.abs(dx - xt.grad.numpy()).max():.1e}")
print("|dL/dx_t| per row:", np.round(np.linalg.norm(dx[0], axis=1), 4))

# %% [markdown]
# ## Why gradients vanish without the cell state
# Over a long sequence (T = 60 steps of noise) compare how much the last step's output depends on each
# earlier input, `|∂L/∂x_t|`, for a plain `RNN` (tanh) and an `LSTM` of the same width. The RNN's gradient
# passes through `tanh'` and `W_hh` at every step and shrinks geometrically; the LSTM's cell state
# `c' = f ⊙ c + …` passes it on multiplied only by the forget gate `f`. Untrained, `f ≈ σ(0) = 0.5` and the
# decay is only somewhat slower; but learning can hold `f` near 1, and then the gradient reaches far back. The
# third curve opens the forget gate by hand (its bias +3, so `f ≈ 0.95`), a common initialisation for that reason.

# %%
T = 60
sequence = np.random.default_rng(0).standard_normal((1, T, 8))
norms = {}
for name in ("RNN", "LSTM", "LSTM, forget bias +3"):
    kind = name.split(",")[0]
    torch.manual_seed(0)
    layer = getattr(scratchnet.nn, kind)(8, 32, batch_first=True, dtype=np.float64)
    torch_to_scratch(getattr(torch.nn, kind)(8, 32, batch_first=True).double(), layer)
    if "forget" in name:
        layer.bias_ih_l0.data[32:64] += 3.0  # the f block of i | f | g | o
    output, _ = layer(sequence)
    grad_output = np.zeros_like(output)
    grad_output[:, -1] = 1.0
    dx = layer.backward((grad_output, None))
    norms[name] = np.linalg.norm(dx[0], axis=1)

fig, ax = plt.subplots(figsize=(7, 3.5))
for name, values in norms.items():
    ax.semilogy(range(T), values, label=name)
ax.set_xlabel("input step t")
ax.set_ylabel("|∂L/∂x_t| (log scale)")
ax.set_title("How far back the last output's gradient reaches")
ax.legend()
plt.show()
for name, values in norms.items():
    print(f"{name:<22} |∂L/∂x| at the last step {values[-1]:.2e}, 30 steps earlier {values[-31]:.2e}")
