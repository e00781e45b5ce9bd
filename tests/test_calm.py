"""The command lines stay calm: Ctrl-C, usage errors, threads, huge models and helpful refusals (issue 11, part 3).

Every failure a user can cause ends in one line on stderr (two for a usage error: the error and a
hint), the exit status says which (2 bad usage or input, 130 Ctrl-C), and never a traceback.
"""

import json
import os
import re
import signal
import subprocess
import sys

import numpy as np
import pytest
import torch

from hypothesis_profiles import examples

import scratchnet
import scratchnet.cli.experiment
import scratchnet.cli.main as scratchnet_cli
import scratchnet.training
import torchnet.training
from parity import check_module
from parity import cli as parity_cli
from parity import fuzz, trace
from scratchnet.cli.experiment import parameter_count
from scratchnet.training import StopOnCtrlC, TrainingInterrupted
from torchnet.__main__ import build_parser as torchnet_parser
from torchnet.__main__ import main as torchnet_main

MAINS = {"scratchnet": scratchnet_cli.main, "parity": parity_cli.main, "trace": trace.main, "fuzz": fuzz.main,
         "torchnet": torchnet_main}
PROGS = {"scratchnet": "python -m scratchnet", "parity": "python -m parity", "trace": "python -m parity trace",
         "fuzz": "python -m parity fuzz", "torchnet": "python -m torchnet"}


def one_line(err):
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


# --- Ctrl-C -------------------------------------------------------------------------------------------------------


def ctrl_c_at(module, calls, times=1):
    """Wrap ``module.train_step`` so that its call number ``calls`` presses Ctrl-C ``times`` times, then steps."""
    real, count = module.train_step, [0]

    def step(*args, **kwargs):
        count[0] += 1
        if count[0] == calls:
            for _ in range(times):
                signal.raise_signal(signal.SIGINT)
        return real(*args, **kwargs)

    return step


def test_ctrl_c_stops_after_the_step_in_progress_and_saves_the_model_as_it_left_it(monkeypatch, tmp_path, capsys):
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler
    stopped, reference = str(tmp_path / "stopped.snet"), str(tmp_path / "reference.snet")
    args = ["--dataset", "iris", "--hidden", "8", "--quiet"]  # full batch: step n ends epoch n
    monkeypatch.setattr(scratchnet.training, "train_step", ctrl_c_at(scratchnet.training, 3))
    assert scratchnet_cli.main([*args, "--epochs", "50", "--save", stopped]) == 130
    out, err = capsys.readouterr()
    assert one_line(err) == (f"python -m scratchnet: interrupted at epoch 3/50, step 3; the model as that step left it "
                             f"is saved to {stopped}")
    assert "Test Accuracy" not in out
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler  # fit gives Ctrl-C back
    monkeypatch.undo()
    assert scratchnet_cli.main([*args, "--epochs", "3", "--save", reference]) == 0
    saved, trained = scratchnet.load(stopped).state_dict(), scratchnet.load(reference).state_dict()
    assert saved.keys() == trained.keys() and all(np.array_equal(saved[k], trained[k]) for k in saved)


def test_a_keyboard_interrupt_inside_a_step_stops_at_once_and_saves_nothing(monkeypatch, tmp_path, capsys):
    """A second Ctrl-C (or one raised inside the step) cuts the step short: the weights may be half-updated."""
    path = tmp_path / "m.snet"
    monkeypatch.setattr(scratchnet.training, "train_step", ctrl_c_at(scratchnet.training, 2, times=2))
    assert scratchnet_cli.main(["--dataset", "iris", "--epochs", "9", "--save", str(path), "--quiet"]) == 130
    assert one_line(capsys.readouterr().err) == (f"python -m scratchnet: interrupted at epoch 2/9, during step 2; "
                                                 f"{path} not written: the step was cut short, so the weights may "
                                                 f"be half-updated")
    assert not path.exists()

    def raising_step(*args):
        raise KeyboardInterrupt

    monkeypatch.setattr(scratchnet.training, "train_step", raising_step)
    with pytest.raises(TrainingInterrupted, match=r"^interrupted at epoch 1/4, during step 1$") as info:
        scratchnet.training.fit(scratchnet.models.MLP(3, 4, 2), np.zeros((4, 3)), np.zeros(4, dtype=np.int64),
                                num_epochs=4, log=None)
    assert isinstance(info.value, KeyboardInterrupt) and not info.value.completed


def test_stop_on_ctrl_c_outside_the_main_thread_stops_at_once():
    import threading

    outcome = []

    def train():
        try:
            with StopOnCtrlC(5) as ctrl_c:
                ctrl_c.step_begins(1, 1)
                raise KeyboardInterrupt  # where a Ctrl-C would land: no handler can be installed here
        except TrainingInterrupted as error:
            outcome.append(str(error))

    thread = threading.Thread(target=train)
    thread.start()
    thread.join()
    assert outcome == ["interrupted at epoch 1/5, during step 1"]


def test_ctrl_c_during_parity_trace_and_fuzz_is_one_line_and_exit_130(monkeypatch, capsys):
    monkeypatch.setattr(torchnet.training, "train_step", ctrl_c_at(torchnet.training, 2))
    assert parity_cli.main(["--hidden", "4", "--quiet"]) == 130
    out, err = capsys.readouterr()
    assert one_line(err) == "python -m parity: interrupted at epoch 2/20, step 2"
    assert "Epoch [5/20]" not in out and "PASS" not in out

    def interrupted(**options):
        raise KeyboardInterrupt

    monkeypatch.setattr(trace, "trace_step", interrupted)
    assert parity_cli.main(["trace"]) == 130
    assert one_line(capsys.readouterr().err) == "python -m parity trace: interrupted"

    real, calls = fuzz.run_example, [0]

    def fifth_is_interrupted(example):
        calls[0] += 1
        if calls[0] == 5:
            raise KeyboardInterrupt
        return real(example)

    monkeypatch.setattr(fuzz, "run_example", fifth_is_interrupted)
    assert parity_cli.main(["fuzz", "--examples", "50", "--quiet"]) == 130
    assert one_line(capsys.readouterr().err) == ("python -m parity fuzz: interrupted after 4 of 50 examples, 4 passed, "
                                                 "none failed")


def test_ctrl_c_while_the_fuzzer_shrinks_names_the_failing_example(monkeypatch, capsys):
    calls = []

    def first_fails_then_interrupted(example):
        calls.append(example)
        if len(calls) == 1:
            return False, "broken", None
        raise KeyboardInterrupt

    monkeypatch.setattr(fuzz, "run_example", first_fails_then_interrupted)
    assert fuzz.main(["--examples", "50", "--quiet"]) == 130
    line = one_line(capsys.readouterr().err)
    assert line.startswith("python -m parity fuzz: interrupted while shrinking a counter-example, after 0 shrinking "
                           "runs; it fails as found: python -m parity fuzz --replay ")
    assert fuzz.parse_example(line.split("--replay ", 1)[1].strip("'")) == calls[0]


@pytest.mark.parametrize("module, saves", [("scratchnet", True), ("parity", False)])
def test_ctrl_c_in_a_real_process(module, saves, tmp_path):
    """SIGINT, as a terminal sends it, to a long training run: one line on stderr, exit status 130."""
    path = tmp_path / "m.snet"
    command = [sys.executable, "-u", "-m", module, "--dataset", "iris", "--hidden", "4", "--epochs", "1000000",
               "--print-every", "1"] + (["--save", str(path)] if saves else [])
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for line in process.stdout:
        if line.startswith("Epoch [3/"):
            break
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=120)
    assert process.returncode == 130, err
    saved = f"; the model as that step left it is saved to {re.escape(str(path))}" if saves else ""
    assert re.fullmatch(rf"python -m {module}: interrupted at epoch (\d+)/1000000, step \1{saved}\n", err), err
    if saves:
        epoch = int(re.search(r"epoch (\d+)", err).group(1))
        assert scratchnet.load(str(path)).config()["hidden_dim"] == [4] and epoch >= 3


# --- usage errors -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, argv, hint", [
    ("scratchnet", ["--epoch", "5"], "did you mean --epochs?"),  # no abbreviations: --epoch is not --epochs
    ("scratchnet", ["--hiden", "8"], "did you mean --hidden?"),
    ("parity", ["--lr=0.1", "--seeed", "3"], "did you mean --seed?"),
    ("parity", ["fuzzz"], "did you mean fuzz?"),
    ("trace", ["--hid", "4"], "did you mean --hidden?"),
    ("fuzz", ["--example", "5"], "did you mean --examples?"),
    ("torchnet", ["--epoch", "5"], "did you mean --epochs?"),
    ("scratchnet", ["--zzz"], None),
])
def test_an_unknown_option_is_one_line_and_a_hint(name, argv, hint, capsys):
    with pytest.raises(SystemExit) as exit_info:
        MAINS[name](argv)
    assert exit_info.value.code == 2
    prog = PROGS[name]
    error, hint_line = capsys.readouterr().err.splitlines()
    assert error.startswith(f"{prog}: error: unrecognized arguments: ")
    assert hint_line == f"{prog}: hint: {hint + ' ' if hint else ''}'{prog} --help' lists the options"


def test_a_bad_value_is_one_line_and_a_hint(capsys):
    with pytest.raises(SystemExit):
        scratchnet_cli.main(["--epochs", "many"])
    assert capsys.readouterr().err.splitlines() == [
        "python -m scratchnet: error: argument --epochs: invalid int value: 'many'",
        "python -m scratchnet: hint: 'python -m scratchnet --help' lists the options"]


@pytest.mark.parametrize("hidden", ["64,,64", ",", "", "64_64", "64,", " ", "1e3", "+64", "٦٤", "0", "64,-1"])
@pytest.mark.parametrize("name", ["scratchnet", "parity", "trace"])
def test_hidden_takes_positive_integers_and_commas_only(name, hidden, capsys):
    assert MAINS[name](["--hidden", hidden]) == 2
    assert one_line(capsys.readouterr().err) == (f"{PROGS[name]}: error: --hidden must be comma-separated positive "
                                                 f"integers such as 64,64, got {hidden!r}")


@pytest.mark.parametrize("name, argv, message", [
    ("scratchnet", ["--save", ""], "--save needs a file name, got ''"),
    ("scratchnet", ["--load", ""], "--load needs a file name, got ''"),
    ("parity", ["--load", ""], "--load needs a file name, got ''"),
    ("parity", ["--json", ""], "--json needs a file name, got ''"),
    ("scratchnet", ["--save", "{tmp}"], "--save {tmp} is a directory; give a file name"),
    ("parity", ["--json", "{tmp}"], "--json {tmp} is a directory; give a file name"),
    ("parity", ["--json", "{tmp}/no/such/r.json"], "--json {tmp}/no/such/r.json: the directory {tmp}/no/such does "
                                                   "not exist"),
    ("parity", ["--report", "{tmp}/report.md"], "--report expects a directory to write report.md, report.json and "
                                                "plots into; {tmp}/report.md looks like a file name (--report "
                                                "{tmp}/report writes {tmp}/report/report.md)"),
])
def test_file_options_are_checked_before_training(name, argv, message, tmp_path, capsys):
    argv = [arg.format(tmp=tmp_path) for arg in argv]
    assert MAINS[name](argv) == 2
    out, err = capsys.readouterr()
    assert out == ""  # nothing was trained
    assert one_line(err) == f"{PROGS[name]}: error: {message.format(tmp=tmp_path)}"


@pytest.mark.parametrize("seed", [2**63, 2**64, 10**20, -1])
@pytest.mark.parametrize("name", ["scratchnet", "parity", "trace", "fuzz", "torchnet"])
def test_seeds_beyond_int64_are_refused_alike(name, seed, capsys):
    assert MAINS[name](["--seed", str(seed)]) == 2
    assert one_line(capsys.readouterr().err) == (f"{PROGS[name]}: error: --seed must be an integer from 0 to "
                                                 f"2**63 - 1, got {seed}")


@pytest.mark.parametrize("name", ["scratchnet", "parity"])
def test_the_largest_seed_is_taken(name, capsys):
    assert MAINS[name](["--seed", str(2**63 - 1), "--epochs", "0"]) == 0


# --- threads ------------------------------------------------------------------------------------------------------


@pytest.fixture
def threads_restored():
    from threadpoolctl import threadpool_limits

    before = torch.get_num_threads()
    yield threadpool_limits
    torch.set_num_threads(before)
    threadpool_limits(limits=1)  # as tests/conftest.py sets BLAS


def blas_threads():
    from threadpoolctl import threadpool_info

    return {info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"}


def test_one_thread_by_default_and_threads_n_to_change_it(threads_restored, capsys):
    threads_restored(limits=2)
    torch.set_num_threads(2)
    assert parity_cli.main(["--epochs", "0"]) == 0
    assert torch.get_num_threads() == 1 and blas_threads() == {1}
    assert parity_cli.main(["--epochs", "0", "--threads", "2"]) == 0
    assert torch.get_num_threads() == 2 and blas_threads() == {2}
    assert scratchnet_cli.main(["--epochs", "0"]) == 0
    assert blas_threads() == {1}
    assert torchnet_main(["--epochs", "0", "--threads", "2"]) == 0 and torch.get_num_threads() == 2
    assert trace.main([]) == 0 and torch.get_num_threads() == 1


# --- memory -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name, what", [("scratchnet", "800 rows in float32"),
                                        ("parity", "800 rows in float64, 3 copies at once")])
def test_a_model_too_large_for_the_machine_is_refused_before_allocation(name, what, capsys):
    assert MAINS[name](["--hidden", "1000000000,1000000000"]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"{PROGS[name]}: error: the model is too large for this machine: a MLP of "
                           f"1,000,000,024,000,000,002 parameters, trained on batches of {what}, needs about ")
    assert line.endswith("of memory available; try a smaller --hidden or --batch-size")


def test_the_memory_estimate_counts_the_batch_as_well_as_the_weights(monkeypatch, capsys):
    """On a machine with 1 GiB free: a wide layer's activations for a batch of iris, not its weights, are too many."""
    monkeypatch.setattr(scratchnet.cli.experiment, "available_memory", lambda: 2**30)
    assert scratchnet_cli.main(["--dataset", "iris", "--hidden", "1000000"]) == 2
    assert one_line(capsys.readouterr().err) == (
        "python -m scratchnet: error: the model is too large for this machine: a MLP of 8,000,003 parameters, "
        "trained on batches of 120 rows in float32, needs about 1.9 GiB, against 1.0 GiB of memory available; "
        "try a smaller --hidden or --batch-size")
    # in batches of 8 the largest batch is the 30 test rows: 0.6 GiB
    assert scratchnet_cli.main(["--dataset", "iris", "--hidden", "1000000", "--batch-size", "8", "--epochs", "0"]) == 0
    assert scratchnet_cli.main(["--dataset", "digits-seq", "--model", "lstm", "--hidden", "20000"]) == 2
    assert "a SequenceClassifier of 1,601,000,010 parameters" in capsys.readouterr().err


@pytest.mark.parametrize("name, kwargs", [
    ("MLP", dict(input_dim=20, hidden_dim=64, output_dim=2, activation="ReLU")),
    ("MLP", dict(input_dim=7, hidden_dim=[5, 0, 3], output_dim=1, activation="Tanh")),
    ("MLP", dict(input_dim=4, hidden_dim=[], output_dim=3, activation="ReLU")),
    ("CNN", dict(in_channels=1, num_classes=10, channels=[16, 32], kernel_size=3, image_size=8)),
    ("CNN", dict(in_channels=2, num_classes=3, channels=[3], kernel_size=2, image_size=5)),
    ("SequenceClassifier", dict(input_size=8, hidden_size=64, num_classes=10, cell="lstm", num_layers=1)),
    ("SequenceClassifier", dict(input_size=3, hidden_size=5, num_classes=4, cell="gru", num_layers=3)),
    ("SequenceClassifier", dict(input_size=2, hidden_size=6, num_classes=2, cell="rnn", num_layers=2)),
])
def test_the_parameter_count_is_the_built_models(name, kwargs):
    model = getattr(scratchnet.models, name)(**kwargs)
    assert parameter_count(name, kwargs) == sum(p.data.size for p in model.parameters())


@pytest.mark.parametrize("name, target", [("scratchnet", (scratchnet_cli, "fit")),
                                          ("parity", (parity_cli, "train_side_by_side")),
                                          ("trace", (trace, "trace_step")),
                                          ("fuzz", (fuzz, "make_data"))])
def test_memory_running_out_anywhere_is_one_line_and_exit_2(name, target, monkeypatch, capsys):
    def exhausted(*args, **kwargs):
        raise MemoryError("Unable to allocate 2.00 TiB for an array with shape (1000000000, 550) and data type float32")

    monkeypatch.setattr(*target, exhausted)
    assert MAINS[name](["--examples", "3"] if name == "fuzz" else []) == 2
    assert one_line(capsys.readouterr().err) == (
        f"{PROGS[name]}: error: out of memory (Unable to allocate 2.00 TiB for an array with shape (1000000000, 550) "
        f"and data type float32); try a smaller model or batch")


@pytest.mark.parametrize("in_features, out_features", [(0, 3), (3, 0), (0, 0)])
def test_a_zero_width_linear_layer_has_a_backward_too(in_features, out_features):
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Initializing zero-element tensors is a no-op")
        twin = torch.nn.Linear(in_features, out_features).double()
    layer = scratchnet.nn.Linear(in_features, out_features, dtype=np.float64)
    x = np.random.default_rng(0).standard_normal((4, 2, in_features))
    assert check_module(layer, twin, x).passed


# --- helpful refusals ---------------------------------------------------------------------------------------------


def test_a_cnn_on_a_table_of_features_names_the_datasets_of_images(capsys):
    assert scratchnet_cli.main(["--dataset", "iris", "--model", "cnn"]) == 2
    assert one_line(capsys.readouterr().err) == (
        "python -m scratchnet: error: --model cnn needs images, but iris holds 4 features per sample, not images; "
        "datasets of images: digits (8x8 images of handwritten digits); digits-seq (the same images as 8 rows of 8); "
        "or a --csv file whose features are the pixels of square images")


def test_a_saved_cnn_loaded_without_model_cnn_suggests_it(tmp_path, capsys):
    path = str(tmp_path / "cnn.snet")
    scratchnet.save(scratchnet.models.CNN(channels=[2]), path)
    assert scratchnet_cli.main(["--load", path, "--epochs", "0"]) == 2
    line = one_line(capsys.readouterr().err)
    assert line.startswith(f"python -m scratchnet: error: {path} holds a CNN with ")
    assert line.endswith("the file implies --model cnn: its CNN takes 8x8 images of 1 channel(s) and 10 classes")
    assert scratchnet_cli.main(["--load", path, "--epochs", "0", "--model", "cnn"]) == 0


def test_a_saved_single_output_model_suggests_its_loss(tmp_path, capsys):
    path = str(tmp_path / "bce.snet")
    scratchnet.save(scratchnet.models.MLP(30, [4], 1), path)
    assert parity_cli.main(["--dataset", "breast_cancer", "--load", path, "--epochs", "0"]) == 2
    assert one_line(capsys.readouterr().err).endswith(
        "the file implies --model mlp: its MLP takes 30 features per sample and gives one output (--loss "
        "bce_with_logits for a binary task, or a regression loss)")
    assert parity_cli.main(["--dataset", "breast_cancer", "--load", path, "--epochs", "0", "--loss", "bce"]) == 0


@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_a_saved_model_with_non_finite_weights_says_so(value, tmp_path, capsys):
    model = scratchnet.models.MLP(4, 8, 3)
    model.net[2].bias.data[1] = value
    path = str(tmp_path / "bad.snet")
    scratchnet.save(model, path)
    for main, prog in [(scratchnet_cli.main, "python -m scratchnet"), (parity_cli.main, "python -m parity")]:
        assert main(["--dataset", "iris", "--load", path]) == 2
        err = capsys.readouterr().err
        assert one_line(err) == (f"{prog}: error: {path} holds NaN or infinite weights ('net.2.bias'), so it can be "
                                 f"neither trained nor evaluated; train a new model instead (without --load)")
        assert "learning rate" not in err


@pytest.mark.parametrize("argv, message", [
    (["--dataset", "iris", "--loss", "mse"], "--loss mse does not fit a multiclass task; use one of cross_entropy"),
    (["--dataset", "diabetes", "--loss", "ce"], "--loss ce does not fit a regression task; use one of mse, l1, huber, "
                                                "smooth_l1"),
    (["--model", "cnn", "--dataset", "diabetes"], "--model cnn is a classifier trained with cross_entropy; diabetes "
                                                  "is a regression task with --loss mse"),
])
def test_errors_name_losses_as_the_command_line_does(argv, message, capsys):
    assert scratchnet_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert one_line(err) == f"python -m scratchnet: error: {message}"
    assert "Loss" not in err


# --- fuzz --replay ------------------------------------------------------------------------------------------------

EXAMPLE = {"architecture": "mlp", "model": {"input_dim": 3, "hidden_dim": [4], "activation": "GELU"}, "outputs": 2,
           "loss": "CrossEntropyLoss", "optimizer": "SGD", "optimizer_options": {"momentum": 0.9, "nesterov": True},
           "lr": 0.1, "dtype": "float64", "samples": 8, "batch_size": 3, "epochs": 2, "seed": 1}


@pytest.mark.parametrize("change, message", [
    ({"model": {"input_dim": 3, "hidden_dim": [100], "activation": "GELU"}},
     "model.hidden_dim must be a list of 0 to 3 items, each an integer from 1 to 16, got [100]"),
    ({"model": {"input_dim": 10**9, "hidden_dim": [4], "activation": "GELU"}},
     "model.input_dim must be an integer from 1 to 8, got 1000000000"),
    ({"model": {"input_dim": True, "hidden_dim": [4], "activation": "GELU"}},
     "model.input_dim must be an integer from 1 to 8, got true"),
    ({"model": {"input_dim": 3, "hidden_dim": [4]}},
     "model must be a JSON object with the keys input_dim, hidden_dim, activation"),
    ({"model": [3, 4]}, "model must be a JSON object with the keys"),
    ({"model": {"input_dim": 3, "hidden_dim": [4], "activation": "Swish"}}, "model.activation must be one of "),
    ({"architecture": "cnn"}, "model must be a JSON object with the keys in_channels, channels, kernel_size, "
                              "image_size"),
    ({"outputs": 1, "loss": "CrossEntropyLoss"}, "outputs must be an integer from 2 to 4, got 1"),
    ({"outputs": 2, "loss": "BCEWithLogitsLoss"}, "outputs must be 1, got 2"),
    ({"samples": 0}, "samples must be an integer from 1 to 32, got 0"),
    ({"samples": 2.5}, "samples must be an integer from 1 to 32, got 2.5"),
    ({"batch_size": 9}, "batch_size must be an integer from 1 to 8, got 9"),
    ({"epochs": 10**6}, "epochs must be an integer from 1 to 4, got 1000000"),
    ({"seed": -1}, "seed must be an integer from 0 to 65536, got -1"),
    ({"lr": 5.0}, "lr must be one of 0.01, 0.001, 0.1, got 5.0"),
    ({"dtype": "float32"}, "lr must be one of 0.001, got 0.1"),
    ({"optimizer_options": {"momentum": 0.0, "nesterov": True}}, "optimizer_options.nesterov needs a momentum"),
    ({"optimizer_options": {"betas": [0.9, 0.99]}}, "SGD takes the options momentum, weight_decay, nesterov, "
                                                    "dampening, maximize; got 'betas'"),
    ({"optimizer_options": {"momentum": "a lot"}}, "optimizer_options.momentum must be one of 0.0, 0.9, got \"a lot\""),
    ({"optimizer_options": {"nesterov": 1, "momentum": 0.9}}, "optimizer_options.nesterov must be one of false, true, "
                                                              "got 1"),
    ({"optimizer_options": None}, "optimizer_options must be a JSON object, got null"),
    ({"loss": ["MSELoss"]}, "unknown loss ['MSELoss']"),
    ({"extra": 1}, "unknown key 'extra'"),
    ("[" * 100000, "expects an example as JSON, as the fuzzer prints it: this one nests too deeply"),
    ('{"architecture": "mlp", "lr": NaN', "expects an example as JSON, as the fuzzer prints it: Expecting ','"),
    (None, "example must be a JSON object with the keys architecture, model, outputs"),
])
def test_replay_refuses_an_example_outside_the_fuzzers_space(change, message, capsys):
    """``change``: keys to change in a valid example, or the JSON text itself."""
    text = change if isinstance(change, str) else json.dumps({**EXAMPLE, **change} if change is not None else None)
    assert fuzz.main(["--replay", text]) == 2
    out, err = capsys.readouterr()
    assert out == ""  # not run: no FAIL, no traceback
    separator = ": " if isinstance(change, dict) else " "
    assert one_line(err).startswith(f"python -m parity fuzz: error: --replay{separator}{message}")


def test_replay_takes_every_example_the_fuzzer_draws():
    from hypothesis import given, settings

    @settings(examples(200), database=None)
    @given(fuzz.example_strategy())
    def round_trip(example):
        assert fuzz.parse_example(json.dumps(example)) == example

    round_trip()


# --- help ---------------------------------------------------------------------------------------------------------


def parsers():
    return {"scratchnet": scratchnet_cli.build_parser(), "parity": parity_cli.build_parser(),
            "trace": trace.build_parser(), "fuzz": fuzz.build_parser(), "torchnet": torchnet_parser()}


@pytest.mark.parametrize("name", list(PROGS))
def test_help_is_plain_text_for_a_terminal(name):
    text = parsers()[name].format_help()
    for markup in ("``", ":func:", ":class:", "registry", "ARCHITECTURES", "hypothesis is imported"):
        assert markup not in text, markup


@pytest.mark.parametrize("name", list(PROGS))
def test_every_option_has_help_and_no_abbreviations(name):
    parser = parsers()[name]
    assert not parser.allow_abbrev
    assert all(action.help for action in parser._actions), [a.dest for a in parser._actions if not a.help]
    assert any("--threads" in action.option_strings for action in parser._actions)


def test_help_lists_the_loss_aliases():
    text = " ".join(scratchnet_cli.build_parser().format_help().split())
    assert "cross_entropy (or ce), bce_with_logits (or bce), mse, l1 (or mae), huber, smooth_l1" in text


# -- the import/export subcommands, and what the other parts of the issue asked of the command lines --


@pytest.mark.parametrize("command, hint", [("export", "lists the options"), ("import", "did you mean --model?")])
def test_export_and_import_take_options_as_strictly_as_the_other_commands(command, hint, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parity_cli.main([command, "a.snet", "b.pt", "--modle", "cnn"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and "unrecognized arguments: --modle" in err[0] and hint in err[1]


def test_save_to_a_device_is_refused_before_training(capsys):
    before = os.stat("/dev/null")
    assert scratchnet_cli.main(["--epochs", "500", "--save", "/dev/null"]) == 2
    out, err = capsys.readouterr()
    assert "cannot save over a character device" in err and "Epoch" not in out
    after = os.stat("/dev/null")
    assert (after.st_mode, after.st_rdev) == (before.st_mode, before.st_rdev)


def test_a_constant_regression_target_reads_n_a_and_json_has_no_nan():
    from parity.report import json_text

    scores = {"mse": 1.0, "mae": 1.0, "r2": scratchnet.metrics.r2_score(np.ones(4), np.zeros(4))}
    assert scratchnet.cli.experiment.format_scores(scores).endswith("R^2: n/a: the target is constant")
    assert json.loads(json_text({"scores": scores, "steps": [float("inf")]})) == {
        "scores": {"mse": 1.0, "mae": 1.0, "r2": None}, "steps": [None]}
