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
# # 5. Attention
#
# Scaled dot-product attention lets every position of a sequence look at every other and take a weighted
# average of what it finds: `O = softmax(Q Kᵀ / √d + M) V`. We compute one head by hand on a short sequence,
# add the causal mask that a language model needs, draw the attention weights, and then look inside the small
# GPT of `python -m scratchnet --model gpt`, trained to add two-digit numbers.

# %%
import numpy as np
import torch
import matplotlib.pyplot as plt

import scratchnet
from scratchnet.nn.attention import attention_forward
from scratchnet.nn.transformer import generate_square_subsequent_mask
from scratchnet.text import DIGITS, exact_match, greedy_answers, make_addition
from scratchnet.training import PerTokenLoss, fit

# %% [markdown]
# ## One head by hand
# Five positions with 4 features each. A head projects them into queries, keys and values; each score
# `S[i, j] = q_i · k_j / √d` says how much position i wants position j; softmax over j turns a row into weights.

# %%
rng = np.random.default_rng(0)
T, d = 5, 4
x = rng.standard_normal((T, d))
W_q, W_k, W_v = (rng.standard_normal((d, d)) / np.sqrt(d) for _ in range(3))
Q, K, V = x @ W_q.T, x @ W_k.T, x @ W_v.T
S = Q @ K.T / np.sqrt(d)
P = np.exp(S - S.max(axis=1, keepdims=True))
P = P / P.sum(axis=1, keepdims=True)
O = P @ V

O_scratchnet, _ = attention_forward(Q, K, V)
O_torch = torch.nn.functional.scaled_dot_product_attention(*(torch.tensor(a) for a in (Q, K, V))).numpy()
print(f"|ours − scratchnet| {np.abs(O - O_scratchnet).max():.1e},  |ours − torch| {np.abs(O - O_torch).max():.1e}")

# %% [markdown]
# ## The causal mask
# A language model predicts token t+1 from tokens 0..t, so position i must not see j > i. The mask `M` adds
# −∞ above the diagonal; after softmax those weights are exactly 0.

# %%
M = np.triu(np.full((T, T), -np.inf), k=1)
S_causal = S + M
P_causal = np.exp(S_causal - S_causal.max(axis=1, keepdims=True))
P_causal = P_causal / P_causal.sum(axis=1, keepdims=True)
O_causal, _ = attention_forward(Q, K, V, is_causal=True)
O_causal_torch = torch.nn.functional.scaled_dot_product_attention(*(torch.tensor(a) for a in (Q, K, V)),
                                                                  is_causal=True).numpy()
print(f"|ours − scratchnet| {np.abs(P_causal @ V - O_causal).max():.1e},"
      f"  |scratchnet − torch| {np.abs(O_causal - O_causal_torch).max():.1e}")

fig, axes = plt.subplots(1, 2, figsize=(8, 3.5))
for ax, weights, title in zip(axes, (P, P_causal), ("no mask", "causal mask")):
    image = ax.imshow(weights, cmap="viridis", vmin=0, vmax=1)
    ax.set_title(f"attention weights P, {title}")
    ax.set_xlabel("key position j")
    ax.set_ylabel("query position i")
fig.colorbar(image, ax=axes)
plt.show()

# %% [markdown]
# ## A GPT that adds
# The dataset: every `a + b` for two-digit a and b, written `"12+34="` followed by the sum's three digits
# **reversed** (`"640"` for 046), so the model produces the ones digit first, as we add by hand. 80% of the
# 10,000 sums train it; it is scored on the 2,000 it never saw.

# %%
data = make_addition(2)
print("vocabulary:", DIGITS, " train:", data.X_train.shape, " test:", data.X_test.shape)
print("one training sequence:", DIGITS.decode(np.append(data.X_train[0], data.y_train[0, -1])))

# %%
scratchnet.manual_seed(42)  # as python -m scratchnet --model gpt does, with its defaults below
model = scratchnet.models.GPT(vocab_size=len(DIGITS), block_size=data.block_size, n_layer=2, n_head=4, n_embd=64,
                              dropout=0.0, dtype=np.float32)
criterion = PerTokenLoss(scratchnet.nn.CrossEntropyLoss())
optimizer = scratchnet.optim.AdamW(model.parameters(), lr=1e-3)
losses = fit(model, data.X_train, data.y_train, num_epochs=5, criterion=criterion, optimizer=optimizer,
             batch_size=64, seed=42, log=None)
model.eval()
answers = greedy_answers(model.generate, data.test_prompts(), data.answer_length)
print("loss per epoch:", np.round(losses, 4))
print(f"exact match on the held-out sums: {exact_match(answers, data.test_answers()):.2%}")
for prompt, answer in zip(data.test_prompts()[:5], answers[:5]):
    question, reversed_sum = DIGITS.decode(prompt), DIGITS.decode(answer)
    a, b = map(int, question[:-1].split("+"))
    print(f"{question}{reversed_sum}   i.e. {a} + {b} = {int(reversed_sum[::-1])}   ({'right' if a + b == int(reversed_sum[::-1]) else 'wrong'})")

# %% [markdown]
# ## Where the model looks
# Rerun the first block's attention on one sum with the weights returned (`need_weights=True`, per head),
# and draw each head's weights: the row of each answer digit shows which digits of `a` and `b` it reads.

# %%
prompt = DIGITS.encode("47+38=")
full = np.concatenate([prompt, model.generate(prompt[None], 3)[0, len(prompt):]])
idx = full[None, :-1]  # the model's input: everything but the last answer digit
tokens = [DIGITS.decode([t]) for t in idx[0]]
x0 = model.wte(idx) + model.wpe(np.arange(idx.shape[1]))
block = model.h[0]
z = block.ln_1(x0)
M = generate_square_subsequent_mask(len(tokens), dtype=z.dtype)  # the block's causal mask
_, weights = block.attn(z, z, z, attn_mask=M, is_causal=True, need_weights=True, average_attn_weights=False)
print(f"model's answer: {DIGITS.decode(full[len(prompt):])}, reversed {DIGITS.decode(full[len(prompt):])[::-1]}"
      f" (47 + 38 = 85)")
fig, axes = plt.subplots(1, weights.shape[1], figsize=(14, 3.6))
for head, ax in enumerate(axes):
    ax.imshow(weights[0, head], cmap="viridis", vmin=0, vmax=1)
    ax.set_xticks(range(len(tokens)), tokens)
    ax.set_yticks(range(len(tokens)), tokens)
    ax.set_title(f"block 0, head {head}")
    ax.set_xlabel("reads (key)")
axes[0].set_ylabel("position (query)")
plt.show()
