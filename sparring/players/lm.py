"""``model:PATH`` / ``model:bundled``: a language model as a player, batched across games.

Each decision renders the seat's observation into a chat prompt, samples
from the engine, and parses the answer. Whatever the model says -- nothing,
endless text, no answer -- the game goes on: the turn becomes an invalid move
with its reason recorded, never an exception. The token ids and log-probs of
each turn ride along in ``Move.info`` so training uses exactly what was sampled.

``view`` decides what the model reads (``rollout.view``). ``turn`` (SPIRAL):
every decision is a fresh prompt, the rules and the current observation.
``trajectory`` (MARS): each seat plays one growing conversation per game --
the prompt of its turn k is the ids of turn k - 1's prompt, the ids it
generated then, and the next observation's user turn
(:func:`sparring.prompts.encode_followup`) -- so the model sees its own
earlier answers and never the opponent's text beyond what the observation
shows. The running ids are kept per (game state, seat) and dropped with the state.

The policy view (for exact exploitability) scores, at a state, each legal
move's clean answer (``\\boxed{bet}`` + end of turn) under the model and
normalises: p(move) is proportional to p(answer | prompt). For a model that
reasons before answering this is an approximation (the reasoning is skipped);
for models that answer directly, like the bundled one, it is its policy.
"""

from __future__ import annotations

import math
import weakref
from typing import Any, Literal

from sparring.engines.base import Engine, SamplingParams
from sparring.games.base import Game, State
from sparring.players.base import Move
from sparring.prompts import (
    PROMPT_STYLES,
    PromptConfig,
    encode_chat,
    encode_followup,
    followup_message,
    format_answer,
    read_move,
    render_messages,
)

View = Literal["turn", "trajectory"]


class LMPlayer:
    def __init__(
        self,
        engine: Engine,
        game: Game | None = None,
        prompt: PromptConfig | None = None,
        sampling: SamplingParams | None = None,
        name: str = "model",
        view: View = "turn",
    ):
        self.engine = engine
        self.game = game
        self.prompt = prompt or PromptConfig()
        self.sampling = sampling or SamplingParams()
        self.name = name
        self.view = view
        self._conversations: dict[int, tuple[weakref.ref[State], dict[int, list[int]]]] = {}
        """Trajectory view: per game state (by id, checked through a weak reference), each seat's ids so far."""

    # -- prompts ------------------------------------------------------------
    def prompt_ids(self, game: Game, state: State, seat: int) -> list[int]:
        return encode_chat(self.engine.tokenizer, render_messages(game, state, seat, self.prompt))

    def answer_ids(self, move: str) -> list[int]:
        """Token ids of the clean answer for ``move``, end of turn included."""
        tok = self.engine.tokenizer
        return tok.encode(format_answer(move, self.prompt.answer_format), add_special_tokens=False) + [tok.eos_token_id]

    def _conversation(self, state: State) -> dict[int, list[int]]:
        """The seats' running ids in this game; a new game (or a recycled id) starts empty."""
        entry = self._conversations.get(id(state))
        if entry is None or entry[0]() is not state:
            key = id(state)
            entry = (weakref.ref(state, lambda _, key=key: self._conversations.pop(key, None)), {})
            self._conversations[key] = entry
        return entry[1]

    def turn_prompt(self, game: Game, state: State, seat: int) -> list[int]:
        """The ids the model reads for this decision, by ``view`` (see the module docstring)."""
        if self.view == "turn":
            return self.prompt_ids(game, state, seat)
        so_far = self._conversation(state).get(seat)
        if so_far is None:
            return self.prompt_ids(game, state, seat)
        return so_far + encode_followup(self.engine.tokenizer, followup_message(state, seat, self.prompt), so_far)

    # -- acting -------------------------------------------------------------
    def act(self, state: State, seat: int) -> Move:
        return self.act_batch([state], [seat])[0]

    def act_batch(self, states: list[State], seats: list[int]) -> list[Move]:
        if self.game is None:
            raise ValueError("LMPlayer needs a game to render prompts; pass game= or use act_batch_games")
        return self.act_batch_games([self.game] * len(states), states, seats)

    def act_batch_games(
        self, games: list[Game], states: list[State], seats: list[int], sampling: SamplingParams | None = None
    ) -> list[Move]:
        """One batched generate call for every (game, state, seat)."""
        prompts = [self.turn_prompt(g, s, seat) for g, s, seat in zip(games, states, seats, strict=True)]
        generations = self.engine.generate(prompts, sampling or self.sampling)
        moves = []
        for state, seat, prompt, gen in zip(states, seats, prompts, generations, strict=True):
            if self.view == "trajectory":
                self._conversation(state)[seat] = prompt + gen.token_ids
            parsed = read_move(gen.text, state.legal_actions(), self.prompt, truncated=gen.finish_reason == "length")
            info = {
                "prompt_ids": prompt,
                "response_ids": gen.token_ids,
                "logprobs": gen.logprobs,
                "finish_reason": gen.finish_reason,
            }
            moves.append(Move(parsed.action, parsed.reason, gen.text, info))
        return moves

    # -- policy view --------------------------------------------------------
    def action_probabilities(self, state: State, seat: int) -> dict[str, float]:
        return self.action_probabilities_batch([state], [seat])[0]

    def action_probabilities_batch(self, states: list[State], seats: list[int]) -> list[dict[str, float]]:
        if self.game is None:
            raise ValueError("LMPlayer needs a game for its policy view")
        pairs: list[tuple[int, str]] = []
        prompts, conts = [], []
        for k, (state, seat) in enumerate(zip(states, seats, strict=True)):
            legal = state.legal_actions()
            if legal is None:
                raise ValueError("the policy view needs listed legal moves")
            prompt = self.prompt_ids(self.game, state, seat)
            for move in legal:
                pairs.append((k, move))
                prompts.append(prompt)
                conts.append(self.answer_ids(move))
        scores = self.engine.score(prompts, conts, temperature=self.sampling.temperature or 1.0)
        logps: list[dict[str, float]] = [{} for _ in states]
        for (k, move), lp in zip(pairs, scores, strict=True):
            logps[k][move] = sum(lp)
        return [softmax_dict(d) for d in logps]


def softmax_dict(logps: dict[str, float]) -> dict[str, float]:
    top = max(logps.values())
    weights = {m: math.exp(v - top) for m, v in logps.items()}
    total = sum(weights.values())
    return {m: w / total for m, w in weights.items()}


def check_model_player(
    game: Game,
    seed: int = 0,
    path: str = "bundled",
    device: str = "cpu",
    temperature: float = 1.0,
    top_p: float = 1.0,
    max_new_tokens: int = 64,
    answer_format: str = "boxed",
    style: str = "sparring",
    **_: Any,
) -> None:
    """Everything ``make_model_player`` checks before it loads the model (a run's preflight calls it alone)."""
    from sparring.engines import resolve_model_path
    from sparring.errors import UserError

    if answer_format not in ("boxed", "brackets", "answer_tag"):
        raise UserError(f"answer_format must be boxed, brackets or answer_tag, not {answer_format!r}")
    if style not in PROMPT_STYLES:
        raise UserError(f"style must be one of {', '.join(PROMPT_STYLES)}, not {style!r}")
    if style == "spiral" and answer_format != "boxed":
        raise UserError(f"style=spiral answers in \\boxed{{}}; drop answer_format={answer_format}")
    if temperature < 0 or not 0 < top_p <= 1 or max_new_tokens < 1:
        raise UserError(
            f"model player: need temperature >= 0, 0 < top_p <= 1 and max_new_tokens >= 1, "
            f"not {temperature}, {top_p} and {max_new_tokens}"
        )
    resolve_model_path(path)


def make_model_player(
    game: Game,
    seed: int = 0,
    path: str = "bundled",
    device: str = "cpu",
    temperature: float = 1.0,
    top_p: float = 1.0,
    max_new_tokens: int = 64,
    answer_format: str = "boxed",
    style: str = "sparring",
    **_: Any,
) -> LMPlayer:
    """Factory for the ``model:PATH[,temperature=..,max_new_tokens=..,device=..,style=spiral]`` spec."""
    from sparring.engines import load_hf_engine

    check_model_player(game, seed, path, device, temperature, top_p, max_new_tokens, answer_format, style)
    engine = load_hf_engine(path, device=device)
    engine.rng.manual_seed(seed)
    sampling = SamplingParams(temperature=temperature, top_p=top_p, max_new_tokens=max_new_tokens)
    prompt = PromptConfig(answer_format=answer_format, style=style)  # type: ignore[arg-type]  # checked above
    return LMPlayer(engine, game, prompt, sampling, name=f"model:{path}")
