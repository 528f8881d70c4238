"""Data-parallel training on torch.distributed (gloo on this CPU machine): the same steps as one process
with the global batch, the validation split evaluated exactly once, a failing rank fails the run fast,
a stop reaches every rank, and torchrun starts the same code."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch
import torch.distributed as dist

from workbench.distributed import DistributedError, fit_ddp
from workbench.models import build_model
from workbench.train import History, TrainConfig, evaluate

pytestmark = pytest.mark.slow  # every test starts processes that import torch


@pytest.fixture(scope="module")
def parts(digits):
    return digits.train.subset(np.arange(256), name="digits[256]"), digits.val  # 269 samples: odd


def _children() -> set[int]:
    return {p.pid for p in psutil.Process().children(recursive=True)}


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_two_ranks_take_the_steps_of_one_process_with_twice_the_batch(parts, optimizer):
    train, val = parts
    config = TrainConfig(
        epochs=2, batch_size=16, lr=3e-2 if optimizer == "sgd" else 3e-3, optimizer=optimizer
    )
    make = lambda: build_model("mlp", train, seed=0, width=32, depth=1)  # noqa: E731
    two = fit_ddp(make, train, val, config=config, world_size=2)
    one = fit_ddp(make, train, val, config=config.replace(batch_size=32), world_size=1)
    assert two.history.status == one.history.status == "finished"
    assert two.global_batch == one.global_batch == 32 and two.backend == "gloo"
    assert two.history.steps == one.history.steps == 2 * 256 // 32
    diff = max(
        (a - b).abs().max().item()
        for a, b in zip(two.model.state_dict().values(), one.model.state_dict().values(), strict=True)
    )
    assert diff <= 1e-5
    # every val sample evaluated exactly once (269 is odd: a padded sampler would count one twice)
    ev = evaluate(two.model, val)
    assert two.history.last("val_loss") == pytest.approx(ev.loss, rel=1e-6)
    assert two.history.last("val_acc") == pytest.approx(ev.accuracy, abs=1e-9)
    trained = evaluate(build_model("mlp", train, seed=0, width=32, depth=1), val).loss
    assert ev.loss < trained  # it learned


def _fails_on_rank_one():
    if dist.get_rank() == 1:
        raise ValueError(f"planted failure at {time.time():.3f}")
    return torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(64, 10))


def test_a_failing_rank_fails_the_run_fast_with_its_message_and_no_orphans(parts):
    from multiprocessing import resource_tracker

    train, _ = parts
    # the spawn context's resource tracker is one helper process for the whole session, started by the first
    # run that needs it: start it now, so that only the run's own processes are counted (this test alone, or
    # first, counted the tracker as an orphan)
    resource_tracker.ensure_running()
    before = _children()
    with pytest.raises(
        DistributedError, match="rank 1 of the data-parallel run failed: ValueError: planted"
    ) as err:
        fit_ddp(_fails_on_rank_one, train, config=TrainConfig(epochs=1), world_size=2, timeout_s=300)
    failed_at = float(str(err.value).rsplit(" ", 1)[-1])
    # the other rank was not left to wait for its 300 s timeout (a few seconds here; a loaded machine is slow
    # to end a process that imported torch)
    assert time.time() - failed_at < 60
    assert "Traceback" in err.value.details
    time.sleep(0.5)
    assert _children() - before == set()


def test_stop_reaches_every_rank_rank_zero_streams_the_history_and_lr_scaling_is_stated(parts):
    train, val = parts
    history, stop = History(), threading.Event()
    seen = []

    def stop_when_training():
        while history.steps == 0:
            time.sleep(0.05)
        seen.append(history.steps)
        stop.set()

    watcher = threading.Thread(target=stop_when_training, daemon=True)
    watcher.start()
    result = fit_ddp(
        lambda: build_model("mlp", train, seed=0, width=32, depth=1),
        train,
        val,
        config=TrainConfig(epochs=100_000, batch_size=16, lr=1e-3),
        history=history,
        stop_event=stop,
        scale_lr=True,
    )
    watcher.join(5)
    assert result.history is history and history.status == "stopped" and seen
    assert history.steps_per_epoch == 8 and len(history.snapshot().step) == history.steps >= seen[0]
    # the linear scaling rule, stated in the history
    assert result.lr == pytest.approx(2e-3) and result.global_batch == 32
    assert "lr 0.001 x 2 ranks = 0.002 for a global batch of 32, warmup 8 steps" in history.message
    assert history.snapshot().lr[0] == pytest.approx(2e-3 / 8)


def test_bad_arguments_are_named(parts):
    train, _ = parts
    model = build_model("linear", train, seed=0)
    with pytest.raises(TypeError, match="'make_model' parameter of fit_ddp must be a function"):
        fit_ddp(model, train)
    with pytest.raises(ValueError, match="'world_size' parameter of fit_ddp"):
        fit_ddp(lambda: model, train, world_size=0)
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="backend 'nccl' needs CUDA"):
            fit_ddp(lambda: model, train, backend="nccl")


SCRIPT = """
import os
import sys

import numpy as np
from workbench.data import load_digits
from workbench.distributed import fit_ddp
from workbench.models import build_model
from workbench.train import TrainConfig

d = load_digits(seed=0)
train = d.train.subset(np.arange(128))
config = TrainConfig(epochs=1, batch_size=16)
r = fit_ddp(lambda: build_model("linear", train, seed=0), train, d.val, config=config)
# one file per rank: the ranks' stdout is relayed by torchrun and may interleave
rank = os.environ.get("RANK", "solo")
with open(os.path.join(sys.argv[1], f"result-{rank}.txt"), "w") as f:
    f.write(f"RESULT {r.world_size} {r.history.status} {r.history.steps}")
"""


def test_torchrun_starts_the_same_code(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    torchrun = Path(sys.executable).parent / "torchrun"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [str(torchrun), "--standalone", "--nproc_per_node=2", str(script), str(tmp_path)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env=env,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    results = sorted(p.name for p in tmp_path.glob("result-*.txt"))
    assert results == ["result-0.txt", "result-1.txt"], out.stdout[-3000:]
    assert [(tmp_path / name).read_text() for name in results] == ["RESULT 2 finished 4"] * 2
