"""The README's first command, exactly as written: `make lab` serves on 127.0.0.1 with a token and its
printed URL opens notebooks/00_start_here.ipynb with a running kernel."""

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from .conftest import ARTIFACTS, REPO, _free_port, _settings

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_make_lab_opens_the_start_here_notebook(page, tmp_path):
    for d in ("config", "data", "runtime", "settings", "workspaces"):
        (tmp_path / d).mkdir()
    _settings(tmp_path / "settings")
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(tmp_path / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(tmp_path / "workspaces"),
    )
    port = _free_port()
    log = tmp_path / "make-lab.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["make", "lab", f"PORT={port}"],
            cwd=REPO,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        url = None
        deadline = time.time() + 300  # a hang guard: jupyter lab starts in seconds, minutes under load
        while url is None and time.time() < deadline and proc.poll() is None:
            m = re.search(rf"(http://127\.0\.0\.1:{port}/\S+\?token=[0-9a-f]+)", log.read_text())
            url = m.group(1) if m else None
            time.sleep(0.5)
        assert url, log.read_text()[-2000:]
        assert (
            "/lab/tree/notebooks/00_start_here.ipynb?token=" in url
        )  # token on, the notebook is the start page
        page.goto(url)
        page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current", has_text="00_start_here").wait_for(
            timeout=180_000
        )
        deadline = time.time() + 180  # a fresh server starts its first kernel
        while "Idle" not in page.locator("#jp-main-statusbar").inner_text() and time.time() < deadline:
            accept = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
            if accept.count():
                accept.first.click()
            time.sleep(0.5)
        assert "Idle" in page.locator("#jp-main-statusbar").inner_text()
        assert page.locator(".jp-Cell").count() > 10
        page.screenshot(path=str(ARTIFACTS / "make_lab.png"))
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(120)
    assert not list(Path(REPO / "notebooks").glob("*.sqlite")), (
        "opening the notebook must not write into the repo"
    )
