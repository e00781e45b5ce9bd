"""The README runs as written: every shell command it shows, in order, in a fresh copy of the
repository, and each printed output it shows matches the real one on its stable lines.

Commands are the lines of ```bash blocks (except the first block: the install and test commands,
which .ci/run runs) and the ``$ `` lines of ```text blocks, whose following lines are the output.
An output line is checked when the README shows it (``...`` marks a cut), in order, with runs of
spaces collapsed; numbers in e-notation at or below 1e-8 (rounding-level differences, which vary
with the CPU and BLAS) only have to be that small, and the tensor named beside one (where that
rounding peaked) may be any.
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
TINY = re.compile(r"\b\d\.\d+e[-+]\d+\b")


def readme_commands(text):
    """[(command, expected output lines or None)] in the README's order."""
    commands, fence, bash_blocks, current = [], None, 0, None
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("```"):
            if fence is None:
                fence = line[3:] or "plain"
                bash_blocks += fence == "bash"
            else:
                fence, current = None, None
            continue
        if fence == "bash" and bash_blocks > 1 and line and not line.startswith("#"):
            commands.append((line, None))
        elif fence == "text" and line.startswith("$ "):
            current = []
            commands.append((line[2:], current))
        elif fence == "text" and current is not None:
            current.append(raw.strip("\n"))
    return commands


# The tensor named beside a rounding-level number (where the largest rounding difference fell) is rounding too.
NAMED_TINY = re.compile(r"<tiny>(, | \()[\w.]+")


def _normalise(line):
    line = TINY.sub(lambda m: "<tiny>" if abs(float(m.group())) <= 1e-8 else m.group(), line)
    return " ".join(NAMED_TINY.sub(r"<tiny>\1<name>", line).split())


def missing_lines(expected, actual):
    """The expected lines (normalised) not found, in order, in the actual output; [] when all are."""
    actual_lines = iter([_normalise(line) for line in actual.splitlines()])
    missing = []
    for line in expected:
        wanted = _normalise(line)
        if not wanted or wanted == "...":
            continue
        if not any(got == wanted for got in actual_lines):
            missing.append(line)
            actual_lines = iter([_normalise(line) for line in actual.splitlines()])  # report every miss
    return missing


def test_the_parser_reads_commands_and_outputs():
    text = "```bash\nfirst\n```\n```bash\n# a comment\nrun this   # and a note\n```\n" \
           "```text\n$ a\nout 1\n...\n$ b\n```\n```python\nnot a command\n```\n"
    assert readme_commands(text) == [("run this   # and a note", None), ("a", ["out 1", "..."]), ("b", [])]


def test_the_output_check_can_fail():
    actual = "Epoch [5/20]   0.58903870   0.58903870   3.1e-17\nPASS\n"
    assert missing_lines(["Epoch [5/20] 0.58903870 0.58903870 0.00e+00", "...", "PASS"], actual) == []
    assert missing_lines(["Epoch [5/20] 0.58903871 0.58903870 0.00e+00"], actual) != []
    assert missing_lines(["Epoch [5/20] 0.58903870 0.58903870 2.0e-03"], actual) != []
    assert missing_lines(["PASS", "Epoch [5/20] 0.58903870 0.58903870 0.0e+00"], actual) != []  # order counts
    # which tensor holds a rounding-level maximum is rounding too; a real difference's name still counts
    printed = "over all 33 quantities: 4.4e-16 (din_proj_weight); (largest |diff| 2.2e-16, dout_proj.weight)\n"
    assert missing_lines(["over all 33 quantities: 3.3e-16 (dout_proj.weight); (largest |diff| 1.1e-16, x)"],
                         printed) == []
    assert missing_lines(["over all 33 quantities: 3.3e-03 (dout_proj.weight);"], "over all 33 quantities: "
                         "3.3e-03 (din_proj_weight);\n") != []


@pytest.fixture(scope="module")
def fresh_copy(tmp_path_factory):
    """The repository's tracked files, copied as a fresh clone would have them."""
    target = tmp_path_factory.mktemp("readme") / "scratchnet"
    files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    for name in filter(None, files.decode().split("\0")):
        if (ROOT / name).is_file():
            (target / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, target / name)
    return target


def test_every_readme_command_runs_and_prints_what_the_readme_shows(fresh_copy):
    commands = readme_commands((fresh_copy / "README.md").read_text())
    assert len(commands) >= 10
    env = {**os.environ, "PYTHONPATH": str(fresh_copy)}
    env.pop("CI", None)  # the commands run as a user runs them
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    differences = []  # every command's, so that one run shows all the README needs
    for command, expected in commands:
        result = subprocess.run(command, shell=True, cwd=fresh_copy, env=env, capture_output=True, text=True,
                                timeout=600)
        assert result.returncode == 0, f"$ {command}\nexit {result.returncode}\n{result.stderr[-2000:]}"
        missing = missing_lines(expected or [], result.stdout)
        if missing:
            differences.append(f"$ {command}\nthe README shows lines the command did not print:\n" +
                               "\n".join(missing) + f"\n--- it printed:\n{result.stdout[-4000:]}")
    assert not differences, "\n\n".join(differences)
