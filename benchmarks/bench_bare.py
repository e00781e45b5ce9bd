"""Reference points: a bare hand-written NumPy training step, no library around it, against torch.

    python benchmarks/bench_bare.py

The lecture's MLP step (forward, softmax cross-entropy, backward without the first layer's
input gradient, Adam) and an RNN forward+backward (input 8, hidden 64, 8 steps, batch 256),
written straight in NumPy with no modules, checks or caches. They are timed alternating with
scratchnet's and torch's versions of the same work, to show how much of scratchnet's time is
the library and how much is NumPy itself.
"""

import timing  # noqa: F401  (must come first: pins threads before NumPy/torch load)

import math

import numpy as np

import bench_mlp
import bench_rnn


def bare_mlp_step(batch=800, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((batch, 20)).astype(np.float32)
    y = rng.integers(0, 2, batch)
    weights = [(rng.standard_normal((o, i)) * 0.1).astype(np.float32) for i, o in [(20, 64), (64, 64), (64, 2)]]
    biases = [np.zeros(o, np.float32) for o in (64, 64, 2)]
    params = weights + biases
    m, v, t = [np.zeros_like(p) for p in params], [np.zeros_like(p) for p in params], [0]
    rows = np.arange(batch)

    def step():
        z1 = X @ weights[0].T + biases[0]
        a1 = np.maximum(z1, 0)
        z2 = a1 @ weights[1].T + biases[1]
        a2 = np.maximum(z2, 0)
        logits = a2 @ weights[2].T + biases[2]
        e = np.exp(logits - logits.max(1, keepdims=True))
        p = e / e.sum(1, keepdims=True)
        _ = -np.log(p[rows, y]).mean()
        g = p
        g[rows, y] -= 1
        g /= batch
        dW3, db3, da2 = g.T @ a2, g.sum(0), g @ weights[2]
        da2 *= z2 > 0
        dW2, db2, da1 = da2.T @ a1, da2.sum(0), da2 @ weights[1]
        da1 *= z1 > 0
        dW1, db1 = da1.T @ X, da1.sum(0)
        t[0] += 1
        bc1, bc2 = 1 - 0.9 ** t[0], math.sqrt(1 - 0.999 ** t[0])
        for param, grad, m_, v_ in zip(params, [dW1, dW2, dW3, db1, db2, db3], m, v):
            m_ *= 0.9
            m_ += 0.1 * grad
            v_ *= 0.999
            v_ += 0.001 * grad * grad
            param -= (1e-3 / bc1) * m_ / (np.sqrt(v_) / bc2 + 1e-8)

    return step


def bare_rnn_step(seed=0):
    T, N, I, H = bench_rnn.SEQ_LEN, bench_rnn.BATCH, bench_rnn.INPUT, bench_rnn.HIDDEN
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((T, N, I)).astype(np.float32)
    g = rng.standard_normal((T, N, H)).astype(np.float32)
    w_ih = (rng.standard_normal((H, I)) * 0.1).astype(np.float32)
    w_hh = (rng.standard_normal((H, H)) * 0.1).astype(np.float32)
    b = np.zeros(H, np.float32)
    hs, da = np.empty((T + 1, N, H), np.float32), np.empty((T, N, H), np.float32)

    def step():
        xw = (x.reshape(T * N, I) @ w_ih.T).reshape(T, N, H)
        xw += b
        hs[0] = 0
        for t in range(T):
            a = np.matmul(hs[t], w_hh.T, out=hs[t + 1])
            a += xw[t]
            np.tanh(a, out=a)
        dh = np.zeros((N, H), np.float32)
        for t in reversed(range(T)):
            dh += g[t]
            np.multiply(hs[t + 1], hs[t + 1], out=da[t])
            np.subtract(1, da[t], out=da[t])
            da[t] *= dh
            dh = da[t] @ w_hh
        rows = da.reshape(T * N, H)
        _ = rows.T @ hs[:-1].reshape(T * N, H), rows.T @ x.reshape(T * N, I), np.ones(T * N, np.float32) @ rows
        return rows @ w_ih

    return step


def main():
    timing.header("Bare hand-written NumPy steps, float32, for reference")
    for label, bare, case in [("lecture MLP step, batch 800", bare_mlp_step(), bench_mlp.make_case((20, 64, 64, 2), 800)),
                              ("RNN forward+backward", bare_rnn_step(), bench_rnn.make_case("RNN", np.dtype(np.float32)))]:
        medians = timing.alternate({"bare": bare, **case})
        print(f"{label:<30} bare/torch {medians['bare'] / medians['torch']:.2f}   "
              f"scratchnet/torch {medians['scratchnet'] / medians['torch']:.2f}   "
              f"(bare {medians['bare'] * 1e3:.3f} ms, scratchnet {medians['scratchnet'] * 1e3:.3f} ms, "
              f"torch {medians['torch'] * 1e3:.3f} ms)")


if __name__ == "__main__":
    main()
