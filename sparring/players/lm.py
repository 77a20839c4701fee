"""``model:PATH`` / ``model:bundled``: a language model as a player, batched across games.

Each decision renders the seat's observation into a chat prompt, samples
from the engine, and parses the answer. Whatever the model says -- nothing,
endless text, no answer -- the game goes on: the turn becomes an invalid move
with its reason recorded, never an exception. The token ids and log-probs of
each turn ride along in ``Move.info`` so training uses exactly what was sampled.

The policy view (for exact exploitability) scores, at a state, each legal
move's clean answer (``\\boxed{bet}`` + end of turn) under the model and
normalises: p(move) is proportional to p(answer | prompt). For a model that
reasons before answering this is an approximation (the reasoning is skipped);
for models that answer directly, like the bundled one, it is its policy.
It reads the turn view's prompt at each information state, whatever
``prompt.view`` says: an information state has no one conversation.
"""

from __future__ import annotations

import math
import weakref
from typing import Any

from sparring.engines.base import Engine, SamplingParams
from sparring.games.base import Game, State
from sparring.players.base import Move
from sparring.prompts import (
    PROMPT_STYLES,
    PromptConfig,
    chat_continuation,
    encode_chat,
    format_answer,
    read_move,
    render_messages,
)


class LMPlayer:
    def __init__(
        self,
        engine: Engine,
        game: Game | None = None,
        prompt: PromptConfig | None = None,
        sampling: SamplingParams | None = None,
        name: str = "model",
    ):
        self.engine = engine
        self.game = game
        self.prompt = prompt or PromptConfig()
        self.sampling = sampling or SamplingParams()
        self.name = name
        self._talks: dict[int, tuple[weakref.ref, dict[int, tuple[list[int], bool]]]] = {}
        """Trajectory view: per live game state (by id, held weakly), each seat's conversation."""

    def for_game(self, game: Game) -> LMPlayer:
        """The same model and settings bound to one game: the policy view a multi-game policy lacks."""
        return LMPlayer(self.engine, game, self.prompt, self.sampling, self.name)

    # -- prompts ------------------------------------------------------------
    def prompt_ids(self, game: Game, state: State, seat: int) -> list[int]:
        """The turn view's prompt: the rules and ``state``'s observation for ``seat``, through the chat template."""
        return encode_chat(self.engine.tokenizer, render_messages(game, state, seat, self.prompt))

    def turn_prompt(self, game: Game, state: State, seat: int) -> list[int]:
        """What the model reads before answering: the turn view's prompt, or in the trajectory view the seat's
        conversation so far (its own earlier answers as sampled) continued by the new observation.

        The trajectory view never re-renders the history: the ids are appended
        turn by turn (``chat_continuation``), so every earlier prompt and answer
        is a prefix of the next prompt, token for token.
        """
        if self.prompt.view == "turn":
            return self.prompt_ids(game, state, seat)
        past = self._seats(state).get(seat)
        if past is None:
            return self.prompt_ids(game, state, seat)
        ids, finished = past
        return ids + chat_continuation(self.engine.tokenizer, state.observation(seat), after_eos=finished)

    def _seats(self, state: State) -> dict[int, tuple[list[int], bool]]:
        """The trajectory view's memory of one game: per seat, (conversation ids, last answer ended its turn).

        Kept by the state object's identity, weakly, so a finished game's conversations go with its state.
        """
        entry = self._talks.get(id(state))
        if entry is None or entry[0]() is not state:
            self._talks = {k: v for k, v in self._talks.items() if v[0]() is not None}
            entry = (weakref.ref(state), {})
            self._talks[id(state)] = entry
        return entry[1]

    def answer_ids(self, move: str) -> list[int]:
        """Token ids of the clean answer for ``move``, end of turn included."""
        tok = self.engine.tokenizer
        return tok.encode(format_answer(move, self.prompt.answer_format), add_special_tokens=False) + [tok.eos_token_id]

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
            if self.prompt.view == "trajectory":
                ended = bool(gen.token_ids) and gen.token_ids[-1] == self.engine.tokenizer.eos_token_id
                self._seats(state)[seat] = (prompt + list(gen.token_ids), ended)
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
