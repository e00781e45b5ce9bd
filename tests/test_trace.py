"""``python -m parity trace``: every quantity of one training step, NumPy beside torch."""

import numpy as np
import pytest
import torch

import torchnet
from parity import cli as parity_cli
from parity import trace
from parity.trace import check, trace_step
from scratchnet.nn import ReLU

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
