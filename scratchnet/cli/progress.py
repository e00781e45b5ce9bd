"""Progress bars for long training runs: ``tqdm.auto``, so a terminal gets a text bar and a notebook a widget.

    Training:  45%|██████████▎            | 9/20 [00:03<00:03, epoch=9/20, loss=0.511]

The bar goes to stderr and draws only on a terminal or in a notebook: redirected to a file
or a pipe, or captured by a test, stderr's ``isatty()`` is False and the bar writes nothing
at all, so logs stay clean. ``--quiet`` turns it off everywhere. A bar follows tqdm's
protocol, which ``scratchnet.training.fit`` uses: ``reset(total)``, ``set_postfix(...)``,
``update(n)``, ``clear()`` (before printing a log line) and ``close()``.
"""

import os
import sys


def is_terminal(stream):
    """True when ``stream`` is an interactive terminal (and not a 'dumb' one)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"
    except (ValueError, OSError):  # a closed stream
        return False


def in_notebook(tqdm_class):
    """True when tqdm.auto chose its notebook widget (code running in a Jupyter kernel)."""
    return any(cls.__module__ == "tqdm.notebook" for cls in tqdm_class.__mro__)


def progress_bar(total, label="", *, quiet=False, stream=None):
    """A ``tqdm.auto`` bar of ``total`` steps on ``stream`` (default: stderr as it is now), disabled with
    ``quiet`` and wherever it could only litter output (not a terminal, not a notebook)."""
    from tqdm.auto import tqdm  # imported on use: scratchnet itself never needs it

    stream = sys.stderr if stream is None else stream
    enabled = not quiet and (is_terminal(stream) or in_notebook(tqdm))
    return tqdm(total=total, desc=label or None, file=stream, disable=not enabled, leave=False, dynamic_ncols=True)
