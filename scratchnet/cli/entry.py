"""Running a command line calmly: every way it can end badly is one line on stderr, never a traceback.

- bad usage (an unknown or misspelled option, a value of the wrong type): one line and a one-line
  hint, exit status 2 (``CommandLineParser``);
- bad input, a file that cannot be read or written, memory running out: one line, exit status 2
  (``exit_status``);
- Ctrl-C: one line saying where it stopped, exit status 130, as a shell reports a program stopped
  by SIGINT (``exit_status``, ``run_cli``);
- a closed pipe (``| head``): nothing at all, exit status 0 (``run_cli``).
"""

import argparse
import difflib
import os
import sys

EXIT_USAGE = 2
EXIT_INTERRUPTED = 130  # 128 + SIGINT
MAX_SEED = 2**63 - 1  # torch.manual_seed and NumPy both take it; one more overflows torch's int64


class CommandLineParser(argparse.ArgumentParser):
    """argparse without surprises: no abbreviations, and a usage error in two lines instead of the usage block.

        python -m scratchnet: error: unrecognized arguments: --epoch 5
        python -m scratchnet: hint: did you mean --epochs? 'python -m scratchnet --help' lists the options

    ``commands``: the names of subcommands (``python -m parity fuzz``), suggested like options.
    """

    def __init__(self, *args, commands=(), **kwargs):
        kwargs.setdefault("allow_abbrev", False)  # --epoch 5 must not quietly mean --epochs 5
        super().__init__(*args, **kwargs)
        self.commands = tuple(commands)

    def parse_args(self, args=None, namespace=None):
        namespace, unknown = self.parse_known_args(args, namespace)
        if unknown:
            self.error(f"unrecognized arguments: {' '.join(unknown)}", hint=self.suggestion(unknown[0]))
        return namespace

    def suggestion(self, word):
        """``did you mean --epochs?`` for ``--epoch`` or ``--epochz=5``, or None when nothing is close."""
        known = [option for action in self._actions for option in action.option_strings] + list(self.commands)
        close = difflib.get_close_matches(word.split("=")[0], known, n=1, cutoff=0.6)
        return f"did you mean {close[0]}?" if close else None

    def error(self, message, hint=None):
        help_line = f"'{self.prog} --help' lists the options"
        hint = f"{hint} {help_line}" if hint else help_line
        self.exit(EXIT_USAGE, f"{self.prog}: error: {message}\n{self.prog}: hint: {hint}\n")


def positive_int(text):
    """An argparse type: an integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def add_threads_argument(parser):
    parser.add_argument("--threads", type=positive_int, default=1, metavar="N",
                        help="CPU threads for the matrix products (default 1: for models of this size more "
                        "threads only contend for the cores, most of all on a busy machine)")


def limit_blas_threads(threads):
    """Run NumPy's BLAS on ``threads`` threads (through threadpoolctl, which scikit-learn installs)."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # without it BLAS keeps its own default
        return
    threadpool_limits(limits=threads)


def check_seed(option, seed):
    """A seed both command lines take alike: 0 to 2**63 - 1 (torch's manual_seed overflows past that)."""
    if not 0 <= seed <= MAX_SEED:
        raise ValueError(f"{option} must be an integer from 0 to 2**63 - 1, got {seed}")


def check_input_path(option, path):
    """Refuse an empty file name (``--load ""``) before any work; the loader names every other problem."""
    if path is not None and not path.strip():
        raise ValueError(f"{option} needs a file name, got {path!r}")


def check_output_path(option, path):
    """Refuse, before any work is done, a file name that cannot be written: empty, a directory, a missing folder."""
    if path is None:
        return
    check_input_path(option, path)
    if os.path.isdir(path):
        raise ValueError(f"{option} {path} is a directory; give a file name")
    folder = os.path.dirname(path) or "."
    if not os.path.isdir(folder):
        raise ValueError(f"{option} {path}: the directory {folder} does not exist")


# --report DIR refuses a name that ends like a file it would write into the directory.
FILE_SUFFIXES = (".md", ".markdown", ".json", ".html", ".htm", ".txt", ".png", ".svg", ".pdf", ".csv")


def check_report_dir(option, path):
    """Refuse, before any work, a report directory that is a file, or a new name that looks like one (``foo.md``)."""
    if path is None:
        return
    check_input_path(option, path)
    if os.path.exists(path) and not os.path.isdir(path):
        raise ValueError(f"{option} expects a directory, but {path} is a file")
    if not os.path.exists(path) and path.lower().endswith(FILE_SUFFIXES):
        stem = os.path.splitext(path)[0] or "report"
        raise ValueError(f"{option} expects a directory to write report.md, report.json and plots into; {path} looks "
                         f"like a file name (--report {stem} writes {os.path.join(stem, 'report.md')})")


def run_cli(main):
    """Run a command-line ``main`` and exit with its status; Ctrl-C is one line, a closed pipe (``| head``) nothing."""
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # Python's recipe: point stdout at devnull so the interpreter's final flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 0
    except KeyboardInterrupt:  # before or after exit_status's watch: while importing torch, say
        print("interrupted", file=sys.stderr)
        status = EXIT_INTERRUPTED
    sys.exit(status)


def exit_status(prog, action):
    """``action()``'s exit status; what can go wrong becomes one line on stderr.

    ValueError and TypeError are how scratchnet reports bad input, OSError an unreadable or
    unwritable file, MemoryError a model or batch too large for the machine: the user sees
    ``prog: error: ...`` and exit status 2. Ctrl-C (KeyboardInterrupt, or a TrainingInterrupted
    saying where training stopped) gives ``prog: interrupted ...`` and exit status 130.
    """
    try:
        return action()
    except BrokenPipeError:
        raise  # the reader went away (| head): not an input error; run_cli ends quietly
    except KeyboardInterrupt as interrupt:
        print(f"{prog}: {str(interrupt) or 'interrupted'}", file=sys.stderr)
        return EXIT_INTERRUPTED
    except MemoryError as error:
        print(f"{prog}: error: out of memory ({str(error) or 'MemoryError'}); try a smaller model or batch",
              file=sys.stderr)
        return EXIT_USAGE
    except (ValueError, TypeError, OSError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return EXIT_USAGE
