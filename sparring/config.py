"""The training configuration: every knob, its default and why, in one typed place.

A recipe is a YAML file (``sparring/recipes/<name>.yaml`` or any path) that
sets some of these fields; ``key=value`` overrides on the command line set
more (``learner.lr=3e-4``, ``games.0.name=kuhn_poker``). Unknown keys and bad
values are all reported at once, in one message. Defaults follow SPIRAL where
they apply (temperature 1.0, RAE with EMA 0.95, invalid move -1.5/+0.5, PPO
clip 0.2, a 50-move cap); learning rates are sized for small models.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from sparring.errors import UserError
from sparring.prompts import DEFAULT_SYSTEM, PromptConfig

RECIPES_DIR = Path(__file__).parent / "recipes"


class Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class LoRASection(Section):
    r: int = Field(16, ge=1)
    """Adapter rank."""
    alpha: int = Field(32, ge=1)
    dropout: float = Field(0.0, ge=0, lt=1)
    target_modules: list[str] = Field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    """Module names that get adapters (Llama/Qwen naming)."""


class ModelSection(Section):
    path: str = "bundled"
    """A Hugging Face causal-LM directory, or ``bundled`` for the tiny model shipped with sparring."""
    device: str = "cpu"
    """``cpu`` or ``cuda`` (``cuda:1``...)."""
    precision: Literal["auto", "float32", "bfloat16"] = "auto"
    """Forward-pass autocast; ``auto`` uses bf16 on GPUs and on CPUs with native bf16, else fp32."""
    lora: LoRASection | None = None
    """Train LoRA adapters instead of all weights (PEFT); the reference model is the base without adapters."""


class EngineSection(Section):
    kind: Literal["hf", "vllm"] = "hf"
    """``hf``: transformers with a KV cache (CPU or GPU); ``vllm``: vLLM on GPUs (extra ``gpu``)."""
    gpu_memory_utilization: float = Field(0.45, gt=0, le=1)
    """vLLM's share of GPU memory when it shares the GPU with the learner (SPIRAL: 0.45)."""
    tensor_parallel_size: int = Field(1, ge=1)
    max_model_len: int | None = Field(None, ge=16)
    sleep_between_steps: bool = True
    """vLLM: release KV-cache memory while the learner trains (sleep mode), wake for the next rollout."""


class DistributedSection(Section):
    backend: Literal["none", "ray"] = "none"
    """``none``: one process; ``ray``: rollout workers as Ray actors, each with its own engine."""
    rollout_workers: int = Field(2, ge=1)
    address: str | None = None
    """Ray cluster address (``auto`` or ``ray://host:10001``); None starts a local cluster."""
    overlap: bool = False
    """Let rollout of step k+1 overlap learning of step k (one version off-policy; the PPO ratio corrects it)."""
    worker_cpus: float = Field(1.0, gt=0)
    worker_gpus: float = Field(0.0, ge=0)


class PromptSection(Section):
    style: Literal["sparring", "spiral"] = "sparring"
    """``sparring``: a system message with the rules, the observation as the user turn, lenient answer
    reading (what the bundled model was pre-trained on). ``spiral``: SPIRAL's exact template -- one user
    turn ending "Please reason step by step, and put your final answer within \\boxed{}." -- and its
    strict, case-sensitive parser (``sparring.prompts.parse_spiral``); ``system`` is then unused."""
    answer_format: Literal["boxed", "brackets", "answer_tag"] = "boxed"
    """Where the model writes its move: ``\\boxed{}`` (SPIRAL), ``[move]`` or ``<answer>move</answer>``."""
    system: str = DEFAULT_SYSTEM
    """System message template with ``{rules}`` and ``{instruction}``; empty for none."""
    view: Literal["turn", "trajectory"] = "turn"
    """``turn`` (SPIRAL): a turn's prompt is the rules and the current observation. ``trajectory`` (MARS's
    view of a game): a seat's prompt is its whole conversation so far, its own earlier answers included
    exactly as sampled, with the new observation appended; opponents' answers are never shown. The learner
    takes each seat's game as one sample, each answer a segment with its own turn's advantage and the
    observations between them unlearned (``sparring.samples.trajectories``). ``sparring`` style only."""

    @model_validator(mode="after")
    def _spiral_is_boxed(self) -> PromptSection:
        if self.style == "spiral" and self.answer_format != "boxed":
            raise ValueError("style spiral answers in \\boxed{}: set answer_format to boxed")
        if self.view == "trajectory" and self.style != "sparring":
            raise ValueError("view trajectory continues a chat: it needs style sparring")
        return self

    def prompt_config(self) -> PromptConfig:
        """The :class:`sparring.prompts.PromptConfig` these settings describe (training and evaluation alike)."""
        return PromptConfig(answer_format=self.answer_format, system=self.system, style=self.style, view=self.view)


class SamplingSection(Section):
    temperature: float = Field(1.0, gt=0)
    """Sampling temperature for self-play (SPIRAL: 1.0, the model's own distribution)."""
    top_p: float = Field(1.0, gt=0, le=1)
    max_new_tokens: int = Field(32, ge=1)
    """Longest answer per turn; longer output ends the turn as cut off (usually an invalid move)."""


class GameSection(Section):
    name: str
    """Game spec, e.g. ``tic_tac_toe`` or ``kuhn_poker:hands=5``."""
    weight: float = Field(1.0, gt=0)
    """Share of each step's games (multi-game training mixes games in one batch)."""
    eval_opponents: list[str] = Field(default_factory=list)
    """Fixed players to evaluate against, in both seats; empty: a sensible default per game."""

    @field_validator("name")
    @classmethod
    def _known_game(cls, value: str) -> str:
        from sparring.games import make_game

        try:
            make_game(value)
        except UserError as err:
            raise ValueError(str(err)) from None
        return value


class RolloutSection(Section):
    games_per_step: int = Field(64, ge=1)
    """Games played in lockstep per training step (one batched generate call per tick)."""
    max_turns: int = Field(50, ge=1)
    """Moves after which a game is called a draw (SPIRAL: 50)."""
    invalid_penalty: float = -1.5
    """Return of a seat whose move is unparsable or illegal; the game ends (SPIRAL: -1.5)."""
    invalid_opponent_reward: float = 0.5
    """Return of the other seats when a game ends on an invalid move (SPIRAL: +0.5)."""
    invalid_in_stakes: bool = False
    """Count both forfeit scores in the game's largest stake (its largest win or loss: Leduc 13 chips, Kuhn
    2, a win-or-lose game 1) instead of in units. SPIRAL's -1.5 is worse than any loss in a game scored
    +-1, but in Leduc a seat that has put 7 chips in the pot loses less by answering garbage than by
    folding, and a policy trained against a best response learns exactly that (measured: 30% invalid
    answers on one seed)."""
    invalid_credit: Literal["game", "turn"] = "game"
    """Who pays for an invalid move: ``game`` (SPIRAL) gives the forfeit scores to every turn of both seats;
    ``turn`` charges the offending turn alone and gives the game's other turns 0."""
    turn_credit: Literal["return", "own"] = "return"
    """In a game that scores some turns one by one (``propose_solve``'s and ``qrv``'s solver attempts):
    ``return`` gives each attempt the seat's game return, the success rate p over its k attempts, so a wrong
    attempt earns what its right siblings did; ``own`` gives each attempt its own score, 1 right and 0 wrong
    (the per-sample verifier reward of GRPO-style training). Other games are unaffected."""
    gamma: float = Field(1.0, gt=0, le=1)
    """Per-turn discount of the game return over a seat's own turns (SPIRAL: 1, every turn gets the return)."""
    repetition_penalty: float = Field(0.0, ge=0)
    """R-Zero's repetition penalty, for a game whose registry entry names a ``proposer_seat``
    (``propose_solve``, ``qrv``): that seat's return drops by this times the share of the step's games of the
    same game whose proposal was the same text (R-Zero clusters by BLEU; this counts exact repeats). Measured
    from the bundled model, the proposer settles on one task (``2 + 5 = 7`` every game) without it, and with
    it at weight 1: a new task is an invalid one there, no better than a repeat (README, "Role games")."""


class OpponentSection(Section):
    kind: Literal["self", "fixed", "pool", "exploiter"] = "self"
    """``self``: the learning policy in every seat; ``fixed``: vs one player spec; ``pool``: vs past checkpoints;
    ``exploiter``: vs an exact best response to the policy itself, recomputed every ``exploiter_every`` steps
    (exploitability descent; games with exact exploitability only: Kuhn, Leduc)."""
    fixed: str | None = None
    """Player spec for ``kind: fixed`` (``minimax``, ``cfr:iters=100``, ``model:runs/x/checkpoints/step-40``)."""
    pool_size: int = Field(8, ge=1)
    """Past checkpoints kept as opponents (``kind: pool``)."""
    snapshot_every: int = Field(10, ge=1)
    """Steps between snapshots of the policy into the pool."""
    sampling: Literal["uniform", "pfsp"] = "uniform"
    """How pool opponents are drawn: uniformly, or prioritized fictitious self-play (weight (1-p)^2 on hard ones)."""
    self_play_share: float = Field(0.5, ge=0, le=1)
    """With a pool: share of games still played in pure self-play."""
    exploiter_every: int = Field(1, ge=1)
    """Steps between recomputing the exploiter (``kind: exploiter``): the policy is read at every information
    state and each seat's best response to it taken exactly. Kuhn's 12 states cost a few milliseconds; Leduc's
    936 about 6 CPU seconds with the bundled model, so there a few steps between refreshes pay."""
    fixed_self_play_share: float = Field(0.0, ge=0, le=1)
    """With a fixed player or the exploiter: share of games played in pure self-play instead (default 0: every
    game against it). A league of two: the policy itself and, say, ``minimax``, which punishes the mistakes a collapsed
    self-play opponent stops punishing. Its own field, not ``self_play_share``: run configs saved before it
    existed hold the pool's 0.5 there, and must resume against the fixed player in every game as they began."""
    learner_seats: list[int] | None = None
    """The seats whose turns are learned from (default: every seat). In self-play the policy still plays
    every seat; against a fixed or pool opponent it takes only these, in turn from game to game. ``[1]`` in
    ``propose_solve`` trains the solver alone: a role game can train one role without the other role's
    returns reaching the shared weights."""

    @field_validator("learner_seats")
    @classmethod
    def _seats(cls, seats: list[int] | None) -> list[int] | None:
        if seats is not None and (not seats or min(seats) < 0 or len(set(seats)) != len(seats)):
            raise ValueError(f"learner_seats must be distinct seat numbers (0, 1, ...), got {seats}")
        return seats


class AdvantageSection(Section):
    estimator: Literal["rae", "grpo", "reinforce", "mars"] = "rae"
    """``rae``: per (game, role) EMA baseline (SPIRAL); ``grpo``: batch group mean; ``reinforce``: none; ``mars``."""
    ema_rate: float = Field(0.95, ge=0, lt=1)
    """RAE baseline decay (SPIRAL: 0.95)."""
    baseline: Literal["role", "observation", "interaction", "value"] = "role"
    """RAE's baseline: ``role`` (SPIRAL), one EMA per (game, role); ``observation``, the mean return of the
    batch's other turns with the same observation (else its EMA, else the role's); ``interaction``, that and
    each answer's own edge over the role's average in any state (its EMA; an edge above it only), so a good
    answer keeps only the part of its return that depends on this state (measured on propose_solve's solver:
    harmful, README "From a solver that can add a little"); ``value``, a learned V(s) read from the policy's
    features (``sparring.value``)."""
    drop_zero: bool = True
    """Drop turns whose advantage is exactly zero (SPIRAL's filter_zero_adv)."""
    grpo_normalize_std: bool = False
    mars_format_bonus: float = 0.05
    """MARS: reward for every valid move (its format_penalty)."""


class LearnerSection(Section):
    lr: float = Field(3e-4, gt=0)
    """AdamW learning rate (SPIRAL uses 1e-6 for a 4B model; tiny models need far more)."""
    betas: tuple[float, float] = (0.9, 0.95)
    adam_eps: float = Field(1e-8, gt=0)
    """AdamW's epsilon. Where a gradient is near it, an update is about lr * sign(g): tiny float
    differences (e.g. summing shards in another order) can then flip a step."""
    weight_decay: float = Field(0.0, ge=0)
    epochs: int = Field(1, ge=1)
    """Passes over each step's samples (SPIRAL: 2, one optimizer step each)."""
    minibatches: int = Field(1, ge=1)
    """Optimizer steps per pass, each on a shuffled share of the samples. With epochs * minibatches > 1 the
    PPO ratio leaves 1 after the first step and the clip becomes a trust region; with 1 x 1 it never acts."""
    micro_batch_size: int = Field(64, ge=1)
    """Distinct sequences per forward/backward (repeats of one ride along, run once); gradients are
    accumulated to the full batch."""
    clip_ratio: float = Field(0.2, gt=0)
    """PPO clip on the ratio to the "old" log-probs (see ``recompute_old_logprobs``)."""
    dual_clip: float | None = None
    """Dual-clip PPO: where the advantage is negative, cap a token's loss at ``dual_clip * |A|`` so a ratio
    that has grown far past 1 cannot drive an unbounded loss (``sparring.policy_loss``). Must be > 1; MARS
    uses 1.4 (1 + 2 * clip 0.2), the original paper 3. None or 0: off (plain PPO, SPIRAL)."""
    recompute_old_logprobs: bool | Literal["auto"] = "auto"
    """Where PPO's "old" log-probs come from. ``true``: the learner scores the step's samples once before
    the first epoch (SPIRAL/oat), so the first ratio is exactly 1 and clipping acts only on the update.
    ``false``: the log-probs the rollout engine sampled with, no extra forward pass. ``auto``: ``true``
    when ``engine.kind`` is ``vllm`` (its bf16 kernels differ from the learner's, and clipping would fire
    on that noise), else ``false`` (the HF engine shares the learner's model and numerics). With
    ``distributed.overlap`` the samples come from the weights one step back; recomputing then measures the
    ratio from the current weights, and that one-version gap is no longer corrected."""
    loss_normalizer: Literal["constant", "tokens", "sequences"] = "constant"
    """``constant``: token-sum / max_new_tokens (Dr.GRPO, SPIRAL); ``tokens``: batch token mean;
    ``sequences``: per-sequence mean."""
    kl_coef: float = Field(0.0, ge=0)
    """KL penalty (k3 estimator) to the reference model; 0 needs no reference (SPIRAL)."""
    entropy_coef: float = Field(0.0, ge=0)
    grad_clip: float = Field(1.0, gt=0)
    warmup_steps: int = Field(0, ge=0)
    lr_decay: Literal["constant", "linear", "cosine"] = "constant"
    """After warm-up, the learning rate falls from ``lr`` to ``lr * min_lr_ratio`` at ``max_steps``
    (``linear`` or ``cosine``), or stays (``constant``). Self-play's iterate keeps moving at a constant
    step size; a shrinking one lets the last iterate settle where the game's gradient is noisy."""
    min_lr_ratio: float = Field(0.1, ge=0, le=1)
    average_weights: float = Field(0.0, ge=0, lt=1)
    """Decay of an exponential moving average of the policy's weights, updated after every step and saved
    with each checkpoint as ``average/`` (a Hugging Face model directory); 0: off. Self-play iterates cycle
    around an equilibrium where their *average* converges (fictitious play, CFR's average strategy);
    averaging the weights approximates averaging the policies while the iterates stay close, as a
    fine-tune from one base keeps them -- and gives one model to ship instead of a pool. 0.98 averages
    about the last 50 steps. Full fine-tuning only (not LoRA)."""

    @field_validator("dual_clip")
    @classmethod
    def _dual_clip_above_one(cls, value: float | None) -> float | None:
        if value is not None and value != 0 and value <= 1:
            raise ValueError(f"dual_clip must be above 1 (MARS: 1.4), or 0 / null for off; got {value}")
        return value or None


class ReferenceSection(Section):
    update_every: int = Field(0, ge=0)
    """0: the reference is the initial model (plain KL). N > 0: the reference is a *magnet* moved to the
    current policy every N steps -- magnetic mirror descent, which converges in the last iterate where
    plain self-play cycles (shared/reference/self-play-algorithms.md, section E)."""
    magnet: Literal["snapshot", "average", "best"] = "snapshot"
    """``snapshot``: the reference is a copy of the weights (the initial ones, or the policy's every
    ``update_every`` steps). ``average``: the reference *is* the learner's weight average
    (``learner.average_weights``), which moves a little after every step: the KL then pulls the policy
    toward the average of its own recent iterates, damping the cycle a jumping magnet restarts every N
    steps (R-NaD's magnet is likewise a slowly refreshed past policy). No extra copy of the model.
    ``best``: a copy that starts at the initial weights and jumps to the model ``RUN/best`` keeps, each time
    an evaluation is the best yet by ``checkpoint.keep_best`` (the policy, or the weight average for an
    ``average_*`` metric): the KL holds the policy near the best it has been, not near where it drifts."""


class EvalSection(Section):
    every: int = Field(10, ge=0)
    """Steps between evaluations (0: only at the start and the end)."""
    games: int = Field(40, ge=2)
    """Games per (game, opponent); seats alternate."""
    temperature: float = Field(1.0, ge=0)
    """Sampling temperature for evaluation games (0: greedy). SPIRAL evaluates at 0.6 (with top_p 0.95)."""
    top_p: float = Field(1.0, gt=0, le=1)
    """Nucleus sampling for evaluation games (1: off). SPIRAL evaluates at 0.95 (with temperature 0.6)."""
    exploitability: bool = True
    """Exact exploitability for games that define it (Kuhn, Leduc, liar's dice)."""


class CheckpointSection(Section):
    every: int = Field(20, ge=1)
    keep_last: int | None = Field(3, ge=1)
    """Checkpoints kept on disk (pool snapshots are always kept); null keeps all."""
    keep_best: str | None = None
    """An evaluation metric, as logged after ``eval/<game>/`` (``exploitability``, ``average_exploitability``,
    ``minimax/non_loss``, ``team_return``...): after every evaluation that beats the best so far, the model
    is written to ``RUN/best/`` (``best.json`` says the step and value; for ``average_*`` metrics the weight
    average is the model kept). With several games, the mean over the games that log it. Exact metrics
    (exploitability, team return) select without bias; arena win rates are noisy, and the best of many
    noisy evaluations overstates the model kept -- evaluate ``RUN/best`` again before quoting it. Against
    ``opponent.kind=exploiter``, ``exploitability`` is also judged each time the exploiter is recomputed,
    which measures it exactly for free."""
    best_is: Literal["lowest", "highest"] | None = None
    """Which way ``keep_best`` improves; by default lowest for exploitability, NashConv, loss and invalid
    rates, highest otherwise."""


class LoggingSection(Section):
    tensorboard: bool = True
    wandb: bool = False
    mlflow: bool = False
    project: str = "sparring"
    replay_games: int = Field(4, ge=0)
    """Games per step saved as replays (every ``replay_every`` steps)."""
    replay_every: int = Field(10, ge=1)


class PreferenceSection(Section):
    """Preference self-play (``sparring.preference``): rounds against the model's own earlier iterate.

    Set ``preference.algorithm`` and ``sparring train`` runs rounds instead of games: one
    round = one step (``max_steps`` rounds), with the same run directory, checkpoints and
    resume. ``games``, ``rollout``, ``opponent`` and ``advantage`` are then unused, except
    that ``spo`` trains with the game learner (``learner.*``, PPO) on win-rate rewards.
    """

    algorithm: Literal["spin", "sppo", "dno", "spo", "spar", "eva"]
    """How a round turns samples into training targets (sparring/preference/targets.py)."""
    loss: Literal["auto", "dpo", "spin", "ipo", "sppo", "dno"] = "auto"
    """``auto``: the algorithm's own (spin: spin, sppo: sppo, dno/spar/eva: dno / dpo, spo: the PPO learner)."""
    prompts: str = "bundled"
    """Training prompts: a JSONL file, a Hugging Face datasets directory, or a bundled set (``bundled``,
    ``bundled-intransitive``)."""
    eval_prompts: str = "bundled-heldout"
    """Held-out prompts for the quality measure and the win rate against round 0."""
    eval_limit: int | None = Field(None, ge=1)
    """Evaluate on the first N held-out prompts only."""
    system: str = "Answer the question. Put your final answer within \\boxed{}."
    """System message before every prompt (empty: none)."""
    prompts_per_round: int = Field(64, ge=1)
    """Prompts drawn (without replacement, cycling through the set) each round."""
    samples_per_prompt: int = Field(4, ge=1)
    """K responses sampled per prompt from the current iterate (SPIN uses 1)."""
    oracle: str = "task"
    """Who prefers: ``task``, ``reference``, ``intransitive``, ``model:PATH``, ``api:MODEL``, ``rm:PATH``."""
    judge: str = "task"
    """The oracle for evaluation (win rate of round k vs round 0); same specs as ``oracle``."""
    opponent: Literal["self", "initial"] = "self"
    """Win probabilities against the round's other samples (``self``: SPPO, SPO) or against samples of the
    initial model (``initial``: a fixed opponent, the DPO-against-a-fixed-reference baseline)."""
    reference: Literal["previous", "initial"] = "previous"
    """The loss's pi_ref: the previous iterate (SPIN, SPPO, DNO) or the initial model, fixed."""
    beta: float = Field(0.1, gt=0)
    """Inverse temperature of the logistic losses (dpo, spin, dno) and 1/(2 beta) is IPO's target margin."""
    eta: float = Field(10.0, gt=0)
    """SPPO: the log-ratio target is eta * (P(win) - 1/2)."""
    margin: float = Field(0.0, ge=0, le=1)
    """dno/eva/spar: keep a (best, worst) pair only when their win rates differ by more than this."""
    epochs: int = Field(2, ge=1)
    """Passes over a round's comparisons."""
    batch_size: int = Field(16, ge=1)
    """Comparisons per optimizer step."""
    eval_temperature: float = Field(0.0, ge=0)
    """Sampling temperature of held-out answers (0: greedy)."""
    eval_samples: int = Field(8, ge=1)
    """Samples per held-out prompt for the intransitive oracle's worst-case win rate."""
    creator_share: float = Field(0.5, ge=0, le=1)
    """eva: share of each round's prompts that the creator evolved from high-regret prompts."""

    @field_validator("oracle", "judge")
    @classmethod
    def _known_oracle(cls, value: str) -> str:
        from sparring.preference.specs import check_oracle_spec

        try:
            check_oracle_spec(value)
        except UserError as err:
            raise ValueError(str(err)) from None
        return value

    @model_validator(mode="after")
    def _loss_fits_algorithm(self) -> PreferenceSection:
        if self.algorithm == "spo" and self.loss != "auto":
            raise ValueError("spo trains with the policy-gradient learner (learner.*): leave preference.loss at auto")
        if self.algorithm in ("spin", "spar") and self.loss == "sppo":
            raise ValueError(f"{self.algorithm} makes pairs, not win rates: use a pair loss (dpo, spin, ipo, dno)")
        return self

    def loss_name(self) -> str:
        """The loss this algorithm trains with (``spo``: ``pg``, the game learner's PPO loss)."""
        if self.loss != "auto":
            return self.loss
        return {"spin": "spin", "sppo": "sppo", "dno": "dno", "spo": "pg", "spar": "dpo", "eva": "dpo"}[self.algorithm]


class TrainConfig(Section):
    name: str = "run"
    seed: int = 0
    max_steps: int = Field(100, ge=1)
    max_minutes: float | None = Field(None, gt=0)
    """Optional wall-clock budget; training stops (and checkpoints) at the first step past it."""
    max_cpu_minutes: float | None = Field(None, gt=0)
    """Optional budget in CPU time of the training process (all its threads; not Ray workers' or other
    ranks'); training stops at the first step past it. With one thread (``OMP_NUM_THREADS=1``, as the
    learning benchmarks run) it means the same on a machine shared with other work as on an idle one,
    where wall-clock minutes do not; with several, threads that spin-wait for a busy core burn CPU time
    too, so a contended run buys fewer steps."""
    model: ModelSection = Field(default_factory=ModelSection)
    engine: EngineSection = Field(default_factory=EngineSection)
    distributed: DistributedSection = Field(default_factory=DistributedSection)
    prompt: PromptSection = Field(default_factory=PromptSection)
    sampling: SamplingSection = Field(default_factory=SamplingSection)
    games: list[GameSection] = Field(default_factory=lambda: [GameSection(name="tic_tac_toe")], min_length=1)
    rollout: RolloutSection = Field(default_factory=RolloutSection)
    opponent: OpponentSection = Field(default_factory=OpponentSection)
    advantage: AdvantageSection = Field(default_factory=AdvantageSection)
    learner: LearnerSection = Field(default_factory=LearnerSection)
    reference: ReferenceSection = Field(default_factory=ReferenceSection)
    eval: EvalSection = Field(default_factory=EvalSection)
    checkpoint: CheckpointSection = Field(default_factory=CheckpointSection)
    logging: LoggingSection = Field(default_factory=LoggingSection)
    preference: PreferenceSection | None = None
    """Preference self-play rounds instead of games (``sparring.preference``); None: game self-play."""

    @model_validator(mode="after")
    def _rounds_sample_with_hf(self) -> TrainConfig:
        if self.preference is not None and (self.engine.kind != "hf" or self.distributed.backend != "none"):
            raise ValueError("preference rounds run in one process and sample with the HF engine: engine.kind=hf, no Ray")
        if self.preference is not None and self.model.lora is not None:
            raise ValueError("preference rounds train all weights: LoRA (model.lora) is not wired to them yet")
        decay = self.learner.lr_decay != "constant" or self.learner.average_weights > 0
        if self.preference is not None and decay:
            raise ValueError("preference rounds keep a constant learning rate (after warm-up) and no weight average yet")
        return self

    @model_validator(mode="after")
    def _exploiter_plays_in_process(self) -> TrainConfig:
        if self.opponent.kind == "exploiter" and self.distributed.backend == "ray":
            raise ValueError("opponent.kind=exploiter plays in the trainer's process; Ray rollouts carry player specs only")
        return self

    @model_validator(mode="after")
    def _best_is_a_game_evaluation(self) -> TrainConfig:
        best = self.checkpoint.keep_best
        if best is not None and self.preference is not None:
            raise ValueError("checkpoint.keep_best reads game evaluations; preference rounds do not support it yet")
        if best is not None and best.startswith("average_") and self.learner.average_weights <= 0:
            raise ValueError(f"checkpoint.keep_best={best} keeps the weight average: set learner.average_weights")
        return self

    @model_validator(mode="after")
    def _average_magnet_needs_an_average(self) -> TrainConfig:
        if self.reference.magnet == "average":
            if self.learner.average_weights <= 0 or self.learner.kl_coef <= 0:
                need = "set learner.average_weights and learner.kl_coef > 0"
                raise ValueError(f"reference.magnet=average pulls toward the weight average: {need}")
            if self.reference.update_every:
                raise ValueError("reference.magnet=average moves every step: leave reference.update_every at 0")
        if self.reference.magnet == "best":
            judged = self.eval.every > 0 or (self.opponent.kind == "exploiter" and self.checkpoint.keep_best == "exploitability")
            if self.checkpoint.keep_best is None or not judged or self.learner.kl_coef <= 0:
                need = "set checkpoint.keep_best, eval.every > 0 (or an exploiter's exploitability) and learner.kl_coef > 0"
                raise ValueError(f"reference.magnet=best moves to the best evaluated model: {need}")
            if self.reference.update_every or self.model.lora is not None:
                raise ValueError("reference.magnet=best moves only on a new best: leave reference.update_every at 0, no LoRA")
        return self

    @model_validator(mode="after")
    def _average_needs_full_weights(self) -> TrainConfig:
        if self.learner.average_weights > 0 and self.model.lora is not None:
            raise ValueError("learner.average_weights averages full weights: it does not work with model.lora yet")
        return self


def recipe_names() -> list[str]:
    return sorted(p.stem for p in RECIPES_DIR.glob("*.yaml"))


def recipe_path(recipe: str) -> Path:
    """A recipe name (``spiral-tictactoe``) or a path to a YAML file."""
    path = Path(recipe)
    if path.suffix in (".yaml", ".yml"):
        if not path.exists():
            raise UserError(f"recipe file not found: {recipe}")
        return path
    named = RECIPES_DIR / f"{recipe}.yaml"
    if not named.exists():
        raise UserError(f"unknown recipe {recipe!r}; recipes: {', '.join(recipe_names())} (or a path to a .yaml file)")
    return named


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text()) or {}
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark else ""
        raise UserError(f"{path} is not valid YAML{where}: {getattr(err, 'problem', err)}") from None
    if not isinstance(data, dict):
        raise UserError(f"{path} must hold a mapping of config keys, not {type(data).__name__}")
    return data


def apply_override(data: dict[str, Any], override: str) -> None:
    """Set ``a.b.c=value`` in nested ``data`` (list items by index); the value is read as YAML."""
    key, eq, raw = override.partition("=")
    if not eq or not key.strip():
        raise UserError(f"bad override {override!r}: write key=value, e.g. learner.lr=3e-4")
    try:
        value = yaml.safe_load(raw) if raw.strip() else ""
    except yaml.YAMLError:
        value = raw
    parts = key.strip().split(".")
    node: Any = data
    for i, part in enumerate(parts[:-1]):
        if isinstance(node, list):
            if not part.isdigit() or int(part) >= len(node):
                raise UserError(f"bad override {override!r}: {'.'.join(parts[: i + 1])} is not an item of a list of {len(node)}")
            node = node[int(part)]
        else:
            if node.get(part) is None:  # an optional section switched on by setting one of its keys (model.lora.r=8)
                node[part] = {}
            node = node[part]
            if not isinstance(node, dict | list):
                raise UserError(f"bad override {override!r}: {'.'.join(parts[: i + 1])} is a value, not a section")
    last = parts[-1]
    if isinstance(node, list):
        if not last.isdigit() or int(last) > len(node):
            raise UserError(f"bad override {override!r}: list index {last} out of range")
        if int(last) == len(node):
            node.append(value)
        else:
            node[int(last)] = value
    else:
        node[last] = value


def validate(data: dict[str, Any], source: str = "config") -> TrainConfig:
    """A TrainConfig, or one UserError listing every problem (``games.0.name: unknown game ...``)."""
    try:
        return TrainConfig.model_validate(data)
    except ValidationError as err:
        problems = []
        for e in err.errors():
            where = ".".join(str(p) for p in e["loc"]) or "(top level)"
            msg = e["msg"].removeprefix("Value error, ")
            if e["type"] == "extra_forbidden":
                msg = "unknown key"
            problems.append(f"{where}: {msg}")
        raise UserError(
            f"bad {source} ({len(problems)} problem{'s' if len(problems) > 1 else ''}): " + "; ".join(problems)
        ) from None


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` laid on ``base``: sections merge key by key, lists and values replace."""
    out = dict(base)
    for key, value in over.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def load_config(recipe: str | None, overrides: list[str] = ()) -> TrainConfig:
    """Defaults, then the recipe (name or YAML path), then ``key=value`` overrides."""
    data = TrainConfig().model_dump(mode="json")
    if recipe:
        data = merge(data, read_yaml(recipe_path(recipe)))
    for override in overrides:
        apply_override(data, override)
    return validate(data, f"config from {recipe}" if recipe else "config")


def dump_config(config: TrainConfig) -> str:
    return yaml.safe_dump(config.model_dump(mode="json"), sort_keys=False, width=120)


def load_run_config(run_dir: Path) -> TrainConfig:
    """The resolved config a run was started with."""
    from sparring.checkpoint import RunDir

    path = RunDir(run_dir).config_path
    if not path.exists():
        raise UserError(f"{run_dir} is not a sparring run directory (no config.yaml)")
    return validate(read_yaml(path), f"config of {run_dir}")
