"""Preference oracles: who says which of two responses is better.

An oracle answers, for a batch of (task, a, b), the probability that ``a`` is
preferred to ``b``. Batched because a model judge is one forward pass per
batch, not per pair. Oracles that score one response at a time (programmatic
checks, a reward model) derive the preference from the two scores.

Specs (``preference.oracle``, ``preference.judge``; built by ``registry.make_oracle``):

    task            the task's programmatic checks: exact answer, instruction constraints (tasks.py)
    reference       the reference answer: a response equal to it beats one that is not (SPIN's data)
    intransitive    rock-paper-scissors over the digit answered, mod 3: no response is best, so a
                    method that assumes a best response (a reward, DPO against a fixed opponent)
                    can be beaten, while SPPO / SPO aim at the mixed equilibrium
    model:PATH      an LM judge asked pairwise, both orders averaged (judges.py)
    api:MODEL       the same judge over an OpenAI-compatible endpoint (judges.py)
    rm:PATH         a Bradley-Terry reward model directory: P(a > b) = sigmoid(r(a) - r(b)) (judges.py)
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Protocol

from sparring.preference.tasks import Task, check_score, read_answer


class Oracle(Protocol):
    name: str

    def prefer(self, tasks: Sequence[Task], a: Sequence[str], b: Sequence[str]) -> list[float]:
        """P(a_i preferred to b_i) for each i, in [0, 1]; 0.5 is a tie."""
        ...


def compare(x: float, y: float) -> float:
    """A hard preference from two scores: 1, 0.5 or 0."""
    return 1.0 if x > y else 0.0 if x < y else 0.5


class TaskOracle:
    """The task's own checks (:func:`tasks.check_score`): a right answer beats a clean wrong one beats junk."""

    name = "task"

    def __init__(self, format_credit: float = 0.1):
        self.format_credit = format_credit

    def score(self, tasks: Sequence[Task], texts: Sequence[str]) -> list[float]:
        return [check_score(t, x, self.format_credit) for t, x in zip(tasks, texts, strict=True)]

    def prefer(self, tasks: Sequence[Task], a: Sequence[str], b: Sequence[str]) -> list[float]:
        return [compare(x, y) for x, y in zip(self.score(tasks, a), self.score(tasks, b), strict=True)]


class ReferenceOracle:
    """SPIN's data as an oracle: the reference response beats anything else; two non-references tie."""

    name = "reference"

    def score(self, tasks: Sequence[Task], texts: Sequence[str]) -> list[float]:
        return [
            float(t.reference_response() is not None and x.strip() == t.reference_response())
            for t, x in zip(tasks, texts, strict=True)
        ]

    def prefer(self, tasks: Sequence[Task], a: Sequence[str], b: Sequence[str]) -> list[float]:
        return [compare(x, y) for x, y in zip(self.score(tasks, a), self.score(tasks, b), strict=True)]


class IntransitiveOracle:
    """Rock-paper-scissors over the answered digit mod 3: class c beats class c - 1 (mod 3).

    A response without a single-digit answer loses to any that has one. Every
    pure strategy is beaten by another, so the only unbeatable policy is the
    mix with a third of its mass on each class: its worst-case win rate
    (:meth:`worst_case_win`) is 1/2, a pure one's is 0.
    """

    name = "intransitive"
    CLASSES = 3

    @staticmethod
    def klass(text: str) -> int | None:
        answer = read_answer(text)
        return int(answer) % 3 if answer is not None and re.fullmatch(r"\d", answer) else None

    def _beats(self, ca: int | None, cb: int | None) -> float:
        if ca is None or cb is None:
            return 0.5 if ca == cb else (0.0 if ca is None else 1.0)
        return 0.5 if ca == cb else (1.0 if (ca - cb) % self.CLASSES == 1 else 0.0)

    def prefer(self, tasks: Sequence[Task], a: Sequence[str], b: Sequence[str]) -> list[float]:
        return [self._beats(self.klass(x), self.klass(y)) for x, y in zip(a, b, strict=True)]

    def shares(self, texts: Sequence[str]) -> list[float]:
        """The share of ``texts`` answering each class 0, 1, 2, then the share with no single-digit answer."""
        classes = [self.klass(t) for t in texts]
        n = max(1, len(classes))
        return [sum(c == k for c in classes) / n for k in range(self.CLASSES)] + [sum(c is None for c in classes) / n]

    def worst_case_from_shares(self, shares: Sequence[float]) -> float:
        """min over the three pure answers c of P(a response drawn by ``shares`` > c); no answer loses to c."""
        return min(sum(shares[k] * self._beats(k, pure) for k in range(self.CLASSES)) for pure in range(self.CLASSES))

    def worst_case_win(self, texts: Sequence[str]) -> float:
        """min over the three pure answers c of the mean P(response > c): 1/2 at the equilibrium, 0 when exploitable."""
        return self.worst_case_from_shares(self.shares(texts)) if texts else 0.0


def win_matrix(oracle: Oracle, task: Task, responses: Sequence[str]) -> list[list[float]]:
    """P[i][j] = P(response i > response j) over one prompt's responses (the diagonal is 1/2); one oracle batch."""
    n = len(responses)
    pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
    probs = oracle.prefer([task] * len(pairs), [responses[i] for i, _ in pairs], [responses[j] for _, j in pairs])
    matrix = [[0.5] * n for _ in range(n)]
    for (i, j), p in zip(pairs, probs, strict=True):
        matrix[i][j], matrix[j][i] = p, 1.0 - p
    return matrix


def sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))
