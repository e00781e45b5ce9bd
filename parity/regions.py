"""What the two trained models decide over the plane, for ``python -m parity --report`` on a 2-D dataset.

Both models predict the class of every point of a grid covering the data with a margin; the
report draws the two maps side by side over the training points, and a third map marking every
grid point where the two predictions differ. In float64 that map should be empty; in float32 it
shows where rounding flips a decision, which can happen only on a decision boundary.
"""

import numpy as np
import torch

from parity.transfer import to_numpy, to_torch

RESOLUTION = 150  # grid points along each axis
MARGIN = 0.25  # beyond the data's range, as a fraction of that range


def plane_grid(X, resolution=RESOLUTION, margin=MARGIN):
    """The grid's axes ``xs``, ``ys`` (``resolution`` values each) and its points (resolution², 2), row by row."""
    low, high = X.min(axis=0), X.max(axis=0)
    pad = margin * (high - low)
    xs = np.linspace(low[0] - pad[0], high[0] + pad[0], resolution)
    ys = np.linspace(low[1] - pad[1], high[1] + pad[1], resolution)
    gx, gy = np.meshgrid(xs, ys)
    return xs, ys, np.stack([gx.ravel(), gy.ravel()], axis=1).astype(X.dtype)


def decision_regions(scratch_model, torch_model, predict, X, y):
    """Each side's predicted class on the grid, and the points ``X``, ``y`` to draw over it, as plain lists.

    ``predict(outputs)`` turns a model's outputs into class labels (argmax, or logit > 0); both models
    are evaluated in eval mode on the same grid.
    """
    xs, ys, points = plane_grid(X)
    scratch_model.eval()
    torch_model.eval()
    with torch.no_grad():
        theirs = predict(to_numpy(torch_model(to_torch(points))))
    mine = predict(scratch_model(points))
    shape = (len(ys), len(xs))
    return {"x": xs.tolist(), "y": ys.tolist(),
            "scratchnet": mine.reshape(shape).tolist(), "torch": theirs.reshape(shape).tolist(),
            "differ": int((mine != theirs).sum()), "points": X.tolist(), "labels": y.tolist()}
