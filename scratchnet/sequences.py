"""Sequence data for the recurrent layers: generated "genre" signals and the digits read row by row.

Both return NumPy arrays shaped (N, T, F) -- batch first, as ``SequenceClassifier`` reads them.
The digits come from scikit-learn, imported inside ``scratchnet.data.load_dataset`` when they are
loaded, never when scratchnet is imported.
"""

import numpy as np

from scratchnet._checks import check_array, shape_str

GENRES = ("sine", "square", "sawtooth", "chirp")


def _waveform(shape_index, phase):
    """One period-1 waveform of each genre, evaluated at ``phase`` (cycles, any real)."""
    cycle = phase % 1.0
    if shape_index == 0:
        return np.sin(2 * np.pi * phase)
    if shape_index == 1:
        return np.where(cycle < 0.5, 1.0, -1.0)
    return 2 * cycle - 1  # sawtooth; the chirp reuses the sine with a rising frequency


def make_genre_signals(n_samples=1000, seq_len=32, n_features=1, n_classes=4, noise=0.3, random_state=0):
    """Noisy periodic signals whose class is their shape over time (and, past 4 classes, their pitch).

    Class k has shape ``GENRES[k % 4]`` -- sine, square, sawtooth, or a chirp (a sine whose
    frequency rises along the sequence) -- and, for k >= 4, a higher frequency band. Each sample
    draws a frequency within its band, a random phase, an amplitude in [0.5, 1.5] and Gaussian
    noise of standard deviation ``noise`` at every step; each of the ``n_features`` channels
    sees the same source with its own phase offset, gain and noise, like several microphones.
    The class cannot be read off one step: a model has to follow the signal over time.

    Returns X (n_samples, seq_len, n_features) float64 and y (n_samples,) int64, balanced
    classes in random order.
    """
    for name, value, low in (("n_samples", n_samples, 1), ("seq_len", seq_len, 2), ("n_features", n_features, 1),
                             ("n_classes", n_classes, 2)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
            raise ValueError(f"make_genre_signals: {name} must be an integer >= {low}, got {value!r}")
    if n_classes > 2 * len(GENRES):
        raise ValueError(f"make_genre_signals: n_classes must be at most {2 * len(GENRES)}, got {n_classes}")
    if not noise >= 0:
        raise ValueError(f"make_genre_signals: noise must be >= 0, got {noise!r}")
    rng = np.random.default_rng(random_state)
    y = rng.permutation(np.arange(n_samples) % n_classes).astype(np.int64)
    shape_index, band = y % len(GENRES), y // len(GENRES)
    # cycles per step: band 0 in [1/16, 1/8], band 1 in [1/6, 1/4] -- at least two cycles in 32 steps
    low, high = np.array([1 / 16, 1 / 6])[band], np.array([1 / 8, 1 / 4])[band]
    frequency = rng.uniform(low, high)[:, None, None]
    steps = np.arange(seq_len, dtype=np.float64)[None, :, None]
    is_chirp = (shape_index == 3)[:, None, None]
    # a chirp sweeps from frequency/2 to 2*frequency: phase = integral of the instantaneous frequency
    sweep = steps / max(seq_len - 1, 1)
    chirp_phase = frequency * steps * (0.5 + 0.75 * sweep)
    phase = np.where(is_chirp, chirp_phase, frequency * steps)
    phase = phase + rng.uniform(0, 1, size=(n_samples, 1, n_features))
    X = np.empty((n_samples, seq_len, n_features))
    for index in range(len(GENRES) - 1):  # one vectorised evaluation per shape, not per sample
        rows = shape_index == index
        X[rows] = _waveform(index, phase[rows])
    X[shape_index == 3] = _waveform(0, phase[shape_index == 3])
    amplitude = rng.uniform(0.5, 1.5, size=(n_samples, 1, n_features))
    X = amplitude * X + noise * rng.standard_normal(X.shape)
    return X, y


def digits_as_sequences(X):
    """scikit-learn's digits (N, 64) read row by row: (N, 8, 8), 8 steps of 8 pixels.

    Any (N, s*s) array of square images becomes (N, s, s).
    """
    check_array(X, "digits_as_sequences input")
    side = int(round(np.sqrt(X.shape[-1]))) if X.ndim == 2 else 0
    if X.ndim != 2 or side * side != X.shape[1] or side == 0:
        raise ValueError(f"digits_as_sequences expected flattened square images of shape (N, 64), "
                         f"got {shape_str(X.shape)}")
    return X.reshape(X.shape[0], side, side)

