"""``python -m parity trace``: every quantity of one training step, NumPy beside torch."""

import numpy as np
import pytest
import torch

import torchnet
from parity.harness import torch_fast_path_off
from parity import cli as parity_cli
from parity import trace
from parity.trace import check, trace_attention, trace_step
from scratchnet.nn import ReLU
from scratchnet.nn import attention as scratch_attention

CASES = [
    dict(),  # the default: MLP 3-4-2, ReLU, 2 samples, float64
    dict(inputs=5, hidden=[3, 4], classes=3, samples=6, activation="Tanh", seed=3, lr=0.01),
    dict(inputs=2, hidden=[5], classes=4, samples=1, activation="GELU", seed=7),
]


def by_name(rows):
    return {row.name: row for row in rows}


def independent_torch_step(inputs=3, hidden=(4,), classes=2, samples=2, seed=11, lr=1e-3, activation="ReLU",
                           dtype=np.float64):
    """The same step written plainly in torch (autograd and torch.optim.Adam), without the trace's hooks."""
    torch.manual_seed(seed)
    model = torchnet.MLP(inputs, list(hidden), classes, activation=activation).to(
        torch.float64 if np.dtype(dtype) == np.float64 else torch.float32)
    rng = np.random.default_rng(seed)
    x = torch.tensor(rng.standard_normal((samples, inputs)).astype(dtype))
    y = torch.tensor(rng.integers(0, classes, samples))
    logits = model(x)
    loss = torch.nn.functional.cross_entropy(logits, y)
    loss.backward()
    grads = [p.grad.clone() for p in model.parameters()]
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    optimizer.step()
    return dict(x=x.numpy(), logits=logits.detach().numpy(), L=loss.item(), grads=[g.numpy() for g in grads],
                new=[p.detach().numpy() for p in model.parameters()])


@pytest.mark.parametrize("options", CASES)
def test_every_numpy_value_equals_torchs(options):
    rows = trace_step(**options)
    assert check(rows, np.float64) == []
    for row in rows:
        assert row.scratch.shape == row.torch.shape, row.name
        np.testing.assert_allclose(row.scratch, row.torch, rtol=1e-10, atol=1e-12, err_msg=row.name)


@pytest.mark.parametrize("options", CASES)
def test_the_torch_column_is_torchs_own_step(options):
    rows = by_name(trace_step(**options))
    expected = independent_torch_step(**options)
    layers = len(options.get("hidden", [4])) + 1
    np.testing.assert_array_equal(rows["x"].torch, expected["x"])
    np.testing.assert_array_equal(rows["logits"].torch, expected["logits"])
    assert rows["L"].torch == expected["L"]
    names = [f"{kind}{layer}" for layer in range(1, layers + 1) for kind in ("W", "b")]
    for name, grad, new in zip(names, expected["grads"], expected["new"], strict=True):
        np.testing.assert_array_equal(rows[f"d{name}"].torch, grad, err_msg=name)
        np.testing.assert_array_equal(rows[f"new_{name}"].torch, new, err_msg=name)


def test_each_line_computes_its_equation():
    """Recompute every printed quantity from the ones printed before it, with the equation beside it."""
    lr, beta1, beta2, eps = 1e-3, 0.9, 0.999, 1e-8
    for side in ("scratch", "torch"):
        v = {name: getattr(row, side) for name, row in by_name(trace_step(lr=lr)).items()}
        x, y, n = v["x"], v["y"], len(v["y"])
        close = lambda actual, expected: np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-15)  # noqa: E731
        close(v["z1"], x @ v["W1"].T + v["b1"])                                   # z1 = x W1^T + b1
        close(v["a1"], np.maximum(v["z1"], 0))                                    # a1 = relu(z1)
        close(v["logits"], v["a1"] @ v["W2"].T + v["b2"])                         # logits = a1 W2^T + b2
        close(v["p"], np.exp(v["logits"]) / np.exp(v["logits"]).sum(axis=1, keepdims=True))
        close(v["L"], -np.log(v["p"][np.arange(n), y]).mean())
        onehot = np.eye(v["logits"].shape[1])[y]
        close(v["dlogits"], (v["p"] - onehot) / n)                                # dlogits = (p - onehot(y)) / N
        close(v["dW2"], v["dlogits"].T @ v["a1"])
        close(v["db2"], v["dlogits"].sum(axis=0))
        close(v["da1"], v["dlogits"] @ v["W2"])
        close(v["dz1"], v["da1"] * (v["z1"] > 0))
        close(v["dW1"], v["dz1"].T @ x)
        close(v["db1"], v["dz1"].sum(axis=0))
        for p in ("W1", "b1", "W2", "b2"):
            g = v[f"d{p}"]
            close(v[f"m_{p}"], (1 - beta1) * g)
            close(v[f"v_{p}"], (1 - beta2) * g * g)
            m_hat, v_hat = v[f"m_{p}"] / (1 - beta1), v[f"v_{p}"] / (1 - beta2)
            close(v[f"update_{p}"], -lr * m_hat / (np.sqrt(v_hat) + eps))
            close(v[f"new_{p}"], v[p] + v[f"update_{p}"])


def test_rows_come_in_the_order_of_the_step():
    names = [row.name for row in trace_step()]
    assert names[:10] == ["x", "y", "W1", "b1", "z1", "a1", "W2", "b2", "logits", "p"]
    assert names[10:19] == ["L", "dlogits", "dW2", "db2", "da1", "dz1", "dW1", "db1", "m_W1"]
    assert names[-4:] == ["m_b2", "v_b2", "update_b2", "new_b2"]


def parse_printed(text):
    """{equation line: (NumPy values, torch values)} read back from the printed trace."""
    blocks, current = {}, None
    for line in text.splitlines():
        if "max |diff|" in line:
            current = blocks.setdefault(line.split("  ")[0].strip(), ([], []))
        elif current is not None and "|" in line and "NumPy" not in line:
            left, right = line.split("|")
            current[0].extend(float(t) for t in left.split())
            current[1].extend(float(t) for t in right.split())
        elif not line.startswith("    "):
            current = None
    return blocks


def test_the_printed_values_are_the_returned_ones(capsys):
    assert parity_cli.main(["trace"]) == 0
    out = capsys.readouterr().out
    printed = parse_printed(out)
    rows = trace_step()
    assert len(printed) == len(rows)
    for row in rows:
        numpy_values, torch_values = printed[row.equation.split("  ")[0].strip()]
        np.testing.assert_allclose(numpy_values, row.scratch.ravel(), rtol=1e-4, atol=0, err_msg=row.name)
        np.testing.assert_allclose(torch_values, row.torch.ravel(), rtol=1e-4, atol=0, err_msg=row.name)
    assert "z1 = x W1^T + b1" in out and "dW1 = dz1^T x" in out and out.rstrip().endswith("PASS")


def test_sizes_and_precision_are_options(capsys):
    argv = ["trace", "--inputs", "4", "--hidden", "3,2", "--classes", "3", "--samples", "5", "--seed", "1",
            "--lr", "0.01", "--activation", "tanh", "--dtype", "float32", "--digits", "3"]
    assert parity_cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("One training step of MLP 4-3-2-3 (Tanh), cross-entropy, Adam(lr=0.01), 5 samples, float32")
    assert "z2 = a1 W2^T + b2" in out and "dz1 = da1 * tanh'(z1)" in out and "logits = a2 W3^T + b3" in out


def test_a_broken_layer_shows_where_it_goes_wrong(monkeypatch, capsys):
    monkeypatch.setattr(ReLU, "backward", lambda self, grad_output: grad_output)  # forgets relu'(z)
    failing = [row.name for row in check(trace_step(), np.float64)]
    assert failing[0] == "dz1" and "dW1" in failing and "dW2" not in failing
    assert trace.main([]) == 1
    assert "FAIL: dz1" in capsys.readouterr().out


@pytest.mark.parametrize("argv, message", [
    (["--classes", "1"], "--classes must be at least 2"),
    (["--hidden", "4,x"], "--hidden must be comma-separated"),
    (["--samples", "0"], "--samples must be a positive integer"),
    (["--lr", "-1"], "--lr must be a positive number"),
    (["--activation", "swish"], "unknown activation 'swish'"),
])
def test_bad_options_exit_2_with_one_line(argv, message, capsys):
    assert parity_cli.main(["trace", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


# -- python -m parity trace --model attention ------------------------------------------------------

ATTENTION_CASES = [
    dict(),  # the default: 3 tokens, embed 4, 2 heads, causal, float64
    dict(seq=5, embed=6, heads=3, mask="none", seed=2),
    dict(seq=1, embed=2, heads=1, seed=0),
]


@pytest.mark.parametrize("options", ATTENTION_CASES)
def test_attention_every_numpy_value_equals_torchs(options):
    rows, torch_check = trace_attention(**options)
    assert check(rows, np.float64) == [] and all(diff.passed for diff in torch_check)
    for row in rows:
        assert row.scratch.shape == row.torch.shape, row.name
        np.testing.assert_allclose(row.scratch, row.torch, rtol=1e-10, atol=1e-12, err_msg=row.name)
    heads = options.get("heads", 2)
    assert {f"S_{heads}", f"dK_{heads}"} <= set(by_name(rows)) and f"S_{heads + 1}" not in by_name(rows)


def test_attention_the_torch_column_is_torchs_own_layer():
    """y and every gradient in torch's column are what torch's MultiheadAttention gives, run plainly here."""
    rows = by_name(trace_attention(seed=4)[0])
    torch.manual_seed(4)
    mha = torch.nn.MultiheadAttention(4, 2, dtype=torch.float64)
    with torch.no_grad():
        mha.in_proj_bias.uniform_(-0.5, 0.5)
        mha.out_proj.bias.uniform_(-0.5, 0.5)
    rng = np.random.default_rng(4)
    x = torch.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    dy = torch.tensor(rng.standard_normal((3, 4)))
    mask = torch.nn.Transformer.generate_square_subsequent_mask(3, dtype=torch.float64)
    with torch_fast_path_off():
        y, _ = mha(x, x, x, attn_mask=mask, need_weights=False)  # the path the trace runs
        _, weights = mha(x, x, x, attn_mask=mask, average_attn_weights=False)
    y.backward(dy)
    np.testing.assert_array_equal(rows["x"].torch, x.detach().numpy())
    np.testing.assert_array_equal(rows["dy"].torch, dy.numpy())
    np.testing.assert_array_equal(rows["y"].torch, y.detach().numpy())
    np.testing.assert_array_equal(rows["dx"].torch, x.grad.numpy())
    np.testing.assert_array_equal(rows["din_proj_weight"].torch, mha.in_proj_weight.grad.numpy())
    np.testing.assert_array_equal(rows["din_proj_bias"].torch.ravel(), mha.in_proj_bias.grad.numpy())
    np.testing.assert_array_equal(rows["dout_proj.weight"].torch, mha.out_proj.weight.grad.numpy())
    np.testing.assert_array_equal(rows["dout_proj.bias"].torch, mha.out_proj.bias.grad.numpy())
    for h in (1, 2):  # the recomputed weights are the ones torch's layer returns per head
        np.testing.assert_allclose(rows[f"P_{h}"].torch, weights[h - 1].detach().numpy(), rtol=1e-12, atol=1e-15)


def test_attention_each_line_computes_its_equation():
    """Recompute every printed quantity of both columns from the ones printed before it."""
    E, H, D = 4, 2, 2
    scale = 1 / np.sqrt(D)
    rows = trace_attention()[0]
    for side in ("scratch", "torch"):
        v = {name: getattr(row, side) for name, row in by_name(rows).items()}
        close = lambda actual, expected: np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-15)  # noqa: E731
        x, M, dy = v["x"], v["M"], v["dy"]
        np.testing.assert_array_equal(M, np.triu(np.full((3, 3), -np.inf), k=1))
        W_q, W_k, W_v = np.split(v["in_proj_weight"], 3)
        b_q, b_k, b_v = v["in_proj_bias"]                                          # shown as three rows
        W_o, b_o = v["out_proj.weight"], v["out_proj.bias"]
        q, k, vv = x @ W_q.T + b_q, x @ W_k.T + b_k, x @ W_v.T + b_v
        do = dy @ W_o
        dq, dk, dv = (np.concatenate([v[f"{name}_{h}"] for h in (1, 2)], axis=1) for name in ("dQ", "dK", "dV"))
        for h in (1, 2):
            cols = slice((h - 1) * D, h * D)
            Q, K, V, P = v[f"Q_{h}"], v[f"K_{h}"], v[f"V_{h}"], v[f"P_{h}"]
            close(Q, q[:, cols])                                                   # Q_h = (x W_q^T + b_q)[:, cols]
            close(K, k[:, cols])
            close(V, vv[:, cols])
            close(v[f"S_{h}"], Q @ K.T * scale + M)                                # S_h = Q_h K_h^T scale + M
            S = v[f"S_{h}"]
            close(P, np.exp(S - S.max(axis=1, keepdims=True)) / np.exp(S - S.max(axis=1, keepdims=True)).sum(
                axis=1, keepdims=True))                                            # P_h = softmax(S_h)
            close(v[f"O_{h}"], P @ V)                                              # O_h = P_h V_h
            dO = v[f"dO_{h}"]
            close(dO, do[:, cols])                                                 # dO_h = (dy W_o)[:, cols]
            close(v[f"dV_{h}"], P.T @ dO)                                          # dV_h = P_h^T dO_h
            dP = dO @ V.T
            dS = P * (dP - (dP * P).sum(axis=1, keepdims=True))
            close(v[f"dQ_{h}"], dS @ K * scale)                                    # dQ_h = dS_h K_h scale
            close(v[f"dK_{h}"], dS.T @ Q * scale)                                  # dK_h = dS_h^T Q_h scale
        o = np.concatenate([v["O_1"], v["O_2"]], axis=1)
        close(v["y"], o @ W_o.T + b_o)                                             # y = o W_o^T + b_o
        close(v["dout_proj.weight"], dy.T @ o)
        close(v["dout_proj.bias"], dy.sum(axis=0))
        close(v["din_proj_weight"], np.concatenate([dq.T @ x, dk.T @ x, dv.T @ x]))
        close(v["din_proj_bias"], np.stack([dq.sum(axis=0), dk.sum(axis=0), dv.sum(axis=0)]))
        close(v["dx"], dq @ W_q + dk @ W_k + dv @ W_v)


def test_attention_rows_come_in_the_order_of_the_layer():
    names = [row.name for row in trace_attention()[0]]
    assert names[:12] == ["x", "M", "in_proj_weight", "in_proj_bias", "out_proj.weight", "out_proj.bias",
                          "Q_1", "K_1", "V_1", "S_1", "P_1", "O_1"]
    assert names[18:24] == ["y", "dy", "dout_proj.weight", "dout_proj.bias", "dO_1", "dV_1"]
    assert names[-3:] == ["din_proj_weight", "din_proj_bias", "dx"]
    assert "M" not in [row.name for row in trace_attention(mask="none")[0]]


def test_attention_trace_prints_each_equation_and_passes(capsys):
    assert parity_cli.main(["trace", "--model", "attention"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("One forward and backward of self-attention y = MultiheadAttention(x, x, x): 3 tokens, "
                          "embed 4, 2 heads, a causal mask, float64, seed 11")
    for line in ["Q_1 = (x W_qᵀ + b_q)[:, 0:2]", "K_2 = (x W_kᵀ + b_k)[:, 2:4]", "V_1 = (x W_vᵀ + b_v)[:, 0:2]",
                 "M: the causal mask", "S_1 = Q_1 K_1ᵀ·scale + M", "P_2 = softmax(S_2)", "O_1 = P_1 V_1",
                 "y = o W_oᵀ + b_o", "dO_1 = (dy W_o)[:, 0:2]", "dV_2 = P_2ᵀ dO_2", "dQ_1 = dS_1 K_1·scale",
                 "dS_1 = P_1 ∘ (dP_1 − rowsum(dP_1 ∘ P_1))", "dK_2 = dS_2ᵀ Q_2·scale",
                 "din_proj_weight = [dqᵀ x; dkᵀ x; dvᵀ x]", "din_proj_bias = [1ᵀ dq; 1ᵀ dk; 1ᵀ dv]",
                 "dout_proj.weight = dyᵀ o", "dout_proj.bias = 1ᵀ dy", "dx = dq W_q + dk W_k + dv W_v"]:
        assert line in out, line
    assert "the recomputation and the module agree" in out
    assert "Largest |NumPy - torch| over all 33 quantities" in out and out.rstrip().endswith("PASS")
    printed = parse_printed(out)
    rows = trace_attention()[0]
    assert len(printed) == len(rows)
    for row in rows:
        numpy_values, torch_values = printed[row.equation.split("  ")[0].strip()]
        np.testing.assert_allclose(numpy_values, row.scratch.ravel(), rtol=1e-4, atol=0, err_msg=row.name)
        np.testing.assert_allclose(torch_values, row.torch.ravel(), rtol=1e-4, atol=0, err_msg=row.name)


def test_attention_sizes_mask_and_precision_are_options(capsys):
    argv = ["trace", "--model", "attention", "--seq", "4", "--embed", "6", "--heads", "3", "--mask", "none",
            "--dtype", "float32", "--seed", "5", "--digits", "3"]
    assert parity_cli.main(argv) == 0
    out = capsys.readouterr().out
    assert out.startswith("One forward and backward of self-attention y = MultiheadAttention(x, x, x): 4 tokens, "
                          "embed 6, 3 heads, no mask, float32, seed 5")
    assert "S_3 = Q_3 K_3ᵀ·scale\n" in out.replace("  ", "\n") and "M:" not in out
    assert "Q_3 = (x W_qᵀ + b_q)[:, 4:6]" in out
    assert out.rstrip().endswith("PASS")


def test_a_broken_attention_backward_shows_where_it_goes_wrong(monkeypatch, capsys):
    def forgets_the_rowsum(dO, cache, d_weights=None):  # dS = P ∘ dP: the softmax's Jacobian without its second term
        Q, K, V, P, Z, scale = cache
        dS = P * (dO @ V.swapaxes(-1, -2))
        return dS @ K * scale, dS.swapaxes(-1, -2) @ Q * scale, P.swapaxes(-1, -2) @ dO

    monkeypatch.setattr(scratch_attention, "attention_backward", forgets_the_rowsum)
    rows, torch_check = trace_attention()
    failing = [row.name for row in check(rows, np.float64)]
    assert failing[0] == "dQ_1" and {"dK_1", "din_proj_weight", "dx"} <= set(failing)
    assert not {"y", "dO_1", "dV_1", "dout_proj.weight"} & set(failing)
    assert all(diff.passed for diff in torch_check)  # torch is not affected
    assert trace.main(["--model", "attention"]) == 1
    assert "FAIL: dQ_1" in capsys.readouterr().out


def test_a_broken_attention_softmax_shows_where_it_goes_wrong(monkeypatch):
    correct = scratch_attention._softmax_over_keys
    monkeypatch.setattr(scratch_attention, "_softmax_over_keys", lambda S: correct(S * 1.001))
    failing = [row.name for row in check(trace_attention()[0], np.float64)]
    assert failing[0] == "P_1" and "S_1" not in failing and "y" in failing


def test_the_torch_recomputation_is_checked_against_torchs_layer(monkeypatch, capsys):
    """A recomputation that is not torch's layer (here a softmax that is off) is reported, not trusted."""
    correct = torch.softmax
    monkeypatch.setattr(torch, "softmax", lambda S, dim: correct(S * 1.001, dim=dim))
    assert trace.main(["--model", "attention"]) == 1
    out = capsys.readouterr().out
    assert "the recomputation and the module DISAGREE" in out
    assert "torch's recomputation of y" in out.splitlines()[-1]


@pytest.mark.parametrize("argv, message", [
    (["--model", "attention", "--heads", "3"], "--heads must divide --embed"),
    (["--model", "attention", "--seq", "0"], "--seq must be a positive integer"),
    (["--model", "attention", "--hidden", "4"], "--hidden is an option of --model mlp, not of --model attention"),
    (["--heads", "2"], "--heads is an option of --model attention, not of --model mlp"),
])
def test_bad_attention_options_exit_2_with_one_line(argv, message, capsys):
    assert parity_cli.main(["trace", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_an_unknown_model_names_the_known_ones(capsys):
    with pytest.raises(SystemExit) as exit:
        parity_cli.main(["trace", "--model", "transformer"])
    assert exit.value.code == 2
    assert "invalid choice: 'transformer' (choose from 'mlp', 'attention')" in capsys.readouterr().err
