"""The GPT against torchnet's twin: parity, gradients, a training run compared step by step, greedy decoding.

Dropout is 0 for parity (torch's attention dropout runs inside its C++ kernel, whose random
numbers cannot be shared); the gradient check covers dropout with a fixed seed. The blocks' causal
mask is a float (0 / -inf) attn_mask, which keeps torch's MultiheadAttention off its fused fast path
(it refuses float masks), so no fixture turns that path off here: ``test_decoding_under_no_grad_is_the_same_math``
checks that eval mode under torch.no_grad() still agrees at MODULE's tolerance.
"""

import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from hypothesis_profiles import examples

import scratchnet
import torchnet.models
from parity import check_module, tolerances
from parity.compare import compare
from parity.transfer import to_numpy, torch_dtype, torch_to_scratch
from scratchnet.gradcheck import gradcheck
from scratchnet.models import GPT
from scratchnet.nn import CrossEntropyLoss, Module
from scratchnet.nn.utils import clip_grad_norm_
from scratchnet.optim import AdamW
from scratchnet.text import exact_match, greedy_answers, make_addition


def twins(vocab_size=11, block_size=8, n_layer=2, n_head=2, n_embd=8, dtype=np.float64, seed=0, **kwargs):
    """A torchnet GPT and a scratchnet GPT holding the same (torch's) weights."""
    torch.manual_seed(seed)
    theirs = torchnet.models.GPT(vocab_size, block_size, n_layer, n_head, n_embd, dtype=torch_dtype(dtype), **kwargs)
    mine = GPT(vocab_size, block_size, n_layer, n_head, n_embd, dtype=dtype, **kwargs)
    return torch_to_scratch(theirs, mine), theirs


def torch_generate(model):
    """torchnet's GPT.generate on NumPy int64 arrays."""
    return lambda idx, max_new_tokens: model.generate(torch.from_numpy(idx), max_new_tokens).numpy()


# head_dim >= 2: with n_embd = 1 a LayerNorm row is one value, x - mean(x) is rounding noise, amplified by
# 1/sqrt(eps); float32 torch and NumPy round it differently (ln_f.weight.grad ~1e-5 apart)
@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
@examples(15)
@given(n_layer=st.integers(1, 2), n_head=st.integers(1, 3), head_dim=st.integers(2, 4),
       vocab_size=st.integers(2, 12), block_size=st.integers(1, 8), B=st.integers(1, 3), data=st.data())
def test_gpt_matches_torch(dtype, n_layer, n_head, head_dim, vocab_size, block_size, B, data):
    seed = data.draw(st.integers(0, 2**16), label="seed")
    T = data.draw(st.integers(1, block_size), label="T")
    mine, theirs = twins(vocab_size, block_size, n_layer, n_head, n_head * head_dim, dtype, seed)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, vocab_size, (B, T))
    # float32: gradients reach ~10 here, and an element that is a sum of such terms carries an absolute rounding
    # error ~1e-4 on both sides (measured against float64 on hypothesis's seed-2048 example: torch 1.4e-4,
    # scratchnet 9.8e-5), beyond MODULE's 1e-5 + 1e-4 * |element| where the sum nearly cancels.
    tolerance = tolerances.Tolerance(atol=5e-4, rtol=1e-4) if dtype == np.float32 else None
    report = check_module(mine, theirs, idx, seed=seed, tolerance=tolerance)  # integer input: in the weights' dtype
    report.assert_passed()
    assert len(report.diffs) == 1 + len(theirs.state_dict())  # the logits and every parameter's gradient


def test_state_dict_keys_and_shapes_are_torchnets():
    mine, theirs = twins(vocab_size=7, block_size=5, n_layer=2, n_head=2, n_embd=6)
    assert {k: v.shape for k, v in mine.state_dict().items()} == \
           {k: tuple(v.shape) for k, v in theirs.state_dict().items()}
    assert list(mine.state_dict()) == list(theirs.state_dict())
    assert list(mine.state_dict())[:4] == ["wte.weight", "wpe.weight", "h.0.ln_1.weight", "h.0.ln_1.bias"]
    assert "lm_head.bias" not in mine.state_dict()  # no bias on the head, as minGPT


def test_config_rebuilds_the_model():
    scratchnet.manual_seed(0)
    model = GPT(13, 9, 3, 2, 12, dropout=0.1)
    assert model.config() == dict(vocab_size=13, block_size=9, n_layer=3, n_head=2, n_embd=12, dropout=0.1)
    rebuilt = GPT(**model.config())
    assert {k: v.shape for k, v in rebuilt.state_dict().items()} == {k: v.shape for k, v in model.state_dict().items()}
    assert rebuilt.h[2].attn.dropout == rebuilt.drop.p == 0.1


def test_config_holds_plain_numbers():
    model = GPT(np.int64(5), 4, np.int32(1), 2, 4, dropout=np.float64(0.25))
    config = model.config()
    assert config == dict(vocab_size=5, block_size=4, n_layer=1, n_head=2, n_embd=4, dropout=0.25)
    assert all(type(value) is int for name, value in config.items() if name != "dropout")
    assert type(config["dropout"]) is float


@pytest.mark.parametrize("kwargs, error, match", [
    (dict(vocab_size=0), ValueError, "GPT expected vocab_size to be an integer >= 1, got 0"),
    (dict(block_size=2.0), ValueError, "GPT expected block_size to be an integer >= 1, got 2.0"),
    (dict(n_layer=-1), ValueError, "GPT expected n_layer to be an integer >= 0, got -1"),
    (dict(n_head=True), ValueError, "GPT expected n_head to be an integer >= 1, got True"),
    (dict(n_embd=6, n_head=4), ValueError, "embed_dim must be divisible by num_heads"),
    (dict(dropout=1.5), ValueError, "dropout probability has to be between 0 and 1"),
])
def test_bad_construction(kwargs, error, match):
    with pytest.raises(error, match=match):
        GPT(**{**dict(vocab_size=5, block_size=4, n_layer=1, n_head=2, n_embd=4), **kwargs})


def test_no_blocks_is_a_bigram_model():
    """n_layer=0: each position's logits depend on its own token and position only; torch agrees."""
    mine, theirs = twins(vocab_size=6, block_size=5, n_layer=0, n_head=1, n_embd=4)
    check_module(mine, theirs, np.array([[1, 2, 3, 4, 5]])).assert_passed()


def test_gradcheck():
    scratchnet.manual_seed(1)
    model = GPT(5, 4, 2, 2, 4, dtype=np.float64)
    idx = np.array([[0, 3, 3, 1], [4, 0, 2, 0]])
    assert gradcheck(model, idx) == []
    assert gradcheck(model, idx[:, :2]) == []  # T < block_size: the first rows of wpe only


def test_gradcheck_with_dropout():
    class Reseeded(Module):  # the same dropout masks at every forward
        def __init__(self, gpt):
            super().__init__()
            self.gpt = gpt

        def forward(self, idx):
            scratchnet.manual_seed(8)
            return self.gpt(idx)

        def backward(self, grad_output):
            return self.gpt.backward(grad_output)

    scratchnet.manual_seed(2)
    model = GPT(5, 4, 1, 2, 4, dropout=0.3, dtype=np.float64)
    idx = np.array([[0, 3, 3, 1], [4, 0, 2, 0]])
    assert gradcheck(Reseeded(model), idx) == []
    assert model.drop.mask is not None and not model.drop.mask.all()  # dropout really ran
    assert model.h[0].attn._cache[4] is not None  # and so did the attention's


@examples(10)
@given(T=st.integers(2, 6), t=st.integers(0, 4), seed=st.integers(0, 2**16))
def test_logits_at_t_do_not_see_later_tokens(T, t, seed):
    t = min(t, T - 2)
    scratchnet.manual_seed(seed)
    model = GPT(6, 6, 2, 2, 4, dtype=np.float64)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, 6, (2, T))
    changed = idx.copy()
    changed[:, t + 1:] = (changed[:, t + 1:] + 1 + rng.integers(0, 5, changed[:, t + 1:].shape)) % 6
    np.testing.assert_array_equal(model(idx)[:, :t + 1], model(changed)[:, :t + 1])
    assert not np.allclose(model(idx)[:, t + 1:], model(changed)[:, t + 1:])


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_decoding_under_no_grad_is_the_same_math(dtype):
    """Eval mode under torch.no_grad(), torch's fast path left on: the logits still agree at MODULE's
    tolerance, and greedy decoding agrees token for token (random weights: no tie between logits)."""
    assert torch.backends.mha.get_fastpath_enabled()
    mine, theirs = twins(vocab_size=10, block_size=8, n_layer=2, n_head=2, n_embd=8, dtype=dtype)
    mine.eval(), theirs.eval()
    idx = np.random.default_rng(0).integers(0, 10, (16, 3))
    with torch.no_grad():
        logits = to_numpy(theirs(torch.from_numpy(idx)))
    assert compare("logits", mine(idx), logits, tolerances.for_dtype(tolerances.MODULE, dtype)).passed
    generated = mine.generate(idx, 9)  # past block_size: the model reads the last 8 tokens
    np.testing.assert_array_equal(generated, torch_generate(theirs)(idx, 9))
    assert generated.shape == (16, 12) and generated.dtype == np.int64
    np.testing.assert_array_equal(generated[:, :3], idx)


def test_training_side_by_side_float64():
    """AdamW with gradient clipping on 2-digit addition, both sides from torch's weights on the same
    batches; logits, loss, every gradient and every parameter compared after each step (TRAJECTORY),
    then greedy answers to held-out prompts compared token for token."""
    data = make_addition(2, seed=0)
    mine, theirs = twins(vocab_size=len(data.vocab), block_size=data.block_size, n_layer=2, n_head=2, n_embd=16)
    criteria = CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    optimizers = (AdamW(mine.parameters(), lr=3e-3, weight_decay=0.1),
                  torch.optim.AdamW(theirs.parameters(), lr=3e-3, weight_decay=0.1))
    tol = tolerances.TRAJECTORY[tolerances.F64]
    pairs = list(zip(mine.named_parameters(), theirs.named_parameters(), strict=True))
    rng = np.random.default_rng(0)
    V = len(data.vocab)
    losses = []
    for step in range(12):
        index = rng.choice(len(data.X_train), 32, replace=False)
        X, y = data.X_train[index], data.y_train[index]

        theirs.train()
        optimizers[1].zero_grad()
        t_logits = theirs(torch.from_numpy(X))
        t_loss = criteria[1](t_logits.reshape(-1, V), torch.from_numpy(y).reshape(-1))
        t_loss.backward()
        torch.nn.utils.clip_grad_norm_(theirs.parameters(), 1.0)
        optimizers[1].step()

        mine.train()
        optimizers[0].zero_grad()
        logits = mine(X)
        loss = criteria[0](logits.reshape(-1, V), y.reshape(-1))
        mine.backward(criteria[0].backward().reshape(logits.shape))
        clip_grad_norm_(mine.parameters(), 1.0)
        optimizers[0].step()

        diffs = [compare("logits", logits, to_numpy(t_logits), tol["logits"]),
                 compare("loss", float(loss), t_loss.item(), tol["loss"])]
        for (name, p), (_, q) in pairs:
            diffs += [compare(f"grad {name}", p.grad, to_numpy(q.grad), tol["grad"]),
                      compare(name, p.data, to_numpy(q), tol["param"])]
        failed = [f"step {step}: {d.name} differs by {d.max_abs:.3e}" for d in diffs if not d.passed]
        assert not failed, failed
        losses.append(float(loss))
    assert losses[-1] < losses[0] - 0.3  # it learns: from ~ln(12) = 2.5 down

    mine.eval(), theirs.eval()
    prompts, answers = data.test_prompts()[:200], data.test_answers()[:200]
    predicted = greedy_answers(mine.generate, prompts, data.answer_length)
    assert predicted.shape == answers.shape == (200, 3)
    np.testing.assert_array_equal(predicted, greedy_answers(torch_generate(theirs), prompts, data.answer_length))


def test_memorises_a_small_training_set():
    """The cheap milestone (under a second): 64 addition examples learnt to 100% exact match by greedy
    decoding. The held-out >= 95% run takes ~25 s: ``python benchmarks/bench_transformer.py --addition``."""
    scratchnet.manual_seed(0)
    data = make_addition(2, seed=0)
    X, y = data.X_train[:64], data.y_train[:64]
    model = GPT(len(data.vocab), data.block_size, n_layer=2, n_head=4, n_embd=32, dtype=np.float32)
    criterion, optimizer = CrossEntropyLoss(), AdamW(model.parameters(), lr=3e-3)
    for _ in range(150):
        model.train()
        optimizer.zero_grad()
        logits = model(X)
        criterion(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        model.backward(criterion.backward().reshape(logits.shape))
        optimizer.step()
    model.eval()
    prompts, answers = X[:, :data.prompt_length], y[:, data.prompt_length - 1:]
    assert exact_match(greedy_answers(model.generate, prompts, data.answer_length), answers) == 1.0


@pytest.mark.parametrize("idx, error, match", [
    (np.zeros((2, 9), dtype=np.int64), ValueError, r"1 <= T <= 8, got int64 of shape \(2, 9\)"),
    (np.zeros((2, 0), dtype=np.int64), ValueError, r"1 <= T <= 8"),
    (np.zeros(4, dtype=np.int64), ValueError, r"shape \(B, T\)"),
    (np.zeros((2, 3)), ValueError, r"integer token ids .* got float64"),
    (np.full((1, 3), 11), IndexError, r"Embedding\(11, 8\) expected indices in \[0, 11\), got 11"),
    ([[1, 2]], TypeError, r"GPT input must be a numpy.ndarray"),
])
def test_bad_input(idx, error, match):
    model = GPT(11, 8, 1, 2, 8)
    with pytest.raises(error, match=match):
        model(idx)
