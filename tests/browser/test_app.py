"""`make app` exactly as the README says: the printed URL opens the recipe as one page in Chromium with
nothing fetched from outside 127.0.0.1; every tab opens; a short lab run is started and stopped from the
page and lands in the recipe panel; no traceback shows; the server and its kernels are stopped by PID.

The time from opening the page until the first tab is usable (the data browser's gallery drawn) is
measured twice and written to test-artifacts/app_timing.txt: right after the URL is printed (the page
waits for the pre-heated kernel's rest of the start) and on a second page once the pool has refilled.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import time

import psutil
import pytest

from workbench.data import load_digits
from workbench.recipe import Recipe

from .conftest import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, REPO, SLOW_MS, _free_port

pytestmark = [pytest.mark.browser, pytest.mark.slow]

#: a tab's view, by its title (a tab not listed here, e.g. squeeze, is waited for by its content)
TAB_VIEWS = {
    "data": ".wb-data-browser",
    "pipeline & checks": ".wb-checks-panel",
    "overfit lab": ".wb-overfit-lab",
    "tune": ".wb-lr-range",
    "read the training": ".wb-run-reader",
}
#: the first tab is usable when the gallery's thumbnails are drawn
USABLE = ".wb-app .wb-gallery img"
#: the issue's target for the first tab; the assertion allows three times that: on a 2-core machine
#: shared with other jobs (load average ~10) the same page took 3.2 to 10.9 s
TARGET_S = 5.0


def _url(log, proc, port: int) -> str:
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        m = re.search(rf"workbench app: (http://127\.0\.0\.1:{port}/\?token=[0-9a-f]{{48}})", log.read_text())
        if m:
            return m.group(1)
        time.sleep(0.5)
    raise AssertionError(f"make app printed no URL:\n{log.read_text()[-3000:]}")


def _kernels_quiet(server_pid: int, timeout: float) -> None:
    """Wait until the server's kernels use no CPU for 3 s in a row: the pre-heated one has run the app's
    notebook (Voilà neither logs that nor answers /api/kernels)."""
    deadline, quiet = time.time() + timeout, 0
    while time.time() < deadline and quiet < 3:
        kernels = [
            k
            for k in psutil.Process(server_pid).children(recursive=True)
            if "ipykernel_launcher" in " ".join(k.cmdline())
        ]
        for k in kernels:
            k.cpu_percent(interval=None)  # starts the measurement
        time.sleep(1)
        busy = sum(k.cpu_percent(interval=None) for k in kernels)  # % of one core over that second
        quiet = quiet + 1 if kernels and busy < 10 else 0


def _open(browser, url: str, external: list[str]):
    page = browser.new_page(viewport={"width": 1500, "height": 1100})
    page.set_default_timeout(SLOW_MS)

    def route(r):
        if r.request.url.startswith("http://127.0.0.1:"):
            r.continue_()
        else:  # the page must work offline: nothing from a CDN
            external.append(r.request.url)
            r.abort()

    page.route("**/*", route)
    t0 = time.perf_counter()
    page.goto(url)
    page.locator(USABLE).first.wait_for(timeout=240_000)
    return page, time.perf_counter() - t0


def _app_tab(page, title: str):
    return page.locator(".wb-app-tabs > .lm-TabBar .lm-TabBar-tab", has_text=title).first


def _train_and_stop(page) -> str:
    lab = page.locator(".wb-overfit-lab").first
    status = lab.locator(".wb-status-text").first
    epochs = lab.locator(".widget-inline-hbox", has_text="epochs").locator("input")
    epochs.fill("100000")  # long enough to still be training when Stop is pressed
    epochs.press("Tab")
    lab.locator("button", has_text="Run").first.click()
    deadline = time.time() + 180
    while "training" not in status.inner_text() and time.time() < deadline:
        time.sleep(0.1)
    assert "training" in status.inner_text(), status.inner_text()
    time.sleep(3)
    lab.locator("button", has_text="Stop").first.click()
    deadline = time.time() + 120
    while "stopped at step" not in status.inner_text() and time.time() < deadline:
        time.sleep(0.1)
    assert "stopped at step" in status.inner_text(), status.inner_text()
    return status.inner_text()


def test_make_app_serves_the_recipe_as_one_page(tmp_path):
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    port = _free_port()
    env = dict(
        os.environ,
        PORT=str(port),
        WORKBENCH_APP_STORE=str(tmp_path / "runs.sqlite"),  # not the repo's default store
        JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
        IPYTHONDIR=str(tmp_path / "ipython"),
    )
    log = tmp_path / "make-app.log"
    with log.open("w") as out:
        proc = subprocess.Popen(
            ["make", "app"], cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    started: list[psutil.Process] = []
    try:
        url = _url(log, proc, port)
        external: list[str] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            page, first_s = _open(browser, url, external)
            titles = [
                t.strip() for t in page.locator(".wb-app-tabs > .lm-TabBar .lm-TabBar-tab").all_inner_texts()
            ]
            assert titles[:5] == list(TAB_VIEWS), titles
            assert page.locator(".wb-recipe-panel .wb-next-step").inner_text().startswith("Next:")
            for i, title in enumerate(titles):
                _app_tab(page, title).click()
                if title in TAB_VIEWS:
                    page.locator(TAB_VIEWS[title]).first.wait_for(timeout=300_000)
                else:
                    page.get_by_text(f"opening {title}…").wait_for(state="detached", timeout=300_000)
                time.sleep(1)  # let the figures draw before the screenshot
                page.screenshot(path=str(tmp_path / f"app_tab_{i}.png"))
                shutil.copy(tmp_path / f"app_tab_{i}.png", ARTIFACTS / f"app_tab_{i}.png")
            _app_tab(page, "overfit lab").click()
            stopped = _train_and_stop(page)
            overfit = page.locator(".wb-recipe-panel .wb-step-overfit")
            deadline = time.time() + 120
            while overfit.get_attribute("data-state") == "not yet" and time.time() < deadline:
                time.sleep(0.2)
            assert overfit.get_attribute("data-state") in ("problem", "done"), stopped  # recorded
            page.screenshot(path=str(ARTIFACTS / "app_lab_stopped.png"))
            text = page.locator("body").inner_text()
            assert "Traceback" not in text and "Error" not in text, text[-2000:]
            # a second visitor once the pool has refilled: the steady-state time to a usable first tab
            _kernels_quiet(proc.pid, timeout=600)  # ends once the refilled pool is quiet
            second, second_s = _open(browser, url, external)
            assert "Traceback" not in second.locator("body").inner_text()
            browser.close()
        (ARTIFACTS / "app_timing.txt").write_text(
            f"first tab usable after page open: first page {first_s:.2f} s, second page {second_s:.2f} s "
            f"(target {TARGET_S} s; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores)\n"
        )
        assert not external, f"the page fetched from outside 127.0.0.1: {external}"
        # the stopped lab run was recorded in the store the app was given
        assert Recipe(load_digits(seed=0), tmp_path / "runs.sqlite").step("overfit").updated is not None
        assert second_s <= 3 * TARGET_S, f"first tab usable after {second_s:.1f} s (target {TARGET_S} s)"
    finally:
        # the CLI, Voilà and its kernels (each kernel in a session of its own, so not in make's group)
        with contextlib.suppress(psutil.NoSuchProcess):
            started = psutil.Process(proc.pid).children(recursive=True)
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(120)
        _, alive = psutil.wait_procs(started, timeout=120)
        for a in alive:
            a.kill()
    assert proc.returncode is not None and not alive, f"still running after SIGTERM: {alive}"
