"""``python -m parity trace``: one training step of a tiny network, every quantity, NumPy beside torch.

The lecture's "how it works" slides, made executable. A network MLP(3, [4], 2) (sizes are
options) gets the same weights on both sides; one batch of 2 samples goes forward, through
cross-entropy, backward and one Adam step, and every intermediate value is printed with the
equation that computes it:

    x                      the input batch                     (N, D)
    z1 = x W1^T + b1       a1 = relu(z1)                       forward, layer by layer
    logits = a1 W2^T + b2  p = softmax(logits)  L = -mean log p[n, y_n]
    dlogits = (p - onehot(y)) / N                              backward: the chain rule, top down
    dW2 = dlogits^T a1     db2 = sum_n dlogits    da1 = dlogits W2    dz1 = da1 * relu'(z1)  ...
    m, v, the update and the new weights                       one Adam step (t = 1)

``dX`` is short for dL/dX, the gradient of the loss with respect to X. NumPy's values come from
running scratchnet's modules one at a time (each backward returns the gradient for the module
below); torch's from forward hooks that keep every module's output with ``retain_grad()``, so
autograd fills in their gradients.

``python -m parity trace --model attention`` traces one forward and backward of self-attention,
``MultiheadAttention(x, x, x)`` with a causal mask, head by head (see ``trace_attention``):

    Q_h = x W_q^T + b_q (head h's columns), K_h, V_h    the projections, per head
    S_h = Q_h K_hᵀ·scale + M,  P_h = softmax(S_h),  O_h = P_h V_h
    y = [O_1 ... O_H] W_oᵀ + b_o                        the heads side by side, out_proj
    dO_h, dV_h = P_hᵀ dO_h, dQ_h = dS_h K_h·scale, dK_h = dS_hᵀ Q_h·scale
    din_proj_weight, din_proj_bias, dout_proj.weight, dout_proj.bias, dx
"""

import argparse
import math
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np
import torch

import scratchnet
import torchnet
from parity import tolerances
from parity.compare import compare
from parity.harness import torch_fast_path_off
from parity.transfer import to_numpy, to_torch, torch_dtype, torch_to_scratch
from parity.cli import limit_threads, parity_exit_status
from scratchnet.cli.entry import CommandLineParser, add_threads_argument, check_seed
from scratchnet.cli.experiment import ACTIVATION_NAMES, parse_widths, resolve
from scratchnet.nn import attention as scratch_attention
from scratchnet.nn import functional as F
from scratchnet.nn.transformer import generate_square_subsequent_mask

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


@dataclass
class TraceRow:
    """One quantity of the step: its name, the equation computing it, and both sides' values."""

    stage: str
    name: str
    equation: str
    scratch: np.ndarray
    torch: np.ndarray
    note: str = ""

    @property
    def max_abs_diff(self):
        a, b = self.scratch.astype(np.float64), self.torch.astype(np.float64)
        with np.errstate(invalid="ignore"):  # a mask's -inf on both sides differs by 0, not by -inf - -inf = nan
            return float(np.max(np.where(a == b, 0.0, np.abs(a - b)), initial=0.0))


def trace_step(inputs=3, hidden=(4,), classes=2, samples=2, *, seed=11, lr=1e-3, activation="ReLU",
               dtype=np.float64):
    """One training step of MLP(inputs, hidden, classes) with cross-entropy and Adam, on both sides.

    Returns the TraceRows in the order the step computes them. Weights: torch's default init
    after ``torch.manual_seed(seed)``, copied into scratchnet. Data: ``x`` standard normal and
    ``y`` uniform class labels from ``numpy.random.default_rng(seed)``.
    """
    dtype = np.dtype(dtype)
    hidden = list(hidden)
    torch.manual_seed(seed)
    torch_model = torchnet.MLP(inputs, hidden, classes, activation=activation).to(torch_dtype(dtype))
    scratch_model = torch_to_scratch(torch_model, scratchnet.models.MLP(inputs, hidden, classes, activation=activation,
                                                                        dtype=dtype))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((samples, inputs)).astype(dtype)
    y = rng.integers(0, classes, samples)

    scratch = _scratch_step(scratch_model, x, y, lr)
    theirs = _torch_step(torch_model, x, y, lr)
    return _rows(scratch, theirs, x, y, len(hidden) + 1, activation.lower(), lr)


def _scratch_step(model, x, y, lr):
    """scratchnet's step, module by module, keeping every output and every gradient on the way down."""
    layers = list(model.net)
    outputs, h = [], x
    for layer in layers:
        h = layer(h)
        outputs.append(h)
    criterion = scratchnet.nn.CrossEntropyLoss()
    loss = criterion(h, y)
    grads = [None] * len(layers)  # grads[i] = dL/d(output of layer i)
    g = criterion.backward()
    for i in reversed(range(len(layers))):
        grads[i] = g
        g = layers[i].backward(g)
    params = list(model.parameters())
    before = [p.data.copy() for p in params]
    optimizer = scratchnet.optim.Adam(params, lr=lr)
    optimizer.step()
    return dict(outputs=outputs, grads=grads, softmax=F.softmax(h, dim=1), loss=np.asarray(loss),
                params=[(b, p.grad, optimizer.state[p]["exp_avg"], optimizer.state[p]["exp_avg_sq"], p.data)
                        for b, p in zip(before, params, strict=True)])


def _torch_step(model, x, y, lr):
    """torch's step: forward hooks keep each module's output and ask autograd for its gradient."""
    outputs = []

    def keep(module, args, output):
        output.retain_grad()
        outputs.append(output)

    handles = [layer.register_forward_hook(keep) for layer in model.net]
    logits = model(to_torch(x))
    for handle in handles:
        handle.remove()
    loss = torch.nn.functional.cross_entropy(logits, to_torch(y))
    loss.backward()
    params = list(model.parameters())
    before = [to_numpy(p) for p in params]
    optimizer = torch.optim.Adam(params, lr=lr)
    optimizer.step()
    state = optimizer.state
    return dict(outputs=[to_numpy(o) for o in outputs], grads=[to_numpy(o.grad) for o in outputs],
                softmax=to_numpy(torch.softmax(logits.detach(), dim=1)), loss=to_numpy(loss),
                params=[(b, to_numpy(p.grad), to_numpy(state[p]["exp_avg"]), to_numpy(state[p]["exp_avg_sq"]),
                         to_numpy(p)) for b, p in zip(before, params, strict=True)])


def _rows(mine, theirs, x, y, num_layers, act, lr):
    rows = []

    def add(stage, name, equation, index, note="", part=None):
        """A row from ``mine[index]`` and ``theirs[index]`` (``part`` picks inside a list or tuple)."""
        a, b = mine[index], theirs[index]
        if part is not None:
            a, b = _pick(a, part), _pick(b, part)
        rows.append(TraceRow(stage, name, equation, np.asarray(a), np.asarray(b), note))

    def z_name(layer):
        return "logits" if layer == num_layers else f"z{layer}"

    def input_name(layer):
        return "x" if layer == 1 else f"a{layer - 1}"

    forward, backward = "forward", "backward"
    rows.append(TraceRow(forward, "x", "x: the input batch, one sample per row", x, x))
    rows.append(TraceRow(forward, "y", "y: each sample's class label", y, y))
    for layer in range(1, num_layers + 1):
        add(forward, f"W{layer}", f"W{layer}: layer {layer}'s weights (torch's init, copied to NumPy)", "params", part=(2 * layer - 2, 0))
        add(forward, f"b{layer}", f"b{layer}: layer {layer}'s bias", "params", part=(2 * layer - 1, 0))
        add(forward, z_name(layer), f"{z_name(layer)} = {input_name(layer)} W{layer}^T + b{layer}", "outputs",
            part=2 * layer - 2)
        if layer < num_layers:
            add(forward, f"a{layer}", f"a{layer} = {act}(z{layer})", "outputs", part=2 * layer - 1)
    add("loss", "p", "p = softmax(logits): p[n, c] = exp(logits[n, c]) / sum_k exp(logits[n, k])", "softmax")
    add("loss", "L", "L = -(1/N) sum_n log p[n, y_n]   (cross-entropy, mean over the batch)", "loss")
    add(backward, "dlogits", "dlogits = (p - onehot(y)) / N", "grads", part=2 * num_layers - 2)
    for layer in range(num_layers, 0, -1):
        dz = f"d{z_name(layer)}"
        add(backward, f"dW{layer}", f"dW{layer} = {dz}^T {input_name(layer)}", "params", part=(2 * layer - 2, 1))
        add(backward, f"db{layer}", f"db{layer} = sum_n {dz}[n]", "params", part=(2 * layer - 1, 1))
        if layer > 1:
            add(backward, f"da{layer - 1}", f"da{layer - 1} = {dz} W{layer}", "grads", part=2 * layer - 3)
            add(backward, f"dz{layer - 1}", f"dz{layer - 1} = da{layer - 1} * {act}'(z{layer - 1})", "grads",
                part=2 * layer - 4)
    stage = "adam"
    for layer in range(1, num_layers + 1):
        for kind, index in (("W", 2 * layer - 2), ("b", 2 * layer - 1)):
            p = f"{kind}{layer}"
            add(stage, f"m_{p}", f"m_{p} = beta1 m_{p} + (1 - beta1) d{p}   (m starts at 0)", "params",
                part=(index, 2))
            add(stage, f"v_{p}", f"v_{p} = beta2 v_{p} + (1 - beta2) d{p}^2   (v starts at 0)", "params",
                part=(index, 3))
            rows.append(TraceRow(stage, f"update_{p}",
                                 f"update_{p} = -lr m_hat / (sqrt(v_hat) + eps)",
                                 mine["params"][index][4] - mine["params"][index][0],
                                 theirs["params"][index][4] - theirs["params"][index][0],
                                 note=f"m_hat = m_{p} / (1 - beta1^t), v_hat = v_{p} / (1 - beta2^t); at t = 1 this is "
                                      f"about -lr sign(d{p}) = -{lr:g} sign(d{p})"))
            add(stage, f"new_{p}", f"{p} <- {p} + update_{p}   (the new weights)", "params", part=(index, 4))
    return rows


def _pick(value, part):
    for index in part if isinstance(part, tuple) else (part,):
        value = value[index]
    return value


# -- python -m parity trace --model attention -------------------------------------------------------


def trace_attention(seq=3, embed=4, heads=2, *, mask="causal", seed=11, dtype=np.float64):
    """One forward and backward of self-attention y = MultiheadAttention(x, x, x), on both sides.

    Returns (rows, torch_check): the TraceRows in the order the layer computes them, and the
    comparisons (``compare``'s TensorDiffs) of torch's own MultiheadAttention with the torch
    recomputation that gives the torch column its inner quantities (see ``_torch_attention``).
    Weights: torch's init after ``torch.manual_seed(seed)``, the biases then drawn uniform in
    (-0.5, 0.5) so that they show (torch starts them at 0), copied into scratchnet. Data from
    ``numpy.random.default_rng(seed)``: ``x`` (seq, embed) and ``dy`` = dL/dy (seq, embed), the
    gradient the layers above would send (as if L = sum(y ∘ dy)), both standard normal.
    ``mask``: "causal" (query i sees keys j <= i) or "none".
    """
    dtype = np.dtype(dtype)
    torch.manual_seed(seed)
    torch_mha = torch.nn.MultiheadAttention(embed, heads, dtype=torch_dtype(dtype))
    with torch.no_grad():
        torch_mha.in_proj_bias.uniform_(-0.5, 0.5)
        torch_mha.out_proj.bias.uniform_(-0.5, 0.5)
    scratch_mha = torch_to_scratch(torch_mha, scratchnet.nn.MultiheadAttention(embed, heads, dtype=dtype))
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((seq, embed)).astype(dtype)
    dy = rng.standard_normal((seq, embed)).astype(dtype)
    M = generate_square_subsequent_mask(seq, dtype) if mask == "causal" else None

    mine = _scratch_attention(scratch_mha, x, M, dy)
    theirs, torch_check = _torch_attention(torch_mha, x, M, dy, tolerance_for(dtype))
    return _attention_rows(mine, theirs, x, M, dy, heads), torch_check


@contextmanager
def _recording(module, names):
    """Call ``module.<name>`` through a wrapper that keeps its last arguments and result, for each name.

    MultiheadAttention keeps only what its backward needs; this is how the trace sees the rest of
    what scratchnet computed (as forward hooks do for torch's modules). Yields {name: (args, result)}.
    """
    calls, originals = {}, {name: getattr(module, name) for name in names}

    def recorder(name, function):
        def record(*args, **kwargs):
            calls[name] = (args, function(*args, **kwargs))
            return calls[name][1]
        return record

    try:
        for name, function in originals.items():
            setattr(module, name, recorder(name, function))
        yield calls
    finally:
        for name, function in originals.items():
            setattr(module, name, function)


def _scratch_attention(mha, x, M, dy):
    """scratchnet's numbers: the module's forward and backward, recording what its attention functions saw."""
    with _recording(scratch_attention, ("attention_forward", "_softmax_over_keys", "attention_backward")) as calls:
        y, _ = mha(x, x, x, attn_mask=M, need_weights=False)
        d_query, d_key, d_value = mha.backward(dy)
    (Q, K, V, merged_mask, *_), (O, cache) = calls["attention_forward"]
    (S,), _ = calls["_softmax_over_keys"]
    (dO, *_), (dQ, dK, dV) = calls["attention_backward"]
    P = cache[3]
    one = lambda array: array[0]  # noqa: E731  -- unbatched input: MultiheadAttention runs it as a batch of 1
    return dict(Q=one(Q), K=one(K), V=one(V), S=one(S), P=one(P), O=one(O), y=y,
                M=None if merged_mask is None else np.broadcast_to(merged_mask, P.shape)[0, 0],
                dO=one(dO), dQ=one(dQ), dK=one(dK), dV=one(dV), dx=d_query + d_key + d_value,
                params={name: p.data for name, p in mha.named_parameters()},
                grads={name: p.grad for name, p in mha.named_parameters()})


def _torch_attention(mha, x, M, dy, tolerance):
    """torch's numbers, and the check that they are torch's.

    y, dx and the parameter gradients come from torch's MultiheadAttention itself (its fast path
    off, so that it runs these equations: see parity/tolerances.py). It keeps none of the
    quantities inside, so those are recomputed with torch ops from the module's own parameters
    (F.linear, the head split as torch's view, softmax, autograd for the gradients); the
    recomputation's y, dx and gradients are then compared with the module's, giving torch_check.
    """
    E, H = mha.embed_dim, mha.num_heads
    L, D = x.shape[0], E // H
    M_t = None if M is None else to_torch(M)
    with torch_fast_path_off():
        x_t = to_torch(x).requires_grad_()
        y, _ = mha(x_t, x_t, x_t, attn_mask=M_t, need_weights=False)
        y.backward(to_torch(dy))
    module = dict(y=to_numpy(y), dx=to_numpy(x_t.grad),
                  grads={name: to_numpy(p.grad) for name, p in mha.named_parameters()})
    mha.zero_grad()

    x_r = to_torch(x).requires_grad_()
    W_q, W_k, W_v = mha.in_proj_weight.chunk(3)
    b_q, b_k, b_v = mha.in_proj_bias.chunk(3)
    split = lambda t: t.view(L, H, D).transpose(0, 1)  # noqa: E731  -- (L, E) -> (H, L, D), head h's columns
    Q = split(torch.nn.functional.linear(x_r, W_q, b_q))
    K = split(torch.nn.functional.linear(x_r, W_k, b_k))
    V = split(torch.nn.functional.linear(x_r, W_v, b_v))
    S = Q @ K.transpose(-2, -1) * (1 / math.sqrt(D))
    if M_t is not None:
        S = S + M_t
    P = torch.softmax(S, dim=-1)
    O = P @ V
    for t in (Q, K, V, O):
        t.retain_grad()
    o = O.transpose(0, 1).reshape(L, E)
    y_r = torch.nn.functional.linear(o, mha.out_proj.weight, mha.out_proj.bias)
    y_r.backward(to_torch(dy))

    recomputed = dict(Q=Q, K=K, V=V, S=S, P=P, O=O, dO=O.grad, dQ=Q.grad, dK=K.grad, dV=V.grad)
    theirs = {name: to_numpy(value) for name, value in recomputed.items()}
    theirs.update(module, M=M, params={name: to_numpy(p) for name, p in mha.named_parameters()})
    torch_check = [compare("y", to_numpy(y_r), module["y"], tolerance),
                   compare("dx", to_numpy(x_r.grad), module["dx"], tolerance)]
    torch_check += [compare(f"d{name}", to_numpy(p.grad), module["grads"][name], tolerance)
                    for name, p in mha.named_parameters()]
    return theirs, torch_check


def _attention_rows(mine, theirs, x, M, dy, heads):
    rows = []
    E = x.shape[1]
    D = E // heads

    def add(stage, name, equation, pick, note=""):
        rows.append(TraceRow(stage, name, equation, np.asarray(pick(mine)), np.asarray(pick(theirs)), note))

    inputs, backward = "Inputs and parameters (torch's init, copied to NumPy)", \
        "Backward: from dy down (dX means dL/dX)"
    rows.append(TraceRow(inputs, "x", "x: the input sequence, one token per row (query = key = value = x)", x, x))
    if M is not None:
        add(inputs, "M", "M: the causal mask, -inf where key j > query i", lambda side: side["M"])
    add(inputs, "in_proj_weight", "in_proj_weight = [W_q; W_k; W_v]", lambda side: side["params"]["in_proj_weight"])
    add(inputs, "in_proj_bias", "in_proj_bias = [b_q; b_k; b_v]",
        lambda side: side["params"]["in_proj_bias"].reshape(3, E), note="shown as three rows: b_q, b_k, b_v")
    add(inputs, "out_proj.weight", "out_proj.weight = W_o", lambda side: side["params"]["out_proj.weight"])
    add(inputs, "out_proj.bias", "out_proj.bias = b_o", lambda side: side["params"]["out_proj.bias"])
    plus_M = " + M" if M is not None else ""
    for h in range(heads):
        stage, columns, n = f"Head {h + 1}: columns {h * D}:{(h + 1) * D} of q, k, v", f"{h * D}:{(h + 1) * D}", h + 1
        at = lambda key, h=h: lambda side: side[key][h]  # noqa: E731
        add(stage, f"Q_{n}", f"Q_{n} = (x W_qᵀ + b_q)[:, {columns}]", at("Q"))
        add(stage, f"K_{n}", f"K_{n} = (x W_kᵀ + b_k)[:, {columns}]", at("K"))
        add(stage, f"V_{n}", f"V_{n} = (x W_vᵀ + b_v)[:, {columns}]", at("V"))
        add(stage, f"S_{n}", f"S_{n} = Q_{n} K_{n}ᵀ·scale{plus_M}", at("S"),
            note=f"scale = 1/sqrt(D) = 1/sqrt({D}); row i: query i's score for each key j")
        add(stage, f"P_{n}", f"P_{n} = softmax(S_{n}), row by row", at("P"), note="each row sums to 1; exp(-inf) = 0")
        add(stage, f"O_{n}", f"O_{n} = P_{n} V_{n}", at("O"))
    output = "Output projection: the heads side by side, o = [" + " ".join(f"O_{h + 1}" for h in range(heads)) + "]"
    add(output, "y", "y = o W_oᵀ + b_o", lambda side: side["y"])
    rows.append(TraceRow(backward, "dy", "dy: the gradient from above, drawn at random", dy, dy,
                         note="as if L = sum(y ∘ dy)"))
    add(backward, "dout_proj.weight", "dout_proj.weight = dyᵀ o", lambda side: side["grads"]["out_proj.weight"])
    add(backward, "dout_proj.bias", "dout_proj.bias = 1ᵀ dy", lambda side: side["grads"]["out_proj.bias"])
    for h in range(heads):
        n, columns = h + 1, f"{h * D}:{(h + 1) * D}"
        at = lambda key, h=h: lambda side: side[key][h]  # noqa: E731
        add(backward, f"dO_{n}", f"dO_{n} = (dy W_o)[:, {columns}]", at("dO"))
        add(backward, f"dV_{n}", f"dV_{n} = P_{n}ᵀ dO_{n}", at("dV"))
        add(backward, f"dQ_{n}", f"dQ_{n} = dS_{n} K_{n}·scale", at("dQ"),
            note=f"dP_{n} = dO_{n} V_{n}ᵀ, dS_{n} = P_{n} ∘ (dP_{n} − rowsum(dP_{n} ∘ P_{n})): "
                 "the softmax's backward")
        add(backward, f"dK_{n}", f"dK_{n} = dS_{n}ᵀ Q_{n}·scale", at("dK"))
    heads_joined = " ".join(f"dQ_{h + 1}" for h in range(heads))
    add(backward, "din_proj_weight", "din_proj_weight = [dqᵀ x; dkᵀ x; dvᵀ x]",
        lambda side: side["grads"]["in_proj_weight"], note=f"dq = [{heads_joined}], dk and dv likewise")
    add(backward, "din_proj_bias", "din_proj_bias = [1ᵀ dq; 1ᵀ dk; 1ᵀ dv]",
        lambda side: side["grads"]["in_proj_bias"].reshape(3, E),
        note="three rows: db_q, db_k, db_v; db_k is 0 up to rounding, as b_k adds the same q·b_k to a query's every "
             "score, which the softmax ignores")
    add(backward, "dx", "dx = dq W_q + dk W_k + dv W_v", lambda side: side["dx"],
        note="x was the query, the key and the value: their three gradients add up")
    return rows


def tolerance_for(dtype):
    """A single step's rounding: the module tolerances (see parity.tolerances.MODULE)."""
    return tolerances.for_dtype(tolerances.MODULE, dtype)


def check(rows, dtype):
    """The rows whose two sides differ by more than the tolerance."""
    tolerance = tolerance_for(dtype)
    return [row for row in rows if not compare(row.name, row.scratch, row.torch, tolerance).passed]


def format_rows(rows, digits=5):
    """The trace as text: per quantity its equation, shape and max |diff|, then NumPy | torch, row by row."""
    titles = {"forward": "Forward pass, layer by layer", "loss": "Softmax and cross-entropy loss",
              "backward": "Backward pass: the chain rule from the loss down (dX means dL/dX)",
              "adam": "One Adam step, t = 1 (torch.optim.Adam's defaults: beta1 0.9, beta2 0.999, eps 1e-8)"}
    lines, stage = [], None

    def cells(array, width):
        matrix = np.atleast_2d(array) if array.ndim < 2 else array
        return ["  ".join(f"{text(value):>{width}}" for value in row) for row in matrix]

    def text(value):
        return f"{value + 0:.{digits}g}"  # + 0 turns -0.0 (a negative gradient times a ReLU mask of 0) into 0

    for row in rows:
        if row.stage != stage:
            stage = row.stage
            lines += ["", f"== {titles.get(stage, stage)} ==", ""]
        shape = "scalar" if row.scratch.ndim == 0 else "x".join(map(str, row.scratch.shape))
        lines.append(f"{row.equation:<64} {shape:>7}   max |diff| {row.max_abs_diff:.1e}")
        if row.note:
            lines.append(f"    ({row.note})")
        width = max(len(text(value)) for value in np.concatenate([row.scratch.ravel(), row.torch.ravel()]))
        left, right = cells(row.scratch, width), cells(row.torch, width)
        column = max(len(cell) for cell in left + ["NumPy (scratchnet)"])
        lines.append(f"    {'NumPy (scratchnet)':<{column}}  |  torch")
        lines += [f"    {a:<{column}}  |  {b}" for a, b in zip(left, right)]
    return "\n".join(lines)


DESCRIPTION = """\
One training step of a tiny network, every quantity printed with its equation, NumPy beside torch.

An MLP (3 inputs, 4 hidden units, 2 classes by default) gets the same weights on both sides; one
batch of 2 samples goes forward, through softmax and cross-entropy, backward, and one Adam step:

    z1 = x W1^T + b1, a1 = relu(z1), ..., logits     the forward pass, layer by layer
    p = softmax(logits), L = -mean log p[n, y_n]     the loss
    dlogits = (p - onehot(y)) / N, dW2, db2, da1 ... the backward pass, top down (dX means dL/dX)
    m, v, the update and the new weights             one Adam step (t = 1)

With --model attention: one forward and backward of self-attention, MultiheadAttention(x, x, x)
(a sequence of 3 tokens, embed 4, 2 heads, a causal mask by default), head by head:

    Q_h, K_h, V_h = head h's columns of x W_q^T + b_q, x W_k^T + b_k, x W_v^T + b_v
    S_h = Q_h K_h^T·scale + M, P_h = softmax(S_h), O_h = P_h V_h, y = [O_1 ... O_H] W_o^T + b_o
    dO_h, dV_h, dQ_h, dK_h, the gradients of in_proj_weight, in_proj_bias, out_proj, and dx

Exit status: 0 when every quantity agrees within tolerance, 1 when one does not, 2 on bad usage,
130 when stopped by Ctrl-C.
"""

MODELS = ("mlp", "attention")
# Each model's options and their defaults (None in the parser, so that an option given to the
# other model is refused rather than ignored).
MLP_DEFAULTS = dict(inputs=3, hidden="4", classes=2, samples=2, activation="relu", lr=1e-3)
ATTENTION_DEFAULTS = dict(seq=3, embed=4, heads=2, mask="causal")


def build_parser():
    parser = CommandLineParser(prog="python -m parity trace", description=DESCRIPTION,
                               formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", choices=MODELS, default="mlp",
                        help="what to trace: an MLP's training step, or self-attention's forward and backward "
                        "(default mlp)")
    mlp = parser.add_argument_group("--model mlp")
    mlp.add_argument("--inputs", type=int, help="input features (default 3)")
    mlp.add_argument("--hidden", help="hidden layer widths, comma-separated (default 4)")
    mlp.add_argument("--classes", type=int, help="classes, i.e. logits per sample (default 2)")
    mlp.add_argument("--samples", type=int, help="samples in the batch (default 2)")
    mlp.add_argument("--activation", help="one of: " + ", ".join(ACTIVATION_NAMES) + " (default relu)")
    mlp.add_argument("--lr", type=float, help="Adam's learning rate (default 1e-3, the lecture's)")
    attention = parser.add_argument_group("--model attention")
    attention.add_argument("--seq", type=int, help="tokens in the sequence (default 3)")
    attention.add_argument("--embed", type=int, help="embed_dim, the width of a token (default 4)")
    attention.add_argument("--heads", type=int, help="num_heads, dividing --embed (default 2)")
    attention.add_argument("--mask", choices=("causal", "none"), help="the attention mask (default causal)")
    parser.add_argument("--seed", type=int, default=11,
                        help="seed for the weights and the data (default 11: for the MLP, two classes, and each "
                        "hidden unit active for some samples and inactive for others)")
    parser.add_argument("--dtype", choices=["float64", "float32"], default="float64", help="precision (default float64)")
    parser.add_argument("--digits", type=int, default=5, help="significant digits printed (default 5)")
    add_threads_argument(parser)
    return parser


def _model_options(args):
    """The chosen model's options, defaults filled in; an option of the other model is an error."""
    mine, other = (MLP_DEFAULTS, ATTENTION_DEFAULTS) if args.model == "mlp" else (ATTENTION_DEFAULTS, MLP_DEFAULTS)
    for name in other:
        if getattr(args, name) is not None:
            raise ValueError(f"--{name} is an option of --model {'mlp' if args.model != 'mlp' else 'attention'}, "
                             f"not of --model {args.model}")
    return {name: default if getattr(args, name) is None else getattr(args, name) for name, default in mine.items()}


def options_from_args(args):
    check_seed("--seed", args.seed)
    if not 1 <= args.digits <= 17:
        raise ValueError(f"--digits must be between 1 and 17, got {args.digits}")
    options = _model_options(args)
    positive = ("seq", "embed", "heads") if args.model == "attention" else ("inputs", "classes", "samples")
    for name in positive:
        if options[name] < 1:
            raise ValueError(f"--{name} must be a positive integer, got {options[name]}")
    if args.model == "attention":
        if options["embed"] % options["heads"]:
            raise ValueError(f"--heads must divide --embed (each head takes embed / heads columns), got --embed "
                             f"{options['embed']} and --heads {options['heads']}")
        return dict(options, seed=args.seed, dtype=args.dtype)
    if options["classes"] < 2:
        raise ValueError(f"--classes must be at least 2 for cross-entropy, got {options['classes']}")
    if not np.isfinite(options["lr"]) or options["lr"] <= 0:
        raise ValueError(f"--lr must be a positive number, got {options['lr']}")
    return dict(options, hidden=parse_widths(options["hidden"]), seed=args.seed,
                activation=resolve("activation", options["activation"], ACTIVATION_NAMES), dtype=args.dtype)


def main(argv=None):
    args = build_parser().parse_args(argv)
    return parity_exit_status("python -m parity trace", lambda: run(args))


def run(args):
    options = options_from_args(args)
    limit_threads(args.threads)
    if args.model == "attention":
        return run_attention(options, args.digits)
    rows = trace_step(**options)
    widths = "-".join(str(w) for w in [options["inputs"], *options["hidden"], options["classes"]])
    print(f"One training step of MLP {widths} ({options['activation']}), cross-entropy, Adam(lr={options['lr']:g}), "
          f"{options['samples']} samples, {options['dtype']}, seed {options['seed']}")
    print(format_rows(rows, args.digits))
    return verdict(rows, options["dtype"])


def run_attention(options, digits):
    rows, torch_check = trace_attention(**options)
    mask = "a causal mask" if options["mask"] == "causal" else "no mask"
    print(f"One forward and backward of self-attention y = MultiheadAttention(x, x, x): {options['seq']} tokens, "
          f"embed {options['embed']}, {options['heads']} heads, {mask}, {options['dtype']}, seed {options['seed']}")
    print(format_rows(rows, digits))
    print()
    largest = max(torch_check, key=lambda diff: diff.max_abs)
    agree = "agree" if all(diff.passed for diff in torch_check) else "DISAGREE"
    print("torch's column: y, dx and the parameter gradients are torch's MultiheadAttention's; the quantities inside")
    print(f"are recomputed with torch ops from its parameters, and the recomputation and the module {agree} "
          f"(largest |diff| {largest.max_abs:.1e}, {largest.name})")
    return verdict(rows, options["dtype"], torch_check)


def verdict(rows, dtype, torch_check=()):
    """Print the largest difference and PASS or FAIL; returns the exit status."""
    failures = [row.name for row in check(rows, dtype)]
    failures += [f"torch's recomputation of {diff.name}" for diff in torch_check if not diff.passed]
    largest = max(rows, key=lambda row: row.max_abs_diff)
    tolerance = tolerance_for(dtype)
    print()
    print(f"Largest |NumPy - torch| over all {len(rows)} quantities: {largest.max_abs_diff:.1e} ({largest.name}); "
          f"tolerance atol {tolerance.atol:g} + rtol {tolerance.rtol:g}·|torch|")
    if failures:
        print("FAIL: " + ", ".join(failures))
        return EXIT_FAIL
    print("PASS")
    return EXIT_PASS
