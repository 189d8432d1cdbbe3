"""`python -m jaxsynth` and the `jaxsynth` command: the command line, which
answers Ctrl-C even while it is still loading (exit 130, one line)."""
import sys


def main(argv=None) -> int:
    try:
        from .corpus.cli import main as command
        return command(argv)
    except KeyboardInterrupt:
        print("jaxsynth: interrupted", file=sys.stderr, flush=True)
        return 130


if __name__ == "__main__":
    sys.exit(main())
