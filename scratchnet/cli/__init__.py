"""The command-line applications built on the library: ``python -m scratchnet`` and the pieces
``python -m parity`` shares with it.

- ``experiment``: the options that name a dataset, a model, a loss and an optimizer, and the
  ``Experiment`` they build;
- ``progress``: the progress bar drawn on stderr while it is a terminal;
- ``entry``: running a ``main``, turning bad input into one line on stderr and exit status 2;
- ``main``: ``python -m scratchnet`` itself.

The library (``scratchnet.nn``, ``optim``, ``models``, ``data``, ``training`` ...) never imports
this package.
"""
