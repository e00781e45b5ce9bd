"""Hostile input to every public entry point: a clear ValueError/TypeError, never a NumPy traceback,
never a changed model. And saving/loading from the command line."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import scratchnet
import scratchnet.cli.main as scratchnet_cli
from parity import cli as parity_cli
from scratchnet import nn
from scratchnet.training import evaluate, fit

ACTIVATIONS = ["ReLU", "LeakyReLU", "ELU", "GELU", "SiLU", "Softplus", "Sigmoid", "Tanh"]
REGRESSION_LOSSES = ["MSELoss", "L1Loss", "HuberLoss", "SmoothL1Loss"]

BAD_ARRAYS = {
    "object": lambda shape: np.empty(shape, dtype=object),
    "string": lambda shape: np.full(shape, "1.0"),
    "bool": lambda shape: np.ones(shape, dtype=bool),
    "complex": lambda shape: np.ones(shape, dtype=np.complex128),
    "int": lambda shape: np.ones(shape, dtype=np.int64),
    "list": lambda shape: np.ones(shape).tolist(),
}
WRONG_DTYPE = "must (be a numpy.ndarray|have dtype float32 or float64)"


# Layers beyond the MLP's, each with an input shape it accepts when the dtype is right.
MORE_LAYERS = {
    "Conv2d": (lambda: nn.Conv2d(3, 2, 2, dtype=np.float64), (2, 3, 4, 4)),
    "MaxPool2d": (lambda: nn.MaxPool2d(2), (2, 3, 4, 4)),
    "AvgPool2d": (lambda: nn.AvgPool2d(2), (2, 3, 4, 4)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3, dtype=np.float64), (2, 3, 4, 4)),
    "RNN": (lambda: nn.RNN(3, 4, dtype=np.float64), (5, 2, 3)),
    "LSTM": (lambda: nn.LSTM(3, 4, dtype=np.float64), (5, 2, 3)),
    "GRU": (lambda: nn.GRU(3, 4, dtype=np.float64), (5, 2, 3)),
    "LSTMCell": (lambda: nn.LSTMCell(3, 4, dtype=np.float64), (2, 3)),
    "Dropout": (lambda: nn.Dropout(), (2, 3)),
    "LogSoftmax": (lambda: nn.LogSoftmax(1), (2, 3)),
}


def model():
    scratchnet.manual_seed(0)
    return scratchnet.MLP(3, 4, 2, dtype=np.float64)


def unchanged(before, module):
    after = module.state_dict()
    return all(np.array_equal(before[k], after[k]) for k in before)


@pytest.mark.parametrize("kind", list(BAD_ARRAYS))
@pytest.mark.parametrize("entry", ["Linear", "MLP", *ACTIVATIONS, "Softmax"])
def test_layers_reject_wrong_dtypes_with_a_type_error(entry, kind):
    module = {"Linear": lambda: nn.Linear(3, 2, dtype=np.float64), "MLP": model,
              "Softmax": lambda: nn.Softmax(dim=1)}.get(entry, lambda: getattr(nn, entry)())()
    with pytest.raises(TypeError, match=WRONG_DTYPE):
        module(BAD_ARRAYS[kind]((4, 3)))


@pytest.mark.parametrize("kind", list(BAD_ARRAYS))
@pytest.mark.parametrize("entry", list(MORE_LAYERS))
def test_convolutional_recurrent_and_other_layers_reject_wrong_dtypes(entry, kind):
    build, shape = MORE_LAYERS[entry]
    layer = build()
    before = layer.state_dict()
    with pytest.raises(TypeError, match=f"^{entry}.* input {WRONG_DTYPE}"):
        layer(BAD_ARRAYS[kind](shape))
    assert unchanged(before, layer)  # BatchNorm's running statistics included


@pytest.mark.parametrize("kind", list(BAD_ARRAYS))
@pytest.mark.parametrize("loss", ["CrossEntropyLoss", "BCEWithLogitsLoss", *REGRESSION_LOSSES])
def test_losses_reject_wrong_input_dtypes(loss, kind):
    target = np.zeros(4, np.int64) if loss == "CrossEntropyLoss" else np.zeros((4, 2))
    with pytest.raises(TypeError, match=f"^{loss} input {WRONG_DTYPE}"):
        getattr(nn, loss)()(BAD_ARRAYS[kind]((4, 2)), target)


@pytest.mark.parametrize("kind", ["object", "string", "complex", "list"])
@pytest.mark.parametrize("loss", ["CrossEntropyLoss", "BCEWithLogitsLoss", *REGRESSION_LOSSES])
def test_losses_reject_wrong_target_dtypes(loss, kind):
    shape = (4,) if loss == "CrossEntropyLoss" else (4, 2)
    expected = WRONG_DTYPE if loss != "CrossEntropyLoss" or kind == "list" else "must hold integer class labels"
    with pytest.raises(TypeError, match=f"^{loss} target {expected}"):
        getattr(nn, loss)()(np.zeros((4, 2)), BAD_ARRAYS[kind](shape))


@given(
    n=st.integers(1, 6),
    bad=st.sampled_from(["nan", "inf", "-inf"]),
    where=st.integers(0, 100),
)
def test_fit_rejects_non_finite_features_before_changing_anything(n, bad, where):
    X = np.random.default_rng(where).standard_normal((n, 3))
    X.reshape(-1)[where % X.size] = float(bad)
    m = model()
    before = m.state_dict()
    with pytest.raises(ValueError, match="contains NaN or inf"):
        fit(m, X, np.zeros(n, np.int64), num_epochs=1, log=None)
    assert unchanged(before, m)


@given(
    shapes=st.sampled_from([((0, 3), (0,)), ((3,), (3,)), ((4, 3), (5,)), ((4, 3), (4, 1)), ((4, 3), ())]),
)
def test_fit_and_evaluate_reject_wrong_shapes_and_empty_data(shapes):
    x_shape, y_shape = shapes
    X, y = np.zeros(x_shape), np.zeros(y_shape, np.int64)
    m = model()
    before = m.state_dict()
    for call in (lambda: fit(m, X, y, num_epochs=1, log=None), lambda: evaluate(m, X, y, log=None)):
        with pytest.raises(ValueError, match=r"^(X_train|X_test|CrossEntropyLoss|evaluate) .*(expected|must have shape)"):
            call()
    assert unchanged(before, m)


@given(label=st.one_of(st.integers(2, 10**6), st.integers(-(10**6), -101)))
def test_out_of_range_labels_are_rejected_before_changing_anything(label):
    m = model()
    before = m.state_dict()
    y = np.array([0, 1, label, 0])
    with pytest.raises(ValueError, match=str(label)):
        fit(m, np.zeros((4, 3)), y, num_epochs=1, log=None)
    assert unchanged(before, m)


@pytest.mark.parametrize("ndim", [0, 1, 3])
def test_cross_entropy_rejects_wrong_ndim(ndim):
    with pytest.raises(ValueError, match="CrossEntropyLoss"):
        nn.CrossEntropyLoss()(np.zeros((2,) * ndim), np.zeros(2, np.int64))


@pytest.mark.parametrize("optimizer, kwargs, match", [
    ("Adam", {"lr": -1}, "Invalid learning rate"),
    ("Adam", {"betas": (1.0, 0.999)}, "Invalid beta parameter at index 0"),
    ("SGD", {"momentum": -0.5}, "Invalid momentum"),
    ("SGD", {"nesterov": True}, "Nesterov momentum requires"),
])
def test_optimizers_reject_bad_hyperparameters(optimizer, kwargs, match):
    with pytest.raises(ValueError, match=match):
        getattr(scratchnet.optim, optimizer)(model().parameters(), **kwargs)


def test_optimizers_reject_an_empty_parameter_list():
    with pytest.raises(ValueError, match="empty parameter list"):
        scratchnet.optim.Adam([])


def test_save_rejects_something_that_is_not_a_model(tmp_path):
    with pytest.raises(TypeError, match="saves the models of scratchnet.models .* got scratchnet.nn.linear.Linear"):
        scratchnet.save(nn.Linear(2, 2), tmp_path / "x.snet")


def test_command_line_save_then_load_evaluates_the_same_model(tmp_path, capsys):
    path = str(tmp_path / "lecture.snet")
    assert scratchnet_cli.main(["--epochs", "5", "--save", path]) == 0
    trained = capsys.readouterr().out.splitlines()[-1]
    assert scratchnet_cli.main(["--epochs", "0", "--load", path]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == trained
    assert parity_cli.main(["--epochs", "0", "--load", path, "--dtype", "float32", "--hidden", "8"]) == 0
    out = capsys.readouterr().out
    assert out.rstrip().endswith("PASS") and f"scratchnet: {trained}" in out
    assert out.startswith(f"Parity: lecture (binary), MLP 20-64-64-2 ReLU") and f"loaded from {path}" in out
    assert parity_cli.main(["--epochs", "2", "--load", path]) == 0  # continue training on both sides


@pytest.mark.parametrize("content, reason", [
    (b"", "the file is empty"),
    (b"\x80\x04\x95junk", "pickle"),
    (b"random bytes here", "not a scratchnet model file"),
])
@pytest.mark.parametrize("main", [parity_cli.main, scratchnet_cli.main], ids=["parity", "scratchnet"])
def test_command_line_load_of_a_bad_file_exits_2_naming_file_and_reason(main, content, reason, tmp_path, capsys):
    path = tmp_path / "bad.snet"
    path.write_bytes(content)
    assert main(["--load", str(path), "--epochs", "0"]) == 2
    err = capsys.readouterr().err
    assert str(path) in err and reason in err and len(err.strip().splitlines()) == 1


def test_load_of_a_model_for_other_data_exits_2(tmp_path, capsys):
    path = str(tmp_path / "lecture.snet")
    assert scratchnet_cli.main(["--epochs", "1", "--save", path]) == 0
    assert scratchnet_cli.main(["--load", path, "--dataset", "iris", "--epochs", "0"]) == 2
    assert "does not fit iris" in capsys.readouterr().err


def test_a_nan_loss_stops_training_before_the_weights_change():
    from scratchnet.training import TrainingDivergedError, train_step

    class NaNLoss(nn.CrossEntropyLoss):
        def forward(self, input, target):
            return super().forward(input, target) * np.nan

    m = model()
    before = m.state_dict()
    optimizer = scratchnet.optim.SGD(m.parameters(), lr=0.1)
    with pytest.raises(TrainingDivergedError, match="the loss became nan"):
        train_step(m, NaNLoss(), optimizer, np.ones((4, 3)), np.zeros(4, np.int64))
    assert unchanged(before, m)
    with pytest.raises(TrainingDivergedError, match=r"training diverged at epoch 1, step 1: the loss became nan\. "
                                                    r"Try a lower learning rate \(it was 0\.001\)"):
        fit(m, np.ones((4, 3)), np.zeros(4, np.int64), criterion=NaNLoss(), log=None)
    assert unchanged(before, m)


def test_drop_last_with_fewer_samples_than_a_batch_is_refused_before_training():
    m = model()
    before = m.state_dict()
    with pytest.raises(ValueError, match="drop_last with batch_size 8 drops all 5 training samples"):
        fit(m, np.ones((5, 3)), np.zeros(5, np.int64), batch_size=8, drop_last=True, log=None)
    assert unchanged(before, m)


def test_fit_runs_silently_with_log_none():
    import torch

    import torchnet

    X, y = np.random.default_rng(0).standard_normal((6, 3)), np.zeros(6, np.int64)
    assert len(fit(model(), X, y, num_epochs=5, print_every=1, log=None)) == 5
    assert len(torchnet.training.fit(torchnet.MLP(3, 4, 2).double(), torch.tensor(X), torch.tensor(y),
                                     num_epochs=5, print_every=1, log=None)) == 5


@pytest.mark.parametrize("hidden, widths", [(np.int64(4), [4, 4]), ([np.int64(3), 2], [3, 2]), (0, [0, 0])])
def test_mlp_takes_numpy_integers_and_zero_widths_like_torch(hidden, widths):
    mlp = scratchnet.MLP(3, hidden, 2)
    assert [layer.out_features for layer in mlp.net if isinstance(layer, nn.Linear)][:-1] == widths
    assert all(type(w) is int for w in np.atleast_1d(mlp.config()["hidden_dim"]).tolist())


@pytest.mark.parametrize("hidden", [True, -1, [3, True], "64", 2.5, [3, -2]])
def test_mlp_rejects_widths_that_are_not_non_negative_integers(hidden):
    with pytest.raises(ValueError, match="hidden_dim must be a non-negative int or a list of them"):
        scratchnet.MLP(3, hidden, 2)


@pytest.mark.parametrize("make", [
    lambda: nn.Sigmoid(), lambda: nn.Tanh(), lambda: nn.Softmax(dim=1), lambda: nn.LogSoftmax(dim=1),
])
def test_outputs_that_backward_reads_again_cannot_be_edited_in_place(make):
    layer = make()
    x = np.random.default_rng(0).standard_normal((3, 4))
    y = layer(x)
    expected = layer.backward(np.ones_like(x))
    with pytest.raises(ValueError, match="read-only"):
        y += 1  # would silently corrupt the gradient below
    assert np.array_equal(layer.backward(np.ones_like(x)), expected)


def test_recurrent_outputs_are_read_only_views():
    lstm = nn.LSTM(3, 4, dtype=np.float64)
    output, (h_n, c_n) = lstm(np.ones((5, 2, 3)))
    for array in (output, h_n, c_n):
        with pytest.raises(ValueError, match="read-only"):
            array[...] = 0
    h, c = nn.LSTMCell(3, 4, dtype=np.float64)(np.ones((2, 3)))
    with pytest.raises(ValueError, match="read-only"):
        h *= 2


def test_csv_error_names_the_right_cell_after_blank_rows(tmp_path):
    from scratchnet.data import load_csv

    path = tmp_path / "gaps.csv"
    path.write_text("a,y\n1,2\n\n2,3\n\n3,x\n4,5\n")
    with pytest.raises(ValueError, match=r"line 6, column 'y': 'x' is not a number"):
        load_csv(path, "y", task="regression")
