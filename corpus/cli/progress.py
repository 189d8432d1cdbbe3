"""What a long command says while it works: a bar or a line every few
seconds (`Progress`), news while one step takes long (`Ticker`), and the
counting of an enumeration's sizes, stopped before one that would take
longer than its limit (`count_sizes`).
"""
from __future__ import annotations

import sys
import time

from ...synth.space import Enumeration
from .options import UsageError

# a Ctrl-C Python swallowed (raised in a __del__ or a gc callback): the next progress raises it
INTERRUPTED = [False]


class Ticker:
    """Says on stderr what a long phase is doing (`doing`), every EVERY
    seconds that pass without other news (`touch`), until it ends."""
    EVERY = 5.0

    def __init__(self, say=None):
        import threading
        self.doing, self.started = "", time.monotonic()
        self.last, self.stop = self.started, threading.Event()
        self.say = say or (lambda line: print(f"jaxsynth: {line}", file=sys.stderr, flush=True))
        self.thread = threading.Thread(target=self._tick, daemon=True)

    def touch(self):
        self.last = time.monotonic()

    def _tick(self):
        while not self.stop.wait(min(1.0, self.EVERY)):
            if time.monotonic() - self.last >= self.EVERY:
                self.touch()
                self.say(f"{self.doing} ({time.monotonic() - self.started:.0f} s)")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


class Progress(Ticker):
    """A bar with rate and ETA on a terminal; elsewhere a line every few
    seconds; between shards that take long (big programs), a line that says
    the run goes on."""

    RUN = ("making the first shard", "making the next shard", "writing the manifest and stopping the workers")

    def __init__(self, total, desc, words=RUN):
        from tqdm import tqdm
        self.tty, self.total, self.desc, self.words = sys.stderr.isatty(), total, desc, words
        self.bar = tqdm(total=total, desc=desc, unit="rec", file=sys.stderr) if self.tty else None
        super().__init__(say=(lambda line: self.bar.set_postfix_str(line)) if self.bar is not None else None)
        self.doing = f"{desc}: {words[0]}"

    def __call__(self, status):
        if INTERRUPTED[0]:      # a Ctrl-C Python swallowed (raised in a __del__ or a gc callback)
            raise KeyboardInterrupt
        of = f"/{self.total}" if self.total else ""
        done = self.total and status.records >= self.total
        self.doing = f"{self.desc}: {status.records}{of} records; {self.words[2 if done else 1]}"
        if self.bar is not None:
            self.bar.update(status.records - self.bar.n)
            self.bar.set_postfix_str("")
        elif time.monotonic() - self.last > self.EVERY:
            rate = (status.records - status.kept) / max(time.monotonic() - status.started, 1e-9)
            print(f"{self.desc}: {status.records}{of} records, {rate:.0f}/s", file=sys.stderr, flush=True)
        else:
            return
        self.touch()

    def __exit__(self, *exc):
        super().__exit__(*exc)
        if self.bar is not None:
            self.bar.close()


def count_sizes(enum: Enumeration, max_size: int, limit: float, each=None) -> list[int]:
    """The number of programs of each size 1..max_size, each given to
    `each(size, count)` as soon as known; while a count takes long, a line
    every few seconds says which. Counting a size costs a growing multiple
    of the size before (here: 20x, then 100x): before a size estimated to
    take longer than `limit` seconds (0: no limit), a UsageError says so."""
    counts, took = [], []
    with Ticker() as tick:
        for k in range(1, max_size + 1):
            if limit and len(took) >= 2:
                estimate = took[-1] * took[-1] / took[-2]
                if estimate > limit:
                    raise UsageError(
                        f"--max-ops {max_size}: counting size {k} would take {_duration(estimate)} or more "
                        f"(size {k - 1}: {_duration(took[-1])}, {took[-1] / took[-2]:.0f}x size {k - 2}), more than "
                        f"--time-limit {limit:g}; counted up to size {k - 1}: --max-ops {k - 1}, or --time-limit 0 "
                        f"to count anyway")
            tick.doing = f"counting programs of size {k}"
            started = time.perf_counter()
            counts.append(enum.count(k))
            took.append(max(time.perf_counter() - started, 1e-3))
            if each:
                each(k, counts[-1])
    return counts


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.1f} s"
