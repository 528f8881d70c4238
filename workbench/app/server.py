"""Serve the ``App`` as a page with Voilà: the command, the kernel's environment, the served notebook.

The notebook shipped here (``app.ipynb``) only does ``App(folder=..., store=..., seed=...)`` reading
the three from environment variables, so one file serves any folder. It is copied into a fresh folder
per server (Voilà runs the kernel there, so nothing is written into the installed package), and served
with the ``workbench`` template: Voilà's lab template without its CDN stylesheets (``share/voila``).
Kernels are pre-heated (a kernel runs the notebook before the page is asked for), so a page is usable
as soon as it loads instead of after importing torch and building the first tab.
"""

from __future__ import annotations

import os
import re
import shutil
import sys
from collections.abc import Mapping
from pathlib import Path

__all__ = [
    "ENV_FOLDER",
    "ENV_READY",
    "ENV_SEED",
    "ENV_STORE",
    "NOTEBOOK",
    "TEMPLATE",
    "app_env",
    "app_notebook",
    "page_url",
    "voila_command",
]

ENV_FOLDER, ENV_STORE, ENV_SEED = "WORKBENCH_APP_FOLDER", "WORKBENCH_APP_STORE", "WORKBENCH_APP_SEED"
#: A file the app notebook creates once it has built the page: Voilà's pre-heated kernel runs the notebook
#: before any page is opened, and ``python -m workbench app`` prints the URL when that kernel is done, so
#: the first page opened is served from it at once instead of waiting for torch to import.
ENV_READY = "WORKBENCH_APP_READY"
#: the notebook Voilà serves
NOTEBOOK = Path(__file__).with_name("app.ipynb")
#: the Voilà template (in ``share/voila/templates``), found through ``JUPYTER_PATH``
TEMPLATE = "workbench"
_SHARE = Path(__file__).with_name("share")
_RUNNING = re.compile(r"(http://[^\s?]+)")


def app_notebook(directory: str | os.PathLike) -> Path:
    """Copy the app notebook into ``directory`` (the kernel's working folder); its path."""
    target = Path(directory) / "workbench_app.ipynb"
    shutil.copyfile(NOTEBOOK, target)
    return target


def app_env(
    folder: str | os.PathLike | None,
    store: str | os.PathLike,
    seed: int = 0,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of the Voilà server (its kernels inherit it): the app's folder, store and seed as
    absolute paths, and the template folder first on ``JUPYTER_PATH``."""
    env = dict(os.environ if base is None else base)
    env[ENV_FOLDER] = str(Path(folder).resolve()) if folder else ""
    env[ENV_STORE] = str(Path(store).resolve())
    env[ENV_SEED] = str(int(seed))
    env["JUPYTER_PATH"] = os.pathsep.join(p for p in (str(_SHARE), env.get("JUPYTER_PATH", "")) if p)
    return env


def voila_command(notebook: str | os.PathLike, *, port: int, token: str) -> list[str]:
    """``voila`` on 127.0.0.1 with a token, no browser, sources stripped, one pre-heated kernel."""
    if not 1 <= int(port) <= 65535:
        raise ValueError(f"The 'port' parameter of voila_command must be in [1, 65535]. Got {port} instead.")
    if not re.fullmatch(r"[A-Za-z0-9_-]{16,}", token):
        raise ValueError(
            "The 'token' parameter of voila_command must be 16 or more URL-safe characters "
            "(secrets.token_urlsafe). Got a token of another form instead."
        )
    return [
        sys.executable,
        "-m",
        "voila",
        str(notebook),
        "--no-browser",
        "--Voila.ip=127.0.0.1",
        f"--port={int(port)}",
        f"--token={token}",
        f"--template={TEMPLATE}",
        "--strip_sources=True",
        "--show_tracebacks=False",
        "--preheat_kernel=True",
        "--pool_size=1",
    ]


def page_url(log_line: str, token: str) -> str | None:
    """The page's URL with ``token``, from the line of Voilà's log that follows "Voilà is running at:"."""
    m = _RUNNING.search(log_line)
    if m is None:
        return None
    base = m.group(1) if m.group(1).endswith("/") else m.group(1) + "/"
    return f"{base}?token={token}"
