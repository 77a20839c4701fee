"""Questioner, responder, verifier: questions about a document, answered and checked.

The shape of SPELL and MAE (one model as questioner, responder and verifier
over long documents) on synthetic key-value documents, as a two-seat game
whose verifier is a rule. The seed draws a document of ``records * (level +
1)`` lines ``<key>: <value>`` (``records`` 4 by default; ``level`` grows it, at
most ``MAX_RECORDS`` lines), keys such as ``river-42``, values a word or a
three-digit number (values repeat; keys do not).

Seat 0, the **questioner**, sees the document and writes a question about
one key with its reference answer, ``\\boxed{What is the value of river-42?
= copper}``. Seat 1, the **responder**, sees the document and the question
(never the reference answer) and answers it in ``attempts`` turns (k
independent tries, as in ``propose_solve``: it never sees its earlier
answers): ``\\boxed{copper}``.

The **verifier** (``judge``): ``exact`` (the default) compares the
responder's answer with the reference answer, ignoring case, runs of
whitespace and a final full stop. ``judge=model:PATH`` (or ``model:bundled``),
``judge=api:MODEL[,options]`` and, in training, ``judge=policy`` (the model
being trained) ask a model instead whether the answer gives the
reference's value (``sparring.games.verifiers``); its verdicts
then decide the returns, and the exact rule keeps running beside it as the
control: a finished game reports the share of answers on which the two
agree, and the judge's false accepts and false rejects
(``train/qrv/judge_agreement`` etc. in the training log).

A question is **valid** when it names exactly one of the document's keys
(``river-42`` as a whole word) and its reference answer is that key's value
(as the verifier compares them). An invalid question ends the game:
questioner -1, responder 0. Moves the game refuses (``InvalidAction``, the
loop's forfeit): a question not of the form ``<question> = <answer>``, a
question over ``MAX_QUESTION_CHARS`` or an answer over ``MAX_ANSWER_CHARS``
characters, an empty answer.

Returns of a valid question, with p the responder's success rate over its k
attempts: responder p, questioner R-Zero's 1 - |2p - 1|, most for a question
at the responder's frontier (``propose_solve.proposer_solver_returns``: one
function scores both games). Not zero-sum.

The questioner's prompt shows a few example questions drawn from the seed,
up to three valid ones and one with a wrong reference answer, unmarked
(``show_examples``, on by default). It may copy one or write its own.

Prior of the bundled base model (:func:`prior`): the questioner picks among
those example questions, half its mass on the valid ones; the responder puts 0.4 of
its mass, on top of uniform, on the right value among a few of the
document's values. The bundled model was taught it in its stages 9 and 11-13.
"""

from __future__ import annotations

import random
import re
import unicodedata
from dataclasses import dataclass, field

from sparring.games.base import TERMINAL, InvalidAction, example_block
from sparring.games.priors import mix
from sparring.games.propose_solve import proposer_solver_returns
from sparring.games.registry import GameEntry, register
from sparring.games.verifiers import Verifier, check_verifier_spec, make_verifier

KEY_WORDS = (
    "river", "stone", "maple", "cloud", "ember", "frost", "grove", "harbor", "iris", "juniper",
    "kestrel", "lotus", "marsh", "north", "orchid", "pine", "quarry", "ridge", "summit", "tide",
)  # fmt: skip
VALUE_WORDS = (
    "copper", "amber", "slate", "linen", "cobalt", "ivory", "saffron", "walnut", "pearl", "onyx",
    "cedar", "topaz", "ochre", "silver", "jade", "coral", "indigo", "russet", "umber", "teal",
)  # fmt: skip
KEY = re.compile(r"(?<![a-z0-9-])[a-z]+-\d+(?![a-z0-9-])", re.ASCII)
MAX_RECORDS = 64
MAX_QUESTION_CHARS = 200
MAX_ANSWER_CHARS = 60
PHRASES = ("What is the value of {key}?", "What does the document give for {key}?", "Which value does {key} have?")


def normalized(text: str) -> str:
    """What the exact verifier compares: NFKC, case-folded, whitespace collapsed, no final full stop."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split()).rstrip(".").strip()


@dataclass(frozen=True)
class Question:
    text: str
    """What the responder is shown."""
    key: str | None
    truth: str | None
    """The reference answer, or None when the question is invalid."""
    invalid: str | None = None


def parse_question(text: str, document: dict[str, str]) -> Question:
    """The question a move makes (valid or not); InvalidAction when it is not ``<question> = <answer>``."""
    question, sep, answer = text.rpartition("=")
    question, answer = " ".join(question.split()), " ".join(answer.split())
    if not sep or not question or not answer:
        raise InvalidAction("write a question and its reference answer as <question> = <answer>, e.g. What is river-42? = copper")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidAction(f"the question is longer than {MAX_QUESTION_CHARS} characters")
    if len(answer) > MAX_ANSWER_CHARS:
        raise InvalidAction(f"the reference answer is longer than {MAX_ANSWER_CHARS} characters")
    named = sorted({k for k in KEY.findall(question.casefold()) if k in document})
    if len(named) != 1:
        what = "none" if not named else ", ".join(named)
        return Question(question, None, None, f"a question must name exactly one key of the document, it named {what}")
    key = named[0]
    if normalized(answer) != normalized(document[key]):
        return Question(question, key, None, f"the reference answer {answer!r} is not the document's value of {key}")
    return Question(question, key, document[key])


class QRV:
    name = "qrv"
    num_players = 2

    def __init__(self, records: int = 4, level: int = 0, attempts: int = 4, judge: str = "exact", show_examples: bool = True):
        if records < 1 or level < 0 or records * (level + 1) > MAX_RECORDS:
            raise ValueError(
                f"need records >= 1, level >= 0 and records * (level + 1) <= {MAX_RECORDS}, got {records} and {level}"
            )
        if not 1 <= attempts <= 16:
            raise ValueError(f"attempts must be between 1 and 16, got {attempts}")
        check_verifier_spec(judge)
        self.records, self.level, self.attempts, self.judge = records, level, attempts, judge
        self.show_examples = show_examples
        self._verifier: Verifier | None = None  # loaded at the first answer: building a game loads no model

    @property
    def verifier(self) -> Verifier | None:
        """The model verifier (None: the exact rule), built once per game object."""
        if self._verifier is None and self.judge != "exact":
            self._verifier = make_verifier(self.judge)
        return self._verifier

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_verifier": None}  # a copy sent to a rollout worker loads its own

    def describe(self) -> str:
        return (
            "Questioner and responder. Both players see a document of lines <key>: <value>. Player 0, the "
            "questioner, writes a question about one key and its reference answer, as <question> = <answer>, e.g. "
            "What is the value of river-42? = copper. It must name exactly one key of the document and give that "
            f"key's value, or it is invalid. Player 1, the responder, sees the question (not the answer) and answers "
            f"it {self.attempts} times, each time with the value. With p the share of answers equal to the reference "
            "(ignoring case), the responder scores p and the questioner 1 - |2p - 1|: most when the question is "
            "answered right half the time. An invalid question scores -1 for the questioner and 0 for the responder."
        )

    def new_state(self, seed: int) -> QRVState:
        rng = random.Random(seed)
        n = self.records * (self.level + 1)
        keys = [f"{w}-{d}" for w, d in rng.sample([(w, d) for w in KEY_WORDS for d in range(10, 100)], n)]
        values = [rng.choice(VALUE_WORDS) if rng.random() < 0.5 else str(rng.randint(100, 999)) for _ in keys]
        document = dict(zip(keys, values, strict=True))
        return QRVState(self, document, examples(rng, document))


def examples(rng: random.Random, document: dict[str, str]) -> list[tuple[str, bool]]:
    """Three valid example questions and one with a wrong reference answer (random player and prior only)."""
    keys = list(document)
    out = [(f"{rng.choice(PHRASES).format(key=k)} = {document[k]}", True) for k in rng.choices(keys, k=3)]
    key = rng.choice(keys)
    candidates = [rng.choice(VALUE_WORDS), str(rng.randint(100, 999))]  # a word and a number: one of them is wrong
    wrong = next(v for v in candidates if normalized(v) != normalized(document[key]))
    out.append((f"{rng.choice(PHRASES).format(key=key)} = {wrong}", False))
    out = list(dict.fromkeys(out))
    rng.shuffle(out)  # the prompt shows them in this order: the invalid one is not always last
    return out


@dataclass
class QRVState:
    game: QRV
    document: dict[str, str]
    examples: list[tuple[str, bool]]
    """The questioner's example questions and whether each is valid (random player and prior only)."""
    proposal: str | None = None
    question: Question | None = None
    answers: list[str] = field(default_factory=list)
    verdicts: list[bool] = field(default_factory=list)
    """The verifier's verdict on each answer (the exact rule's, under ``judge=exact``)."""
    exact: list[bool] = field(default_factory=list)
    """The exact rule's verdict on each answer: the control for a model verifier."""

    @property
    def current_player(self) -> int:
        if self.is_terminal():
            return TERMINAL
        return 0 if self.question is None else 1

    def is_terminal(self) -> bool:
        return self.question is not None and (self.question.invalid is not None or len(self.answers) == self.game.attempts)

    def accepted(self) -> list[bool]:
        """Whether the verifier accepts each answer so far."""
        return list(self.verdicts)

    def stats(self) -> dict[str, float]:
        """A model verifier against the exact control, over this game's answers (nothing under ``judge=exact``)."""
        if self.game.judge == "exact" or not self.exact:
            return {}
        n = len(self.exact)
        pairs = list(zip(self.verdicts, self.exact, strict=True))
        return {
            "judge_agreement": sum(v == e for v, e in pairs) / n,
            "judge_false_accept": sum(v and not e for v, e in pairs) / n,
            "judge_false_reject": sum(e and not v for v, e in pairs) / n,
        }

    def right(self) -> int:
        """Answers the verifier accepts."""
        return sum(self.accepted())

    def returns(self) -> list[float]:
        if not self.is_terminal():
            return [0.0, 0.0]
        return proposer_solver_returns(self.question.invalid is not None, self.right(), self.game.attempts)

    def turn_rewards(self, seat: int) -> list[float] | None:
        """The responder's attempts one by one, 1 accepted and 0 not (their mean is its return p)."""
        if seat != 1 or not self.is_terminal() or self.question.invalid is not None:
            return None
        return [float(ok) for ok in self.accepted()]

    def legal_actions(self, player: int | None = None) -> None:
        return None

    def apply(self, action: str) -> None:
        if self.is_terminal():
            raise InvalidAction("the game is over")
        if self.question is None:
            question = parse_question(action, self.document)  # raises before anything changes
            self.proposal, self.question = " ".join(action.split()), question
            return
        answer = " ".join(action.split())
        if not answer:
            raise InvalidAction("answer with the value, e.g. copper")
        if len(answer) > MAX_ANSWER_CHARS:
            raise InvalidAction(f"the answer is longer than {MAX_ANSWER_CHARS} characters")
        exact = normalized(answer) == normalized(self.question.truth)
        verifier = self.game.verifier
        self.answers.append(answer)
        self.exact.append(exact)
        self.verdicts.append(exact if verifier is None else verifier.accepts(self.question.text, self.question.truth, answer))

    def example_actions(self) -> list[str]:
        if self.question is None:
            return [text for text, _ in self.examples]
        others = [v for k, v in self.document.items() if k != self.question.key][:3]
        return list(dict.fromkeys([self.question.truth, *others, "unknown"]))

    def text(self) -> str:
        return "Document:\n" + "\n".join(f"{k}: {v}" for k, v in self.document.items())

    def observation(self, player: int) -> str:
        if player == 0:
            if self.question is None:
                head = f"You are the questioner (player 0).\n{self.text()}\nWrite your question and its answer now."
                if not self.game.show_examples:
                    return head
                return head + "\n" + example_block("Example questions", [text for text, _ in self.examples])
            lines = [f"You are the questioner (player 0).\n{self.text()}\nYou asked: {self.proposal}"]
            if self.question.invalid is not None:
                lines.append(f"Your question was invalid: {self.question.invalid}.")
            else:
                lines.append(
                    f"The responder has answered {len(self.answers)} of {self.game.attempts} times, {self.right()} right."
                )
            return "\n".join(lines)
        if self.question is None:
            return f"You are the responder (player 1).\n{self.text()}\nThe questioner has not asked yet."
        if self.question.invalid is not None:
            return f"You are the responder (player 1). The questioner's question was invalid: {self.question.invalid}."
        return f"You are the responder (player 1).\n{self.text()}\nQuestion: {self.question.text}\nAnswer with the value."

    def clone(self) -> QRVState:
        return QRVState(
            self.game,
            dict(self.document),
            list(self.examples),
            self.proposal,
            self.question,
            list(self.answers),
            list(self.verdicts),
            list(self.exact),
        )

    def render(self) -> str:
        lines = [self.text()]
        if self.question is None:
            return "\n".join([*lines, "Waiting for the question"])
        lines.append(f"Question: {self.proposal}")
        if self.question.invalid is not None:
            lines.append(f"Invalid question: {self.question.invalid}")
        else:
            control = "" if self.game.judge == "exact" else f"; {sum(self.exact)} by the exact rule"
            lines.append(f"Reference: {self.question.truth}; answers: {self.answers} ({self.right()} right{control})")
        if self.is_terminal():
            lines.append(f"Returns: {self.returns()}")
        return "\n".join(lines)


def prior(state: QRVState) -> dict[str, float]:
    """The weak, state-dependent play stated in the module docstring."""
    moves = state.example_actions()
    if state.question is None:
        return mix([text for text, valid in state.examples if valid], moves, 0.5)
    return mix([state.question.truth], moves, 0.4)


register(
    GameEntry(
        name="qrv",
        num_players=2,
        source="native",
        description="questioner asks about one key of a synthetic key-value document (with its reference answer), "
        "responder answers in k attempts, exact verifier; learnability reward",
        make=QRV,
        zero_sum=False,
        perfect_information=False,
        prior=prior,
        proposer_seat=0,
        roles=("questioner", "responder"),
    )
)
