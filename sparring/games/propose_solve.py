"""Propose and solve: one model in two asymmetric roles, a checker as the judge.

The shape of PasoDoble, R-Zero, Agent0 and Absolute Zero, as a two-seat game:
seat 0, the **proposer**, writes a task; seat 1, the **solver**, answers it
in ``attempts`` turns (k independent tries: the solver's observation is the
same each time, it never sees its earlier answers, so the k answers sample
its success rate). Each seat is its own role, so RAE keeps one baseline for
(propose_solve, 0) and one for (propose_solve, 1).

Task families (``propose_solve:family=arith|code``):

- ``arith`` (default): the proposer writes an integer arithmetic problem and
  its answer, ``\\boxed{(3 + 4) * 2 = 14}``. The problem may use integers up
  to 10^6, ``+ - * // %``, unary minus and parentheses, at most 120
  characters, and needs at least one operation (a bare number would state
  its own answer: under ``truth=computed`` and a repetition penalty the
  proposer drifted to writing ``826``, ``3210``, ... as its new tasks).
  An exact checker (``ast``, never ``eval``) computes the value.
- ``code``: the proposer writes a short Python program that prints one
  integer, ``\\boxed{x = 3; print(x * 4 + 1)}``: one line (answers are read
  with their whitespace collapsed), statements separated by ``;``, at most
  300 characters. ``sparring.sandbox`` runs it twice; its output is the truth.
  The output is restricted to one integer so that the solver's answer is
  checked exactly and both families share the solver's answer format.

``truth=computed`` (``arith`` only) makes the checker's value the task's truth
and ignores the proposer's stated answer (``3 + 4 * 2`` alone is a task too):
Absolute Zero's split, where the proposer writes the problem and the
environment works out the answer, so a proposer that cannot compute can
still set valid tasks. The default, ``truth=stated``, is PasoDoble's: the
proposer must also know the answer.

The solver answers one integer, ``\\boxed{14}``.

Moves the game refuses (``InvalidAction``, the loop's forfeit: -1.5 / +0.5 in
training): a proposal that is not of the family's form (no ``=`` or no
integer after it -- under ``truth=computed`` the ``=`` may be left out --, an
expression outside the grammar or with no operation, a program that does not
parse), and a solver answer that is not one integer.

A well-formed task can still be **invalid**: the stated answer is wrong
(under ``truth=stated``), a division by zero or a number past 10^12
(``arith``); a program that times out, crashes, runs out of memory, prints
too much, tries something the sandbox forbids, prints anything but one
integer, or prints different things on its two runs (``code``). The game
then ends at once: proposer -1, solver 0.

Returns of a valid task, with p the solver's success rate over its k attempts:

- solver: p. By default every attempt's turn carries the same p (the
  framework gives a seat's turns its game return); in expectation that is the
  per-attempt success reward scaled by 1/k, plus noise from the other
  attempts, and ``advantage.baseline=observation`` sees k identical prompts
  with one return and gives every attempt a zero advantage. With
  ``rollout.turn_credit=own`` each attempt is scored by itself, 1 right and 0
  wrong (``turn_rewards``); the observation baseline then makes the k
  attempts at one task a GRPO group.
- proposer: 1 - |2p - 1|, R-Zero's uncertainty reward (Huang et al. 2025,
  "R-Zero: Self-Evolving Reasoning LLM from Zero Data"; Agent0 uses the same
  term among others): 0 when the solver always or never succeeds, 1 at
  p = 1/2. Absolute Zero's variant (1 - p, or 0 at p in {0, 1}) rewards hard
  tasks instead of the frontier.

The proposer's prompt shows four example tasks drawn from the seed, each in
double quotes: one at each of the held-out set's three levels (a one-digit
sum, one operation on 1-20, two operations) and one of those again with a
wrong answer, unmarked and in no fixed place (``show_examples``, on by
default; Absolute Zero likewise shows its proposer reference tasks). It may
copy one, edit one or write its own. ``max_level=1`` (or 2) caps the examples'
level, so the ``prior`` proposer sets only one-digit sums: a fixed curriculum
at the frontier of a solver that can add a little.

Prior of the bundled base model (:func:`prior`): the proposer picks among
those example tasks, with half its mass spread on the valid ones; the solver
says the right value with probability 0.4 more than its uniform share among
the right value and a few near misses. The bundled model was taught it in
its stages 9 and 11-13.
"""

from __future__ import annotations

import ast
import functools
import operator
import random
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sparring.games.base import TERMINAL, InvalidAction, example_block
from sparring.games.priors import mix
from sparring.games.registry import GameEntry, register
from sparring.sandbox import Limits, run_python

FAMILIES = ("arith", "code")
TRUTHS = ("stated", "computed")
INTEGER = re.compile(r"-?[0-9]+", re.ASCII)
MAX_PROBLEM_CHARS = 120
MAX_PROGRAM_CHARS = 300
MAX_LITERAL = 10**6
MAX_VALUE = 10**12
MAX_NODES = 40
SANDBOX = Limits(wall_seconds=2.0, cpu_seconds=1, max_output_bytes=256, max_source_bytes=4096)
ARITH_OPS: dict[type, Callable[[int, int], int]] = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Mod: operator.mod,
}


def proposer_reward(p: float) -> float:
    """R-Zero's uncertainty reward 1 - |2p - 1|: largest for a task the solver solves half the time."""
    return 1.0 - abs(2.0 * p - 1.0)


def proposer_solver_returns(invalid: bool, right: int, attempts: int) -> list[float]:
    """[proposer, solver] at the end of a task answered in ``attempts`` tries, ``right`` of them right: an invalid
    task scores -1 / 0, a valid one ``proposer_reward(p)`` / p. Shared by every game of that shape (``qrv``)."""
    if invalid:
        return [-1.0, 0.0]
    p = right / attempts
    return [proposer_reward(p), p]


def read_integer(text: str) -> int | None:
    """One ASCII integer (``-12``), or None: ``int()`` alone would also take ``'١٢'`` and ``'1_000'``."""
    text = text.strip()
    return int(text) if INTEGER.fullmatch(text) and len(text) <= 30 else None


@dataclass(frozen=True)
class Task:
    problem: str
    """What the solver is shown."""
    truth: int | None
    """The value, or None when the task is invalid."""
    invalid: str | None = None


# ----------------------------------------------------------------------------- arith: an exact checker
def parse_arith(text: str, answer_optional: bool = False) -> tuple[str, ast.Expression, int | None]:
    """(problem, tree, stated answer) of ``<expression> = <integer>``; InvalidAction if not of that form.

    ``answer_optional``: ``<expression>`` alone is of the form too, with no stated answer (None)."""
    head, sep, tail = text.rpartition("=")
    problem, stated = (head, tail) if sep else (text, None)
    problem = " ".join(problem.split())
    if (stated is None and not answer_optional) or not problem:
        raise InvalidAction("write a problem and its answer as <expression> = <integer>, e.g. (3 + 4) * 2 = 14")
    answer = None if stated is None else read_integer(stated)
    if stated is not None and answer is None:
        raise InvalidAction("the answer after '=' must be one integer")
    if len(problem) > MAX_PROBLEM_CHARS:
        raise InvalidAction(f"the problem is longer than {MAX_PROBLEM_CHARS} characters")
    try:
        tree = ast.parse(problem, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        raise InvalidAction("the problem is not an arithmetic expression") from None
    nodes = list(ast.walk(tree))
    if len(nodes) > MAX_NODES:
        raise InvalidAction(f"the problem has more than {MAX_NODES} parts")
    for node in nodes:
        ok = isinstance(node, ast.Expression | ast.operator | ast.unaryop) or (
            isinstance(node, ast.BinOp) and type(node.op) in ARITH_OPS
        )
        ok = ok or (isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub | ast.UAdd))
        ok = ok or (isinstance(node, ast.Constant) and type(node.value) is int and abs(node.value) <= MAX_LITERAL)
        if not ok:
            raise InvalidAction(f"only integers up to {MAX_LITERAL}, + - * // % and parentheses are allowed")
    if not any(isinstance(node, ast.BinOp) for node in nodes):
        raise InvalidAction("the problem needs at least one operation (+ - * // %): a bare number is its own answer")
    return problem, tree, answer


def evaluate(node: ast.AST) -> int:
    """The value of a checked expression; ArithmeticError for division by zero or a value past 10^12."""
    if isinstance(node, ast.Expression):
        return evaluate(node.body)
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.UnaryOp):
        value = evaluate(node.operand)
        return -value if isinstance(node.op, ast.USub) else value
    value = ARITH_OPS[type(node.op)](evaluate(node.left), evaluate(node.right))
    if abs(value) > MAX_VALUE:
        raise ArithmeticError(f"a value grew past {MAX_VALUE}")
    return value


def arith_task(text: str, computed: bool = False) -> Task:
    """The task of ``<expression> = <integer>``. With ``computed``, the checker's value is the truth and the
    stated answer is optional and never compared: ``<expression>`` alone is a task."""
    problem, tree, stated = parse_arith(text, answer_optional=computed)
    try:
        value = evaluate(tree)
    except ZeroDivisionError:
        return Task(problem, None, "division by zero")
    except ArithmeticError as err:
        return Task(problem, None, str(err))
    if value != stated and not computed:
        return Task(problem, None, f"the stated answer {stated} is wrong")
    return Task(problem, value)


# ----------------------------------------------------------------------------- code: the sandbox is the judge
def code_task(text: str, run: Callable[[str], Any] = lambda s: run_python(s, SANDBOX)) -> Task:
    program = text.strip()
    if len(program) > MAX_PROGRAM_CHARS:
        raise InvalidAction(f"the program is longer than {MAX_PROGRAM_CHARS} characters")
    try:
        ast.parse(program)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as err:
        raise InvalidAction(f"not a Python program: {getattr(err, 'msg', err)}") from None
    first = run(program)
    if not first.ok:  # no second run: a program that loops would cost its wall-clock limit twice
        return Task(program, None, f"the program failed in the sandbox: {first.reason}")
    value = read_integer(first.stdout)
    if value is None:
        return Task(program, None, f"the program printed {first.stdout.strip()[:30]!r}, not one integer")
    second = run(program)
    if not second.ok:
        return Task(program, None, f"the program failed in the sandbox on its second run: {second.reason}")
    if second.stdout != first.stdout:
        return Task(program, None, "the program printed different output on two runs")
    return Task(program, value)


@functools.lru_cache(maxsize=4096)
def judged_program(program: str) -> Task:
    """``code_task``, remembered: two sandbox runs cost ~0.1 s, and a policy proposes the same program often.
    A refused program (InvalidAction) is not cached; it costs only a parse."""
    return code_task(program)


# ----------------------------------------------------------------------------- examples (random player, prior)
def arith_problem(rng: random.Random, level: int) -> str:
    """One expression: level 1 a one-digit sum, level 2 one operation on 1-20, level 3 two operations."""
    if level == 1:
        return f"{rng.randint(0, 9)} + {rng.randint(0, 9)}"
    a, b, c = rng.randint(1, 20), rng.randint(1, 20), rng.randint(1, 9)
    return f"{a} {rng.choice('+-*')} {b}" if level == 2 else _two_operations(rng, a, b, c)


def _two_operations(rng: random.Random, a: int, b: int, c: int) -> str:
    return rng.choice([f"{a} + {b} * {c}", f"({a} - {b}) * {c}", f"{a} * {b} // {c}", f"{a} * {c} % {b}"])


def arith_level(problem: str) -> int:
    """The held-out set's levels by shape: 1 a sum of two one-digit numbers, 2 any other single operation, 3
    two or more operations (how hard a task the proposer chose to set; the held-out set's level 2, drawn on
    1-20, holds three one-digit sums, which this calls level 1)."""
    tree = ast.parse(problem, mode="eval").body
    operations = [n for n in ast.walk(tree) if isinstance(n, ast.BinOp)]
    if len(operations) > 1:
        return 3
    one_digit = [isinstance(x, ast.Constant) and 0 <= x.value <= 9 for x in (tree.left, tree.right)] if operations else []
    return 1 if operations and isinstance(tree, ast.BinOp) and isinstance(tree.op, ast.Add) and all(one_digit) else 2


def arith_examples(rng: random.Random, max_level: int = 3) -> list[tuple[str, bool]]:
    """One task at each of three levels (a one-digit sum; one operation on 1-20; two operations), and one
    of them again with its answer off by one: the proposer can pick how hard a task to set. Below
    ``max_level`` 3 a higher level's task is one of ``max_level`` instead."""
    if max_level < 3:
        problems = [arith_problem(rng, min(level, max_level)) for level in (1, 2, 3)]
    else:  # the draws of every run before max_level existed, so their seeds deal the same examples
        a, b, c = rng.randint(1, 20), rng.randint(1, 20), rng.randint(1, 9)
        problems = [f"{rng.randint(0, 9)} + {rng.randint(0, 9)}", f"{a} {rng.choice('+-*')} {b}", _two_operations(rng, a, b, c)]
    out = [(f"{p} = {evaluate(ast.parse(p, mode='eval'))}", True) for p in problems]
    wrong = rng.choice(out)[0].rpartition("=")
    out.append((f"{wrong[0]}= {int(wrong[2]) + rng.choice([-1, 1])}", False))
    rng.shuffle(out)  # the prompt shows them in this order: the invalid one is not always last
    return out


def code_examples(rng: random.Random) -> list[tuple[str, bool]]:
    a, b, c = rng.randint(2, 9), rng.randint(2, 9), rng.randint(1, 5)
    valid = [
        f"x = {a}; y = {b}; print(x * y - {c})",
        f"print(sum(range({a})))",
        f"print(len([i for i in range({a * b}) if i % {c + 1} == 0]))",
        f"s = 'ab' * {a}; print(s.count('a') + {c})",
        f"print(sorted([{a}, {b}, {c}])[1])",
    ]
    rng.shuffle(valid)
    broken = rng.choice([f"print({a} // 0)", f"print('{a}' + {b})"])
    out = [(p, True) for p in valid[:3]] + [(broken, False)]
    rng.shuffle(out)  # the prompt shows them in this order: the invalid one is not always last
    return out


# ----------------------------------------------------------------------------- the game
class ProposeSolve:
    name = "propose_solve"
    num_players = 2

    def __init__(
        self, family: str = "arith", attempts: int = 4, show_examples: bool = True, truth: str = "stated", max_level: int = 3
    ):
        if family not in FAMILIES:
            raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {family!r}")
        if truth not in TRUTHS:
            raise ValueError(f"truth must be one of {', '.join(TRUTHS)}, got {truth!r}")
        if truth == "computed" and family != "arith":
            raise ValueError("truth=computed is for family=arith; a program's truth is always its output")
        if not 1 <= attempts <= 16:
            raise ValueError(f"attempts must be between 1 and 16, got {attempts}")
        if not 1 <= max_level <= 3:
            raise ValueError(f"max_level must be 1, 2 or 3, got {max_level}")
        self.family, self.attempts, self.show_examples, self.max_level = family, attempts, show_examples, max_level
        self.computed = truth == "computed"

    def judge(self, text: str) -> Task:
        """The task a proposal makes; InvalidAction when it is not of the family's form."""
        return arith_task(text, self.computed) if self.family == "arith" else judged_program(" ".join(text.split()))

    def describe(self) -> str:
        answer = (
            "the checker computes the answer; one written after '=' is ignored" if self.computed else "the answer must be right"
        )
        what = (
            "an integer arithmetic problem and its answer, written as <expression> = <integer>, e.g. (3 + 4) * 2 = 14 "
            f"(integers up to {MAX_LITERAL}, + - * // % and parentheses; {answer})"
            if self.family == "arith"
            else "a one-line Python program that prints one integer, statements separated by ;, e.g. "
            "x = 3; print(x * 4 + 1) (it runs in a sandbox: no files, network or processes)"
        )
        return (
            f"Propose and solve. Player 0, the proposer, writes a task: {what}. Player 1, the solver, then "
            f"answers it {self.attempts} times, each time with one integer. With p the share of right answers, "
            "the solver scores p and the proposer 1 - |2p - 1|: most when the task is solved half the time, "
            "nothing when it is always or never solved. An invalid task scores -1 for the proposer and 0 for the solver."
        )

    def new_state(self, seed: int) -> ProposeSolveState:
        rng = random.Random(seed)
        examples = arith_examples(rng, self.max_level) if self.family == "arith" else code_examples(rng)
        return ProposeSolveState(self, examples)


@dataclass
class ProposeSolveState:
    game: ProposeSolve
    examples: list[tuple[str, bool]]
    """The proposer's example tasks and whether each is valid (random player and prior only)."""
    proposal: str | None = None
    task: Task | None = None
    answers: list[int] = field(default_factory=list)

    @property
    def current_player(self) -> int:
        if self.is_terminal():
            return TERMINAL
        return 0 if self.task is None else 1

    def is_terminal(self) -> bool:
        return self.task is not None and (self.task.invalid is not None or len(self.answers) == self.game.attempts)

    def right(self) -> list[bool]:
        """Whether each answer so far is the task's value."""
        return [a == self.task.truth for a in self.answers] if self.task else []

    def solved(self) -> int:
        return sum(self.right())

    def returns(self) -> list[float]:
        if not self.is_terminal():
            return [0.0, 0.0]
        return proposer_solver_returns(self.task.invalid is not None, self.solved(), self.game.attempts)

    def turn_rewards(self, seat: int) -> list[float] | None:
        """The solver's attempts one by one, 1 right and 0 wrong (their mean is its return p)."""
        if seat != 1 or not self.is_terminal() or self.task.invalid is not None:
            return None
        return [float(ok) for ok in self.right()]

    def stats(self) -> dict[str, float]:
        """How hard a valid arithmetic task the proposer set: its level (1-3, as the held-out set's) and whether
        it was a one-digit sum, averaged per step in the log: does the proposer move toward the solver's frontier?"""
        if self.game.family != "arith" or self.task is None or self.task.invalid is not None:
            return {}
        level = arith_level(self.task.problem)
        return {"task_level": float(level), "task_one_digit_sum": float(level == 1)}

    def legal_actions(self, player: int | None = None) -> None:
        return None

    def apply(self, action: str) -> None:
        if self.is_terminal():
            raise InvalidAction("the game is over")
        if self.task is None:
            task = self.game.judge(action)  # raises before anything changes
            self.proposal, self.task = " ".join(action.split()), task
            return
        answer = read_integer(action)
        if answer is None:
            raise InvalidAction("answer with one integer, e.g. 14")
        self.answers.append(answer)

    def example_actions(self) -> list[str]:
        if self.task is None:
            return [text for text, _ in self.examples]
        truth = self.task.truth
        return [str(v) for v in dict.fromkeys([truth, truth + 1, truth - 1, truth * 2 + 1, 0])]

    def _shown(self) -> str:
        return f"Problem: {self.task.problem}" if self.game.family == "arith" else f"Program: {self.task.problem}"

    def observation(self, player: int) -> str:
        if player == 0:
            if self.task is None:
                head = "You are the proposer (player 0). Write your task now."
                if not self.game.show_examples:
                    return head
                return head + "\n" + example_block("Example tasks", [text for text, _ in self.examples])
            lines = [f"You are the proposer (player 0). You proposed: {self.proposal}"]
            if self.task.invalid is not None:
                lines.append(f"Your task was invalid: {self.task.invalid}.")
            else:
                lines.append(f"The solver has answered {len(self.answers)} of {self.game.attempts} times, {self.solved()} right.")
            return "\n".join(lines)
        if self.task is None:
            return "You are the solver (player 1). The proposer has not written the task yet."
        if self.task.invalid is not None:
            return f"You are the solver (player 1). The proposer's task was invalid: {self.task.invalid}."
        question = "What is its value?" if self.game.family == "arith" else "What does it print?"
        return f"You are the solver (player 1).\n{self._shown()}\n{question} Answer with one integer."

    def clone(self) -> ProposeSolveState:
        return ProposeSolveState(self.game, list(self.examples), self.proposal, self.task, list(self.answers))

    def render(self) -> str:
        if self.task is None:
            return f"propose_solve ({self.game.family}): waiting for the proposal"
        lines = [f"Proposal: {self.proposal}"]
        if self.task.invalid is not None:
            lines.append(f"Invalid task: {self.task.invalid}")
        else:
            lines.append(f"Truth: {self.task.truth}; answers: {self.answers} ({self.solved()} right)")
        if self.is_terminal():
            lines.append(f"Returns: {self.returns()}")
        return "\n".join(lines)


def prior(state: ProposeSolveState) -> dict[str, float]:
    """The weak, state-dependent play stated in the module docstring."""
    moves = state.example_actions()
    if state.task is None:
        return mix([text for text, valid in state.examples if valid], moves, 0.5)
    return mix([str(state.task.truth)], moves, 0.4)


register(
    GameEntry(
        name="propose_solve",
        num_players=2,
        source="native",
        description="proposer writes a task (arith: expression = answer; code: a program run in the sandbox), "
        "solver answers it in k attempts; learnability reward",
        make=ProposeSolve,
        zero_sum=False,
        perfect_information=False,
        prior=prior,
        proposer_seat=0,
        roles=("proposer", "solver"),
    )
)
