"""scratchnet.text: the generated datasets are deterministic and right, the vocabulary round-trips, scoring counts."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from scratchnet.text import (DIGITS, IGNORE_INDEX, CharVocabulary, exact_match, greedy_answers, make_addition,
                             make_char_lm, make_sort, next_token_pairs, perplexity)


def full_sequences(X, y):
    """The token sequences X and y were cut from: X's first token, then y's (prompt targets are -100)."""
    return np.concatenate([X, y[:, -1:]], axis=1)


def assert_next_token_pairs(data):
    """y is X shifted by one where scored, -100 on the prompt's own targets, int64 throughout."""
    for X, y in ((data.X_train, data.y_train), (data.X_test, data.y_test)):
        assert X.dtype == y.dtype == np.int64 and X.shape == y.shape
        scored = y[:, :-1] != IGNORE_INDEX
        np.testing.assert_array_equal(y[:, :-1][scored], X[:, 1:][scored])
        if data.prompt_length is not None:
            assert (y[:, :data.prompt_length - 1] == IGNORE_INDEX).all()
            assert (y[:, data.prompt_length - 1:] != IGNORE_INDEX).all()


@pytest.mark.parametrize("n_digits, n_samples", [(1, None), (2, None), (4, 3000)])
def test_addition_answers_are_right(n_digits, n_samples):
    data = make_addition(n_digits, n_samples=n_samples, seed=3)
    n = n_digits
    assert data.block_size == 3 * n + 2 and data.prompt_length == 2 * n + 2 and data.answer_length == n + 1
    assert_next_token_pairs(data)
    seen = set()
    for X, y in ((data.X_train, data.y_train), (data.X_test, data.y_test)):
        for row in full_sequences(X, y):
            text = data.vocab.decode(row)
            question, answer = text.split("=")
            a, b = question.split("+")
            assert len(a) == len(b) == n and len(answer) == n + 1
            assert int(answer[::-1]) == int(a) + int(b)  # the sum, written least significant digit first
            seen.add((int(a), int(b)))
    total = len(data.X_train) + len(data.X_test)
    assert len(seen) == total == (n_samples or 10 ** (2 * n))  # distinct pairs; with None, every pair
    assert len(data.X_test) == math.ceil(0.2 * total)


def test_addition_example_as_the_docstring_writes_it():
    data = make_addition(2, seed=0)
    rows = full_sequences(np.concatenate([data.X_train, data.X_test]), np.concatenate([data.y_train, data.y_test]))
    assert "12+34=640" in {data.vocab.decode(row) for row in rows}


def test_test_pairs_are_held_out():
    data = make_addition(2, seed=1)
    train = {tuple(row) for row in data.X_train[:, :data.prompt_length]}
    test = {tuple(row) for row in data.test_prompts()}
    assert not train & test and len(test) == len(data.X_test)


@pytest.mark.parametrize("make", [lambda seed: make_addition(2, seed=seed), lambda seed: make_sort(seed=seed)])
def test_datasets_are_deterministic(make):
    first, again, other = make(7), make(7), make(8)
    for name in ("X_train", "X_test", "y_train", "y_test"):
        np.testing.assert_array_equal(getattr(first, name), getattr(again, name))
    assert not np.array_equal(first.X_train, other.X_train)


@pytest.mark.parametrize("length", [1, 3, 6])
def test_sort_answers_are_right(length):
    data = make_sort(length, n_samples=min(500, 10 ** length), seed=2)
    assert data.block_size == 2 * length and data.prompt_length == length + 1 and data.answer_length == length
    assert_next_token_pairs(data)
    rows = full_sequences(np.concatenate([data.X_train, data.X_test]), np.concatenate([data.y_train, data.y_test]))
    unsorted, equals, answer = rows[:, :length], rows[:, length], rows[:, length + 1:]
    assert (equals == DIGITS.index["="]).all()
    np.testing.assert_array_equal(answer, np.sort(unsorted, axis=1))
    assert len({tuple(row) for row in unsorted}) == len(rows)  # distinct: the test sequences are unseen
    np.testing.assert_array_equal(data.test_answers(), answer[len(data.X_train):])


TEXT = "To be, or not to be, that is the question:\nWhether 'tis nobler in the mind to suffer\n" * 3


@pytest.mark.parametrize("block_size, stride", [(1, 1), (4, 1), (16, 3)])
def test_char_lm_windows_follow_the_text(block_size, stride):
    data = make_char_lm(TEXT, block_size=block_size, test_size=0.25, stride=stride)
    assert data.vocab.chars == tuple(sorted(set(TEXT))) and data.prompt_length is None
    assert data.block_size == block_size
    assert_next_token_pairs(data)
    cut = round(len(TEXT) * 0.75)
    train, test = data.vocab.encode(TEXT[:cut]), data.vocab.encode(TEXT[cut:])
    T = block_size
    assert len(data.X_train) == (len(train) - T - 1) // stride + 1  # every window that fits, one per stride
    for i in (0, 1, len(data.X_train) - 1):
        np.testing.assert_array_equal(data.X_train[i], train[i * stride:i * stride + T])
        np.testing.assert_array_equal(data.y_train[i], train[i * stride + 1:i * stride + T + 1])
    # the test part: non-overlapping windows, each test character scored once
    assert len(data.X_test) == (len(test) - 1) // T
    np.testing.assert_array_equal(data.y_test.reshape(-1), test[1:len(data.X_test) * T + 1])


def test_char_lm_windows_are_views_not_copies():
    data = make_char_lm(TEXT * 20, block_size=64)
    assert np.shares_memory(data.X_train, data.y_train) and not data.X_train.flags.writeable
    assert data.X_train.base is not None


def test_char_lm_refuses_a_text_too_short():
    with pytest.raises(ValueError, match=r"the test part has 5 characters, fewer than block_size \+ 1 = 8"):
        make_char_lm("abcdefghij" * 5, block_size=7, test_size=0.1)
    with pytest.raises(TypeError, match="as a str"):
        make_char_lm(b"bytes")


@given(st.text(alphabet="abc+= \n", max_size=30))
def test_vocabulary_round_trips(text):
    vocab = CharVocabulary("abc+= \n")
    ids = vocab.encode(text)
    assert ids.dtype == np.int64 and ids.shape == (len(text),)
    assert vocab.decode(ids) == text


def test_vocabulary_refuses_unknown_characters_and_repeats():
    with pytest.raises(ValueError, match=r"characters 'xz' are not in the vocabulary '0123456789\+='"):
        DIGITS.encode("1x+z")
    with pytest.raises(ValueError, match="distinct single characters"):
        CharVocabulary("aba")
    assert DIGITS.decode(DIGITS.encode("12+34=640")) == "12+34=640" and len(DIGITS) == 12


def test_next_token_pairs_masks_the_prompt_targets():
    X, y = next_token_pairs(np.array([[1, 2, 3, 4, 5]]), prompt_length=3)
    np.testing.assert_array_equal(X, [[1, 2, 3, 4]])
    np.testing.assert_array_equal(y, [[-100, -100, 4, 5]])


def test_greedy_answers_and_exact_match():
    data = make_addition(1, seed=0)
    prompts, answers = data.test_prompts(), data.test_answers()
    lookup = {tuple(p): a for p, a in zip(prompts, answers)}

    def oracle(idx, max_new_tokens):  # writes the right answer, except to prompts starting with digit 0
        out = np.array([lookup[tuple(row)] for row in idx])
        out[idx[:, 0] == 0, 0] = (out[idx[:, 0] == 0, 0] + 1) % 10
        return np.concatenate([idx, out[:, :max_new_tokens]], axis=1)

    predicted = greedy_answers(oracle, prompts, data.answer_length, batch_size=7)  # several batches
    assert predicted.shape == answers.shape
    assert exact_match(predicted, answers) == pytest.approx(1 - (prompts[:, 0] == 0).mean())
    assert exact_match(answers, answers) == 1.0


def test_perplexity():
    assert perplexity(0.0) == 1.0
    assert perplexity(math.log(12)) == pytest.approx(12)  # uniform over 12 characters


@pytest.mark.parametrize("call, match", [
    (lambda: make_addition(0), "n_digits must be an integer >= 1"),
    (lambda: make_addition(4), "4-digit addition has 100000000 pairs; pass n_samples"),
    (lambda: make_addition(1, n_samples=101), "exceeds the 100 distinct 1-digit pairs"),
    (lambda: make_addition(2, test_size=1.0), "test_size must be between 0 and 1"),
    (lambda: make_sort(2, n_samples=101), "exceeds the 100 sequences of 2 digits"),
    (lambda: make_sort(True), "length must be an integer"),
])
def test_bad_arguments(call, match):
    with pytest.raises(ValueError, match=match):
        call()
