"""Running a command line: exit with its status, and end quietly when the reader of stdout goes away."""

import os
import sys


def run_cli(main):
    """Run a command-line ``main`` and exit with its status; a closed pipe (``| head``) ends it quietly."""
    try:
        status = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # Python's recipe: point stdout at devnull so the interpreter's final flush cannot fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        status = 0
    sys.exit(status)


def exit_status(prog, action):
    """``action()``'s exit status; bad usage or bad input becomes one line on stderr and status 2.

    ValueError and TypeError are how scratchnet reports bad input, OSError an unreadable or
    unwritable file: the user sees ``prog: error: ...``, never a traceback.
    """
    try:
        return action()
    except BrokenPipeError:
        raise  # the reader went away (| head): not an input error; run_cli ends quietly
    except (ValueError, TypeError, OSError) as error:
        print(f"{prog}: error: {error}", file=sys.stderr)
        return 2
