"""Training health and decision regions (parity.health, parity.regions) and the report pages that draw them."""

import copy
import json

import numpy as np
import pytest
import torch

import scratchnet
import torchnet
from parity import cli as parity_cli
from parity.health import TrainingHealth, activation_layers, histogram, update_ratio, watched_epochs
from parity.regions import decision_regions, plane_grid
from parity.training import train_side_by_side
from parity.transfer import torch_to_scratch
from scratchnet.data import load_dataset

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def twins(dtype=np.float64, **config):
    config = {"input_dim": 2, "hidden_dim": [8, 8], "output_dim": 2, **config}
    torch.manual_seed(0)
    torch_model = torchnet.MLP(**config).to(torch.float64 if dtype == np.float64 else torch.float32)
    scratch_model = scratchnet.models.MLP(**config, dtype=dtype)
    torch_to_scratch(torch_model, scratch_model)
    return scratch_model, torch_model


def test_watched_epochs_are_the_first_middle_and_last():
    assert watched_epochs(20) == [1, 10, 20]
    assert watched_epochs(1) == [1] and watched_epochs(2) == [1, 2] and watched_epochs(0) == []


def test_update_ratio_is_log10_of_the_norms_ratio():
    before = np.array([[3.0, 4.0]])  # |W| = 5
    assert update_ratio(before, before + np.array([[0.003, 0.004]])) == pytest.approx(-3.0)
    assert np.isnan(update_ratio(before, before)) and np.isnan(update_ratio(np.zeros((1, 2)), np.ones((1, 2))))


def test_histograms_share_their_bins_and_count_each_side():
    hist = histogram({"scratchnet": np.array([0.0, 1.0, 1.0]), "torch": np.array([0.0, 0.0, 2.0, np.nan])})
    assert len(hist["edges"]) == 31 and hist["edges"][0] == 0.0 and hist["edges"][-1] == 2.0
    assert sum(hist["scratchnet"]) == 3 and sum(hist["torch"]) == 3  # the NaN is not counted
    assert hist["scratchnet"] != hist["torch"]  # different values give different counts


def test_activation_layers_pair_by_name():
    scratch_model, torch_model = twins()
    assert [(name, type(mine).__name__) for name, mine, _ in activation_layers(scratch_model, torch_model)] == [
        ("net.1", "ReLU"), ("net.3", "ReLU")]


def run(dtype=np.float64, health=True, epochs=3, **config):
    data = load_dataset("moons", dtype=dtype).split
    scratch_model, torch_model = twins(dtype, **config)
    recorder = TrainingHealth(scratch_model, torch_model, epochs) if health else None
    report = train_side_by_side(scratch_model, torch_model, data, epochs=epochs, lr=0.01, batch_size=200,
                                health=recorder)
    return report, recorder, scratch_model, torch_model


def test_both_sides_record_the_same_health_in_float64():
    report, recorder, _, _ = run()
    assert report.passed
    health = recorder.to_dict()
    assert health["epochs"] == [1, 2, 3] and set(health["activations"]) == {"1", "2", "3"}
    for kind in ("activations", "gradients"):
        for per_layer in health[kind].values():
            assert per_layer, kind
            for hist in per_layer.values():
                assert hist["scratchnet"] == hist["torch"] and sum(hist["torch"]) > 0
    ratios = health["update_ratio"]
    assert list(ratios["torch"]) == ["net.0.weight", "net.2.weight", "net.4.weight"]
    for name, values in ratios["torch"].items():
        assert len(values) == 3 * 4  # 800 training points in batches of 200, three epochs
        np.testing.assert_allclose(ratios["scratchnet"][name], values, rtol=0, atol=1e-9)
        assert all(-6 < v < 0 for v in values)


def test_watching_changes_nothing_and_leaves_no_wrapper_or_hook_behind():
    # Dropout on both sides would show any extra forward pass: it draws from each side's generator.
    def dropout_run(health):
        scratchnet.manual_seed(0)
        torch.manual_seed(0)
        scratch_model = scratchnet.nn.Sequential(scratchnet.nn.Linear(2, 8, dtype=np.float64), scratchnet.nn.Dropout(0.3),
                                                 scratchnet.nn.ReLU(), scratchnet.nn.Linear(8, 2, dtype=np.float64))
        torch_model = torch.nn.Sequential(torch.nn.Linear(2, 8), torch.nn.Dropout(0.3), torch.nn.ReLU(),
                                          torch.nn.Linear(8, 2)).double()
        recorder = TrainingHealth(scratch_model, torch_model, 2) if health else None
        report = train_side_by_side(scratch_model, torch_model, load_dataset("moons").split, epochs=2, lr=0.01,
                                    batch_size=200, health=recorder)
        return report, scratch_model, torch_model

    with_health, scratch_model, torch_model = dropout_run(health=True)
    without, _, _ = dropout_run(health=False)
    assert with_health.losses == without.losses and with_health.steps == without.steps
    assert all("forward" not in vars(module) for module in scratch_model.modules())
    assert all(not module._forward_hooks for module in torch_model.modules())


def test_a_layer_that_differs_shows_in_its_histogram():
    scratch_model, torch_model = twins()
    data = load_dataset("moons").split
    recorder = TrainingHealth(scratch_model, torch_model, 1)
    relu = dict(torch_model.named_modules())["net.1"]
    relu.register_forward_hook(lambda module, args, out: out * 1.5)  # torch's first activation now differs
    train_side_by_side(scratch_model, torch_model, data, epochs=1, lr=0.01, batch_size=400, health=recorder)
    hist = recorder.to_dict()["activations"]["1"]["net.1"]
    assert hist["scratchnet"] != hist["torch"]


def test_plane_grid_covers_the_data_with_a_margin():
    X = np.array([[0.0, -1.0], [2.0, 1.0]])
    xs, ys, points = plane_grid(X, resolution=5, margin=0.5)
    assert xs[0] == -1.0 and xs[-1] == 3.0 and ys[0] == -2.0 and ys[-1] == 2.0
    assert points.shape == (25, 2) and np.array_equal(points[1], [0.0, -2.0])  # row by row: x varies first


def test_decision_regions_agree_in_float64_and_the_check_can_fail():
    _, _, scratch_model, torch_model = run()
    data = load_dataset("moons").split
    argmax = lambda outputs: outputs.argmax(axis=1)  # noqa: E731
    regions = decision_regions(scratch_model, torch_model, argmax, data.X_train, data.y_train)
    assert regions["differ"] == 0 and regions["scratchnet"] == regions["torch"]
    assert len(regions["scratchnet"]) == len(regions["y"]) and len(regions["points"]) == 800
    assert len({label for row in regions["torch"] for label in row}) == 2  # both classes have a region
    other = copy.deepcopy(torch_model)
    with torch.no_grad():
        other.net[4].bias += torch.tensor([1.0, -1.0], dtype=torch.float64)  # torch now leans to class 0
    assert decision_regions(scratch_model, other, argmax, data.X_train, data.y_train)["differ"] > 0


def test_report_draws_regions_and_health_for_a_plane_dataset(tmp_path, capsys):
    status = parity_cli.main(["--dataset", "spiral", "--epochs", "3", "--hidden", "8", "--batch-size", "240",
                              "--quiet", "--report", str(tmp_path)])
    assert status == 0
    for name in ("regions.png", "activations.png", "gradients.png", "update_ratio.png"):
        assert (tmp_path / name).read_bytes()[:8] == PNG_MAGIC, name
    payload = json.loads((tmp_path / "report.json").read_text())
    assert payload["decision_regions"]["differ"] == 0
    text = (tmp_path / "report.md").read_text()
    assert "(regions.png)" in text and "(update_ratio.png)" in text and "## Training health" in text
    assert "of epochs 1, 2, 3" in text


def test_a_dataset_off_the_plane_gets_health_but_no_regions(tmp_path, capsys):
    assert parity_cli.main(["--epochs", "2", "--hidden", "4", "--quiet", "--report", str(tmp_path)]) == 0
    assert (tmp_path / "update_ratio.png").exists() and not (tmp_path / "regions.png").exists()
    assert "decision_regions" not in json.loads((tmp_path / "report.json").read_text())
