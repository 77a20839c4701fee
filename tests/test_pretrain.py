"""`sparring pretrain` end to end on a tiny corpus: a loadable model, and a continuation that keeps its tokenizer."""

from __future__ import annotations

import json

import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from sparring.pretrain import PretrainConfig, corpus, pretrain

TINY = {
    "mix": {"kuhn_poker": 24, "tic_tac_toe": 24},
    "vocab_size": 300,
    "hidden_size": 32,
    "layers": 1,
    "heads": 2,
    "intermediate_size": 64,
    "steps": 3,
    "warmup_steps": 1,
    "batch_size": 8,
}


def test_corpus_answers_follow_the_prior():
    """With K the Kuhn prior bets 0.65 of the time, with J 0.35: the corpus shows the difference."""
    samples = corpus(PretrainConfig(mix={"kuhn_poker": 6000}, invalid_rate=0.0))
    bets = {card: [] for card in "JQK"}
    for s in samples:
        text = s.messages[-1]["content"]
        if "Legal moves: check, bet" in text and "checks" not in text:  # first to act
            bets[text.split("Your card: ")[1][0]].append(s.answer == "\\boxed{bet}")
    rate = {card: sum(v) / len(v) for card, v in bets.items()}
    assert rate["J"] < 0.43 and 0.42 < rate["Q"] < 0.58 and rate["K"] > 0.57  # 0.35 / 0.5 / 0.65, ~660 turns each
    assert all(abs(sum(s.options.values()) - 1) < 1e-9 for s in samples)


def test_pretrain_writes_a_loadable_model_and_continues_from_one(tmp_path):
    first = tmp_path / "first"
    info = pretrain(first, PretrainConfig(**TINY), progress=False)
    model = AutoModelForCausalLM.from_pretrained(first)
    assert sum(p.numel() for p in model.parameters()) == info["parameters"]
    recorded = json.loads((first / "pretrain.json").read_text())
    assert set(recorded["legal_move_rate"]) == {"kuhn_poker", "tic_tac_toe"} and recorded["steps"] == 3
    assert recorded["soft_targets"] > 0
    second = tmp_path / "second"
    pretrain(second, PretrainConfig(**{**TINY, "init": str(first), "seed": 1}), progress=False)
    a, b = AutoTokenizer.from_pretrained(first), AutoTokenizer.from_pretrained(second)
    assert a.get_vocab() == b.get_vocab()
    before, after = load_file(first / "model.safetensors"), load_file(second / "model.safetensors")
    assert before.keys() == after.keys() and any(not torch.equal(before[k], after[k]) for k in before)
