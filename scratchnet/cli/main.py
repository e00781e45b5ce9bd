"""python -m scratchnet: the lecture's experiment (or another task) in NumPy alone.

With no options it is the lecture's script: make_classification data, MLP 20-64-64-2,
cross-entropy, Adam(lr=1e-3), 20 epochs, test accuracy.

Exit status: 0 done, 2 bad usage or bad input, 130 stopped by Ctrl-C (which lets the step in
progress finish; with --save the model as that step left it is saved).
"""

import argparse
import sys

import numpy as np

import scratchnet
from scratchnet.cli.entry import (EXIT_INTERRUPTED, CommandLineParser, add_threads_argument, check_input_path,
                                  check_output_path, exit_status, limit_blas_threads)
from scratchnet.cli.experiment import add_experiment_arguments, experiment_from_args, format_scores, load_model_for
from scratchnet.cli.progress import progress_bar
from scratchnet.metrics import format_confusion_matrix
from scratchnet.training import TrainingInterrupted, fit

PROG = "python -m scratchnet"


def build_parser():
    parser = CommandLineParser(prog=PROG, description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_experiment_arguments(parser, default_dtype="float32")
    parser.add_argument("--save", metavar="PATH", help="save the trained model to PATH (scratchnet's format)")
    parser.add_argument("--load", metavar="PATH",
                        help="start from a saved model instead of new weights; with --epochs 0 only evaluate it")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar (it is shown on stderr only when stderr is a terminal)")
    add_threads_argument(parser)
    return parser


def run(args):
    check_input_path("--load", args.load)
    check_output_path("--save", args.save)
    if args.save:
        scratchnet.serialization.save_target(args.save)  # a FIFO or device is refused before training, not after
    limit_blas_threads(args.threads)
    experiment = experiment_from_args(args)
    X_train, X_test, y_train, y_test = experiment.model_split()
    scratchnet.manual_seed(experiment.seed)
    name, kwargs = experiment.model_spec()
    if args.load:
        model = load_model_for(experiment, args.load)
    else:
        model = getattr(scratchnet.models, name)(**kwargs, dtype=experiment.dtype)
    criterion = experiment.criterion() if experiment.model == "gpt" else getattr(scratchnet.nn, experiment.loss)()
    optimizer = getattr(scratchnet.optim, experiment.optimizer)(model.parameters(), lr=experiment.lr)
    try:
        fit(model, X_train, y_train, num_epochs=experiment.epochs, criterion=criterion,
            optimizer=optimizer, batch_size=experiment.batch_size, seed=experiment.seed,
            print_every=args.print_every, progress=progress_bar(experiment.epochs, "Training", quiet=args.quiet))
    except TrainingInterrupted as interrupt:
        print(f"{PROG}: {interrupt}{save_interrupted(model, args.save, interrupt)}", file=sys.stderr)
        return EXIT_INTERRUPTED
    if args.save:
        scratchnet.save(model, args.save)
    model.eval()
    if experiment.model == "gpt":
        print_gpt_scores(experiment, model, X_test)
        return 0
    scores = experiment.score(experiment.dataset.split.y_test, experiment.predictions(model(X_test)))
    print(format_scores(scores))
    if "confusion_matrix" in scores:
        print(format_confusion_matrix(np.array(scores["confusion_matrix"]), experiment.dataset.class_names))
    return 0


def print_gpt_scores(experiment, model, X_test):
    """Exact match of the greedy answers to the held-out prompts; or, for --text, test loss, perplexity and a sample."""
    if experiment.task == "exact match":
        print(format_scores(experiment.score_answers(experiment.answers(model.generate))))
        return
    print(format_scores(experiment.score_outputs(model(X_test))))
    prompt, continuation = experiment.sample(model.generate)
    print(f"Sample (greedy, after the held-out text's first {len(prompt)} characters {prompt!r}):")
    print(prompt + continuation)


def save_interrupted(model, path, interrupt):
    """With --save, save the model Ctrl-C stopped if its last step finished; returns the line's end saying so."""
    if not path:
        return ""
    if not interrupt.completed:
        return f"; {path} not written: the step was cut short, so the weights may be half-updated"
    scratchnet.save(model, path)
    return f"; the model as that step left it is saved to {path}"


def main(argv=None):
    args = build_parser().parse_args(argv)
    return exit_status(PROG, lambda: run(args))
