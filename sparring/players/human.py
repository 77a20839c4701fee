"""``human``: you, at the terminal.

Shows what your seat sees (never the opponent's private cards), the legal
moves, and reads a line. A move the game refuses is answered with the game's
reason and a new prompt, never a traceback; ``quit`` ends the game.
"""

from __future__ import annotations

from collections.abc import Callable

from rich.console import Console

from sparring.errors import UserError
from sparring.games.base import InvalidAction, State, placement


class GameAbandoned(UserError):
    """The human typed ``quit`` or closed the input."""


class HumanPlayer:
    def __init__(self, name: str = "human", read: Callable[[str], str] = input, console: Console | None = None):
        self.name = name
        self.read = read
        self.console = console or Console(highlight=False)

    def act(self, state: State, seat: int) -> str:
        self.console.print(f"\n[bold]Your turn (seat {seat})[/bold]")
        self.console.print(state.observation(seat), markup=False)
        while True:
            try:
                line = self.read("your move> ").strip()
            except EOFError:
                raise GameAbandoned("input closed; game abandoned") from None
            if line.lower() in ("quit", "exit"):
                raise GameAbandoned("you left the game")
            if not line:
                self.console.print("Type a move (or quit).")
                continue
            trial = state.clone()
            try:
                trial.apply(line)
            except InvalidAction as err:
                self.console.print(f"[red]Not accepted:[/red] {err.reason}", markup=True)
                continue
            return line


def play_against(
    game, opponent, seat: int, seed: int, console: Console | None = None, human: HumanPlayer | None = None
) -> list[float]:
    """A human in ``seat`` against ``opponent`` in every other seat; returns the final returns.

    The opponent's moves are announced; a move the game refuses from the
    opponent forfeits the game for it (the same rule the arena uses).
    """
    from sparring.players.base import as_move

    console = console or Console(highlight=False)
    human = human or HumanPlayer(console=console)
    state = game.new_state(seed)
    console.print(f"[bold]{game.name}[/bold] -- you are seat {seat}; opponent: {opponent.name}\n", markup=True)
    console.print(game.describe(), markup=False)
    while not state.is_terminal():
        mover = state.current_player
        if mover == seat:
            state.apply(human.act(state, seat))
            continue
        move = as_move(opponent.act(state, mover))
        try:
            if move.action is None:
                raise InvalidAction(move.reason or "no move")
            state.apply(move.action)
        except InvalidAction as err:
            console.print(f"Opponent (seat {mover}) made an invalid move ({err.reason}) and forfeits.")
            return [-1.0 if s == mover else 1.0 for s in range(game.num_players)]
        console.print(f"Opponent (seat {mover}) plays: {move.action}", markup=False)
    console.print("\n[bold]Game over.[/bold]", markup=True)
    console.print(state.render(), markup=False)
    returns = state.returns()
    verdict = {"win": "You win!", "loss": "You lose.", "draw": "Draw."}[placement(returns, seat)]
    console.print(f"{verdict} (your return: {returns[seat]:+g})")
    return returns
