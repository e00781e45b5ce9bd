"""Losses: ``loss = criterion(input, target)``, then ``criterion.backward()`` gives dL/d(input).

Here: NLLLoss and CrossEntropyLoss (class labels, every input form torch takes), BCELoss,
BCEWithLogitsLoss and the regression losses. KLDivLoss, PoissonNLLLoss and GaussianNLLLoss are in
``loss_likelihood``; the margin losses in ``loss_margin``. The checks they share live here.

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
    def __init__(self, reduction="mean", reductions=REDUCTIONS):
        super().__init__()
        if reduction not in reductions:
            raise ValueError(f"reduction must be one of {reductions}, got {reduction!r}")
        self.reduction = reduction

    def _reduce(self, losses, denominator):
        """'mean' (and KLDivLoss's 'batchmean'): sum(losses) / denominator; 'sum': sum(losses); 'none': as they are."""
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
        if self.reduction != "sum":  # 'mean', 'batchmean'
            # torch gives zero gradients when the denominator is 0 (every target ignored).
            return grad / dtype.type(denominator) if denominator else np.zeros_like(grad)
        return grad

    def extra_repr(self):
        return f"reduction={self.reduction!r}"


def _check_weight(weight, name, loss):
    """A float array or None; its shape is checked against the input's in forward."""
    return None if weight is None else check_float(weight, f"{loss} {name}")


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


class _ClassLoss(_Loss):
    """What NLLLoss and CrossEntropyLoss share: class ``weight``, ``ignore_index``, and the forms of input they take.

    Every form is computed on rows, one row of C values per prediction:

        input  (N, C)               target (N,)              rows x (N, C)
        input  (N, C, d1, ..., dk)  target (N, d1, ..., dk)  rows x (N d1 ... dk, C), the class axis moved last
        input  (C,)                 target ()                rows x (1, C), one unbatched sample
    """

    def __init__(self, weight, ignore_index, reduction):
        super().__init__(reduction)
        if weight is not None:
            check_float(weight, f"{type(self).__name__} weight")
            if weight.ndim != 1:
                raise ValueError(f"{type(self).__name__} weight must have shape (C,), got {shape_str(weight.shape)}")
        self.register_buffer("weight", weight)
        self.ignore_index = int(ignore_index)

    def _target_weights(self, target, num_classes, dtype):
        """a (M, C) = w * onehot(y) with the rows of ignored targets zeroed, and 'mean''s denominator sum_m a_m."""
        y = target.reshape(-1)
        kept = y != self.ignore_index
        onehot = np.zeros((y.size, num_classes), dtype=dtype)
        onehot[np.arange(y.size), np.where(kept, y, 0)] = 1  # an ignored row gets any class; kept zeroes it below
        w = self.weight if self.weight is not None else np.ones(num_classes, dtype=dtype)
        a = w * onehot * kept[:, None]
        return a, a.sum(dtype=dtype)

    def _check(self, input, target, probabilities_allowed):
        """One error for every input torch refuses, before any state changes."""
        loss = type(self).__name__
        check_float(input, f"{loss} input")
        check_array(target, f"{loss} target")
        if input.ndim == 0:
            raise ValueError(f"{loss} expected input of shape (C,), (N, C) or (N, C, d1, ..., dk), got ()")
        num_classes = input.shape[0 if input.ndim == 1 else 1]
        labels_shape = _labels_shape(input.shape)
        if probabilities_allowed and target.dtype.kind == "f" and target.ndim == input.ndim:  # class probabilities
            check_float(target, f"{loss} probability target", input.dtype)
            if target.shape != input.shape:
                raise ValueError(f"{loss} expected probability targets of shape {shape_str(input.shape)} "
                                 f"(the input's), got {shape_str(target.shape)}")
            if self.ignore_index >= 0:
                raise ValueError(f"{loss} ignore_index={self.ignore_index} is not supported for probability targets "
                                 f"(torch refuses it too); leave ignore_index negative")
        elif target.dtype.kind not in "iu":
            probabilities = (f", for class probabilities a float array of shape {shape_str(input.shape)}"
                             if probabilities_allowed else "")
            raise TypeError(
                f"{loss} target must hold integer class labels (dtype int64) of shape {shape_str(labels_shape)}, got "
                f"dtype {target.dtype} and shape {shape_str(target.shape)}; for a continuous target use a regression "
                f"loss (MSELoss, L1Loss, HuberLoss){probabilities}"
            )
        elif target.shape != labels_shape:
            hint = " (an integer target of the input's shape would be class probabilities, which must be float)" if (
                probabilities_allowed and target.shape == input.shape) else ""
            raise ValueError(f"{loss} expected target of shape {shape_str(labels_shape)} to match input "
                             f"{shape_str(input.shape)}, got {shape_str(target.shape)}{hint}")
        if input.size == 0:
            raise ValueError(f"{loss} got an empty batch: expected input of shape (C,), (N, C) or (N, C, d1, ..., dk) "
                             f"with no zero size, got {shape_str(input.shape)}")
        if self.weight is not None:
            check_float(self.weight, f"{loss} weight", input.dtype)
            if self.weight.shape != (num_classes,):
                raise ValueError(f"{loss} weight has shape {shape_str(self.weight.shape)} but the input has "
                                 f"{num_classes} classes; expected ({num_classes},)")
        if target.dtype.kind in "iu" and not (target.min() >= 0 and target.max() < num_classes):
            labels = target[target != self.ignore_index]
            if labels.size and labels.min() < 0:
                raise ValueError(f"{loss} target must be class labels >= 0 (or ignore_index="
                                 f"{self.ignore_index}), got {labels.min()}")
            if labels.size and labels.max() >= num_classes:
                raise ValueError(f"{loss} target holds label {labels.max()} but there are only {num_classes} "
                                 f"classes (labels 0..{num_classes - 1})")

    def _backward_rows(self, grad_rows, grad_output):
        """dL/dx from dl_m/dx_m (M, C): times dL/dl_m, then the rows put back in the input's shape."""
        grad_losses = self._grad_losses(grad_output, self._loss_shape, self._denominator, grad_rows.dtype)
        return _from_rows(grad_rows * grad_losses.reshape(-1, 1), self._input_shape)

    def extra_repr(self):
        return f"ignore_index={self.ignore_index}, reduction={self.reduction!r}"


def _labels_shape(shape):
    """The target's shape for class labels: the input's without the class axis ((C,) -> ())."""
    return shape[:1] + shape[2:] if len(shape) > 1 else ()


def _to_rows(x):
    """(N, C, d1, ..., dk) -> (N d1 ... dk, C), the class axis last; (C,) -> (1, C)."""
    if x.ndim == 1:
        return x[None]
    return np.moveaxis(x, 1, -1).reshape(-1, x.shape[1])


def _from_rows(rows, shape):
    """The inverse of ``_to_rows`` for an input of ``shape``."""
    if len(shape) == 1:
        return rows[0]
    return np.moveaxis(rows.reshape(shape[:1] + shape[2:] + shape[1:2]), -1, 1)


class NLLLoss(_ClassLoss):
    r"""Negative log-likelihood of class labels given log-probabilities, as ``torch.nn.NLLLoss``.

    Shapes (see _ClassLoss for the other forms): input x (N, C) log-probabilities, e.g. from LogSoftmax
    (any real values are taken as they are); target y (N,) integer labels in [0, C) or ``ignore_index``;
    weight w (C,) or None (all ones).

        l_n   = -w[y_n] x[n, y_n]             (0 where y_n == ignore_index)
        L     = sum_n l_n / sum_n w[y_n]      'mean': over the n not ignored (0 / 0 = nan if all are)
        dl_n/dx_n = -w[y_n] onehot(y_n)

    With a_n = w * onehot(y_n) (zero where ignored): l_n = -sum_c a_nc x_nc and dl_n/dx_n = -a_n.
    NLLLoss(LogSoftmax(x)) is CrossEntropyLoss(x).
    """

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean"):
        super().__init__(weight, ignore_index, reduction)

    def forward(self, input, target):
        self._check(input, target, probabilities_allowed=False)
        x = _to_rows(input)  # (M, C)
        a, denominator = self._target_weights(target, x.shape[1], x.dtype)  # a_n = w * onehot(y_n)
        losses = -(a * x).sum(axis=1)  # l_n = -w[y_n] x[n, y_n]
        self._a, self._denominator = a, denominator
        self._input_shape, self._loss_shape = input.shape, target.shape
        return self._reduce(losses.reshape(target.shape), denominator)

    def backward(self, grad_output=1.0):
        return self._backward_rows(-self._a, grad_output)  # dl_n/dx_n = -a_n


class CrossEntropyLoss(_ClassLoss):
    r"""Cross-entropy of logits against class labels or class probabilities, as ``torch.nn.CrossEntropyLoss``.

    Shapes: input x (N, C) logits; target y (N,) integer labels in [0, C) (or ``ignore_index``),
    or t (N, C) class probabilities of the input's float dtype. weight w: (C,) or None.
    Also (see _ClassLoss): x (N, C, d1, ..., dk) with y (N, d1, ..., dk) or t of x's shape (one
    prediction per position, e.g. per pixel), and one unbatched sample x (C,) with y () or t (C,).

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

    (For labels that is torch's (1 - eps) NLL(log_p) + eps/C sum_c w_c (-log_p[n, c]), both terms over
    NLL's denominator. torch refuses a non-negative ignore_index with probability targets.)

    Backward:  dl_n/dx_n = (sum_c a_nc) softmax(x_n) - a_n, which is softmax(x_n) - onehot(y_n) in the
    plain case; times dL/dl_n (1 / denominator for 'mean', 1 for 'sum', grad_output[n] for 'none').
    """

    def __init__(self, weight=None, *, ignore_index=-100, reduction="mean", label_smoothing=0.0):
        super().__init__(weight, ignore_index, reduction)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"label_smoothing must be between 0.0 and 1.0, got {label_smoothing!r}")
        self.label_smoothing = float(label_smoothing)

    def forward(self, input, target):
        self._check(input, target, probabilities_allowed=True)
        log_p = F.log_softmax(_to_rows(input), dim=1)  # (N, C): one row per prediction
        self._input_shape = input.shape
        if self._is_plain(target):
            y = target.reshape(-1)
            losses = -log_p[np.arange(y.size), y]  # l_n = -log_p[n, y_n]
            self._log_p, self._y, self._a = log_p, y, None
            self._denominator, self._loss_shape = y.size, target.shape  # 'mean' divides by N
        else:
            a, denominator, loss_shape = self._target_distribution(target, log_p)
            losses = -(a * log_p).sum(axis=1)  # l_n = -sum_c a_nc log_p[n, c]
            self._log_p, self._y, self._a = log_p, None, a
            self._denominator, self._loss_shape = denominator, loss_shape
        return self._reduce(losses.reshape(self._loss_shape), self._denominator)

    def backward(self, grad_output=1.0):
        softmax = np.exp(self._log_p)
        if self._a is None:
            grad_rows = softmax
            grad_rows[np.arange(self._y.size), self._y] -= 1  # softmax(x) - onehot(y)
        else:
            grad_rows = self._a.sum(axis=1, keepdims=True) * softmax - self._a  # (sum_c a_nc) softmax(x_n) - a_n
        return self._backward_rows(grad_rows, grad_output)

    def _is_plain(self, target):
        """Integer labels, none ignored, no weight and no smoothing: a_n = onehot(y_n)."""
        return (target.dtype.kind in "iu" and target.size > 0 and self.weight is None and not self.label_smoothing
                and not (target == self.ignore_index).any())

    def _target_distribution(self, target, log_p):
        """a (M, C), 'mean''s denominator and the losses' shape, from labels or probabilities."""
        num_rows, num_classes = log_p.shape
        eps = self.label_smoothing
        w = self.weight if self.weight is not None else np.ones(num_classes, dtype=log_p.dtype)
        if target.dtype.kind == "f":  # class probabilities t: nothing is ignored, 'mean' divides by M
            q = (1 - eps) * _to_rows(target) + eps / num_classes
            return w * q, num_rows, _labels_shape(target.shape)
        onehot_weights, denominator = self._target_weights(target, num_classes, log_p.dtype)  # w * onehot(y) * kept
        kept = target.reshape(-1, 1) != self.ignore_index
        a = (1 - eps) * onehot_weights + eps / num_classes * w * kept  # w * q_n, zero where ignored
        return a, denominator, target.shape

    def extra_repr(self):
        return f"ignore_index={self.ignore_index}, reduction={self.reduction!r}, label_smoothing={self.label_smoothing}"


class BCEWithLogitsLoss(_Loss):
    r"""Binary cross-entropy on logits (a sigmoid and BCE in one stable step), as ``torch.nn.BCEWithLogitsLoss``.

    Shapes: input x (any shape, e.g. (N,) or (N, K)) logits; target y of the same shape and dtype,
    values in [0, 1]. weight broadcasts to x's shape; so does pos_weight, e.g. (K,) for the last
    dimension's K classes or a 0-d array for every element.

        l = w [ (1 - y) x - (1 + (pos_weight - 1) y) log sigmoid(x) ]
          = w [ max(x, 0) - x y + log(1 + exp(-|x|)) ]      without pos_weight
    with log sigmoid(x) = min(x, 0) - log(1 + exp(-|x|)), finite for any finite logit.

    Backward:  dl/dx = w [ (1 + (pos_weight - 1) y) sigmoid(x) - pos_weight y ]   (= w (sigmoid(x) - y))
    'mean' divides by the number of elements.
    """

    def __init__(self, weight=None, *, reduction="mean", pos_weight=None):
        super().__init__(reduction)
        self.register_buffer("weight", _check_weight(weight, "weight", "BCEWithLogitsLoss"))
        self.register_buffer("pos_weight", _check_weight(pos_weight, "pos_weight", "BCEWithLogitsLoss"))

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

    Shapes: input p in [0, 1] and target y in [0, 1], same shape and dtype; weight (e.g. a 0-d array)
    broadcasts to p's shape.

        l = -w [ y log p + (1 - y) log(1 - p) ],   each log clamped at -100 as torch does (so p = 0 is finite)
        dl/dp = w (p - y) / max(p (1 - p), 1e-12)

    Prefer BCEWithLogitsLoss on logits: sigmoid then BCELoss loses precision for large |logits|.
    """

    def __init__(self, weight=None, *, reduction="mean"):
        super().__init__(reduction)
        self.register_buffer("weight", _check_weight(weight, "weight", "BCELoss"))

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
