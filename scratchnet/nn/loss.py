"""Losses: ``loss = criterion(input, target)``, then ``criterion.backward()`` gives dL/d(input).

A loss is the start of backpropagation: its ``backward(grad_output=1.0)`` returns
the gradient with respect to its first argument (the logits or predictions),
which is passed to ``model.backward``.

Every loss takes torch's ``reduction``: 'mean' (the default), 'sum', or 'none' (the
per-element losses; backward then takes dL/d(each loss) of the same shape).

Shapes must match exactly. torch broadcasts a target of shape (N, 1) against
predictions of shape (N,) (or the reverse) to (N, N) with only a warning, so the loss
silently averages N^2 prediction/target pairs, N^2 - N of them unrelated, and training
fits the wrong thing. scratchnet raises a ValueError instead and names both shapes.

The options that torch takes by position before ``reduction`` (its deprecated
``size_average`` and ``reduce``) are absent, so ``reduction`` and the options after it are
keyword-only, except where torch itself takes them by position first (``HuberLoss(reduction, delta)``).
"""

import numpy as np

from scratchnet._checks import check_array, check_float, shape_str
from scratchnet.nn import functional as F
from scratchnet.nn.module import Module

REDUCTIONS = ("mean", "sum", "none")


class _Loss(Module):
    def __init__(self, reduction="mean"):
        super().__init__()
        if reduction not in REDUCTIONS:
            raise ValueError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.reduction = reduction

    def _reduce(self, losses, denominator):
        """'mean': sum(losses) / denominator; 'sum': sum(losses); 'none': losses as they are."""
        if self.reduction == "none":
            return losses
        total = losses.sum(dtype=losses.dtype)
        if self.reduction == "sum":
            return total
        with np.errstate(invalid="ignore", divide="ignore"):  # 0 / 0 = nan, as torch (e.g. every target ignored)
            return total / losses.dtype.type(denominator)

    def _grad_losses(self, grad_output, shape, denominator, dtype):
        """dL/d(each loss): grad_output / denominator ('mean'), grad_output ('sum'), or as given ('none')."""
        grad = np.asarray(grad_output, dtype=dtype)
        if self.reduction == "none":
            if grad.shape != shape:
                raise ValueError(f"{type(self).__name__}(reduction='none') backward expected grad_output of shape "
                                 f"{shape_str(shape)}, got {shape_str(grad.shape)}")
            return grad
        if grad.ndim != 0:
            raise ValueError(f"{type(self).__name__} backward expected a scalar grad_output, got shape {shape_str(grad.shape)}")
        if self.reduction == "mean":
            # torch gives zero gradients when the denominator is 0 (every target ignored).
            return grad / dtype.type(denominator) if denominator else np.zeros_like(grad)
        return grad

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


def _check_weight_vector(weight, name, loss):
    if weight is None:
        return None
    check_float(weight, f"{loss} {name}")
    if weight.ndim == 0:
        raise ValueError(f"{loss} {name} must be an array, got a 0-d array; use shape (1,) for one value")
    return weight


def _check_broadcasts(weight, name, input, loss):
    """``weight`` (if any) has input's dtype and broadcasts to input's shape without enlarging it."""
    if weight is None:
        return
    check_float(weight, f"{loss} {name}", input.dtype)
    try:
        shape = np.broadcast_shapes(weight.shape, input.shape)
    except ValueError:
        shape = None
    if shape != input.shape:
        raise ValueError(f"{loss} {name} of shape {shape_str(weight.shape)} does not broadcast to the input's shape "
                         f"{shape_str(input.shape)}")


def _check_same_shape(input, target, loss):
    if target.shape != input.shape:
        raise ValueError(
            f"{loss} expected target of shape {shape_str(input.shape)} (the input's shape), got {shape_str(target.shape)}. "
            f"The shapes must match exactly: torch would broadcast them to "
            f"{_broadcast_str(input.shape, target.shape)} and average unrelated prediction/target pairs; "
            f"reshape the target with target.reshape({shape_str(input.shape)}) if it holds one value per prediction"
        )


def _broadcast_str(a, b):
    try:
        return shape_str(np.broadcast_shapes(a, b))
    except ValueError:
        return "nothing (they do not broadcast)"


def _check_float_target(input, target, loss, hint):
    """A float target of input's dtype and shape (regression and binary losses)."""
    check_float(input, f"{loss} input")
    check_array(target, f"{loss} target")
    if target.dtype.kind in "iub":
        raise TypeError(f"{loss} target has integer dtype {target.dtype} (class labels?), but {loss} expects float "
                        f"targets of the input's dtype {input.dtype}; {hint.format(dtype=input.dtype)}")
    check_float(target, f"{loss} target", input.dtype)
    _check_same_shape(input, target, loss)
    if input.size == 0:
        raise ValueError(f"{loss} got an empty input of shape {shape_str(input.shape)}: expected at least one element")


def _check_probabilities(values, name, loss):
    # Written so that NaN fails too (every comparison with NaN is False).
    if not ((values >= 0) & (values <= 1)).all():
        bad = values[~((values >= 0) & (values <= 1))][0]
        raise ValueError(f"{loss} {name} must be between 0 and 1, got {bad}")


class CrossEntropyLoss(_Loss):
    r"""Cross-entropy of logits against class labels, as ``torch.nn.CrossEntropyLoss``.

    Shapes: input x (N, C) logits; target y (N,) integer labels in [0, C) (or ``ignore_index``),
    or t (N, C) class probabilities of the input's float dtype. weight w: (C,) or None.

    The plain case (integer labels, no weight, smoothing or ignored sample), 'mean':

        log_p = log_softmax(x)                      (N, C), stable for large logits
        l_n   = -log_p[n, y_n]                      (N,)
        L     = sum_n l_n / N
        dL/dx = (softmax(x) - onehot(y)) / N        (N, C)

    Each option changes the target distribution a_n (N, C) that l_n = -sum_c a_nc log_p[n, c] weighs
    (a_n = onehot(y_n) above), and the denominator of 'mean':

        label_smoothing eps:  q_n = (1 - eps) onehot(y_n) + eps / C        (q_n = onehot(y_n) if eps = 0)
        probabilities t_n:    q_n = (1 - eps) t_n + eps / C;               'mean' divides by N
        weight w:             a_n = w * q_n;                               'mean' divides by sum_n w[y_n]
        ignore_index:         a_n = 0 where y_n == ignore_index;           those n leave the denominator

    Backward:  dl_n/dx_n = (sum_c a_nc) softmax(x_n) - a_n, which is softmax(x_n) - onehot(y_n) in the
    plain case; times dL/dl_n (1 / denominator for 'mean', 1 for 'sum', grad_output[n] for 'none').
    """

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be between 0.0 and 1.0, got {label_smoothing!r}")
        if weight is not None and _check_weight_vector(weight, "weight", "CrossEntropyLoss").ndim != 1:
            raise ValueError(f"CrossEntropyLoss weight must have shape (C,), got {shape_str(weight.shape)}")
        self.register_buffer("weight", weight)
        self.ignore_index = int(ignore_index)
        self.label_smoothing = float(label_smoothing)

    def forward(self, input, target):
        self._check(input, target)
        log_p = F.log_softmax(input, dim=1)
        if not self._is_plain(target):
            return self._forward_with_options(log_p, target)
        n = len(target)
        losses = -log_p[np.arange(n), target]  # l_n = -log_p[n, y_n]
        self._log_p, self._y, self._a, self._denominator = log_p, target, None, n
        return self._reduce(losses, n)

    def backward(self, grad_output=1.0):
        n = len(self._log_p)
        grad = np.exp(self._log_p)  # softmax(x)
        if self._a is None:
            grad[np.arange(n), self._y] -= 1  # softmax(x) - onehot(y)
        else:
            grad = self._a.sum(axis=1, keepdims=True) * grad - self._a  # (sum_c a_nc) softmax(x_n) - a_n
        grad_losses = self._grad_losses(grad_output, (n,), self._denominator, grad.dtype)  # 1 / N for 'mean'
        return grad * grad_losses[..., None]

    def _is_plain(self, target):
        return (target.dtype.kind in "iu" and self.weight is None and not self.label_smoothing
                and not (target == self.ignore_index).any())

    def _forward_with_options(self, log_p, target):
        """l_n = -sum_c a_nc log_p[n, c], with a_n built from label_smoothing, weight and ignore_index."""
        n, num_classes = log_p.shape
        eps = self.label_smoothing
        w = self.weight if self.weight is not None else np.ones(num_classes, dtype=log_p.dtype)
        if target.dtype.kind == "f":  # class probabilities t: nothing is ignored, 'mean' divides by N
            q, kept, denominator = target, np.ones(n, dtype=bool), n
        else:
            kept = target != self.ignore_index
            y = np.where(kept, target, 0)  # an ignored n gets any valid class; kept zeroes its row of a below
            q = np.zeros_like(log_p)
            q[np.arange(n), y] = 1  # onehot(y)
            denominator = (w[y] * kept).sum(dtype=log_p.dtype)
        q = (1 - eps) * q + eps / num_classes  # label_smoothing
        a = w * q * kept[:, None]  # weight, then ignore_index
        self._log_p, self._y, self._a, self._denominator = log_p, None, a, denominator
        return self._reduce(-(a * log_p).sum(axis=1), denominator)

    def _check(self, input, target):
        check_float(input, "CrossEntropyLoss input")
        if input.ndim != 2:
            raise ValueError(f"CrossEntropyLoss expected input logits of shape (N, C), got {shape_str(input.shape)}")
        check_array(target, "CrossEntropyLoss target")
        n, num_classes = input.shape
        if target.dtype.kind == "f" and target.ndim == 2:  # class probabilities
            check_float(target, "CrossEntropyLoss probability target", input.dtype)
            if target.shape != input.shape:
                raise ValueError(f"CrossEntropyLoss expected probability targets of shape {shape_str(input.shape)} "
                                 f"(the input's), got {shape_str(target.shape)}")
        elif target.dtype.kind not in "iu":
            raise TypeError(
                f"CrossEntropyLoss target must hold integer class labels (dtype int64) of shape ({n},), got dtype "
                f"{target.dtype} and shape {shape_str(target.shape)}; for a continuous target use a regression loss "
                f"(MSELoss, L1Loss, HuberLoss), for class probabilities a float array of shape ({n}, {num_classes})"
            )
        elif target.shape != (n,):
            raise ValueError(f"CrossEntropyLoss expected target of shape ({n},) to match input {shape_str(input.shape)}, "
                             f"got {shape_str(target.shape)}")
        if n == 0:
            raise ValueError("CrossEntropyLoss got an empty batch: expected input of shape (N, C) with N >= 1")
        if self.weight is not None:
            check_float(self.weight, "CrossEntropyLoss weight", input.dtype)
            if self.weight.shape != (num_classes,):
                raise ValueError(f"CrossEntropyLoss weight has shape {shape_str(self.weight.shape)} but the input has "
                                 f"{num_classes} classes; expected ({num_classes},)")
        if target.dtype.kind in "iu" and not (target.min() >= 0 and target.max() < num_classes):
            labels = target[target != self.ignore_index]
            if labels.size and labels.min() < 0:
                raise ValueError(f"CrossEntropyLoss target must be class labels >= 0 (or ignore_index="
                                 f"{self.ignore_index}), got {labels.min()}")
            if labels.size and labels.max() >= num_classes:
                raise ValueError(f"CrossEntropyLoss target holds label {labels.max()} but there are only {num_classes} "
                                 f"classes (labels 0..{num_classes - 1})")

    def extra_repr(self):
        return f"ignore_index={self.ignore_index}, reduction={self.reduction!r}, label_smoothing={self.label_smoothing}"


class BCEWithLogitsLoss(_Loss):
    r"""Binary cross-entropy on logits (a sigmoid and BCE in one stable step), as ``torch.nn.BCEWithLogitsLoss``.

    Shapes: input x (any shape, e.g. (N,) or (N, K)) logits; target y of the same shape and dtype,
    values in [0, 1]. weight broadcasts to x's shape; pos_weight (K,) to its last dimension.

        l = w [ (1 - y) x - (1 + (pos_weight - 1) y) log sigmoid(x) ]
          = w [ max(x, 0) - x y + log(1 + exp(-|x|)) ]      without pos_weight
    with log sigmoid(x) = min(x, 0) - log(1 + exp(-|x|)), finite for any finite logit.

    Backward:  dl/dx = w [ (1 + (pos_weight - 1) y) sigmoid(x) - pos_weight y ]   (= w (sigmoid(x) - y))
    'mean' divides by the number of elements.
    """

    def __init__(self, weight=None, *, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        self.register_buffer("weight", _check_weight_vector(weight, "weight", "BCEWithLogitsLoss"))
        self.register_buffer("pos_weight", _check_weight_vector(pos_weight, "pos_weight", "BCEWithLogitsLoss"))

    def forward(self, input, target):
        loss = "BCEWithLogitsLoss"
        _check_float_target(input, target, loss, "convert 0/1 labels with target.astype(np.{dtype})")
        _check_broadcasts(self.weight, "weight", input, loss)
        _check_broadcasts(self.pos_weight, "pos_weight", input, loss)
        _check_probabilities(target, "target", loss)
        self._x, self._y = input, target
        # log_weight = 1 + (pos_weight - 1) y: positives' log-likelihood counts pos_weight times.
        log_weight = 1 + (self.pos_weight - 1) * target if self.pos_weight is not None else 1
        losses = (1 - target) * input - log_weight * F.log_sigmoid(input)
        if self.weight is not None:
            losses = losses * self.weight
        return self._reduce(losses, input.size)

    def backward(self, grad_output=1.0):
        x, y = self._x, self._y
        grad_losses = self._grad_losses(grad_output, x.shape, x.size, x.dtype)
        if self.pos_weight is not None:
            py = self.pos_weight * y
            grad = (1 + py - y) * F.sigmoid(x) - py
        else:
            grad = F.sigmoid(x) - y
        if self.weight is not None:
            grad = grad * self.weight
        return grad * grad_losses


# torch's BCE backward clamps p (1 - p) at 1e-12 held as a float32 (9.99999996e-13), also for float64 inputs.
_BCE_GRAD_EPS = float(np.float32(1e-12))


class BCELoss(_Loss):
    r"""Binary cross-entropy on probabilities, as ``torch.nn.BCELoss``.

    Shapes: input p in [0, 1] and target y in [0, 1], same shape and dtype; weight broadcasts to p's shape.

        l = -w [ y log p + (1 - y) log(1 - p) ],   each log clamped at -100 as torch does (so p = 0 is finite)
        dl/dp = w (p - y) / max(p (1 - p), 1e-12)

    Prefer BCEWithLogitsLoss on logits: sigmoid then BCELoss loses precision for large |logits|.
    """

    def __init__(self, weight=None, *, reduction="mean"):
        super().__init__(reduction)
        self.register_buffer("weight", _check_weight_vector(weight, "weight", "BCELoss"))

    def forward(self, input, target):
        loss = "BCELoss"
        _check_float_target(input, target, loss, "convert 0/1 labels with target.astype(np.{dtype})")
        _check_broadcasts(self.weight, "weight", input, loss)
        _check_probabilities(input, "input (probabilities; for logits use BCEWithLogitsLoss)", loss)
        _check_probabilities(target, "target", loss)
        self._p, self._y = input, target
        with np.errstate(divide="ignore"):
            log_p, log_1mp = np.maximum(np.log(input), -100), np.maximum(np.log1p(-input), -100)
        losses = -(target * log_p + (1 - target) * log_1mp)
        if self.weight is not None:
            losses = losses * self.weight
        return self._reduce(losses, input.size)

    def backward(self, grad_output=1.0):
        p, y = self._p, self._y
        grad_losses = self._grad_losses(grad_output, p.shape, p.size, p.dtype)
        grad = (p - y) / np.maximum((1 - p) * p, _BCE_GRAD_EPS)
        if self.weight is not None:
            grad = grad * self.weight
        return grad * grad_losses


class _RegressionLoss(_Loss):
    """Element-wise l(d) of d = input - target; subclasses give l and dl/dd side by side."""

    def forward(self, input, target):
        name = type(self).__name__
        _check_float_target(input, target, name, "for class labels use CrossEntropyLoss (or BCEWithLogitsLoss for 0/1 "
                                                  "labels); for numeric targets convert with target.astype(np.{dtype})")
        self._diff = input - target
        return self._reduce(self._loss(self._diff), input.size)

    def backward(self, grad_output=1.0):
        d = self._diff
        return self._grad(d) * self._grad_losses(grad_output, d.shape, d.size, d.dtype)


class MSELoss(_RegressionLoss):
    """Mean squared error:  l = d^2,  dl/dd = 2 d,  d = input - target (same shape, same float dtype)."""

    def __init__(self, *, reduction="mean"):
        super().__init__(reduction)

    def _loss(self, d):
        return d * d

    def _grad(self, d):
        return 2 * d


class L1Loss(_RegressionLoss):
    """Mean absolute error:  l = |d|,  dl/dd = sign(d) (0 at d = 0, as torch),  d = input - target."""

    def __init__(self, *, reduction="mean"):
        super().__init__(reduction)

    def _loss(self, d):
        return np.abs(d)

    def _grad(self, d):
        return np.sign(d)


class HuberLoss(_RegressionLoss):
    """Huber loss, quadratic near 0 and linear beyond ``delta`` (d = input - target):

        l     = d^2 / 2                   if |d| < delta
              = delta (|d| - delta / 2)   otherwise
        dl/dd = d if |d| <= delta else delta sign(d)

    Equals delta * SmoothL1Loss(beta=delta).
    """

    def __init__(self, reduction="mean", delta=1.0):
        super().__init__(reduction)
        if not delta > 0:
            raise ValueError(f"HuberLoss delta must be positive, got {delta!r}")
        self.delta = float(delta)

    def _loss(self, d):
        abs_d = np.abs(d)
        return np.where(abs_d < self.delta, 0.5 * d * d, self.delta * (abs_d - 0.5 * self.delta))

    def _grad(self, d):
        return np.clip(d, -self.delta, self.delta)

    def extra_repr(self):
        return f"reduction={self.reduction!r}, delta={self.delta}"


class SmoothL1Loss(_RegressionLoss):
    """Smooth L1 loss, quadratic near 0 and L1 beyond ``beta`` (d = input - target):

        l     = d^2 / (2 beta)     if |d| < beta
              = |d| - beta / 2     otherwise            (beta = 0: exactly L1Loss)
        dl/dd = d / beta if |d| < beta else sign(d)
    """

    def __init__(self, *, reduction="mean", beta=1.0):
        super().__init__(reduction)
        if not beta >= 0:
            raise ValueError(f"SmoothL1Loss beta must be non-negative, got {beta!r}")
        self.beta = float(beta)

    def _loss(self, d):
        abs_d = np.abs(d)
        if self.beta == 0:
            return abs_d
        return np.where(abs_d < self.beta, 0.5 * d * d / self.beta, abs_d - 0.5 * self.beta)

    def _grad(self, d):
        if self.beta == 0:
            return np.sign(d)
        return np.clip(d / self.beta, -1.0, 1.0)

    def extra_repr(self):
        return f"reduction={self.reduction!r}, beta={self.beta}"
