"""Sneaky and critic: one model plants an error in a worked solution, and finds one.

The shape of SPC (Chen et al. 2025, "SPC: Evolving Self-Play Critic via
Adversarial Games for LLM Reasoning") on exactly checkable arithmetic, as a
two-seat zero-sum game. The seed draws a chained problem and its correct
step-by-step solution, ``steps`` steps (``min_steps`` to ``max_steps``, 3 to 5
by default), each one operation on the previous result::

    Start with 7. Step 1: add 5. Step 2: multiply by 3. Step 3: subtract 4.
    step 1: 7 + 5 = 12
    step 2: 12 * 3 = 36
    step 3: 36 - 4 = 32

Seat 0, the **sneaky** player, sees the problem and the correct solution and
rewrites exactly one step so that it is wrong, answering the rewritten step:
``\\boxed{step 2: 12 * 3 = 35}``, or only its new result, ``\\boxed{step 2 = 35}``
(the short form keeps the step's left number; it is the form a small model
gets right: it copies one step number and writes one integer). The rewrite
must keep the step's operation (its operator and the number the problem
gives); its left number and its result are the sneaky player's to change.
An exact checker compares it with the correct step: it is wrong when its
left number is not the previous step's result or its result is not what the
operation gives.

Seat 1, the **critic**, sees the problem and the solution as shown and names
the wrong step's number, or ``none``. With probability ``clean`` (drawn from
the seed, 0.3 by default) the critic is shown the untouched solution and the
sneaky player has no turn that game.

Moves the game refuses (``InvalidAction``, the loop's forfeit): a rewrite not
of the form ``step <k>: <integer> <op> <integer> = <integer>`` or
``step <k> = <integer>``, a step number outside the solution, a rewrite that
changes the step's operation, integers longer than 9 digits; a critic answer
that is not ``none`` or a step number (those are listed moves). A well-formed rewrite that is **not wrong** (the
correct step, restated) ends the game at once as a loss for the sneaky player.

Returns (zero-sum): the critic names the altered step (or ``none`` for an
untouched solution): critic +1, sneaky -1; otherwise sneaky +1, critic -1.
A rewrite that is not wrong: sneaky -1, critic +1.

The sneaky player's prompt shows a few example rewrites drawn from the seed,
up to three wrong ones (a changed result in the short form, a changed left
number in the full one) and one that restates a correct result, unmarked
(``show_examples``, on by default). It may copy one or write its own.

Prior of the bundled base model (:func:`prior`): the sneaky player picks among
those example rewrites, half its mass spread on the wrong ones; the critic puts 0.4
of its mass, on top of uniform, on the first step that breaks the chain (or
``none``), which it can read off what it sees. The bundled model was taught it
in its stages 9 and 11-13.
"""

from __future__ import annotations

import operator
import random
import re
from collections.abc import Callable
from dataclasses import dataclass

from sparring.games.base import TERMINAL, InvalidAction, example_block, refuse_unlisted
from sparring.games.priors import mix
from sparring.games.registry import GameEntry, register

OPS: dict[str, Callable[[int, int], int]] = {"+": operator.add, "-": operator.sub, "*": operator.mul}
WORDS = {"+": "add", "-": "subtract", "*": "multiply by"}
STEP = re.compile(r"step\s*(\d{1,2})\s*:\s*(-?\d{1,9})\s*([-+*])\s*(-?\d{1,9})\s*=\s*(-?\d{1,9})", re.ASCII | re.IGNORECASE)
RESULT_ONLY = re.compile(r"step\s*(\d{1,2})\s*=\s*(-?\d{1,9})", re.ASCII | re.IGNORECASE)
FORMS = "step <k>: <integer> <op> <integer> = <integer> (e.g. step 2: 12 * 3 = 35), or step <k> = <integer> (e.g. step 2 = 35)"


@dataclass(frozen=True)
class Step:
    left: int
    op: str
    right: int
    result: int

    def text(self, number: int) -> str:
        return f"step {number}: {self.left} {self.op} {self.right} = {self.result}"


def solve(start: int, ops: list[tuple[str, int]]) -> list[Step]:
    """The correct chained solution: each step applies one operation to the previous result."""
    steps, value = [], start
    for op, right in ops:
        result = OPS[op](value, right)
        steps.append(Step(value, op, right, result))
        value = result
    return steps


def parse_step(text: str, solution: list[Step]) -> tuple[int, Step]:
    """(step number, rewritten step) of ``step k: a op b = c``, or of ``step k = c`` (step k with only its result
    changed); InvalidAction unless it is a rewrite of step k."""
    text = " ".join(text.split())
    short = RESULT_ONLY.fullmatch(text)
    found = short or STEP.fullmatch(text)
    if found is None:
        raise InvalidAction(f"rewrite one step as {FORMS}")
    k = int(found.group(1))
    if not 1 <= k <= len(solution):
        raise InvalidAction(f"the solution has steps 1 to {len(solution)}, not step {k}")
    original = solution[k - 1]
    if short:
        return k, Step(original.left, original.op, original.right, int(short.group(2)))
    _, left, op, right, result = found.groups()
    if op != original.op or int(right) != original.right:
        raise InvalidAction(f"keep step {k}'s operation ({original.op} {original.right}); change its numbers only")
    return k, Step(int(left), op, int(right), int(result))


def is_wrong(step: Step, correct: Step) -> bool:
    """The exact check: a rewrite is wrong unless it is the correct step (the operation is kept by ``parse_step``)."""
    return (step.left, step.result) != (correct.left, correct.result)


def first_break(start: int, shown: list[Step], arithmetic: bool = True) -> int | None:
    """The first step (1-based) of a shown solution that does not follow from the one before, or None.

    ``arithmetic=False`` only compares each step's left number with the result before it: the copy-and-compare
    rule a reader who cannot compute can follow. It finds a broken chain at its step, but a wrong result one
    step late (where the next step starts from the right value) or never (on the last step)."""
    value = start
    for k, step in enumerate(shown, 1):
        if step.left != value or (arithmetic and OPS[step.op](step.left, step.right) != step.result):
            return k
        value = step.result
    return None


class SneakyCritic:
    name = "sneaky_critic"
    num_players = 2

    def __init__(self, min_steps: int = 3, max_steps: int = 5, clean: float = 0.3, show_examples: bool = True):
        if not 1 <= min_steps <= max_steps <= 9:
            raise ValueError(f"need 1 <= min_steps <= max_steps <= 9, got {min_steps} and {max_steps}")
        if not 0.0 <= clean <= 1.0:
            raise ValueError(f"clean must be a probability between 0 and 1, got {clean}")
        self.min_steps, self.max_steps, self.clean = min_steps, max_steps, clean
        self.show_examples = show_examples

    def describe(self) -> str:
        return (
            "Sneaky and critic. A problem chains a few operations on integers, and a solution works it step by "
            "step, e.g. step 2: 12 * 3 = 36. Player 0, the sneaky player, sees the correct solution and rewrites "
            "exactly one step so that it is wrong, keeping the step's operation and changing its numbers: answer "
            "the rewritten step, e.g. step 2: 12 * 3 = 35. A rewrite that is not wrong loses at once. Player 1, "
            "the critic, sees the solution (sometimes untouched, and then the sneaky player does not move) and "
            "names the wrong step's number, or none. The critic right: critic +1, sneaky -1; else the reverse."
        )

    def new_state(self, seed: int) -> SneakyCriticState:
        rng = random.Random(seed)
        start = rng.randint(2, 20)
        ops = []
        for _ in range(rng.randint(self.min_steps, self.max_steps)):
            op = rng.choice("+-*")
            ops.append((op, rng.randint(2, 5) if op == "*" else rng.randint(2, 20)))
        clean = rng.random() < self.clean
        solution = solve(start, ops)
        return SneakyCriticState(self, start, solution, clean, examples(rng, solution))


def examples(rng: random.Random, solution: list[Step]) -> list[tuple[str, bool]]:
    """Three wrong rewrites and one restated correct result (random player and prior only). A changed result is
    written in the short form (``step 2 = 35``), a changed left number in the full one."""
    out = []
    for _ in range(3):
        k = rng.randrange(len(solution))
        s = solution[k]
        if rng.random() < 0.5:
            out.append((f"step {k + 1} = {s.result + rng.choice([-2, -1, 1, 2, 10])}", True))
        else:
            left = s.left + rng.choice([-1, 1])
            out.append((Step(left, s.op, s.right, OPS[s.op](left, s.right)).text(k + 1), True))
    out = list(dict.fromkeys(out))  # two draws can make the same rewrite
    k = rng.randrange(len(solution))
    out.append((f"step {k + 1} = {solution[k].result}", False))
    rng.shuffle(out)  # the prompt shows them in this order: the restated step is not always last
    return out


@dataclass
class SneakyCriticState:
    game: SneakyCritic
    start: int
    solution: list[Step]
    clean: bool
    examples: list[tuple[str, bool]]
    """The sneaky player's example rewrites and whether each is wrong (random player and prior only)."""
    altered: int | None = None
    """The step number the sneaky player rewrote."""
    rewrite: Step | None = None
    not_wrong: bool = False
    """The rewrite restated the correct step: the sneaky player lost at once."""
    verdict: str | None = None

    @property
    def current_player(self) -> int:
        if self.is_terminal():
            return TERMINAL
        return 0 if self.rewrite is None and not self.clean else 1

    def is_terminal(self) -> bool:
        return self.not_wrong or self.verdict is not None

    def shown(self) -> list[Step]:
        steps = list(self.solution)
        if self.rewrite is not None:
            steps[self.altered - 1] = self.rewrite
        return steps

    def truth(self) -> str:
        return "none" if self.clean else str(self.altered)

    def returns(self) -> list[float]:
        if not self.is_terminal():
            return [0.0, 0.0]
        if self.not_wrong or self.verdict == self.truth():
            return [-1.0, 1.0]
        return [1.0, -1.0]

    def legal_actions(self, player: int | None = None) -> list[str] | None:
        player = self.current_player if player is None else player
        if self.is_terminal() or player != self.current_player:
            return []
        if player == 0:
            return None
        return ["none"] + [str(k) for k in range(1, len(self.solution) + 1)]

    def apply(self, action: str) -> None:
        if self.is_terminal():
            raise InvalidAction("the game is over")
        if self.current_player == 0:
            k, step = parse_step(action, self.solution)  # raises before anything changes
            self.altered, self.rewrite = k, step
            self.not_wrong = not is_wrong(step, self.solution[k - 1])
            return
        self.verdict = refuse_unlisted(action, self.legal_actions())

    def example_actions(self) -> list[str]:
        if self.current_player == 0:
            return [text for text, _ in self.examples]
        return self.legal_actions() or []

    def problem(self) -> str:
        ops = " ".join(f"Step {k}: {WORDS[s.op]} {s.right}." for k, s in enumerate(self.solution, 1))
        return f"Start with {self.start}. {ops}"

    @staticmethod
    def lines(steps: list[Step]) -> str:
        return "\n".join(s.text(k) for k, s in enumerate(steps, 1))

    def observation(self, player: int) -> str:
        if player == 0:
            head = f"You are the sneaky player (player 0).\nProblem: {self.problem()}\n"
            head += f"Correct solution:\n{self.lines(self.solution)}"
            if self.clean:
                return head + "\nThis game the critic is shown the untouched solution; you do not move."
            if self.rewrite is None:
                ask = "\nRewrite exactly one step so that it is wrong, e.g. step 1: 7 + 5 = 13"
                ask += ", or give only its new result, e.g. step 1 = 13."
                if not self.game.show_examples:
                    return head + ask
                return head + ask + "\n" + example_block("Example rewrites", [text for text, _ in self.examples])
            if self.not_wrong:
                return head + f"\nYou wrote {self.rewrite.text(self.altered)}: that step is not wrong, you lost."
            return head + f"\nYou rewrote {self.rewrite.text(self.altered)}; the critic is looking for it."
        if self.rewrite is None and not self.clean:
            return f"You are the critic (player 1).\nProblem: {self.problem()}\nThe sneaky player is rewriting the solution."
        moves = ", ".join(["none"] + [str(k) for k in range(1, len(self.solution) + 1)])
        return (
            f"You are the critic (player 1).\nProblem: {self.problem()}\nSolution:\n{self.lines(self.shown())}\n"
            f"Which step is wrong? Legal moves: {moves}"
        )

    def clone(self) -> SneakyCriticState:
        return SneakyCriticState(
            self.game,
            self.start,
            list(self.solution),
            self.clean,
            list(self.examples),
            self.altered,
            self.rewrite,
            self.not_wrong,
            self.verdict,
        )

    def render(self) -> str:
        lines = [f"Problem: {self.problem()}", self.lines(self.solution)]
        if self.clean:
            lines.append("Untouched solution shown to the critic")
        elif self.rewrite is not None:
            lines.append(f"Rewrite: {self.rewrite.text(self.altered)}" + (" (not wrong)" if self.not_wrong else ""))
        if self.verdict is not None:
            lines.append(f"Critic: {self.verdict} (truth: {self.truth()})")
        if self.is_terminal():
            lines.append(f"Returns: {self.returns()}")
        return "\n".join(lines)


def prior(state: SneakyCriticState) -> dict[str, float]:
    """The weak, state-dependent play stated in the module docstring."""
    moves = state.example_actions()
    if state.current_player == 0:
        return mix([text for text, wrong in state.examples if wrong], moves, 0.5)
    found = first_break(state.start, state.shown())
    return mix(["none" if found is None else str(found)], moves, 0.4)


register(
    GameEntry(
        name="sneaky_critic",
        num_players=2,
        source="native",
        description="the sneaky player rewrites one step of a worked arithmetic solution wrongly, "
        "the critic names the wrong step (or none); zero-sum",
        make=SneakyCritic,
        zero_sum=True,
        perfect_information=False,
        prior=prior,
        roles=("sneaky", "critic"),
    )
)
