"""What makes a run's shards: this process alone (`InProcess`), this
process and spawned workers (`Processes`), or a Ray cluster (`cluster`);
`executor` picks one. Each gives the pieces of work it is asked for as
objects with a `result()`, which the run takes in order.
"""
from __future__ import annotations

import contextlib
import os
import pickle
import signal
import sys
import tempfile
import time

from ...lowering import fake_devices
from . import shards
from .shards import Cancelled, make_shard

# whether a pool's thread waits forever on a killed worker: only os._exit ends such a process
ABANDONED = [False]
ABANDON_AFTER = 5.0     # seconds a stopped pool's thread has to end before it counts as waiting forever


class InProcess:
    """Runs each piece of work when asked for its result: one process, same bytes."""
    parallelism = 1

    def call(self, k: int, fn, *args):
        """Piece of work k, `fn(*args)`, as something with a `result()`."""
        return Deferred(fn, args)

    def submit(self, recipe, number, *args):
        """Shard `number` of a run (`make_shard`)."""
        return self.call(number, make_shard, recipe, number, *args)

    def shutdown(self, now: bool = False):
        pass


class Deferred:
    """A call made in this process when its result is wanted, or earlier
    (`run`) by a process that would otherwise wait."""

    def __init__(self, fn, args):
        self.fn, self.args, self.ran, self.value, self.error = fn, args, False, None, None

    def run(self) -> None:
        if not self.ran:
            self.ran = True
            try:
                self.value = self.fn(*self.args)
            except Exception as e:      # raised where the result is wanted, in its turn
                self.error = e

    def result(self):
        self.run()
        if self.error is not None:
            raise self.error
        return self.value

    def cancel(self) -> bool:
        """Never made, where not made yet (a run that keeps its pool for the next)."""
        if not self.ran:
            self.ran, self.error = True, Cancelled("not wanted")
        return True


class Remote:
    """A worker's piece of work. While it is not done, the process that
    wants it makes its own pieces already asked for, rather than wait."""

    def __init__(self, future, pool):
        self.future, self.pool = future, pool

    def result(self):
        while not self.future.done() and self.pool.ahead():
            pass
        return self.future.result()

    def cancel(self) -> bool:
        return self.future.cancel()


def _start_worker(parent: int, stop, setup: str | None) -> None:
    """A spawned worker's first act: fake devices before JAX's backend starts,
    an exit when the driver dies, the Event that cancels its shard, and
    the calls the driver's `setup` file holds (`shared`)."""
    import atexit
    fake_devices()
    _exit_with_parent(parent)
    shards.STOP[0] = stop
    # after the exit handlers of what the worker runs (JAX's); those of its
    # own start (multiprocessing's, logging's) have nothing left to do
    atexit.register(_exit_now)
    try:
        with open(setup, "rb") as f:
            calls = pickle.load(f)      # written by the driver, for this run alone
    except (TypeError, OSError):        # none, or gone: the run ended first
        calls = ()
    for fn, *args in calls:
        fn(*args)


def _exit_now() -> None:
    """A worker's end once the exit handlers have run, without taking its
    heap apart (JAX, the pieces): that took most of a second of each run."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _warm() -> None:
    """A worker's first steps, taken as it starts (while the driver may still
    load the grammar): JAX imported, its backend and lowering started."""
    import jax
    import jax.numpy as jnp
    jax.jit(jnp.negative).lower(jax.ShapeDtypeStruct((1,), jnp.float32)).as_text()


def _exit_with_parent(parent: int) -> None:
    """In a worker: exit when the driver dies (kill -9 leaves no one to stop us)."""
    import threading

    def watch():
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


class Processes(InProcess):
    """Work done by `workers` processes: this one (every workers-th piece,
    when its result is wanted or while it waits for a worker's) and
    workers - 1 spawned ones. This one is ready at once, and would otherwise
    only wait: a run pays for one process start fewer, and one shard needs
    no other process at all."""

    def __init__(self, workers, setup=()):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        self.setup = None
        if setup:
            # a file of this process's, which each worker reads as it starts: passed
            # with the start, a big setup (counts) holds this process until it is read
            fd, self.setup = tempfile.mkstemp(prefix="jaxsynth-setup-", suffix=".pickle")
            with open(fd, "wb") as f:
                pickle.dump(setup, f)
        # spawn: forking a process in which JAX already runs can deadlock
        context = multiprocessing.get_context("spawn")
        self.stop, self.terminated = context.Event(), False
        self.pool = ProcessPoolExecutor(workers - 1, mp_context=context, initializer=_start_worker,
                                        initargs=(os.getpid(), self.stop, self.setup))
        self.parallelism = workers
        self.mine: list[Deferred] = []     # this process's pieces, in the order asked for
        try:
            for _ in range(workers - 1):    # the workers start now, not at the first piece
                self._submit(_warm)
        except BaseException:               # Ctrl-C while they start
            self.shutdown(now=True)
            raise

    def call(self, k: int, fn, *args):
        if k % self.parallelism == 0:
            self.mine.append(Deferred(fn, args))
            return self.mine[-1]
        return Remote(self._submit(fn, *args), self)

    def _submit(self, fn, *args):
        # a submit may start a worker: it inherits SIGINT blocked, so that
        # Ctrl-C (sent to the whole process group) is this process's alone to
        # answer (this thread takes it after the submit; another of ours may
        # take it during, and then a worker may start untracked: it exits when
        # this process does)
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            return self.pool.submit(fn, *args)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def ahead(self) -> bool:
        """Make the first piece of this process's not made yet; False if none is left."""
        while self.mine and self.mine[0].ran:
            self.mine.pop(0)
        if not self.mine:
            return False
        self.mine.pop(0).run()
        return True

    def shutdown(self, now: bool = False):
        """Cancel the shards not started and stop those running: between
        chunks, or with `now` (an error, Ctrl-C) at once. A worker killed
        while it sends its result leaves half a message in the pipe, on which
        the pool's thread then waits forever: if it is still waiting after
        a few seconds, the process has to end with `os._exit` (`ABANDONED`)."""
        first, ended = not self.stop.is_set(), self.terminated
        self.stop.set()
        if self.setup is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.setup)   # a worker that starts after this works without it
            self.setup = None
        if not now:
            if first:
                self.pool.shutdown(wait=True, cancel_futures=True)
            return
        if ended:
            return
        self.terminated = True
        # shutdown() forgets the pool's thread: it is taken first, to be watched
        thread = getattr(self.pool, "_executor_manager_thread", None)
        for process in list((getattr(self.pool, "_processes", None) or {}).values()):
            process.terminate()
        self.pool.shutdown(wait=False, cancel_futures=True)
        if thread is not None:
            thread.join(timeout=ABANDON_AFTER)
            ABANDONED[0] = ABANDONED[0] or thread.is_alive()


def executor(workers: int, backend: str = "local", address: str | None = None, setup: tuple = ()):
    """What makes a run's shards: `workers` local processes (this one among
    them), or the tasks of a Ray cluster. `setup`, calls (fn, *args), is
    done first in each spawned process (a cluster's tasks work out for
    themselves what it would give them)."""
    if backend == "ray":
        from .cluster import RayExecutor        # Ray, an optional extra, only when asked for
        return RayExecutor(address)
    return InProcess() if workers <= 1 else Processes(workers, setup)
