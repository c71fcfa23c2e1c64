"""How many threads torch may use in the calling thread, and how many tasks may run at once."""

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


class Pace:
    """How many tasks may run at once, changeable while they run (from any thread).

    A pool sized for every core runs its tasks inside :meth:`slot`; lowering the limit makes
    the surplus workers wait before their next task (a task already running finishes), raising
    it lets them go at once. The limit never drops below one, so work always moves on (and a
    cancel is always noticed).
    """

    def __init__(self, limit: int) -> None:
        self._cond = threading.Condition()
        self._limit = max(1, int(limit))
        self._running = 0
        self.most = 0  # the most tasks seen running at once (for tests and benchmarks)

    @property
    def limit(self) -> int:
        return self._limit

    def set_limit(self, limit: int) -> None:
        with self._cond:
            self._limit = max(1, int(limit))
            self._cond.notify_all()

    def run(self, fn: Callable[..., _T], *args: object) -> _T:
        """``fn(*args)`` once fewer than ``limit`` tasks are running."""
        with self._cond:
            while self._running >= self._limit:
                self._cond.wait()
            self._running += 1
            self.most = max(self.most, self._running)
        try:
            return fn(*args)
        finally:
            with self._cond:
                self._running -= 1
                self._cond.notify()
