"""The lecture's models in PyTorch, written the way the lecture writes them."""

import torch
import torch.nn as nn


def hidden_widths(hidden_dim):
    """The lecture's ``hidden_dim=64`` means two hidden layers of 64; a list gives any depth."""
    return [hidden_dim, hidden_dim] if isinstance(hidden_dim, int) else list(hidden_dim)


class MLP(nn.Module):
    def __init__(self, input_dim, hidden_dim, output_dim, activation="ReLU", dtype=None):
        super().__init__()
        widths = [input_dim, *hidden_widths(hidden_dim), output_dim]
        layers = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(fan_in, fan_out, dtype=dtype), getattr(nn, activation)()]
        # With the defaults this is the lecture's nn.Sequential(Linear, ReLU, Linear, ReLU, Linear).
        self.net = nn.Sequential(*layers[:-1])

    def forward(self, x):
        return self.net(x)


class SequenceClassifier(nn.Module):
    """A recurrent layer (batch_first) and a linear head on the last hidden state h_n[-1]."""

    CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}

    def __init__(self, input_size, hidden_size, num_classes, cell="lstm", num_layers=1, dtype=None):
        super().__init__()
        if cell not in self.CELLS:
            raise ValueError(f"SequenceClassifier: cell must be one of {sorted(self.CELLS)}, got {cell!r}")
        self.cell = cell
        self.rnn = self.CELLS[cell](input_size, hidden_size, num_layers=num_layers, batch_first=True, dtype=dtype)
        self.head = nn.Linear(hidden_size, num_classes, dtype=dtype)

    def forward(self, x):
        _, state = self.rnn(x)
        h_n = state[0] if self.cell == "lstm" else state
        return self.head(h_n[-1])


class CNN(nn.Module):
    """(Conv2d-ReLU-MaxPool2d) per entry of ``channels``, then Flatten and Linear; as scratchnet.CNN."""

    def __init__(self, in_channels=1, num_classes=10, channels=(16, 32), kernel_size=3, image_size=8, dtype=None):
        super().__init__()
        channels = tuple(channels)
        final_size = image_size // 2 ** len(channels)
        if not channels or final_size < 1:
            raise ValueError(
                f"CNN: {len(channels)} conv-pool stages halve an image of size {image_size} to {final_size}; "
                f"expected at least one stage and image_size >= {2 ** max(len(channels), 1)}"
            )
        layers = []
        for c_in, c_out in zip((in_channels,) + channels[:-1], channels):
            layers += [nn.Conv2d(c_in, c_out, kernel_size, padding="same", dtype=dtype), nn.ReLU(), nn.MaxPool2d(2)]
        layers += [nn.Flatten(), nn.Linear(channels[-1] * final_size * final_size, num_classes, dtype=dtype)]
        self.net = nn.Sequential(*layers)

    def forward(self, x):
        return self.net(x)


class GPTBlock(nn.Module):
    """Pre-norm causal self-attention and MLP, each a residual branch; as scratchnet.models.GPTBlock.

    The causal mask is a float (0 / -inf) attn_mask, which also keeps torch's MultiheadAttention off its
    fused inference fast path (it refuses float masks), so greedy decoding under no_grad runs the same math.
    """

    def __init__(self, n_embd, n_head, dropout=0.0, dtype=None):
        super().__init__()
        self.ln_1 = nn.LayerNorm(n_embd, dtype=dtype)
        self.attn = nn.MultiheadAttention(n_embd, n_head, dropout=dropout, batch_first=True, dtype=dtype)
        self.resid_dropout = nn.Dropout(dropout)
        self.ln_2 = nn.LayerNorm(n_embd, dtype=dtype)
        self.mlp = nn.Sequential(nn.Linear(n_embd, 4 * n_embd, dtype=dtype), nn.GELU("tanh"),
                                 nn.Linear(4 * n_embd, n_embd, dtype=dtype), nn.Dropout(dropout))

    def forward(self, x):
        mask = nn.Transformer.generate_square_subsequent_mask(x.shape[1], dtype=x.dtype)
        z = self.ln_1(x)
        h = x + self.resid_dropout(self.attn(z, z, z, attn_mask=mask, is_causal=True, need_weights=False)[0])
        return h + self.mlp(self.ln_2(h))


class GPT(nn.Module):
    """Token and position embeddings, n_layer GPTBlocks, a final LayerNorm and a linear head; as scratchnet.GPT."""

    def __init__(self, vocab_size, block_size, n_layer, n_head, n_embd, dropout=0.0, dtype=None):
        super().__init__()
        self.block_size = block_size
        self.wte = nn.Embedding(vocab_size, n_embd, dtype=dtype)
        self.wpe = nn.Embedding(block_size, n_embd, dtype=dtype)
        self.drop = nn.Dropout(dropout)
        self.h = nn.Sequential(*(GPTBlock(n_embd, n_head, dropout, dtype=dtype) for _ in range(n_layer)))
        self.ln_f = nn.LayerNorm(n_embd, dtype=dtype)
        self.lm_head = nn.Linear(n_embd, vocab_size, bias=False, dtype=dtype)

    def forward(self, idx):
        positions = torch.arange(idx.shape[1])
        x = self.drop(self.wte(idx) + self.wpe(positions))
        return self.lm_head(self.ln_f(self.h(x)))

    @torch.no_grad()
    def generate(self, idx, max_new_tokens):
        """Append max_new_tokens greedy tokens (argmax of the last position's logits) to idx (B, T0)."""
        for _ in range(max_new_tokens):
            logits = self(idx[:, -self.block_size:])
            next_token = logits[:, -1].argmax(dim=-1)
            idx = torch.cat([idx, next_token[:, None]], dim=1)
        return idx
