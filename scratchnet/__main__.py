"""``python -m scratchnet``: the command line lives in ``scratchnet.cli.main``."""

from scratchnet.cli.entry import run_cli
from scratchnet.cli.main import main

if __name__ == "__main__":
    run_cli(main)
