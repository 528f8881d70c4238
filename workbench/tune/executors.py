"""Where a search's trials run: in this process, in local worker processes (forked from a server process with
torch loaded), or on a Dask distributed cluster.

Each executor gets the data once, when it starts, and then takes ``TrialTask`` objects: ``submit(task)``
returns a ``concurrent.futures.Future``-like object whose result is the ``TrialOutcome``; ``slots`` is how
many trials it runs at once; ``ready()`` waits until it has started; ``close()`` lets it go; ``inline``
says ``submit`` runs the trial itself, in this thread. ``search`` picks one; they are not public API.
"""

from __future__ import annotations

import contextlib
import copy
import os
import threading
from collections.abc import Callable
from concurrent.futures import Future

import numpy as np

from .._platform import relax_malloc_trim
from .trial import ModelSpec, TrialOutcome, TrialTask, run_trial

__all__: list[str] = []  # internal: search() chooses the executor from its workers / client arguments


class _InProcess:
    """Trials one after another in this process, through ``run`` (``run_trial``, looked up by the search)."""

    slots = 1
    inline = True

    def __init__(self, train, val, run: Callable[..., TrialOutcome] = run_trial) -> None:
        self.train, self.val, self.run = train, val, run

    def submit(self, task: TrialTask) -> Future:
        f: Future = Future()
        f.set_result(self.run(task, self.train, self.val))
        return f

    def ready(self) -> None:
        pass

    def close(self) -> None:
        pass


# -- local worker processes ----------------------------------------------------------------------------------
_WORKER_DATA: dict = {}


def _init_worker(barrier, environ: dict[str, str]) -> None:
    # a process that only trains: keep freed activations instead of faulting them in again every step (and
    # undo the setting a Dask cluster started earlier in the parent leaves, which slowed training 3x)
    relax_malloc_trim(always=True)
    # a fork server's children inherit the server's environment, from when it started: use the parent's now
    for name in set(os.environ) - set(environ):
        del os.environ[name]
    os.environ.update(environ)
    _WORKER_DATA["barrier"] = barrier


def _warm_up(train, val, threads: int, model: ModelSpec, batch_size: int) -> int:
    """Receive the data, then pay torch's first-call costs (thread pools, the model's kernels) before the
    first trial.

    Every worker takes exactly one of these tasks: each waits at a barrier for the others, so none can
    take a second one. Runs a few steps of the search's model on the worker's real data, in every
    worker at once.
    """
    import torch

    from ..train.config import TrainConfig
    from ..train.loop import fit
    from ..train.state import preserved

    _WORKER_DATA["train"], _WORKER_DATA["val"] = train, val
    with contextlib.suppress(threading.BrokenBarrierError):  # another worker died starting; the pool says so
        _WORKER_DATA["barrier"].wait(timeout=300)
    torch.set_num_threads(max(1, threads))
    net = model.build(train)
    with preserved(net):
        fit(net, train, config=TrainConfig(epochs=1, max_steps=3, batch_size=batch_size))
    return os.getpid()


def _run_in_worker(task: TrialTask) -> TrialOutcome:
    import torch

    torch.set_num_threads(max(1, task.threads))  # a worker's own process: share the cores between workers
    if "train" not in _WORKER_DATA:
        raise RuntimeError("this search worker never received the data (another worker failed to start)")
    return run_trial(task, _WORKER_DATA["train"], _WORKER_DATA["val"])


# imported once by the fork server, so that workers start with them loaded (torch._dynamo: the first
# optimizer imports it, 1.1 s). None of them touches CUDA, so the workers can still use it.
_PRELOAD = ("torch", "torch._dynamo", __name__, "workbench.train.loop")


def _worker_context():
    """Where worker processes come from: a fork server with torch loaded (POSIX), else spawn.

    Never a plain fork of this process: forking a process that has started torch's thread pools (or a
    Jupyter kernel's threads) can deadlock. The fork server is a separate, single-threaded process that
    only imported ``_PRELOAD``; it starts with the first search (~2 s) and stays up for later ones, whose
    workers then start in ~0.1 s instead of ~2 s each. Python keeps one fork server per process.
    """
    import multiprocessing
    from multiprocessing import forkserver

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    # keep what someone else asked the server to preload (Python offers no public getter for it)
    preload = list(getattr(forkserver._forkserver, "_preload_modules", None) or ["__main__"])
    ctx.set_forkserver_preload(
        preload + [m for m in _PRELOAD if m not in preload]
    )  # takes effect if not yet running
    return ctx


class _LocalProcesses:
    """A pool of worker processes that receive the data once, at start.

    ``wait=False`` returns as soon as the workers are starting (trials submitted meanwhile queue behind
    their warm-up); ``ready()`` then waits for them and raises what failed.
    """

    inline = False

    def __init__(
        self,
        workers: int,
        train,
        val,
        threads: int = 1,
        model: ModelSpec = ModelSpec(),
        batch_size: int = 64,
        wait: bool = True,
    ) -> None:
        from concurrent.futures import ProcessPoolExecutor

        # The data travels with the warm-up task, not as initargs: a spawned process reads its start-up
        # arguments while importing torch, and the parent waits for that before starting the next one
        # (measured: two workers started one after the other, 3.2 s instead of 2.0 s).
        ctx = _worker_context()
        self.pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=ctx,
            initializer=_init_worker,
            initargs=(ctx.Barrier(workers), dict(os.environ)),
        )
        self.slots = workers
        # start every worker now, side by side, and warm it up (else they start one by one, lazily)
        self.warm_ups = [
            self.pool.submit(_warm_up, train, val, threads, model, batch_size) for _ in range(workers)
        ]
        if wait:
            self.ready()

    def ready(self) -> None:
        for f in self.warm_ups:
            f.result()

    def submit(self, task: TrialTask) -> Future:
        return self.pool.submit(_run_in_worker, task)

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)  # idle workers exit on their own


# -- Dask ----------------------------------------------------------------------------------------------------
class _Shipment:
    """The (train, val) pair as it travels to Dask workers, in one piece.

    Dask pickles what it scatters, and a torch tensor pickles through ``torch.save`` into in-band bytes
    (copied on each side; measured 0.65-1.0 s for MNIST's 31 MB to two workers), with train and val each
    carrying the images they share. Here in-memory images travel once, as NumPy arrays, which Dask sends
    as zero-copy frames (0.05-0.1 s). The local pool does not need this: it passes tensors through shared
    memory.
    """

    def __init__(self, train, val) -> None:
        self.train, self.val = train, val

    def __reduce__(self):
        import torch

        from ..data.dataset import TensorImageDataset

        arrays: dict[int, np.ndarray] = {}
        parts = []
        for ds in (self.train, self.val):
            images = getattr(ds, "_images", None)
            if (
                isinstance(ds, TensorImageDataset)
                and isinstance(images, torch.Tensor)
                and images.device.type == "cpu"
                and not images.requires_grad
            ):
                shell = copy.copy(ds)
                shell._images = None
                if id(images) not in arrays:
                    arrays[id(images)] = images.numpy()
                parts.append((shell, arrays[id(images)]))
            else:
                parts.append((ds, None))
        return _unship, (parts,)


def _unship(parts) -> _Shipment:
    import torch

    tensors: dict[int, torch.Tensor] = {}
    datasets = []
    for ds, array in parts:
        if array is not None:
            if id(array) not in tensors:  # train and val share their images
                tensors[id(array)] = torch.from_numpy(array if array.flags.writeable else array.copy())
            ds._images = tensors[id(array)]
        datasets.append(ds)
    return _Shipment(*datasets)


def _run_on_dask(task: TrialTask, data: _Shipment) -> TrialOutcome:
    import torch

    relax_malloc_trim()
    torch.set_num_threads(max(1, task.threads))
    return run_trial(task, data.train, data.val)


class _Dask:
    """Trials as tasks on a Dask distributed cluster; the data is scattered to every worker once."""

    inline = False

    def __init__(self, client, train, val) -> None:
        from distributed import Client

        self.own = not isinstance(client, Client)
        self.client = Client(client) if self.own else client
        self.slots = max(1, sum(self.client.nthreads().values()))  # one trial per worker thread
        [self.data] = self.client.scatter([_Shipment(train, val)], broadcast=True)

    def submit(self, task: TrialTask):
        return self.client.submit(_run_on_dask, task, self.data, pure=False)

    def ready(self) -> None:
        pass

    def close(self) -> None:
        if self.own:
            self.client.close()
