"""``python -m parity --report DIR``: the files exist, and every number in report.md is the JSON report's."""

import json
import subprocess
import sys

import pytest

import scratchnet.cli.main as scratchnet_cli
from parity import cli as parity_cli
from parity.report import log_floor, markdown, write_report

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def section_rows(text, heading):
    """The cells of the first markdown table under ``heading`` (header and separator dropped)."""
    lines = text.split(f"\n{heading}\n", 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start + 2:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return rows


@pytest.fixture(scope="module")
def lecture_run(tmp_path_factory):
    directory = tmp_path_factory.mktemp("report")
    argv = ["--epochs", "4", "--hidden", "8", "--batch-size", "400", "--json", str(directory / "run.json"),
            "--report", str(directory / "out")]
    status = parity_cli.main(argv)
    return status, directory


def test_report_writes_markdown_json_and_pngs(lecture_run, capsys):
    status, directory = lecture_run
    assert status == 0
    out = directory / "out"
    for name in ("report.md", "report.json", "loss.png", "differences.png"):
        assert (out / name).stat().st_size > 0, name
    for name in ("loss.png", "differences.png"):
        assert (out / name).read_bytes()[:8] == PNG_MAGIC
    # report.json is exactly what --json writes
    assert (out / "report.json").read_text() == (directory / "run.json").read_text()
    text = (out / "report.md").read_text()
    assert "![" in text and "(loss.png)" in text and "(differences.png)" in text


def test_report_numbers_equal_the_json_report(lecture_run):
    _, directory = lecture_run
    payload = json.loads((directory / "run.json").read_text())
    text = (directory / "out" / "report.md").read_text()
    assert text.startswith("# Parity report: PASS")

    epochs = section_rows(text, "## Loss per epoch")
    assert len(epochs) == payload["epochs"] == 4
    for epoch, (e, s, t, d) in enumerate(epochs, start=1):
        expected_s, expected_t = payload["losses"]["scratchnet"][epoch - 1], payload["losses"]["torch"][epoch - 1]
        assert (int(e), float(s), float(t)) == (epoch, expected_s, expected_t)  # exact, not approximately
        assert float(d) == abs(expected_s - expected_t)

    params = section_rows(text, "## Per parameter")
    assert [row[0] for row in params] == list(payload["per_parameter"])
    for name, grad, param in params:
        assert (float(grad), float(param)) == (payload["per_parameter"][name]["grad"],
                                               payload["per_parameter"][name]["param"])

    result = section_rows(text, "## Result: PASS")
    tolerances = payload["tolerances"]
    for kind, largest, atol, rtol, step, step_atol, step_rtol in result:
        assert float(largest) == payload["max_abs_diff"][kind]
        assert (float(atol), float(rtol)) == (tolerances["trajectory"][kind]["atol"],
                                              tolerances["trajectory"][kind]["rtol"])
        if kind in payload["step_max_abs_diff"]:
            assert float(step) == payload["step_max_abs_diff"][kind]
            assert (float(step_atol), float(step_rtol)) == (tolerances["step"]["atol"], tolerances["step"]["rtol"])
        else:
            assert step == ""

    metrics = section_rows(text, "## Test metrics")
    assert metrics == [["accuracy", repr(payload["test_metrics"]["scratchnet"]["accuracy"]),
                        repr(payload["test_metrics"]["torch"]["accuracy"])]]

    settings = dict(section_rows(text, "## Settings"))
    assert settings["dataset"] == "lecture" and settings["optimizer"] == "Adam"
    assert float(settings["lr"]) == payload["lr"] and settings["batch size"] == "400"
    assert settings["dtype"] == "float64" and int(settings["seed"]) == payload["seed"]


@pytest.mark.parametrize("args, metric_names", [
    (["--dataset", "iris"], ["accuracy"]),
    (["--dataset", "diabetes", "--dtype", "float32"], ["mse", "mae", "r2"]),
])
def test_report_for_other_tasks(args, metric_names, tmp_path, capsys):
    assert parity_cli.main([*args, "--epochs", "2", "--hidden", "8", "--report", str(tmp_path)]) == 0
    payload = json.loads((tmp_path / "report.json").read_text())
    text = (tmp_path / "report.md").read_text()
    rows = section_rows(text, "## Test metrics")
    assert [row[0] for row in rows] == metric_names
    for name, s, t in rows:
        assert (float(s), float(t)) == (payload["test_metrics"]["scratchnet"][name], payload["test_metrics"]["torch"][name])
    if "confusion_matrix" in payload["test_metrics"]["torch"]:
        assert "Confusion matrix, torch" in text


def test_a_failed_run_says_fail_and_lists_the_failures(lecture_run):
    _, directory = lecture_run
    payload = json.loads((directory / "run.json").read_text())
    payload.update(passed=False, failures=["epoch 1 step 1: grad net.0.weight differs by 1.000e-03"])
    text = markdown(payload)
    assert text.startswith("# Parity report: FAIL") and "## Result: FAIL" in text
    assert "- epoch 1 step 1: grad net.0.weight differs by 1.000e-03" in text


def test_exact_zeros_do_not_break_the_log_plots(lecture_run, tmp_path):
    _, directory = lecture_run
    payload = json.loads((directory / "run.json").read_text())
    for row in payload["steps"]:
        row["grad"] = row["param"] = 0.0  # every step bit-identical
    payload["losses"]["torch"] = list(payload["losses"]["scratchnet"])
    paths = write_report(tmp_path, payload)
    assert paths["differences.png"].read_bytes()[:8] == PNG_MAGIC
    assert "drawn at the plot's floor" in paths["report.md"].read_text()


def test_log_floor_is_a_decade_below_the_smallest_positive_value():
    assert log_floor([0.0, 3e-17, 2e-16]) == pytest.approx(1e-18)
    assert log_floor([0.0], [5e-9]) == pytest.approx(1e-10)
    assert log_floor([0.0, 0.0]) > 0


def test_plain_runs_do_not_import_matplotlib():
    code = ("import sys; from parity import cli; "
            "status = cli.main(['--epochs', '1', '--hidden', '4']); "
            "print(status, 'matplotlib' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.splitlines()[-1] == "0 False"


def test_a_report_path_that_is_a_file_is_bad_usage(tmp_path, capsys):
    path = tmp_path / "taken"
    path.write_text("")
    assert parity_cli.main(["--epochs", "1", "--report", str(path)]) == 2
    assert "--report expects a directory" in capsys.readouterr().err


def test_a_report_without_training_steps(tmp_path, capsys):
    model = tmp_path / "model.npz"
    assert scratchnet_cli.main(["--epochs", "1", "--hidden", "4", "--save", str(model), "--quiet"]) == 0
    assert parity_cli.main(["--load", str(model), "--epochs", "0", "--report", str(tmp_path / "out")]) == 0
    text = (tmp_path / "out" / "report.md").read_text()
    assert section_rows(text, "## Loss per epoch") == [] and (tmp_path / "out" / "differences.png").exists()
