"""Every notebook runs, top to bottom, at its small default size, and matches its py:percent twin.

The ``.py`` file is what reviewers read and edit; ``make notebooks`` (``jupytext --sync``)
regenerates the ``.ipynb``, which is stored without outputs.
"""

from pathlib import Path

import jupytext
import nbformat
import pytest
from nbclient import NotebookClient

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"
SOURCES = sorted(NOTEBOOKS.glob("[0-9][0-9]_*.py"))


def test_there_are_notebooks():
    assert [p.stem for p in SOURCES][:1] == ["01_quickstart"]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_is_paired_and_stored_without_outputs(source):
    notebook = source.with_suffix(".ipynb")
    assert notebook.exists(), f"{notebook.name} missing: run `make notebooks`"
    stored = nbformat.read(notebook, as_version=4)
    paired = jupytext.read(source)
    assert [c.source for c in stored.cells] == [c.source for c in paired.cells], (
        f"{notebook.name} is out of sync with {source.name}: run `make notebooks`"
    )
    assert all(not c.get("outputs") for c in stored.cells if c.cell_type == "code")


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_notebook_executes(source, tmp_path):
    notebook = nbformat.read(source.with_suffix(".ipynb"), as_version=4)
    client = NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
