"""`sparring pretrain` end to end on a tiny corpus: a loadable model, and a continuation that keeps its tokenizer."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import AutoModelForCausalLM, AutoTokenizer

from sparring.engines.paths import BUNDLED
from sparring.errors import UserError
from sparring.pretrain import PretrainConfig, corpus, distill_samples, information_states, parse_distill, pretrain

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
    "distill": {},
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


def test_information_states_cover_kuhn_with_the_priors_distribution():
    """Kuhn has 12 information states; each sample's options are the prior there (first to act with a J: bet 0.35)."""
    samples = information_states("kuhn_poker")
    assert len(samples) == 12
    texts = [s.messages[-1]["content"] for s in samples]
    first_j = [
        s
        for s, t in zip(samples, texts, strict=True)
        if "Your card: J." in t and "Legal moves: check, bet" in t and "check" not in t.split("\n")[1]
    ]
    assert first_j and all(abs(s.options["\\boxed{bet}"] - 0.35) < 1e-9 for s in first_j)
    assert all(abs(sum(s.options.values()) - 1) < 1e-9 and s.answer in s.options for s in samples)


def test_distill_samples_of_a_game_openspiel_cannot_list_are_turns_of_prior_play():
    """Role games have no enumeration: a fixed pool of prior-play turns stands in, with the prior's whole
    distribution on a listed turn (spy) and a sampled well-formed answer on a free-text one (propose_solve)."""
    config = PretrainConfig(distill_pool=60)
    spy = distill_samples("spy", config)
    assert len(spy) == 60 and spy == distill_samples("spy", config)  # the same pool from the same seed
    assert all(abs(sum(s.options.values()) - 1) < 1e-9 and s.answer in s.options for s in spy)
    tasks = distill_samples("propose_solve", config)
    proposer = [s for s in tasks if "proposer" in s.messages[-1]["content"]]
    assert proposer and all(not s.options and " = " in s.answer and s.answer.startswith("\\boxed{") for s in proposer)
    assert len(distill_samples("kuhn_poker", config)) == 12  # a listed game keeps its exact states


def test_distill_phase_runs_its_steps_and_bad_specs_are_one_line_errors(tmp_path):
    config = PretrainConfig(**{**TINY, "distill": {"kuhn_poker": 3}, "distill_solo": 1, "distill_replay": 2})
    info = pretrain(tmp_path / "m", config, progress=False)
    assert info["distill"]["steps"] == {"kuhn_poker": 3} and info["distill"]["final_loss"]["kuhn_poker"] > 0
    assert info["distill"]["replayed_batches"] == 4  # none after the one solo step, two after each of the others
    assert parse_distill("kuhn_poker=600, leduc_poker=300") == {"kuhn_poker": 600, "leduc_poker": 300}
    assert parse_distill("none") == {}
    assert parse_distill("tic_tac_toe=5") == {"tic_tac_toe": 5}  # every position can be listed
    assert parse_distill("spy=5,connect_four=2") == {"spy": 5, "connect_four": 2}  # sampled turns stand in for its states
    for bad in ("kuhn_poker", "kuhn_poker=x", "nope=3", "spy=-1", "spy@0=3"):
        with pytest.raises(UserError):
            parse_distill(bad)
    assert parse_distill("sneaky_critic@0=60,spy=4", "--format") == {"sneaky_critic@0": 60, "spy": 4}
    for bad in ("sneaky_critic@x=3", "nope@0=3", "spy"):
        with pytest.raises(UserError, match="--format"):
            parse_distill(bad, "--format")


def kuhn_places(model_dir) -> dict[str, list[float]]:
    """P(bet or call) of a model with J, Q and K at each of Kuhn's four places."""
    from sparring.evaluate.exploitability import kuhn_policy, policy_table
    from sparring.games import make_game
    from sparring.players import make_player

    game = make_game("kuhn_poker")
    return kuhn_policy(policy_table(game, make_player(f"model:{model_dir}", game)))


def test_the_bundled_model_reads_its_card_and_where_it_is_in_the_hand():
    """Issue 11: the first bundled model bet 0.487 with J, Q and K alike; stage 7 read the card but bet alike
    first and after a check. This one bets more with better cards, bluffs a J and bets a K more after a check
    than first to act (prior: first 0.35 / 0.5 / 0.65, after a check 0.5 / 0.4 / 0.8), and calls a Q more
    after its own check (0.6, not 0.5). Q's two betting places are tied again since stage 10 (stage 11: 0.50 / 0.46)."""
    places = kuhn_places(BUNDLED)
    first, after_check = places["bet_first"], places["bet_after_check"]
    assert first[0] < first[1] < first[2] and first[2] - first[0] > 0.2, places
    assert after_check[0] - first[0] > 0.05 and after_check[2] - first[2] > 0.05, places
    assert places["call_after_check_bet"][1] - places["call_bet"][1] > 0.05, places


@pytest.mark.slow
def test_distilling_kuhn_moves_the_model_to_a_new_card_dependence(tmp_path, monkeypatch):
    """The distill phase on its own: toward a prior that bets with J and checks with K, 200 steps turn the bundled
    model's card-dependence around (it starts at 0.35 / 0.5 / 0.65)."""
    from sparring.games import kuhn_poker

    flipped = {"J": kuhn_poker.PRIOR_BET["K"], "Q": 0.5, "K": kuhn_poker.PRIOR_BET["J"]}
    monkeypatch.setattr(kuhn_poker, "PRIOR_BET", flipped)
    config = PretrainConfig(init=str(BUNDLED), mix={"kuhn_poker": 10}, steps=0, distill={"kuhn_poker": 200})
    pretrain(tmp_path / "m", config, progress=False)
    bet = kuhn_places(tmp_path / "m")["bet_first"]
    assert bet[0] - bet[2] > 0.15, bet


def test_decision_states_list_each_position_or_information_state_once():
    """Kuhn's 12 information states (OpenSpiel's enumeration) and tic-tac-toe's 4,520 positions with a move to
    make: walked by position, not by move history (294,778 histories)."""
    from sparring.games import make_game
    from sparring.pretrain import decision_states

    assert len(decision_states(make_game("kuhn_poker").pyspiel_game, perfect_information=False)) == 12
    positions = decision_states(make_game("tic_tac_toe").pyspiel_game, perfect_information=True)
    assert len(positions) == 4520 == len({str(p) for p in positions})


def test_pretrain_config_files_are_checked_field_by_field(tmp_path):
    """Every shipped stage file reads back; a typo or a wrong type is a one-line error naming the field."""
    from sparring.pretrain import BUNDLED_DIR, load_pretrain_config

    stages = sorted((BUNDLED_DIR / "stages").glob("*.yaml"))
    assert stages and all(load_pretrain_config(p).batch_size == 32 for p in stages)
    bad = tmp_path / "bad.yaml"
    for text, message in [
        ("lr: fast\n", "lr"),
        ("distill: [kuhn_poker]\n", "distill"),
        ("lr_typo: 0.1\n", "unknown field(s) lr_typo"),
        ("- not a mapping\n", "expected a mapping"),
    ]:
        bad.write_text(text)
        with pytest.raises(UserError, match=message.replace("(", r"\(").replace(")", r"\)")):
            load_pretrain_config(bad)


@pytest.mark.parametrize("name", ["propose_solve", "sneaky_critic", "red_team", "qrv", "qrv:level=2"])
def test_role_game_corpus_answers_parse_and_play_where_they_were_given(name):
    """Every clean corpus answer of a role game, read by the player's parser, is a move its game accepts there."""
    import random

    from sparring.pretrain import game_turns
    from sparring.prompts import PromptConfig, read_move

    config = PretrainConfig(invalid_rate=0.2)
    turns = list(game_turns(name, 120, config, PromptConfig(), random.Random(0)))
    roles = {state.current_player for state, _ in turns}
    assert roles == {0, 1}  # both roles are in the corpus
    clean = 0
    for state, sample in turns:
        if sample.invalid:
            continue
        move = read_move(sample.answer, state.legal_actions())
        assert sample.messages[-1]["content"] == state.observation(state.current_player)
        state.clone().apply(move.action)  # raises InvalidAction if the corpus taught an unplayable answer
        clean += 1
    assert 80 < clean < 120  # some were made invalid on purpose


def test_a_corpus_mix_key_may_be_a_game_spec():
    samples = corpus(PretrainConfig(mix={"qrv:level=2": 30}))
    assert len(samples) == 30
    documents = [s.messages[-1]["content"].split("Document:\n")[1].split("\n") for s in samples]
    assert all(len([line for line in doc if ": " in line]) >= 12 for doc in documents)  # 4 * (2 + 1) lines


def test_the_bundled_model_plays_tiny_hanabi_above_uniform():
    """Issue 15: until stage 10 the bundled model forfeited every tiny_hanabi move. Its exact team return (both
    seats, every deal) is now above uniform play's 3.72 (measured 4.16 at stage 10, 4.34 at stage 11; the optimum is 10)."""
    from sparring.evaluate.cooperative import team_return
    from sparring.games import make_game
    from sparring.players import make_player

    game = make_game("tiny_hanabi")
    assert team_return(game, make_player(f"model:{BUNDLED}", game)).expected > 3.9


def test_legal_move_rate_by_role_splits_the_same_turns_by_the_role_the_observation_names():
    """The per-role rates are the overall rate's turns, grouped: proposer and solver in propose_solve, seats in spy."""
    from sparring.pretrain import legal_move_rate, legal_move_rate_by_role, sampled_turns

    turns = sampled_turns(BUNDLED, "propose_solve", 24, 3)
    by_role = legal_move_rate_by_role(BUNDLED, "propose_solve", 24, 3)
    assert set(by_role) == {role for role, _ in turns} == {"proposer", "solver"}
    counts = {role: sum(r == role for r, _ in turns) for role in by_role}
    overall = sum(by_role[r] * counts[r] for r in by_role) / len(turns)
    assert overall == pytest.approx(legal_move_rate(BUNDLED, "propose_solve", 24, 3))
    assert set(legal_move_rate_by_role(BUNDLED, "spy", 12, 0)) <= {"seat 0", "seat 1", "seat 2"}


def test_a_format_step_raises_accepted_answers_and_lowers_refused_ones(tmp_path):
    """REINFORCE on well-formedness alone: the accepted answer's log-prob rises, the refused one's falls."""
    from sparring.engines.hf import HFEngine
    from sparring.games import make_game
    from sparring.players.base import Move
    from sparring.players.lm import LMPlayer
    from sparring.prefix import response_log_softmax
    from sparring.pretrain_format import format_step

    pretrain(tmp_path / "m", PretrainConfig(**TINY), progress=False)
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "m")
    model = AutoModelForCausalLM.from_pretrained(tmp_path / "m", dtype=torch.float32)
    game = make_game("sneaky_critic:clean=0")
    states = [game.new_state(seed) for seed in range(2)]
    prompts = [LMPlayer(HFEngine(model, tokenizer=tokenizer), game).turn_prompt(game, s, 0) for s in states]
    answers = ["\\boxed{step 1 = 999999}", "\\boxed{step one}"]  # the game takes the first, refuses the second
    responses = [tokenizer.encode(a, add_special_tokens=False) + [tokenizer.eos_token_id] for a in answers]

    class Scripted:
        def act_batch(self, states, seats):
            turns = zip(answers, prompts, responses, strict=True)
            return [Move(a[7:-1], None, a, {"prompt_ids": p, "response_ids": r}) for a, p, r in turns]

    def logps():
        with torch.no_grad():
            rows = response_log_softmax(model, prompts, responses, tokenizer.pad_token_id, torch.device("cpu"))
        picked = rows.gather(-1, torch.tensor([t for r in responses for t in r]).unsqueeze(-1)).squeeze(-1)
        return [float(p.sum()) for p in picked.split([len(r) for r in responses])]

    before = logps()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.05)
    assert format_step(model, tokenizer, optimizer, Scripted(), states, None) == 0.5
    after = logps()
    assert after[0] > before[0] and after[1] < before[1]


def test_format_phase_runs_its_steps_on_the_seat_it_names(tmp_path):
    from sparring.pretrain import format_turns

    config = PretrainConfig(**{**TINY, "format": {"propose_solve@0": 2}, "distill_pool": 40, "distill_replay": 1})
    info = pretrain(tmp_path / "m", config, progress=False)
    assert info["format"]["steps"] == {"propose_solve@0": 2} and info["format"]["replayed_batches"] == 2
    assert 0.0 <= info["format"]["accepted"]["propose_solve@0"]["first_10"] <= 1.0
    proposer = format_turns("propose_solve@0", config)
    assert proposer and all(s.current_player == 0 and s.task is None for s in proposer)
    both = format_turns("propose_solve", config)
    assert {s.current_player for s in both} == {0, 1} and len(both) == 40
    for bad, why in (("propose_solve@x", "game@seat"), ("propose_solve@5", "never moves")):
        with pytest.raises(UserError, match=why):
            format_turns(bad, config)
