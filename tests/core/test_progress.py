"""Progress bars only where someone watches them; one summary line in pipes and logs."""

import io
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest

from workbench._progress import StageProgress, shows_bars

ROOT = Path(__file__).resolve().parents[2]


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def _run(stream=None, **kwargs):
    p = StageProgress("inspect", stream=stream, **kwargs)
    for i in range(0, 101, 10):
        p("decoding train", i, 100)
    p("duplicates", 0, 1)
    p("duplicates", 1, 1)
    return p, p.close()


def test_a_pipe_gets_no_bar_and_one_logged_summary_line(caplog):
    pipe = io.StringIO()
    assert not shows_bars(pipe)
    with caplog.at_level(logging.INFO, logger="workbench"):
        p, line = _run(pipe)
    assert pipe.getvalue() == ""  # no carriage-return frames
    assert [r.getMessage() for r in caplog.records] == [line]
    assert (
        line.startswith("inspect: 2 stage(s) in ")
        and "decoding train (100)" in line
        and "duplicates (1)" in line
    )
    assert p.close() is None and len(caplog.records) == 1  # closing twice says it once


def test_a_terminal_gets_bars_and_no_summary(caplog):
    tty = _Terminal()
    assert shows_bars(tty)
    with caplog.at_level(logging.INFO, logger="workbench"):
        _, line = _run(tty)
    assert line is None and not caplog.records
    assert "\r" in tty.getvalue() and "decoding train" in tty.getvalue()


def test_the_summary_can_go_to_a_callback():
    got = []
    _, line = _run(io.StringIO(), on_summary=got.append)
    assert got == [line]


def _piped(code: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=300,
        check=False,
    )


def test_cli_inspect_in_a_pipe_prints_one_summary_line_and_no_bar_frames():
    p = _piped("import sys; from workbench.__main__ import main; sys.exit(main(['inspect']))")
    assert p.returncode == 0, p.stderr
    assert "\r" not in p.stdout and "\r" not in p.stderr
    summary = [ln for ln in p.stderr.splitlines() if ln.startswith("inspect: ")]
    assert len(summary) == 1 and "decoding train" in summary[0] and "duplicates" in summary[0], p.stderr
    assert "(inspected in" in p.stdout


def test_library_inspect_auto_progress_logs_one_line_in_a_pipe():
    code = (
        "import logging; logging.basicConfig(level=logging.INFO, format='%(name)s %(message)s')\n"
        "import workbench.data.inspection as m; from workbench.data import load_digits\n"
        "m.AUTO_PROGRESS_MIN = 100  # digits (1.8k images) would be under the default threshold\n"
        "s = load_digits(seed=0); m.inspect(s.train, s.test, val=s.val, suspicious=False)\n"
    )
    p = _piped(code)
    assert p.returncode == 0, p.stderr
    assert "\r" not in p.stderr and "%|" not in p.stderr  # no tqdm frames
    lines = [ln for ln in p.stderr.splitlines() if ln.startswith("workbench inspect: ")]
    assert len(lines) == 1 and "decoding train (1259)" in lines[0], p.stderr


@pytest.mark.parametrize("stream", [None, object()])
def test_streams_without_isatty_count_as_pipes(stream, monkeypatch):
    if stream is None:
        monkeypatch.setattr(sys, "stderr", None)
    assert not shows_bars(stream)
