"""From a game state to the tokens a model reads, and from its text back to a move.

    observation + rules + legal moves  ->  chat messages  ->  chat template  ->  token ids
    generated text                     ->  parse_answer   ->  move (or why there is none)

The answer format is SPIRAL's by default: the final move inside ``\\boxed{}``.
``brackets`` (``[4]``) and ``answer_tag`` (``<answer>4</answer>``) are the
alternatives. ``format_answer`` writes a move in the chosen format; it is the
one place that decides what a "clean" answer looks like, used by the
pre-training corpus and by the exact policy view (which scores each legal
move's clean answer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from sparring.games.base import Game, State, match_action

AnswerFormat = Literal["boxed", "brackets", "answer_tag"]

INSTRUCTIONS: dict[str, str] = {
    "boxed": "Put your final move within \\boxed{}.",
    "brackets": "Put your final move within square brackets, like [move].",
    "answer_tag": "Put your final move between <answer> and </answer>.",
}

DEFAULT_SYSTEM = "You are playing a two-player zero-sum game. Make valid moves to win.\n\nRules: {rules}\n\n{instruction}"


@dataclass(frozen=True)
class PromptConfig:
    """How a state becomes a prompt. Every field is a recipe knob (``prompt.*``)."""

    answer_format: AnswerFormat = "boxed"
    """Where the model puts its move: ``boxed`` (SPIRAL), ``brackets`` or ``answer_tag``."""
    system: str = DEFAULT_SYSTEM
    """System message; ``{rules}`` and ``{instruction}`` are filled in. Empty: no system message."""
    system_per_game: tuple[tuple[str, str], ...] = ()
    """Per-game overrides of ``system``, as (game name, template) pairs."""


def render_messages(game: Game, state: State, player: int, config: PromptConfig = PromptConfig()) -> list[dict[str, str]]:
    """The chat for ``player`` at ``state``: a system message with the rules, a user message with the observation."""
    template = dict(config.system_per_game).get(game.name, config.system)
    messages = []
    if template:
        messages.append(
            {"role": "system", "content": template.format(rules=game.describe(), instruction=INSTRUCTIONS[config.answer_format])}
        )
    messages.append({"role": "user", "content": state.observation(player)})
    return messages


def encode_chat(tokenizer: Any, messages: list[dict[str, str]]) -> list[int]:
    """Token ids of ``messages`` through the tokenizer's chat template, ready for the assistant's turn.

    A tokenizer with no chat template gets a plain ``Role: content`` layout so
    any causal LM directory works.
    """
    if getattr(tokenizer, "chat_template", None):
        ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
        if isinstance(ids, dict) or hasattr(ids, "keys"):  # some versions return a BatchEncoding
            ids = ids["input_ids"]
        return list(ids)
    text = "".join(f"{m['role'].capitalize()}: {m['content']}\n\n" for m in messages) + "Assistant:"
    return tokenizer.encode(text, add_special_tokens=False)


def format_answer(move: str, answer_format: AnswerFormat = "boxed") -> str:
    """A clean answer that plays ``move`` in the given format."""
    if answer_format == "boxed":
        return f"\\boxed{{{move}}}"
    if answer_format == "brackets":
        return move if move.startswith("[") and move.endswith("]") else f"[{move}]"
    return f"<answer>{move}</answer>"


@dataclass(frozen=True)
class ParsedAnswer:
    action: str | None
    reason: str | None = None


def _last_boxed(text: str) -> tuple[str | None, bool]:
    """Content of the last ``\\boxed{...}`` (braces matched); (None, True) if it is unclosed."""
    start = text.rfind("\\boxed{")
    if start < 0:
        return None, False
    depth, i = 1, start + len("\\boxed{")
    body = i
    while i < len(text):
        if text[i] == "{":
            depth += 1
        elif text[i] == "}":
            depth -= 1
            if depth == 0:
                return text[body:i], False
        i += 1
    return None, True


TEXT_WRAP = re.compile(r"^\\text\{(.*)\}$", re.DOTALL)


def parse_answer(text: str, answer_format: AnswerFormat = "boxed", truncated: bool = False) -> ParsedAnswer:
    """Extract the move from a model's text, or say why there is none.

    The last answer wins (models often restate). ``truncated`` marks output
    cut at the token limit, so an unclosed answer is reported as such.
    """
    if not text.strip():
        return ParsedAnswer(None, "empty output")
    cut = " (output cut at max new tokens)" if truncated else ""
    if answer_format == "boxed":
        content, unclosed = _last_boxed(text)
        if content is None:
            return ParsedAnswer(None, ("unclosed \\boxed{" if unclosed else "no \\boxed{} answer found") + cut)
        match = TEXT_WRAP.match(content.strip())
        content = match.group(1) if match else content
    elif answer_format == "brackets":
        found = re.findall(r"\[[^\[\]]*\]", text)
        if not found:
            return ParsedAnswer(None, "no [move] answer found" + cut)
        content = found[-1]
    else:
        found = re.findall(r"<answer>(.*?)</answer>", text, re.DOTALL)
        if not found:
            return ParsedAnswer(None, "no <answer>...</answer> found" + cut)
        content = found[-1]
    content = " ".join(content.split())
    if not content:
        return ParsedAnswer(None, "empty answer")
    return ParsedAnswer(content)


def resolve_move(content: str, legal: list[str] | None) -> str:
    """Map a parsed answer onto the game's own spelling of a legal move.

    ``[4]``, ``'4'`` and ``Bet`` all name ``4`` / ``bet`` when those are legal;
    anything else is passed through unchanged for the game to refuse (with its
    reason). Free-text turns get the content as is.
    """
    if legal is None:
        return content
    for candidate in (content, content.strip("[]'\"` ."), content.strip("[]'\"` .").removeprefix("move ")):
        move = match_action(candidate, legal)
        if move is not None:
            return move
    return content
