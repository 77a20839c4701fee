"""Make the bundled preference tasks: ``python -m sparring.preference.make_tasks`` (seeded; rerunning gives the same files).

Two families, short enough for the bundled 3.4M-parameter model to learn on a CPU:

- arithmetic: ``a + b`` and ``a - b`` over digits (answers 0..18), three phrasings,
  checked by exact answer; a fifth of the (op, a, b) combinations is held out,
  so held-out accuracy measures arithmetic the model never saw, in any phrasing;
- constraints: "write an even digit", "a number between 3 and 7", "a lowercase
  word of 3 letters"...; checked by the constraint checkers, with one
  reference answer that satisfies them.

And the synthetic intransitive set: "pick a digit" prompts whose oracle is
rock-paper-scissors over the digit mod 3 (``oracles.IntransitiveOracle``).
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

from sparring.preference.tasks import ASSETS

ARITH_PHRASES = ["What is {a} {op} {b}?", "Compute {a} {op} {b}.", "{a} {op} {b} = ?"]
WORDS = ["cat", "dog", "sun", "red", "box", "cup", "hat", "pen", "sky", "map", "bird", "fish", "tree", "blue", "star"]


def arithmetic(rng: random.Random) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    combos = [("+", a, b) for a in range(10) for b in range(10)] + [("-", a, b) for a in range(10) for b in range(a + 1)]
    rng.shuffle(combos)
    held = set(combos[: len(combos) // 5])
    train, heldout = [], []
    for op, a, b in sorted(combos):
        value = a + b if op == "+" else a - b
        for k, phrase in enumerate(ARITH_PHRASES):
            row = {
                "id": f"arith-{'add' if op == '+' else 'sub'}-{a}-{b}-{k}",
                "prompt": phrase.format(a=a, op=op, b=b),
                "answer": str(value),
                "meta": {"family": "arithmetic", "op": op, "a": a, "b": b},
            }
            (heldout if (op, a, b) in held else train).append(row)
    return train, heldout


def constraint_rows(rng: random.Random, n: int) -> list[dict[str, Any]]:
    """``n`` constraint tasks drawn from the templates below, each with a reference answer that passes."""
    rows = []
    for i in range(n):
        kind = rng.randrange(6)
        if kind == 0:
            answer = str(rng.choice([0, 2, 4, 6, 8]))
            row = ("Write an even digit.", answer, [{"kind": "digits", "n": 1}, {"kind": "even"}])
        elif kind == 1:
            answer = str(rng.choice([1, 3, 5, 7, 9]))
            row = ("Write an odd digit.", answer, [{"kind": "digits", "n": 1}, {"kind": "odd"}])
        elif kind == 2:
            lo = rng.randrange(0, 7)
            hi = lo + rng.randrange(2, 4)
            answer = str(rng.randint(lo, hi))
            row = (f"Write a number between {lo} and {hi}.", answer, [{"kind": "between", "lo": lo, "hi": hi}])
        elif kind == 3:
            answer = str(rng.randint(10, 99))
            row = ("Write a two-digit number.", answer, [{"kind": "digits", "n": 2}])
        elif kind == 4:
            word = rng.choice(WORDS)
            answer = word
            row = (
                f"Write a lowercase word with {len(word)} letters.",
                answer,
                [{"kind": "lowercase"}, {"kind": "length", "n": len(word)}],
            )
        else:
            first = rng.randrange(1, 10)
            answer = f"{first}{rng.randrange(10)}"
            row = (
                f"Write a two-digit number that starts with {first}.",
                answer,
                [{"kind": "digits", "n": 2}, {"kind": "starts_with", "prefix": str(first)}],
            )
        prompt, answer, checks = row
        rows.append(
            {"id": f"constraint-{i}", "prompt": prompt, "answer": answer, "checks": checks, "meta": {"family": "constraint"}}
        )
    return rows


def intransitive_rows(n: int, offset: int = 0) -> list[dict[str, Any]]:
    phrases = ["Pick a digit.", "Choose a digit.", "Name one digit.", "Say a digit.", "Give me a digit."]
    return [
        {
            "id": f"pick-{offset + i}",
            "prompt": f"{phrases[i % len(phrases)]} Round {offset + i}.",
            "meta": {"family": "intransitive"},
        }
        for i in range(n)
    ]


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> None:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def main(out: Path = ASSETS, seed: int = 0) -> None:
    rng = random.Random(seed)
    train, heldout = arithmetic(rng)
    constraints = constraint_rows(rng, 160)
    train += constraints[:120]
    heldout += constraints[120:]
    rng.shuffle(train)
    rng.shuffle(heldout)
    out.mkdir(parents=True, exist_ok=True)
    write_jsonl(out / "train.jsonl", train)
    write_jsonl(out / "heldout.jsonl", heldout)
    write_jsonl(out / "intransitive.jsonl", intransitive_rows(64))
    write_jsonl(out / "intransitive-heldout.jsonl", intransitive_rows(16, offset=64))
    print(f"wrote {out}: {len(train)} train, {len(heldout)} held-out, 64 + 16 intransitive")


if __name__ == "__main__":
    main()
