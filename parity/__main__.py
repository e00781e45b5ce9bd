from parity.cli import main
from scratchnet.cli.entry import run_cli

run_cli(main)
