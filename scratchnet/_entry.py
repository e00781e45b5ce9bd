"""Running a command line: exit with its status, and end quietly when the reader of stdout goes away."""

import os, sys

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
