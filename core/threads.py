"""How many threads torch may use in the calling thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import TypeVar

_T = TypeVar("_T")

_local = threading.local()


def torch_on_one_core() -> None:
    """Limit torch to one intra-op thread in this (worker) thread; once per thread, cheap after.

    OpenMP keeps the thread count per thread, so a worker that runs small models (or one batch
    of a model while other workers decode) stops spawning a team per call: with a team per
    worker the cores are oversubscribed and busy-waiting slows everything down. The main thread
    is left alone. torch also remembers the last count as the default for threads that have
    not run an operator yet, so threads started later begin with one core too.
    """
    if getattr(_local, "done", False) or threading.current_thread() is threading.main_thread():
        return
    import torch

    torch.set_num_threads(1)
    _local.done = True


def on_one_core(fn: Callable[..., _T], *args: object) -> _T:
    """``fn(*args)`` with torch limited to one thread in this worker thread."""
    torch_on_one_core()
    return fn(*args)
