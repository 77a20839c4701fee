"""Players: who picks a move. One small file per kind plus one registration line here."""

from sparring.players.api import APIPlayer, make_api_player
from sparring.players.base import BatchPlayer, Move, Player, PolicyPlayer, act_many, as_move, policy_batch
from sparring.players.human import HumanPlayer
from sparring.players.minimax import MinimaxPlayer
from sparring.players.prior import PriorPlayer
from sparring.players.random_player import RandomPlayer
from sparring.players.registry import PlayerEntry, make_player, player_entries, register_player
from sparring.players.search import CFRPlayer, MCTSPlayer


def _random(game, seed: int = 0):
    return RandomPlayer(seed)


def _uniform(game, seed: int = 0):
    return RandomPlayer(seed, name="uniform")


def _minimax(game, seed: int = 0, depth: int = 12, epsilon: float = 0.0):
    return MinimaxPlayer(seed, depth, epsilon)


def _mcts(game, seed: int = 0, sims: int = 200, rollouts: int = 1, uct_c: float = 2.0):
    return MCTSPlayer(game, seed, sims, rollouts, uct_c)


def _cfr(game, seed: int = 0, iters: int = 500, variant: str = "cfr+"):
    return CFRPlayer(game, seed, iters, variant)


def _prior(game, seed: int = 0):
    return PriorPlayer(game, seed)


def _human(game, seed: int = 0):
    return HumanPlayer()


def _model(
    game,
    seed: int = 0,
    path: str = "bundled",
    device: str = "cpu",
    temperature: float = 1.0,
    top_p: float = 1.0,
    max_new_tokens: int = 64,
    answer_format: str = "boxed",
    style: str = "sparring",
):
    from sparring.players.lm import make_model_player

    return make_model_player(game, seed, path, device, temperature, top_p, max_new_tokens, answer_format, style)


register_player(PlayerEntry("random", "uniformly random legal move", _random))
register_player(PlayerEntry("uniform", "uniform policy over legal moves (policy view of random)", _uniform))
register_player(
    PlayerEntry(
        "minimax",
        "exact game-tree search; perfect in tic-tac-toe (epsilon: share of random moves)",
        _minimax,
        "minimax[:depth=12,epsilon=0]",
    )
)
register_player(PlayerEntry("mcts", "OpenSpiel UCT search with random rollouts", _mcts, "mcts:sims=200"))
register_player(PlayerEntry("cfr", "average policy of CFR+ (or variant=cfr) for poker games", _cfr, "cfr:iters=500"))
register_player(PlayerEntry("prior", "the game's weak prior, what the base model was pretrained on", _prior))
register_player(PlayerEntry("human", "you, at the terminal", _human))


def _check_model(game, *args, **kwargs) -> None:
    from sparring.players.lm import check_model_player

    check_model_player(game, *args, **kwargs)


register_player(
    PlayerEntry(
        "model",
        "a language model directory (or the bundled one), batched across games",
        _model,
        "model:bundled[,temperature=1.0]",
        check=_check_model,
    )
)
register_player(
    PlayerEntry(
        "api",
        "an OpenAI-compatible chat-completions endpoint (key from an env var)",
        make_api_player,
        "api:gpt-4o-mini,base_url=http://localhost:8000/v1",
    )
)

__all__ = [
    "APIPlayer",
    "BatchPlayer",
    "CFRPlayer",
    "HumanPlayer",
    "MCTSPlayer",
    "MinimaxPlayer",
    "PriorPlayer",
    "Move",
    "Player",
    "PlayerEntry",
    "PolicyPlayer",
    "RandomPlayer",
    "act_many",
    "as_move",
    "make_player",
    "player_entries",
    "policy_batch",
    "register_player",
]
