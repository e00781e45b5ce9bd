"""The lecture's experiment: training loops on both sides and side-by-side parity."""

import json
import subprocess
import sys

import numpy as np
import pytest
import torch

import scratchnet
import torchnet
from parity import train_side_by_side, transfer
from scratchnet.data import load_lecture_data
from scratchnet.data import iterate_batches
from scratchnet.training import evaluate, fit, train_step


@pytest.fixture(scope="module")
def lecture64():
    return load_lecture_data(np.float64)


def lecture_models(dtype, seed=42, hidden=64):
    torch.manual_seed(seed)
    torch_model = torchnet.MLP(20, hidden, 2).to(transfer.torch_dtype(dtype))
    return scratchnet.MLP(20, hidden, 2, dtype=dtype), torch_model


def test_lecture_data_has_the_lectures_shapes(lecture64):
    X_train, X_test, y_train, y_test = lecture64
    assert X_train.shape == (800, 20) and X_test.shape == (200, 20)
    assert y_train.dtype == np.int64 and set(np.unique(y_train)) == {0, 1}


def test_lecture_experiment_passes_parity_in_float64(lecture64):
    report = train_side_by_side(*lecture_models(np.float64), lecture64, epochs=20)
    assert report.passed, report.failures
    assert max(report.max_abs_diff.values()) < 1e-12  # measured ~1e-16: far inside the 1e-7 tolerance
    assert report.prediction_agreement == 1.0
    assert report.test_accuracy["scratchnet"] == report.test_accuracy["torch"] > 0.75
    assert len(report.losses["scratchnet"]) == 20 and report.losses["scratchnet"][-1] < report.losses["scratchnet"][0]


def test_lecture_experiment_passes_parity_in_float32():
    data = load_lecture_data(np.float32)
    report = train_side_by_side(*lecture_models(np.float32), data, epochs=20)
    assert report.passed, report.failures
    assert report.step_max_abs_diff["grad"] < 1e-5


def test_side_by_side_training_detects_a_wrong_optimizer_default(lecture64, monkeypatch):
    """An Adam whose eps defaults to 1e-7 instead of torch's 1e-8 (a classic mismatch) must fail parity."""

    class AdamWithOtherEps(scratchnet.optim.Adam):
        def __init__(self, params, lr=1e-3):
            super().__init__(params, lr=lr, eps=1e-7)

    monkeypatch.setattr(scratchnet.optim, "Adam", AdamWithOtherEps)
    report = train_side_by_side(*lecture_models(np.float64), lecture64, epochs=3)
    assert not report.passed
    assert any("differs" in failure for failure in report.failures)


def test_same_call_trains_either_side(lecture64):
    """scratchnet.training and torchnet.training share signatures and defaults."""
    scratch_model, torch_model = lecture_models(np.float64)
    transfer.torch_to_scratch(torch_model, scratch_model)
    import torchnet.training

    X_train, X_test, y_train, y_test = lecture64
    lines = {"scratchnet": [], "torch": []}
    s_losses = fit(scratch_model, X_train, y_train, num_epochs=5, log=lines["scratchnet"].append)
    t_losses = torchnet.training.fit(torch_model, transfer.to_torch(X_train), transfer.to_torch(y_train),
                                     num_epochs=5, log=lines["torch"].append)
    np.testing.assert_allclose(s_losses, t_losses, rtol=1e-12)
    assert lines["scratchnet"] == lines["torch"] == [f"Epoch [5/5], Loss: {s_losses[-1]:.4f}"]
    acc = evaluate(scratch_model, X_test, y_test, log=lines["scratchnet"].append)
    t_acc = torchnet.training.evaluate(torch_model, transfer.to_torch(X_test), transfer.to_torch(y_test),
                                       log=lines["torch"].append)
    assert acc == pytest.approx(t_acc) and lines["scratchnet"][-1] == lines["torch"][-1] == f"Test Accuracy: {acc * 100:.2f}%"


def test_float32_training_keeps_parameters_gradients_and_adam_state_float32():
    data = load_lecture_data(np.float32)
    scratchnet.manual_seed(0)
    model = scratchnet.MLP(20, 8, 2)
    optimizer = scratchnet.optim.Adam(model.parameters(), lr=np.float64(1e-3), betas=(np.float64(0.9), 0.999))
    fit(model, data.X_train, data.y_train, num_epochs=3, optimizer=optimizer, log=lambda line: None)
    for param in model.parameters():
        assert param.dtype == param.grad.dtype == np.float32
        state = optimizer.state[param]
        assert state["exp_avg"].dtype == state["exp_avg_sq"].dtype == np.float32


def test_mini_batch_epoch_loss_is_the_sample_weighted_mean_of_its_batches():
    """10 samples in batches of 4, 4, 2: the epoch's loss weighs the last batch by 2, not by 4."""
    rng = np.random.default_rng(0)
    X, y = rng.standard_normal((10, 3)), rng.integers(0, 2, 10)
    scratchnet.manual_seed(0)
    model = scratchnet.MLP(3, 4, 2, dtype=np.float64)
    state = model.state_dict()
    [epoch_loss] = fit(model, X, y, num_epochs=1, batch_size=4, seed=5, log=None)

    model.load_state_dict(state)
    optimizer, criterion = scratchnet.optim.Adam(model.parameters()), scratchnet.nn.CrossEntropyLoss()
    batches = list(iterate_batches(10, 4, shuffle=True, rng=np.random.default_rng(5)))
    assert [len(b) for b in batches] == [4, 4, 2]  # the last partial batch is kept, as DataLoader keeps it
    losses = [train_step(model, criterion, optimizer, X[b], y[b])[1] for b in batches]
    assert epoch_loss == pytest.approx((4 * losses[0] + 4 * losses[1] + 2 * losses[2]) / 10, rel=1e-15)
    assert epoch_loss != pytest.approx(np.mean(losses), rel=1e-6)


def test_same_seed_gives_bit_identical_training():
    data = load_lecture_data(np.float32)
    runs = []
    for _ in range(2):
        scratchnet.manual_seed(7)
        model = scratchnet.MLP(20, 16, 2)
        runs.append((fit(model, data.X_train, data.y_train, num_epochs=3, log=lambda line: None), model.state_dict()))
    assert runs[0][0] == runs[1][0]
    assert all(np.array_equal(runs[0][1][k], runs[1][1][k]) for k in runs[0][1])


@pytest.mark.parametrize(
    "X, y, match",
    [
        (np.full((4, 20), np.nan), np.zeros(4, np.int64), r"X_train contains NaN or inf \(first at index \(0, 0\)\)"),
        (np.zeros((0, 20)), np.zeros(0, np.int64), r"X_train is empty"),
        (np.zeros((4, 20)), np.zeros(3, np.int64), r"X_train has 4 samples but y has shape \(3,\)"),
        (np.zeros((4, 20)), np.array([0, 1, 2, 1]), r"holds label 2 but there are only 2 classes"),
        (np.zeros((4, 20)), np.array([0, 1, -1, 1]), r"class labels >= 0 \(or ignore_index=-100\), got -1"),
        (np.zeros((4, 20)), np.array([0.0, 1.0, 0.5, 1.0]), r"integer class labels"),
    ],
)
def test_bad_training_data_is_rejected_before_any_weight_changes(X, y, match):
    scratchnet.manual_seed(0)
    model = scratchnet.MLP(20, 8, 2, dtype=np.float64)
    before = model.state_dict()
    with pytest.raises((ValueError, TypeError), match=match):
        fit(model, X, y, num_epochs=1, log=lambda line: None)
    assert all(np.array_equal(before[k], v) for k, v in model.state_dict().items())


def run_cli(*args):
    return subprocess.run([sys.executable, "-m", "parity", *args], capture_output=True, text=True)


def test_cli_runs_the_lecture_experiment_and_writes_json(tmp_path):
    out = run_cli("--epochs", "10", "--json", str(tmp_path / "r.json"))
    assert out.returncode == 0, out.stderr
    assert "Epoch [5/20]" not in out.stdout and "Epoch [10/10]" in out.stdout and out.stdout.rstrip().endswith("PASS")
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["passed"] is True and report["dtype"] == "float64" and report["seed"] == 42
    assert set(report["max_abs_diff"]) == {"logits", "loss", "grad", "param"}
    assert len(report["losses"]["scratchnet"]) == len(report["losses"]["torch"]) == 10
    assert set(report["test_accuracy"]) == {"scratchnet", "torch"} and report["prediction_agreement"] == 1.0


def test_cli_torch_side_is_the_lecture_script_with_a_seed():
    """--seed S makes the torch side exactly the lecture's script with torch.manual_seed(S) added."""
    out = run_cli("--epochs", "5", "--seed", "3", "--print-every", "5")
    lecture = subprocess.run([sys.executable, "-m", "torchnet", "--epochs", "5", "--seed", "3"],
                             capture_output=True, text=True, check=True).stdout
    torch_loss = float(lecture.splitlines()[0].split("Loss: ")[1])
    parity_torch_loss = float(next(line for line in out.stdout.splitlines() if line.startswith("Epoch [5/5]")).split()[3])
    # torchnet runs float32 like the lecture; parity ran float64 from the same seeded init
    assert parity_torch_loss == pytest.approx(torch_loss, abs=1e-4)


@pytest.mark.parametrize("args", [["--epochs", "-1"], ["--dtype", "float16"], ["--lr", "nan"], ["--bogus"]])
def test_cli_bad_usage_exits_2_without_a_traceback(args):
    out = run_cli(*args)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr and "error:" in out.stderr


def test_cli_unwritable_json_path_exits_2_with_one_line(tmp_path):
    out = run_cli("--epochs", "1", "--json", str(tmp_path / "missing-dir" / "r.json"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
