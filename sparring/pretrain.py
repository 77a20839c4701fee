"""Make the bundled base model: a tiny Llama that knows the game format and plays a weak prior.

No model can be downloaded here, so sparring makes its own starting point:

1. a corpus of synthetic turns from every bundled game -- the prompt exactly as
   the language-model player renders it, answered with a move drawn from the
   game's weak, state-dependent prior (``GameEntry.prior``, stated in each
   game's docstring: bet more with better cards, sometimes take a win in one)
   in the clean answer format, plus a few invalid answers (an illegal move, or
   a move with no ``\\boxed{}``) so the format is not perfect;
2. a byte-level BPE tokenizer trained on that corpus, with a ChatML chat template;
3. a small ``LlamaForCausalLM`` trained for a fixed number of steps on the
   answers and, with a smaller weight, on the observation text.

Two measured lessons shape the targets. Trained on one sampled legal move per
turn, the model never learned to read the board: after 2,000 steps its
distribution over tic-tac-toe cells was the same whatever the position
(legal-move rate 60%, the share of empty cells), because the benefit of
conditioning is small next to the noise of a single random target. So every
answer token where the prior's moves part ways is trained on the prior's whole
distribution over the next token, given the tokens of the sampled answer so
far (``soft_targets``): the expected gradient of imitating the prior, without
its noise, for one-token moves (a cell, ``bet``) and many-token moves
(``a2b3``, ``2x5``) alike. And the prior must depend on the state: with
uniformly random answers the first bundled model learned to ignore its card
(P(bet) 0.487 with J, Q and K alike), and self-play then had no
card-dependence to build on.

State-dependent targets were still not enough for hidden cards. After the
corpus the model's P(bet) was the same with J, Q and K (0.50), from scratch
or continued, with sharpened targets, and with the card restated in the
answer: the rules text names all three cards, so finding *its* card takes a
positional circuit that noisy minibatches of sampled turns never formed.
A last phase (``distill``) trains on every information state of Kuhn and
Leduc at once, the prior's whole distribution as the target, with corpus
batches in between so the other games are not forgotten; 200 such steps
make the model read its card.

The result loads with plain ``AutoModelForCausalLM.from_pretrained``. It plays
roughly like its prior, which is weak on purpose: self-play must then make it
strong. ``sparring pretrain --out DIR`` reproduces it.
"""

from __future__ import annotations

import itertools
import json
import math
import random
import re
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch

from sparring.device import autocast, autocast_dtype
from sparring.engines.paths import BUNDLED
from sparring.games import State, make_game
from sparring.games.priors import Prior, moves_for, uniform
from sparring.games.registry import game_entry
from sparring.prefix import response_log_softmax
from sparring.prompts import PromptConfig, format_answer, render_messages
from sparring.specs import parse_spec

CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
BUNDLED_DIR = BUNDLED  # one definition: sparring.engines.paths


def chatml(messages: list[dict[str, str]], add_generation_prompt: bool = True) -> str:
    """The text ``CHAT_TEMPLATE`` renders (used before a tokenizer exists; tested equal)."""
    text = "".join(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n" for m in messages)
    return text + ("<|im_start|>assistant\n" if add_generation_prompt else "")


@dataclass
class PretrainConfig:
    """Every knob of ``sparring pretrain``, with the values the bundled model was made with."""

    mix: dict[str, int] = field(
        default_factory=lambda: {
            "tic_tac_toe": 20000,
            "kuhn_poker": 8000,
            "simple_negotiation": 5000,
            "leduc_poker": 5000,
            "connect_four": 4000,
            "liars_dice": 4000,
            "breakthrough": 6000,
        }
    )
    """Turns of prior play per game in the corpus; a key may be a game spec with parameters (``qrv:level=2``)."""
    observation_loss_weight: float = 0.5
    """Weight of the loss on the observation text (board, history, legal moves) next to the answer's."""
    invalid_rate: float = 0.05
    """Share of corpus answers that are deliberately invalid (illegal move or no \\boxed{})."""
    vocab_size: int = 1024
    hidden_size: int = 256
    layers: int = 4
    heads: int = 4
    intermediate_size: int = 688
    max_positions: int = 1024
    batch_size: int = 32
    lr: float = 2e-3
    warmup_steps: int = 100
    steps: int = 2400
    """Optimizer steps (a fixed count, so the same seed gives the same model on any machine)."""
    minutes: float = 120.0
    """Safety cap on the corpus phase's wall-clock time (30 minutes made a shared machine's run stop at step
    1,615 of 2,400: set it high and let ``steps`` decide)."""
    epochs: int = 3
    seed: int = 0
    distill: dict[str, int] = field(default_factory=lambda: {"kuhn_poker": 750, "leduc_poker": 375})
    """Steps after the corpus on *every* information state of these games at once (OpenSpiel's enumeration;
    Kuhn has 12, Leduc 936, sampled ``batch_size`` at a time; a game it does not list uses ``distill_pool``
    turns of prior play instead), answers only, with the prior's whole
    distribution as the target. Measured: after the corpus the tiny model ignores its card (P(bet) 0.50 for
    J, Q and K alike). Its rules text names all three cards, so finding *its* card means attending by
    position, a circuit that minibatches of sampled turns (300 more steps, sharpened targets, or the card
    stated again in the answer) never formed; the noiseless full-batch gradient over Kuhn's 12 states does."""
    distill_pool: int = 2048
    """For a game OpenSpiel does not enumerate (the role games, connect_four, ...), how many turns of prior play
    stand in for its information states in the distill phase, drawn once and sampled ``batch_size`` at a time. A
    free-text turn's target is the prior's sampled answer; a listed turn's, the prior's whole distribution."""
    distill_lr: float = 5e-4
    distill_solo: int = 200
    """The first distill steps of each game run alone, with no corpus batches in between: with a corpus batch
    after every step from the start, 300 Kuhn steps left the card unread (P(bet) 0.49 for J, Q and K), where
    200 steps alone read it."""
    distill_replay: int = 2
    """Corpus batches (all games, as in the main phase) after each distill step past ``distill_solo``. Measured
    without them: 900 Kuhn/Leduc-only steps left tic-tac-toe's legal-move rate at 0.585 (from 0.85), liar's
    dice's at 0.025."""
    format: dict[str, int] = field(default_factory=dict)
    """Steps per game (``game`` or ``game@seat``) of the format phase (``sparring.pretrain_format``), after the
    distill phase: on turns of prior play, REINFORCE on the model's own samples with reward 1 for an answer the
    game accepts, 0 for one it refuses. It teaches a free-text turn's form (distilling teaches only its shape)
    and nothing else."""
    format_lr: float = 1e-4
    init: str | None = None
    """Continue from this model directory (its tokenizer and weights) instead of a new tokenizer and random
    weights (``--init``): re-targets an existing base at a new prior without starting over."""


@dataclass
class Sample:
    """One corpus turn: what the model reads, the answer it is trained on, and the equally good answers."""

    messages: list[dict[str, str]]
    answer: str
    options: dict[str, float] = field(default_factory=dict)
    """Every clean answer the prior could give here, with its probability (empty for free text and invalid answers)."""
    invalid: bool = False
    """A deliberately invalid answer (``PretrainConfig.invalid_rate``)."""


def answer_options(probs: dict[str, float], prompt: PromptConfig) -> dict[str, float]:
    """The prior's moves as clean answers, with their probabilities (what ``soft_targets`` reads)."""
    return {format_answer(m, prompt.answer_format): p for m, p in probs.items()}


def corpus(config: PretrainConfig, prompt: PromptConfig | None = None) -> list[Sample]:
    """Turns from prior play (``GameEntry.prior``, else uniform) of every game in ``config.mix``."""
    prompt = prompt or PromptConfig()
    rng = random.Random(config.seed)
    samples = [sample for name, count in config.mix.items() for _, sample in game_turns(name, count, config, prompt, rng)]
    rng.shuffle(samples)
    return samples


def game_turns(
    name: str, count: int, config: PretrainConfig, prompt: PromptConfig, rng: random.Random
) -> Iterator[tuple[State, Sample]]:
    """``count`` corpus turns of one game, each with a copy of the state it was answered at (so a test can
    check that every clean answer parses and plays there)."""
    game = make_game(name)
    prior = game_entry(parse_spec(name, what="game").name).prior or uniform  # a mix key may be a spec: qrv:level=2
    seen_moves: set[str] = set()
    made, game_seed = 0, 0
    while made < count:
        state = game.new_state(rng.randrange(1 << 30) + game_seed)
        game_seed += 1
        while not state.is_terminal() and made < count:
            player = state.current_player
            probs = prior(state)
            moves = list(probs)
            seen_moves.update(moves)
            move = rng.choices(moves, weights=[probs[m] for m in moves])[0]
            messages = render_messages(game, state, player, prompt)
            if rng.random() < config.invalid_rate:
                sample = Sample(messages, invalid_answer(rng, move, moves, seen_moves, prompt), invalid=True)
            else:
                listed = state.legal_actions() is not None
                options = answer_options(probs, prompt) if listed else {}
                sample = Sample(messages, format_answer(move, prompt.answer_format), options)
            yield state.clone(), sample
            made += 1
            state.apply(move)


def load_pretrain_config(path: Path) -> PretrainConfig:
    """A ``PretrainConfig`` from a YAML or JSON file of its fields (a ``config`` key, as in pretrain.json, is
    unwrapped); unknown fields and unreadable files are one-line errors."""
    import dataclasses

    import yaml

    from sparring.errors import UserError

    try:
        data = yaml.safe_load(path.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise UserError(f"--config {path}: cannot read it ({exc.__class__.__name__})") from None
    if isinstance(data, dict) and isinstance(data.get("config"), dict):
        data = data["config"]
    if not isinstance(data, dict):
        raise UserError(f"--config {path}: expected a mapping of PretrainConfig fields")
    known = {f.name for f in dataclasses.fields(PretrainConfig)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise UserError(f"--config {path}: unknown field(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    from pydantic import TypeAdapter, ValidationError

    try:  # the dataclass's type hints, checked: "lr: fast" or "distill: [kuhn_poker]" is a line, not a crash later
        return TypeAdapter(PretrainConfig).validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise UserError(f"--config {path}: {where}: {first['msg']} (got {first.get('input')!r})") from None


def parse_distill(text: str, flag: str = "--distill") -> dict[str, int]:
    """``kuhn_poker=600,leduc_poker=300`` (or ``none``) as ``PretrainConfig.distill`` (or ``.format``, whose
    keys may name a seat: ``sneaky_critic@0=60``); one-line errors."""
    from sparring.errors import UserError

    if text.strip().lower() in ("", "none"):
        return {}
    out = {}
    for part in text.split(","):
        name, _, steps = part.partition("=")
        if not steps.strip().isdigit():
            raise UserError(f"{flag} {part!r}: expected game=steps, e.g. kuhn_poker=600")
        out[name.strip()] = int(steps)
    check_distill(out, flag)
    return out


def check_distill(distill: dict[str, int], flag: str = "--distill") -> None:
    """Every game of a distill (or format) phase must be a registered game, a format key's seat a number, and
    its steps a count (from the CLI or a ``--config`` file alike); a one-line error otherwise."""
    from sparring.errors import UserError

    for key, steps in distill.items():
        name, _, seat = key.partition("@")
        if seat and flag == "--distill":
            raise UserError(f"{flag} {key}: a distill phase takes whole games")
        if seat and not seat.isdigit():
            raise UserError(f"{flag} {key}: write game or game@seat, e.g. propose_solve@0")
        try:
            enumerable(name)
        except UserError as exc:
            raise UserError(f"{flag} {key}: {exc}") from None
        if not isinstance(steps, int) or steps < 0:
            raise UserError(f"{flag} {key}: steps must be a whole number >= 0, got {steps!r}")


def format_turns(key: str, config: PretrainConfig) -> list[State]:
    """The states of ``config.distill_pool`` turns of prior play of a format-phase key: ``game`` (every turn)
    or ``game@seat`` (one seat's turns: ``propose_solve@0`` is the proposer's, a fifth of that game's turns)."""
    from sparring.errors import UserError

    check_distill({key: 0}, "--format")
    name, _, seat = key.partition("@")
    rng = random.Random(f"{config.seed}:format:{key}")
    clean = replace(config, invalid_rate=0.0)
    states = [s for s, _ in game_turns(name, config.distill_pool, clean, PromptConfig(), rng)]
    states = [s for s in states if not seat or s.current_player == int(seat)]
    if not states:
        raise UserError(f"--format {key}: seat {seat} never moves in {config.distill_pool} turns of prior play")
    return states


def enumerable(name: str) -> bool:
    """Whether OpenSpiel lists this game's information states (``decision_states``)."""
    entry = game_entry(parse_spec(name, what="game").name)
    return bool(entry.exploitability or entry.enumerable or entry.team_optimum)


def distill_samples(name: str, config: PretrainConfig, prompt: PromptConfig | None = None) -> list[Sample]:
    """A distill phase's states for one game: every information state where OpenSpiel lists them, else
    ``config.distill_pool`` turns of prior play (no deliberately invalid answers), drawn from the config's seed."""
    if enumerable(name):
        return information_states(name, prompt)
    clean = replace(config, invalid_rate=0.0)
    rng = random.Random(f"{config.seed}:distill:{name}")
    return [sample for _, sample in game_turns(name, config.distill_pool, clean, prompt or PromptConfig(), rng)]


def information_states(name: str, prompt: PromptConfig | None = None, prior: Prior | None = None) -> list[Sample]:
    """One sample per information state of an OpenSpiel game (every position, with perfect information),
    answered with the whole distribution of ``prior`` (the game's own by default)."""
    prompt = prompt or PromptConfig()
    game = make_game(name)
    prior = prior or game_entry(name).prior or uniform
    samples = []
    for pstate in decision_states(game.pyspiel_game, game_entry(name).perfect_information):
        state = game.wrap(pstate)
        probs = prior(state)
        move = max(probs, key=probs.__getitem__)
        messages = render_messages(game, state, pstate.current_player(), prompt)
        samples.append(Sample(messages, format_answer(move, prompt.answer_format), answer_options(probs, prompt)))
    return samples


def decision_states(pyspiel_game: Any, perfect_information: bool) -> list[Any]:
    """One OpenSpiel state per information state where a player must move.

    With imperfect information, OpenSpiel's tabular enumeration (Kuhn: 12, Leduc: 936). With perfect
    information that enumeration keys on the whole move history (tic-tac-toe: 294,778 of them, minutes
    to list), so positions are walked once each instead (tic-tac-toe: 4,520).
    """
    if not perfect_information:
        from open_spiel.python import policy as osp_policy

        return list(osp_policy.TabularPolicy(pyspiel_game).states)
    seen: set[str] = set()
    found, stack = [], [pyspiel_game.new_initial_state()]
    while stack:
        pstate = stack.pop()
        key = str(pstate) + f"|{pstate.current_player()}"
        if pstate.is_terminal() or key in seen:
            continue
        seen.add(key)
        if not pstate.is_chance_node():
            found.append(pstate)
        actions = [a for a, _ in pstate.chance_outcomes()] if pstate.is_chance_node() else pstate.legal_actions()
        stack.extend(pstate.child(a) for a in actions)
    return found


def invalid_answer(rng: random.Random, move: str, legal: list[str], seen: set[str], prompt: PromptConfig) -> str:
    """Half the time a real move that is illegal here, else the right move without its \\boxed{}."""
    illegal = sorted(seen - set(legal))
    if illegal and rng.random() < 0.5:
        return format_answer(rng.choice(illegal), prompt.answer_format)
    return move


def train_tokenizer(texts: list[str], vocab_size: int) -> Any:
    """Byte-level BPE with the ChatML special tokens and chat template."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|im_end|>",
        pad_token="<|endoftext|>",
        bos_token=None,
        chat_template=CHAT_TEMPLATE,
        model_max_length=1024,
    )


def make_model(tokenizer: Any, config: PretrainConfig) -> Any:
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(config.seed)
    return LlamaForCausalLM(
        LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=config.hidden_size,
            num_hidden_layers=config.layers,
            num_attention_heads=config.heads,
            num_key_value_heads=config.heads,
            intermediate_size=config.intermediate_size,
            max_position_embeddings=config.max_positions,
            tie_word_embeddings=True,
            eos_token_id=tokenizer.eos_token_id,
            pad_token_id=tokenizer.pad_token_id,
            bos_token_id=None,
        )
    )


@dataclass
class Encoded:
    prompt: list[int]
    answer: list[int]
    """Answer ids plus end-of-turn, tokenized alone exactly as generation produces them."""
    system_len: int
    """Tokens of the system part (the rules): the same for every turn of a game, so never a target."""
    soft: list[tuple[int, list[int], list[float]]] = field(default_factory=list)
    """(position in the answer, token ids, probabilities): the prior's next-token distribution at every
    position where the answers still possible there part ways."""


def soft_targets(answer: list[int], options: list[tuple[list[int], float]]) -> list[tuple[int, list[int], list[float]]]:
    """Along ``answer``, the prior's distribution over the next token wherever more than one is possible.

    ``options`` are the clean answers (ids, end-of-turn included) with their
    prior probabilities. At position k the answers still possible are those
    sharing ``answer[:k]``; their token k, weighted by probability and
    renormalised, is the target. Where only one token is possible the sampled
    token is the target already, so nothing is returned for it. An answer that
    is not among the options (an invalid one) gets no soft targets.
    """
    if not any(ids == answer for ids, _ in options):
        return []
    out = []
    alive = options
    for k, token in enumerate(answer):
        mass: dict[int, float] = {}
        for ids, p in alive:
            if len(ids) > k:
                mass[ids[k]] = mass.get(ids[k], 0.0) + p
        if len(mass) > 1:
            total = sum(mass.values())
            tokens = sorted(mass)
            out.append((k, tokens, [mass[t] / total for t in tokens]))
        alive = [(ids, p) for ids, p in alive if len(ids) > k and ids[k] == token]
    return out


def encode_samples(tokenizer: Any, samples: list[Sample]) -> list[Encoded]:
    prompts = tokenizer([chatml(s.messages) for s in samples], add_special_tokens=False)["input_ids"]
    answers = tokenizer([s.answer for s in samples], add_special_tokens=False)["input_ids"]
    eos = tokenizer.eos_token_id
    texts = sorted({a for s in samples for a in s.options})
    option_texts = tokenizer(texts, add_special_tokens=False)["input_ids"] if texts else []  # none on free-text turns
    option_ids = {t: ids + [eos] for t, ids in zip(texts, option_texts, strict=True)}
    systems: dict[str, int] = {}
    for s in samples:
        key = s.messages[0]["content"]
        if key not in systems:
            systems[key] = len(tokenizer.encode(chatml(s.messages[:1], add_generation_prompt=False), add_special_tokens=False))
    return [
        Encoded(
            p,
            a + [eos],
            systems[s.messages[0]["content"]],
            soft_targets(a + [eos], [(option_ids[text], prob) for text, prob in s.options.items()]),
        )
        for p, a, s in zip(prompts, answers, samples, strict=True)
    ]


def sample_loss(logprobs: torch.Tensor, sample: Encoded, weight: float) -> torch.Tensor:
    """Loss of one sample from its log-prob rows over the observation + answer tokens ([T, V])."""
    obs_len = len(sample.prompt) - sample.system_len
    targets = torch.tensor(sample.prompt[sample.system_len :] + sample.answer)
    picked = logprobs.gather(-1, targets.unsqueeze(-1)).squeeze(-1)
    answer = picked[obs_len:].clone()
    for pos, tokens, probs in sample.soft:
        answer[pos] = (logprobs[obs_len + pos, tokens] * torch.tensor(probs)).sum()
    return -answer.sum() - weight * picked[:obs_len].mean()


def batches(encoded: list[Encoded], groups: list[str], batch_size: int, rng: random.Random) -> list[list[int]]:
    """Index batches from one game each (so the rules prefix is computed once per batch,
    see ``sparring.prefix``) and of similar length, in random order."""
    order = sorted(range(len(encoded)), key=lambda i: (groups[i], len(encoded[i].prompt) + len(encoded[i].answer) + rng.random()))
    chunks: list[list[int]] = []
    for i in order:
        if chunks and len(chunks[-1]) < batch_size and groups[chunks[-1][0]] == groups[i]:
            chunks[-1].append(i)
        else:
            chunks.append([i])
    rng.shuffle(chunks)
    return chunks


def pretrain(out: Path, config: PretrainConfig, progress: bool = True) -> dict[str, Any]:
    """Build the corpus, tokenizer and model; train for ``config.minutes``; save to ``out``."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    started = time.perf_counter()
    torch.manual_seed(config.seed)
    samples = corpus(config)
    if config.init:
        from transformers import AutoModelForCausalLM, AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(config.init)
        model = AutoModelForCausalLM.from_pretrained(config.init, dtype=torch.float32)
    else:
        tokenizer = train_tokenizer([chatml(s.messages) + s.answer for s in samples], config.vocab_size)
        model = make_model(tokenizer, config)
    encoded = encode_samples(tokenizer, samples)
    rng = random.Random(config.seed)
    groups = [s.messages[0]["content"] for s in samples]
    plan = [b for _ in range(config.epochs) for b in batches(encoded, groups, config.batch_size, rng)][: config.steps]
    dtype = autocast_dtype("cpu")
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=0.01, betas=(0.9, 0.95))
    budget = config.minutes * 60
    train_start = time.perf_counter()
    losses: list[float] = []
    model.train()
    columns = (TextColumn("pretrain"), BarColumn(), TextColumn("{task.fields[info]}"), TimeElapsedColumn())
    with Progress(*columns, disable=not progress) as bar:
        task = bar.add_task("pretrain", total=len(plan), info="")
        for step, idx in enumerate(plan):
            if time.perf_counter() - train_start > budget:
                break
            frac = step / len(plan)
            lr = config.lr * min(1.0, (step + 1) / config.warmup_steps) * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * frac)))
            for group in optimizer.param_groups:
                group["lr"] = lr
            # Loss on the answer, plus (weighted) on the observation text after the rules: predicting
            # the board and its legal-move line is what teaches a tiny model which moves are legal.
            batch = [encoded[i] for i in idx]
            losses.append(train_step(model, optimizer, batch, config.observation_loss_weight, tokenizer.pad_token_id, dtype))
            if step % 20 == 0:
                recent = sum(losses[-50:]) / len(losses[-50:])
                bar.update(task, completed=step, info=f"step {step} loss {recent:.3f} lr {lr:.1e}")
                if progress and not bar.console.is_terminal and step % 200 == 0:  # logs get a line now and then
                    seconds = time.perf_counter() - train_start
                    print(f"pretrain step {step}/{len(plan)} loss {recent:.3f} ({seconds:.0f}s)", flush=True)
    replay = [[encoded[i] for i in b] for _ in range(config.epochs) for b in batches(encoded, groups, config.batch_size, rng)]
    distilled = distill(model, tokenizer, optimizer, config, dtype, progress, replay) if config.distill else {}
    formatted = {}
    if config.format:
        from sparring.pretrain_format import format_phase

        for group in optimizer.param_groups:
            group["lr"] = config.format_lr
        corpus_batches = itertools.cycle(replay)

        def after_step() -> int:  # corpus replay, as after a distill step
            count = config.distill_replay if replay else 0
            for _ in range(count):
                train_step(model, optimizer, next(corpus_batches), config.observation_loss_weight, tokenizer.pad_token_id, dtype)
            return count

        pools = {key: format_turns(key, config) for key in config.format}
        formatted = format_phase(
            model, tokenizer, optimizer, pools, config.format, config.batch_size, config.seed, dtype, progress, after_step
        )
    info = {
        "config": asdict(config),
        "corpus_turns": len(samples),
        "corpus_tokens": sum(len(e.prompt) + len(e.answer) for e in encoded),
        "soft_targets": sum(len(e.soft) for e in encoded),
        "parameters": sum(p.numel() for p in model.parameters()),
        "steps": len(losses),
        "final_loss": sum(losses[-100:]) / max(1, len(losses[-100:])),
        "distill": distilled,
        "format": formatted,
        "train_seconds": time.perf_counter() - train_start,
        "total_seconds": time.perf_counter() - started,
        "torch_threads": torch.get_num_threads(),
        "autocast": str(dtype),
    }
    out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(out, safe_serialization=True)
    tokenizer.save_pretrained(out)
    info["legal_move_rate"] = {name: legal_move_rate(out, name) for name in config.mix}
    (out / "pretrain.json").write_text(json.dumps(info, indent=2))
    return info


def train_step(model: Any, optimizer: Any, batch: list[Encoded], weight: float, pad_id: int, dtype: Any) -> float:
    """One optimizer step on ``batch`` (samples of one game, so the rules prefix runs once); returns the loss."""
    heads = [e.prompt[: e.system_len] for e in batch]
    tails = [e.prompt[e.system_len :] + e.answer for e in batch]
    with autocast("cpu", dtype):
        rows = response_log_softmax(model, heads, tails, pad_id, torch.device("cpu"))
    per_sample = rows.split([len(t) for t in tails])
    loss = sum(sample_loss(r, e, weight) for r, e in zip(per_sample, batch, strict=True)) / len(batch)
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    optimizer.step()
    return loss.item()


def distill(
    model: Any, tokenizer: Any, optimizer: Any, config: PretrainConfig, dtype: Any, progress: bool, replay: list[list[Encoded]]
) -> dict[str, Any]:
    """``config.distill``'s phase: full-batch steps on every information state, games taking turns; past
    ``config.distill_solo`` steps each is followed by ``config.distill_replay`` corpus batches, so the other
    games are not forgotten."""
    replayed = 0
    rng = random.Random(config.seed)
    states = {name: encode_samples(tokenizer, distill_samples(name, config)) for name in config.distill}
    for group in optimizer.param_groups:
        group["lr"] = config.distill_lr
    done = {name: 0 for name in states}
    last: dict[str, float] = {}
    started = time.perf_counter()
    while any(done[n] < config.distill[n] for n in states):
        for name, encoded in states.items():
            if done[name] >= config.distill[name]:
                continue
            batch = encoded if len(encoded) <= config.batch_size else rng.sample(encoded, config.batch_size)
            last[name] = train_step(model, optimizer, batch, 0.0, tokenizer.pad_token_id, dtype)
            done[name] += 1
            for _ in range(config.distill_replay if replay and done[name] > config.distill_solo else 0):
                train_step(
                    model,
                    optimizer,
                    replay[replayed % len(replay)],
                    config.observation_loss_weight,
                    tokenizer.pad_token_id,
                    dtype,
                )
                replayed += 1
            if progress and done[name] % 25 == 0:
                print(f"distill {name} step {done[name]}/{config.distill[name]} loss {last[name]:.3f}", flush=True)
    return {"steps": done, "replayed_batches": replayed, "final_loss": last, "seconds": time.perf_counter() - started}


def legal_move_rate(model_dir: Path, game_name: str, positions: int = 200, seed: int = 0) -> float:
    """Share of sampled answers (temperature 1) that are legal moves, over random positions of a game."""
    turns = sampled_turns(model_dir, game_name, positions, seed)
    return sum(legal for _, legal in turns) / len(turns)


def legal_move_rate_by_role(model_dir: Path, game_name: str, positions: int = 200, seed: int = 0) -> dict[str, float]:
    """``legal_move_rate`` split by who moved: the role the observation names (``proposer``, ``critic``, ...),
    else the seat. A role game's free-text turn and its listed turn differ by an order of magnitude, which one
    rate over both seats hides."""
    by_role: dict[str, list[bool]] = {}
    for role, legal in sampled_turns(model_dir, game_name, positions, seed):
        by_role.setdefault(role, []).append(legal)
    return {role: sum(v) / len(v) for role, v in sorted(by_role.items())}


def sampled_turns(model_dir: Path, game_name: str, positions: int, seed: int) -> list[tuple[str, bool]]:
    """(role, legal) for the model's sampled answer at ``positions`` random positions (a few random moves in)."""
    from sparring.engines.hf import HFEngine
    from sparring.games.base import accepts
    from sparring.players.lm import LMPlayer

    game = make_game(game_name)
    player = LMPlayer(HFEngine(model_dir), game)
    player.engine.rng.manual_seed(seed)
    rng = random.Random(seed)
    states, seats = [], []
    while len(states) < positions:
        state = game.new_state(rng.randrange(1 << 30))
        for _ in range(rng.randrange(8)):
            if state.is_terminal():
                break
            state.apply(rng.choice(moves_for(state)))
        if not state.is_terminal():
            states.append(state)
            seats.append(state.current_player)
    turns = []
    for state, seat, move in zip(states, seats, player.act_batch(states, seats), strict=True):
        named = re.match(r"You are the ([a-z ]+?) \(", state.observation(seat))
        turns.append((named.group(1) if named else f"seat {seat}", accepts(state, move.action)))
    return turns
