"""Process-level settings the training code needs, whoever started the process."""

from __future__ import annotations

import os

__all__ = ["relax_malloc_trim"]


def relax_malloc_trim(always: bool = False) -> bool:
    """Undo a small ``MALLOC_TRIM_THRESHOLD_`` in this process (glibc only); True when it did.

    ``always``: raise the thresholds even without that variable, for a process that only trains (a search
    worker). glibc's own defaults still hand freed activations back to the OS and fault them in again:
    measured 55,000 page faults per epoch of the search benchmark's trial (about 220 MB of pages zeroed),
    against ~200 with the thresholds raised, and ~6 % faster. Not for a user's kernel: its memory would
    not shrink after a large free.

    Dask's nanny starts workers with ``MALLOC_TRIM_THRESHOLD_=65536`` so they hand memory back to the
    OS, and starting a ``LocalCluster`` also leaves that variable in the *parent's* environment, so
    every process spawned afterwards inherits it. It makes glibc ``mmap``/``munmap`` every
    multi-megabyte tensor, with page faults on every step: measured on MNIST (tiny CNN, one thread),
    6.4 s per trial instead of 2.1 s. Raising the thresholds here restores normal speed. glibc reads
    the variable only at start-up, so this must run inside the process that trains.
    """
    try:
        if not always and int(os.environ.get("MALLOC_TRIM_THRESHOLD_", "-1")) not in range(64 * 2**20):
            return False
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-3, 256 * 2**20)  # M_MMAP_THRESHOLD
        libc.mallopt(-1, 512 * 2**20)  # M_TRIM_THRESHOLD
        return True
    except (OSError, AttributeError, ValueError):  # not glibc: nothing to undo
        return False
