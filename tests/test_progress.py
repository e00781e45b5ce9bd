"""The progress bar (tqdm): drawn on a terminal or in a notebook only, never with --quiet, never into captured output."""

import io
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import scratchnet
import scratchnet.cli.main as scratchnet_cli
from parity import cli as parity_cli
from scratchnet.cli.progress import in_notebook, is_terminal, progress_bar
from scratchnet.training import TrainingDivergedError, fit


class FakeTerminal(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture(autouse=True)
def a_terminal_type(monkeypatch):
    monkeypatch.setenv("TERM", "xterm")


def test_draws_a_tqdm_bar_on_a_terminal():
    stream = FakeTerminal()
    bar = progress_bar(4, "Training", stream=stream)
    bar.set_postfix(epoch="1/4", loss=0.5)
    bar.update(1)
    assert "Training:" in stream.getvalue() and "1/4" in stream.getvalue()
    bar.set_postfix(epoch="4/4", loss=0.25)
    bar.update(3)
    bar.refresh()
    assert "100%" in stream.getvalue() and "epoch=4/4, loss=0.25" in stream.getvalue()
    bar.close()
    assert stream.getvalue().endswith("\r")  # closing blanks the line (leave=False) and returns to its start


@pytest.mark.parametrize("stream", [io.StringIO(), FakeTerminal()], ids=["not a terminal", "quiet"])
def test_silent_when_not_a_terminal_or_quiet(stream):
    bar = progress_bar(3, "Training", quiet=isinstance(stream, FakeTerminal), stream=stream)
    for _ in range(3):
        bar.set_postfix(loss=1.0)
        bar.update(1)
    bar.clear()
    bar.close()
    assert stream.getvalue() == "" and bar.disable


def test_a_dumb_terminal_or_a_closed_stream_gets_no_bar(monkeypatch):
    assert is_terminal(FakeTerminal())
    monkeypatch.setenv("TERM", "dumb")
    assert not is_terminal(FakeTerminal())
    assert progress_bar(3, stream=FakeTerminal()).disable
    monkeypatch.setenv("TERM", "xterm")
    closed = io.StringIO()
    closed.close()  # its isatty() raises ValueError
    assert not is_terminal(closed) and not is_terminal(object())


def test_a_notebook_gets_tqdms_widget_even_though_its_stream_is_no_terminal():
    import tqdm.notebook
    import tqdm.std

    assert in_notebook(tqdm.notebook.tqdm) and not in_notebook(tqdm.std.tqdm)


def data(dtype=np.float32):
    rng = np.random.default_rng(0)
    return rng.standard_normal((32, 3)).astype(dtype), rng.integers(0, 2, 32)


def test_fit_advances_the_bar_per_epoch_and_keeps_log_lines_clean():
    scratchnet.manual_seed(0)
    model = scratchnet.models.MLP(3, [4], 2)
    stream, logged = FakeTerminal(), []

    def log(line):
        logged.append((line, stream.getvalue()))

    bar = progress_bar(1, "Training", stream=stream)
    bar.mininterval = 0  # redraw at every update, so the test sees each epoch
    fit(model, *data(), num_epochs=4, print_every=2, log=log, progress=bar)
    assert bar.total == 4 and bar.n == 4
    assert [line for line, _ in logged] == [line for line, _ in logged if line.startswith("Epoch [")]
    for _, drawn in logged:  # whenever a log line is printed, the bar's line has just been blanked
        assert drawn.endswith("\r")
    assert "epoch=4/4" in stream.getvalue() and stream.getvalue().endswith("\r")


def test_fit_closes_the_bar_when_training_diverges():
    scratchnet.manual_seed(0)
    model = scratchnet.models.MLP(3, [4], 2)
    stream = FakeTerminal()
    with pytest.raises(TrainingDivergedError, match="training diverged at epoch 2, step 2"):
        bar = progress_bar(1, stream=stream)
        bar.mininterval = 0
        fit(model, *data(), num_epochs=5, lr=1e30, progress=bar, log=lambda line: None)
    assert "epoch=1/5" in stream.getvalue()  # drawn before training diverged,
    assert stream.getvalue().endswith("\r")  # and blanked, so the error message starts a clean line


def test_fit_with_progress_writes_nothing_into_captured_output(capsys):
    fit(scratchnet.models.MLP(3, [4], 2), *data(), num_epochs=3, progress=progress_bar(3, "Training"))
    captured = capsys.readouterr()
    assert captured.err == "" and "[" not in captured.out


@pytest.mark.parametrize("cli, argv", [
    (scratchnet_cli, ["--epochs", "3", "--hidden", "4"]),
    (parity_cli, ["--epochs", "3", "--hidden", "4"]),
])
def test_both_command_lines_show_the_bar_on_a_terminal_unless_quiet(cli, argv, monkeypatch, capsys):
    terminal = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli.main(argv) == 0
    assert "\r" in terminal.getvalue() and "%|" in terminal.getvalue()  # tqdm's bar
    out = capsys.readouterr().out
    assert "\r" not in out and "%|" not in out  # stdout keeps its lines

    quiet = FakeTerminal()
    monkeypatch.setattr(sys, "stderr", quiet)
    assert cli.main([*argv, "--quiet"]) == 0
    assert quiet.getvalue() == ""
    assert capsys.readouterr().out == out  # --quiet changes nothing else


def test_the_module_needs_neither_numpy_nor_torch():
    path = Path(scratchnet.__file__).parent / "cli" / "progress.py"
    code = ("import importlib.util, sys; "
            f"spec = importlib.util.spec_from_file_location('progress', {str(path)!r}); "
            "module = importlib.util.module_from_spec(spec); spec.loader.exec_module(module); "
            "print(sorted(name for name in ('numpy', 'torch') if name in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"
