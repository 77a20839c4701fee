"""From a game state to the tokens a model reads, and from its text back to a move.

    observation + rules + legal moves  ->  chat messages  ->  chat template  ->  token ids
    generated text                     ->  parse_answer   ->  move (or why there is none)

Two prompt styles (``prompt.style``):

- ``sparring`` (the default; the bundled model was pre-trained on it): a system
  message with the rules and a short answer instruction, then the observation
  as the user turn. The answer is read leniently (``parse_answer`` then
  ``resolve_move``: ``[4]``, ``'4'`` and ``Bet`` all name a legal ``4`` / ``bet``),
  and a move the game refuses is the game's to explain.
- ``spiral``: SPIRAL's own template and parser, exactly as in its code
  (spiral-rl/spiral: ``spiral/template.py``, ``apply_qwen3_template``;
  ``train_spiral.py``, ``SelfPlayActor.extract_action``; ``spiral/utils.py``,
  ``extract_boxed_answer``). One user turn, no system message, that asks the
  model to reason before it answers; the answer must name a legal move
  exactly, case included. See :func:`render_spiral` and :func:`parse_spiral`.

The answer format is SPIRAL's by default: the final move inside ``\\boxed{}``.
``brackets`` (``[4]``) and ``answer_tag`` (``<answer>4</answer>``) are the
alternatives (``sparring`` style only). ``format_answer`` writes a move in the
chosen format; it is the one place that decides what a "clean" answer looks
like, used by the pre-training corpus and by the exact policy view (which
scores each legal move's clean answer). :func:`read_move` is the one place a
player turns text into a move, in either style.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from sparring.games.base import Game, State, match_action

AnswerFormat = Literal["boxed", "brackets", "answer_tag"]
PromptStyle = Literal["sparring", "spiral"]
PROMPT_STYLES: tuple[str, ...] = ("sparring", "spiral")
PromptView = Literal["turn", "trajectory"]

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
    style: PromptStyle = "sparring"
    """``sparring``: system message + observation, lenient parsing; ``spiral``: SPIRAL's one user turn and
    its strict parser (``answer_format`` must then be ``boxed``; ``system`` is not used)."""
    view: PromptView = "turn"
    """``turn`` (SPIRAL): each turn's prompt is the rules and the current observation. ``trajectory`` (MARS):
    a seat's prompt is its whole conversation -- every earlier observation and its own earlier answers, as
    sampled -- with the new observation appended (``sparring.players.lm``); ``sparring`` style only."""

    def __post_init__(self) -> None:
        if self.style == "spiral" and self.answer_format != "boxed":
            raise ValueError(f"prompt style spiral answers in \\boxed{{}}; answer_format {self.answer_format!r} does not apply")
        if self.view == "trajectory" and self.style != "sparring":
            raise ValueError("the trajectory view continues a chat: it needs prompt style sparring")


def render_messages(game: Game, state: State, player: int, config: PromptConfig = PromptConfig()) -> list[dict[str, str]]:
    """The chat for ``player`` at ``state``.

    ``sparring`` style: a system message with the rules, a user message with
    the observation. ``spiral`` style: SPIRAL's single user turn (:func:`render_spiral`).
    """
    if config.style == "spiral":
        return [{"role": "user", "content": render_spiral(spiral_observation(game, state, player))}]
    template = dict(config.system_per_game).get(game.name, config.system)
    if template == DEFAULT_SYSTEM:
        template = template.replace("a two-player zero-sum game", f"a {game_kind(game)} game")
    messages = []
    if template:
        messages.append(
            {"role": "system", "content": template.format(rules=game.describe(), instruction=INSTRUCTIONS[config.answer_format])}
        )
    messages.append({"role": "user", "content": state.observation(player)})
    return messages


def game_kind(game: Game) -> str:
    """What the default system message calls the game: ``two-player zero-sum`` for every two-seat game that is
    not a team game (the text the bundled model was pre-trained on, kept as it was), else the seat count and
    ``cooperative``, ``zero-sum`` or ``general-sum`` -- so a 3-seat or team game is not introduced as a
    two-player zero-sum one."""
    from sparring.games.registry import is_cooperative, is_zero_sum

    if game.num_players == 2 and not is_cooperative(game):
        return "two-player zero-sum"
    count = {2: "two", 3: "three", 4: "four"}.get(game.num_players, str(game.num_players))
    kind = "cooperative" if is_cooperative(game) else "zero-sum" if is_zero_sum(game) else "general-sum"
    return f"{count}-player {kind}"


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


def chat_continuation(tokenizer: Any, observation: str, after_eos: bool) -> list[int]:
    """Ids that close an assistant answer and open the next user turn (``observation``) and assistant turn.

    Read off the chat template itself: the text it puts after an assistant
    message, up to the next generation prompt. ``after_eos``: the answer
    already ends with the end-of-turn token (it finished rather than ran out
    of tokens), so that token is not repeated. Appending these ids to a
    conversation's sampled ids continues it without re-tokenizing anything
    already there (the trajectory view).
    """
    marker = "\u2063SPARRING-ANSWER\u2063"
    messages = [
        {"role": "user", "content": "x"},
        {"role": "assistant", "content": marker},
        {"role": "user", "content": observation},
    ]
    if getattr(tokenizer, "chat_template", None):
        text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    else:
        text = "".join(f"{m['role'].capitalize()}: {m['content']}\n\n" for m in messages) + "Assistant:"
    suffix = text.split(marker, 1)[1]
    eos = getattr(tokenizer, "eos_token", None)
    if after_eos and eos and suffix.startswith(eos):
        suffix = suffix[len(eos) :]
    return tokenizer.encode(suffix, add_special_tokens=False)


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


def read_move(text: str, legal: list[str] | None, config: PromptConfig = PromptConfig(), truncated: bool = False) -> ParsedAnswer:
    """The move a player's ``text`` names at a state with these ``legal`` moves (None: free text), in the config's style.

    ``action`` is the game's own spelling of a legal move, or text for the
    game to judge (free-text games; in ``sparring`` style also an unmatched
    answer, which the game refuses with its reason). ``action`` None means the
    answer itself was unusable; ``reason`` says why.
    """
    if config.style == "spiral":
        return parse_spiral(text, legal, truncated)
    parsed = parse_answer(text, config.answer_format, truncated)
    if parsed.action is None:
        return parsed
    return ParsedAnswer(resolve_move(parsed.action, legal))


# ----------------------------------------------------------------------------- SPIRAL's template and parser
SPIRAL_INTRO = "You are playing a two-player zero-sum game. Make valid actions to win."
SPIRAL_INSTRUCTION = "Please reason step by step, and put your final answer within \\boxed{}."
SPIRAL_BOXED = re.compile(r"\\boxed\{([^}]*)\}")


def spiral_observation(game: Game, state: State, player: int) -> str:
    """What fills SPIRAL's ``Observation:`` slot: the rules, a blank line, then what ``player`` sees.

    SPIRAL's TextArena observations open with the game's rules prompt and
    follow with the state; sparring's game text (rules from ``describe``, the
    observation ending with the legal moves) is laid out the same way. The
    words of the rules and the board are sparring's own, not TextArena's.
    """
    return f"{game.describe()}\n\n{state.observation(player)}"


def render_spiral(observation: str) -> str:
    """SPIRAL's ``qwen3`` user turn around an observation (spiral-rl/spiral ``spiral/template.py``).

    SPIRAL writes the chat tokens itself (``<|im_start|>user\\n ... <|im_end|>\\n<|im_start|>assistant\\n``);
    here the tokenizer's chat template adds them, which for Qwen3 (and the
    bundled ChatML tokenizer) gives the same text for this one user turn.
    """
    return f"{SPIRAL_INTRO}\nObservation: {observation}\n{SPIRAL_INSTRUCTION}"


def spiral_boxed(text: str) -> str | None:
    """SPIRAL's ``extract_boxed_answer`` (``spiral/utils.py``), rule for rule.

    The last ``\\boxed`` (else the last ``\\fbox``) up to its matching brace;
    None when there is none, when it never closes, or when the match does not
    read ``\\boxed{...}`` (so ``\\fbox{x}`` and ``\\boxed {x}`` give None). A
    whole-content ``\\text{...}`` is unwrapped. Nothing is stripped.
    """
    start = text.rfind("\\boxed")
    if start < 0:
        start = text.rfind("\\fbox")
        if start < 0:
            return None
    depth = 0
    for end in range(start, len(text)):
        if text[end] == "{":
            depth += 1
        if text[end] == "}":
            depth -= 1
            if depth == 0:
                break
    else:
        return None
    whole = text[start : end + 1]
    if not (whole.startswith("\\boxed{") and whole.endswith("}")):
        return None
    content = whole[len("\\boxed{") : -1]
    if content.startswith("\\text{") and content.endswith("}"):
        content = content[len("\\text{") : -1]
    return content


def parse_spiral(text: str, legal: list[str] | None, truncated: bool = False) -> ParsedAnswer:
    """SPIRAL's ``extract_action`` for its ``qwen3`` template (spiral-rl/spiral ``train_spiral.py``), rule for rule.

    1. Empty text is handed to the game as the empty move: SPIRAL passes ``""``
       to the environment, which judges it (a listed-move game refuses it; in
       negotiation it is talk).
    2. The answer is the content of the last ``\\boxed{}`` (:func:`spiral_boxed`),
       or, without one, the whole text stripped.
    3. Any ``\\boxed{X}`` left inside becomes ``[X]``; an answer with no ``[``
       and no ``]`` of at most five words is wrapped, ``X`` -> ``[X]`` (the
       fallback for short answers, boxed or not); runs of whitespace become
       one space and the ends are stripped.
    4. SPIRAL's legal moves are bracketed (``[4]``, ``[check]``): the answer
       must equal one of ``[m]`` for the legal moves ``m`` exactly, case
       included (``[Check]`` is not ``[check]``); it is then played as ``m``.
       Anything else is an invalid move. Free-text games (``legal`` None) get
       the cleaned answer to judge: SPIRAL instead checks negotiation answers
       against three randomly drawn offers, a difference sparring keeps on
       purpose (README, "Where sparring differs from SPIRAL").

    The truncation flag changes nothing but the reason's wording: SPIRAL reads
    a cut-off answer the same way.
    """
    if not text:
        return ParsedAnswer("")
    boxed = spiral_boxed(text)
    answer = boxed if boxed is not None else text.strip()
    answer = SPIRAL_BOXED.sub(r"[\1]", answer)
    if "[" not in answer and "]" not in answer and len(answer.split()) <= 5:
        answer = f"[{answer}]"
    answer = re.sub(r"\s+", " ", answer).strip()
    if legal is None:
        return ParsedAnswer(answer)
    spelled = {f"[{move}]": move for move in legal}
    if answer in spelled:
        return ParsedAnswer(spelled[answer])
    shown = answer if len(answer) <= 40 else answer[:37] + "..."
    cut = " (output cut at max new tokens)" if truncated else ""
    where = "in \\boxed{}" if boxed is not None else "(no \\boxed{} answer)"
    return ParsedAnswer(None, f"{shown!r} {where} is not exactly one of {', '.join(spelled)} (case-sensitive){cut}")
