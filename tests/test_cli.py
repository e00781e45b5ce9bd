"""Both command lines: every task and shipped dataset, options, and bad usage (exit 2, one line)."""

import json
import re

import pytest

import scratchnet.cli.main as scratchnet_cli
from parity import cli as parity_cli
from scratchnet.data import PLANE_DATASETS, SKLEARN_DATASETS
from scratchnet.cli.experiment import OPTIMIZER_NAMES

# Learning rates that make each optimizer move in a few epochs (SGD and Adagrad need larger ones).
LR = {"sgd": 0.05, "adam": 1e-3, "adamw": 1e-3, "rmsprop": 1e-3, "adagrad": 0.05,
      "nadam": 2e-3, "radam": 1e-3, "adamax": 2e-3, "adadelta": 1.0, "asgd": 0.01}
# The lecture's five optimizers on every shipped dataset; the later ones on a classification and a regression.
DATASET_OPTIMIZER = [(dataset, optimizer) for optimizer in OPTIMIZER_NAMES for dataset in SKLEARN_DATASETS
                     if optimizer in ("sgd", "adam", "adamw", "rmsprop", "adagrad") or dataset in ("wine", "diabetes")]


def test_every_optimizer_has_a_learning_rate_here():
    assert set(LR) == set(OPTIMIZER_NAMES)


@pytest.mark.parametrize("dataset, optimizer", DATASET_OPTIMIZER)
def test_parity_passes_in_float64_for_every_shipped_dataset_and_optimizer(dataset, optimizer, tmp_path, capsys):
    status = parity_cli.main(["--dataset", dataset, "--optimizer", optimizer, "--lr", str(LR[optimizer]),
                              "--epochs", "2", "--batch-size", "128", "--hidden", "16,16",
                              "--json", str(tmp_path / "r.json")])
    out = capsys.readouterr().out
    assert status == 0, out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["passed"] and report["dataset"] == dataset and report["optimizer"] == OPTIMIZER_NAMES[optimizer]
    assert max(report["max_abs_diff"].values()) < 1e-9


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--dataset", "breast_cancer", "--loss", "bce"], "Test Accuracy"),
        (["--dataset", "breast_cancer"], "Test Accuracy"),
        (["--dataset", "wine", "--loss", "cross_entropy", "--activation", "tanh"], "Test Accuracy"),
        (["--dataset", "diabetes", "--loss", "mse"], "Test MSE"),
        (["--dataset", "diabetes", "--loss", "l1"], "Test MSE"),
        (["--dataset", "diabetes", "--loss", "huber"], "Test MSE"),
        (["--dataset", "diabetes", "--loss", "smooth_l1"], "Test MSE"),
    ],
)
def test_each_task_and_loss_passes_parity(args, expected, capsys):
    status = parity_cli.main([*args, "--epochs", "3", "--batch-size", "64", "--hidden", "16"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.count(expected) == 2 and out.rstrip().endswith("PASS")
    assert ("Confusion matrix:\ntrue \\ predicted" in out) == ("wine" in args)  # multi-class only


def test_float32_parity_passes_on_mini_batches(capsys):
    assert parity_cli.main(["--dataset", "digits", "--dtype", "float32", "--epochs", "2", "--batch-size", "64"]) == 0


def test_scratchnet_cli_prints_the_lectures_lines(capsys):
    assert scratchnet_cli.main([]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(",")[0] for line in lines[:4]] == [f"Epoch [{e}/20]" for e in (5, 10, 15, 20)]
    assert lines[4].startswith("Test Accuracy: ") and lines[4].endswith("%")


def test_scratchnet_cli_multiclass_prints_a_confusion_matrix(capsys):
    assert scratchnet_cli.main(["--dataset", "iris", "--epochs", "30", "--batch-size", "16"]) == 0
    out = capsys.readouterr().out
    assert "true \\ predicted" in out
    accuracy = float(out.split("Test Accuracy: ")[1].split("%")[0])
    assert accuracy > 80


def test_scratchnet_cli_trains_on_a_csv_file(tmp_path, capsys):
    rows = ["x1,x2,kind"] + [f"{i % 7},{(i * 3) % 5},{'big' if i % 7 > 3 else 'small'}" for i in range(60)]
    (tmp_path / "own.csv").write_text("\n".join(rows))
    assert scratchnet_cli.main(["--csv", str(tmp_path / "own.csv"), "--target", "kind", "--epochs", "40",
                                "--batch-size", "8"]) == 0
    assert "Test Accuracy" in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["--dataset", "iris", "--task", "regression"], "holds class labels; --task regression needs a continuous"),
        (["--dataset", "diabetes", "--task", "binary"], "has a continuous target; --task binary needs class labels"),
        (["--dataset", "iris", "--task", "binary"], "has 3 classes; --task binary needs 2"),
        (["--dataset", "iris", "--loss", "mse"], "--loss mse does not fit a multiclass task"),
        (["--dataset", "diabetes", "--loss", "cross_entropy"], "does not fit a regression task"),
        (["--loss", "hinge"], "unknown loss 'hinge'"),
        (["--optimizer", "lbfgs"], "unknown optimizer 'lbfgs'"),
        (["--activation", "swish"], "unknown activation 'swish'"),
        (["--hidden", "64,x"], "--hidden must be comma-separated positive integers"),
        (["--batch-size", "0"], "--batch-size must be a positive integer"),
        (["--lr", "-1"], "--lr must be a positive number"),
        (["--csv", "nowhere.csv"], "--csv needs --target"),
        (["--csv", "nowhere.csv", "--target", "y"], "cannot read nowhere.csv"),
        (["--test-size", "1.5"], "test_size must be between 0 and 1"),
    ],
)
@pytest.mark.parametrize("main", [parity_cli.main, scratchnet_cli.main], ids=["parity", "scratchnet"])
def test_bad_usage_exits_2_with_one_line_naming_the_problem(main, args, message, capsys):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_csv_with_text_in_a_feature_column_exits_2_naming_line_and_column(tmp_path, capsys):
    (tmp_path / "bad.csv").write_text("a,b,y\n1,2,0\n3,4,1\n5,six,0\n")
    assert parity_cli.main(["--csv", str(tmp_path / "bad.csv"), "--target", "y"]) == 2
    assert "line 4, column 'b': 'six' is not a finite number" in capsys.readouterr().err


def test_help_lists_datasets_activations_losses_and_optimizers(capsys):
    with pytest.raises(SystemExit):
        parity_cli.main(["--help"])
    out = " ".join(capsys.readouterr().out.split())
    for name in ["breast_cancer", "diabetes", "digits", "gelu", "leaky_relu", "bce_with_logits", "smooth_l1",
                 "rmsprop", "adagrad", "adamw"]:
        assert name in out


def test_divergence_stops_with_a_clear_error(capsys):
    status = scratchnet_cli.main(["--dataset", "diabetes", "--optimizer", "sgd", "--lr", "1e6", "--epochs", "5"])
    err = capsys.readouterr().err
    assert status == 2
    assert re.search(r"training diverged at epoch \d+, step \d+: (the loss became (nan|inf)|parameter 'net\.\d\.\w+' "
                     r"became non-finite)\. Try a lower learning rate \(it was 1e\+06\)", err), err
    assert "Warning" not in err


@pytest.mark.parametrize("model, dataset", [("cnn", "digits"), ("rnn", "digits-seq"), ("lstm", "digits-seq"),
                                            ("gru", "digits-seq"), ("lstm", "genre")])
def test_convolutional_and_recurrent_models_pass_parity_from_the_command_line(model, dataset, capsys):
    status = parity_cli.main(["--model", model, "--dataset", dataset, "--epochs", "1", "--batch-size", "128",
                              "--lr", "3e-3"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert out.rstrip().endswith("PASS")


def test_scratchnet_cli_trains_the_digits_cnn_well_above_90_percent(capsys):
    assert scratchnet_cli.main(["--model", "cnn", "--dataset", "digits", "--epochs", "6", "--batch-size", "64",
                                "--lr", "3e-3"]) == 0
    accuracy = float(capsys.readouterr().out.split("Test Accuracy: ")[1].split("%")[0])
    assert accuracy > 90


@pytest.mark.parametrize(
    "args, message",
    [
        (["--model", "lstm", "--dataset", "iris"], "needs sequences (N, steps, features)"),
        (["--model", "cnn", "--dataset", "wine"], "--model cnn needs images, but wine holds 13 features per sample, "
                                                  "not images; datasets of images: digits (8x8 images"),
        (["--model", "gru", "--dataset", "digits-seq", "--hidden", "64,32"], "must be equal"),
        (["--model", "cnn", "--dataset", "diabetes"], "is a classifier trained with cross_entropy"),
    ],
)
def test_model_and_data_that_do_not_fit_exit_2(args, message, capsys):
    assert parity_cli.main(args) == 2
    assert message in capsys.readouterr().err


def test_saved_cnn_and_lstm_reload_from_the_command_line(tmp_path, capsys):
    for model, dataset in [("cnn", "digits"), ("lstm", "digits-seq")]:
        path = str(tmp_path / f"{model}.snet")
        args = ["--model", model, "--dataset", dataset, "--batch-size", "128"]
        assert scratchnet_cli.main([*args, "--epochs", "1", "--save", path]) == 0
        trained = capsys.readouterr().out.split("Test Accuracy")[1].splitlines()[0]
        assert scratchnet_cli.main([*args, "--epochs", "0", "--load", path]) == 0
        assert capsys.readouterr().out.split("Test Accuracy")[1].splitlines()[0] == trained
        assert parity_cli.main([*args, "--epochs", "0", "--load", path, "--dtype", "float32"]) == 0
        assert capsys.readouterr().out.rstrip().endswith("PASS")


@pytest.mark.parametrize("module", ["parity", "scratchnet"])
def test_a_closed_pipe_ends_quietly(module):
    """``python -m parity | head -1``: no traceback, no error message when the reader goes away."""
    import subprocess
    import sys

    # 400 lines overflow the pipe, so the writer meets the closed end (EPIPE) while still printing
    process = subprocess.Popen([sys.executable, "-m", module, "--epochs", "400", "--print-every", "1", "--hidden", "4"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.readline()
    process.stdout.close()
    stderr = process.stderr.read().decode()
    assert process.wait() == 0
    assert stderr == ""


def test_export_and_import_commands_round_trip_through_a_torch_file(tmp_path, capsys):
    import numpy as np
    import torch

    import scratchnet
    import torchnet

    snet, pt, back = str(tmp_path / "m.snet"), str(tmp_path / "m.pt"), str(tmp_path / "back.snet")
    assert scratchnet_cli.main(["--dataset", "iris", "--hidden", "8", "--epochs", "3", "--save", snet]) == 0
    assert parity_cli.main(["export", snet, pt]) == 0
    assert "torchnet.MLP(**{'input_dim': 4, 'hidden_dim': [8]" in capsys.readouterr().out
    twin = torchnet.MLP(4, [8], 3)
    twin.load_state_dict(torch.load(pt, weights_only=True))  # the lecture's torch code can use the file
    assert parity_cli.main(["import", pt, back, "--dataset", "iris", "--hidden", "8"]) == 0
    original, imported = scratchnet.load(snet).state_dict(), scratchnet.load(back).state_dict()
    assert all(np.array_equal(original[key], imported[key]) for key in original)


@pytest.mark.parametrize("args, message", [
    (["import", "{pt}", "{out}", "--dataset", "iris", "--hidden", "8,8"], "do not fit MLP"),
    (["import", "{pt}", "{out}", "--dataset", "wine", "--hidden", "8"], "'net.0.weight' has shape (8, 4) in the file"),
    (["export", "{missing}", "{out}"], "no such file"),
])
def test_export_and_import_reject_files_that_do_not_fit(args, message, tmp_path, capsys):
    snet, pt = str(tmp_path / "m.snet"), str(tmp_path / "m.pt")
    assert scratchnet_cli.main(["--dataset", "iris", "--hidden", "8", "--epochs", "1", "--save", snet]) == 0
    assert parity_cli.main(["export", snet, pt]) == 0
    capsys.readouterr()
    paths = {"pt": pt, "out": str(tmp_path / "out.snet"), "missing": str(tmp_path / "missing.snet")}
    assert parity_cli.main([arg.format(**paths) for arg in args]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("dataset", list(PLANE_DATASETS))
def test_both_command_lines_take_the_plane_datasets(dataset, tmp_path, capsys):
    assert scratchnet_cli.main(["--dataset", dataset, "--epochs", "2", "--hidden", "8", "--quiet"]) == 0
    assert "Test Accuracy" in capsys.readouterr().out
    assert parity_cli.main(["--dataset", dataset, "--epochs", "2", "--hidden", "8", "--quiet"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("PASS")
