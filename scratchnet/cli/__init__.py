"""The command-line applications built on the library: ``python -m scratchnet`` and the pieces
``python -m parity`` shares with it.

- ``experiment``: the options that name a dataset, a model, a loss and an optimizer, and the
  ``Experiment`` they build;
- ``progress``: the progress bar drawn on stderr while it is a terminal;
- ``entry``: running a ``main`` calmly: a usage error, bad input, memory running out or Ctrl-C each
  end in one line on stderr (exit status 2, or 130 for Ctrl-C), never a traceback;
- ``main``: ``python -m scratchnet`` itself.

The library (``scratchnet.nn``, ``optim``, ``models``, ``data``, ``training`` ...) never imports
this package.
"""
