"""Every notebook in notebooks/ runs headless, top to bottom, with the public API only — from a clone of
the repository in an empty temporary folder, with nothing beside it: a user clones
this repository and nothing else."""

import os
import shutil
import subprocess
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def clone_repository(dest: Path) -> Path:
    """``git clone`` of this repository into ``dest``, with the working tree's uncommitted changes on top
    (tracked and untracked-not-ignored files), so a developer tests what they are about to commit."""
    subprocess.run(["git", "clone", "--quiet", "--no-hardlinks", str(ROOT), str(dest)], check=True)
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=ROOT, check=True, capture_output=True).stdout.decode().split("\0")
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
        elif not src.exists() and (dest / rel).exists():
            (dest / rel).unlink()  # deleted in the working tree
    return dest


@pytest.fixture(scope="session")
def clone(tmp_path_factory):
    return clone_repository(tmp_path_factory.mktemp("empty") / "workbench")


def test_there_are_notebooks():
    assert any(p.name == "00_start_here.ipynb" for p in NOTEBOOKS)


def test_the_clone_stands_alone(clone):
    # nothing in the repository reaches outside it for data
    found = subprocess.run(["git", "grep", "-nE", r"\.\./(\.\./)?shared", "--", "workbench", "notebooks", "tests",
                            "tools", "benchmarks", "Makefile", ".ci"], cwd=ROOT, capture_output=True, text=True)
    assert found.stdout == "", found.stdout
    assert not (clone.parent / "shared").exists()
    assert (clone / "workbench/data/embedded/mnist/t10k-images-idx3-ubyte.gz").exists()


@pytest.mark.slow
@pytest.mark.parametrize("name", [p.name for p in NOTEBOOKS], ids=[p.stem for p in NOTEBOOKS])
def test_notebook_runs_headless(name, clone, tmp_path, monkeypatch):
    path = clone / "notebooks" / name
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert not cell.outputs, f"{path.name}: commit notebooks with outputs stripped"
            assert "workbench._" not in cell.source, f"{path.name}: notebooks use the public API only"
    # the kernel imports the clone's package (not this checkout's editable install) and no outside data
    monkeypatch.setenv("PYTHONPATH", str(clone))
    monkeypatch.delenv("WORKBENCH_MNIST", raising=False)
    nb.cells.append(nbformat.v4.new_code_cell("import workbench; print(workbench.__file__)"))
    # run from a scratch folder: files a notebook writes (a run store) never land in the repository
    client = NotebookClient(nb, timeout=600, kernel_name="python3", store_widget_state=True,
                            resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert nb.metadata.get("widgets"), "widget state was stored: the widgets rendered"
    assert str(clone) in nb.cells[-1].outputs[0]["text"], "the kernel ran the clone's package"
