"""Build the teaching labs: for each source ``notebooks/labs/src/NN_name.py`` write the student notebook
``notebooks/labs/NN_name.ipynb`` and the solution ``notebooks/labs/solutions/NN_name.ipynb``.

A source is a Python file in the "percent" format: ``# %%`` starts a code cell, ``# %% [markdown]`` a
markdown cell (its lines start with ``# ``). Inside a code cell, nbgrader's markers fence the solution::

    ### BEGIN SOLUTION
    the fixed code (kept in the solution)
    ### BUGGY
    the code the student gets instead (optional)
    ### END SOLUTION

Without a ``### BUGGY`` part the student gets ``# YOUR CODE HERE`` and ``raise NotImplementedError()``,
at the indentation of the ``### BEGIN SOLUTION`` line (nbgrader's convention). A small script rather than
nbgrader itself: nbgrader installs cleanly beside the pinned stack but adds the classic ``notebook``
server and a course-directory/database workflow, and it cannot hand the student a buggy original in
place of the solution, which lab 2 needs.

Run: ``python tools/make_labs.py`` (or ``make labs``); ``--check`` exits 1 when a notebook is out of date.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import nbformat as nbf

ROOT = Path(__file__).resolve().parents[1]
LABS = ROOT / "notebooks" / "labs"
BEGIN, BUGGY, END = "### BEGIN SOLUTION", "### BUGGY", "### END SOLUTION"
CELL = re.compile(r"^# %%(?: \[(markdown)\])?[ \t]*$", re.MULTILINE)


def parse(text: str) -> list[tuple[str, str]]:
    """``(cell_type, source)`` pairs of a percent-format source (text before the first ``# %%`` is
    dropped)."""
    marks = list(CELL.finditer(text))
    cells = []
    for m, nxt in zip(marks, [*marks[1:], None]):
        body = text[m.end() : nxt.start() if nxt else len(text)].strip("\n")
        if m.group(1) == "markdown":
            body = "\n".join(
                line[2:] if line.startswith("# ") else line.lstrip("#") for line in body.split("\n")
            )
            cells.append(("markdown", body))
        else:
            cells.append(("code", body))
    return cells


def strip(source: str, solution: bool) -> str:
    """One code cell's source for the solution (``solution=True``) or the student."""
    out: list[str] = []
    state = None  # None outside a region, "solution" or "buggy" inside
    indent, buggy = "", False
    for line in source.split("\n"):
        tag = line.strip()
        if tag == BEGIN:
            if state is not None:
                raise ValueError(f"nested {BEGIN!r}: close the region above with {END!r} first.")
            state, indent, buggy = "solution", line[: len(line) - len(line.lstrip())], False
        elif tag == BUGGY:
            if state != "solution":
                raise ValueError(
                    f"{BUGGY!r} outside a solution region: put it between {BEGIN!r} and {END!r}."
                )
            state, buggy = "buggy", True
        elif tag == END:
            if state is None:
                raise ValueError(f"{END!r} without {BEGIN!r}.")
            if not solution and not buggy:
                out += [f"{indent}# YOUR CODE HERE", f"{indent}raise NotImplementedError()"]
            state = None
        elif state is None or (state == "solution") == solution:
            out.append(line)
    if state is not None:
        raise ValueError(f"{BEGIN!r} without {END!r}.")
    return "\n".join(out)


def notebook(cells: list[tuple[str, str]], solution: bool) -> nbf.NotebookNode:
    nb = nbf.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nb.cells = [
        nbf.v4.new_markdown_cell(src) if kind == "markdown" else nbf.v4.new_code_cell(strip(src, solution))
        for kind, src in cells
    ]
    return nb


def build(src_dir: Path = LABS / "src", out_dir: Path = LABS) -> list[Path]:
    """Write every lab's student and solution notebook; returns the paths written."""
    written = []
    for src in sorted(src_dir.glob("[0-9][0-9]_*.py")):
        cells = parse(src.read_text())
        for solution, folder in ((False, out_dir), (True, out_dir / "solutions")):
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / f"{src.stem}.ipynb"
            nbf.write(notebook(cells, solution), path)
            written.append(path)
    return written


def _cells(path: Path) -> list[tuple[str, str]]:
    return [(c.cell_type, c.source) for c in nbf.read(path, as_version=4).cells]


def main(argv: list[str]) -> int:
    if "--check" in argv:
        stale = []
        for src in sorted((LABS / "src").glob("[0-9][0-9]_*.py")):
            cells = parse(src.read_text())
            for solution, folder in ((False, LABS), (True, LABS / "solutions")):
                path = folder / f"{src.stem}.ipynb"
                want = [(c.cell_type, c.source) for c in notebook(cells, solution).cells]
                if not path.exists() or _cells(path) != want:
                    stale.append(str(path.relative_to(ROOT)))
        sys.stderr.write("".join(f"out of date: {p}\n" for p in stale))
        return 1 if stale else 0
    for path in build():
        sys.stdout.write(f"wrote {path.relative_to(ROOT)}\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
