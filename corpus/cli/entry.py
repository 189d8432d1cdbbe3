"""The `jaxsynth` command's entry: parse, run the command, and end every
failure in one line with its exit code (2 for bad input, 130 for Ctrl-C,
141 for a reader that went away), never a traceback.
"""
from __future__ import annotations

import multiprocessing.util
import os
import signal
import sys
import threading

from ...lowering import fake_devices
from ...synth.grammar import GrammarError
from ...synth.space import NoProgram
from ...synth.types import SignatureError
from ..run.executors import ABANDONED
from ..run.files import CorpusError
from ..run.readers import DamagedShard, visible
from ..run.records import Mismatch
from .commands import COMMANDS
from .options import UsageError, build_parser
from .progress import INTERRUPTED


def main(argv=None) -> int:
    code = _main(argv)
    if ABANDONED[0]:    # a pool's thread waits on a killed worker forever: exiting normally would join it
        # the finalizers of priority >= 0 (the pool's semaphores) still run, which join
        # no thread: else multiprocessing's tracker warns of them after our last line
        multiprocessing.util._run_finalizers(0)
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _main(argv) -> int:
    # before anything starts JAX's backend (importing jax does not; nothing
    # this module imports does): programs may shard over a mesh of devices
    fake_devices()
    argv = sys.argv[1:] if argv is None else list(argv)
    INTERRUPTED[0] = ABANDONED[0] = False
    # not the main thread (which alone gets signals), or Ctrl-C ignored (a job
    # started with &): Python's own handling, as it is
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return _command(argv)
    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        code = _command(argv)
    finally:
        signal.signal(signal.SIGINT, previous)
    if INTERRUPTED[0] and code not in (130, 141):       # a Ctrl-C Python swallowed, here at the latest
        print("jaxsynth: interrupted", file=sys.stderr, flush=True)
        return 130
    return code


def _on_sigint(signum, frame):
    """Ctrl-C, remembered: Python drops a KeyboardInterrupt raised while it
    runs a __del__ or a gc callback, and the run would go on to exit 0."""
    INTERRUPTED[0] = True
    raise KeyboardInterrupt


def _command(argv) -> int:
    try:
        if not argv:        # what there is to do, rather than a complaint that nothing was asked
            build_parser().print_help(sys.stderr)
            return 2
        args = build_parser().parse_args(argv)
        COMMANDS[args.command](args)
    except DamagedShard as e:
        print(f"jaxsynth: error: {' '.join(str(e).split())}; {_repair(e)}", file=sys.stderr)
        return 2
    except (UsageError, GrammarError, CorpusError, SignatureError, NoProgram, Mismatch) as e:
        print(f"jaxsynth: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(f"jaxsynth: {str(e) or 'interrupted'}", file=sys.stderr, flush=True)
        return 130
    except BrokenPipeError:
        # the reader went away (`jaxsynth coverage DIR | head`): stop quietly, as
        # a Unix tool does; stdout goes to /dev/null so that exiting flushes nothing
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return 0


def _repair(e: DamagedShard) -> str:
    """How to make a damaged shard again: its run's own command, with --resume."""
    from ..publish.card import command_line
    try:
        return f"to make it again: {visible(command_line(e.manifest, str(e.directory), here=True)[0])} --resume"
    except (KeyError, TypeError, ValueError, CorpusError, GrammarError, SignatureError):
        return "the command that made the corpus, with --resume, makes it again"
