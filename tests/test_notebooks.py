"""Every notebook in notebooks/ runs from top to bottom in a fresh Jupyter kernel.

The notebooks are kept as jupytext percent-format ``.py`` files (diff-friendly, no outputs
committed); here each is read with jupytext and executed with nbclient, as a learner's
"Run all" would, so a notebook that breaks fails the suite.
"""

import os
from pathlib import Path

import pytest

jupytext = pytest.importorskip("jupytext", reason="the test extra installs jupytext, nbclient and ipykernel")
nbclient = pytest.importorskip("nbclient")

NOTEBOOKS = sorted((Path(__file__).resolve().parent.parent / "notebooks").glob("*.py"))


def test_the_notebooks_are_there():
    assert [path.name[:3] for path in NOTEBOOKS] == ["01_", "02_", "03_", "04_", "05_"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[path.stem for path in NOTEBOOKS])
def test_notebook_runs(path, tmp_path, monkeypatch):
    notebook = jupytext.read(path)
    assert notebook.cells and notebook.cells[0].cell_type == "markdown"  # each opens by saying what it teaches
    # The kernel inherits this environment: one BLAS thread (see conftest.py) and the headless plot backend.
    monkeypatch.setenv("MPLBACKEND", "Agg")
    client = nbclient.NotebookClient(notebook, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [output for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.get("outputs", []) if output.get("output_type") == "error"]
    assert not errors


def test_a_broken_notebook_fails(tmp_path):
    broken = tmp_path / "broken.py"
    broken.write_text("# %% [markdown]\n# A notebook whose second cell raises.\n\n# %%\nx = 1\n\n# %%\n1 / 0\n")
    client = nbclient.NotebookClient(jupytext.read(broken), timeout=60, kernel_name="python3",
                                     resources={"metadata": {"path": str(tmp_path)}})
    with pytest.raises(nbclient.exceptions.CellExecutionError, match="ZeroDivisionError"):
        client.execute()
