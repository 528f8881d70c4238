"""The teaching labs (notebooks/labs): built from their sources, student versions hold no solution, every
student notebook runs headless and says "not yet", every solution runs headless and passes."""

import importlib.util
import time
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from tests.test_notebooks import clone_repository, private_names

ROOT = Path(__file__).parents[1]
LABS = ROOT / "notebooks" / "labs"
SOURCES = sorted((LABS / "src").glob("[0-9][0-9]_*.py"))
STUDENT = [LABS / f"{s.stem}.ipynb" for s in SOURCES]
SOLUTION = [LABS / "solutions" / f"{s.stem}.ipynb" for s in SOURCES]

spec = importlib.util.spec_from_file_location("make_labs", ROOT / "tools" / "make_labs.py")
assert spec and spec.loader
make_labs = importlib.util.module_from_spec(spec)
spec.loader.exec_module(make_labs)


def test_there_are_labs_and_the_notebook_tests_do_not_run_them_twice():
    from tests.test_notebooks import NOTEBOOKS

    assert len(SOURCES) >= 3
    assert all(p.exists() for p in STUDENT + SOLUTION)
    assert not set(NOTEBOOKS) & set(STUDENT + SOLUTION)


def test_strip_replaces_the_solution_with_your_code_here_or_the_buggy_original():
    cell = "def f(x):\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n"
    assert make_labs.strip(cell, solution=True) == "def f(x):\n    return x + 1\n"
    assert make_labs.strip(cell, solution=False) == (
        "def f(x):\n    # YOUR CODE HERE\n    raise NotImplementedError()\n"
    )
    buggy = "### BEGIN SOLUTION\ny = x.sum(0)\n### BUGGY\ny = x.mean(0)\n### END SOLUTION\nprint(y)"
    assert make_labs.strip(buggy, solution=True) == "y = x.sum(0)\nprint(y)"
    assert make_labs.strip(buggy, solution=False) == "y = x.mean(0)\nprint(y)"


@pytest.mark.parametrize(
    ("source", "match"),
    [
        ("### BEGIN SOLUTION\nx = 1\n", "without '### END SOLUTION'"),
        ("x = 1\n### END SOLUTION\n", "without '### BEGIN SOLUTION'"),
        ("### BUGGY\n", "outside a solution region"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n", "nested"),
    ],
)
def test_strip_refuses_broken_markers(source, match):
    with pytest.raises(ValueError, match=match):
        make_labs.strip(source, solution=False)


def test_parse_splits_percent_cells():
    cells = make_labs.parse("# %% [markdown]\n# # Title\n# text\n\n# %%\nx = 1\n")
    assert cells == [("markdown", "# Title\ntext"), ("code", "x = 1")]


def test_the_notebooks_are_built_from_the_current_sources():
    assert make_labs.main(["--check"]) == 0, "run `make labs` (python tools/make_labs.py) and commit"


@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_student_notebooks_hold_no_solution_text(source):
    student = nbformat.read(LABS / f"{source.stem}.ipynb", as_version=4)
    text = "\n".join(c.source for c in student.cells)
    for marker in (make_labs.BEGIN, make_labs.BUGGY, make_labs.END):
        assert marker not in text
    solution_lines, given = set(), set()  # given: lines the student gets anyway (buggy part, outside)
    for _kind, src in make_labs.parse(source.read_text()):
        inside = False
        for line in src.split("\n"):
            tag = line.strip()
            if tag in (make_labs.BEGIN, make_labs.BUGGY, make_labs.END):
                inside = tag == make_labs.BEGIN
            elif inside and tag and not tag.startswith("#"):
                solution_lines.add(tag)
            else:
                given.add(tag)
    solution_lines -= given
    assert solution_lines, "every lab has a solution"
    student_lines = {line.strip() for line in text.split("\n")}
    assert not solution_lines & student_lines
    solution = nbformat.read(LABS / "solutions" / f"{source.stem}.ipynb", as_version=4)
    assert solution_lines <= {line.strip() for c in solution.cells for line in c.source.split("\n")}


@pytest.mark.parametrize(
    "path", STUDENT + SOLUTION, ids=[f"{p.parent.name}/{p.stem}" for p in STUDENT + SOLUTION]
)
def test_labs_use_the_public_api_only(path):
    nb = nbformat.read(path, as_version=4)
    assert not [name for c in nb.cells if c.cell_type == "code" for name in private_names(c.source)]


@pytest.fixture(scope="module")
def clone(tmp_path_factory):
    return clone_repository(tmp_path_factory.mktemp("empty") / "workbench")


def run_lab(path: Path, clone: Path, tmp_path: Path, monkeypatch) -> tuple[str, float]:
    """Run a lab headless from the clone; return what its ``feedback`` says (its verdict) and the seconds."""
    nb = nbformat.read(path, as_version=4)
    assert not any(c.outputs for c in nb.cells if c.cell_type == "code"), "commit labs with outputs stripped"
    monkeypatch.setenv("PYTHONPATH", str(clone))
    nb.cells.append(nbformat.v4.new_code_cell("print(feedback.verdict)\nprint(feedback)"))
    client = NotebookClient(
        nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}
    )
    started = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - started
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.outputs if o.output_type == "error"]
    assert not errors, errors
    return nb.cells[-1].outputs[0]["text"], seconds


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_student_lab_runs_and_says_not_yet(source, clone, tmp_path, monkeypatch):
    text, seconds = run_lab(
        clone / "notebooks" / "labs" / f"{source.stem}.ipynb", clone, tmp_path, monkeypatch
    )
    assert text.startswith("not yet"), text
    assert seconds < 300


@pytest.mark.slow
@pytest.mark.parametrize("source", SOURCES, ids=[s.stem for s in SOURCES])
def test_solution_lab_runs_and_passes(source, clone, tmp_path, monkeypatch):
    path = clone / "notebooks" / "labs" / "solutions" / f"{source.stem}.ipynb"
    text, seconds = run_lab(path, clone, tmp_path, monkeypatch)
    assert text.startswith("pass"), text
    assert seconds < 300
