"""Train a scratchnet model and its torch twin side by side and compare them at every step.

Both start from the same weights (torch's, copied into scratchnet), see the same batches in
the same order and use the same loss and optimizer. After each step we compare

- the trajectory: logits, loss, every parameter's gradient and every parameter after the
  update, between the two free-running models (``tolerances.TRAJECTORY``);
- the step: scratchnet's logits, loss and gradients recomputed from torch's current weights
  by a shadow copy (``tolerances.STEP``), which isolates one step's rounding from the drift
  that float32 accumulates;

and at the end the test accuracy and the per-sample predictions.
"""

import copy
from contextlib import nullcontext
from dataclasses import asdict, dataclass, field

import numpy as np
import torch

import scratchnet
import scratchnet.training
import torchnet.training
from parity import tolerances
from parity.compare import compare, matched
from parity.transfer import to_numpy, to_torch, torch_to_scratch
from scratchnet.data import check_batches, iterate_batches
from scratchnet.training import StopOnCtrlC, TrainingDivergedError

KINDS = ("logits", "loss", "grad", "param")


@dataclass
class TrainingReport:
    dtype: str
    epochs: int
    losses: dict = field(default_factory=lambda: {"scratchnet": [], "torch": []})
    max_abs_diff: dict = field(default_factory=lambda: {kind: 0.0 for kind in KINDS})
    step_max_abs_diff: dict = field(default_factory=lambda: {kind: 0.0 for kind in ("logits", "loss", "grad")})
    per_parameter: dict = field(default_factory=dict)
    steps: list = field(default_factory=list)
    test_accuracy: dict = field(default_factory=dict)
    test_metrics: dict = field(default_factory=dict)
    prediction_agreement: float = 0.0
    tolerances: dict = field(default_factory=dict)
    failures: list = field(default_factory=list)

    @property
    def passed(self):
        return not self.failures

    def to_dict(self):
        return {"passed": self.passed, **asdict(self)}


def _pairs(scratch_model, torch_model):
    return matched("parameters", scratch_model.named_parameters(), torch_model.named_parameters())


def _numpy_grad(tensor):
    """torch's gradient as NumPy, or None (which ``compare`` reports as missing, never skips)."""
    return None if tensor.grad is None else to_numpy(tensor.grad)


def _criteria(name, kwargs, per_token=False):
    """The same-named loss on both sides; array arguments (class weights) become tensors for torch.

    ``per_token``: for a sequence model (a GPT), the loss of logits (B, T, V) against targets (B, T),
    each position one sample: both sides flatten them to (B*T, V) and (B*T,) in ``PerTokenLoss``.
    """
    if not hasattr(scratchnet.nn, name) or not hasattr(torch.nn, name):
        raise ValueError(f"unknown loss {name!r}")
    torch_kwargs = {key: to_torch(v) if isinstance(v, np.ndarray) else v for key, v in kwargs.items()}
    criteria = getattr(scratchnet.nn, name)(**kwargs), getattr(torch.nn, name)(**torch_kwargs)
    if per_token:
        return scratchnet.training.PerTokenLoss(criteria[0]), torchnet.training.PerTokenLoss(criteria[1])
    return criteria


def _compute_dtype(X, scratch_model):
    """The dtype the models compute in: the features', or the weights' for integer token ids (a GPT's)."""
    if X.dtype.kind == "f":
        return X.dtype
    return next(param.data.dtype for _, param in scratch_model.named_parameters())


def train_side_by_side(scratch_model, torch_model, data, *, epochs=20, criterion="CrossEntropyLoss",
                       criterion_kwargs=None, optimizer="Adam", lr=1e-3, optimizer_kwargs=None,
                       batch_size=None, shuffle=True, drop_last=False, seed=0, step_check=True, log=None,
                       predict=None, score=None, per_token=False, generate=None, score_outputs=None,
                       health=None, schedule=None):
    """Train both models on ``data`` (a ``scratchnet.data.Split`` of NumPy arrays); returns a TrainingReport.

    ``data``'s targets are in the form the loss takes. ``log(epoch, report)`` is called after
    every epoch. Batch order comes from ``numpy.random.default_rng(seed)``, one permutation
    per epoch, shared by both sides. At the end both models predict the test set with
    ``predict(outputs)`` (default: argmax) and are scored with ``score(predictions)`` (a dict
    of metrics; default: accuracy against ``y_test``).

    Sequence models (a GPT: integer token ids X (N, T), logits (N, T, V), targets y (N, T)):
    ``per_token=True`` scores every position (see ``_criteria``). ``generate(model)``, called with
    each side's model in eval mode, replaces ``predict(outputs)`` for models that decode (greedy
    answers (N, answer_length)): a row of predictions agrees only when every token does.
    ``score_outputs(outputs)`` adds metrics read from the test outputs themselves (a test loss).
    ``health``: a ``parity.health.TrainingHealth``, which watches every training step of both models.
    ``schedule``: learning-rate schedulers on both sides: called once with the two optimizers, it returns
    ``advance(event, report)``, which is called with ``"step"`` after every step and ``"epoch"`` after every
    epoch (see ``parity.fuzz.Schedulers``).
    """
    predict = predict or (lambda outputs: outputs.argmax(axis=1))
    score = score or (lambda predictions: {"accuracy": float((predictions == data[3]).mean())})
    X_train, X_test, y_train, y_test = data
    dtype = _compute_dtype(X_train, scratch_model)
    trajectory_tol = tolerances.for_dtype(tolerances.TRAJECTORY, dtype)
    step_tol = tolerances.for_dtype(tolerances.STEP, dtype)
    report = TrainingReport(dtype=str(dtype), epochs=epochs)
    report.tolerances = {
        "trajectory": {kind: asdict(tol) for kind, tol in trajectory_tol.items()},
        "step": asdict(step_tol),
        "prediction_agreement": tolerances.for_dtype(tolerances.PREDICTION_AGREEMENT, dtype),
    }

    check_batches(len(X_train), batch_size, drop_last)
    torch_to_scratch(torch_model, scratch_model)
    shadow = copy.deepcopy(scratch_model) if step_check else None
    criteria = _criteria(criterion, criterion_kwargs or {}, per_token)
    optimizers = (getattr(scratchnet.optim, optimizer)(scratch_model.parameters(), lr=lr, **(optimizer_kwargs or {})),
                  getattr(torch.optim, optimizer)(torch_model.parameters(), lr=lr, **(optimizer_kwargs or {})))
    advance = schedule(*optimizers) if schedule is not None else (lambda event, report: None)
    pairs = _pairs(scratch_model, torch_model)
    for name, _, _ in pairs:
        report.per_parameter[name] = {"grad": 0.0, "param": 0.0}
    X_train_t, y_train_t = to_torch(X_train), to_torch(y_train)
    rng = np.random.default_rng(seed)

    def record(kind, diff, where, bucket):
        bucket[kind] = max(bucket[kind], diff.max_abs)
        if not diff.passed and len(report.failures) < 20:
            report.failures.append(f"{where}: {diff.name} differs by {diff.max_abs:.3e} "
                                   f"(atol {diff.atol:g}, rtol {diff.rtol:g}){' ' + diff.note if diff.note else ''}")
        return diff.max_abs

    step = 0
    with StopOnCtrlC(epochs) as ctrl_c:  # Ctrl-C: stop after the step in progress, saying where
        for epoch in range(1, epochs + 1):
            sums, count = {"scratchnet": 0.0, "torch": 0.0}, 0
            for index in iterate_batches(len(X_train), batch_size, shuffle=shuffle, rng=rng, drop_last=drop_last):
                first_of_epoch = count == 0
                step += 1
                ctrl_c.step_begins(epoch, step)
                where = f"epoch {epoch} step {step}"
                xb, yb = X_train[index], y_train[index]
                whole = isinstance(index, slice)  # the full batch: the tensors as they are
                xb_t, yb_t = (X_train_t, y_train_t) if whole else (X_train_t[index], y_train_t[index])
                n = len(yb)
                row = {"epoch": epoch, "step": step}

                if shadow is not None:
                    torch_to_scratch(torch_model, shadow)
                    shadow.train()
                    shadow.zero_grad()
                    shadow_logits = shadow(xb)
                    shadow_loss = criteria[0](shadow_logits, yb)
                    shadow.backward(criteria[0].backward())

                with health.step(epoch, first_of_epoch) if health is not None else nullcontext():
                    t_logits, t_loss = torchnet.training.train_step(torch_model, criteria[1], optimizers[1], xb_t, yb_t)
                    try:  # scratchnet's train_step refuses a non-finite loss before it touches the weights
                        s_logits, s_loss = scratchnet.training.train_step(scratch_model, criteria[0], optimizers[0],
                                                                          xb, yb)
                    except TrainingDivergedError as error:
                        s_loss = error.loss
                if not (np.isfinite(s_loss) and np.isfinite(t_loss)):
                    raise TrainingDivergedError(f"training diverged at epoch {epoch}, step {step}: loss is {s_loss} "
                                                f"in scratchnet and {t_loss} in torch. Try a lower learning rate "
                                                f"(it was {lr:g}).")
                sums["scratchnet"] += s_loss * n
                sums["torch"] += t_loss * n
                count += n

                t_logits = to_numpy(t_logits)
                row["logits"] = record("logits", compare("logits", s_logits, t_logits, trajectory_tol["logits"]), where,
                                       report.max_abs_diff)
                row["loss"] = record("loss", compare("loss", s_loss, t_loss, trajectory_tol["loss"]), where,
                                     report.max_abs_diff)
                row["grad"] = row["param"] = 0.0
                for name, mine, theirs in pairs:
                    grad_diff = compare(f"grad {name}", mine.grad, _numpy_grad(theirs), trajectory_tol["grad"])
                    param_diff = compare(name, mine.data, to_numpy(theirs), trajectory_tol["param"])
                    row["grad"] = max(row["grad"], record("grad", grad_diff, where, report.max_abs_diff))
                    row["param"] = max(row["param"], record("param", param_diff, where, report.max_abs_diff))
                    report.per_parameter[name]["grad"] = max(report.per_parameter[name]["grad"], grad_diff.max_abs)
                    report.per_parameter[name]["param"] = max(report.per_parameter[name]["param"], param_diff.max_abs)

                if shadow is not None:
                    shadow_where = f"{where} (from torch's weights)"
                    record("logits", compare("logits", shadow_logits, t_logits, step_tol), shadow_where,
                           report.step_max_abs_diff)
                    record("loss", compare("loss", float(shadow_loss), t_loss, step_tol), shadow_where,
                           report.step_max_abs_diff)
                    shadow_params = dict(shadow.named_parameters())
                    for name, _, theirs in pairs:
                        record("grad", compare(f"grad {name}", shadow_params[name].grad, _numpy_grad(theirs), step_tol),
                               shadow_where, report.step_max_abs_diff)
                report.steps.append(row)
                advance("step", report)
                ctrl_c.step_ends()

            report.losses["scratchnet"].append(sums["scratchnet"] / max(count, 1))
            report.losses["torch"].append(sums["torch"] / max(count, 1))
            advance("epoch", report)
            if log is not None:
                log(epoch, report)

    scratch_model.eval()
    torch_model.eval()
    with torch.no_grad():
        t_outputs = to_numpy(torch_model(to_torch(X_test)))
    s_outputs = scratch_model(X_test)
    record("logits", compare("test outputs", s_outputs, t_outputs, trajectory_tol["logits"]), "test set",
           report.max_abs_diff)
    if generate is not None:
        s_pred, t_pred = generate(scratch_model), generate(torch_model)
    else:
        s_pred, t_pred = predict(s_outputs), predict(t_outputs)
    report.test_metrics = {"scratchnet": score(s_pred), "torch": score(t_pred)}
    if score_outputs is not None:
        report.test_metrics["scratchnet"].update(score_outputs(s_outputs))
        report.test_metrics["torch"].update(score_outputs(t_outputs))
    report.test_accuracy = {side: m["accuracy"] for side, m in report.test_metrics.items() if "accuracy" in m}
    if s_pred.dtype.kind == "f":  # regression: a prediction agrees when within the outputs' tolerance
        tol = trajectory_tol["logits"]
        report.prediction_agreement = float(np.isclose(s_pred, t_pred, atol=tol.atol, rtol=tol.rtol).mean())
    else:
        same = (s_pred == t_pred).reshape(len(s_pred), -1)  # a sample's predictions: a label, or a row of tokens
        report.prediction_agreement = float(same.all(axis=1).mean())
    if report.prediction_agreement < report.tolerances["prediction_agreement"]:
        report.failures.append(f"test predictions agree on {report.prediction_agreement:.2%} of samples, "
                               f"below {report.tolerances['prediction_agreement']:.0%}")
    return report
