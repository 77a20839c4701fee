"""A learned state-value baseline: a small head reading the policy's own features of the prompt.

Classic PPO self-play subtracts V(s), a learned estimate of the return from
the state the move was made in; OpenSpiel's PPO self-play reaches about 0.22
exploitability on Kuhn that way. SPIRAL has no critic: its baseline is one
number per role (RAE). Where states differ a lot in value -- a strong card,
a won position -- a per-role baseline hands every turn of a good state a
positive advantage whatever was played, and that noise is shared by all
states' answers through the shared weights.

Here the value of a turn is a two-layer MLP on the policy model's final hidden
state at the last prompt token (what the model "knows" as it starts to
answer). The features are detached: the head learns to read the policy, and
its loss never moves the policy's weights, so no value-loss coefficient has to
be balanced against the policy gradient. It is fitted after each step's
advantages are read (so a turn's own return never leaks into its baseline),
by a few Adam steps of squared error against the turns' rewards.
"""

from __future__ import annotations

from typing import Any

import torch

from sparring.prefix import last_token_states
from sparring.samples import TurnSample


class ValueBaseline:
    def __init__(
        self,
        model: torch.nn.Module,
        pad_id: int,
        device: str | torch.device = "cpu",
        lr: float = 1e-3,
        fit_steps: int = 4,
        batch_size: int = 128,
    ):
        self.model = model
        self.pad_id = pad_id
        self.device = torch.device(device)
        self.fit_steps = fit_steps
        self.batch_size = batch_size
        width = model.config.hidden_size
        with torch.random.fork_rng(devices=[]):  # the same head for a seed, without moving the run's RNG
            torch.manual_seed(0)
            self.head = torch.nn.Sequential(torch.nn.Linear(width, 128), torch.nn.Tanh(), torch.nn.Linear(128, 1))
        self.head.to(self.device)
        self.optimizer = torch.optim.Adam(self.head.parameters(), lr=lr)

    @torch.no_grad()
    def features(self, samples: list[TurnSample]) -> torch.Tensor:
        """Final hidden state at each sample's last prompt token, per game (one shared prefix each), in order."""
        was_training = self.model.training
        self.model.eval()
        out = torch.zeros(len(samples), self.model.config.hidden_size, device=self.device)
        by_game: dict[str, list[int]] = {}
        for i, s in enumerate(samples):
            by_game.setdefault(s.game, []).append(i)
        for idx in by_game.values():
            for start in range(0, len(idx), self.batch_size):
                chunk = idx[start : start + self.batch_size]
                states = last_token_states(self.model, [samples[i].prompt_ids for i in chunk], self.pad_id, self.device)
                out[chunk] = states.float()
        self.model.train(was_training)
        return out

    def predict(self, features: torch.Tensor) -> list[float]:
        with torch.no_grad():
            return self.head(features).squeeze(-1).tolist()

    def fit(self, features: torch.Tensor, targets: list[float]) -> float:
        """A few full-batch Adam steps of squared error; returns the loss before them."""
        y = torch.tensor(targets, dtype=torch.float32, device=self.device)
        first = None
        for _ in range(self.fit_steps):
            loss = torch.nn.functional.mse_loss(self.head(features).squeeze(-1), y)
            first = loss.item() if first is None else first
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
        return first or 0.0

    def state_dict(self) -> dict[str, Any]:
        return {"head": self.head.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.head.load_state_dict(state["head"])
        self.optimizer.load_state_dict(state["optimizer"])
