"""Command line: ``python -m workbench check|inspect|lab|app``.

``check`` runs the recipe's pipeline checks and exits 1 when one fails (usable in a project's CI);
``inspect`` prints what ``inspect`` finds in a dataset and exits 1 on leakage or label conflicts.
Progress goes to stderr: bars on a terminal, one summary line when stderr is a pipe or a log file.
``app`` serves the whole recipe as one page (Voilà on 127.0.0.1 with a token); it prints the page's URL
on stdout and Voilà's log on stderr, and stops Voilà (and its kernels) on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import sys

__all__ = ["main"]

#: The longest ``python -m workbench app`` waits for the pre-heated page before printing the URL anyway.
READY_WAIT_S = 180.0


def _data(args):
    from .data import from_folder, load_digits, split

    if args.folder:
        ds = from_folder(args.folder)
        for u in ds.unreadable:
            print(f"unreadable: {u.path}: {u.reason}", file=sys.stderr)
        return split(ds, val_fraction=0.15, test_fraction=0.0, seed=args.seed)
    return load_digits(seed=args.seed)


def _check(args) -> int:
    from .checks import run_all
    from .models import build_model

    splits = _data(args)
    model = build_model(args.model, splits.train, seed=args.seed)
    only = tuple(args.only.split(",")) if args.only else None
    print(
        f"checking a {args.model} on {splits.train.name} ({len(splits.train)} samples, "
        f"{splits.train.num_classes} classes)"
    )
    checklist = run_all(
        model, splits.train, splits.val, only=only, on_result=lambda r: print(f"  {r}", flush=True)
    )
    print(
        "all checks passed"
        if checklist.passed
        else f"{len(checklist.failed)} check(s) FAILED: " + ", ".join(r.name for r in checklist.failed)
    )
    return 0 if checklist.passed else 1


def _inspect(args) -> int:
    from ._progress import StageProgress
    from .data import inspect

    splits = _data(args)
    with StageProgress(
        "inspect", on_summary=lambda line: print(line, file=sys.stderr, flush=True)
    ) as progress:
        report = inspect(splits.train, splits.test, val=splits.val, progress=progress)
    print(report.summary())
    if args.csv:
        report.to_frame().to_csv(args.csv, index=False)
        print(f"rows written to {args.csv}")
    return 1 if report.count("leakage") or report.count("label_conflict") else 0


def _lab(args) -> int:
    import subprocess

    cmd = [sys.executable, "-m", "jupyter", "lab", "--ip", "127.0.0.1", "--no-browser", args.notebook]
    return subprocess.call(cmd)


def _app(args) -> int:
    import os
    import secrets
    import signal
    import subprocess
    import tempfile
    import threading
    import time
    from pathlib import Path

    from .app import app_env, app_notebook, page_url, voila_command
    from .app.server import ENV_READY, ENV_STORE

    if args.folder and not Path(args.folder).is_dir():
        raise FileNotFoundError(
            f"--folder {args.folder}: no such folder. Give an ImageFolder tree (PATH/<class>/<images>), "
            "or leave --folder out to use the embedded digits."
        )
    token = secrets.token_hex(24)
    store = Path(args.store or os.environ.get(ENV_STORE) or "workbench_runs.sqlite")
    with tempfile.TemporaryDirectory(prefix="workbench-app-") as tmp:
        ready = Path(tmp) / "page-ready"
        cmd = voila_command(app_notebook(tmp), port=args.port, token=token)
        proc = subprocess.Popen(
            cmd,
            env={**app_env(args.folder, store, args.seed), ENV_READY: str(ready)},
            cwd=tmp,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # SIGTERM (a kill of the process group, `make` stopped) stops Voilà, which shuts its kernels down
        signal.signal(signal.SIGTERM, lambda *_: proc.terminate())
        urls: list[str] = []

        def relay() -> None:  # Voilà's log to stderr; its URL, with the token, kept
            running = False
            for line in proc.stdout or ():
                sys.stderr.write(line)
                if "is running at" in line:
                    running = True
                elif running and (url := page_url(line, token)):
                    running, _ = False, urls.append(url)

        threading.Thread(target=relay, name="voila-log", daemon=True).start()
        try:
            while not urls and proc.poll() is None:
                time.sleep(0.1)
            if urls:
                # the URL once the pre-heated kernel has built the page: the first page opened is usable at
                # once (waiting at most READY_WAIT_S: a page opened earlier still works, only slower)
                print("workbench app: preparing the first page ...", file=sys.stderr, flush=True)
                deadline = time.monotonic() + READY_WAIT_S
                while not ready.exists() and proc.poll() is None and time.monotonic() < deadline:
                    time.sleep(0.1)
                print(f"workbench app: {urls[0]}", flush=True)
            proc.wait()
        except KeyboardInterrupt:
            pass
        finally:
            proc.terminate()
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
    return 0 if proc.returncode in (0, -signal.SIGTERM) else proc.returncode


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="python -m workbench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = ap.add_subparsers(dest="command", required=True)
    for name, helptext in (("check", "run the pipeline sanity checks"), ("inspect", "inspect a dataset")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument(
            "--folder", help="an ImageFolder tree (path/<class>/<image>); default: the embedded digits"
        )
        p.add_argument("--seed", type=int, default=0)
        if name == "check":
            p.add_argument("--model", choices=["linear", "mlp", "cnn"], default="cnn")
            p.add_argument("--only", help="comma-separated check names")
        else:
            p.add_argument("--csv", help="write one row per (sample, issue) to this CSV file")
    lab = sub.add_parser("lab", help="start JupyterLab on 127.0.0.1")
    lab.add_argument("notebook", nargs="?", default="notebooks/00_start_here.ipynb")
    app = sub.add_parser("app", help="serve the whole recipe as one page (Voilà on 127.0.0.1)")
    app.add_argument(
        "--folder", help="an ImageFolder tree (path/<class>/<image>); default: the embedded digits"
    )
    app.add_argument("--port", type=int, default=8866)
    app.add_argument("--seed", type=int, default=0)
    app.add_argument(
        "--store", help="the run store (default: $WORKBENCH_APP_STORE, else workbench_runs.sqlite here)"
    )
    args = ap.parse_args(argv)
    try:
        return {"check": _check, "inspect": _inspect, "lab": _lab, "app": _app}[args.command](args)
    except (ValueError, TypeError, FileNotFoundError, NotADirectoryError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
