"""From a round's samples and the oracle's verdicts to what the learner trains on: the algorithms' one difference.

    spin   (reference answer, the iterate's own sample), target 1             SPIN: real data beats self-made
    sppo   every sample with its win probability against the opponent         SPPO's per-response regression
    dno    (best, worst) of the K samples by win rate, target P(best > worst)  DNO's batched on-policy pairs
    spo    every sample as a policy-gradient turn, reward = its win rate       SPO: a win rate is a reward
    spar   (refined, original) for each failed sample                         SPaR: minimally different pairs
    eva    (best, worst), like dno, on the prompts eva's creator chose        eva's solver

The opponent of a win rate is the same round's other samples (self-play), or
the initial model's samples for the same prompt (a fixed opponent).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sparring.preference.learner import Comparison
from sparring.preference.oracles import Oracle
from sparring.preference.tasks import Task, boxed
from sparring.samples import TurnSample


@dataclass
class Sampled:
    """One prompt of a round: its task, prompt ids, and the K responses the iterate sampled."""

    task: Task
    prompt_ids: list[int]
    ids: list[list[int]]
    logprobs: list[list[float]]
    texts: list[str]


def win_rates(oracle: Oracle, rows: Sequence[Sampled], opponents: Sequence[Sequence[str]] | None = None) -> list[list[float]]:
    """Each sample's mean P(sample > opponent): the prompt's other samples, or ``opponents[i]`` (one oracle batch).

    A prompt with a single sample and no opponents has win rate 1/2 (nothing to beat).
    """
    tasks, first, second, where = [], [], [], []
    for i, row in enumerate(rows):
        for k, text in enumerate(row.texts):
            others = opponents[i] if opponents is not None else [t for j, t in enumerate(row.texts) if j != k]
            for other in others:
                tasks.append(row.task)
                first.append(text)
                second.append(other)
                where.append((i, k))
    probs = oracle.prefer(tasks, first, second) if tasks else []
    sums = [[0.0] * len(r.texts) for r in rows]
    counts = [[0] * len(r.texts) for r in rows]
    for (i, k), p in zip(where, probs, strict=True):
        sums[i][k] += p
        counts[i][k] += 1
    return [[s / c if c else 0.5 for s, c in zip(si, ci, strict=True)] for si, ci in zip(sums, counts, strict=True)]


def spin_pairs(
    rows: Sequence[Sampled], encode: Callable[[str], list[int]]
) -> tuple[list[Comparison], list[tuple[str, str, str]]]:
    """SPIN: the reference response is chosen over each of the iterate's samples (identical ones are skipped)."""
    items, pairs = [], []
    for row in rows:
        reference = row.task.reference_response()
        if reference is None:
            continue
        for ids, text in zip(row.ids, row.texts, strict=True):
            if text.strip() == reference:
                continue
            items.append(Comparison(row.prompt_ids, [encode(reference), ids], [1.0]))
            pairs.append((row.task.prompt, reference, text))
    return items, pairs


def sppo_items(rows: Sequence[Sampled], rates: Sequence[Sequence[float]]) -> tuple[list[Comparison], list[tuple[str, str, str]]]:
    """SPPO: all K samples with their win probabilities; the pairs file gets (best, worst) where they differ."""
    items, pairs = [], []
    for row, r in zip(rows, rates, strict=True):
        items.append(Comparison(row.prompt_ids, list(row.ids), list(r)))
        best, worst = max(range(len(r)), key=r.__getitem__), min(range(len(r)), key=r.__getitem__)
        if r[best] > r[worst]:
            pairs.append((row.task.prompt, row.texts[best], row.texts[worst]))
    return items, pairs


def best_worst_pairs(
    oracle: Oracle, rows: Sequence[Sampled], rates: Sequence[Sequence[float]], margin: float = 0.0
) -> tuple[list[Comparison], list[tuple[str, str, str]]]:
    """DNO: per prompt, (best, worst) by win rate when they differ by more than ``margin``; target = P(best > worst)."""
    chosen = []
    for row, r in zip(rows, rates, strict=True):
        best, worst = max(range(len(r)), key=r.__getitem__), min(range(len(r)), key=r.__getitem__)
        if r[best] - r[worst] > margin:
            chosen.append((row, best, worst))
    probs = oracle.prefer([c[0].task for c in chosen], [c[0].texts[c[1]] for c in chosen], [c[0].texts[c[2]] for c in chosen])
    items = [Comparison(row.prompt_ids, [row.ids[b], row.ids[w]], [p]) for (row, b, w), p in zip(chosen, probs, strict=True)]
    pairs = [(row.task.prompt, row.texts[b], row.texts[w]) for row, b, w in chosen]
    return items, pairs


def spo_samples(rows: Sequence[Sampled], rates: Sequence[Sequence[float]]) -> list[TurnSample]:
    """SPO: each sample is one policy-gradient turn; reward = its win rate, advantage = reward - the prompt's mean.

    Against the round's other samples the mean win rate is exactly 1/2, so the
    advantage is the win rate's distance from a coin flip.
    """
    samples = []
    for g, (row, r) in enumerate(zip(rows, rates, strict=True)):
        mean = sum(r) / len(r)
        for ids, logprobs, text, win in zip(row.ids, row.logprobs, row.texts, r, strict=True):
            info = {"text": text, "invalid": None}
            turn = TurnSample("preference", 0, 0, 0, row.prompt_ids, ids, logprobs, win, win - mean, g, True, None, info)
            samples.append(turn)
    return samples


def edit_refine(task: Task, text: str) -> str | None:
    """The smallest edit of ``text`` that gives the reference answer: its boxed content replaced, the rest kept.

    SPaR's refiner is the model itself, searching for a minimally different
    response that the judge accepts; this programmatic refiner makes the same
    kind of pair where the task has a reference answer (the bundled model is
    too small to refine its own answers). None when there is no reference.
    """
    if task.answer is None:
        return None
    match = re.search(r"\\boxed\{[^}]*\}", text)
    if match is None:
        return boxed(task.answer)
    return text[: match.start()] + boxed(task.answer) + text[match.end() :]


def spar_pairs(
    oracle: Oracle,
    rows: Sequence[Sampled],
    encode: Callable[[str], list[int]],
    refine: Callable[[Task, str], str | None] = edit_refine,
) -> tuple[list[Comparison], list[tuple[str, str, str]]]:
    """SPaR: each sample the oracle prefers its refinement to becomes a (refined, original) pair, target 1."""
    candidates = []
    for row in rows:
        for ids, text in zip(row.ids, row.texts, strict=True):
            refined = refine(row.task, text)
            if refined is not None and refined != text:
                candidates.append((row, ids, text, refined))
    verdicts = oracle.prefer([c[0].task for c in candidates], [c[3] for c in candidates], [c[2] for c in candidates])
    items, pairs = [], []
    for (row, ids, text, refined), p in zip(candidates, verdicts, strict=True):
        if p > 0.5:
            items.append(Comparison(row.prompt_ids, [encode(refined), ids], [1.0]))
            pairs.append((row.task.prompt, refined, text))
    return items, pairs
