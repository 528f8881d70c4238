"""The app mode's server side: the Voilà command, the kernel's environment, the shipped notebook and
template (package data), and the CLI's answer to a folder that does not exist."""

import json
import re
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

import pytest

from workbench.__main__ import main
from workbench.app import app_env, app_notebook, page_url, voila_command
from workbench.app.server import ENV_FOLDER, ENV_SEED, ENV_STORE, NOTEBOOK, TEMPLATE

ROOT = Path(__file__).parents[2]


def test_voila_listens_on_loopback_with_a_token_and_no_code():
    cmd = voila_command("/tmp/x/app.ipynb", port=8123, token="a" * 32)
    assert cmd[1:4] == ["-m", "voila", "/tmp/x/app.ipynb"]
    for flag in (
        "--no-browser",
        "--Voila.ip=127.0.0.1",
        "--port=8123",
        f"--token={'a' * 32}",
        f"--template={TEMPLATE}",
        "--strip_sources=True",
        "--show_tracebacks=False",
        "--preheat_kernel=True",
    ):
        assert flag in cmd


def test_bad_port_or_token():
    with pytest.raises(ValueError, match=r"'port' parameter of voila_command must be in \[1, 65535\]"):
        voila_command("a.ipynb", port=0, token="a" * 32)
    with pytest.raises(ValueError, match="'token' parameter of voila_command must be 16 or more"):
        voila_command("a.ipynb", port=8866, token="short")


def test_the_kernel_gets_absolute_paths_and_the_template_folder(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    env = app_env("imgs", "runs.sqlite", 3, base={"JUPYTER_PATH": "/somewhere"})
    assert env[ENV_FOLDER] == str(tmp_path / "imgs") and env[ENV_STORE] == str(tmp_path / "runs.sqlite")
    assert env[ENV_SEED] == "3"
    first, rest = env["JUPYTER_PATH"].split(":", 1)
    assert (Path(first) / "voila" / "templates" / TEMPLATE / "index.html.j2").is_file()
    assert rest == "/somewhere"
    assert app_env(None, "r.sqlite", base={})[ENV_FOLDER] == ""  # the embedded digits


def test_the_url_comes_from_voilas_log_line_with_our_token():
    assert page_url("http://127.0.0.1:8870/?token=...", "t0k") == "http://127.0.0.1:8870/?token=t0k"
    assert page_url("http://127.0.0.1:8870", "t0k") == "http://127.0.0.1:8870/?token=t0k"
    assert page_url("[Voila] Kernel started: 1234", "t0k") is None


def test_the_notebook_only_builds_the_app_from_the_public_api(tmp_path):
    copy = app_notebook(tmp_path)
    assert copy.parent == tmp_path and copy.read_bytes() == NOTEBOOK.read_bytes()
    nb = json.loads(NOTEBOOK.read_text())
    (cell,) = nb["cells"]
    source = "".join(cell["source"])
    assert "from workbench.ui import App" in source and not re.search(r"\b_[a-z]", source)
    for name in (ENV_FOLDER, ENV_STORE, ENV_SEED):
        assert name in source
    assert not cell["outputs"] and nb["metadata"]["kernelspec"]["name"] == "python3"


def test_the_template_drops_the_cdn_stylesheets():
    template = (NOTEBOOK.parent / "share" / "voila" / "templates" / TEMPLATE / "index.html.j2").read_text()
    lab = Path(sys.prefix) / "share" / "jupyter" / "voila" / "templates" / "lab" / "index.html.j2"
    # every CDN link of Voilà's lab template is replaced by nothing in ours
    for link in re.findall(r"<link [^>]*https://[^>]*>", lab.read_text()):
        assert f"replace('{link}', '')" in template


def test_the_app_files_are_package_data():
    globs = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    app_dir = ROOT / "workbench" / "app"
    files = [p.relative_to(ROOT / "workbench").as_posix() for p in app_dir.rglob("*") if p.is_file()]
    data = [f for f in files if not f.endswith((".py", ".pyc")) and "__pycache__" not in f]
    assert data, "no data files under workbench/app"
    for f in data:
        assert any(fnmatch(f, g) for g in globs["workbench"]), f"{f} is not in package-data"


def test_a_folder_that_does_not_exist_stops_the_cli_with_a_message(tmp_path, capsys):
    assert main(["app", "--folder", str(tmp_path / "nope"), "--port", "8870"]) == 2
    err = capsys.readouterr().err
    assert "no such folder" in err and "ImageFolder tree" in err
