"""``python -m parity export`` / ``import``: move a trained model between scratchnet's format and torch's.

    python -m parity export MODEL.snet OUT.pt      # a torch state_dict file for the torchnet twin
    python -m parity import IN.pt OUT.snet [--model ... --dataset ... --hidden ... --dtype ...]

``import`` builds the model the options describe (as ``python -m scratchnet`` would for the
same options), loads the torch file into it with ``torch.load(weights_only=True)``, checking
every key, shape and dtype, and saves it in scratchnet's format.
Exit status: 0 done, 2 bad usage or a file that does not fit.
"""

import scratchnet
from parity.interchange import export_torch_state_dict, import_torch_state_dict
from parity.cli import parity_exit_status
from scratchnet.cli.entry import CommandLineParser, check_output_path
from scratchnet.cli.experiment import add_experiment_arguments, experiment_from_args


def export_main(argv=None):
    parser = CommandLineParser(prog="python -m parity export",
                                     description="Write a saved scratchnet model as a torch state_dict file.")
    parser.add_argument("model", help="a file written by scratchnet.save (or python -m scratchnet --save)")
    parser.add_argument("out", help="the torch file to write")
    args = parser.parse_args(argv)
    return parity_exit_status("python -m parity export", lambda: _export(args.model, args.out))


def _export(source, out):
    check_output_path("out", out)
    model = scratchnet.load(source)
    export_torch_state_dict(model, out)
    name = type(model).__name__
    print(f"Wrote {out}: the state_dict of a {name} ({len(model.state_dict())} tensors). In PyTorch:")
    print(f"  model = torchnet.{name}(**{model.config()})")
    print(f"  model.load_state_dict(torch.load({str(out)!r}, weights_only=True))")
    return 0


def import_main(argv=None):
    parser = CommandLineParser(prog="python -m parity import",
                                     description="Load a torch state_dict file into the scratchnet model that the "
                                     "options describe, and save it in scratchnet's format.")
    parser.add_argument("source", help="a torch state_dict file (torch.save(model.state_dict(), path))")
    parser.add_argument("out", help="the scratchnet model file to write")
    add_experiment_arguments(parser, default_dtype="float32")
    args = parser.parse_args(argv)
    return parity_exit_status("python -m parity import", lambda: _import(args))


def _import(args):
    check_output_path("out", args.out)
    experiment = experiment_from_args(args)
    name, kwargs = experiment.model_spec()
    model = getattr(scratchnet.models, name)(**kwargs, dtype=experiment.dtype)
    try:
        import_torch_state_dict(model, args.source)
    except TypeError as error:  # a dtype that does not fit: the command line's way to cast is --dtype
        raise TypeError(f"{error} (on the command line: --dtype with the file's dtype)") from None
    scratchnet.save(model, args.out)
    print(f"Wrote {args.out}: a {name}({kwargs}) with the weights of {args.source}")
    return 0
