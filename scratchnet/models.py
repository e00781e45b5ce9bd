"""The lecture's models, written with scratchnet's layers."""

import numbers

import numpy as np

from scratchnet import nn
from scratchnet._checks import check_array, shape_str
from scratchnet.nn import (GELU, GRU, LSTM, RNN, Conv2d, Dropout, Embedding, Flatten, LayerNorm, Linear, MaxPool2d,
                           Module, MultiheadAttention, ReLU, Sequential)
from scratchnet.nn.transformer import generate_square_subsequent_mask

# Activations an MLP can use between its layers, by their torch names (those scratchnet has).
# Every element-wise one with default arguments; not PReLU (a parameter), GLU (halves the width) or Threshold
# (no default threshold).
ACTIVATIONS = ("ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Softplus", "Sigmoid", "Tanh", "Identity", "ReLU6", "Hardtanh",
               "Hardsigmoid", "Hardswish", "Mish", "SELU", "CELU", "LogSigmoid", "Softsign", "Tanhshrink", "Softshrink",
               "Hardshrink")


def hidden_widths(hidden_dim):
    """The lecture's ``hidden_dim=64`` means two hidden layers of 64; a list gives any depth."""
    def is_width(value):
        return isinstance(value, numbers.Integral) and not isinstance(value, bool) and value >= 0  # torch allows 0

    if is_width(hidden_dim):
        return [int(hidden_dim), int(hidden_dim)]
    if isinstance(hidden_dim, (bool, numbers.Number, str)) or not all(is_width(w) for w in hidden_dim):
        raise ValueError(f"hidden_dim must be a non-negative int or a list of them, got {hidden_dim!r}")
    return [int(w) for w in hidden_dim]


class MLP(Module):
    """The lecture's multilayer perceptron: Linear-ReLU-Linear-ReLU-Linear.

    x (N, input_dim) -> z1 = x W1^T + b1 -> a1 = relu(z1)     (N, hidden_dim)
                     -> z2 = a1 W2^T + b2 -> a2 = relu(z2)    (N, hidden_dim)
                     -> logits = a2 W3^T + b3                 (N, output_dim)

    ``self.net`` is a Sequential, so state_dict keys are net.0.weight ... net.4.bias,
    exactly those of the lecture's torch model. ``hidden_dim`` may also be a list of
    widths (one hidden layer each, ``[]`` for a linear model) and ``activation`` the
    torch name of any activation module (``"Tanh"``, ``"GELU"``, ...).
    """

    def __init__(self, input_dim, hidden_dim, output_dim, activation="ReLU", dtype=None):
        super().__init__()
        if activation not in ACTIVATIONS:
            raise ValueError(f"unknown activation {activation!r}; expected one of {', '.join(ACTIVATIONS)}")
        widths = [input_dim, *hidden_widths(hidden_dim), output_dim]
        layers = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            layers += [Linear(fan_in, fan_out, dtype=dtype), getattr(nn, activation)()]
        self.net = Sequential(*layers[:-1])  # no activation after the output layer: it gives logits
        # Plain ints in the config (np.int64 does not go into a JSON header).
        hidden = int(hidden_dim) if isinstance(hidden_dim, numbers.Integral) else [int(w) for w in hidden_dim]
        self._config = dict(input_dim=int(input_dim), hidden_dim=hidden, output_dim=int(output_dim),
                            activation=activation)

    def config(self):
        """The constructor's arguments (used to rebuild the model when loading a file)."""
        return dict(self._config)

    def forward(self, x):
        return self.net(x)

    def backward(self, grad_logits):
        return self.net.backward(grad_logits)


class SequenceClassifier(Module):
    """A recurrent layer reads the sequence; a linear head classifies its last hidden state.

    x (N, T, input_size) -> rnn (batch_first) -> h_n[-1] (N, hidden_size), the top layer's state
    after the last step -> logits = h W^T + b (N, num_classes).

    Backward: the head gives dL/dh_n[-1]; the recurrent layer takes it as (grad_output=None,
    grad_h_n) -- only the final state was used -- and runs backpropagation through time.
    state_dict keys: rnn.weight_ih_l0, ..., head.weight, head.bias (as torchnet's twin).
    """

    CELLS = {"rnn": RNN, "lstm": LSTM, "gru": GRU}

    def __init__(self, input_size, hidden_size, num_classes, cell="lstm", num_layers=1, dtype=None):
        super().__init__()
        if cell not in self.CELLS:
            raise ValueError(f"SequenceClassifier: cell must be one of {sorted(self.CELLS)}, got {cell!r}")
        self._config = {"input_size": input_size, "hidden_size": hidden_size, "num_classes": num_classes,
                        "cell": cell, "num_layers": num_layers}
        self.cell = cell
        self.rnn = self.CELLS[cell](input_size, hidden_size, num_layers=num_layers, batch_first=True, dtype=dtype)
        self.head = Linear(hidden_size, num_classes, dtype=dtype)

    def config(self):
        """The constructor's arguments (dtype aside: the weights carry it)."""
        return dict(self._config)

    def forward(self, x):
        _, state = self.rnn(x)
        h_n = state[0] if self.cell == "lstm" else state
        self._h_n_shape = h_n.shape
        return self.head(h_n[-1])

    def backward(self, grad_logits):
        grad_h_n = np.zeros(self._h_n_shape, dtype=grad_logits.dtype)
        grad_h_n[-1] = self.head.backward(grad_logits)
        return self.rnn.backward((None, (grad_h_n, None) if self.cell == "lstm" else grad_h_n))


class CNN(Module):
    """A small convolutional network: (Conv2d-ReLU-MaxPool2d) per entry of ``channels``, then Linear.

    With the defaults, sized for scikit-learn's 8x8 digits:

    x (N, 1, 8, 8) -> conv 3x3 'same' -> relu -> maxpool 2    (N, 16, 4, 4)
                   -> conv 3x3 'same' -> relu -> maxpool 2    (N, 32, 2, 2)
                   -> flatten -> logits = a W^T + b           (N, 10)

    ``self.net`` is a Sequential, so state_dict keys (net.0.weight, net.3.weight, net.7.weight, ...)
    equal those of ``torchnet.CNN``. Backward is the chain rule down ``self.net``.
    """

    def __init__(self, in_channels=1, num_classes=10, channels=(16, 32), kernel_size=3, image_size=8, dtype=None):
        super().__init__()
        channels = tuple(channels)
        final_size = image_size // 2 ** len(channels)
        if not channels or final_size < 1:
            raise ValueError(
                f"CNN: {len(channels)} conv-pool stages halve an image of size {image_size} to {final_size}; "
                f"expected at least one stage and image_size >= {2 ** max(len(channels), 1)}"
            )
        self._config = {"in_channels": in_channels, "num_classes": num_classes, "channels": list(channels),
                        "kernel_size": kernel_size, "image_size": image_size}
        layers = []
        for c_in, c_out in zip((in_channels,) + channels[:-1], channels):
            layers += [Conv2d(c_in, c_out, kernel_size, padding="same", dtype=dtype), ReLU(), MaxPool2d(2)]
        layers += [Flatten(), Linear(channels[-1] * final_size * final_size, num_classes, dtype=dtype)]
        self.net = Sequential(*layers)

    def config(self):
        """The constructor's keyword arguments (without dtype: the weights carry it), e.g. for saving."""
        return dict(self._config, channels=list(self._config["channels"]))

    def forward(self, x):
        return self.net(x)

    def backward(self, grad_logits):
        return self.net.backward(grad_logits)


class GPTBlock(Module):
    r"""One GPT block: causal self-attention, then an MLP, each a pre-norm residual branch (GPT-2's layout).

    Shapes: x, h, y (B, T, C), C = n_embd; the MLP's hidden width is 4C.

        a = attn(ln_1(x), M)                 causal self-attention; M (T, T) = 0 where key j <= query t, -inf after
        h = x + drop(a)
        m = drop(W_2 gelu(W_1 ln_2(h)))      ``mlp``: Linear(C, 4C), GELU, Linear(4C, C), Dropout
        y = h + m

    The GELU is GPT-2's tanh approximation (``GELU("tanh")``), as minGPT's; with the exact erf form
    (a rational approximation in NumPy) a training step of the addition model took ~3x as long.
    M is a float mask: on the torch side it keeps MultiheadAttention off its fused inference path,
    so decoding runs the same math as training.

    Backward: a residual sum r = z + B(z) passes its gradient down both paths (dr/dz = I + dB/dz),
    and attention read ln_1(x) as its query, key and value, so their three gradients add up:

        dh = dy + ln_2.backward(mlp.backward(dy))
        (d_query, d_key, d_value) = attn.backward(drop.backward(dh))
        dx = dh + ln_1.backward(d_query + d_key + d_value)
    """

    def __init__(self, n_embd, n_head, dropout=0.0, dtype=None):
        super().__init__()
        self.ln_1 = LayerNorm(n_embd, dtype=dtype)
        self.attn = MultiheadAttention(n_embd, n_head, dropout=dropout, batch_first=True, dtype=dtype)
        self.resid_dropout = Dropout(dropout)
        self.ln_2 = LayerNorm(n_embd, dtype=dtype)
        self.mlp = Sequential(Linear(n_embd, 4 * n_embd, dtype=dtype), GELU("tanh"),
                              Linear(4 * n_embd, n_embd, dtype=dtype), Dropout(dropout))

    def forward(self, x):
        M = generate_square_subsequent_mask(x.shape[1], dtype=x.dtype)                     # (T, T)
        z = self.ln_1(x)
        a = self.attn(z, z, z, attn_mask=M, is_causal=True, need_weights=False)[0]         # a = attn(ln_1(x), M)
        h = x + self.resid_dropout(a)                                                      # h = x + drop(a)
        return h + self.mlp(self.ln_2(h))                                                  # y = h + m

    def backward(self, grad_output):
        dy = grad_output
        dh = dy + self.ln_2.backward(self.mlp.backward(dy))
        d_query, d_key, d_value = self.attn.backward(self.resid_dropout.backward(dh))
        return dh + self.ln_1.backward(d_query + d_key + d_value)


class GPT(Module):
    r"""A decoder-only Transformer language model (GPT-2's layout, as minGPT writes it; no weight tying).

    Shapes: idx (B, T) integer token ids in [0, vocab_size), T <= block_size; C = n_embd,
    V = vocab_size; logits (B, T, V): row t scores the token that follows idx[:, :t+1].

        x_0 = drop(wte[idx] + wpe[0..T-1])          token vectors plus learned position vectors  (B, T, C)
        x_l = h[l-1](x_{l-1}),  l = 1..n_layer      ``GPTBlock``s: causal, so x[:, t] sees idx[:, :t+1] only
        logits = ln_f(x_n) W_headᵀ                  ``lm_head``: Linear(C, V, bias=False)        (B, T, V)

    Training predicts every next token: CrossEntropyLoss on logits.reshape(B*T, V) against the
    targets reshaped to (B*T,), with -100 (ignore_index) where a position is not scored.

    Backward, from g = dL/dlogits (B, T, V): through lm_head, ln_f and the blocks down to dx_0;
    then the two lookups scatter it into their tables. Every row b reads the same position
    vectors, so wpe's gradient sums over the batch:

        dW_te[v] = sum of dx_0[b, t] over (b, t) with idx[b, t] = v        (``Embedding.backward``)
        dW_pe[t] = sum_b dx_0[b, t]

    The token ids are integers: ``backward`` returns no input gradient (an empty tuple).
    ``generate`` decodes greedily (argmax, no sampling).
    """

    def __init__(self, vocab_size, block_size, n_layer, n_head, n_embd, dropout=0.0, dtype=None):
        super().__init__()
        sizes = _check_gpt_sizes(vocab_size=vocab_size, block_size=block_size, n_layer=n_layer, n_head=n_head,
                                 n_embd=n_embd)
        self.block_size = sizes["block_size"]
        self.wte = Embedding(vocab_size, n_embd, dtype=dtype)
        self.wpe = Embedding(block_size, n_embd, dtype=dtype)
        self.drop = Dropout(dropout)
        self._config = dict(sizes, dropout=float(self.drop.p))  # plain ints and a float: the config goes into JSON
        self.h = Sequential(*(GPTBlock(n_embd, n_head, dropout, dtype=dtype) for _ in range(n_layer)))
        self.ln_f = LayerNorm(n_embd, dtype=dtype)
        self.lm_head = Linear(n_embd, vocab_size, bias=False, dtype=dtype)

    def config(self):
        """The constructor's arguments (dtype aside: the weights carry it), e.g. for saving."""
        return dict(self._config)

    def forward(self, idx):
        self._check(idx)
        positions = np.arange(idx.shape[1])
        x = self.drop(self.wte(idx) + self.wpe(positions))      # x_0 = drop(wte[idx] + wpe[0..T-1])
        x = self.h(x)                                           # x_n
        return self.lm_head(self.ln_f(x))                       # logits = ln_f(x_n) W_headᵀ

    def backward(self, grad_logits):
        dx = self.h.backward(self.ln_f.backward(self.lm_head.backward(grad_logits)))
        dx = self.drop.backward(dx)                             # dx_0   (B, T, C)
        self.wte.backward(dx)                                   # dW_te[v] = sum of dx_0[b, t] with idx[b, t] = v
        self.wpe.backward(dx.sum(axis=0))                       # dW_pe[t] = sum_b dx_0[b, t]
        return ()

    def generate(self, idx, max_new_tokens):
        """Append ``max_new_tokens`` greedy tokens to idx (B, T0): each is the argmax of the last row's logits.

        The model reads at most the last block_size tokens. Dropout is applied if the model is in
        training mode, as in torch: call ``eval()`` first for a deterministic decoding.
        """
        for _ in range(max_new_tokens):
            logits = self(idx[:, -self.block_size:])
            next_token = logits[:, -1].argmax(axis=-1)          # (B,)
            idx = np.concatenate([idx, next_token[:, None]], axis=1)
        return idx

    def _check(self, idx):
        check_array(idx, "GPT input")
        if idx.dtype.kind not in "iu" or idx.ndim != 2 or not 1 <= idx.shape[1] <= self.block_size:
            raise ValueError(f"GPT(block_size={self.block_size}) expected integer token ids of shape (B, T) with "
                             f"1 <= T <= {self.block_size}, got {idx.dtype} of shape {shape_str(idx.shape)}")


def _check_gpt_sizes(**sizes):
    """Each size a positive integer (n_layer may be 0), as plain ints."""
    for name, value in sizes.items():
        low = 0 if name == "n_layer" else 1
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low:
            raise ValueError(f"GPT expected {name} to be an integer >= {low}, got {value!r}")
    return {name: int(value) for name, value in sizes.items()}
