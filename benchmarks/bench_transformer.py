"""Transformer speed: scratchnet vs torch, single-threaded on both sides, alternating in one process.

(a) one TransformerEncoderLayer(d_model 128, 4 heads, dim_feedforward 512, dropout 0, batch_first), forward +
    backward on a batch of 32 sequences of 64 (of sum(y * G) for a fixed G; the input requires a gradient).
(b) one training step of a GPT (2 layers, 4 heads, n_embd 128, block 64, vocabulary 65: a character model)
    on a batch of 32: forward, CrossEntropyLoss over the (B*T, V) logits, backward, AdamW.
(c) the same step for the 2-digit addition GPT (2 layers, 4 heads, n_embd 64, block 8, vocabulary 12), batch 64.

Prints the median time of each side and the ratio scratchnet / torch (target <= 1.5).

    python benchmarks/bench_transformer.py [--dtype float32] [--profile]
    python benchmarks/bench_transformer.py --addition     # train 2-digit addition to >= 95% held-out exact match

--profile prints where scratchnet's time goes in each case (cProfile, the functions with the most own time).
"""

import timing  # noqa: F401  (must come first: pins threads before NumPy/torch load)

import argparse
import cProfile
import pstats
import time

import numpy as np
import torch

import scratchnet
import torchnet.models
from parity.transfer import torch_dtype, torch_to_scratch
from scratchnet.models import GPT
from scratchnet.text import exact_match, greedy_answers, make_addition

TARGET = 1.5


def encoder_layer_case(dtype, rng):
    twin = torch.nn.TransformerEncoderLayer(128, 4, dim_feedforward=512, dropout=0.0, batch_first=True,
                                            dtype=torch_dtype(dtype))
    mine = torch_to_scratch(twin, scratchnet.nn.TransformerEncoderLayer(128, 4, dim_feedforward=512, dropout=0.0,
                                                                        batch_first=True, dtype=dtype))
    x, grad = (rng.standard_normal((32, 64, 128)).astype(dtype) for _ in range(2))
    x_t, grad_t = torch.tensor(x, requires_grad=True), torch.tensor(grad)

    def run_scratch():
        mine.zero_grad()
        mine(x)
        mine.backward(grad)

    def run_torch():
        twin.zero_grad()
        x_t.grad = None
        twin(x_t).backward(grad_t)

    return run_scratch, run_torch


def gpt_step_case(dtype, rng, vocab_size, block_size, n_layer, n_head, n_embd, batch_size):
    torch.manual_seed(0)
    twin = torchnet.models.GPT(vocab_size, block_size, n_layer, n_head, n_embd, dtype=torch_dtype(dtype))
    mine = torch_to_scratch(twin, GPT(vocab_size, block_size, n_layer, n_head, n_embd, dtype=dtype))
    X = rng.integers(0, vocab_size, (batch_size, block_size))
    y = rng.integers(0, vocab_size, (batch_size, block_size))
    X_t, y_t = torch.tensor(X), torch.tensor(y)
    criterion, criterion_t = scratchnet.nn.CrossEntropyLoss(), torch.nn.CrossEntropyLoss()
    optimizer, optimizer_t = scratchnet.optim.AdamW(mine.parameters()), torch.optim.AdamW(twin.parameters())

    def run_scratch():
        optimizer.zero_grad()
        logits = mine(X)
        criterion(logits.reshape(-1, vocab_size), y.reshape(-1))
        mine.backward(criterion.backward().reshape(logits.shape))
        optimizer.step()

    def run_torch():
        optimizer_t.zero_grad()
        criterion_t(twin(X_t).reshape(-1, vocab_size), y_t.reshape(-1)).backward()
        optimizer_t.step()

    return run_scratch, run_torch


CASES = [
    ("(a) encoder layer fwd+bwd, 32x64x128", encoder_layer_case),
    ("(b) GPT train step, char model, 32x64",
     lambda dtype, rng: gpt_step_case(dtype, rng, 65, 64, 2, 4, 128, 32)),
    ("(c) GPT train step, addition model, 64x8",
     lambda dtype, rng: gpt_step_case(dtype, rng, 12, 8, 2, 4, 64, 64)),
]


def profile(label, run, calls=20, top=12):
    profiler = cProfile.Profile()
    profiler.runcall(lambda: [run() for _ in range(calls)])
    print(f"\nwhere scratchnet's time goes in {label} ({calls} calls, by own time):")
    pstats.Stats(profiler).strip_dirs().sort_stats("tottime").print_stats(top)


def train_addition(n_layer=2, n_head=4, n_embd=64, lr=1e-3, batch_size=64, max_epochs=20, target=0.95, seed=0):
    """Train a float32 GPT on 2-digit addition with AdamW until the held-out exact match reaches ``target``."""
    scratchnet.manual_seed(seed)
    data = make_addition(2, seed=seed)
    model = GPT(len(data.vocab), data.block_size, n_layer, n_head, n_embd, dtype=np.float32)
    criterion = scratchnet.nn.CrossEntropyLoss()
    optimizer = scratchnet.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.1)
    rng = np.random.default_rng(seed)
    print(f"2-digit addition: {len(data.X_train)} training sums, {len(data.X_test)} held out; "
          f"GPT(n_layer={n_layer}, n_head={n_head}, n_embd={n_embd}), AdamW lr {lr}, batch {batch_size}")
    start, training_time = time.perf_counter(), 0.0
    for epoch in range(1, max_epochs + 1):
        epoch_start, total = time.perf_counter(), 0.0
        batches = np.array_split(rng.permutation(len(data.X_train)), len(data.X_train) // batch_size)
        for index in batches:
            model.train()
            optimizer.zero_grad()
            logits = model(data.X_train[index])
            total += criterion(logits.reshape(-1, logits.shape[-1]), data.y_train[index].reshape(-1))
            model.backward(criterion.backward().reshape(logits.shape))
            optimizer.step()
        training_time += time.perf_counter() - epoch_start
        model.eval()
        accuracy = exact_match(greedy_answers(model.generate, data.test_prompts(), data.answer_length),
                               data.test_answers())
        print(f"epoch {epoch:2d}  loss {total / len(batches):.4f}  held-out exact match {accuracy:.2%}  "
              f"({time.perf_counter() - start:.1f} s, {training_time:.1f} s training)", flush=True)
        if accuracy >= target:
            break
    prompts = data.test_prompts()[:5]
    for prompt, answer in zip(prompts, greedy_answers(model.generate, prompts, data.answer_length)):
        question = data.vocab.decode(prompt)
        print(f"  {question}{data.vocab.decode(answer)}   (reads {question}{data.vocab.decode(answer)[::-1]})")
    return accuracy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtype", default="float32", choices=["float32", "float64"])
    parser.add_argument("--profile", action="store_true", help="print where scratchnet's time goes in each case")
    parser.add_argument("--addition", action="store_true", help="train 2-digit addition to >= 95%% exact match")
    args = parser.parse_args(argv)
    if args.addition:
        return train_addition()
    dtype = np.dtype(args.dtype)
    timing.header(f"Transformer, {args.dtype}")
    rng = np.random.default_rng(0)
    ratios = {}
    for label, build in CASES:
        run_scratch, run_torch = build(dtype, rng)
        medians = timing.alternate({"scratchnet": run_scratch, "torch": run_torch})
        ratios[label] = timing.report_row(label, medians, TARGET)
        if args.profile:
            profile(label, run_scratch)
    return ratios


if __name__ == "__main__":
    main()
