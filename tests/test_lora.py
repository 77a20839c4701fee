"""LoRA self-play on the bundled model: only adapters train, the reference is the base, checkpoints merge and resume."""

from __future__ import annotations

import gc
import json
import shutil
from pathlib import Path

import pytest
import torch
from precision import FP32, FP32_RUN
from safetensors.torch import load_file
from tiny_runs import TINY_RUN

from sparring.checkpoint import RunDir, verify_checkpoint
from sparring.cli import main
from sparring.config import LoRASection, load_config
from sparring.engines import BUNDLED
from sparring.engines.hf import HFEngine
from sparring.errors import UserError
from sparring.lora import AdapterReference, adapter_parameters, engine_weights, is_lora, save_model_dir, wrap
from sparring.prefix import token_logprobs
from sparring.train import Trainer, build, train

FAST = [*TINY_RUN, "checkpoint.every=1"]
LORA = [*FAST, "model.lora.r=4", "learner.kl_coef=0.1"]
CPU = torch.device("cpu")


def quiet():
    from rich.console import Console

    return Console(quiet=True)


def bundled_weights() -> dict[str, torch.Tensor]:
    return load_file(BUNDLED / "model.safetensors")


def load_bundled() -> torch.nn.Module:
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(BUNDLED, dtype=torch.float32).eval()


def probe(tokenizer) -> tuple[list[list[int]], list[list[int]]]:
    """Two prompts with a shared prefix (the learner's prefix path) and short answers."""
    rules = "Kuhn poker. Each player antes 1 chip and gets one card of J, Q, K. Your card: "
    prompts = [tokenizer.encode(rules + card) for card in ("K. Check or bet?", "J. Fold or call?")]
    responses = [tokenizer.encode(" \\boxed{bet}"), tokenizer.encode(" \\boxed{fold}")]
    return prompts, responses


def logprobs(model, prompts, responses) -> list[torch.Tensor]:
    was_training = model.training
    model.eval()
    with torch.no_grad():
        rows, _ = token_logprobs(model, prompts, responses, 0, CPU)
    model.train(was_training)
    return rows


def assert_rows_close(a: list[torch.Tensor], b: list[torch.Tensor], atol: float = 1e-5) -> None:
    for x, y in zip(a, b, strict=True):
        torch.testing.assert_close(x, y, atol=atol, rtol=0)


def max_gap(a: list[torch.Tensor], b: list[torch.Tensor]) -> float:
    return max(float((x - y).abs().max()) for x, y in zip(a, b, strict=True))


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory) -> Trainer:
    """Three LoRA steps (rank 4) with a KL term, a checkpoint after each."""
    config = load_config("spiral-kuhn", [*LORA, "max_steps=3"])
    return train(config, tmp_path_factory.mktemp("lora") / "run", console=quiet())


def test_only_the_adapters_train_and_the_base_weights_stay_bit_identical(lora_run):
    t = lora_run
    assert is_lora(t.model) and t.engine.model is t.model and t.learner.model is t.model  # rollouts sample the adapters
    adapters = adapter_parameters(t.model)
    trainable = {n for n, p in t.model.named_parameters() if p.requires_grad}
    assert trainable == set(adapters)
    assert sum(len(g["params"]) for g in t.learner.optimizer.param_groups) == len(adapters)
    total = sum(p.numel() for p in t.model.parameters())
    assert 0 < sum(p.numel() for p in adapters.values()) < 0.05 * total
    assert any(bool(p.abs().sum() > 0) for n, p in adapters.items() if "lora_B" in n)  # B starts at 0: it moved

    base = {k.replace(".base_layer.", "."): v for k, v in t.model.get_base_model().state_dict().items() if ".lora_" not in k}
    original = bundled_weights()
    assert original.keys() <= base.keys()
    assert all(torch.equal(original[k], base[k]) for k in original)


def test_the_reference_is_the_base_model_with_adapters_disabled_not_a_copy(lora_run):
    t = lora_run
    assert t.learner.reference is None and isinstance(t.learner.adapter_reference, AdapterReference)
    prompts, responses = probe(t.tokenizer)
    reference = t.learner.adapter_reference.logprobs(prompts, responses, 0, CPU)
    assert_rows_close(reference, logprobs(load_bundled(), prompts, responses))
    assert max_gap(reference, logprobs(t.model, prompts, responses)) > 1e-6  # the adapters do change the policy


def parameter_bytes() -> int:
    """Bytes of every distinct parameter storage alive in this process."""
    gc.collect()
    storages = {}
    for o in gc.get_objects():
        if isinstance(o, torch.nn.Parameter):
            storages[o.untyped_storage().data_ptr()] = o.untyped_storage().nbytes()
    return sum(storages.values())


def test_a_lora_learner_with_kl_holds_one_model_where_full_training_holds_two(tmp_path):
    model_bytes = (BUNDLED / "model.safetensors").stat().st_size
    before = parameter_bytes()
    lora = build(load_config("spiral-kuhn", LORA), RunDir(tmp_path / "lora"))
    assert lora.learner.reference is None
    assert parameter_bytes() - before < 1.1 * model_bytes  # the base once, plus small adapters
    del lora
    before = parameter_bytes()
    full = build(load_config("spiral-kuhn", [*FAST, "learner.kl_coef=0.1"]), RunDir(tmp_path / "full"))
    assert full.learner.reference is not None
    assert parameter_bytes() - before > 1.9 * model_bytes  # the policy and its frozen copy


def test_kl_is_zero_before_the_first_update_and_positive_after(lora_run):
    learner = {m["step"]: m for m in lora_run.run.read_metrics() if "learner/kl" in m}
    assert learner[1]["learner/kl"] == pytest.approx(0.0, abs=1e-9)  # LoRA starts at B = 0: policy == base
    assert learner[2]["learner/kl"] > 0 and learner[3]["learner/kl"] > 0


def test_checkpoint_holds_the_adapter_and_the_merged_model_scores_like_the_adapted_one(lora_run, tmp_path, capsys):
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    t = lora_run
    ckpt = t.run.checkpoints_dir / "step-3"
    verify_checkpoint(ckpt)
    adapter = ckpt / "adapter"
    assert {"adapter_model.safetensors", "adapter_config.json", "tokenizer.json"} <= {p.name for p in adapter.iterdir()}
    assert not (ckpt / "model").exists()
    assert (adapter / "adapter_model.safetensors").stat().st_size < 0.05 * (BUNDLED / "model.safetensors").stat().st_size
    assert json.loads((ckpt / "state.json").read_text())["base_model"] == "bundled"
    saved = load_file(adapter / "adapter_model.safetensors")
    assert saved and all(".lora_" in k for k in saved)

    out = tmp_path / "merged"
    assert main(["merge", str(ckpt), "--out", str(out)]) == 0
    merged = AutoModelForCausalLM.from_pretrained(out, dtype=torch.float32)
    assert type(merged) is LlamaForCausalLM and AutoTokenizer.from_pretrained(out).encode("x") == t.tokenizer.encode("x")
    prompts, responses = probe(t.tokenizer)
    adapted = logprobs(t.model, prompts, responses)
    assert_rows_close(logprobs(merged.eval(), prompts, responses), adapted, atol=1e-4)
    assert max_gap(adapted, logprobs(load_bundled(), prompts, responses)) > 1e-6

    # An engine with its own copy of the base (vLLM's situation) gets the merged weights.
    engine = HFEngine(BUNDLED, device="cpu", autocast=FP32)
    engine.load_weights(engine_weights(t.model))
    assert_rows_close(logprobs(engine.model, prompts, responses), adapted, atol=1e-4)
    # A league pool snapshot of a LoRA policy is a plain model directory too.
    save_model_dir(t.model, t.tokenizer, tmp_path / "snapshot")
    snapshot = HFEngine(tmp_path / "snapshot", device="cpu", autocast=FP32)
    assert_rows_close(logprobs(snapshot.model, prompts, responses), adapted, atol=1e-4)

    capsys.readouterr()
    assert main(["merge", str(ckpt), "--out", str(out)]) == 2  # out is not empty
    full = tmp_path / "full-ckpt"
    (full / "model").mkdir(parents=True)
    assert main(["merge", str(full), "--out", str(tmp_path / "x")]) == 2
    errors = capsys.readouterr().err.strip().splitlines()
    assert len(errors) == 2 and "not an empty directory" in errors[0] and "has no LoRA adapter" in errors[1]


def test_merge_of_a_run_leaves_a_checkpoint_being_written_alone(lora_run, tmp_path):
    # A training still running beside `sparring merge RUN` is writing its next checkpoint into .tmp-*.
    in_flight = lora_run.run.checkpoints_dir / ".tmp-step-4-busy"
    (in_flight / "adapter").mkdir(parents=True)
    (in_flight / "adapter" / "adapter_model.safetensors").write_bytes(b"half written")
    try:
        assert main(["merge", str(lora_run.run.path), "--out", str(tmp_path / "merged")]) == 0
        assert (in_flight / "adapter" / "adapter_model.safetensors").read_bytes() == b"half written"
        assert (tmp_path / "merged" / "config.json").is_file()
    finally:
        shutil.rmtree(in_flight, ignore_errors=True)


def adapter_at(run: Path, step: int) -> dict[str, torch.Tensor]:
    return load_file(run / "checkpoints" / f"step-{step}" / "adapter" / "adapter_model.safetensors")


def test_resume_from_a_lora_checkpoint_continues_exactly(tmp_path):
    # The magnet (reference.update_every) moves at step 2, so the resumed run also needs the saved adapter snapshot.
    config = load_config("spiral-kuhn", [*LORA, FP32_RUN, "reference.update_every=2", "max_steps=3"])  # bit-exact
    train(config, tmp_path / "whole", console=quiet())
    train(config, tmp_path / "resumed", console=quiet(), max_steps=2)
    t = train(config, tmp_path / "resumed", resume=True, console=quiet(), max_steps=3)
    assert t.step == 3 and t.learner.adapter_reference.magnet is not None

    whole, resumed = adapter_at(tmp_path / "whole", 3), adapter_at(tmp_path / "resumed", 3)
    assert whole.keys() == resumed.keys() and all(torch.equal(whole[k], resumed[k]) for k in whole)
    assert any(not torch.equal(whole[k], adapter_at(tmp_path / "whole", 2)[k]) for k in whole)  # step 3 did learn

    def learning(run: str) -> list[dict]:
        return [
            {k: v for k, v in m.items() if k.startswith(("learner/", "train/"))} for m in RunDir(tmp_path / run).read_metrics()
        ]

    assert learning("whole") == learning("resumed")


def test_a_magnet_reference_is_an_adapter_snapshot_and_leaves_the_policy_graph_intact(bundled_tokenizer):
    model = wrap(load_bundled(), LoRASection(r=4))
    adapters = adapter_parameters(model)
    with torch.no_grad():
        for p in adapters.values():
            p.add_(0.05 * torch.randn_like(p))
    prompts, responses = probe(bundled_tokenizer)
    reference = AdapterReference(model)
    assert_rows_close(reference.logprobs(prompts, responses, 0, CPU), logprobs(load_bundled(), prompts, responses))

    reference.move_to_policy()
    snapshot = logprobs(model, prompts, responses)
    assert_rows_close(reference.logprobs(prompts, responses, 0, CPU), snapshot, atol=0)

    with torch.no_grad():  # the policy moves on; the magnet stays where it was
        for p in adapters.values():
            p.add_(0.05 * torch.randn_like(p))
    model.train()
    policy, _ = token_logprobs(model, prompts, responses, 0, CPU)  # a graph waiting for backward, as in the learner
    magnet = reference.logprobs(prompts, responses, 0, CPU)
    torch.stack([row.sum() for row in policy]).sum().backward()
    assert all(p.grad is not None and bool(p.grad.abs().sum() > 0) for n, p in adapters.items() if "lora_B" in n)
    assert_rows_close(magnet, snapshot, atol=0)
    assert max_gap(magnet, logprobs(model, prompts, responses)) > 1e-4

    restored = AdapterReference(model)
    restored.load_state_dict(reference.state_dict())
    assert_rows_close(restored.logprobs(prompts, responses, 0, CPU), snapshot, atol=0)


def test_eval_and_league_read_a_lora_checkpoint(tmp_path):
    """A LoRA checkpoint has no model/ dir: evaluation merges base + adapter (cached outside the checkpoint)."""
    from sparring.evaluate.checkpoints import checkpoint_model_dir, resolve_target

    config = load_config("spiral-kuhn", [*FAST, "max_steps=1", "model.lora.r=4"])
    train(config, tmp_path / "run", console=quiet())
    ckpt = tmp_path / "run" / "checkpoints" / "step-1"
    target = resolve_target(str(tmp_path / "run"))
    assert target.model_dir == checkpoint_model_dir(ckpt) and (target.model_dir / "config.json").is_file()
    assert not (ckpt / "model").exists()
    verify_checkpoint(ckpt)  # the checkpoint itself was not modified


def test_weight_averaging_a_lora_run_is_refused_in_one_line():
    with pytest.raises(UserError, match="average_weights"):
        load_config("spiral-kuhn", [*LORA, "learner.average_weights=0.9"])
