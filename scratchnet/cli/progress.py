"""A progress bar for long training runs, on stderr, in plain Python (no NumPy, no torch, no tqdm).

    Training  [##########--------------]  42%  epoch 9/20  loss 0.5107  3.1s

It draws only when its stream is a terminal: redirected to a file or a pipe, or captured
by a test, the stream's ``isatty()`` is False and the bar writes nothing at all. Each
redraw starts with a carriage return and overwrites the line; ``clear()`` blanks it so
that a log line printed meanwhile on stdout is not mixed into the bar.
"""

import os
import sys
import time


def is_terminal(stream):
    """True when ``stream`` is an interactive terminal (and not a 'dumb' one)."""
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty()) and os.environ.get("TERM") != "dumb"
    except (ValueError, OSError):  # a closed stream
        return False


class ProgressBar:
    """``bar = ProgressBar(total)``; ``bar.update(1, epoch="3/20", loss=0.51)`` per unit of work; ``bar.close()``.

    ``stream`` defaults to ``sys.stderr`` as it is when the bar is made (so a test's
    capture is honoured). ``enabled=None`` means: draw iff the stream is a terminal.
    Redraws are limited to one per ``min_interval`` seconds, except the last.
    """

    def __init__(self, total, label="", *, stream=None, enabled=None, width=24, min_interval=0.1):
        self.total = max(int(total), 0)
        self.label = label
        self.stream = sys.stderr if stream is None else stream
        self.enabled = is_terminal(self.stream) if enabled is None else bool(enabled)
        self.width = width
        self.min_interval = min_interval
        self.count = 0
        self.fields = {}
        self._start = time.monotonic()
        self._last_draw = None
        self._drawn_width = 0

    def reset(self, total):
        """Start again from 0 with a new total (a bar handed to ``fit`` learns its total there)."""
        self.total, self.count, self.fields = max(int(total), 0), 0, {}
        self._start, self._last_draw = time.monotonic(), None

    def update(self, n=1, **fields):
        """Advance by ``n`` and set the fields shown after the bar (``loss=0.51`` -> ``loss 0.5100``)."""
        self.count += n
        self.fields.update(fields)
        now = time.monotonic()
        if self._last_draw is None or now - self._last_draw >= self.min_interval or self.count >= self.total:
            self.draw()
            self._last_draw = now

    def line(self):
        """The bar's text, e.g. ``Training  [######------]  50%  epoch 10/20  loss 0.5107  1.2s``."""
        fraction = min(self.count / self.total, 1.0) if self.total else 1.0
        filled = int(round(fraction * self.width))
        parts = [f"[{'#' * filled}{'-' * (self.width - filled)}]", f"{fraction:4.0%}"]
        for key, value in self.fields.items():
            parts.append(f"{key} {value:.4f}" if isinstance(value, float) else f"{key} {value}")
        parts.append(f"{time.monotonic() - self._start:.1f}s")
        return "  ".join([self.label, *parts] if self.label else parts)

    def draw(self):
        if not self.enabled:
            return
        text = self.line()
        padding = " " * max(self._drawn_width - len(text), 0)  # blank what a longer previous line left
        self.stream.write("\r" + text + padding)
        self.stream.flush()
        self._drawn_width = len(text)

    def clear(self):
        """Blank the bar's line (call before printing a log line; the next update redraws it)."""
        if self.enabled and self._drawn_width:
            self.stream.write("\r" + " " * self._drawn_width + "\r")
            self.stream.flush()
            self._drawn_width = 0
            self._last_draw = None

    def close(self):
        """Remove the bar from the terminal."""
        self.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc_info):
        self.close()


def progress_bar(total, label="", *, quiet=False, stream=None):
    """A bar that draws on ``stream`` (stderr) when it is a terminal, never with ``quiet``."""
    return ProgressBar(total, label, stream=stream, enabled=False if quiet else None)
