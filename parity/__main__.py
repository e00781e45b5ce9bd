from parity.cli import main
from scratchnet._entry import run_cli

run_cli(main)
