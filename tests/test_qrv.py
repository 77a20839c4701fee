"""Questioner/responder/verifier: the documents, what makes a question valid, the exact verifier, the rewards."""

from __future__ import annotations

import pytest

from sparring.games import InvalidAction, make_game
from sparring.games.propose_solve import proposer_reward
from sparring.games.qrv import normalized, prior
from sparring.players.prior import PriorPlayer
from sparring.players.random_player import RandomPlayer
from sparring.rollout import play_games


def first_key(state):
    key = next(iter(state.document))
    return key, state.document[key]


def test_the_document_grows_with_level_and_is_drawn_from_the_seed():
    assert len(make_game("qrv").new_state(0).document) == 4
    assert len(make_game("qrv:level=2").new_state(0).document) == 12
    assert len(make_game("qrv:records=10,level=1").new_state(0).document) == 20
    assert make_game("qrv").new_state(3).document == make_game("qrv").new_state(3).document
    assert len({tuple(make_game("qrv").new_state(s).document.items()) for s in range(20)}) == 20
    state = make_game("qrv:level=3").new_state(1)
    assert "\n".join(f"{k}: {v}" for k, v in state.document.items()) in state.observation(1)


@pytest.mark.parametrize(
    ("answers", "returns"),
    [
        (["V", "V", "V", "V"], [0.0, 1.0]),
        (["V", "x", "v.", "y"], [1.0, 0.5]),  # the verifier ignores case and a final full stop
        (["x", "y", "z", "V"], [0.5, 0.25]),
        (["x", "y", "z", "w"], [0.0, 0.0]),
    ],
)
def test_a_valid_question_is_answered_in_k_attempts_and_scored_by_the_shared_learnability_reward(answers, returns):
    state = make_game("qrv").new_state(0)
    key, value = first_key(state)
    state.apply(f"What is the value of {key}? = {value}")
    assert state.current_player == 1 and f"Question: What is the value of {key}?" in state.observation(1)
    assert "= " + value not in state.observation(1).split("Question:")[1]  # the reference answer stays hidden
    for answer in answers:
        state.apply({"V": value, "v.": value.upper() + "."}.get(answer, answer))
    assert state.is_terminal() and state.returns() == returns
    p = returns[1]
    assert returns[0] == proposer_reward(p)  # one reward function for propose_solve and qrv
    own = state.turn_rewards(1)  # rollout.turn_credit=own: each attempt by itself, their mean the return
    assert own == [float(a in ("V", "v.")) for a in answers] and sum(own) / len(own) == p
    assert state.turn_rewards(0) is None


@pytest.mark.parametrize(
    ("question", "why"),
    [
        ("What is the value of nothing-11? = copper", "named none"),
        ("What is {k1} or {k2}? = {v1}", "named"),
        ("What is the value of {k1}? = wrong-value", "is not the document's value of"),
        ("What is the value of x{k1}? = {v1}", "named none"),  # a key must be a whole word
    ],
)
def test_an_invalid_question_ends_the_game_with_minus_one_for_the_questioner(question, why):
    state = make_game("qrv").new_state(0)
    (k1, v1), (k2, _) = list(state.document.items())[:2]
    state.apply(question.format(k1=k1, k2=k2, v1=v1))
    assert state.is_terminal() and state.returns() == [-1.0, 0.0]
    assert why in state.question.invalid and why in state.observation(0)


def test_a_key_is_found_whatever_its_case_and_surrounding_punctuation():
    state = make_game("qrv").new_state(0)
    key, value = first_key(state)
    state.apply(f"Tell me ({key.upper()}): what is it? = {value.upper()}.")
    assert state.question.invalid is None and state.question.key == key and state.current_player == 1


@pytest.mark.parametrize("move", ["What is river-42?", "= copper", "What? =", "x" * 201 + " = a", "What is it? = " + "a" * 61])
def test_a_question_not_of_the_form_is_refused_and_changes_nothing(move):
    state = make_game("qrv").new_state(0)
    before = (state.render(), state.observation(0), state.observation(1))
    with pytest.raises(InvalidAction):
        state.apply(move)
    assert (state.render(), state.observation(0), state.observation(1)) == before


def test_the_responder_must_answer_something_short():
    state = make_game("qrv").new_state(0)
    key, value = first_key(state)
    state.apply(f"{key}? = {value}")
    for bad in ("", "   ", "a" * 61):
        with pytest.raises(InvalidAction):
            state.apply(bad)
    assert state.answers == []


def test_knobs_are_checked():
    for bad in ("model", "model:", "fuzzy", "api:"):
        with pytest.raises(Exception, match="judge must be exact, policy, model:PATH or api:MODEL"):
            make_game(f"qrv:judge={bad}")
    with pytest.raises(Exception, match="not a model directory"):
        make_game("qrv:judge=model:/no/such/dir").verifier  # noqa: B018  # a game object loads its verifier lazily
    with pytest.raises(Exception, match="records \\* \\(level \\+ 1\\) <= 64"):
        make_game("qrv:records=20,level=3")
    with pytest.raises(Exception, match="attempts must be between 1 and 16"):
        make_game("qrv:attempts=0")
    assert normalized("  Copper.  ") == normalized("copper") and normalized("cop per") != normalized("copper")


def test_the_prior_prefers_valid_questions_and_the_right_value():
    state = make_game("qrv").new_state(4)
    probs = prior(state)
    valid = [t for t, ok in state.examples if ok]
    invalid = [t for t, ok in state.examples if not ok]
    assert invalid and min(probs[t] for t in valid) > max(probs[t] for t in invalid)
    for text, ok in state.examples:  # the labels are the game's verdicts
        child = state.clone()
        child.apply(text)
        assert (child.question.invalid is None) == ok
    state.apply(valid[0])
    probs = prior(state)
    assert max(probs, key=probs.get) == state.question.truth and probs[state.question.truth] < 0.7


def test_seats_alternate_and_the_two_roles_take_their_turns():
    game = make_game("qrv:attempts=3")
    records = play_games(game, [PriorPlayer(game, seed=1), RandomPlayer(seed=2)], 30, seed=5)
    assert [r.seating for r in records[:2]] == [[0, 1], [1, 0]]
    for r in records:
        assert [t.seat for t in r.turns] in ([0], [0, 1, 1, 1])
        assert r.returns[0] == -1.0 or 0.0 <= r.returns[0] <= 1.0
    assert any(r.returns[0] == -1.0 for r in records) and any(r.returns[1] > 0 for r in records)


def test_the_recipe_trains_end_to_end_from_the_command_line(tmp_path, capsys):
    from tiny_runs import TINY_RUN

    from sparring.checkpoint import RunDir
    from sparring.cli import main

    run_dir = tmp_path / "run"
    code = main(["train", "qrv", *TINY_RUN, "max_steps=2", "--run-dir", str(run_dir)])
    assert code in (0, None), capsys.readouterr().err
    last = RunDir(run_dir).read_metrics()[-1]
    assert last["step"] == 2 and "baseline/qrv/0" in last and "baseline/qrv/1" in last
    assert "train/qrv/judge_agreement" not in last  # the exact rule has no control to report


def test_the_policy_itself_can_be_the_judge_in_training_and_nowhere_else(tmp_path, capsys):
    from tiny_runs import TINY_RUN

    from sparring.checkpoint import RunDir
    from sparring.cli import main
    from sparring.errors import UserError

    with pytest.raises(UserError, match="only `sparring train` can give it a model"):
        make_game("qrv:judge=policy").verifier  # noqa: B018
    run_dir = tmp_path / "run"
    judged = ["games.0.name=qrv:judge=policy", "rollout.games_per_step=8"]
    vs_prior = ["opponent.kind=fixed", "opponent.fixed=prior"]  # the prior asks valid questions, so answers get judged
    code = main(["train", "qrv", *TINY_RUN, *judged, *vs_prior, "max_steps=2", "--run-dir", str(run_dir)])
    assert code in (0, None), capsys.readouterr().err
    metrics = RunDir(run_dir).read_metrics()
    agreement = [m["train/qrv/judge_agreement"] for m in metrics if "train/qrv/judge_agreement" in m]
    assert agreement and all(0.0 <= a <= 1.0 for a in agreement)  # the policy judged, the exact rule checked it


class AcceptsEverything:
    """A verifier that says yes to any answer: the worst judge, to see its verdicts reach the returns."""

    name, failures = "yes-man", 0

    def __init__(self):
        self.calls = []

    def accepts(self, question, reference, response):
        self.calls.append((question, reference, response))
        return True


def test_a_model_verifier_decides_the_returns_and_the_exact_rule_stays_as_the_control():
    game = make_game("qrv:judge=model:bundled")
    game._verifier = judge = AcceptsEverything()  # stands in for the model: what matters is whose verdict counts
    state = game.new_state(0)
    key, value = first_key(state)
    state.apply(f"What is the value of {key}? = {value}")
    for answer in [value, "wrong", value.upper(), "also wrong"]:
        state.apply(answer)
    assert judge.calls[1] == (f"What is the value of {key}?", value, "wrong")  # the judge sees question, reference, answer
    assert state.returns() == [0.0, 1.0]  # the judge accepted all four: p = 1 (the exact rule would give 0.5)
    assert state.turn_rewards(1) == [1.0, 1.0, 1.0, 1.0]
    assert state.exact == [True, False, True, False]
    assert state.stats() == {"judge_agreement": 0.5, "judge_false_accept": 0.5, "judge_false_reject": 0.0}
    assert "4 right; 2 by the exact rule" in state.render()
    clone = state.clone()
    assert clone.exact == state.exact and clone.verdicts == state.verdicts and clone.verdicts is not state.verdicts
    exact = make_game("qrv").new_state(0)
    exact.apply(f"What is the value of {key}? = {value}")
    for answer in [value, "wrong", value, value]:
        exact.apply(answer)
    assert exact.stats() == {} and exact.returns() == [0.5, 0.75]


def test_play_records_the_games_own_figures():
    game = make_game("qrv:judge=model:bundled")
    game._verifier = AcceptsEverything()
    records = play_games(game, [PriorPlayer(game), PriorPlayer(game)], 12, seed=0)
    valid = [r for r in records if r.stats]
    assert valid and all(r.stats["judge_false_reject"] == 0.0 for r in valid)
    assert all(r.stats["judge_agreement"] + r.stats["judge_false_accept"] == 1.0 for r in valid)
    assert any(r.stats["judge_false_accept"] > 0 for r in valid)  # the prior answers wrong often enough
    assert all(r.returns == [0.0, 1.0] for r in valid)  # everything accepted: p = 1 in every valid game
    from sparring.train import rollout_metrics

    logged = rollout_metrics(records, [[0, 1]] * len(records), [], [])  # averaged over the games that report it
    assert logged["train/qrv/judge_agreement"] == pytest.approx(sum(r.stats["judge_agreement"] for r in valid) / len(valid))


def test_the_bundled_model_as_verifier_is_deterministic_cached_and_not_pickled():
    import pickle

    game = make_game("qrv:judge=model:bundled")
    judge = game.verifier
    assert judge is game.verifier and judge.name == "model:bundled"
    calls = []
    score = judge.engine.score
    judge.engine.score = lambda *a, **k: calls.append(1) or score(*a, **k)
    first = judge.accepts("What is the value of river-42?", "copper", "copper")
    again = judge.accepts("What is the value of river-42?", "copper", "copper")
    assert first == again and len(calls) == 1  # the same (question, reference, answer) is judged once
    yes, no = score([judge_prompt(judge)] * 2, judge.replies)
    assert first == (sum(yes) > sum(no))
    assert pickle.loads(pickle.dumps(game))._verifier is None  # a rollout worker loads its own


def judge_prompt(judge):
    from sparring.games.verifiers import verifier_messages
    from sparring.prompts import encode_chat

    return encode_chat(judge.tokenizer, verifier_messages("What is the value of river-42?", "copper", "copper"))


class ScriptedClient:
    def __init__(self, replies):
        self.replies, self.bodies = list(replies), []

    def complete(self, body):
        from sparring.players.api import Completion

        self.bodies.append(body)
        reply = self.replies.pop(0)
        return Completion(error=reply) if reply.startswith("HTTP") else Completion(text=reply)


def test_the_api_verifier_reads_yes_and_counts_failures_as_rejections():
    from sparring.games.verifiers import APIVerifier

    client = ScriptedClient(["Yes.", " no", "HTTP 500 busy", "maybe"])
    judge = APIVerifier(client, "m")
    verdicts = [judge.accepts("q?", "copper", answer) for answer in ("copper", "amber", "slate", "jade")]
    assert verdicts == [True, False, False, False] and judge.failures == 1
    assert client.bodies[0]["temperature"] == 0 and "Reference answer: copper" in client.bodies[0]["messages"][1]["content"]
    assert judge.accepts("q?", "copper", "copper") and len(client.bodies) == 4  # cached
