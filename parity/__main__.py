from scratchnet.cli.entry import run_cli


def main():
    from parity.cli import main  # imported inside run_cli, so Ctrl-C while torch loads is one line too

    return main()


run_cli(main)
