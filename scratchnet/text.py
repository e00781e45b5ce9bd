"""Token datasets for the GPT, generated from a seed (no download), and a character vocabulary.

Every dataset is next-token prediction on sequences of token ids, as plain int64 NumPy arrays:

    X (N, T)  the sequence without its last token            T = the model's block_size
    y (N, T)  the sequence without its first token: y[:, t] is the token that follows X[:, :t+1],
              or -100 (CrossEntropyLoss's ignore_index) where that prediction is not scored

A GPT's logits (N, T, V) are scored against y by CrossEntropyLoss on logits.reshape(N*T, V) and
y.reshape(N*T). Three datasets:

- ``make_addition``: minGPT's adder. "12+34=" then the sum's n+1 digits, least significant first
  ("640" for 046): a carry flows from a digit to the next one written, so each answer digit
  depends on two prompt digits and the digit just written, which a small model learns quickly;
  written most significant first, the first digit would need every carry at once. Only the sum's
  digits are scored; held-out pairs form the test set, scored by exact match.
- ``make_sort``: a sequence of digits, "=", the same digits sorted ("31402=01234").
- ``make_char_lm``: any text as a character-level language model, in windows of block_size; scored
  by loss and perplexity exp(loss).

For the two exact-match tasks the first ``prompt_length`` tokens of a sequence are the question
and the rest its answer: ``greedy_answers`` decodes the test prompts with a model's ``generate``
and ``exact_match`` counts the answers right in every token.
"""

import math
from dataclasses import dataclass

import numpy as np

IGNORE_INDEX = -100  # CrossEntropyLoss's default ignore_index: a target that is not scored


class CharVocabulary:
    """Characters <-> token ids: character ``chars[i]`` is token i."""

    def __init__(self, chars):
        self.chars = tuple(chars)
        if len(set(self.chars)) != len(self.chars) or not all(isinstance(c, str) and len(c) == 1 for c in self.chars):
            raise ValueError(f"a vocabulary needs distinct single characters, got {chars!r}")
        self.index = {char: i for i, char in enumerate(self.chars)}

    @classmethod
    def from_text(cls, text):
        """The distinct characters of ``text``, in sorted order."""
        return cls(sorted(set(text)))

    def __len__(self):
        return len(self.chars)

    def encode(self, text):
        """The token ids of ``text``: int64 (len(text),)."""
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            raise ValueError(f"characters {''.join(unknown)!r} are not in the vocabulary {''.join(self.chars)!r}")
        return np.array([self.index[char] for char in text], dtype=np.int64)

    def decode(self, ids):
        """The text of a sequence of token ids."""
        return "".join(self.chars[int(i)] for i in ids)

    def __repr__(self):
        return f"CharVocabulary({''.join(self.chars)!r})"


# Addition and sort share one vocabulary; digit d is token d, so sequences are built arithmetically.
DIGITS = CharVocabulary("0123456789+=")
PLUS, EQUALS = DIGITS.index["+"], DIGITS.index["="]


@dataclass
class TokenDataset:
    """A next-token dataset: int64 X, y of shape (N, T) for train and test (see the module docstring).

    ``prompt_length``: for an exact-match task, how many tokens of each sequence are the question
    (None for a language model). The full test sequences are X_test[:, 0] followed by y_test with
    the question's targets masked, so the question is X_test[:, :prompt_length] and the answer
    y_test[:, prompt_length - 1:].
    """

    name: str
    vocab: CharVocabulary
    X_train: np.ndarray
    X_test: np.ndarray
    y_train: np.ndarray
    y_test: np.ndarray
    prompt_length: int = None

    @property
    def block_size(self):
        """T: the context a model needs."""
        return self.X_train.shape[1]

    @property
    def answer_length(self):
        return None if self.prompt_length is None else self.block_size + 1 - self.prompt_length

    def test_prompts(self):
        """The test questions (N_test, prompt_length)."""
        return self.X_test[:, :self.prompt_length]

    def test_answers(self):
        """The test answers (N_test, answer_length)."""
        return self.y_test[:, self.prompt_length - 1:]


def next_token_pairs(sequences, prompt_length=1):
    """X = sequences[:, :-1], y = sequences[:, 1:], with the targets inside the prompt set to -100.

    y[:, t] is the token at t + 1; the first answer token sits at prompt_length, so
    y[:, :prompt_length - 1] are the prompt's own tokens, not scored.
    """
    X = sequences[:, :-1].copy()
    y = sequences[:, 1:].copy()
    y[:, :prompt_length - 1] = IGNORE_INDEX
    return X, y


def make_addition(n_digits=2, n_samples=None, test_size=0.2, seed=0):
    """minGPT's adder: a + b for n-digit a, b, as "a+b=" then the sum's n+1 digits reversed.

    "12+34=640" (12 + 34 = 046, written 640): tokens (N, 3n+3), X and y (N, 3n+2),
    prompt_length 2n+2. ``n_samples``: how many distinct pairs (a, b), drawn without
    replacement from the 10^(2n) there are (all of them when None, up to n_digits 3);
    ``test_size`` of them, never seen in training, form the test set.
    """
    _check_count(n_digits, "n_digits", 1)
    pairs = 10 ** (2 * n_digits)
    if n_samples is None and n_digits > 3:
        raise ValueError(f"make_addition: {n_digits}-digit addition has {pairs} pairs; pass n_samples to draw fewer")
    n_samples = pairs if n_samples is None else _check_count(n_samples, "n_samples", 2)
    if n_samples > pairs:
        raise ValueError(f"make_addition: n_samples {n_samples} exceeds the {pairs} distinct {n_digits}-digit pairs")
    rng = np.random.default_rng(seed)
    codes = rng.permutation(pairs) if n_samples == pairs else rng.choice(pairs, n_samples, replace=False)
    a, b = np.divmod(codes, 10 ** n_digits)
    c = a + b
    sequences = np.concatenate([
        _digits(a, n_digits), np.full((n_samples, 1), PLUS),
        _digits(b, n_digits), np.full((n_samples, 1), EQUALS),
        _digits(c, n_digits + 1)[:, ::-1],  # the sum, least significant digit first
    ], axis=1)
    return _split(f"addition-{n_digits}", sequences, prompt_length=2 * n_digits + 2, test_size=test_size)


def make_sort(length=6, n_samples=5000, test_size=0.2, seed=0):
    """Sort ``length`` digits: "314022=012234". Tokens (N, 2L+1), X and y (N, 2L), prompt_length L+1.

    ``n_samples`` distinct sequences drawn without replacement from the 10^L there are; the
    test sequences are never seen in training.
    """
    _check_count(length, "length", 1)
    _check_count(n_samples, "n_samples", 2)
    if n_samples > 10 ** length:
        raise ValueError(f"make_sort: n_samples {n_samples} exceeds the {10 ** length} sequences of {length} digits")
    rng = np.random.default_rng(seed)
    unsorted = _digits(rng.choice(10 ** length, n_samples, replace=False), length)
    sequences = np.concatenate([unsorted, np.full((n_samples, 1), EQUALS), np.sort(unsorted, axis=1)], axis=1)
    return _split(f"sort-{length}", sequences, prompt_length=length + 1, test_size=test_size)


def make_char_lm(text, block_size=64, test_size=0.1, stride=1, name="text"):
    """A character-level language model of ``text``: the first 1 - test_size of it trains, the rest tests.

    Training windows start every ``stride`` characters (every one by default, as minGPT's CharDataset):
    X_train[i] = ids[i*stride : i*stride + T], y_train[i] = the same window one character later. The
    test part is cut into non-overlapping windows (stride T), so each test character is scored once.
    Windows are read-only views of one array of ids (NumPy's sliding_window_view): N windows of T
    take the memory of the text, not N*T ids, until a caller copies them all (index batches instead).
    The vocabulary is the text's characters; every target is scored.
    """
    _check_count(block_size, "block_size", 1)
    _check_count(stride, "stride", 1)
    if not isinstance(text, str):
        raise TypeError(f"make_char_lm expects the text as a str, got {type(text).__name__}")
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be between 0 and 1 (a fraction of the text), got {test_size}")
    vocab = CharVocabulary.from_text(text)
    ids = vocab.encode(text)
    cut = int(round(len(ids) * (1 - test_size)))
    parts = []
    for part_name, part, step in (("training", ids[:cut], stride), ("test", ids[cut:], block_size)):
        if len(part) < block_size + 1:  # a window's targets run one character further
            raise ValueError(f"make_char_lm: the {part_name} part has {len(part)} characters, fewer than "
                             f"block_size + 1 = {block_size + 1}; give a longer text or a smaller block_size")
        windows = np.lib.stride_tricks.sliding_window_view(part, block_size + 1)[::step]  # (N, T + 1), a view
        parts.append((windows[:, :-1], windows[:, 1:]))
    (X_train, y_train), (X_test, y_test) = parts
    return TokenDataset(name, vocab, X_train, X_test, y_train, y_test)


def greedy_answers(generate, prompts, answer_length, batch_size=1000):
    """The answer_length tokens ``generate(prompts, answer_length)`` appends to each prompt: (N, answer_length).

    ``generate`` is a model's greedy decoder on NumPy int64 arrays (scratchnet's ``GPT.generate``,
    or a wrapper around torch's); prompts go through it batch_size at a time.
    """
    answers = [generate(prompts[start:start + batch_size], answer_length)[:, prompts.shape[1]:]
               for start in range(0, len(prompts), batch_size)]
    return np.concatenate(answers)


def exact_match(predicted, answers):
    """The fraction of rows whose every token is right."""
    return float((predicted == answers).all(axis=1).mean())


def perplexity(loss):
    """exp(mean cross-entropy in nats): the number of equally likely characters the model hesitates between."""
    return math.exp(loss)


def _digits(values, width):
    """The decimal digits of each value, most significant first, zero-padded: (N, width)."""
    powers = 10 ** np.arange(width - 1, -1, -1)
    return (values[:, None] // powers) % 10


def _split(name, sequences, prompt_length, test_size):
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be between 0 and 1 (a fraction of the samples), got {test_size}")
    n_test = int(math.ceil(test_size * len(sequences)))
    if n_test >= len(sequences):
        raise ValueError(f"test_size {test_size} leaves no training sample of {len(sequences)}")
    X, y = next_token_pairs(sequences.astype(np.int64), prompt_length)
    # the rows are already in random order: the first n_test are the held-out test set
    return TokenDataset(name, DIGITS, X[n_test:], X[:n_test], y[n_test:], y[:n_test], prompt_length)


def _check_count(value, name, low):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)
