"""Dropout, step by step, the way a teacher draws it on the board.

    python scripts/dropout_demo.py

1. A small network (4 inputs, 8 hidden neurons, 1 output) trains for a few steps with
   nn.Dropout(p=0.5) after its hidden layer. Every step draws a new mask: ● neurons are kept and
   their outputs doubled (scaled by 1/(1-p)), ○ neurons are dropped: their output is 0, and so is
   the gradient that flows back through them, so in that step they neither act nor learn. No
   neuron can rely on a particular partner being there, which is why dropout regularizes: it
   trains a crowd of thinned networks that share weights. At inference (model.eval()) every
   neuron is active and nothing is scaled.

2. The classic exercise. With p = 0.5, a neuron whose output is 2.0 becomes 4.0 (kept, doubled)
   or 0 (dropped), each half the time. Its expected value is 0.5 * 4.0 + 0.5 * 0 = 2.0, what it
   outputs at inference: in general E[out] = (1-p) * x/(1-p) + p * 0 = x.

3. Why the scaling. Drop without scaling and the training mean is (1-p) * 2.0 = 1.0, but at
   inference the neuron outputs 2.0: the next layer, trained on inputs averaging 1.0, suddenly
   gets twice as much. Classic dropout (Srivastava et al., 2014) fixes it at inference instead,
   multiplying by (1-p): 2.0 * 0.5 = 1.0 again. Inverted dropout, PyTorch's and ours, scales
   during training, so that inference is the plain network.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np

import tinygrad_drop as td
import tinygrad_drop.nn as nn
from tinygrad_drop.utils.cli import OneLineArgumentParser, UsageError, non_negative_int, positive_int, report

KEPT, DROPPED = "●", "○"
P = 0.5
TRAINING_STEPS = 4
LEARNING_RATE = 0.1
EXERCISE_VALUE = 2.0


def neurons(kept: np.ndarray) -> str:
    return " ".join(KEPT if k else DROPPED for k in kept)


def numbers(values: np.ndarray) -> str:
    return " ".join(f"{v:5.2f}" for v in values)


class TinyNet(nn.Module):
    """4 inputs -> 8 tanh neurons -> dropout -> 1 output. Tanh, not ReLU, so that every kept
    neuron gets a nonzero gradient and the zeros in the demo come from dropout alone."""

    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(4, 8)
        self.dropout = nn.Dropout(P)
        self.out = nn.Linear(8, 1)

    def forward(self, x: td.Tensor) -> tuple[td.Tensor, td.Tensor]:
        activation = self.hidden(x).tanh()
        return self.out(self.dropout(activation)), activation


def show_training_steps() -> None:
    print(f"1. A 4-8-1 network trains with dropout p={P} on its 8 hidden neurons ({KEPT} kept, {DROPPED} dropped)\n")
    model = TinyNet()
    optimizer = td.optim.SGD(model.parameters(), lr=LEARNING_RATE)
    rng = td.random.generator()
    for step in range(1, TRAINING_STEPS + 1):
        x = td.tensor(rng.normal(size=(1, 4)).astype(np.float32))
        target = x.sum()  # something to learn: the sum of the inputs
        prediction, activation = model(x)
        loss = ((prediction.sum() - target) ** 2)
        optimizer.zero_grad()
        loss.backward()
        kept = model.dropout.mask[0]
        # a hidden neuron's incoming weights get a gradient only through its (kept) output
        learned = np.abs(model.hidden.weight.grad.numpy()).sum(axis=1) > 0
        print(f"   step {step}   hidden    {neurons(kept)}   kept {kept.sum()} of {kept.size}, loss {loss.item():.3f}")
        if step == 1:
            after = np.where(kept, activation.numpy()[0] / (1 - P), 0.0)
            print(f"            values before dropout {numbers(activation.numpy()[0])}")
            print(f"            values after dropout  {numbers(after)}   (kept x {1 / (1 - P):g}, dropped 0)")
        print(f"            gradient  {neurons(learned)}   "
              f"({KEPT} nonzero, {DROPPED} exactly 0: dropped neurons do not learn)")
        optimizer.step()
    model.eval()
    x = td.tensor(rng.normal(size=(1, 4)).astype(np.float32))
    first, second = model(x)[0].item(), model(x)[0].item()
    print(f"\n   inference (model.eval()): hidden {neurons(np.ones(8, dtype=bool))}   all active, nothing scaled;")
    print(f"   the same input gives the same output every time: {first:.4f}, {second:.4f}\n")


@dataclass
class ExerciseResult:
    inverted_train: np.ndarray  # inverted dropout in training: x / (1-p) or 0
    inverted_eval: float  # inverted dropout at inference: x
    unscaled_train: np.ndarray  # dropped without scaling: x or 0 (classic dropout's training pass)
    classic_eval: float  # classic dropout at inference: x * (1-p)


def exercise(value: float, p: float, draws: int) -> ExerciseResult:
    """One neuron with output `value`, dropped `draws` times each way, through the library's layers."""
    x = td.full((draws,), value)
    inverted, classic = nn.Dropout(p), nn.Dropout(p, inverted=False)
    result = ExerciseResult(inverted_train=inverted(x).numpy(), inverted_eval=0.0, unscaled_train=classic(x).numpy(),
                            classic_eval=0.0)
    inverted.eval()
    classic.eval()
    single = td.full((1,), value)
    result.inverted_eval, result.classic_eval = inverted(single).item(), classic(single).item()
    return result


def show_exercise(draws: int) -> None:
    x, p = EXERCISE_VALUE, P
    result = exercise(x, p, draws)
    values, counts = np.unique(result.inverted_train, return_counts=True)
    shares = ", ".join(f"{v:.1f} in {100 * c / draws:.1f}%" for v, c in zip(values, counts))
    print(f"2. The exercise: p={p}, a neuron outputs {x}. Dropped {draws:,} times in training (inverted dropout):")
    print(f"   it becomes {shares} of the draws; mean {result.inverted_train.mean():.4f}")
    print(f"   expected: (1-p) * {x}/(1-p) + p * 0 = {(1 - p) * x / (1 - p) + p * 0:.1f}, and at inference it is "
          f"{result.inverted_eval:.1f}: training and inference agree on average\n")
    print(f"3. Without the scaling: kept values stay {x}, so the training mean is "
          f"{result.unscaled_train.mean():.4f} (expected (1-p) * {x} = {(1 - p) * x:.1f}),")
    print(f"   but at inference the neuron outputs {x}: the next layer gets twice what it was trained on.")
    print(f"   Classic dropout (nn.Dropout(p, inverted=False)) fixes this at inference: it outputs "
          f"{x} * (1-p) = {result.classic_eval:.1f}.")
    print("   Inverted dropout, PyTorch's default and ours, scales in training instead, so inference is the plain "
          "network.")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = OneLineArgumentParser(prog="dropout_demo.py", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (default 0)")
    parser.add_argument("--draws", type=positive_int, default=100_000, help="draws for the exercise (default 100000)")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    try:
        args = parse_args(argv)
    except UsageError as error:
        return report(error)
    td.manual_seed(args.seed)
    show_training_steps()
    show_exercise(args.draws)
    return 0


if __name__ == "__main__":
    sys.exit(main())
