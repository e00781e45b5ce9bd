"""``python -m parity``: the lecture's experiment on both sides, compared step by step.

    python -m parity [options]          train both sides and compare (--report DIR: markdown and plots)
    python -m parity trace [options]    one training step of a tiny network, every quantity side by side
    python -m parity fuzz [options]     random architectures, losses and optimizers, checked by hypothesis
    python -m parity export M.snet M.pt a saved scratchnet model as a torch state_dict file
    python -m parity import M.pt M.snet a torch state_dict file into the model the options describe
    python -m parity coverage           which torch.nn / torch.optim names scratchnet has (the README's table)

Exit status: 0 when parity holds, 1 on a parity failure, 2 on bad usage or bad input, 130 when
stopped by Ctrl-C.
"""

import json
import sys

import numpy as np
import torch

import scratchnet
import torchnet
from parity.training import train_side_by_side
from parity.transfer import scratch_to_torch, to_numpy, torch_dtype
from scratchnet.cli.entry import (CommandLineParser, add_threads_argument, check_input_path, check_output_path,
                                  check_report_dir, exit_status, limit_blas_threads)
from scratchnet.cli.experiment import add_experiment_arguments, experiment_from_args, format_scores, load_model_for
from scratchnet.metrics import format_confusion_matrix
from scratchnet.cli.progress import progress_bar

EXIT_PASS, EXIT_FAIL, EXIT_USAGE = 0, 1, 2
# python -m parity NAME ...: the module and function that run it
SUBCOMMANDS = {"trace": ("parity.trace", "main"), "fuzz": ("parity.fuzz", "main"),
               "export": ("parity.convert", "export_main"), "import": ("parity.convert", "import_main"),
               "coverage": ("parity.coverage", "main")}


def out_of_memory(error):
    """torch's CPU allocator failing, which torch raises as a RuntimeError, as the MemoryError it is (else None)."""
    text = str(error)
    if isinstance(error, RuntimeError) and "can't allocate memory" in text:
        return MemoryError("torch " + text[text.index("can't allocate memory"):])
    return None


def parity_exit_status(prog, action):
    """scratchnet's exit_status (one line, exit 2 or 130), also for torch running out of memory."""
    def action_with_torch_memory():
        try:
            return action()
        except RuntimeError as error:
            memory = out_of_memory(error)
            if memory is None:
                raise
            raise memory from None

    return exit_status(prog, action_with_torch_memory)


def limit_threads(threads):
    """torch's and NumPy's BLAS threads (one by default: see scratchnet.cli.entry.add_threads_argument)."""
    torch.set_num_threads(threads)
    limit_blas_threads(threads)


def build_parser():
    parser = CommandLineParser(
        prog="python -m parity", commands=SUBCOMMANDS,
        description="Train a model in scratchnet (NumPy) and PyTorch side by side and compare logits, loss, "
        "gradients and parameters at every step. With no options: the lecture's experiment in float64. "
        "Exit status: 0 when parity holds, 1 when it does not, 2 on bad usage or input, 130 on Ctrl-C.",
        epilog="Also: 'python -m parity trace' (one training step, every quantity side by side), "
        "'python -m parity fuzz' (hypothesis-driven differential testing), 'python -m parity export' and "
        "'python -m parity import' (torch state_dict files), 'python -m parity coverage' (which torch.nn and "
        "torch.optim names scratchnet has); add --help to any of them.",
    )
    add_experiment_arguments(parser, default_dtype="float64")
    parser.add_argument("--json", metavar="PATH", help="also write a machine-readable report to PATH")
    parser.add_argument("--report", metavar="DIR",
                        help="also write DIR/report.md, DIR/report.json and plots: loss.png, differences.png, the "
                        "training health of both sides (activations.png, gradients.png, update_ratio.png) and, "
                        "for a 2-D dataset, the two models' decision regions (regions.png)")
    parser.add_argument("--quiet", action="store_true",
                        help="no progress bar (it is shown on stderr only when stderr is a terminal)")
    parser.add_argument("--load", metavar="PATH",
                        help="check a saved scratchnet model against torch on the dataset (with --epochs 0: "
                        "its test outputs only; otherwise train both from its weights)")
    add_threads_argument(parser)
    return parser


def print_epoch(every, total, bar=None):
    """The ``log`` callback of train_side_by_side: a line every ``every`` epochs, and the progress bar."""
    def log(epoch, report):
        s, t = report.losses["scratchnet"][-1], report.losses["torch"][-1]
        if epoch % every == 0 or epoch == total:
            if bar is not None:
                bar.clear()
            label = f"Epoch [{epoch}/{total}]"
            print(f"{label:<14}  {s:>12.8f}  {t:>12.8f}  {abs(s - t):>9.2e}")
        if bar is not None:
            bar.set_postfix(epoch=f"{epoch}/{total}", loss=s, refresh=False)
            bar.update(1)
    return log


def print_summary(report, class_names=None):
    print()
    print(f"{'largest |difference|':<22} {'trajectory':>10} {'tolerance':>10} {'from shared weights':>20}")
    trajectory_tol = report.tolerances["trajectory"]
    trained = bool(report.steps)  # with --epochs 0 only the test outputs were compared

    def number(value):
        return format(value, ".2e") if trained else "n/a"

    for kind, value in report.max_abs_diff.items():
        step = report.step_max_abs_diff.get(kind)
        shown = format(value, ".2e") if trained or kind == "logits" else "n/a"  # logits include the test outputs
        print(f"{kind:<22} {shown:>10} {trajectory_tol[kind]['atol']:>10.0e} {'' if step is None else number(step):>20}")
    print()
    print(f"{'parameter':<22} {'max |grad diff|':>16} {'max |param diff|':>17}")
    for name, diffs in report.per_parameter.items():
        print(f"{name:<22} {number(diffs['grad']):>16} {number(diffs['param']):>17}")
    print()
    for side in ("scratchnet", "torch"):
        print(f"{side + ':':<12}{format_scores(report.test_metrics[side])}")
    matrices = [report.test_metrics[side].get("confusion_matrix") for side in ("scratchnet", "torch")]
    if matrices[0] is not None:  # multi-class: one matrix when both sides predicted alike, else both
        for side, matrix in zip(("scratchnet", "torch"), matrices if matrices[0] != matrices[1] else matrices[:1]):
            label = "Confusion matrix" + ("" if matrices[0] == matrices[1] else f" ({side})")
            print(f"{label}:\n{format_confusion_matrix(np.array(matrix), class_names)}")
    print(f"Predictions agree on {report.prediction_agreement:.2%} of test samples")
    if report.passed:
        print("PASS")
    else:
        print("FAIL")
        for failure in report.failures:
            print(f"  {failure}")


def generator(model):
    """A model's greedy decoder on NumPy int64 token ids: scratchnet's GPT.generate, or torchnet's on tensors."""
    if isinstance(model, torch.nn.Module):
        return lambda idx, max_new_tokens: to_numpy(model.generate(torch.from_numpy(idx), max_new_tokens))
    return model.generate


def gpt_evaluation(experiment):
    """train_side_by_side's keywords for a GPT: the loss on every position (per_token); an exact-match task's
    predictions are each side's greedy answers to the test prompts (which must agree token for token), a
    language model's the most likely next character at every test position; both report the test loss."""
    if experiment.task == "exact match":
        return dict(per_token=True, generate=lambda model: experiment.answers(generator(model)),
                    score=experiment.score_answers, score_outputs=experiment.score_outputs)
    return dict(per_token=True, predict=lambda logits: logits.argmax(axis=-1), score=lambda predictions: {},
                score_outputs=experiment.score_outputs)


# python -m parity --model gpt's defaults. Two float64 runs stay within ~1e-12 of each other until the model
# learns to carry; then the loss falls fast and a rounding difference can grow by orders of magnitude per step
# (the per-step check from torch's weights stays near 1e-14: each step is the same math). With these, at the
# default seed, the run passes that phase with its largest logit difference ~4e-11 and 99% exact match; with
# the scratchnet defaults (n_embd 64, lr 1e-3, batch 64, 5 epochs) the trajectories part at step ~280.
GPT_DEFAULTS = {"hidden": "32,32", "lr": 3e-3, "epochs": 6, "batch_size": 128}


def run(args):
    check_input_path("--load", args.load)
    check_output_path("--json", args.json)  # checked before training, not after it
    check_report_dir("--report", args.report)
    limit_threads(args.threads)
    if args.model == "gpt":
        for option, value in GPT_DEFAULTS.items():
            if getattr(args, option) is None:
                setattr(args, option, value)
    experiment = experiment_from_args(args, copies=3)  # scratchnet, its shadow (the step check) and torch
    dtype = experiment.dtype
    data = experiment.model_split()
    name, kwargs = experiment.model_spec()
    # --seed S runs torch.manual_seed(S) right before the torch model is built, which is then
    # cast: built in float32 as the lecture builds it, the same seed gives the same initial
    # weights in both dtypes (drawing directly in float64 would consume torch's generator differently).
    torch.manual_seed(experiment.seed)
    if args.load:
        scratch_model = load_model_for(experiment, args.load)
        name, kwargs = type(scratch_model).__name__, scratch_model.config()
        torch_model = scratch_to_torch(scratch_model, getattr(torchnet, name)(**kwargs).to(torch_dtype(dtype)))
    else:
        torch_model = getattr(torchnet, name)(**kwargs).to(torch_dtype(dtype))
        scratch_model = getattr(scratchnet.models, name)(**kwargs, dtype=dtype)

    loaded = f" loaded from {args.load}" if args.load else ""
    print(f"Parity: {experiment.describe((name, kwargs))}{loaded}")
    print(f"{'':<14}  {'scratchnet':>12}  {'torch':>12}  {'|diff|':>9}")
    if experiment.model == "gpt":
        evaluation = gpt_evaluation(experiment)
    else:
        y_test = experiment.dataset.split.y_test  # labels as the dataset holds them (data's are shaped for the loss)
        evaluation = dict(predict=experiment.predictions,
                          score=lambda predictions: experiment.score(y_test, predictions))
    health = None
    if args.report:  # the report also draws each side's training health
        from parity.health import TrainingHealth

        health = TrainingHealth(scratch_model, torch_model, experiment.epochs)
    with progress_bar(experiment.epochs, "Parity", quiet=args.quiet) as bar:
        report = train_side_by_side(
            scratch_model, torch_model, data, epochs=experiment.epochs, criterion=experiment.loss,
            optimizer=experiment.optimizer, lr=experiment.lr, batch_size=experiment.batch_size, seed=experiment.seed,
            log=print_epoch(args.print_every, experiment.epochs, bar), health=health, **evaluation,
        )
    print_summary(report, getattr(experiment.dataset, "class_names", None))
    payload = {"seed": experiment.seed, "dataset": experiment.dataset.name, "task": experiment.task,
               "model": name, "model_config": kwargs, "loss": experiment.loss, "optimizer": experiment.optimizer,
               "lr": experiment.lr, "batch_size": experiment.batch_size, **report.to_dict()}
    if health is not None:
        payload["health"] = health.to_dict()
        if getattr(experiment.dataset, "sample_shape", None) == (2,) and experiment.task != "regression":  # a plane
            from parity.regions import decision_regions

            payload["decision_regions"] = decision_regions(scratch_model, torch_model, experiment.predictions,
                                                           data.X_train, experiment.dataset.split.y_train)
    if args.json:
        from parity.report import json_text

        with open(args.json, "w") as handle:
            handle.write(json_text(payload))
    if args.report:
        from parity.report import write_report  # matplotlib is imported only when a report is asked for

        paths = write_report(args.report, payload)
        print(f"Report: {paths['report.md']}")
    return EXIT_PASS if report.passed else EXIT_FAIL


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv and argv[0] in SUBCOMMANDS:
        import importlib

        module, function = SUBCOMMANDS[argv[0]]
        return getattr(importlib.import_module(module), function)(argv[1:])
    args = build_parser().parse_args(argv)  # argparse exits 2 on bad usage
    return parity_exit_status("python -m parity", lambda: run(args))
