"""``python -m parity --report DIR``: the parity run as a markdown page with plots.

    DIR/report.md         settings, PASS/FAIL with the tolerances, losses per epoch, differences per
                          parameter, test metrics, failures
    DIR/report.json       the same payload ``--json`` writes
    DIR/loss.png          both loss curves overlaid, and their |difference| per epoch (log scale)
    DIR/differences.png   per step, the largest |difference| of any gradient and of any parameter
                          (log scale), with the tolerance drawn as a line
    DIR/activations.png   training health (parity.health), both sides: histograms of every activation
    DIR/gradients.png     layer's outputs and of every weight's gradient at the first, middle and last epoch
    DIR/update_ratio.png  log10(|update| / |weight|) per weight over the steps, the ~1e-3 band marked
    DIR/regions.png       for a 2-D dataset: each side's decision regions over the training points, and the
                          grid points where the two decide differently

Everything is drawn from the JSON payload alone, so the page and the JSON cannot disagree:
every number in report.md is the payload's value printed with ``repr`` (the shortest text that
reads back as the same float). matplotlib is imported inside the plotting functions, with the
headless Agg backend, so plain parity runs never pay for it.
"""

import json
import math
from pathlib import Path

SIDES = ("scratchnet", "torch")
COLORS = {"scratchnet": "tab:blue", "torch": "tab:orange", "tolerance": "tab:red", "zero": "tab:gray"}
LABELS = {"scratchnet": "scratchnet (NumPy)", "torch": "torch"}
HEALTH_PLOTS = ("activations.png", "gradients.png", "update_ratio.png")


def number(value):
    """A float exactly as the JSON holds it (shortest round-trip text); other values as they print."""
    return repr(float(value)) if isinstance(value, float) else str(value)


def log_floor(*series):
    """The floor a log-scale plot draws exact zeros at: a decade below the smallest positive value."""
    positive = [v for values in series for v in values if v > 0]
    smallest = min(positive) if positive else 1e-16
    return 10.0 ** (math.floor(math.log10(smallest)) - 1)


def json_text(payload):
    """``payload`` as JSON, with NaN and infinities (an R^2 of a constant target) written as null: JSON has no NaN."""
    def finite(value):
        if isinstance(value, float) and not math.isfinite(value):
            return None
        if isinstance(value, dict):
            return {key: finite(item) for key, item in value.items()}
        if isinstance(value, (list, tuple)):
            return [finite(item) for item in value]
        return value

    return json.dumps(finite(payload), indent=2, allow_nan=False)


def write_report(directory, payload):
    """Write report.md, report.json and the plots the payload holds data for into ``directory``; returns their paths."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    names = ["report.md", "report.json", "loss.png", "differences.png"]
    names += list(HEALTH_PLOTS) if "health" in payload else []
    names += ["regions.png"] if "decision_regions" in payload else []
    paths = {name: directory / name for name in names}
    paths["report.json"].write_text(json_text(payload))
    plot_losses(payload, paths["loss.png"])
    plot_differences(payload, paths["differences.png"])
    if "health" in payload:
        plot_histograms(payload, "activations", paths["activations.png"])
        plot_histograms(payload, "gradients", paths["gradients.png"])
        plot_update_ratio(payload, paths["update_ratio.png"])
    if "decision_regions" in payload:
        plot_regions(payload, paths["regions.png"])
    paths["report.md"].write_text(markdown(payload))
    return paths


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # headless: no display needed, and no window opens
    import matplotlib.pyplot as plt

    return plt


def _plot_log_series(ax, x, values, floor, label, color, marker):
    """``values`` on a log axis, exact zeros drawn at ``floor`` with hollow markers (log(0) is -inf)."""
    ax.plot(x, [max(v, floor) for v in values], color=color, marker=marker, markersize=3, linewidth=1.2, label=label)
    zeros = [i for i, v in zip(x, values, strict=True) if v == 0]
    if zeros:
        ax.plot(zeros, [floor] * len(zeros), linestyle="none", marker="o", markersize=5, markerfacecolor="none",
                color=COLORS["zero"], label=f"exactly 0 (drawn at {floor:.0e})")


def _nothing_to_plot(axes):
    for ax in axes:
        ax.text(0.5, 0.5, "no training steps (--epochs 0)", transform=ax.transAxes, ha="center", va="center",
                color=COLORS["zero"])


def _integer_ticks(ax):
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))


def _tolerance_line(ax, tolerance, what):
    rtol = f" + {tolerance['rtol']:g}·|torch|" if tolerance["rtol"] else ""
    ax.axhline(tolerance["atol"], color=COLORS["tolerance"], linestyle="--", linewidth=1.2,
               label=f"tolerance: {what} atol {tolerance['atol']:g}{rtol}")


def plot_losses(payload, path):
    """Top: both loss curves overlaid. Bottom: |scratchnet - torch| per epoch on a log scale."""
    plt = _pyplot()
    losses = payload["losses"]
    epochs = list(range(1, len(losses["torch"]) + 1))
    diffs = [abs(s - t) for s, t in zip(losses["scratchnet"], losses["torch"], strict=True)]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8, 7), sharex=True, gridspec_kw={"height_ratios": [3, 2]})
    top.plot(epochs, losses["scratchnet"], color=COLORS["scratchnet"], linewidth=4, alpha=0.6, label="scratchnet (NumPy)")
    top.plot(epochs, losses["torch"], color=COLORS["torch"], linewidth=1.5, linestyle="--", marker="o", markersize=3,
             label="torch")
    top.set_title(f"Training loss per epoch: {_subtitle(payload)}")
    top.set_ylabel(f"{payload.get('loss', 'loss')} (epoch mean)")
    top.legend()
    top.grid(alpha=0.3)
    floor = log_floor(diffs)
    _plot_log_series(bottom, epochs, diffs, floor, "|scratchnet − torch|", "black", ".")
    _tolerance_line(bottom, payload["tolerances"]["trajectory"]["loss"], "loss")
    bottom.set_ylim(floor / 3, max(payload["tolerances"]["trajectory"]["loss"]["atol"], *diffs, floor) * 30)
    bottom.set_yscale("log")
    _integer_ticks(bottom)
    bottom.set_title(f"|Difference| of the two loss curves, log scale (max {max(diffs, default=0.0):.1e})",
                     fontsize=10)
    bottom.set_xlabel("epoch")
    bottom.set_ylabel("|loss difference|")
    bottom.legend(fontsize=8, loc="best")
    bottom.grid(alpha=0.3, which="both")
    if not epochs:
        _nothing_to_plot([top, bottom])
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_differences(payload, path):
    """Per training step, the largest |difference| of any gradient (top) and any parameter (bottom)."""
    plt = _pyplot()
    steps = payload["steps"]
    x = [row["step"] for row in steps]
    fig, axes = plt.subplots(2, 1, figsize=(8, 7), sharex=True)
    series = {kind: [row[kind] for row in steps] for kind in ("grad", "param")}
    floor = log_floor(*series.values())
    titles = {"grad": "Gradients: largest |scratchnet − torch| of any element, per step",
              "param": "Parameters after each update: largest |scratchnet − torch|"}
    for ax, (kind, values) in zip(axes, series.items()):
        _plot_log_series(ax, x, values, floor, f"max |{kind} difference|", COLORS["scratchnet"], ".")
        _tolerance_line(ax, payload["tolerances"]["trajectory"][kind], kind)
        ax.set_ylim(floor / 3, max(payload["tolerances"]["trajectory"][kind]["atol"], *values, floor) * 30)
        ax.set_yscale("log")
        ax.set_title(f"{titles[kind]} (max {max(values, default=0.0):.1e})", fontsize=10)
        ax.set_ylabel(f"max |{kind} difference|")
        ax.legend(fontsize=8, loc="upper left")
        ax.grid(alpha=0.3, which="both")
    _integer_ticks(axes[-1])
    if steps:
        axes[-1].set_xlabel(f"training step ({len(steps) // payload['epochs']} per epoch)")
    else:
        axes[-1].set_xlabel("training step")
        _nothing_to_plot(axes)
    fig.suptitle(f"Per-step parity: {_subtitle(payload)}", fontsize=11)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_histograms(payload, kind, path):
    """One row per layer (``kind`` 'activations') or weight ('gradients'), one column per recorded epoch:
    both sides' histograms over shared bins, scratchnet filled, torch outlined on top."""
    plt = _pyplot()
    health = payload["health"]
    by_epoch = health[kind]
    epochs = list(by_epoch)
    names = list(by_epoch[epochs[0]]) if epochs else []
    what = {"activations": "outputs of", "gradients": "gradient of"}[kind]
    rows, cols = max(len(names), 1), max(len(epochs), 1)
    fig, axes = plt.subplots(rows, cols, figsize=(max(3.6 * cols, 7.5), 2.3 * rows + 0.8), squeeze=False)
    for i, name in enumerate(names):
        for j, epoch in enumerate(epochs):
            ax, hist = axes[i][j], by_epoch[epoch][name]
            edges = hist["edges"]
            ax.stairs(hist["scratchnet"], edges, fill=True, color=COLORS["scratchnet"], alpha=0.5,
                      label=LABELS["scratchnet"])
            ax.stairs(hist["torch"], edges, color=COLORS["torch"], linewidth=1.5, linestyle="--", label=LABELS["torch"])
            kind_of_layer = health.get("layer_types", {}).get(name) if kind == "activations" else None
            ax.set_title(f"{what} {name}{f' ({kind_of_layer})' if kind_of_layer else ''}, epoch {epoch}", fontsize=9)
            ax.tick_params(labelsize=7)
            if j == 0:
                ax.set_ylabel("count", fontsize=8)
            if i == len(names) - 1:
                ax.set_xlabel("value", fontsize=8)
    if names:
        axes[0][0].legend(fontsize=7)
    else:
        axes[0][0].text(0.5, 0.5, f"no {kind} recorded", transform=axes[0][0].transAxes, ha="center",
                        color=COLORS["zero"])
    title = {"activations": "Activations: each activation layer's outputs in the epoch's first step",
             "gradients": "Gradients: each weight's gradient after the epoch's first step"}[kind]
    fig.suptitle(f"{title}\n{_subtitle(payload)}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_update_ratio(payload, path):
    """log10(|update| / |weight|) per step for every weight (one panel each), both sides, the ~1e-3 band shaded."""
    plt = _pyplot()
    ratios = payload["health"]["update_ratio"]
    names = list(ratios["torch"])
    cols = min(len(names), 3) or 1
    rows = max(math.ceil(len(names) / cols), 1)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.8 * rows + 0.8), squeeze=False, sharex=True)
    for ax, name in zip([ax for row in axes for ax in row], names):
        steps = range(1, len(ratios["torch"][name]) + 1)
        ax.axhspan(-3.5, -2.5, color="tab:green", alpha=0.12, label="~1e-3 band")
        ax.axhline(-3, color="tab:green", linewidth=0.8)
        for side, style in (("scratchnet", dict(linewidth=3, alpha=0.5)), ("torch", dict(linewidth=1, linestyle="--"))):
            values = [math.nan if v is None else v for v in ratios[side][name]]
            ax.plot(steps, values, color=COLORS[side], label=LABELS[side], **style)
        ax.set_title(name, fontsize=9)
        ax.set_ylabel("log10(|ΔW| / |W|)", fontsize=8)
        ax.set_xlabel("training step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    for ax in [ax for row in axes for ax in row][len(names):]:
        ax.set_visible(False)
    if names:
        axes[0][0].legend(fontsize=7)
    fig.suptitle(f"Update-to-weight ratio per step: {_subtitle(payload)}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_regions(payload, path):
    """Each side's predicted class over the plane with the training points, and where the two differ."""
    plt = _pyplot()
    from matplotlib.colors import ListedColormap

    regions = payload["decision_regions"]
    xs, ys = regions["x"], regions["y"]
    labels = regions["labels"]
    points = regions["points"]
    classes = max(max(labels), max(max(row) for row in regions["torch"])) + 1
    palette = ["tab:blue", "tab:red", "tab:green", "tab:purple", "tab:brown", "tab:pink", "tab:olive", "tab:cyan"]
    cmap = ListedColormap([palette[k % len(palette)] for k in range(classes)])
    fig, axes = plt.subplots(1, 3, figsize=(15, 5), sharex=True, sharey=True)
    for ax, side in zip(axes, SIDES):
        ax.pcolormesh(xs, ys, regions[side], cmap=cmap, vmin=-0.5, vmax=classes - 0.5, alpha=0.35, shading="auto")
        ax.scatter([p[0] for p in points], [p[1] for p in points], c=labels, cmap=cmap, vmin=-0.5,
                   vmax=classes - 0.5, s=8, edgecolors="black", linewidths=0.3)
        ax.set_title(f"{LABELS[side]}: predicted class", color=COLORS[side])
    differ = [[int(a != b) for a, b in zip(r1, r2)] for r1, r2 in zip(regions["scratchnet"], regions["torch"])]
    axes[2].pcolormesh(xs, ys, differ, cmap=ListedColormap(["white", "black"]), vmin=0, vmax=1, shading="auto")
    axes[2].scatter([p[0] for p in points], [p[1] for p in points], c="lightgray", s=4)
    count = regions["differ"]
    axes[2].set_title(f"grid points where they differ: {count} of {len(xs) * len(ys)}")
    for ax in axes:
        ax.set_xlabel("x1")
    axes[0].set_ylabel("x2")
    fig.suptitle(f"Decision regions after training (training points drawn): {_subtitle(payload)}", fontsize=10)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def _subtitle(payload):
    return f"{payload.get('dataset', '?')}, {payload.get('model', '?')}, {payload.get('optimizer', '?')}, {payload['dtype']}"


def _table(header, rows):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def markdown(payload):
    """report.md's text, every number taken from ``payload`` (the JSON report)."""
    verdict = "PASS" if payload["passed"] else "FAIL"
    tolerances = payload["tolerances"]
    config = payload.get("model_config", {})
    settings = [
        ("dataset", payload.get("dataset")), ("task", payload.get("task")),
        ("model", f"{payload.get('model')} `{json.dumps(config)}`"), ("loss", payload.get("loss")),
        ("optimizer", payload.get("optimizer")), ("lr", payload.get("lr")),
        ("batch size", "full batch" if payload.get("batch_size") is None else payload["batch_size"]),
        ("epochs", payload["epochs"]), ("dtype", payload["dtype"]), ("seed", payload.get("seed")),
    ]
    parts = [
        f"# Parity report: {verdict}",
        "scratchnet (NumPy) and PyTorch trained side by side from the same initial weights, on the same "
        "batches in the same order, compared after every step. *Trajectory*: the two free-running models. "
        "*From shared weights*: scratchnet's logits, loss and gradients recomputed from torch's current "
        "weights each step, which isolates one step's rounding from accumulated drift. Two values agree "
        "when |scratchnet − torch| ≤ atol + rtol·|torch|, element-wise.",
        "## Settings",
        _table(["setting", "value"], [(key, number(value)) for key, value in settings]),
        f"## Result: {verdict}",
        _table(["quantity", "largest trajectory difference", "atol", "rtol", "from shared weights", "atol", "rtol"],
               [(kind, number(value), number(tolerances["trajectory"][kind]["atol"]),
                 number(tolerances["trajectory"][kind]["rtol"]),
                 *((number(payload["step_max_abs_diff"][kind]), number(tolerances["step"]["atol"]),
                    number(tolerances["step"]["rtol"])) if kind in payload["step_max_abs_diff"] else ("", "", "")))
                for kind, value in payload["max_abs_diff"].items()]),
        f"Share of test samples whose predictions agree: {number(payload['prediction_agreement'])} "
        f"(required: at least {number(tolerances['prediction_agreement'])}).",
    ]
    if payload["failures"]:
        parts += ["### Failures", "\n".join(f"- {failure}" for failure in payload["failures"])]
    losses = payload["losses"]
    parts += [
        "## Loss per epoch",
        "![Training loss of both sides, and their difference](loss.png)",
        _table(["epoch", "scratchnet loss", "torch loss", "abs difference"],
               [(epoch, number(s), number(t), number(abs(s - t)))
                for epoch, (s, t) in enumerate(zip(losses["scratchnet"], losses["torch"], strict=True), start=1)]),
        "## Per step",
        "![Largest gradient and parameter differences per step](differences.png)",
        "On the log scale an exact 0 (both sides computed the same bits) cannot be drawn; such steps are "
        "drawn at the plot's floor with hollow grey circles.",
        "## Per parameter",
        "The largest |difference| of each parameter's gradient and value over all steps.",
        _table(["parameter", "max abs grad difference", "max abs param difference"],
               [(name, number(d["grad"]), number(d["param"])) for name, d in payload["per_parameter"].items()]),
        "## Test metrics",
        _metrics_table(payload["test_metrics"]),
    ]
    if "decision_regions" in payload:
        regions = payload["decision_regions"]
        parts += [
            "## Decision regions",
            f"Each side's predicted class at {len(regions['x'])} × {len(regions['y'])} points of the plane, over the "
            f"training points; the third panel marks the {regions['differ']} grid points where the two predictions "
            "differ (in float64 there should be none; in float32 rounding can flip a point on a boundary).",
            "![Decision regions of both sides and where they differ](regions.png)",
        ]
    if "health" in payload:
        parts += [
            "## Training health",
            "Recorded on both sides during the training steps themselves, in the first step of epochs "
            f"{', '.join(map(str, payload['health']['epochs']))}: the histograms share their bins, scratchnet filled "
            "and torch dashed on top, so two identical runs look like one.",
            "![Histograms of each activation layer's outputs](activations.png)",
            "![Histograms of each weight's gradient](gradients.png)",
            "The update-to-weight ratio log10(|ΔW| / |W|) of every weight at every step. Near -3 (the green band) "
            "is the usual healthy rate; far above, the learning rate is too high; far below, too low.",
            "![Update-to-weight ratio per step](update_ratio.png)",
        ]
    return "\n\n".join(parts) + "\n"


def _metrics_table(metrics):
    if not metrics:
        return "(no test set)"
    names = [name for name in metrics["torch"] if name != "confusion_matrix"]
    text = _table(["metric", "scratchnet", "torch"],
                  [(name, number(metrics["scratchnet"][name]), number(metrics["torch"][name])) for name in names])
    if "confusion_matrix" in metrics["torch"]:
        for side in SIDES:
            matrix = metrics[side]["confusion_matrix"]
            text += f"\n\nConfusion matrix, {side} (rows: true class, columns: predicted):\n\n"
            text += _table(["", *map(str, range(len(matrix)))], [(i, *row) for i, row in enumerate(matrix)])
    return text
