"""JupyterLab on loopback and Debian's chromium through playwright, for tests of what only a browser shows.

The server gets its own config/data/runtime/settings dirs under a temp folder, serves a *copy* of
notebooks/ (autosave never touches the repo) and is stopped by PID at the end. Screenshots go to
test-artifacts/.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).parents[2]
ARTIFACTS = REPO / "test-artifacts"
CHROMIUM = "/usr/bin/chromium"
#: playwright's default wait for a navigation, click or read (30 s) as a hang guard: JupyterLab's first load
#: and a busy kernel's answers take seconds here and may take minutes on a loaded machine
SLOW_MS = 180_000
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-dev-shm-usage",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@dataclass
class Lab:
    url: str
    token: str
    root: Path
    log: Path

    def notebook_url(self, name: str) -> str:
        # a workspace of its own, reset: no tab of an earlier test is open beside this notebook
        workspace = Path(name).stem.replace("_", "-")
        return f"{self.url}/lab/workspaces/{workspace}/tree/{name}?reset&token={self.token}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _settings(settings_dir: Path) -> None:
    for rel, value in {
        "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"autoStartDefaultKernel": True},
        "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
            "fetchNews": "false",
            "checkForUpdates": False,
        },
        "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    }.items():
        path = settings_dir / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(value))


@pytest.fixture(scope="session")
def lab(tmp_path_factory):
    if not Path(CHROMIUM).exists():
        pytest.fail("Debian's chromium is missing: `apt-get install -y chromium` (make test does it)")
    root = tmp_path_factory.mktemp("lab")
    served = root / "notebooks"
    shutil.copytree(REPO / "notebooks", served, ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    jdirs = {
        k: root / "jupyter" / k for k in ("config", "data", "runtime", "settings", "workspaces", "ipython")
    }
    for d in jdirs.values():
        d.mkdir(parents=True)
    _settings(jdirs["settings"])
    env = dict(
        os.environ,
        JUPYTER_CONFIG_DIR=str(jdirs["config"]),
        JUPYTER_DATA_DIR=str(jdirs["data"]),
        JUPYTER_RUNTIME_DIR=str(jdirs["runtime"]),
        JUPYTERLAB_SETTINGS_DIR=str(jdirs["settings"]),
        JUPYTERLAB_WORKSPACES_DIR=str(jdirs["workspaces"]),
        IPYTHONDIR=str(jdirs["ipython"]),
        JUPYTER_PLATFORM_DIRS="1",
    )
    port, token = _free_port(), secrets.token_hex(16)
    log = root / "lab.log"
    cmd = [
        sys.executable,
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        "--ip",
        "127.0.0.1",
        "--port",
        str(port),
        f"--IdentityProvider.token={token}",
        f"--ServerApp.root_dir={served}",
    ]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 300
    while True:
        try:
            with urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=2) as r:
                if r.status == 200:
                    break
        except OSError:
            pass
        if proc.poll() is not None or time.time() > deadline:
            proc.kill()
            pytest.fail(f"JupyterLab did not start:\n{log.read_text()[-3000:]}")
        time.sleep(0.5)
    try:
        yield Lab(url=url, token=token, root=served, log=log)
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def _shutdown_kernels(lab: Lab) -> None:
    """End every session of the server and its kernel. A kernel outlives its tab: left alone, each test's
    kernel (~1 GB, and still training when a test ends with a run going) would slow the tests after it and
    hand the next test that opens the same notebook a kernel with state in it."""
    api = f"{lab.url}/api/sessions"
    with urllib.request.urlopen(f"{api}?token={lab.token}", timeout=60) as r:
        sessions = json.load(r)
    for s in sessions:  # the server answers once the kernel is shut down (or killed after its grace period)
        req = urllib.request.Request(f"{api}/{s['id']}?token={lab.token}", method="DELETE")
        try:
            with urllib.request.urlopen(req, timeout=120):
                pass
        except urllib.error.HTTPError as err:
            if err.code != 404:  # 404: the session ended on its own meanwhile
                raise


@pytest.fixture
def page(lab):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        pg = browser.new_page(viewport={"width": 1500, "height": 1100})
        pg.set_default_timeout(SLOW_MS)
        try:
            yield pg
        finally:
            browser.close()
            _shutdown_kernels(lab)


def open_notebook(page, lab: Lab, name: str) -> None:
    """Open a notebook (``name`` may be in a subfolder: its tab shows the file name) and wait until its
    kernel is idle."""
    page.goto(lab.notebook_url(name))
    page.wait_for_selector(".jp-Notebook", timeout=300_000)  # hang guards: seconds, minutes under load
    tab_text = name.rsplit("/", 1)[-1][:12]
    page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab.lm-mod-current", has_text=tab_text).wait_for(
        timeout=300_000
    )
    accept = page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept")
    deadline = time.time() + 300
    while time.time() < deadline:
        if accept.count():  # "Select Kernel" on a fresh server
            accept.first.click()
        if "Idle" in page.locator("#jp-main-statusbar").inner_text():
            return
        time.sleep(0.5)
    raise AssertionError(f"kernel of {name} never went idle:\n{lab.log.read_text()[-2000:]}")


def wait_idle(page, timeout_s: float = 600) -> None:
    """Wait until the kernel has run every queued cell (the status bar says Idle and no cell's prompt shows
    ``[*]``, twice in a row: the kernel is idle for a moment between two queued cells): widget messages of
    an interaction wait behind the cells still running, so interact with a busy notebook only after this."""
    queued = page.locator(".jp-Notebook .jp-InputPrompt")
    deadline, seen = time.time() + timeout_s, 0
    while True:
        idle = "Idle" in page.locator("#jp-main-statusbar").inner_text() and not queued.evaluate_all(
            "els => els.some(e => e.textContent.includes('*'))"  # textContent: cells out of view count too
        )
        seen = seen + 1 if idle else 0
        if seen == 2:
            return
        assert time.time() < deadline, "the kernel stayed busy"
        time.sleep(0.5)


def run_all(page) -> None:
    page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
    page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()


def write_notebook(path: Path, *sources: str) -> None:
    """A notebook of one code cell per source (python3 kernel, no outputs) at ``path``, for a test to open."""
    import nbformat

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(s) for s in sources])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def wait_until(condition, timeout: float, what: str) -> None:
    """Poll ``condition()`` every 0.2 s until it is true; fail with ``what`` after ``timeout`` seconds."""
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, f"timed out: {what}"
        time.sleep(0.2)
