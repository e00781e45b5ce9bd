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
# # 3. Convolution as a matrix product
#
# A `Conv2d` slides each filter over the image and takes a dot product at every position. Written that way it
# is four nested loops. **im2col** rewrites it as one matrix product: copy every k×k patch of the input into a
# row of a matrix, lay each filter out as a column, and multiply. scratchnet's `Conv2d` does exactly this
# (read `scratchnet/nn/conv.py`). We build it on a handwritten digit, check it against torch, derive a filter's
# gradient the same way, and look inside a trained digits CNN.

# %%
import numpy as np
import torch
import matplotlib.pyplot as plt

import scratchnet
import torchnet
from parity import check_module, torch_to_scratch
from scratchnet.data import load_dataset

digits = load_dataset("digits")  # 8x8 images, standardised pixels, as 64 features
image = digits.split.X_train[0].reshape(8, 8)
print("label:", digits.split.y_train[0])
plt.figure(figsize=(2.5, 2.5))
plt.imshow(image, cmap="gray_r")
plt.title("one digit (8×8)")
plt.axis("off")
plt.show()

# %% [markdown]
# ## im2col: every 3×3 patch becomes a row
# With padding 1 ("same"), an 8×8 image has 8·8 = 64 positions, so the patch matrix is 64 × 9.

# %%
k = 3
padded = np.pad(image, 1)
patches = np.array([padded[i:i + k, j:j + k].ravel() for i in range(8) for j in range(8)])
print("patches:", patches.shape)

# %% [markdown]
# ## The filters as a matrix, and the convolution as one product
# Four random 3×3 filters become a 9 × 4 matrix `W_col`; `patches @ W_col` gives 64 × 4: every position, every filter.
# Reshaped, these are four 8×8 feature maps.

# %%
rng = np.random.default_rng(0)
filters = rng.standard_normal((4, 1, k, k))  # (C_out, C_in, k, k), torch's layout
bias = rng.standard_normal(4)
W_col = filters.reshape(4, -1).T  # (9, 4)
out = (patches @ W_col + bias).T.reshape(4, 8, 8)

torch_out = torch.nn.functional.conv2d(torch.tensor(image)[None, None], torch.tensor(filters),
                                       torch.tensor(bias), padding=1)[0].numpy()
print(f"largest |im2col − torch.conv2d| = {np.abs(out - torch_out).max():.1e}")

fig, axes = plt.subplots(1, 4, figsize=(9, 2.5))
for c, ax in enumerate(axes):
    ax.imshow(out[c], cmap="RdBu_r")
    ax.set_title(f"filter {c}")
    ax.axis("off")
plt.suptitle("feature maps of four random filters")
plt.show()

# %% [markdown]
# ## The gradient of a filter
# With upstream gradient `G` (64 × 4, one value per position and filter), `out = patches @ W_col` gives
# `dW_col = patchesᵀ G`: each filter's gradient is the sum, over positions, of the patch seen there times
# the gradient at that position. The input's gradient `d patches = G W_colᵀ` goes back to the pixels by
# adding each patch row into the place it was copied from (col2im).

# %%
G = rng.standard_normal((64, 4))
dW_col = patches.T @ G
dfilters = dW_col.T.reshape(4, 1, k, k)
dbias = G.sum(axis=0)

x = torch.tensor(image)[None, None].requires_grad_()
w = torch.tensor(filters, requires_grad=True)
b = torch.tensor(bias, requires_grad=True)
torch.nn.functional.conv2d(x, w, b, padding=1).backward(torch.tensor(G.T.reshape(1, 4, 8, 8)))
print(f"dW: largest |ours − torch| = {np.abs(dfilters - w.grad.numpy()).max():.1e}")
print(f"db: largest |ours − torch| = {np.abs(dbias - b.grad.numpy()).max():.1e}")

d_patches = G @ W_col.T  # (64, 9)
d_padded = np.zeros_like(padded)
for row, (i, j) in enumerate((i, j) for i in range(8) for j in range(8)):
    d_padded[i:i + k, j:j + k] += d_patches[row].reshape(k, k)  # col2im: add each patch back where it came from
print(f"dx: largest |ours − torch| = {np.abs(d_padded[1:-1, 1:-1] - x.grad[0, 0].numpy()).max():.1e}")

# %% [markdown]
# scratchnet's `Conv2d` does all of this for batches and channels, and `check_module` compares its output and
# every gradient with torch's:

# %%
conv = torch.nn.Conv2d(1, 4, 3, padding=1).double()
print(check_module(scratchnet.nn.Conv2d(1, 4, 3, padding=1, dtype=np.float64), conv, image[None, None]))

# %% [markdown]
# ## Inside a trained digits CNN
# The CNN of `python -m scratchnet --model cnn` (conv 3×3 → ReLU → max-pool, twice, then a linear layer),
# trained for a few epochs, from torch's initial weights so that the torch twin can follow the same path.

# %%
X_train = digits.split.X_train.reshape(-1, 1, 8, 8)
X_test = digits.split.X_test.reshape(-1, 1, 8, 8)
torch.manual_seed(0)
torch_cnn = torchnet.CNN().double()
cnn = scratchnet.models.CNN(dtype=np.float64)
torch_to_scratch(torch_cnn, cnn)
losses = scratchnet.training.fit(cnn, X_train, digits.split.y_train, num_epochs=8, lr=3e-3, batch_size=64, log=None)
accuracy = (scratchnet.training.predict(cnn, X_test) == digits.split.y_test).mean()
print(f"test accuracy after 8 epochs: {accuracy:.2%}")

# %%
first_conv, first_relu = cnn.net[0], cnn.net[1]
maps = first_relu(first_conv(X_test[:1]))[0]  # (16, 8, 8): what the first layer's 16 filters see
fig, axes = plt.subplots(2, 9, figsize=(12, 3))
axes[0, 0].imshow(X_test[0, 0], cmap="gray_r")
axes[0, 0].set_title(f"input ({digits.split.y_test[0]})")
for c in range(16):
    ax = axes[(c + 1) // 9, (c + 1) % 9]
    ax.imshow(maps[c], cmap="viridis")
    ax.set_title(f"map {c}", fontsize=8)
axes[1, 8].imshow(first_conv.weight.data[0, 0], cmap="RdBu_r")
axes[1, 8].set_title("filter 0", fontsize=8)
for ax in axes.ravel():
    ax.axis("off")
plt.suptitle("first-layer feature maps (after ReLU) of the trained CNN")
plt.show()
