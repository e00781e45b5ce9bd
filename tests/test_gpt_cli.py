"""The GPT on the command lines: python -m parity and python -m scratchnet with --model gpt.

Tiny configurations (n_embd 16, 2 heads, one epoch) keep each run to a few seconds; the defaults'
full runs are in the README.
"""

import json

import numpy as np
import pytest

import scratchnet.cli.main as scratchnet_cli
from parity import cli as parity_cli

TINY = ["--model", "gpt", "--hidden", "16", "--heads", "2", "--epochs", "1", "--quiet"]
TEXT = "the quick brown fox jumps over the lazy dog, and the lazy dog sleeps on. " * 40  # 2,960 characters


@pytest.fixture
def text_file(tmp_path):
    path = tmp_path / "fox.txt"
    path.write_text(TEXT, encoding="utf-8")
    return path


def test_parity_trains_the_gpt_on_addition_and_the_answers_agree_token_for_token(tmp_path, capsys):
    report = tmp_path / "gpt.json"
    status = parity_cli.main([*TINY, "--dataset", "addition", "--batch-size", "256", "--print-every", "1",
                              "--json", str(report)])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "addition-2 (exact match, 8000 training sequences, 2000 held out)" in out
    assert "Predictions agree on 100.00% of test samples" in out
    assert out.count("Test exact match:") == 2  # one line per side
    assert out.rstrip().endswith("PASS")
    payload = json.loads(report.read_text())
    assert payload["model"] == "GPT" and payload["dtype"] == "float64"
    assert len(payload["steps"]) == 32  # ceil(8000 / 256): every step compared
    assert "lm_head.weight" in payload["per_parameter"] and "h.0.attn.in_proj_weight" in payload["per_parameter"]
    assert payload["test_metrics"]["scratchnet"] == payload["test_metrics"]["torch"]
    assert payload["max_abs_diff"]["param"] < 1e-7


def test_parity_on_sort(capsys):
    status = parity_cli.main([*TINY, "--dataset", "sort", "--batch-size", "256"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "sort-6 (exact match, 4000 training sequences, 1000 held out)" in out
    assert "Predictions agree on 100.00% of test samples" in out


def test_scratchnet_trains_the_gpt_and_prints_loss_and_exact_match(tmp_path, capsys):
    model = tmp_path / "adder.snet"
    status = scratchnet_cli.main([*TINY, "--dataset", "addition", "--print-every", "1", "--save", str(model)])
    out = capsys.readouterr().out
    assert status == 0
    assert out.startswith("Epoch [1/1], Loss: ")
    trained = out.splitlines()[-1]
    assert trained.startswith("Test exact match: ")
    # --load with --epochs 0 only evaluates: the same greedy answers
    assert scratchnet_cli.main([*TINY, "--epochs", "0", "--load", str(model)]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == trained
    # and torch, given the same weights, answers the same (float32: the saved model's dtype)
    assert parity_cli.main([*TINY, "--epochs", "0", "--load", str(model), "--dtype", "float32"]) == 0
    out = capsys.readouterr().out
    assert f"scratchnet: {trained}" in out and f"torch:      {trained}" in out
    assert "Predictions agree on 100.00% of test samples" in out and out.rstrip().endswith("PASS")


def test_text_language_model_prints_perplexity_and_a_sample(text_file, capsys):
    status = scratchnet_cli.main([*TINY, "--text", str(text_file), "--block-size", "8", "--batch-size", "128",
                                  "--epochs", "2", "--lr", "1e-2"])
    out = capsys.readouterr().out
    assert status == 0
    lines = out.splitlines()
    assert lines[-3].startswith("Test loss: ") and "perplexity" in lines[-3]
    perplexity = float(lines[-3].rsplit(" ", 1)[1])
    assert 1 < perplexity < 5  # from 29 (the text's distinct characters, equally likely) in 40 steps
    assert lines[-2].startswith("Sample (greedy, after the held-out text's first 8 characters")
    assert len(lines[-1]) == 8 + 200 and set(lines[-1]) <= set(TEXT)


def test_parity_on_a_text_file(text_file, capsys):
    status = parity_cli.main([*TINY, "--text", str(text_file), "--block-size", "8", "--batch-size", "256"])
    out = capsys.readouterr().out
    assert status == 0, out
    assert "fox.txt (language model" in out and "vocabulary 29" in out
    assert out.count("perplexity") == 2
    assert "Predictions agree on 100.00% of test samples" in out


@pytest.mark.parametrize("content, message", [
    (None, "no such file"),
    (b"", "is empty"),
    (b" \n\n", "is empty"),
    (b"caf\xe9 " * 100, "is not UTF-8 text (byte 3 is 0xe9)"),
    (b"too short", "the training part has 7 characters, fewer than block_size + 1 = 33"),
])
@pytest.mark.parametrize("cli", [scratchnet_cli, parity_cli], ids=["scratchnet", "parity"])
def test_bad_text_files_are_one_line_and_exit_2(cli, content, message, tmp_path, capsys):
    path = tmp_path / "input.txt"
    if content is not None:
        path.write_bytes(content)
    assert cli.main(["--model", "gpt", "--text", str(path)]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert len(captured.err.splitlines()) == 1 and message in captured.err, captured.err


def test_a_directory_is_not_a_text_file(tmp_path, capsys):
    assert scratchnet_cli.main(["--model", "gpt", "--text", str(tmp_path)]) == 2
    assert "is a directory" in capsys.readouterr().err


@pytest.mark.parametrize("argv, message", [
    (["--model", "gpt", "--dataset", "iris"],
     "--model gpt trains on token sequences: --dataset addition or sort, or --text PATH"),
    (["--model", "mlp", "--dataset", "addition"], "holds token sequences for --model gpt"),
    (["--text", "notes.txt"], "--text trains a character-level language model: add --model gpt"),
    (["--model", "gpt", "--hidden", "64,32"], "one width per block and they must be equal"),
    (["--model", "gpt", "--heads", "3"], "--heads must be a positive integer dividing the width 64"),
    (["--model", "gpt", "--loss", "mse"], "cross_entropy"),
    (["--model", "gpt", "--dataset", "addition", "--text", "notes.txt"], "either --dataset or --text"),
])
def test_options_that_do_not_fit_a_gpt_are_refused(argv, message, capsys):
    assert scratchnet_cli.main(argv) == 2
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and message in err, err


def test_help_documents_the_gpt_options():
    text = scratchnet_cli.build_parser().format_help()
    for expected in ("gpt", "--heads", "--text", "--block-size", "n_embd", "adamw for gpt", "5 for gpt"):
        assert expected in " ".join(text.split()), expected
