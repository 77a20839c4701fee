"""VLLMEngine: HFEngine's contract on vLLM.

The conversions between sparring's records and vLLM's (sampling params out,
request outputs in, which log-probs need rescoring, seeds, LLM arguments)
are pure functions and run everywhere. The engine itself runs only on a CUDA
GPU with vLLM installed (``pip install 'sparring[gpu]'``); there it is checked
against HFEngine on the same GPU: greedy tokens, log-probs, seeds, weight
loading, sleep/wake and LoRA adapters.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from precision import BF16

from sparring.checkpoint import RunDir
from sparring.config import load_config
from sparring.engines import BUNDLED
from sparring.engines.base import SamplingParams, while_learning
from sparring.engines.hf import HFEngine
from sparring.engines.vllm import (
    continuation_logprobs,
    llm_kwargs,
    logprobs_are_exact,
    lora_rank,
    request_seeds,
    sampling_kwargs,
    to_generation,
    vllm_engine_for,
    vllm_max_lora_rank,
)
from sparring.errors import UserError
from sparring.games import make_game
from sparring.prompts import encode_chat, render_messages

HAS_CUDA = torch.cuda.is_available()
HAS_VLLM = importlib.util.find_spec("vllm") is not None
gpu = pytest.mark.skipif(
    not (HAS_CUDA and HAS_VLLM),
    reason="needs a CUDA GPU and vLLM (pip install 'sparring[gpu]'); "
    f"here: CUDA {'yes' if HAS_CUDA else 'no'}, vLLM {'yes' if HAS_VLLM else 'no'}",
)


@dataclass
class Logprob:
    """The shape of vLLM's ``vllm.logprobs.Logprob``."""

    logprob: float
    rank: int | None = None
    decoded_token: str | None = None


def request_output(token_ids, logprobs, finish_reason="stop"):
    """The shape of a vLLM ``RequestOutput`` with n=1: ``outputs[0]`` carries ids, log-probs and the finish reason."""
    completion = SimpleNamespace(token_ids=tuple(token_ids), logprobs=logprobs, finish_reason=finish_reason, text="(vLLM's)")
    return SimpleNamespace(outputs=[completion], prompt_logprobs=None)


# ----------------------------------------------------------------------------- pure conversions (CPU)
def test_sampling_params_become_vllm_kwargs_with_hf_semantics():
    params = SamplingParams(temperature=0.7, top_p=0.9, max_new_tokens=12, stop=("}",), stop_token_ids=(7,), seed=3)
    kw = sampling_kwargs(params, end_ids={2, 5}, seed=123)
    assert kw["temperature"] == 0.7 and kw["top_p"] == 0.9 and kw["max_tokens"] == 12 and kw["n"] == 1
    assert kw["stop_token_ids"] == [2, 5, 7], "the tokenizer's end ids stop a turn, as in HFEngine"
    assert kw["stop"] == ["}"] and kw["include_stop_str_in_output"] is True, "stop strings stay in the output"
    assert kw["logprobs"] == 0, "only the sampled token's log-prob is asked for"
    assert kw["seed"] == 123 and kw["top_k"] == -1 and kw["ignore_eos"] is False
    assert kw["detokenize"] is True, "vLLM must detokenize to find stop strings"


def test_ignore_eos_drops_end_ids_but_keeps_explicit_stop_ids():
    kw = sampling_kwargs(SamplingParams(ignore_eos=True, stop_token_ids=(9,), top_k=40), end_ids={2}, seed=1)
    assert kw["stop_token_ids"] == [9] and kw["ignore_eos"] is True
    assert kw["top_k"] == 40
    assert kw["detokenize"] is False, "without stop strings sparring decodes the ids itself"


def test_greedy_has_no_seed_and_no_truncation():
    kw = sampling_kwargs(SamplingParams(temperature=0, top_p=0.5, top_k=3), end_ids=(), seed=99)
    assert kw["temperature"] == 0.0 and kw["seed"] is None and kw["top_p"] == 1.0 and kw["top_k"] == -1


@pytest.mark.parametrize(
    ("temperature", "top_p", "top_k", "processed", "raw"),
    [
        (1.0, 1.0, 0, True, True),  # SPIRAL's training setting: both modes report HFEngine's log-probs
        (0.7, 1.0, 0, True, False),  # raw log-probs ignore the temperature
        (1.0, 0.9, 0, False, True),  # processed log-probs are renormalised over the nucleus
        (1.0, 1.0, 20, False, True),  # ... and over the top-k
        (0.6, 0.95, 0, False, False),  # SPIRAL's evaluation setting: rescored in either mode
        (0.0, 0.5, 0, True, True),  # greedy: temperature-1 log-probs everywhere
    ],
)
def test_rescoring_is_needed_exactly_where_vllm_reports_another_distribution(temperature, top_p, top_k, processed, raw):
    params = SamplingParams(temperature=temperature, top_p=top_p, top_k=top_k)
    assert logprobs_are_exact(params, "processed_logprobs") is processed
    assert logprobs_are_exact(params, "raw_logprobs") is raw


def test_request_output_becomes_a_generation_with_the_sampled_tokens_logprobs():
    # Position maps may hold other (top-k) tokens too; the sampled one is picked.
    logprobs = [{5: Logprob(-0.5, 2), 9: Logprob(-0.1, 1)}, {6: Logprob(-1.25, 1)}, {2: Logprob(-0.01, 1)}]
    g = to_generation(request_output([5, 6, 2], logprobs, "stop"), decode=lambda ids: "-".join(map(str, ids)))
    assert g.token_ids == [5, 6, 2] and g.logprobs == [-0.5, -1.25, -0.01]
    assert g.finish_reason == "stop"
    assert g.text == "5-6-2", "the text is decoded from the ids, as HFEngine does"


@pytest.mark.parametrize(("reason", "ours"), [("stop", "stop"), ("length", "length"), ("abort", "length"), (None, "length")])
def test_finish_reasons_map_to_stop_or_length(reason, ours):
    g = to_generation(request_output([4], [{4: Logprob(-1.0)}], reason), decode=str)
    assert g.finish_reason == ours


def test_missing_or_short_logprobs_are_clear_errors():
    with pytest.raises(ValueError, match="logprobs=0"):
        to_generation(request_output([4, 5], None), decode=str)
    with pytest.raises(ValueError, match="1 log-prob positions for 2 tokens"):
        to_generation(request_output([4, 5], [{4: Logprob(-1.0)}]), decode=str)


def test_continuation_logprobs_come_from_the_prompt_logprobs_after_the_prompt():
    prompt, continuation = [1, 2, 3], [7, 8]
    prompt_logprobs = [None, {2: Logprob(-9.0)}, {3: Logprob(-9.0)}, {7: Logprob(-0.25), 4: Logprob(-0.1)}, {8: -2.0}]
    assert continuation_logprobs(prompt_logprobs, len(prompt), continuation) == [-0.25, -2.0]
    assert continuation_logprobs(None, 3, []) == []
    with pytest.raises(ValueError, match="prompt_logprobs=0"):
        continuation_logprobs(prompt_logprobs[:4], len(prompt), continuation)


def test_request_seeds_follow_the_engine_stream():
    rng = torch.Generator()
    rng.manual_seed(3)
    a = request_seeds(rng, 8)
    rng.manual_seed(3)
    assert request_seeds(rng, 8) == a, "re-seeding the stream reproduces every request's seed"
    assert len(set(a)) == 8 and all(0 <= s < 1 << 62 for s in a)
    assert request_seeds(rng, 8) != a, "without re-seeding the stream moves on"


def test_llm_kwargs_ask_for_processed_logprobs_sleep_mode_and_lora():
    kw = llm_kwargs(BUNDLED, gpu_memory_utilization=0.3, max_model_len=1024, enable_sleep_mode=True, enable_lora=True)
    assert kw["model"] == kw["tokenizer"] == str(BUNDLED)
    assert kw["logprobs_mode"] == "processed_logprobs" and kw["enable_sleep_mode"] is True
    assert kw["gpu_memory_utilization"] == 0.3 and kw["max_model_len"] == 1024
    assert kw["enable_lora"] is True and kw["max_lora_rank"] == 16
    old = llm_kwargs(BUNDLED, logprobs_mode=None)
    assert "logprobs_mode" not in old and "max_model_len" not in old and "enable_lora" not in old


def test_lora_rank_is_read_from_a_real_adapter_and_rounded_up_for_vllm(tmp_path, tiny_model):
    from sparring.config import LoRASection
    from sparring.lora import wrap

    wrap(tiny_model, LoRASection(r=4)).save_pretrained(tmp_path / "adapter")
    assert lora_rank(tmp_path / "adapter") == 4
    assert [vllm_max_lora_rank(r) for r in (4, 8, 9, 64)] == [8, 8, 16, 64]
    with pytest.raises(UserError, match="not a PEFT LoRA adapter"):
        lora_rank(tmp_path)


@pytest.mark.skipif(HAS_CUDA, reason="checks the error on machines without a CUDA GPU")
def test_vllm_engine_without_a_gpu_is_a_one_line_user_error():
    from sparring.engines.vllm import VLLMEngine

    with pytest.raises(UserError, match="CUDA GPU"):
        VLLMEngine(BUNDLED)


@pytest.mark.skipif(HAS_VLLM, reason="checks the install hint where vLLM is missing")
def test_missing_vllm_names_the_extra():
    from sparring.engines.vllm import import_vllm

    with pytest.raises(UserError, match=r"pip install 'sparring\[gpu\]'"):
        import_vllm()


def test_vllm_on_a_cpu_device_is_a_user_error(bundled_tokenizer):
    config = load_config("spiral-tictactoe", ["engine.kind=vllm"])
    with pytest.raises(UserError, match="model.device=cuda"):
        vllm_engine_for(config, bundled_tokenizer)


def test_an_engine_sharing_the_module_needs_no_weight_sync(tiny_model, bundled_tokenizer):
    engine = HFEngine(tiny_model, bundled_tokenizer)
    before = {k: v.clone() for k, v in tiny_model.state_dict().items()}
    with while_learning(engine, tiny_model):
        pass
    engine.after_learning(tiny_model)
    assert all(torch.equal(before[k], v) for k, v in tiny_model.state_dict().items())


@pytest.mark.skipif(not HAS_VLLM, reason="needs vLLM installed (no GPU needed): pip install 'sparring[gpu]'")
def test_the_kwargs_are_valid_for_the_installed_vllm():
    vllm = pytest.importorskip("vllm")
    from vllm.engine.arg_utils import EngineArgs

    v = vllm.SamplingParams(**sampling_kwargs(SamplingParams(temperature=0.7, stop=("}",)), end_ids={2}, seed=1 << 61))
    assert v.temperature == 0.7 and v.logprobs == 0 and 2 in v.stop_token_ids and v.include_stop_str_in_output
    EngineArgs(**llm_kwargs(BUNDLED, enable_sleep_mode=True, enable_lora=True, max_model_len=1024))


@pytest.mark.skipif(not HAS_VLLM, reason="needs vLLM installed (no GPU needed): pip install 'sparring[gpu]'")
def test_real_vllm_output_records_convert():
    pytest.importorskip("vllm")
    from vllm.logprobs import Logprob as VLogprob
    from vllm.outputs import CompletionOutput

    completion = CompletionOutput(
        index=0,
        text="",
        token_ids=[5, 6],
        cumulative_logprob=None,
        logprobs=[{5: VLogprob(-0.5, 1, None)}, {6: VLogprob(-0.25, 2, None), 1: VLogprob(-0.1, 1, None)}],
        finish_reason="length",
    )
    g = to_generation(SimpleNamespace(outputs=[completion]), decode=str)
    assert g.token_ids == [5, 6] and g.logprobs == [-0.5, -0.25] and g.finish_reason == "length"


# ----------------------------------------------------------------------------- GPU recipes (CPU: they validate)
def test_spiral_qwen3_4b_recipe_has_spirals_settings():
    c = load_config("spiral-qwen3-4b")
    assert c.engine.kind == "vllm" and c.engine.gpu_memory_utilization == 0.45 and c.engine.sleep_between_steps
    assert c.model.device == "cuda" and c.model.path.endswith("Qwen3-4B-Base")
    assert [g.name for g in c.games] == ["kuhn_poker:hands=5"], "run.sh trains Kuhn poker alone"
    assert (c.sampling.temperature, c.sampling.top_p, c.sampling.max_new_tokens) == (1.0, 1.0, 4096)
    assert (c.rollout.max_turns, c.rollout.invalid_penalty, c.rollout.invalid_opponent_reward) == (50, -1.5, 0.5)
    assert (c.advantage.estimator, c.advantage.ema_rate) == ("rae", 0.95)
    learner = c.learner
    assert (learner.lr, learner.epochs, learner.grad_clip, learner.betas) == (1e-6, 2, 1.0, (0.9, 0.95))
    assert (learner.clip_ratio, learner.kl_coef, learner.loss_normalizer) == (0.2, 0.0, "constant")
    assert (c.eval.every, c.max_steps) == (16, 400)


def test_small_gpu_recipe_fits_one_gpu_and_takes_a_model_path():
    c = load_config("small-gpu", ["model.path=/models/Qwen3-1.7B-Base", "model.lora.r=32"])
    assert c.model.path == "/models/Qwen3-1.7B-Base" and c.model.lora is not None and c.model.lora.r == 32
    assert c.engine.kind == "vllm" and c.engine.gpu_memory_utilization <= 0.35 and c.engine.max_model_len == 4096
    assert load_config("small-gpu").model.lora is None, "full fine-tuning of the 0.6B model by default"
    assert {g.name for g in c.games} == {"tic_tac_toe", "kuhn_poker", "simple_negotiation"}


# ----------------------------------------------------------------------------- the engine on a GPU
def ttt_prompts(tokenizer, n: int = 16) -> list[list[int]]:
    """Tic-tac-toe prompts after 0 to 3 moves: a shared rules prefix, different boards."""
    game = make_game("tic_tac_toe")
    out = []
    for i in range(n):
        state = game.new_state(i)
        for move in ["4", "0", "8", str(1 + i % 2)][: i % 4]:
            state.apply(move)
        out.append(encode_chat(tokenizer, render_messages(game, state, state.current_player)))
    return out


@pytest.fixture(scope="module")
def hf_gpu():
    """bf16, as vLLM: the tolerances below are bf16 noise on both sides, whatever SPARRING_PRECISION says."""
    return HFEngine(BUNDLED, device="cuda", autocast=BF16)


@pytest.fixture(scope="module")
def engine(hf_gpu):
    pytest.importorskip("vllm", reason="vLLM is not installed (pip install 'sparring[gpu]')")
    from sparring.engines.vllm import VLLMEngine

    return VLLMEngine(BUNDLED, hf_gpu.tokenizer, gpu_memory_utilization=0.25, enable_sleep_mode=True, scorer=hf_gpu)


def bundled_state() -> dict[str, torch.Tensor]:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(BUNDLED, dtype=torch.float32).state_dict()


def greedy(engine, prompts, n: int = 16):
    return engine.generate(prompts, SamplingParams(temperature=0, max_new_tokens=n))


def same_share(a, b) -> float:
    return float(np.mean([x.token_ids == y.token_ids for x, y in zip(a, b, strict=True)]))


def abs_diffs(gens, scores) -> np.ndarray:
    return np.abs(np.concatenate([np.array(g.logprobs) - np.array(s) for g, s in zip(gens, scores, strict=True)]))


@gpu
def test_greedy_tokens_match_hf_engine(engine, hf_gpu):
    prompts = ttt_prompts(hf_gpu.tokenizer)
    ours, theirs = greedy(engine, prompts, 24), greedy(hf_gpu, prompts, 24)
    assert same_share(ours, theirs) >= 0.9, "bf16 kernels may flip a near-tie, but not for most prompts"
    for o, t in zip(ours, theirs, strict=True):
        if o.token_ids == t.token_ids:
            assert o.finish_reason == t.finish_reason and o.text == t.text


@gpu
@pytest.mark.parametrize(("temperature", "top_p"), [(1.0, 1.0), (0.7, 1.0), (1.0, 0.9), (0.0, 1.0)])
def test_logprobs_are_hf_scores_of_the_same_ids_at_the_sampling_temperature(engine, hf_gpu, temperature, top_p):
    prompts = ttt_prompts(hf_gpu.tokenizer)
    params = SamplingParams(temperature=temperature, top_p=top_p, max_new_tokens=16, seed=1, ignore_eos=True)
    gens = engine.generate(prompts, params)
    diffs = abs_diffs(gens, hf_gpu.score(prompts, [g.token_ids for g in gens], temperature or 1.0))
    assert np.mean(diffs < 0.05) >= 0.95, f"bf16 noise only (median {np.median(diffs):.4f})"
    assert diffs.max() < 0.5, "no systematic difference (a wrong temperature or renormalisation)"


@gpu
def test_score_matches_hf_at_temperature_one_and_defers_to_the_scorer_elsewhere(engine, hf_gpu):
    prompts = ttt_prompts(hf_gpu.tokenizer, 8)
    conts = [hf_gpu.tokenizer.encode(f"\\boxed{{{i}}}", add_special_tokens=False) for i in range(8)]
    conts[3] = []
    ours = engine.score(prompts, conts, 1.0)
    assert ours[3] == [] and all(len(o) == len(c) for o, c in zip(ours, conts, strict=True))
    diffs = np.abs(np.concatenate([np.array(o) - np.array(t) for o, t in zip(ours, hf_gpu.score(prompts, conts), strict=True)]))
    assert np.mean(diffs < 0.05) >= 0.95 and diffs.max() < 0.5
    assert engine.score(prompts, conts, 0.7) == hf_gpu.score(prompts, conts, 0.7)


@gpu
def test_same_seed_same_samples_and_another_seed_differs(engine, hf_gpu):
    prompts = ttt_prompts(hf_gpu.tokenizer)
    run = lambda seed: [g.token_ids for g in engine.generate(prompts, SamplingParams(max_new_tokens=12, seed=seed))]
    assert run(3) == run(3)
    assert run(3) != run(4)
    engine.rng.manual_seed(11)  # the training loop seeds the stream, then calls without a seed
    a = engine.generate(prompts, SamplingParams(max_new_tokens=12))
    engine.rng.manual_seed(11)
    assert [g.token_ids for g in engine.generate(prompts, SamplingParams(max_new_tokens=12))] == [g.token_ids for g in a]


@gpu
def test_stop_ids_and_length(engine, hf_gpu):
    prompts = ttt_prompts(hf_gpu.tokenizer, 3)
    free = engine.generate(prompts, SamplingParams(temperature=0, max_new_tokens=5, ignore_eos=True))
    assert all(g.finish_reason == "length" and len(g.token_ids) == 5 for g in free)
    stop_at = free[0].token_ids[2]
    params = SamplingParams(temperature=0, max_new_tokens=5, ignore_eos=True, stop_token_ids=(stop_at,))
    stopped = engine.generate(prompts[:1], params)
    first = free[0].token_ids.index(stop_at)
    assert stopped[0].finish_reason == "stop" and stopped[0].token_ids == free[0].token_ids[: first + 1]


@gpu
def test_load_weights_changes_outputs_and_restores_them(engine, hf_gpu, tmp_path):
    from transformers import AutoModelForCausalLM

    prompts = ttt_prompts(hf_gpu.tokenizer)
    before = greedy(engine, prompts)
    state = bundled_state()
    broken = dict(state, **{"model.norm.weight": torch.zeros_like(state["model.norm.weight"])})  # all logits 0
    engine.load_weights(broken)
    after = greedy(engine, prompts)
    assert same_share(before, after) < 0.5, "new weights, new outputs"
    engine.load_weights(state)
    assert [g.token_ids for g in greedy(engine, prompts)] == [g.token_ids for g in before]
    # The directory form: a saved model directory.
    model = AutoModelForCausalLM.from_pretrained(BUNDLED, dtype=torch.float32)
    model.load_state_dict(broken)
    model.save_pretrained(tmp_path / "broken")
    engine.load_weights(tmp_path / "broken")
    assert [g.token_ids for g in greedy(engine, prompts)] == [g.token_ids for g in after]
    engine.load_weights(state)


@gpu
def test_sleep_wake_and_the_learner_step_pattern(engine, hf_gpu):
    from transformers import AutoModelForCausalLM

    prompts = ttt_prompts(hf_gpu.tokenizer)
    before = greedy(engine, prompts)
    engine.sleep()
    assert engine.asleep
    engine.wake_up()
    assert [g.token_ids for g in greedy(engine, prompts)] == [g.token_ids for g in before]
    # As in train_step: asleep while the learner changes its module, awake with its weights after.
    model = AutoModelForCausalLM.from_pretrained(BUNDLED, dtype=torch.float32).to("cuda")
    with while_learning(engine, model):
        assert engine.asleep
        with torch.no_grad():
            model.model.norm.weight.zero_()
    assert not engine.asleep
    assert same_share(before, greedy(engine, prompts)) < 0.5
    engine.sleep()
    assert greedy(engine, prompts)[0].token_ids, "generate wakes a sleeping engine itself"
    engine.load_weights(bundled_state())
    assert [g.token_ids for g in greedy(engine, prompts)] == [g.token_ids for g in before]


@pytest.fixture(scope="module")
def lora_policy():
    """The bundled model with LoRA adapters whose B is not zero, so the adapters change the outputs."""
    from transformers import AutoModelForCausalLM

    from sparring.config import LoRASection
    from sparring.lora import wrap

    torch.manual_seed(0)
    model = wrap(AutoModelForCausalLM.from_pretrained(BUNDLED, dtype=torch.float32), LoRASection(r=8, alpha=16))
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "lora_B" in name:
                p.normal_(0, 0.05)
    return model.to("cuda")


@gpu
def test_lora_adapter_served_by_request_matches_hf(lora_policy, hf_gpu, tmp_path_factory):
    from sparring.engines.vllm import VLLMEngine

    adapter = tmp_path_factory.mktemp("lora") / "adapter"
    lora_policy.save_pretrained(adapter)
    lora_engine = VLLMEngine(BUNDLED, hf_gpu.tokenizer, gpu_memory_utilization=0.15, lora_dir=adapter)
    prompts = ttt_prompts(hf_gpu.tokenizer)
    hf_lora = HFEngine(lora_policy, hf_gpu.tokenizer, device="cuda", autocast=BF16)
    assert same_share(greedy(lora_engine, prompts), greedy(hf_lora, prompts)) >= 0.9
    assert same_share(greedy(hf_lora, prompts), greedy(hf_gpu, prompts)) < 0.9, "the adapter matters"
    lora_engine.clear_lora()
    assert same_share(greedy(lora_engine, prompts), greedy(hf_gpu, prompts)) >= 0.9
    with pytest.raises(ValueError, match="load_lora"):
        lora_engine.load_weights(bundled_state())


@gpu
def test_merged_lora_weights_loaded_in_place_match_hf(engine, lora_policy, hf_gpu):
    prompts = ttt_prompts(hf_gpu.tokenizer)
    engine.load_from_model(lora_policy)
    hf_lora = HFEngine(lora_policy, hf_gpu.tokenizer, device="cuda", autocast=BF16)
    assert same_share(greedy(engine, prompts), greedy(hf_lora, prompts)) >= 0.9
    engine.load_weights(bundled_state())


@gpu
def test_two_training_steps_with_vllm(tmp_path):
    from rich.console import Console

    from sparring.train import train

    overrides = [
        "engine.kind=vllm",
        "model.device=cuda",
        "engine.gpu_memory_utilization=0.15",
        "engine.sleep_between_steps=false",  # one sleep-mode engine per process: the module's own
        "rollout.games_per_step=8",
        "eval.every=0",
        "eval.games=2",
        "logging.tensorboard=false",
        "sampling.max_new_tokens=8",
    ]
    t = train(load_config("spiral-tictactoe", overrides), tmp_path / "run", console=Console(quiet=True), max_steps=2)
    assert t.step == 2 and t.engine.stats.extra["weight_loads"] == 2
    assert any("learner/loss" in row for row in RunDir(tmp_path / "run").read_metrics())
