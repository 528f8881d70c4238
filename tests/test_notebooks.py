"""Every notebook in notebooks/ runs headless, top to bottom, with the public API only — from a clone of
the repository in an empty temporary folder, with nothing beside it: a user clones
this repository and nothing else."""

import ast
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
    listed = (
        subprocess.run(
            ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )
        .stdout.decode()
        .split("\0")
    )
    for rel in filter(None, listed):
        src = ROOT / rel
        if src.is_file():
            (dest / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, dest / rel)
        elif not src.exists() and (dest / rel).exists():
            (dest / rel).unlink()  # deleted in the working tree
    return dest


def private_names(source: str) -> list[str]:
    """The private parts of ``workbench`` a notebook cell reaches for: every module or name starting with
    ``_``
    (dunders such as ``__version__`` are public) in a ``workbench`` import, or in an attribute read off a name
    such an import bound (``import workbench.tune as t; t._x``). IPython syntax (``%magic``, ``!cmd``) is
    allowed."""
    from IPython.core.inputtransformer2 import TransformerManager

    def private(part: str) -> bool:
        return part.startswith("_") and not (part.startswith("__") and part.endswith("__"))

    tree = ast.parse(TransformerManager().transform_cell(source))
    found: list[str] = []
    bound: set[str] = set()  # names bound to a workbench module or object
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.split(".")[0] == "workbench":
                    found += [alias.name] if any(map(private, alias.name.split("."))) else []
                    bound.add(alias.asname or "workbench")
        elif (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").split(".")[0] == "workbench"
        ):
            module = node.module or ""
            found += [module] if any(map(private, module.split("."))) else []
            found += [f"{module}.{a.name}" for a in node.names if private(a.name)]
            bound |= {a.asname or a.name for a in node.names}
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and private(node.attr):
            base = node.value
            while isinstance(base, ast.Attribute):
                base = base.value
            if isinstance(base, ast.Name) and base.id in bound:
                found.append(ast.unparse(node))
    return found


def test_private_names_catches_every_way_a_cell_reaches_a_private_part():
    assert private_names("from workbench.tune.searching import _Dask") == ["workbench.tune.searching._Dask"]
    assert private_names("from workbench._platform import relax_malloc_trim") == ["workbench._platform"]
    assert private_names("import workbench._validation as v") == ["workbench._validation"]
    assert private_names("from workbench.tune import search, _hidden as h") == ["workbench.tune._hidden"]
    assert private_names("import workbench.tune.executors as ex\nex._LocalProcesses(1)") == [
        "ex._LocalProcesses"
    ]
    assert private_names("import workbench as wb\nprint(wb.tune.searching._WORKER_DATA)") == [
        "wb.tune.searching._WORKER_DATA"
    ]
    assert private_names("%matplotlib inline\nfrom workbench.data._x import y") == ["workbench.data._x"]
    # the public API, dunders, private names of other packages and local names are fine
    assert (
        private_names(
            "import workbench as wb\nfrom workbench.tune import search, ModelSpec\n"
            "print(wb.__version__, wb.__file__)\nimport numpy as np\nnp._NoValue\n"
            "_scratch = 1\nx = search\n!ls\n"
        )
        == []
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebooks_use_the_public_api_only(path):
    """Checked without running them (the run below is slow and checks again, in the clone)."""
    nb = nbformat.read(path, as_version=4)
    assert not [name for c in nb.cells if c.cell_type == "code" for name in private_names(c.source)]


@pytest.fixture(scope="session")
def clone(tmp_path_factory):
    return clone_repository(tmp_path_factory.mktemp("empty") / "workbench")


def test_there_are_notebooks():
    assert any(p.name == "00_start_here.ipynb" for p in NOTEBOOKS)


def test_the_clone_stands_alone(clone):
    # nothing in the repository reaches outside it for data
    found = subprocess.run(
        [
            "git",
            "grep",
            "-nE",
            r"\.\./(\.\./)?shared",
            "--",
            "workbench",
            "notebooks",
            "tests",
            "tools",
            "benchmarks",
            "Makefile",
            ".ci",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
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
            assert not private_names(cell.source), f"{path.name}: notebooks use the public API only"
    # the kernel imports the clone's package (not this checkout's editable install) and no outside data
    monkeypatch.setenv("PYTHONPATH", str(clone))
    monkeypatch.delenv("WORKBENCH_MNIST", raising=False)
    nb.cells.append(nbformat.v4.new_code_cell("import workbench; print(workbench.__file__)"))
    # run from a scratch folder: files a notebook writes (a run store) never land in the repository
    client = NotebookClient(
        nb,
        timeout=1800,  # per cell: a hang guard, generous for a loaded machine
        kernel_name="python3",
        store_widget_state=True,
        resources={"metadata": {"path": str(tmp_path)}},
    )
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors
    assert nb.metadata.get("widgets"), "widget state was stored: the widgets rendered"
    assert str(clone) in nb.cells[-1].outputs[0]["text"], "the kernel ran the clone's package"
